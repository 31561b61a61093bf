//! `nearest` (spec section 9): every task fully offloaded (cut 0) to its
//! strongest accessible node; the node's units split evenly among its tasks,
//! rounded down to the allowed levels (at least the smallest); tasks that do
//! not fit, or whose model cannot be cached there, run locally. Models are
//! cached on demand with LRU eviction.

use scenarios::{Action, Decision, Environment, Observation, Policy, PolicyError};

use crate::cache_plan::{level_at_most, CachePlan};

#[derive(Debug, Default)]
pub struct Nearest {
    by_node: Vec<Vec<usize>>,
}

impl Policy for Nearest {
    fn name(&self) -> &str {
        "nearest"
    }

    fn decide(&mut self, env: &Environment, obs: &Observation) -> Result<Decision, PolicyError> {
        let n_nodes = env.nodes.len();
        let mut actions = vec![Action::Local; obs.tasks.len()];
        self.by_node.resize_with(n_nodes, Vec::new);
        self.by_node.iter_mut().for_each(Vec::clear);
        for i in 0..obs.tasks.len() {
            let best = obs
                .links_of(i)
                .iter()
                .enumerate()
                .filter(|(_, l)| l.accessible)
                .max_by(|a, b| a.1.snr_db.total_cmp(&b.1.snr_db).then(b.0.cmp(&a.0)));
            if let Some((n, _)) = best {
                self.by_node[n].push(i);
            }
        }
        let mut plan = CachePlan::from_observation(obs);
        for (n, tasks) in self.by_node.iter().enumerate() {
            let served: Vec<usize> =
                tasks.iter().copied().filter(|&i| plan.ensure(env, n, obs.tasks[i].model).is_some()).collect();
            if served.is_empty() {
                continue;
            }
            let k = served.len() as u32;
            let node = &env.nodes[n];
            let rb = level_at_most(&env.rb_levels, node.rb_units / k).unwrap_or(env.rb_levels[0]);
            let cu = level_at_most(&env.cu_levels, node.cu_units / k).unwrap_or(env.cu_levels[0]);
            let fit = ((node.rb_units / rb).min(node.cu_units / cu) as usize).min(served.len());
            for &i in &served[..fit] {
                actions[i] = Action::Offload { node: n, cut: 0, rb, cu };
            }
        }
        Ok(Decision { caches: plan.into_sets(), actions })
    }
}
