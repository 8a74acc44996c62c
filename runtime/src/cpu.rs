//! The CPU time of command instances, measured: each instance's process group (`sh -c CMD`,
//! the server it starts, what that forks) read from `/proc/PID/stat` — user and system time of
//! every live process of the group plus the time of the children they have reaped (`cutime`,
//! `cstime`: a worker that exited still counts). The timer task reads it just before each
//! whole second (outside the platform's lock) and hands the totals to
//! [`scalelab_core::platform::Platform::on_cpu_usage`], so `mean_cpu_utilization`, the
//! time series and the CPU-driven autoscalers (`cloud-run`, `hpa`) see the real processes.
//!
//! Where `/proc` is missing (not Linux) nothing is measured: the run says so once on stderr and
//! the instances' CPU utilisation stays 0 ("not measured"; docs/results.md).

use std::collections::BTreeMap;
use std::time::Duration;

use scalelab_core::ids::InstId;

/// CPU time (user + system, reaped children included) of each process group in `groups`
/// (pgid → instance), wall time; None when `/proc` cannot be read (not measured).
pub(crate) fn group_usage(groups: &BTreeMap<i32, InstId>) -> Option<Vec<(InstId, Duration)>> {
    if groups.is_empty() {
        return Some(Vec::new());
    }
    read_proc(groups)
}

#[cfg(target_os = "linux")]
fn read_proc(groups: &BTreeMap<i32, InstId>) -> Option<Vec<(InstId, Duration)>> {
    let hz = rustix::param::clock_ticks_per_second().max(1);
    let mut ticks: BTreeMap<i32, u64> = BTreeMap::new();
    for stat in proc_stats()? {
        if let Some((pgrp, t)) = parse_stat(&stat)
            && groups.contains_key(&pgrp)
        {
            *ticks.entry(pgrp).or_default() += t;
        }
    }
    Some(
        ticks
            .into_iter()
            .map(|(g, t)| {
                let ns = u128::from(t) * 1_000_000_000 / u128::from(hz);
                (groups[&g], Duration::from_nanos(ns as u64))
            })
            .collect(),
    )
}

#[cfg(not(target_os = "linux"))]
fn read_proc(_: &BTreeMap<i32, InstId>) -> Option<Vec<(InstId, Duration)>> {
    None
}

/// The `/proc/PID/stat` text of every process `/proc` lists; None when `/proc` cannot be read.
/// A process that exits between the listing and the read is skipped.
pub(crate) fn proc_stats() -> Option<impl Iterator<Item = String>> {
    let dir = std::fs::read_dir("/proc").ok()?;
    Some(dir.flatten().filter_map(|e| {
        let name = e.file_name();
        let pid = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))?;
        std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()
    }))
}

/// The fields of a `/proc/PID/stat` line after the command name (state, ppid, pgrp, …). The
/// name in parentheses may hold anything, so the fields are counted after its last `)`.
pub(crate) fn stat_fields(stat: &str) -> Option<std::str::SplitWhitespace<'_>> {
    Some(stat.rsplit_once(')')?.1.split_whitespace())
}

/// The process group and the clock ticks (utime + stime + cutime + cstime) of one
/// `/proc/PID/stat` line.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_stat(stat: &str) -> Option<(i32, u64)> {
    let f: Vec<&str> = stat_fields(stat)?.collect();
    // state(0) ppid(1) pgrp(2) … utime(11) stime(12) cutime(13) cstime(14)
    let pgrp = f.get(2)?.parse().ok()?;
    let mut t = 0u64;
    for i in 11..=14 {
        // cutime and cstime are signed in the kernel's format.
        t += u64::try_from(f.get(i)?.parse::<i64>().ok()?).unwrap_or(0);
    }
    Some((pgrp, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_whatever_the_command_name() {
        let line = "4242 (my (odd) server) S 1 4240 4240 0 -1 4194560 100 0 0 0 \
                    250 50 7 3 20 0 1 0 12345 1000 100 0 0 0";
        assert_eq!(parse_stat(line), Some((4240, 310)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 0"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn our_own_group_uses_cpu() {
        let pgrp = rustix::process::getpgrp().as_raw_nonzero().get();
        let inst = InstId(0);
        let groups = BTreeMap::from([(pgrp, inst)]);
        // Burn CPU until the kernel's tick-granular total moves (bounded).
        let first = group_usage(&groups).expect("/proc is readable");
        assert_eq!(first.len(), 1);
        let mut x = 0u64;
        for _ in 0..2000 {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            if group_usage(&groups).expect("readable")[0].1 > first[0].1 {
                return;
            }
        }
        panic!("no CPU time seen for our own process group");
    }
}
