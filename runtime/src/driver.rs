//! The platform's timers, live: one task sleeps until the earliest timer the platform asked
//! for ([`Effect::Timer`](scalelab_core::platform::Effect::Timer): the whole seconds of the
//! scrape and tick, the reconciler's requeues, the keepalive expiries), runs every timer that
//! is due, and sleeps again. A timer pushed earlier than the one it sleeps on wakes it through
//! `Shared::wake`. A whole second that fires more than 50 ms (wall) late is recorded as a
//! `driver_lag` event and counted; the platform then skips the seconds it missed instead of
//! replaying them in a burst.
//!
//! Before the timers of a new second run, the CPU time of command instances is read from
//! `/proc` ([`crate::cpu`], outside the lock) and handed to the platform, so its whole-second
//! CPU sample, the HPA's syncs and Cloud Run's CPU driver see the real processes.

use std::sync::Arc;
use std::time::Duration;

use scalelab_core::event::Event;
use scalelab_core::platform::Timer;
use tokio::sync::watch;

use crate::platform::Shared;

/// Wall lateness beyond which a timer counts as lagging.
const LAG: Duration = Duration::from_millis(50);

/// Runs until `stop` changes.
pub(crate) async fn run(sh: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut cpu = CpuSampler::default();
    loop {
        let next = sh.lock().next_timer();
        let sleep = async {
            match next {
                Some(t) => sh.clock.sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sleep => {}
            _ = sh.wake.notified() => {}
            _ = stop.changed() => return,
        }
        cpu.sample(&sh);
        loop {
            let mut live = sh.lock();
            let now = sh.clock.now();
            let Some((at, timer)) = live.pop_due(now) else {
                break;
            };
            if timer == Timer::Second {
                let late = sh.clock.to_wall(now.saturating_since(at));
                if late > LAG {
                    live.lag_events += 1;
                    live.lag_max_s = live.lag_max_s.max(late.as_secs_f64());
                    sh.log(
                        now,
                        Event::DriverLag {
                            lag_s: late.as_secs_f64(),
                        },
                    );
                }
            }
            live.fire(&sh, now, at, timer);
        }
    }
}

/// When the CPU time of command instances was last read, and whether "not measured" was said.
#[derive(Default)]
struct CpuSampler {
    /// The scenario second last sampled.
    second: u64,
    warned: bool,
}

impl CpuSampler {
    /// Reads `/proc` once per scenario second (on the first wake-up in it) when command
    /// instances run, and hands each instance's CPU total (scenario time) to the platform.
    fn sample(&mut self, sh: &Arc<Shared>) {
        let second = sh.clock.now().0 / 1_000_000_000;
        if second == self.second {
            return;
        }
        let groups = crate::platform::lock(&sh.cpu_groups).clone();
        if groups.is_empty() {
            return;
        }
        self.second = second;
        if !deliver(sh, &groups) && !self.warned {
            self.warned = true;
            eprintln!(
                "scalelab: the CPU use of --cmd instances is not measured on this system \
                 (no /proc): their CPU utilisation reads 0, and kind = \"cloud-run\" or \
                 \"hpa\" cannot scale on it"
            );
        }
    }
}

/// Reads the CPU time of the process groups `groups` and hands it to the platform; false when
/// it cannot be measured.
fn deliver(
    sh: &Arc<Shared>,
    groups: &std::collections::BTreeMap<i32, scalelab_core::ids::InstId>,
) -> bool {
    let Some(usage) = crate::cpu::group_usage(groups) else {
        return false;
    };
    let mut live = sh.lock();
    let now = sh.clock.now();
    for (inst, wall) in usage {
        live.core
            .on_cpu_usage(now, inst, sh.clock.to_scenario(wall));
    }
    true
}

/// One last reading at the end of the run (the timer task has stopped).
pub(crate) fn sample_cpu_now(sh: &Arc<Shared>) {
    let groups = crate::platform::lock(&sh.cpu_groups).clone();
    if !groups.is_empty() {
        deliver(sh, &groups);
    }
}
