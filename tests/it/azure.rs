//! `scalelab import azure-2019` and `import azure-2021` on the bundled samples: both files
//! written, bad input is exit 2 naming the file and line.

use crate::support::*;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("scalelab-azure-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

const D1: &str = "scenarios/azure/invocations_per_function_md.anon.d01.csv";
const D2: &str = "scenarios/azure/invocations_per_function_md.anon.d02.csv";
const DUR: &str = "scenarios/azure/function_durations_percentiles.anon.d01.csv";
const MEM: &str = "scenarios/azure/app_memory_percentiles.anon.d01.csv";

#[test]
fn import_azure_2019_writes_the_fleet_and_its_trace() {
    let dir = temp_dir("2019");
    let out = dir.join("fleet.toml");
    let o = scalelab(&[
        "import",
        "azure-2019",
        "--invocations",
        D1,
        "--invocations",
        D2,
        "--durations",
        DUR,
        "--memory",
        MEM,
        "--functions",
        "10",
        "--seed",
        "7",
        "--spread",
        "poisson",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("10 of"), "{}", stderr(&o));
    let toml_text = std::fs::read_to_string(&out).unwrap();
    let trace = std::fs::read_to_string(dir.join("fleet.trace.csv")).unwrap();
    assert_eq!(toml_text.matches("[[services]]").count(), 10);
    assert!(toml_text.contains("spread = \"poisson\""));
    assert!(toml_text.contains("seed = 7"));
    assert!(trace.lines().any(|l| l == "t_s,service,count"));
    let rows = trace.lines().filter(|l| !l.starts_with('#')).count() - 1;
    assert!(rows > 100, "{rows} rows");
    // Byte-identical again.
    let o = scalelab(&[
        "import",
        "azure-2019",
        "--invocations",
        D1,
        "--invocations",
        D2,
        "--durations",
        DUR,
        "--memory",
        MEM,
        "--functions",
        "10",
        "--seed",
        "7",
        "--spread",
        "poisson",
        "-o",
        dir.join("again.toml").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        trace,
        std::fs::read_to_string(dir.join("again.trace.csv")).unwrap()
    );
}

#[test]
fn import_azure_2021_writes_the_fleet_and_its_trace() {
    let dir = temp_dir("2021");
    let out = dir.join("f.toml");
    let o = scalelab(&[
        "import",
        "azure-2021",
        "scenarios/azure/azure-2021-sample.csv",
        "--functions",
        "5",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let toml_text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(toml_text.matches("[[services]]").count(), 5);
    assert!(toml_text.contains("durations = true"));
    let trace = std::fs::read_to_string(dir.join("f.trace.csv")).unwrap();
    assert!(trace.lines().any(|l| l == "t_s,service,duration_s"));
}

#[test]
fn bad_trace_input_is_exit_2_naming_file_and_line() {
    let dir = temp_dir("bad");
    let text = std::fs::read_to_string(root().join(D1)).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut cols: Vec<&str> = lines[3].split(',').collect();
    cols[10] = "zero";
    lines[3] = cols.join(",");
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let out = dir.join("x.toml");
    let o = scalelab(&[
        "import",
        "azure-2019",
        "--invocations",
        bad.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("bad.csv:4: column 11 (minute 7)"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("\"zero\""), "{}", stderr(&o));
    assert!(!out.exists(), "no scenario for a failed import");

    let o = scalelab(&["import", "azure-2021", D1, "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("d01.csv:1: missing column `app`"),
        "{}",
        stderr(&o)
    );
    let o = scalelab(&[
        "import",
        "azure-2019",
        "--invocations",
        "no/such.csv",
        "-o",
        "x.toml",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no/such.csv: no such file"),
        "{}",
        stderr(&o)
    );
    let o = scalelab(&["import", "azure-2019", "--invocations", D1]);
    assert_eq!(o.status.code(), Some(2), "-o is required");
    let o = scalelab(&[
        "import",
        "azure-2019",
        "--invocations",
        D1,
        "--functions",
        "0",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--functions"), "{}", stderr(&o));
}
