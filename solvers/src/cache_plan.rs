//! On-demand caching with least-recently-used eviction, shared by the
//! heuristics: a policy asks for a model at a node while it builds its
//! decision; models already used in this slot are never evicted.

use scenarios::{Environment, ModelId, Observation};

#[derive(Debug, Clone)]
struct Entry {
    model: ModelId,
    ready_at: f64,
    last_used: Option<usize>,
    /// Used (or added) in this slot: not evictable.
    pinned: bool,
}

#[derive(Debug, Clone)]
pub struct CachePlan {
    nodes: Vec<Vec<Entry>>,
    now_s: f64,
}

impl CachePlan {
    pub fn from_observation(obs: &Observation) -> CachePlan {
        let nodes = obs
            .caches
            .iter()
            .map(|c| {
                c.iter()
                    .map(|e| Entry { model: e.model, ready_at: e.ready_at, last_used: e.last_used, pinned: false })
                    .collect()
            })
            .collect();
        CachePlan { nodes, now_s: obs.time_s }
    }

    /// Ready time of `model` at `node` if it is in the plan.
    pub fn ready_at(&self, node: usize, model: ModelId) -> Option<f64> {
        self.nodes[node].iter().find(|e| e.model == model).map(|e| e.ready_at)
    }

    /// Would `ensure` succeed, and with which ready time? Does not change the plan.
    pub fn probe(&self, env: &Environment, node: usize, model: ModelId) -> Option<f64> {
        if let Some(r) = self.ready_at(node, model) {
            return Some(r);
        }
        let need = env.model(model).weights_bytes;
        let evictable: f64 =
            self.nodes[node].iter().filter(|e| !e.pinned).map(|e| env.model(e.model).weights_bytes).sum();
        (self.free_bytes(env, node) + evictable >= need).then(|| env.ready_after_download(node, model, self.now_s))
    }

    fn free_bytes(&self, env: &Environment, node: usize) -> f64 {
        env.nodes[node].cache_bytes - self.nodes[node].iter().map(|e| env.model(e.model).weights_bytes).sum::<f64>()
    }

    /// Make `model` part of `node`'s set for this slot, evicting least recently
    /// used unpinned models as needed; pins it. Returns its ready time, or None
    /// when it cannot fit (nothing is evicted then).
    pub fn ensure(&mut self, env: &Environment, node: usize, model: ModelId) -> Option<f64> {
        if let Some(e) = self.nodes[node].iter_mut().find(|e| e.model == model) {
            e.pinned = true;
            return Some(e.ready_at);
        }
        let ready = self.probe(env, node, model)?;
        let need = env.model(model).weights_bytes;
        while self.free_bytes(env, node) < need {
            // Least recently used first; never-used before used; ties by model id.
            let victim = self.nodes[node]
                .iter()
                .enumerate()
                .filter(|(_, e)| !e.pinned)
                .min_by_key(|(_, e)| (e.last_used.map_or(0, |s| s + 1), e.model))
                .map(|(i, _)| i)
                .expect("probe guaranteed enough evictable bytes");
            self.nodes[node].remove(victim);
        }
        self.nodes[node].push(Entry { model, ready_at: ready, last_used: None, pinned: true });
        Some(ready)
    }

    pub fn into_sets(self) -> Vec<Vec<ModelId>> {
        self.nodes.into_iter().map(|n| n.into_iter().map(|e| e.model).collect()).collect()
    }
}

/// Largest allowed level not above `budget` (levels ascending).
pub fn level_at_most(levels: &[u32], budget: u32) -> Option<u32> {
    levels.iter().rev().copied().find(|&l| l <= budget)
}
