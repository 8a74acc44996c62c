//! The live platform over real sockets on 127.0.0.1 (OS-assigned ports), with short windows in
//! the test scenarios. Each test takes at most a few seconds of wall time; the timelines are
//! checked exactly on the paused clock in the crate's unit tests.
//!
//! - `live`: the platform's behaviour (scaling, queues, timeouts, revisions, crashes);
//! - `fleet`: a fleet's services behind one listener, picked by `Host` or path prefix;
//! - `attacks`: what a hostile or careless client or instance command does to the router
//!   (bodies, slow clients, reaching around the router, process groups, crash loops).

mod attacks;
mod fleet;
mod live;
mod support;
