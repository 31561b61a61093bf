//! Per-node credit (`train --node-credit`, docs/model.md §9b "Node credit").
//!
//! With one advantage per slot, a fetch at one node shares its credit with
//! every other decision of the slot, on every node: on a world of dozens of
//! tasks per slot the download's few slots of benefit are lost in that
//! noise. Here the slot's cost is split per node ([`node_credit`]), a node
//! critic values each node's stream, and a task's or a cache choice's ratio
//! gets the advantage of its node. Tasks that reach no node keep the slot's
//! advantage.

use scenarios::{Action, Decision, Environment, Observation, SlotOutcome};

use super::features::{strongest_node, CACHE_DIM};

/// Append one row per node: the slot's (normalised) value row, then the mean
/// of the node's (normalised) cache rows, node-major like the cache rows.
pub fn node_rows(value_row: &[f32], cache_rows: &[f32], nodes: usize, out: &mut Vec<f32>) {
    let per_node = cache_rows.len() / nodes.max(1);
    let models = (per_node / CACHE_DIM).max(1) as f32;
    for node in cache_rows.chunks_exact(per_node.max(1)).take(nodes) {
        out.extend_from_slice(value_row);
        let mut mean = [0f32; CACHE_DIM];
        for row in node.chunks_exact(CACHE_DIM) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        out.extend(mean.iter().map(|m| m / models));
    }
}

/// Where a slot's cost goes: each node's share, and the node whose stream
/// each task's cost is in (`None`: it reaches no node).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCredit {
    pub costs: Vec<f64>,
    pub task_node: Vec<Option<usize>>,
}

/// The slot's cost split per node. A task's cost goes whole to one stream,
/// the one whose advantage its ratio gets ([`task_advantage`]): the node it
/// was sent to; run on its terminal or dropped, its strongest node in reach
/// (its cell); reaching none, no node's (the slot's advantage). A node's
/// downloads count at the backhaul price. Split in equal shares over the
/// nodes in reach instead, a task sent to one of k nodes would find only
/// 1/k of its own cost in that node's stream but all the load it puts there
/// (session 25's first try, PN: the agent drifted to local runs on
/// `melbourne`).
pub fn node_credit(env: &Environment, obs: &Observation, decision: &Decision, outcome: &SlotOutcome) -> NodeCredit {
    let mut costs = vec![0.0; env.nodes.len()];
    let mut task_node = Vec::with_capacity(outcome.tasks.len());
    for (i, t) in outcome.tasks.iter().enumerate() {
        debug_assert_eq!(t.terminal, obs.tasks[i].terminal, "outcomes in observation order");
        let node = match t.action {
            Action::Offload { node, .. } => Some(node),
            _ => strongest_node(obs, i),
        };
        if let Some(n) = node {
            costs[n] += t.cost;
        }
        task_node.push(node);
    }
    for (n, set) in decision.caches.iter().enumerate() {
        let fetched: f64 =
            set.iter().filter(|&&m| obs.cache_entry(n, m).is_none()).map(|&m| env.model(m).weights_bytes).sum();
        costs[n] += env.backhaul_cost_per_byte * fetched;
    }
    NodeCredit { costs, task_node }
}

/// The advantage of a task's ratio: that of the node its cost went to
/// ([`NodeCredit::task_node`]), else the slot's.
pub fn task_advantage(task_node: Option<usize>, node_adv: &[f32], slot_adv: f32) -> f32 {
    task_node.map_or(slot_adv, |n| node_adv[n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_rows_are_the_value_row_and_the_mean_of_the_nodes_cache_rows() {
        let value = [1.0, 2.0];
        // Two nodes, two models each.
        let mut cache = vec![0f32; 2 * 2 * CACHE_DIM];
        cache[0] = 1.0; // node 0, model 0, column 0
        cache[CACHE_DIM] = 3.0; // node 0, model 1, column 0
        cache[2 * CACHE_DIM + CACHE_DIM - 1] = 4.0; // node 1, model 0, last column
        let mut out = Vec::new();
        node_rows(&value, &cache, 2, &mut out);
        let dim = 2 + CACHE_DIM;
        assert_eq!(out.len(), 2 * dim);
        assert_eq!(&out[..2], &value);
        assert_eq!(out[2], 2.0);
        assert!(out[3..dim].iter().all(|&v| v == 0.0));
        assert_eq!(&out[dim..dim + 2], &value);
        assert_eq!(out[dim + 2], 0.0);
        assert_eq!(out[2 * dim - 1], 2.0);
    }

    #[test]
    fn a_task_gets_the_advantage_of_the_node_its_cost_went_to() {
        let node_adv = [1.0, 2.0, 4.0];
        assert_eq!(task_advantage(Some(2), &node_adv, -9.0), 4.0);
        assert_eq!(task_advantage(None, &node_adv, -9.0), -9.0);
    }
}
