//! Synthetic traces in the exact column layouts of the Azure Functions 2019 and 2021 datasets
//! (generated from their published fits, not copied), for tests, samples and benchmarks. The
//! bundled samples under `scenarios/azure/` are written by `cargo run -p scalelab-lab --example
//! azure_sample`; the same (options, seed) always writes the same bytes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Poisson, StandardNormal};

use super::fits::{EXEC_LOGNORMAL_MU, EXEC_LOGNORMAL_SIGMA, burr_memory_mb};
use scalelab_core::rng::{SimRng, stream};

/// The trigger types of the 2019 trace and roughly how common each is among functions.
const TRIGGERS: [(&str, f64); 7] = [
    ("http", 0.55),
    ("timer", 0.15),
    ("queue", 0.12),
    ("event", 0.08),
    ("storage", 0.05),
    ("orchestration", 0.04),
    ("others", 0.01),
];

/// The percentile points of the 2019 durations file: (column suffix, p, z = Φ⁻¹(p)).
const DURATION_Z: [(&str, f64); 7] = [
    ("0", -3.0),
    ("1", -2.326),
    ("25", -0.674),
    ("50", 0.0),
    ("75", 0.674),
    ("99", 2.326),
    ("100", 3.5),
];

/// The percentile columns of the 2019 memory file, with z.
const MEMORY_Z: [(&str, f64); 8] = [
    ("1", -2.326),
    ("5", -1.645),
    ("25", -0.674),
    ("50", 0.0),
    ("75", 0.674),
    ("95", 1.645),
    ("99", 2.326),
    ("100", 3.5),
];

/// A 64-digit hexadecimal hash, like the dataset's anonymised names.
fn hash(rng: &mut SimRng) -> String {
    (0..4)
        .map(|_| format!("{:016x}", rng.random::<u64>()))
        .collect()
}

fn normal(rng: &mut SimRng) -> f64 {
    StandardNormal.sample(rng)
}

/// What to generate for 2019.
#[derive(Clone, Debug)]
pub struct Synth2019 {
    /// Functions.
    pub functions: usize,
    /// Days (one file of each kind per day).
    pub days: usize,
    /// The most invocations a function has in a day (the popularity range is 1 to this, log
    /// uniform).
    pub max_daily: f64,
    /// Seed.
    pub seed: u64,
}

/// The bundled 2019 sample (`scenarios/azure/`): 2 days × 40 functions, up to 10⁵
/// invocations a day.
pub const SAMPLE_2019: Synth2019 = Synth2019 {
    functions: 40,
    days: 2,
    max_daily: 1e5,
    seed: 2019,
};

/// One generated function.
struct Func {
    owner: String,
    app: String,
    func: String,
    trigger: &'static str,
    /// Expected invocations per day.
    daily: f64,
    /// A timer's period in minutes (counts of exactly 1).
    period: Option<usize>,
    /// Median execution time, ms, and its log-spread.
    median_ms: f64,
    sigma: f64,
    /// Absent from this day's files (0-based day), for functions that come and go.
    absent_day: Option<usize>,
    /// No row in the durations files.
    no_durations: bool,
}

/// Writes the three files per day into `dir` (`invocations_per_function_md.anon.dNN.csv`,
/// `function_durations_percentiles.anon.dNN.csv`, `app_memory_percentiles.anon.dNN.csv`) and
/// returns the invocation files, in day order.
pub fn write_2019(dir: &Path, s: &Synth2019) -> std::io::Result<Vec<PathBuf>> {
    let mut rng = stream(s.seed, "synth/azure-2019");
    // Owners hold 1–3 apps, apps 1–4 functions.
    let mut funcs: Vec<Func> = Vec::with_capacity(s.functions);
    let (mut owner, mut app) = (hash(&mut rng), hash(&mut rng));
    let (mut apps_left, mut funcs_left) = (rng.random_range(1..=3), rng.random_range(1..=4));
    let mut app_mb: Vec<(String, String, f64)> = vec![(owner.clone(), app.clone(), 0.0)];
    for i in 0..s.functions {
        if funcs_left == 0 {
            apps_left -= 1;
            if apps_left == 0 {
                owner = hash(&mut rng);
                apps_left = rng.random_range(1..=3);
            }
            app = hash(&mut rng);
            funcs_left = rng.random_range(1..=4);
            app_mb.push((owner.clone(), app.clone(), 0.0));
        }
        funcs_left -= 1;
        let u: f64 = rng.random();
        let mut acc = 0.0;
        let trigger = TRIGGERS
            .iter()
            .find(|(_, w)| {
                acc += w;
                u < acc
            })
            .map_or("others", |(t, _)| *t);
        // Popularity: log-uniform from 1 to max_daily invocations a day; the first function is
        // the most popular and the second the rarest, so every sample spans the range.
        let x: f64 = match i {
            0 => 1.0,
            1 => 0.0,
            _ => rng.random(),
        };
        let daily = s.max_daily.max(1.0).powf(x);
        let period = (trigger == "timer").then(|| [1, 5, 15, 60, 240][rng.random_range(0..5)]);
        let median_s = (EXEC_LOGNORMAL_MU + EXEC_LOGNORMAL_SIGMA * normal(&mut rng))
            .exp()
            .clamp(0.002, 120.0);
        funcs.push(Func {
            owner: owner.clone(),
            app: app.clone(),
            func: hash(&mut rng),
            trigger,
            daily,
            period,
            median_ms: median_s * 1000.0,
            sigma: rng.random_range(0.2..1.2),
            absent_day: (s.days > 1 && i > 1 && rng.random::<f64>() < 0.08)
                .then(|| rng.random_range(0..s.days)),
            no_durations: i > 1 && rng.random::<f64>() < 0.1,
        });
    }
    for a in &mut app_mb {
        a.2 = burr_memory_mb(rng.random::<f64>()).max(8.0);
    }
    let mut files = Vec::new();
    for d in 0..s.days {
        let inv = dir.join(format!(
            "invocations_per_function_md.anon.d{:02}.csv",
            d + 1
        ));
        let mut w = BufWriter::new(File::create(&inv)?);
        write!(w, "HashOwner,HashApp,HashFunction,Trigger")?;
        for m in 1..=1440 {
            write!(w, ",{m}")?;
        }
        writeln!(w)?;
        let mut day_counts = Vec::with_capacity(funcs.len());
        for f in &funcs {
            if f.absent_day == Some(d) {
                day_counts.push(0);
                continue;
            }
            write!(w, "{},{},{},{}", f.owner, f.app, f.func, f.trigger)?;
            let mut total = 0u64;
            let phase = rng.random_range(0..f.period.unwrap_or(1));
            for m in 0..1440usize {
                let c = match f.period {
                    Some(p) => u64::from((m + phase).is_multiple_of(p)),
                    None => {
                        // A diurnal swing of ±60 % around the day's mean.
                        let shape = 1.0 + 0.6 * (std::f64::consts::TAU * m as f64 / 1440.0).sin();
                        poisson(&mut rng, f.daily / 1440.0 * shape)
                    }
                };
                total += c;
                write!(w, ",{c}")?;
            }
            writeln!(w)?;
            day_counts.push(total);
        }
        w.flush()?;
        files.push(inv);

        let dur = dir.join(format!(
            "function_durations_percentiles.anon.d{:02}.csv",
            d + 1
        ));
        let mut w = BufWriter::new(File::create(&dur)?);
        write!(
            w,
            "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum"
        )?;
        for (p, _) in DURATION_Z {
            write!(w, ",percentile_Average_{p}")?;
        }
        writeln!(w)?;
        for (f, &count) in funcs.iter().zip(&day_counts) {
            if f.no_durations || count == 0 {
                continue;
            }
            // At most 10 minutes, the Consumption plan's longest execution.
            let at = |z: f64| (f.median_ms * (f.sigma * z).exp()).round().min(600_000.0);
            let avg = (f.median_ms * (f.sigma * f.sigma / 2.0).exp()).round();
            write!(
                w,
                "{},{},{},{avg},{count},{},{}",
                f.owner,
                f.app,
                f.func,
                at(-3.0),
                at(3.5)
            )?;
            for (_, z) in DURATION_Z {
                write!(w, ",{}", at(z))?;
            }
            writeln!(w)?;
        }
        w.flush()?;

        let mem = dir.join(format!("app_memory_percentiles.anon.d{:02}.csv", d + 1));
        let mut w = BufWriter::new(File::create(&mem)?);
        write!(w, "HashOwner,HashApp,SampleCount,AverageAllocatedMb")?;
        for (p, _) in MEMORY_Z {
            write!(w, ",AverageAllocatedMb_pct{p}")?;
        }
        writeln!(w)?;
        for (i, (o, a, mb)) in app_mb.iter().enumerate() {
            // Every seventh app has no memory row (the importer falls back to the fit).
            if i % 7 == 6 {
                continue;
            }
            write!(
                w,
                "{o},{a},{},{}",
                rng.random_range(100..20_000),
                mb.round()
            )?;
            for (_, z) in MEMORY_Z {
                write!(w, ",{}", (mb * (0.08 * z).exp()).round())?;
            }
            writeln!(w)?;
        }
        w.flush()?;
    }
    Ok(files)
}

fn poisson<R: Rng>(rng: &mut R, mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    match Poisson::new(mean) {
        Ok(p) => p.sample(rng) as u64,
        Err(_) => 0,
    }
}

/// What to generate for 2021.
#[derive(Clone, Debug)]
pub struct Synth2021 {
    /// Functions.
    pub functions: usize,
    /// Seconds of trace.
    pub seconds: f64,
    /// Invocations expected in all (rates log-uniform over three orders of magnitude, scaled
    /// to this).
    pub invocations: f64,
    /// Seed.
    pub seed: u64,
}

/// The bundled 2021 sample (`scenarios/azure/azure-2021-sample.csv`): 30 functions over an
/// hour, about 3000 invocations.
pub const SAMPLE_2021: Synth2021 = Synth2021 {
    functions: 30,
    seconds: 3600.0,
    invocations: 3000.0,
    seed: 2021,
};

/// The file name of the bundled 2021 sample.
pub const SAMPLE_2021_FILE: &str = "azure-2021-sample.csv";

/// Writes `app,func,end_timestamp,duration` rows in end-time order to `path` (seconds, three
/// decimals, as the dataset). One invocation of the first function starts 20 s before 0 (it
/// was running when the recording began).
pub fn write_2021(path: &Path, s: &Synth2021) -> std::io::Result<u64> {
    let mut rng = stream(s.seed, "synth/azure-2021");
    let mut funcs = Vec::with_capacity(s.functions);
    let mut app = hash(&mut rng);
    for i in 0..s.functions {
        if i > 0 && rng.random::<f64>() < 0.4 {
            app = hash(&mut rng);
        }
        let x: f64 = match i {
            0 => 1.0,
            1 => 0.0,
            _ => rng.random(),
        };
        let weight = 1000f64.powf(x);
        let median = (EXEC_LOGNORMAL_MU + 1.2 * normal(&mut rng))
            .exp()
            .clamp(0.005, 60.0);
        funcs.push((app.clone(), hash(&mut rng), weight, median));
    }
    let total_weight: f64 = funcs.iter().map(|f| f.2).sum();
    let mut rows: Vec<(f64, usize, f64)> = Vec::new();
    for (i, f) in funcs.iter().enumerate() {
        let rate = s.invocations * f.2 / total_weight / s.seconds;
        let sigma = 0.8;
        let mut t = 0.0;
        loop {
            let u: f64 = rng.random();
            t += -(-u).ln_1p() / rate;
            if t >= s.seconds {
                break;
            }
            let d = (f.3 * (sigma * normal(&mut rng)).exp() * 1000.0).round() / 1000.0;
            let end = ((t + d) * 1000.0).round() / 1000.0;
            if end >= 0.0 && end <= s.seconds {
                rows.push((end, i, d));
            }
        }
    }
    // One invocation of the most popular function was running when the recording began.
    rows.push((5.0, 0, 25.0));
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut w = BufWriter::new(File::create(path)?);
    writeln!(w, "app,func,end_timestamp,duration")?;
    for (end, i, d) in &rows {
        writeln!(w, "{},{},{end:.3},{d:.3}", funcs[*i].0, funcs[*i].1)?;
    }
    w.flush()?;
    Ok(rows.len() as u64)
}
