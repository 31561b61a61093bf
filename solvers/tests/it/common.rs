//! Helpers shared by the solvers' exhaustive tests.

use scenarios::sim::{Observation, Simulator};
use scenarios::{Environment, ModelId, Policy, World};

/// Total cost of `policy` over one world, reset with `policy_seed`.
#[cfg(any(feature = "milp", feature = "dppo"))]
pub fn run_cost(world: &World, policy: &mut dyn Policy, policy_seed: u64) -> f64 {
    policy.reset(&world.env, policy_seed);
    let mut sim = Simulator::new(world);
    let mut obs = Observation::default();
    let mut cost = 0.0;
    while !sim.is_done() {
        sim.observe(&mut obs);
        let d = policy.decide(&world.env, &obs).unwrap();
        cost += sim.step(&obs, &d).unwrap().cost;
    }
    cost
}

/// Per node, every cache set (subset of the catalogue) that fits its storage.
#[cfg(feature = "milp")]
pub fn fitting_cache_sets(env: &Environment) -> Vec<Vec<Vec<ModelId>>> {
    let n_models = env.catalogue().len();
    (0..env.nodes.len())
        .map(|n| {
            (0..1u32 << n_models)
                .map(|mask| (0..n_models).filter(|m| mask & (1 << m) != 0).collect::<Vec<_>>())
                .filter(|s| s.iter().map(|&m| env.model(m).weights_bytes).sum::<f64>() <= env.nodes[n].cache_bytes)
                .collect()
        })
        .collect()
}
