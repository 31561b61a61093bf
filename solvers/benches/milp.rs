//! `milp_build` and `milp_solve` at 10, 30 and 100 terminals on the default
//! preset, and `milp_lookahead_solve` and `milp_lookahead_joint_solve` (30-slot
//! horizon) at 10 and 30, from a
//! state with warm caches: slot 100 of a run driven by
//! `greedy` (the MILP's own trajectory keeps caches nearly empty, which makes
//! its models small and unrepresentative).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use scenarios::sim::{Observation, Simulator};
use scenarios::{Policy, World};
use solvers::milp::{self, Milp, PlanSolve};
use solvers::MilpOptions;

fn warm_state(terminals: usize) -> (World, Observation) {
    let mut c = scenarios::presets::preset("default").unwrap().config().clone();
    c.terminals.count = terminals;
    let world = World::build(&c.validate("bench", None).unwrap(), 1);
    let mut greedy = solvers::make("greedy").unwrap();
    let mut sim = Simulator::new(&world);
    let mut obs = Observation::default();
    for _ in 0..100 {
        sim.observe(&mut obs);
        let d = greedy.decide(&world.env, &obs).unwrap();
        sim.step(&obs, &d).unwrap();
    }
    sim.observe(&mut obs);
    drop(sim);
    (world, obs)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("milp");
    g.sample_size(10);
    for terminals in [10, 30, 100] {
        let (world, obs) = warm_state(terminals);
        g.bench_function(BenchmarkId::new("milp_build", format!("{terminals}t")), |b| {
            b.iter(|| milp::build(&world.env, &obs, 1).binaries)
        });
        g.bench_function(BenchmarkId::new("milp_solve", format!("{terminals}t")), |b| {
            let mut m = Milp::new(MilpOptions::default());
            b.iter(|| m.decide(&world.env, &obs).unwrap())
        });
        if terminals <= 30 {
            // `milp-lookahead` (cache first) beside `milp-lookahead-joint`, from the same state.
            for (name, plan) in
                [("milp_lookahead_solve", PlanSolve::CacheFirst), ("milp_lookahead_joint_solve", PlanSolve::Joint)]
            {
                g.bench_function(BenchmarkId::new(name, format!("{terminals}t")), |b| {
                    let mut m = Milp::lookahead(MilpOptions::default(), plan);
                    b.iter(|| m.decide(&world.env, &obs).unwrap())
                });
            }
        }
        let mut m = Milp::new(MilpOptions::default());
        m.decide(&world.env, &obs).unwrap();
        let s = m.stats().unwrap();
        eprintln!(
            "milp {terminals}t: {} binaries, {} rows, status {}, build {:.1} ms, solve {:.1} ms",
            s.binaries,
            s.rows,
            s.status,
            s.build_s * 1e3,
            s.solve_s * 1e3
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
