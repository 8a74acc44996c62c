//! The HTML report is one self-contained page.

use scalelab_reports::{Exporter, HtmlExporter};

use crate::fixture::two_variants;

fn page() -> String {
    String::from_utf8(HtmlExporter::default().render(&two_variants()).unwrap()).unwrap()
}

#[test]
fn html_is_self_contained() {
    let html = page();
    for banned in [
        "http://", "https://", "src=", "<link", "<script", "url(", "@import",
    ] {
        assert!(!html.contains(banned), "the page contains {banned:?}");
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 7, "every chart inline");
}

#[test]
fn html_has_summary_tradeoff_scenario_and_reproduction() {
    let html = page();
    assert!(html.contains("<table>"));
    assert!(
        html.contains("min-1 (vs baseline): costs"),
        "the trade-off in words"
    );
    assert!(html.contains("scalelab sim scenarios/burst-after-idle.toml --seed 42"));
    assert!(html.contains("seed: <code>42</code>"));
    assert!(html.contains("Scenario as resolved"));
    assert!(
        html.contains("&lt;script&gt;alert"),
        "the resolved scenario is escaped"
    );
    assert!(
        html.contains("class=\"fail\""),
        "the failed p99 check is marked"
    );
}
