//! Helpers shared by the solvers' exhaustive tests.

use scenarios::{Environment, ModelId};

/// Per node, every cache set (subset of the catalogue) that fits its storage.
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
