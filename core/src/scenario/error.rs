//! Errors in scenario files: each names the file, the line and column, the key, and what was
//! expected.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A problem with a scenario file. Always fatal for that file; the CLI exits with code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file, as the user named it.
    pub file: PathBuf,
    /// 1-based line and column, when the problem has a place in the file.
    pub position: Option<(usize, usize)>,
    /// The dotted key path (`service.timeout`, `workload.phases[1].arrival.rate`), when known.
    pub key: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
    /// The offending line of the file, for display.
    pub snippet: Option<String>,
}

impl ScenarioError {
    /// An error with no position (an unreadable file, say).
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        ScenarioError {
            file: file.to_path_buf(),
            position: None,
            key: None,
            message: message.into(),
            snippet: None,
        }
    }

    /// An error at byte range `span` of `src`.
    pub fn at(
        file: &Path,
        src: &str,
        span: Option<Range<usize>>,
        key: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        let (position, snippet) = match span {
            Some(sp) => {
                let (line, col) = line_col(src, sp.start);
                let text = src.lines().nth(line - 1).unwrap_or("").to_string();
                (Some((line, col)), Some(text))
            }
            None => (None, None),
        };
        ScenarioError {
            file: file.to_path_buf(),
            position,
            key,
            message: message.into(),
            snippet,
        }
    }
}

impl ScenarioError {
    /// The key and the message without the file and position: `key `k`: message` (for a
    /// scenario resolved from generated text, such as a tuning candidate).
    pub fn brief(&self) -> String {
        match &self.key {
            Some(k) => format!("key `{k}`: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// 1-based line and column (in characters) of byte offset `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..floor_char_boundary(src, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        f.write_str(": ")?;
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.message)?;
        if let (Some((line, col)), Some(snippet)) = (self.position, &self.snippet) {
            let gutter = line.to_string().len();
            write!(
                f,
                "\n{:gutter$} |\n{line} | {snippet}\n{:gutter$} | {:>col$}",
                "",
                "",
                "^",
                gutter = gutter,
                col = col
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let src = "a = 1\nbb = \"é\"\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 11), (2, 6));
    }

    #[test]
    fn display_names_file_line_key() {
        let e = ScenarioError::at(
            Path::new("s.toml"),
            "x = 1\ny = 2\n",
            Some(6..7),
            Some("y".into()),
            "bad",
        );
        let s = e.to_string();
        assert!(s.starts_with("s.toml:2:1: key `y`: bad"), "{s}");
        assert!(s.contains("2 | y = 2"), "{s}");
    }
}
