//! Issue 20, "inputs that cannot hurt, outputs that cannot mislead": the load generator's work
//! guard, shell-safe reproduce lines, stable JUnit names, `report -o` against `--out`, help
//! texts a newcomer reads.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use crate::support::*;

fn temp_dir(name: &str) -> Scratch {
    fresh_dir("hard", name)
}

/// A server on 127.0.0.1 that answers every request `200 ok` (one thread per connection).
fn ok_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            std::thread::spawn(move || {
                let mut out = conn.try_clone().expect("clone");
                let mut reader = BufReader::new(conn);
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => {
                            if out
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                                .is_err()
                            {
                                return;
                            }
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    url
}

/// `load --rate 1e12 --duration 2s` took 3.5 GB; it is refused before anything is sent.
#[test]
fn an_impossible_load_schedule_is_refused() {
    let o = scalelab(&[
        "load",
        "http://127.0.0.1:9/",
        "--rate",
        "1e12",
        "--duration",
        "2s",
    ]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert_contains(&err, "about 2.0e12 requests (limit 1.0e8)");
    assert_contains(&err, "--allow-large-run");
}

/// A 20 requests/s load run against `url` for `duration`, its results written into `dir`.
fn load_into(url: &str, duration: &str, dir: &std::path::Path) {
    let o = scalelab(&[
        "load",
        url,
        "--rate",
        "20",
        "--duration",
        duration,
        "--seed",
        "1",
        "-q",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
}

/// The reproduce line is a command a shell runs as written: a URL with `&` stays one argument.
#[test]
fn the_reproduce_line_quotes_for_a_shell() {
    let url = format!("{}/?a=1&b=2", ok_server());
    let dir = temp_dir("quote");
    load_into(&url, "500ms", &dir);
    let o = scalelab(&["report", dir.to_str().unwrap()]);
    let text = stdout(&o);
    let line = text
        .lines()
        .find(|l| l.starts_with("reproduce: "))
        .expect("a reproduce line");
    assert_contains(line, &format!(" '{url}' "));
    let o = scalelab(&["report", dir.to_str().unwrap(), "--format", "md"]);
    assert_contains(&stdout(&o), &format!("'{url}'"));
}

/// A load result shows what a load run measured: no instances, cold starts or bills.
#[test]
fn a_load_report_shows_only_what_a_load_run_measured() {
    let dir = temp_dir("load-html");
    load_into(&format!("{}/", ok_server()), "1s", &dir);
    let o = scalelab(&["report", dir.to_str().unwrap(), "--format", "html"]);
    assert_exit(&o, 0);
    let html = stdout(&o);
    for absent in [
        "scaled to zero",
        "Cold starts over time",
        "instances started",
        "Cost per million",
        "ready instances",
    ] {
        assert!(!html.contains(absent), "{absent:?} in a load report");
    }
    for present in [
        "requests and latency over time",
        "load generator",
        "achieved rate",
    ] {
        assert!(
            html.contains(present),
            "{present:?} missing from a load report"
        );
    }
}

/// JUnit test-case names are the checks' keys, the same from run to run, so CI history can
/// follow them; measured values live in the failure messages.
#[test]
fn junit_names_do_not_change_between_runs() {
    let names = |seed: &str| {
        let dir = temp_dir(&format!("junit-{seed}"));
        let f = dir.join("r.json");
        let o = scalelab(&[
            "sim",
            "scenarios/spiky-api.toml",
            "--seed",
            seed,
            "--duration",
            "3m",
            "--format",
            "json",
            "-q",
        ]);
        std::fs::write(&f, o.stdout).expect("written");
        let o = scalelab(&["report", f.to_str().unwrap(), "--format", "junit"]);
        let xml = stdout(&o);
        let names: Vec<String> = xml
            .lines()
            .filter_map(|l| l.split("<testcase ").nth(1))
            .map(|l| {
                let after = l.split(" name=\"").nth(1).unwrap_or("");
                after.split('"').next().unwrap_or("").to_string()
            })
            .collect();
        (names, f, dir)
    };
    let (a, fa, _a) = names("1");
    let (b, fb, _b) = names("2");
    assert!(!a.is_empty());
    assert_eq!(a, b);
    for n in &a {
        assert!(
            [
                "p50",
                "p90",
                "p99",
                "p999",
                "cold_start_ratio",
                "error_ratio"
            ]
            .contains(&n.as_str()),
            "a test case named {n:?}"
        );
    }
    assert!(
        a.contains(&"p99".to_string()) && a.contains(&"error_ratio".to_string()),
        "{a:?}"
    );
    // Comparing the two: every check of every run is a test case, passing or not.
    let o = scalelab(&[
        "report",
        fa.to_str().unwrap(),
        fb.to_str().unwrap(),
        "--format",
        "junit",
    ]);
    let xml = stdout(&o);
    let slo_cases = xml.matches("classname=\"slo.").count();
    assert_eq!(slo_cases, 2 * a.len(), "{xml}");
}

/// `report -o` is one file and `--out` a directory; giving -o a directory says so.
#[test]
fn report_output_and_out_are_told_apart() {
    let o = scalelab(&["report", "--help"]);
    let help = stdout(&o);
    assert_contains(&help, "(-o/--output: one FILE in --format)");
    assert_contains(&help, "(--out: a DIRECTORY of every file)");
    let dir = temp_dir("o-dir");
    let r = dir.join("r.json");
    let o = scalelab(&[
        "sim",
        "scenarios/steady-api.toml",
        "--duration",
        "30s",
        "--format",
        "json",
        "-q",
    ]);
    std::fs::write(&r, o.stdout).expect("written");
    let o = scalelab(&["report", r.to_str().unwrap(), "-o", dir.to_str().unwrap()]);
    assert_exit(&o, 2);
    assert_contains(&stderr(&o), "--out DIR writes every file");
}

/// What a newcomer reads in --help: `--threads 0` means every core.
#[test]
fn help_says_what_threads_0_means() {
    for cmd in ["sim", "tune"] {
        let o = scalelab(&[cmd, "--help"]);
        assert!(
            stdout(&o).contains("0 (the default) means one per core"),
            "{cmd}: {}",
            stdout(&o)
        );
    }
}

/// The number after `name="` in an SVG tag.
fn attr(tag: &str, name: &str) -> f64 {
    tag.split(&format!(" {name}=\""))
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// `pareto.png`: the winner's label sat on its marker, the legend drew the SLO line solid while
/// the chart drew it dashed, and candidates with the same result hid each other silently.
#[test]
fn the_pareto_chart_labels_beside_markers_and_dashes_its_legend() {
    let dir = temp_dir("pareto");
    let o = scalelab(&[
        "tune",
        "scenarios/tune-api.toml",
        "--out",
        dir.to_str().unwrap(),
        "-q",
    ]);
    assert_exit(&o, 0);
    let svg = std::fs::read_to_string(dir.join("pareto.svg")).expect("pareto.svg");
    let tags: Vec<&str> = svg.split('<').collect();
    // The winner's ring (green, drawn before its label) and the label.
    let at = tags
        .iter()
        .position(|t| t.starts_with("text") && t.contains(">\nbest #"))
        .expect("a best label");
    let ring = tags[..at]
        .iter()
        .rev()
        .find(|t| t.starts_with("circle") && t.contains("stroke=\"#2CA02C\""))
        .expect("the winner's ring");
    let (cx, r) = (attr(ring, "cx"), attr(ring, "r"));
    assert!(
        attr(tags[at], "x") >= cx + r,
        "label at {} over a ring at {cx} ± {r}",
        attr(tags[at], "x")
    );
    // Every red (SLO) stroke is a short dash, the legend's included.
    for t in tags
        .iter()
        .filter(|t| t.starts_with("polyline") && t.contains("#D62728"))
    {
        let xs: Vec<f64> = t
            .split("points=\"")
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|p| p.split(',').next()?.parse().ok())
            .collect();
        let span = xs.iter().copied().fold(f64::MIN, f64::max)
            - xs.iter().copied().fold(f64::MAX, f64::min);
        assert!(span <= 10.0, "a solid red line of {span} px: {t}");
    }
    // tune-api has candidates whose parameters change nothing: their markers say so.
    assert!(
        svg.contains("×2") || svg.contains("×3"),
        "no shared-marker count"
    );
    assert!(svg.contains("share the marker"));
}
