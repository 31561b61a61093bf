//! `sim_step`: one slot of observe + `nearest` decide + simulator step, at
//! 30 terminals and 13 nodes (the size of the speed target). Also
//! `greedy` at the same size, and `nearest` at the `dense` preset's size.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use scenarios::sim::{Observation, Simulator};
use scenarios::{Policy, World};

fn world(nodes: usize, terminals: usize, slots: usize) -> World {
    let mut s = scenarios::presets::preset("default").unwrap().config().clone();
    s.nodes.count = nodes;
    s.terminals.count = terminals;
    s.slots = slots;
    World::build(&s.validate("bench", None).unwrap(), 1)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim_step");
    g.throughput(Throughput::Elements(1));
    for (policy, nodes, terminals) in [("nearest", 13, 30), ("greedy", 13, 30), ("nearest", 16, 120)] {
        // A long world so the measured slots are not only the cold-start ones.
        let w = world(nodes, terminals, 20_000);
        g.bench_function(BenchmarkId::new(policy, format!("{terminals}t_{nodes}n")), |b| {
            let mut p: Box<dyn Policy> = solvers::make(policy).unwrap();
            p.reset(&w.env, 1);
            let mut sim = Simulator::new(&w);
            let mut obs = Observation::default();
            b.iter(|| {
                if sim.is_done() {
                    sim = Simulator::new(&w);
                }
                sim.observe(&mut obs);
                let d = p.decide(&w.env, &obs).unwrap();
                sim.step(&obs, &d).unwrap()
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
