//! `bound`: a proven clairvoyant lower bound on the run cost of a (scenario,
//! seed), the floor under every policy, online or offline (docs/model.md §9c).
//!
//! The run is the time-expanded problem: per (node, model, slot) cache
//! membership `h` and download start `s`; a task's offload option at a node
//! needs its model in the set, and is either *ready* (the model was in the
//! set for the last `A` slots, `A` the download time in slots) or *cold* at
//! age `a` (downloaded `a` slots ago: its cold start is the rest of the
//! download); unit, compute and storage capacities per node and slot; the
//! objective is the run cost. Every step below only lowers its optimum:
//!
//! - the run is cut into windows of `window_slots` slots; a window after the
//!   first starts from **any cache set that fits, already downloaded, at no
//!   cost** (the first starts from the empty caches, exactly), so the true
//!   trajectory, restricted to a window, is feasible in it at no higher cost,
//!   and the windows' optima add up to at most the run's;
//! - the **handover term is dropped** (it only adds delay, and a task's cost
//!   does not fall as its delay grows);
//! - a cold option of age `a` needs a download started `a` slots ago and the
//!   model in the set now, not that it stayed in between;
//! - task assignments `x` are **continuous in [0, 1]**; only the cache
//!   membership `h` is binary;
//! - each window is solved by HiGHS within a node and a time limit, and its
//!   **dual bound** is kept, never an incumbent; a window that ends without a
//!   finite dual bound gets the cheapest option of every task on its own
//!   (no capacity, no cache, no download): still a floor, only weaker.
//!
//! Exact reductions (they leave every window's optimum unchanged): offload
//! options that miss the deadline cost `ω` and use resources, so `drop`
//! dominates them; per (task, node, rb, cu) only the cheapest cut is kept
//! (same resources, the cold start does not depend on the cut); an option
//! whose cost and units are all matched or beaten by another of the same
//! (task, node, age) is left out; local and drop are one fallback of cost
//! `min(local, ω)`.

use std::ops::Range;

use scenarios::sim::{observe, Observation, SimState};
use scenarios::World;

/// The model of a window and its solution with HiGHS.
#[cfg(feature = "milp")]
mod window;
#[cfg(feature = "milp")]
pub use window::{run_bound, window_bound};

/// Settings of the bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundOptions {
    /// Slots per window (≥ 1). Longer windows are tighter and slower.
    pub window_slots: usize,
    /// 0: solve each window's LP relaxation (the default: fast, and within
    /// a few per cent of the MILP's bound, docs/model.md §9c). More: keep the
    /// cache membership binary and let HiGHS explore that many
    /// branch-and-bound nodes (deterministic; the dual bound at the limit is kept).
    pub node_limit: u32,
    /// Wall-clock limit per window, s (a safety net: a window stopped by it
    /// depends on the machine's speed, and its status says so).
    pub time_limit_s: f64,
}

/// Default window: about the longest model download of the default
/// catalogue (9.2 s); longer windows raised the bound of `default` by under
/// 1 % at four times the solve time (docs/model.md §9c).
pub const WINDOW_SLOTS: usize = 10;

impl BoundOptions {
    pub const DEFAULT: BoundOptions = BoundOptions { window_slots: WINDOW_SLOTS, node_limit: 0, time_limit_s: 120.0 };
}

impl Default for BoundOptions {
    fn default() -> Self {
        BoundOptions::DEFAULT
    }
}

/// How a window's bound was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WindowStatus {
    /// The window's relaxation (LP, or MILP with binary caches) solved to optimality.
    Optimal,
    /// Stopped at the node limit: HiGHS's dual bound at that point.
    NodeLimit,
    /// Stopped at the time limit: HiGHS's dual bound (machine-dependent).
    TimeLimit,
    /// No finite dual bound: every task's cheapest option on its own.
    Trivial,
}

impl WindowStatus {
    pub fn name(self) -> &'static str {
        match self {
            WindowStatus::Optimal => "optimal",
            WindowStatus::NodeLimit => "node_limit",
            WindowStatus::TimeLimit => "time_limit",
            WindowStatus::Trivial => "trivial",
        }
    }
}

/// The bound of one window of slots.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WindowBound {
    pub slots: Range<usize>,
    /// Lower bound on the cost of these slots.
    pub value: f64,
    pub status: WindowStatus,
    /// The relaxation's best feasible value when HiGHS found one (for the
    /// record only: it is not a cost any policy can reach).
    pub incumbent: f64,
    /// Every task's cheapest option on its own (always a floor, the weakest).
    pub trivial: f64,
    pub columns: usize,
    pub binaries: usize,
    pub rows: usize,
    pub solve_s: f64,
}

/// The bound of a run: the sum of its windows'.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunBound {
    pub value: f64,
    pub windows: Vec<WindowBound>,
}

impl RunBound {
    pub fn from_windows(windows: Vec<WindowBound>) -> RunBound {
        RunBound { value: windows.iter().map(|w| w.value).sum(), windows }
    }
    /// `optimal` when every window's relaxation was solved, else the weakest
    /// way a window's bound was obtained (`node_limit`, `time_limit`, `trivial`).
    pub fn status(&self) -> &'static str {
        self.windows.iter().map(|w| w.status).max_by_key(|s| *s as u8).unwrap_or(WindowStatus::Optimal).name()
    }
    pub fn solve_s(&self) -> f64 {
        self.windows.iter().map(|w| w.solve_s).sum()
    }
}

/// What the bound reads of every slot: its tasks and links (no cache, no
/// last serving node, so no handover term).
pub fn slot_views(world: &World) -> Vec<Observation> {
    let n_nodes = world.env.nodes.len();
    let mut draws = world.draws();
    (0..world.slots())
        .map(|t| {
            let state = SimState { slot: t, ..SimState::initial(n_nodes, world.terminals()) };
            let mut obs = Observation::default();
            observe(world, &mut draws, &state, &mut obs);
            obs
        })
        .collect()
}

/// The windows of a run of `slots` slots.
pub fn windows(slots: usize, window_slots: usize) -> Vec<Range<usize>> {
    let w = window_slots.max(1);
    (0..slots.div_ceil(w)).map(|k| k * w..((k + 1) * w).min(slots)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_run_in_order() {
        assert_eq!(windows(7, 3), vec![0..3, 3..6, 6..7]);
        assert_eq!(windows(6, 3), vec![0..3, 3..6]);
        assert_eq!(windows(2, 30), vec![0..2]);
        assert!(windows(0, 5).is_empty());
    }
}
