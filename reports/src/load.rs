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
    let shown_file = file.display().to_string();
    let open = || {
        std::fs::File::open(&file)
            .map(std::io::BufReader::new)
            .map_err(|e| {
                let message = match e.kind() {
                    std::io::ErrorKind::NotFound => "no such file".to_string(),
                    _ => e.to_string(),
                };
                ReportError::BadInput {
                    path: shown_file.clone(),
                    message,
                }
            })
    };
    // Two streaming passes over the file instead of one text copy and a `serde_json::Value`
    // tree, which took 10–22 times the file's size (a 563 MB result did not fit): the first
    // checks the header, the second builds the typed document directly.
    check_header(
        &mut serde_json::Deserializer::from_reader(open()?),
        &shown_file,
    )?;
    serde_json::from_reader(open()?).map_err(|e| invalid(&shown_file, &e))
}

/// Parses a result document from JSON text; `path` names it in errors.
pub fn parse_result(text: &str, path: &str) -> Result<RunResult, ReportError> {
    check_header(&mut serde_json::Deserializer::from_str(text), path)?;
    serde_json::from_str(text).map_err(|e| invalid(path, &e))
}

fn invalid(path: &str, e: &serde_json::Error) -> ReportError {
    let message = if e.is_syntax() || e.is_eof() || e.is_io() {
        format!(
            "not a scalelab result document: invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        )
    } else {
        format!("not a valid scalelab result document: {e}")
    };
    ReportError::BadInput {
        path: path.to_string(),
        message,
    }
}

/// Checks that the document is a JSON object with a supported `"schema"`, reading it as a
/// stream and keeping nothing but that field.
fn check_header<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    path: &str,
) -> Result<(), ReportError> {
    use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};
    struct Schema;
    impl<'de> Visitor<'de> for Schema {
        type Value = Option<serde_json::Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut schema = None;
            while let Some(k) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                if k == "schema" {
                    schema = Some(m.next_value::<serde_json::Value>()?);
                } else {
                    m.next_value::<IgnoredAny>()?;
                }
            }
            Ok(schema)
        }
    }
    let bad = |message: String| ReportError::BadInput {
        path: path.to_string(),
        message,
    };
    let schema = de.deserialize_map(Schema).map_err(|e| {
        if e.is_data() {
            bad("not a scalelab result document: expected a JSON object".into())
        } else {
            invalid(path, &e)
        }
    })?;
    de.end().map_err(|e| invalid(path, &e))?;
    match schema {
        None => Err(bad(
            "not a scalelab result document: no \"schema\" field".into()
        )),
        Some(v) if v.as_u64() == Some(u64::from(SCHEMA_VERSION)) => Ok(()),
        Some(v) => Err(bad(format!(
            "\"schema\": version {v} is not supported (this scalelab reads version \
             {SCHEMA_VERSION})"
        ))),
    }
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
