//! Every heuristic returns valid decisions on any world, and the heuristics
//! behave as spec section 9 says.

#![allow(clippy::field_reassign_with_default)]

use proptest::prelude::*;

use scenarios::sim::{Observation, Simulator};
use scenarios::{Action, ScenarioConfig, World};

fn run_all_slots(world: &World, policy: &str) -> Result<(), String> {
    let mut p = solvers::make(policy).unwrap();
    p.reset(&world.env, 7);
    let mut sim = Simulator::new(world);
    let mut obs = Observation::default();
    while !sim.is_done() {
        sim.observe(&mut obs);
        let d = p.decide(&world.env, &obs).map_err(|e| e.to_string())?;
        sim.step(&obs, &d).map_err(|e| e.to_string())?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed), failure_persistence: None, ..ProptestConfig::default() })]

    /// Decisions of every heuristic pass the simulator's validation, over
    /// random sizes, capacities, caches and levels.
    #[test]
    fn every_decision_is_valid(
        seed in 0u64..1_000,
        nodes in 1usize..7,
        terminals in 1usize..40,
        rb_units in 1u32..12,
        cu_units in 1u32..6,
        cache_mib in 10.0f64..400.0,
        mobility in 0usize..3,
    ) {
        let mut c = ScenarioConfig::default();
        c.slots = 25;
        c.nodes.count = nodes;
        c.nodes.rb_units = rb_units;
        c.nodes.cu_units = cu_units;
        c.nodes.cache_mib = cache_mib;
        c.terminals.count = terminals;
        c.terminals.activity = 0.8;
        c.terminals.model_switch_prob = 0.1;
        c.mobility.model = [scenarios::schema::MobilityModel::RandomWaypoint, scenarios::schema::MobilityModel::GaussMarkov, scenarios::schema::MobilityModel::Manhattan][mobility];
        let world = World::build(&c.validate("prop", None).unwrap(), seed);
        // dppo needs a checkpoint; its decisions are checked in tests/dppo.rs.
        for policy in solvers::available().into_iter().filter(|&p| p != "dppo") {
            prop_assert!(run_all_slots(&world, policy).is_ok(), "{policy}: {:?}", run_all_slots(&world, policy));
        }
    }
}

#[test]
fn nearest_splits_units_evenly_at_cut_zero_on_the_strongest_node() {
    let s = scenarios::presets::preset("default").unwrap();
    let world = World::build(&s, 3);
    let mut p = solvers::make("nearest").unwrap();
    let mut sim = Simulator::new(&world);
    let mut obs = Observation::default();
    let mut offloads = 0;
    for _ in 0..40 {
        sim.observe(&mut obs);
        let d = p.decide(&world.env, &obs).unwrap();
        let mut per_node = vec![0u32; world.env.nodes.len()];
        for (i, a) in d.actions.iter().enumerate() {
            if let Action::Offload { node, cut, .. } = *a {
                offloads += 1;
                assert_eq!(cut, 0);
                let best = (0..obs.nodes)
                    .filter(|&n| obs.link(i, n).accessible)
                    .max_by(|&a, &b| obs.link(i, a).snr_db.total_cmp(&obs.link(i, b).snr_db))
                    .unwrap();
                assert_eq!(node, best);
                per_node[node] += 1;
            }
        }
        // All offloads at a node get the same levels: the even share rounded down to a level.
        for n in 0..per_node.len() {
            let levels: Vec<(u32, u32)> = d
                .actions
                .iter()
                .filter_map(|a| match *a {
                    Action::Offload { node, rb, cu, .. } if node == n => Some((rb, cu)),
                    _ => None,
                })
                .collect();
            if let Some(&(rb, cu)) = levels.first() {
                assert!(levels.iter().all(|&l| l == (rb, cu)));
                let k = levels.len() as u32;
                let node = &world.env.nodes[n];
                assert!(
                    rb <= (node.rb_units / k).max(1) && cu <= (node.cu_units / k).max(1),
                    "node {n}: {k} tasks get rb {rb} cu {cu}"
                );
            }
        }
        sim.step(&obs, &d).unwrap();
    }
    assert!(offloads > 100);
}

#[test]
fn local_offloads_nothing_and_random_is_seeded() {
    let s = scenarios::presets::preset("tiny").unwrap();
    let world = World::build(&s, 1);
    let mut obs = Observation::default();
    let mut sim = Simulator::new(&world);
    sim.observe(&mut obs);
    let d = solvers::make("local").unwrap().decide(&world.env, &obs).unwrap();
    assert!(d.actions.iter().all(|a| *a == Action::Local));
    let mut a = solvers::make("random").unwrap();
    let mut b = solvers::make("random").unwrap();
    a.reset(&world.env, 5);
    b.reset(&world.env, 5);
    assert_eq!(a.decide(&world.env, &obs).unwrap(), b.decide(&world.env, &obs).unwrap());
}

#[test]
fn unknown_policy_is_none() {
    assert!(matches!(solvers::make("oracle"), Err(solvers::MakeError::Unknown(_))));
}
