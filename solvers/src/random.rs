//! `random`: a sanity bound. Each task, in order, picks uniformly between
//! local execution and each accessible node whose cache can take its model;
//! an offload takes a random cut and random levels among those that still
//! fit (local when none fits). Caching on demand with LRU eviction. Seeded
//! per run, so it is reproducible.

use rand::seq::SliceRandom;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use scenarios::{Action, Decision, Environment, Observation, Policy, PolicyError};

use crate::cache_plan::CachePlan;

#[derive(Debug)]
pub struct RandomPolicy {
    rng: ChaCha8Rng,
}

impl Default for RandomPolicy {
    fn default() -> Self {
        RandomPolicy { rng: ChaCha8Rng::seed_from_u64(0) }
    }
}

impl Policy for RandomPolicy {
    fn name(&self) -> &str {
        "random"
    }

    fn reset(&mut self, _env: &Environment, seed: u64) {
        self.rng = ChaCha8Rng::seed_from_u64(seed);
    }

    fn decide(&mut self, env: &Environment, obs: &Observation) -> Result<Decision, PolicyError> {
        let mut rb_left: Vec<u32> = env.nodes.iter().map(|n| n.rb_units).collect();
        let mut cu_left: Vec<u32> = env.nodes.iter().map(|n| n.cu_units).collect();
        let mut plan = CachePlan::from_observation(obs);
        let mut actions = Vec::with_capacity(obs.tasks.len());
        for (i, task) in obs.tasks.iter().enumerate() {
            let mut choices: Vec<Option<usize>> = vec![None];
            choices.extend(
                (0..env.nodes.len())
                    .filter(|&n| obs.link(i, n).accessible && plan.probe(env, n, task.model).is_some())
                    .map(Some),
            );
            let pick = *choices.choose(&mut self.rng).expect("local is always a choice");
            let action = match pick {
                None => Action::Local,
                Some(n) => {
                    let rbs: Vec<u32> = env.rb_levels.iter().copied().filter(|&r| r <= rb_left[n]).collect();
                    let cus: Vec<u32> = env.cu_levels.iter().copied().filter(|&c| c <= cu_left[n]).collect();
                    match (rbs.choose(&mut self.rng), cus.choose(&mut self.rng)) {
                        (Some(&rb), Some(&cu)) => {
                            plan.ensure(env, n, task.model).expect("probed");
                            rb_left[n] -= rb;
                            cu_left[n] -= cu;
                            let cut = self.rng.gen_range(0..env.model(task.model).offload_cuts());
                            Action::Offload { node: n, cut, rb, cu }
                        }
                        _ => Action::Local,
                    }
                }
            };
            actions.push(action);
        }
        Ok(Decision { caches: plan.into_sets(), actions })
    }
}
