//! Pieces several subcommands share: loading a scenario, choosing the seed, colour.

use std::io::IsTerminal;
use std::path::Path;

use scalelab_core::scenario::Scenario;

use super::Failure;

/// Reads and resolves a scenario; problems are bad input (exit 2).
pub fn load_scenario(path: &Path) -> Result<Scenario, Failure> {
    Scenario::from_file(path).map_err(|e| Failure::bad_input(anyhow::anyhow!("{e}")))
}

/// Refuses what a live run (`run`, `serve`, `compare`) of a fleet cannot do (exit 2): a fleet
/// with `[cluster]` (nodes are simulated only), and for `run` and `compare` a `[trace]` of
/// recorded durations or too many requests ([`scalelab_lab::live::check_fleet`]). A fleet
/// otherwise runs live, every service behind one listener.
pub fn refuse_live_fleet(s: &Scenario, _path: &Path, command: &str) -> Result<(), Failure> {
    scalelab_lab::live::check_fleet(s, command, command != "serve")
        .map_err(|e| Failure::bad_input(anyhow::anyhow!("{e}")))
}

/// `--seed` if given, else the scenario's, else a fresh one (announced on stderr so the run can
/// be reproduced).
pub fn resolve_seed(flag: Option<&str>, scenario: Option<u64>) -> Result<u64, Failure> {
    if let Some(s) = flag {
        return scalelab_core::rng::parse_seed(s)
            .map_err(|e| Failure::bad_input(anyhow::anyhow!("--seed: {e}")));
    }
    if let Some(s) = scenario {
        return Ok(s);
    }
    let seed = crate::clock::random_seed();
    eprintln!("seed: {seed} (pass --seed {seed} to reproduce)");
    Ok(seed)
}

/// Refuses work beyond `limits` (exit 2, the estimate in the message) unless `allow` (the
/// `--allow-large-run` flag).
pub fn check_work(
    what: &Path,
    estimate: &scalelab_core::estimate::ScenarioEstimate,
    limits: &scalelab_core::estimate::WorkLimits,
    allow: bool,
) -> Result<(), Failure> {
    match estimate.check(limits) {
        Ok(()) => Ok(()),
        Err(e) if allow => {
            eprintln!(
                "note: {}: running beyond the work limits as asked ({})",
                what.display(),
                e.exceeded.join(", ")
            );
            Ok(())
        }
        Err(e) => Err(Failure::bad_input(anyhow::anyhow!(
            "{}: {e}",
            what.display()
        ))),
    }
}

/// Parses a duration flag.
pub fn duration_flag(name: &str, v: &str) -> Result<std::time::Duration, Failure> {
    scalelab_core::duration::parse_duration(v)
        .map_err(|e| Failure::bad_input(anyhow::anyhow!("{name}: {e}")))
}

/// Colour on stdout: only on a terminal, never with `NO_COLOR`.
pub fn stdout_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Progress bars only when stderr is a terminal.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// The end of every command that produces a result document (`sim`, `run`, `serve`): with
/// `out`, the whole set written into that directory (each variant then names its time-series
/// CSV); the result on stdout as text or JSON; exit 3 when an SLO check failed.
pub fn finish_run(
    result: &mut scalelab_core::result::RunResult,
    out: Option<&Path>,
    format: crate::cli::Format,
) -> super::CmdResult {
    use std::io::Write;
    if let Some(dir) = out {
        let written = scalelab_reports::write_bundle(
            dir,
            result,
            &scalelab_reports::BundleOptions::default(),
        )
        .map_err(Failure::runtime)?;
        if let Some(csv) = written
            .iter()
            .find(|p| p.file_name().is_some_and(|n| n == "timeseries.csv"))
        {
            for v in &mut result.variants {
                v.timeseries = Some(csv.display().to_string());
            }
        }
        eprintln!("wrote {} files to {}", written.len(), dir.display());
    }
    let mut stdout = std::io::stdout().lock();
    match format {
        crate::cli::Format::Json => {
            let s = serde_json::to_string_pretty(&*result).map_err(Failure::runtime)?;
            writeln!(stdout, "{s}")?;
        }
        crate::cli::Format::Text => {
            write!(
                stdout,
                "{}",
                scalelab_reports::render_text(result, stdout_color())
            )?;
        }
    }
    if result.variants.iter().any(|v| !v.slo.passed) {
        return Ok(super::Code::SloBreach);
    }
    Ok(super::Code::Ok)
}

/// `-` as "standard input", else the path.
pub fn shown(p: &Path) -> String {
    if p.as_os_str() == "-" {
        "standard input".into()
    } else {
        p.display().to_string()
    }
}

/// Reads a file, or standard input for `-`; problems are bad input.
pub fn read_input(p: &Path) -> Result<String, Failure> {
    if p.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| Failure::bad_input(anyhow::anyhow!("reading standard input: {e}")))?;
        return Ok(s);
    }
    std::fs::read_to_string(p)
        .map_err(|e| Failure::bad_input(anyhow::anyhow!("reading {}: {e}", p.display())))
}

/// Writes `-o FILE` (`-` or none: standard output).
pub fn write_output(out: Option<&Path>, bytes: &[u8]) -> Result<(), Failure> {
    match out {
        Some(p) if p.as_os_str() != "-" => std::fs::write(p, bytes)
            .map_err(|e| Failure::runtime(anyhow::anyhow!("writing {}: {e}", p.display()))),
        _ => {
            use std::io::Write;
            std::io::stdout().lock().write_all(bytes)?;
            Ok(())
        }
    }
}
