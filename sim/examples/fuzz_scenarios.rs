//! A mutation fuzzer for scenario files: parses, resolves and (when the work is small) briefly
//! simulates mutants of the bundled scenarios, looking for panics and hangs. It is not part of
//! the test suite; what it finds becomes a file in `tests/bad/` or `tests/fuzz/`.
//!
//! ```text
//! cargo run --release -p scalelab-sim --example fuzz_scenarios -- [CASES] [SEED] [OUT_DIR]
//! ```
//!
//! Each mutant is run on a worker thread; one that takes longer than 20 s is reported as a hang
//! and the fuzzer stops (the thread cannot be killed). Findings are written to OUT_DIR
//! (default `target/fuzz-findings`) as `panic-N.toml` / `hang-N.toml`.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use scalelab_core::estimate::{WorkLimits, estimate_scenario};
use scalelab_core::scenario::Scenario;

/// xorshift64*: the fuzzer needs no statistical quality, only a reproducible stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "0.0",
    "-0.0",
    "1e308",
    "-1e308",
    "1e-308",
    "5e-324",
    "nan",
    "inf",
    "-inf",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967295",
    "4294967296",
    "65535",
    "65536",
    "1000000",
    "1e12",
    "0.5",
    "100",
    "1.0000001",
    "true",
    "\"x\"",
    "[]",
    "{}",
];

const DURATIONS: &[&str] = &[
    "\"0s\"",
    "\"1ns\"",
    "\"1us\"",
    "\"999999999999h\"",
    "\"18446744073709551615s\"",
    "\"18446744073s\"",
    "\"584y\"",
    "\"1e30s\"",
    "\"-1s\"",
    "\"1.5\"",
    "\"\"",
    "\"1h1h1h\"",
    "\"0.0000000001s\"",
    "\"10000000000000000000000000000000ms\"",
    "\"1d\"",
    "\"100000d\"",
    "\"nan s\"",
    "\"inf s\"",
    "\"5ms\"",
    "\"2s\"",
];

const KEYS: &[&str] = &[
    "duration = ",
    "seed = ",
    "[service]\ncontainer_concurrency = ",
    "[service]\ntimeout = ",
    "[autoscaler]\nmin_scale = ",
    "[autoscaler]\nmax_scale = ",
    "[autoscaler]\ninitial_scale = ",
    "[autoscaler]\ntarget = ",
    "[autoscaler]\nstable_window = ",
    "[autoscaler]\nkind = \"keepalive\"\nidle_timeout = ",
    "[autoscaler]\nmax_scale_up_rate = ",
    "[autoscaler]\ntarget_burst_capacity = ",
    "[router]\nactivator_queue_depth = ",
    "[router]\nslot_overhead = ",
    "[sim]\ntimeseries_bucket = ",
    "[sim]\ndrain = ",
    "[sim]\nmax_events = ",
    "[billing]\ngranularity = ",
    "[slo]\np99 = ",
    "[slo]\nerror_ratio = ",
    "[[workload.phases]]\nduration = \"1s\"\narrival = { process = \"sine\", mean = 5, amplitude = 5, period = ",
    "[[workload.phases]]\nduration = \"1s\"\narrival = { process = \"onoff\", rate = 5, on = \"1s\", off = ",
    "[[workload.phases]]\nduration = \"1s\"\narrival = { process = \"trace\", at = [",
    "[[workload.phases]]\nduration = ",
    "[[variants]]\nname = \"fz\"\nset = { \"autoscaler.min_scale\" = ",
    "[[variants]]\nname = \"fz2\"\nset = { \"workload.phases.0.duration\" = ",
    "[[variants]]\nname = \"fz3\"\nset = { \"service.cold_start\" = ",
    "[service]\nservice_time = { dist = \"mixture\", parts = [{ weight = ",
];

fn mutate(src: &str, rng: &mut Rng) -> String {
    let mut s = src.to_string();
    // Half the mutants change values only, so most of them stay valid TOML with known keys and
    // reach the resolver's range checks and the simulator.
    if rng.below(2) == 0 {
        for _ in 0..1 + rng.below(3) {
            s = match rng.below(3) {
                0 => replace_token(&s, rng, |c| c.is_ascii_digit() || c == '.', NUMBERS),
                1 => replace_quoted(&s, rng, DURATIONS),
                _ => mutate_once_kind(&s, rng, 6),
            };
        }
        return s;
    }
    for _ in 0..1 + rng.below(2) {
        s = mutate_once(&s, rng);
    }
    s
}

fn mutate_once_kind(src: &str, rng: &mut Rng, kind: usize) -> String {
    mutate_with(src, rng, kind)
}

fn mutate_once(src: &str, rng: &mut Rng) -> String {
    let kind = rng.below(11);
    mutate_with(src, rng, kind)
}

fn mutate_with(src: &str, rng: &mut Rng, kind: usize) -> String {
    let lines: Vec<&str> = src.lines().collect();
    match kind {
        // Replace a number.
        0 | 1 => replace_token(src, rng, |c| c.is_ascii_digit() || c == '.', NUMBERS),
        // Replace a quoted string (most are durations or names).
        2 | 3 => replace_quoted(src, rng, DURATIONS),
        // Drop a line.
        4 if !lines.is_empty() => {
            let i = rng.below(lines.len());
            join(
                lines
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, l)| *l),
            )
        }
        // Duplicate a line.
        5 if !lines.is_empty() => {
            let i = rng.below(lines.len());
            let mut v = lines.clone();
            v.insert(i, lines[i]);
            join(v.into_iter())
        }
        // Append a key with an extreme value.
        6 | 7 => {
            let k = rng.pick(KEYS);
            let v = if rng.below(2) == 0 {
                rng.pick(NUMBERS)
            } else {
                rng.pick(DURATIONS)
            };
            let close = if k.ends_with('[') {
                "]"
            } else if k.contains("{ ") {
                " }"
            } else {
                ""
            };
            let close = if k.contains("parts = [{") {
                ", dist = \"fixed\", value = \"1ms\" }] }"
            } else {
                close
            };
            format!("{src}\n{k}{v}{close}\n")
        }
        // Truncate.
        8 => {
            let mut cut = rng.below(src.len().max(1));
            while !src.is_char_boundary(cut) {
                cut -= 1;
            }
            src[..cut].to_string()
        }
        // Swap two lines.
        9 if lines.len() > 1 => {
            let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
            let mut v = lines.clone();
            v.swap(a, b);
            join(v.into_iter())
        }
        // Insert a random byte.
        _ => {
            let mut b = src.as_bytes().to_vec();
            let at = rng.below(b.len() + 1);
            let byte = *rng.pick(b"[]{}=\"',.#\n\\\t0-9ae\xff\x00");
            b.insert(at, byte);
            String::from_utf8_lossy(&b).into_owned()
        }
    }
}

fn join<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let mut s = it.collect::<Vec<_>>().join("\n");
    s.push('\n');
    s
}

fn replace_token(src: &str, rng: &mut Rng, class: fn(char) -> bool, with: &[&str]) -> String {
    let spans: Vec<(usize, usize)> = {
        let mut v = Vec::new();
        let mut start = None;
        let mut in_str = false;
        for (i, c) in src.char_indices() {
            if c == '"' {
                in_str = !in_str;
            }
            match (start, class(c) && !in_str) {
                (None, true) => start = Some(i),
                (Some(s), false) => {
                    v.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        v
    };
    if spans.is_empty() {
        return src.to_string();
    }
    let (a, b) = *rng.pick(&spans);
    format!("{}{}{}", &src[..a], rng.pick(with), &src[b..])
}

fn replace_quoted(src: &str, rng: &mut Rng, with: &[&str]) -> String {
    let quotes: Vec<usize> = src.match_indices('"').map(|(i, _)| i).collect();
    if quotes.len() < 2 {
        return src.to_string();
    }
    let k = rng.below(quotes.len() / 2) * 2;
    let (a, b) = (quotes[k], quotes[k + 1] + 1);
    format!("{}{}{}", &src[..a], rng.pick(with), &src[b..])
}

/// What one mutant did.
enum Outcome {
    Rejected,
    Valid { simulated: bool },
    Panicked(String),
}

fn run_one(text: String, path: PathBuf) -> Outcome {
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut s = match Scenario::from_toml_str(&text, &path) {
            Ok(s) => s,
            Err(e) => {
                // Rendering the error is part of the contract too.
                let _ = e.to_string();
                return Outcome::Rejected;
            }
        };
        let _ = scalelab_reports_free_text(&s);
        // Simulate briefly when the work is small: a short horizon, few arrivals.
        let cap = Duration::from_secs(120);
        s.duration = s.duration.min(cap);
        for v in &mut s.variants {
            v.scenario.duration = v.scenario.duration.min(cap);
        }
        let small = WorkLimits {
            requests: 200_000.0,
            peak_rate: f64::INFINITY,
            instances: 300.0,
            events: 2_000_000.0,
            series_rows: 100_000.0,
        };
        let est = estimate_scenario(&s, None);
        if est.check(&small).is_err() {
            return Outcome::Valid { simulated: false };
        }
        let _ = scalelab_sim::simulate(
            &s,
            &scalelab_sim::SimOptions {
                seed: 1,
                threads: 1,
                check: true,
                ..Default::default()
            },
        );
        Outcome::Valid { simulated: true }
    }));
    match r {
        Ok(o) => o,
        Err(p) => Outcome::Panicked(
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        ),
    }
}

/// What `validate` prints also runs on every valid mutant (it formats every value).
fn scalelab_reports_free_text(s: &Scenario) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn seeds(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in ["scenarios", "tests/bad", "tests/fuzz", "benches/scenarios"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            if f.extension().is_some_and(|e| e == "toml")
                && let Ok(t) = std::fs::read_to_string(&f)
            {
                out.push((f.display().to_string(), t));
            }
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cases: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let seed: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let out = PathBuf::from(
        args.get(3)
            .cloned()
            .unwrap_or_else(|| "target/fuzz-findings".into()),
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let corpus = seeds(&root);
    assert!(!corpus.is_empty(), "no seed scenarios found");
    std::fs::create_dir_all(&out).expect("the findings directory can be created");
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let (mut rejected, mut valid, mut simulated, mut panics) = (0u64, 0u64, 0u64, 0u64);
    for case in 0..cases {
        let (name, src) = rng.pick(&corpus);
        let text = mutate(src, &mut rng);
        // Trace files resolve against the seed's directory.
        let path = root.join(Path::new(name)).with_file_name("fuzz-case.toml");
        let (tx, rx) = mpsc::channel();
        let t = text.clone();
        std::thread::spawn(move || {
            let _ = tx.send(run_one(t, path));
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Outcome::Rejected) => rejected += 1,
            Ok(Outcome::Valid { simulated: s }) => {
                valid += 1;
                simulated += u64::from(s);
            }
            Ok(Outcome::Panicked(msg)) => {
                panics += 1;
                let f = out.join(format!("panic-{case}.toml"));
                std::fs::write(&f, &text).expect("writable");
                println!(
                    "PANIC case {case} (from {name}): {msg}\n  saved {}",
                    f.display()
                );
            }
            Err(_) => {
                let f = out.join(format!("hang-{case}.toml"));
                std::fs::write(&f, &text).expect("writable");
                println!("HANG case {case} (from {name}): saved {}", f.display());
                std::process::exit(1);
            }
        }
    }
    println!(
        "{cases} cases: {rejected} rejected cleanly, {valid} valid ({simulated} simulated), {panics} panics"
    );
    if panics > 0 {
        std::process::exit(1);
    }
}
