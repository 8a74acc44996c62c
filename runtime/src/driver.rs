//! The platform's timers, live: one task sleeps until the earliest timer the platform asked
//! for ([`Effect::Timer`](scalelab_core::platform::Effect::Timer): the whole seconds of the
//! scrape and tick, the reconciler's requeues, the keepalive expiries), runs every timer that
//! is due, and sleeps again. A timer pushed earlier than the one it sleeps on wakes it through
//! `Shared::wake`. A whole second that fires more than 50 ms (wall) late is recorded as a
//! `driver_lag` event and counted; the platform then skips the seconds it missed instead of
//! replaying them in a burst.

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
