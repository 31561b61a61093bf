//! `greedy` (spec section 9): tasks in earliest-deadline order (ties by
//! terminal), each takes the option of least cost given what is left: local,
//! drop, or any accessible node with any cut and any levels that still fit,
//! where an offload whose model must be fetched pays the cold start and the
//! download's backhaul cost. Among options of equal cost it takes the one that
//! uses the fewest node resources. After all tasks, every task not served
//! from a cached model asks for its model at its strongest accessible node
//! (caching on demand, LRU eviction of models unused in this slot).

use scenarios::sim::{local_terms, offload_terms, task_cost};
use scenarios::{Action, Decision, Environment, Observation, Policy, PolicyError};

use crate::cache_plan::{level_at_most, CachePlan};

#[derive(Debug, Default)]
pub struct Greedy;

/// Option value: (cost, share of node resources used) compared lexicographically.
fn better(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 < b.0 - 1e-12 || (a.0 <= b.0 + 1e-12 && a.1 < b.1 - 1e-12)
}

impl Policy for Greedy {
    fn name(&self) -> &str {
        "greedy"
    }

    fn decide(&mut self, env: &Environment, obs: &Observation) -> Result<Decision, PolicyError> {
        let n_nodes = env.nodes.len();
        let mut rb_left: Vec<u32> = env.nodes.iter().map(|n| n.rb_units).collect();
        let mut cu_left: Vec<u32> = env.nodes.iter().map(|n| n.cu_units).collect();
        let mut plan = CachePlan::from_observation(obs);
        let mut actions = vec![Action::Drop; obs.tasks.len()];
        let mut order: Vec<usize> = (0..obs.tasks.len()).collect();
        order.sort_by(|&a, &b| {
            obs.tasks[a]
                .deadline_s
                .total_cmp(&obs.tasks[b].deadline_s)
                .then(obs.tasks[a].terminal.cmp(&obs.tasks[b].terminal))
        });
        let mut served_warm = vec![false; obs.tasks.len()];

        for &i in &order {
            let task = &obs.tasks[i];
            let model = env.model(task.model);
            let local = local_terms(env, task).total();
            let mut best_action = Action::Local;
            let mut best = (task_cost(env, local, task.deadline_s), 0.0);
            if better((env.interruption_cost, 0.0), best) {
                best_action = Action::Drop;
                best = (env.interruption_cost, 0.0);
            }
            for n in 0..n_nodes {
                let link = obs.link(i, n);
                if !link.accessible {
                    continue;
                }
                let Some(ready) = plan.probe(env, n, task.model) else { continue };
                let (Some(rb), Some(cu)) =
                    (level_at_most(&env.rb_levels, rb_left[n]), level_at_most(&env.cu_levels, cu_left[n]))
                else {
                    continue;
                };
                let download = if plan.ready_at(n, task.model).is_some() {
                    0.0
                } else {
                    env.backhaul_cost_per_byte * model.weights_bytes
                };
                // Delay falls as rb and cu grow, so the cheapest option at a
                // (node, cut) is the largest levels that fit, unless the task
                // is interrupted whatever it gets; then smaller levels tie and
                // the resource tie-break prefers them.
                for cut in 0..model.offload_cuts() {
                    for &r in env.rb_levels.iter().filter(|&&r| r <= rb) {
                        for &c in env.cu_levels.iter().filter(|&&c| c <= cu) {
                            let t = offload_terms(env, task, link, n, cut, r, c, ready, obs.time_s).total();
                            let cost = task_cost(env, t, task.deadline_s) + download;
                            let share = f64::from(r) / f64::from(env.nodes[n].rb_units)
                                + f64::from(c) / f64::from(env.nodes[n].cu_units);
                            if better((cost, share), best) {
                                best = (cost, share);
                                best_action = Action::Offload { node: n, cut, rb: r, cu: c };
                            }
                        }
                    }
                }
            }
            if let Action::Offload { node, rb, cu, .. } = best_action {
                let ready = plan.ensure(env, node, task.model).expect("probed");
                served_warm[i] = ready <= obs.time_s;
                rb_left[node] -= rb;
                cu_left[node] -= cu;
            }
            actions[i] = best_action;
        }

        // Caching on demand for the tasks that could not use a ready model.
        for &i in &order {
            if served_warm[i] {
                continue;
            }
            let strongest = obs
                .links_of(i)
                .iter()
                .enumerate()
                .filter(|(_, l)| l.accessible)
                .max_by(|a, b| a.1.snr_db.total_cmp(&b.1.snr_db).then(b.0.cmp(&a.0)))
                .map(|(n, _)| n);
            if let Some(n) = strongest {
                plan.ensure(env, n, obs.tasks[i].model);
            }
        }
        Ok(Decision { caches: plan.into_sets(), actions })
    }
}

/// `greedy-nocache`: greedy that never fetches a model: offloads whose model
/// is not already cached at the node run locally instead, and every cache
/// stays as it is. An ablation (what on-demand caching is worth), and the
/// deliberate regression that `edgebench regress` is tested with.
#[derive(Debug, Default)]
pub struct GreedyNoCache;

impl Policy for GreedyNoCache {
    fn name(&self) -> &str {
        "greedy-nocache"
    }

    fn decide(&mut self, env: &Environment, obs: &Observation) -> Result<Decision, PolicyError> {
        let mut d = Greedy.decide(env, obs)?;
        for (i, a) in d.actions.iter_mut().enumerate() {
            if let Action::Offload { node, .. } = *a {
                if obs.cache_entry(node, obs.tasks[i].model).is_none() {
                    *a = Action::Local;
                }
            }
        }
        d.caches = obs.caches.iter().map(|c| c.iter().map(|e| e.model).collect()).collect();
        Ok(d)
    }
}
