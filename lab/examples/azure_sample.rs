//! Writes synthetic Azure Functions traces in the datasets' exact column layouts (generated
//! from the published fits, not copied).
//!
//! ```text
//! cargo run -p scalelab-lab --example azure_sample                 # the bundled samples
//! cargo run -p scalelab-lab --example azure_sample -- 2019 DIR FUNCTIONS DAYS MAX_DAILY SEED
//! cargo run -p scalelab-lab --example azure_sample -- 2021 FILE FUNCTIONS SECONDS INVOCATIONS SEED
//! ```
//!
//! Without arguments it rewrites `scenarios/azure/`: 2019, 2 days × 40 functions (up to 10⁵
//! invocations a day) with durations and memory files, seed 2019; 2021, 30 functions over an
//! hour, about 3000 invocations, seed 2021.

use std::path::{Path, PathBuf};

use scalelab_lab::azure::synth::{
    SAMPLE_2019, SAMPLE_2021, SAMPLE_2021_FILE, Synth2019, Synth2021, write_2019, write_2021,
};

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("argument {i}: expected {what}"))
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/azure");
            std::fs::create_dir_all(&dir)?;
            let files = write_2019(&dir, &SAMPLE_2019)?;
            eprintln!(
                "wrote {} day(s) of 2019 files into {}",
                files.len(),
                dir.display()
            );
            let n = write_2021(&dir.join(SAMPLE_2021_FILE), &SAMPLE_2021)?;
            eprintln!("wrote {n} 2021 invocations");
        }
        Some("2019") => {
            let dir: PathBuf = arg(&args, 1, "a directory");
            std::fs::create_dir_all(&dir)?;
            let files = write_2019(
                &dir,
                &Synth2019 {
                    functions: arg(&args, 2, "a number of functions"),
                    days: arg(&args, 3, "a number of days"),
                    max_daily: arg(&args, 4, "the most invocations a day"),
                    seed: arg(&args, 5, "a seed"),
                },
            )?;
            eprintln!("wrote {} day(s) into {}", files.len(), dir.display());
        }
        Some("2021") => {
            let file: PathBuf = arg(&args, 1, "a file");
            let n = write_2021(
                &file,
                &Synth2021 {
                    functions: arg(&args, 2, "a number of functions"),
                    seconds: arg(&args, 3, "seconds"),
                    invocations: arg(&args, 4, "invocations"),
                    seed: arg(&args, 5, "a seed"),
                },
            )?;
            eprintln!("wrote {n} invocations to {}", file.display());
        }
        Some(other) => panic!("unknown trace \"{other}\": expected 2019 or 2021"),
    }
    Ok(())
}
