//! Reading saved result documents, with errors that say what is wrong.

use std::path::Path;

use scalelab_core::result::{RunResult, SCHEMA_VERSION};

use crate::ReportError;

/// Reads a result document: a JSON file, or a directory holding `result.json` (what
/// [`crate::write_bundle`] writes).
pub fn load_result(path: &Path) -> Result<RunResult, ReportError> {
    let shown = path.display().to_string();
    let file = if path.is_dir() {
        let f = path.join("result.json");
        if !f.is_file() {
            return Err(ReportError::BadInput {
                path: shown,
                message: "directory has no result.json (is it the output of `--out DIR`?)".into(),
            });
        }
        f
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|e| {
        let message = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::InvalidData => "not a text file (expected JSON)".to_string(),
            _ => e.to_string(),
        };
        ReportError::BadInput {
            path: file.display().to_string(),
            message,
        }
    })?;
    parse_result(&text, &file.display().to_string())
}

/// Parses a result document from JSON text; `path` names it in errors.
pub fn parse_result(text: &str, path: &str) -> Result<RunResult, ReportError> {
    let bad = |message: String| ReportError::BadInput {
        path: path.to_string(),
        message,
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        bad(format!(
            "not a scalelab result document: invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let Some(obj) = value.as_object() else {
        return Err(bad(
            "not a scalelab result document: expected a JSON object".into(),
        ));
    };
    match obj.get("schema") {
        None => {
            return Err(bad(
                "not a scalelab result document: no \"schema\" field".into()
            ));
        }
        Some(v) if v.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
        Some(v) => {
            return Err(bad(format!(
                "\"schema\": version {v} is not supported (this scalelab reads version \
                 {SCHEMA_VERSION})"
            )));
        }
    }
    serde_json::from_value(value)
        .map_err(|e| bad(format!("not a valid scalelab result document: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_problem() {
        let e = parse_result("{", "a.json").unwrap_err().to_string();
        assert!(
            e.starts_with("a.json: not a scalelab result document: invalid JSON"),
            "{e}"
        );
        let e = parse_result("[1]", "a.json").unwrap_err().to_string();
        assert!(e.contains("expected a JSON object"), "{e}");
        let e = parse_result("{\"x\": 1}", "a.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no \"schema\" field"), "{e}");
        let e = parse_result("{\"schema\": 2}", "a.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 2 is not supported"), "{e}");
        let e = parse_result("{\"schema\": 1}", "a.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field"), "{e}");
    }

    #[test]
    fn missing_file_and_empty_directory() {
        let e = load_result(Path::new("no/such/result.json")).unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
        let e = load_result(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap_err();
        assert!(e.to_string().contains("no result.json"), "{e}");
    }
}
