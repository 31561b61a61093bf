//! The clairvoyant lower bound is a floor: never above the exact optimum of a
//! whole run (found by exhaustive search over every decision of every slot,
//! through the simulator itself), and never above any policy's run cost.
#![cfg(feature = "milp")]
#![allow(clippy::field_reassign_with_default)]

use crate::common;

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use scenarios::sim::{observe, transition, Observation};
use scenarios::{Action, Decision, ModelId, ScenarioConfig, SimState, World};
use solvers::bound::{run_bound, BoundOptions, WindowStatus};

/// A small random world whose downloads take longer than a slot (ResNet-18:
/// 1.9 s; MobileNetV2: 0.56 s), with deadlines that a cold start can meet.
fn small_world(seed: u64, max_slots: usize) -> World {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut c = ScenarioConfig::default();
    c.slots = rng.gen_range(3..=max_slots);
    c.area_m = [300.0, 300.0];
    c.nodes.count = rng.gen_range(1..=2);
    c.nodes.spacing_m = 150.0;
    c.terminals.count = if c.nodes.count == 2 { 1 } else { rng.gen_range(1..=2) };
    c.nodes.rb_units = rng.gen_range(1..=3);
    c.nodes.cu_units = rng.gen_range(1..=3);
    c.decision.rb_levels = vec![1, 2];
    c.decision.cu_levels = vec![1, 2];
    c.nodes.cu_gflops = [50.0, 125.0][rng.gen_range(0..2)];
    // 15 MiB holds MobileNetV2 only, 50 either one, 60 both.
    c.nodes.cache_mib = [15.0, 50.0, 60.0][rng.gen_range(0..3)];
    c.terminals.deadline_ms = vec![[300.0, 800.0, 1500.0][rng.gen_range(0..3)], 2500.0];
    c.terminals.device_gflops = [1.0, 10.0];
    c.catalogue.models = vec!["MobileNetV2".into(), "ResNet-18".into()];
    World::build(&c.validate("small", None).unwrap(), seed)
}

/// A state without what cannot change a cost (the LRU bookkeeping), as a key.
type Key = (usize, Vec<Vec<(ModelId, u64)>>, Vec<Option<usize>>);

fn key(s: &SimState) -> Key {
    let caches = s.caches.iter().map(|c| c.iter().map(|e| (e.model, e.ready_at.to_bits())).collect()).collect();
    (s.slot, caches, s.last_edge.clone())
}

/// The least run cost over every sequence of valid decisions (every cache set
/// that fits, every action of every task, late offloads included), by dynamic
/// programming over the simulator's own states.
fn exact_optimum(world: &World, state: &SimState, memo: &mut HashMap<Key, f64>) -> f64 {
    if state.slot >= world.slots() {
        return 0.0;
    }
    let k = key(state);
    if let Some(&v) = memo.get(&k) {
        return v;
    }
    let env = &world.env;
    let mut obs = Observation::default();
    // A fresh reader replays the slots before this one: a few, in these tiny worlds.
    observe(world, &mut world.draws(), state, &mut obs);
    let subsets = common::fitting_cache_sets(env);
    let actions: Vec<Vec<Action>> = obs
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut v = vec![Action::Local, Action::Drop];
            for n in (0..env.nodes.len()).filter(|&n| obs.link(i, n).accessible) {
                for cut in 0..env.model(t.model).offload_cuts() {
                    for &rb in &env.rb_levels {
                        for &cu in &env.cu_levels {
                            v.push(Action::Offload { node: n, cut, rb, cu });
                        }
                    }
                }
            }
            v
        })
        .collect();
    let mut best = f64::INFINITY;
    let mut combo = vec![0usize; subsets.len()];
    loop {
        let caches: Vec<Vec<ModelId>> = combo.iter().enumerate().map(|(n, &c)| subsets[n][c].clone()).collect();
        let mut pick = vec![0usize; actions.len()];
        loop {
            let d = Decision {
                caches: caches.clone(),
                actions: pick.iter().enumerate().map(|(i, &a)| actions[i][a]).collect(),
            };
            if let Ok((out, mut next)) = transition(env, state, &obs, &d) {
                for c in next.caches.iter_mut().flatten() {
                    c.last_used = None;
                }
                best = best.min(out.cost + exact_optimum(world, &next, memo));
            }
            if !advance(&mut pick, &actions.iter().map(Vec::len).collect::<Vec<_>>()) {
                break;
            }
        }
        if !advance(&mut combo, &subsets.iter().map(Vec::len).collect::<Vec<_>>()) {
            break;
        }
    }
    memo.insert(k, best);
    best
}

/// The next combination of an odometer; false after the last.
fn advance(digits: &mut [usize], sizes: &[usize]) -> bool {
    for (d, &s) in digits.iter_mut().zip(sizes) {
        *d += 1;
        if *d < s {
            return true;
        }
        *d = 0;
    }
    false
}

#[test]
fn the_bound_is_never_above_the_exact_optimum_of_a_small_run() {
    let mut ratios = Vec::new();
    for seed in 0..24u64 {
        let world = small_world(seed, 4);
        let start = SimState::initial(world.env.nodes.len(), world.terminals());
        let opt = exact_optimum(&world, &start, &mut HashMap::new());
        // Every window length, from one slot to the whole run; the LP and the
        // MILP with binary caches.
        for w in 1..=world.slots() {
            for nodes in [0, 1000] {
                let b = run_bound(&world, &BoundOptions { window_slots: w, node_limit: nodes, time_limit_s: 60.0 });
                assert!(
                    b.value <= opt + 1e-6 * opt.max(1.0),
                    "seed {seed}, window {w}, nodes {nodes}: bound {} above the exact optimum {opt}",
                    b.value
                );
                assert!(b.windows.iter().all(|x| x.status == WindowStatus::Optimal), "seed {seed}: {b:?}");
                if w == world.slots() && nodes == 0 {
                    ratios.push(b.value / opt);
                }
            }
        }
    }
    // Not a validity condition, but a bound this loose would say little:
    // with one window over the run it stays close to the optimum.
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    eprintln!(
        "whole-run LP bound / exact optimum: mean {mean:.3}, min {:.3}",
        ratios.iter().copied().fold(1.0, f64::min)
    );
    assert!(mean > 0.95, "the whole-run bound averages {mean:.3} of the optimum: {ratios:?}");
}

/// A random world of the size of `tiny` and below.
fn random_world(seed: u64) -> World {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let pool = ["MobileNetV2", "ResNet-18", "ResNet-50", "ResNet-152", "AlexNet"];
    let mut c = ScenarioConfig::default();
    c.slots = rng.gen_range(5..=25);
    c.area_m = [500.0, 500.0];
    c.nodes.count = rng.gen_range(1..=4);
    c.terminals.count = rng.gen_range(1..=8);
    c.nodes.cache_mib = [50.0, 160.0, 384.0][rng.gen_range(0..3)];
    c.nodes.rb_units = rng.gen_range(4..=20);
    c.nodes.cu_units = rng.gen_range(2..=16);
    let k = rng.gen_range(2..=4);
    c.catalogue.models = pool[..k].iter().map(|s| s.to_string()).collect();
    World::build(&c.validate("random", None).unwrap(), seed)
}

fn run_cost(world: &World, policy: &str) -> f64 {
    let mut p: Box<dyn scenarios::Policy> = if policy == "milp-oracle" {
        let future = std::sync::Arc::new(solvers::bound::slot_views(world));
        Box::new(solvers::milp::Milp::oracle(solvers::MilpOptions::DEFAULT, future))
    } else {
        solvers::make(policy).unwrap()
    };
    common::run_cost(world, p.as_mut(), seed_of(world.seed, policy))
}

fn seed_of(seed: u64, policy: &str) -> u64 {
    scenarios::rng::derive(seed, &format!("policy:{policy}"))
}

#[test]
fn no_policy_costs_less_than_the_bound_on_random_worlds() {
    let policies = [
        "milp",
        "milp-lookahead",
        "milp-lookahead-joint",
        "milp-oracle",
        "greedy",
        "greedy-nocache",
        "nearest",
        "local",
        "random",
    ];
    for seed in 0..40u64 {
        let world = random_world(seed);
        let w = 1 + (seed as usize * 7) % world.slots();
        let nodes = if seed % 4 == 0 { 50 } else { 0 };
        let b = run_bound(&world, &BoundOptions { window_slots: w, node_limit: nodes, ..BoundOptions::default() });
        for p in policies {
            let c = run_cost(&world, p);
            assert!(
                c >= b.value - 1e-6 * b.value.max(1.0),
                "seed {seed}, window {w}: {p} costs {c}, bound {}",
                b.value
            );
        }
    }
}

#[test]
fn longer_windows_and_the_exact_start_tighten_the_bound_of_tiny() {
    let scenario = scenarios::presets::resolve("tiny").unwrap();
    let world = World::build(&scenario, 1);
    let short = run_bound(&world, &BoundOptions { window_slots: 1, ..BoundOptions::default() });
    let long = run_bound(&world, &BoundOptions { window_slots: 30, ..BoundOptions::default() });
    // One window over the 30 slots relaxes nothing between slots that the
    // one-slot windows do not also relax, and pays the first downloads.
    assert!(long.value > short.value, "one 30-slot window {} vs 30 one-slot windows {}", long.value, short.value);
    let greedy = run_cost(&world, "greedy");
    assert!(long.value <= greedy, "bound {} above greedy {greedy}", long.value);
}
