//! MILP solve time per slot along a `greedy` trajectory of the default preset
//! (warm caches), for 10, 30 and 100 terminals: median, p95, share of model
//! building, share of slots proven optimal. `cargo bench -p solvers --bench milp_scaling`.
//! Set MILP_SCALING_SLOTS to change the number of slots (default 100).

use std::time::Instant;

use scenarios::metrics::percentile;
use scenarios::sim::{Observation, Simulator};
use scenarios::{Policy, World};
use solvers::milp::Milp;
use solvers::MilpOptions;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and `cargo test --benches`
    }
    let slots: usize = std::env::var("MILP_SCALING_SLOTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    println!("terminals  slots  optimal  solve_p50_ms  solve_p95_ms  build_share  wall_s");
    for terminals in [10, 30, 100] {
        let mut c = scenarios::presets::preset("default").unwrap().config().clone();
        c.terminals.count = terminals;
        c.slots = slots;
        let world = World::build(&c.validate("scaling", None).unwrap(), 1);
        let mut greedy = solvers::make("greedy").unwrap();
        let mut milp = Milp::new(MilpOptions::default());
        let mut sim = Simulator::new(&world);
        let mut obs = Observation::default();
        let (mut solve, mut build, mut optimal) = (Vec::new(), 0.0, 0);
        let started = Instant::now();
        while !sim.is_done() {
            sim.observe(&mut obs);
            milp.decide(&world.env, &obs).unwrap();
            let s = milp.stats().unwrap();
            solve.push(s.solve_s);
            build += s.build_s;
            optimal += usize::from(s.status == "optimal");
            let d = greedy.decide(&world.env, &obs).unwrap();
            sim.step(&obs, &d).unwrap();
        }
        let total: f64 = solve.iter().sum::<f64>() + build;
        println!(
            "{terminals:>9}  {slots:>5}  {:>6.1}%  {:>12.1}  {:>12.1}  {:>10.1}%  {:>6.1}",
            100.0 * optimal as f64 / slots as f64,
            1e3 * percentile(&solve, 0.5),
            1e3 * percentile(&solve, 0.95),
            100.0 * build / total,
            started.elapsed().as_secs_f64()
        );
    }
}
