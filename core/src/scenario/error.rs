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
            let (shown, caret) = snippet_window(snippet, col);
            let gutter = line.to_string().len();
            // The caret line is built by hand: a `{:>width$}` format argument is limited to
            // 65 535 and panics beyond it.
            write!(
                f,
                "\n{:gutter$} |\n{line} | {shown}\n{:gutter$} | {}^",
                "",
                "",
                " ".repeat(caret.saturating_sub(1)),
                gutter = gutter,
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// Characters of the offending line shown before and after the column (a minified or
/// generated file can put everything on one line).
const SNIPPET_CONTEXT: usize = 60;

/// The part of `line` around 1-based character column `col`, with `…` where it was cut, and
/// the caret's 1-based column in that part.
fn snippet_window(line: &str, col: usize) -> (String, usize) {
    let chars = line.chars().count();
    let col = col.clamp(1, chars + 1);
    let start = col.saturating_sub(1 + SNIPPET_CONTEXT);
    let end = (col + SNIPPET_CONTEXT).min(chars);
    if start == 0 && end == chars {
        return (line.to_string(), col);
    }
    let mut shown = String::new();
    let mut caret = col - start;
    if start > 0 {
        shown.push('…');
        caret += 1;
    }
    shown.extend(line.chars().skip(start).take(end - start));
    if end < chars {
        shown.push('…');
    }
    (shown, caret)
}

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
    fn a_column_past_65535_renders_without_panicking() {
        let line = format!("duration = \"1m\"{}bogus = 1", " ".repeat(70_000));
        let at = line.find("bogus").expect("present");
        let e = ScenarioError::at(Path::new("long.toml"), &line, Some(at..at + 5), None, "bad");
        let s = e.to_string();
        assert!(s.starts_with("long.toml:1:70016: bad"), "{}", &s[..80]);
        // The snippet is a window around the column, not the whole 70 KB line.
        assert!(s.len() < 400, "{} bytes", s.len());
        let lines: Vec<&str> = s.lines().collect();
        let text = lines[2];
        let caret = lines[3];
        let caret_at = caret.chars().count() - 1;
        assert_eq!(caret.chars().last(), Some('^'));
        assert_eq!(
            text.chars().skip(caret_at).take(5).collect::<String>(),
            "bogus",
            "{text}\n{caret}"
        );
    }

    #[test]
    fn short_lines_are_shown_whole() {
        let (shown, caret) = snippet_window("a = é", 5);
        assert_eq!((shown.as_str(), caret), ("a = é", 5));
        let (shown, caret) = snippet_window("", 1);
        assert_eq!((shown.as_str(), caret), ("", 1));
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
