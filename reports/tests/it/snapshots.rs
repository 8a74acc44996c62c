//! Snapshot tests (insta) of the text, markdown, CSV and JUnit renderings of a two-variant run.

use scalelab_reports::{CsvExporter, Exporter, JunitExporter, MarkdownExporter, TextExporter};

use crate::fixture::two_variants;

fn utf8(b: Vec<u8>) -> String {
    String::from_utf8(b).expect("utf-8")
}

#[test]
fn text_summary() {
    let r = two_variants();
    let text = utf8(TextExporter { color: false }.render(&r).unwrap());
    assert_eq!(text, scalelab_reports::render_text(&r, false));
    insta::assert_snapshot!(text);
}

#[test]
fn text_summary_in_colour_marks_failures_red() {
    let r = two_variants();
    let text = scalelab_reports::render_text(&r, true);
    assert!(text.contains("\x1b[1;31mFAIL"), "{text}");
    assert!(text.contains("\x1b[32m"), "{text}");
    // Colour must not change the layout: stripping the escapes gives the plain rendering.
    let mut plain = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    assert_eq!(plain, scalelab_reports::render_text(&r, false));
}

#[test]
fn markdown_summary() {
    insta::assert_snapshot!(utf8(MarkdownExporter.render(&two_variants()).unwrap()));
}

#[test]
fn csv_timeseries() {
    let mut r = two_variants();
    let full = utf8(CsvExporter.render(&r).unwrap());
    assert_eq!(
        full.lines().count(),
        1 + 2 * 420,
        "a header and every row of both variants"
    );
    for v in &mut r.variants {
        if let Some(s) = v.series.as_mut() {
            s.rows.drain(..238);
            s.rows.truncate(5);
        }
    }
    r.variants[1].name = "min-1, \"warm\"".into();
    insta::assert_snapshot!(utf8(CsvExporter.render(&r).unwrap()));
}

#[test]
fn junit_one_testcase_per_check() {
    let xml = utf8(JunitExporter.render(&two_variants()).unwrap());
    assert_eq!(xml.matches("<testcase ").count(), 4);
    assert_eq!(xml.matches("<failure ").count(), 2);
    insta::assert_snapshot!(xml);
}

#[test]
fn json_is_pretty_and_round_trips() {
    let r = two_variants();
    let bytes = scalelab_reports::JsonExporter.render(&r).unwrap();
    let text = utf8(bytes);
    assert!(text.starts_with("{\n  \"schema\": 1,"));
    // Re-reading and re-writing gives the same bytes (floats may differ in the last bit after
    // parsing, so compare documents, not structs).
    let back = scalelab_reports::parse_result(&text, "x.json").unwrap();
    assert_eq!(
        String::from_utf8(scalelab_reports::JsonExporter.render(&back).unwrap()).unwrap(),
        text
    );
}
