//! A neutral table (rows of labelled cells) rendered as aligned text, markdown or HTML, so every
//! format shows the same numbers.

use std::fmt::Write;

/// How a cell is marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Plain.
    None,
    /// A passed check (green).
    Pass,
    /// A failed check or a regression (red).
    Fail,
}

/// One cell.
#[derive(Clone, Debug)]
pub struct Cell {
    pub text: String,
    pub mark: Mark,
}

impl Cell {
    pub fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            mark: Mark::None,
        }
    }
    pub fn marked(text: impl Into<String>, mark: Mark) -> Cell {
        Cell {
            text: text.into(),
            mark,
        }
    }
}

/// A row: a label, then one cell per column; `section` rows are headings spanning the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub label: String,
    pub cells: Vec<Cell>,
    pub section: bool,
}

/// A table with a header row.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    pub fn new(header: Vec<String>) -> Table {
        Table {
            header,
            rows: Vec::new(),
        }
    }

    pub fn section(&mut self, label: impl Into<String>) {
        self.rows.push(Row {
            label: label.into(),
            cells: Vec::new(),
            section: true,
        });
    }

    pub fn row(&mut self, label: impl Into<String>, cells: Vec<Cell>) {
        self.rows.push(Row {
            label: label.into(),
            cells,
            section: false,
        });
    }

    /// Plain cells from strings.
    pub fn row_plain(&mut self, label: impl Into<String>, cells: Vec<String>) {
        self.row(label, cells.into_iter().map(Cell::plain).collect());
    }

    /// Aligned text: the first column left-aligned, the others right-aligned; sections as
    /// un-indented headings, rows indented under them.
    pub fn to_text(&self, color: bool) -> String {
        let ncols = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for r in self.rows.iter().filter(|r| !r.section) {
            widths[0] = widths[0].max(width(&r.label) + 2);
            for (i, c) in r.cells.iter().enumerate().take(ncols.saturating_sub(1)) {
                widths[i + 1] = widths[i + 1].max(width(&c.text));
            }
        }
        let mut out = String::new();
        let mut line = String::new();
        for (i, h) in self.header.iter().enumerate() {
            if i == 0 {
                let _ = write!(line, "{}", pad_right(h, widths[0]));
            } else {
                let _ = write!(line, "  {}", pad_left(h, widths[i]));
            }
        }
        out.push_str(&paint(line.trim_end(), "1", color));
        out.push('\n');
        for r in &self.rows {
            if r.section {
                out.push_str(&paint(&r.label, "1", color));
                out.push('\n');
                continue;
            }
            let mut line = pad_right(&format!("  {}", r.label), widths[0]);
            for (i, w) in widths.iter().enumerate().skip(1) {
                let cell = r.cells.get(i - 1).cloned().unwrap_or(Cell::plain(""));
                let padded = pad_left(&cell.text, *w);
                line.push_str("  ");
                line.push_str(&match cell.mark {
                    Mark::None => padded,
                    Mark::Pass => paint(&padded, "32", color),
                    Mark::Fail => paint(&padded, "1;31", color),
                });
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// A GitHub-flavoured markdown table; sections become bold label rows.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let head: Vec<String> = self.header.iter().map(|h| md_escape(h)).collect();
        let _ = writeln!(out, "| {} |", head.join(" | "));
        let align: Vec<&str> = (0..self.header.len())
            .map(|i| if i == 0 { ":---" } else { "---:" })
            .collect();
        let _ = writeln!(out, "| {} |", align.join(" | "));
        for r in &self.rows {
            let mut cells = Vec::with_capacity(self.header.len());
            if r.section {
                cells.push(format!("**{}**", md_escape(&r.label)));
                cells.extend(std::iter::repeat_n(String::new(), self.header.len() - 1));
            } else {
                cells.push(md_escape(&r.label));
                for i in 1..self.header.len() {
                    let c = r.cells.get(i - 1).cloned().unwrap_or(Cell::plain(""));
                    cells.push(match c.mark {
                        Mark::Fail => format!("**{}**", md_escape(&c.text)),
                        _ => md_escape(&c.text),
                    });
                }
            }
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }

    /// An HTML `<table>`; marks become `pass` / `fail` classes.
    pub fn to_html(&self) -> String {
        let mut out = String::from("<table>\n<thead><tr>");
        for h in &self.header {
            let _ = write!(out, "<th>{}</th>", html_escape(h));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for r in &self.rows {
            if r.section {
                let _ = writeln!(
                    out,
                    "<tr class=\"section\"><th colspan=\"{}\">{}</th></tr>",
                    self.header.len(),
                    html_escape(&r.label)
                );
                continue;
            }
            let _ = write!(out, "<tr><th>{}</th>", html_escape(&r.label));
            for i in 1..self.header.len() {
                let c = r.cells.get(i - 1).cloned().unwrap_or(Cell::plain(""));
                let class = match c.mark {
                    Mark::None => "",
                    Mark::Pass => " class=\"pass\"",
                    Mark::Fail => " class=\"fail\"",
                };
                let _ = write!(out, "<td{class}>{}</td>", html_escape(&c.text));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad_right(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

fn pad_left(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(width(s))))
}

fn paint(s: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// Escapes text for a markdown table cell.
pub fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(vec!["metric".into(), "a".into(), "bb".into()]);
        t.section("latency");
        t.row(
            "p99 ms",
            vec![Cell::plain("1.0"), Cell::marked("1234.5", Mark::Fail)],
        );
        t
    }

    #[test]
    fn text_aligns_columns_right() {
        let s = sample().to_text(false);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "metric      a      bb");
        assert_eq!(lines[1], "latency");
        assert_eq!(lines[2], "  p99 ms  1.0  1234.5");
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(!sample().to_text(false).contains('\x1b'));
        assert!(sample().to_text(true).contains("\x1b[1;31m1234.5\x1b[0m"));
    }

    #[test]
    fn markdown_and_html_escape() {
        let mut t = Table::new(vec!["m".into(), "a|b".into()]);
        t.row_plain("<x>", vec!["1".into()]);
        assert!(t.to_markdown().contains("a\\|b"));
        assert!(t.to_html().contains("&lt;x&gt;"));
    }
}
