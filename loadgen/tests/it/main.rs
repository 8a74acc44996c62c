//! Load generator tests against in-process servers on 127.0.0.1 with OS-assigned ports: hyper
//! servers for well-behaved targets and raw TCP listeners for faults. Runs are short (≤ 2 s).

mod faults;
mod measure;
mod overload;
mod percentiles;
mod servers;
mod shards;
mod tls;
