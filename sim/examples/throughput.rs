//! Runs one scenario once on one thread and prints simulated requests (for `perf stat`).
//! `cargo run --release -p scalelab-sim --example throughput -- FILE [DURATION]`

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .map_or("benches/scenarios/steady-100.toml", String::as_str);
    let mut s = scalelab_core::scenario::Scenario::from_file(path.as_ref()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    if let Some(d) = args.get(2) {
        s.duration = scalelab_core::duration::parse_duration(d).expect("a duration");
    }
    s.variants.clear();
    let r = scalelab_sim::simulate(
        &s,
        &scalelab_sim::SimOptions {
            seed: 1,
            threads: 1,
            ..Default::default()
        },
    )
    .expect("the run finishes");
    println!("{} requests", r.variants[0].requests.arrived);
}
