//! The autoscaler's timers: one task runs, at every whole scenario second, the series roll, the
//! metric scrape and (on even seconds) the decider tick of every revision, and in between the
//! reconciler's requeues and the keepalive expiries when they fall due, as the simulator's
//! event loop does (`Ev::Second`, `Ev::Reconcile`, `Ev::Expire`). Deadlines that move earlier
//! wake it through `Shared::wake`. A timer that fires more than 50 ms (wall) late is recorded
//! as a `driver_lag` event and counted.

use std::sync::Arc;
use std::time::Duration;

use scalelab_core::Time;
use scalelab_core::event::Event;
use tokio::sync::watch;

use crate::platform::{Shared, lock};

/// Wall lateness beyond which a timer counts as lagging.
const LAG: Duration = Duration::from_millis(50);

/// Runs until `stop` changes.
pub(crate) async fn run(sh: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut k: u64 = 1;
    loop {
        let second = Time::from_secs(k);
        let next = sh
            .revs
            .iter()
            .filter_map(|c| lock(&c.state).next_deadline())
            .min();
        let at = next.map_or(second, |t| t.min(second));
        tokio::select! {
            _ = sh.clock.sleep_until(at) => {}
            _ = sh.wake.notified() => {}
            _ = stop.changed() => return,
        }
        let now = sh.clock.now();
        if now >= second {
            let late = sh.clock.to_wall(now - second);
            if late > LAG {
                {
                    let mut g = lock(&sh.global);
                    g.m.lag_events += 1;
                    g.m.lag_max_s = g.m.lag_max_s.max(late.as_secs_f64());
                }
                sh.log(
                    now,
                    Event::DriverLag {
                        lag_s: late.as_secs_f64(),
                    },
                );
            }
            roll_series(&sh, now);
            for r in 0..sh.revs.len() {
                sh.ctx(r).second(k);
            }
            // Seconds missed while late are skipped, not replayed in a burst.
            k = (k + 1).max(now.whole_secs() + 1);
        }
        for r in 0..sh.revs.len() {
            sh.ctx(r).reconcile_if_due();
        }
    }
}

/// Closes the series buckets that ended by `now`, with the current levels.
pub(crate) fn roll_series(sh: &Arc<Shared>, now: Time) {
    if !lock(&sh.global).series.due(now) {
        return;
    }
    let levels = sh.levels();
    let mut g = lock(&sh.global);
    while g.series.due(now) {
        g.series.close(levels);
    }
}
