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
use std::time::Instant;

use highs::{Col, HighsModelStatus, RowProblem, Sense};

use scenarios::sim::{local_terms, observe, offload_terms, task_cost, Observation, SimState};
use scenarios::{Environment, World};

use crate::milp::undominated;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq)]
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
    (0..world.slots())
        .map(|t| {
            let state = SimState { slot: t, ..SimState::initial(n_nodes, world.terminals()) };
            let mut obs = Observation::default();
            observe(world, &state, &mut obs);
            obs
        })
        .collect()
}

/// The windows of a run of `slots` slots.
pub fn windows(slots: usize, window_slots: usize) -> Vec<Range<usize>> {
    let w = window_slots.max(1);
    (0..slots.div_ceil(w)).map(|k| k * w..((k + 1) * w).min(slots)).collect()
}

/// The whole run's bound, windows one after another.
pub fn run_bound(world: &World, opts: &BoundOptions) -> RunBound {
    let views = slot_views(world);
    let ws = windows(views.len(), opts.window_slots);
    RunBound::from_windows(ws.into_iter().map(|r| window_bound(&world.env, &views, r, opts)).collect())
}

/// One offload option of a task, before it becomes a column.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    cost: f64,
    rb: u32,
    cu: u32,
}

/// Slots a download of `model` at `node` takes before it is ready with no
/// cold start, and the cold start at each earlier age.
fn download_ages(env: &Environment, node: usize, model: usize) -> Vec<f64> {
    let d = env.ready_after_download(node, model, 0.0);
    // Age a (slots since the download started): cold start d − aΔ while positive.
    (0..).map(|a| d - a as f64 * env.slot_s).take_while(|&c| c > 1e-9).collect()
}

/// The candidates of one (task, node, cold start) that beat `fallback`,
/// without those another candidate matches or beats in cost and both units.
fn pareto(warm: &[(u32, u32, f64)], cold: f64, deadline: f64, fallback: f64, env: &Environment) -> Vec<Candidate> {
    let c: Vec<(f64, u32, u32, ())> = warm
        .iter()
        .filter_map(|&(rb, cu, t)| {
            // A nanosecond off the cold start: rounding in the simulator's own
            // sum can only make this option look better, never worse.
            let total = if cold > 0.0 { t + cold - 1e-9 } else { t };
            (total <= deadline).then(|| (task_cost(env, total, deadline), rb, cu, ()))
        })
        .filter(|c| c.0 < fallback)
        .collect();
    undominated(c).into_iter().map(|(cost, rb, cu, ())| Candidate { cost, rb, cu }).collect()
}

/// The bound of the slots `range` of the run whose slots `views` describes.
pub fn window_bound(env: &Environment, views: &[Observation], range: Range<usize>, opts: &BoundOptions) -> WindowBound {
    let started = Instant::now();
    let n_nodes = env.nodes.len();
    let n_models = env.catalogue().len();
    let first = range.start;
    let len = range.len();
    let mut pb = RowProblem::new();
    let mut binaries = 0usize;
    // `node_limit` 0: the LP relaxation (every column continuous).
    let lp = opts.node_limit == 0;
    let mut bin = |pb: &mut RowProblem| {
        if lp {
            pb.add_column(0.0, 0.0..=1.0)
        } else {
            binaries += 1;
            pb.add_integer_column(0.0, 0..=1)
        }
    };
    // The cache before the window: empty at the start of the run, else any
    // set that fits, already downloaded and paid for.
    let before: Option<Vec<Vec<Col>>> =
        (first > 0).then(|| (0..n_nodes).map(|_| (0..n_models).map(|_| bin(&mut pb)).collect()).collect());
    let mut h: Vec<Vec<Vec<Col>>> = Vec::with_capacity(len);
    let mut s: Vec<Vec<Vec<Col>>> = Vec::with_capacity(len);
    for k in 0..len {
        h.push((0..n_nodes).map(|_| (0..n_models).map(|_| bin(&mut pb)).collect()).collect());
        s.push(
            (0..n_nodes)
                .map(|_| {
                    (0..n_models)
                        .map(|m| pb.add_column(env.backhaul_cost_per_byte * env.model(m).weights_bytes, 0.0..=1.0))
                        .collect()
                })
                .collect(),
        );
        for n in 0..n_nodes {
            for m in 0..n_models {
                let (hk, sk) = (h[k][n][m], s[k][n][m]);
                let prev = if k > 0 { Some(h[k - 1][n][m]) } else { before.as_ref().map(|b| b[n][m]) };
                // s = 1 exactly when the model enters the set: s ≥ h_k − h_{k−1}, s ≤ h_k, s ≤ 1 − h_{k−1}.
                pb.add_row(..=0.0, [(sk, 1.0), (hk, -1.0)]);
                match prev {
                    Some(p) => {
                        pb.add_row(0.0.., [(sk, 1.0), (hk, -1.0), (p, 1.0)]);
                        pb.add_row(..=1.0, [(sk, 1.0), (p, 1.0)]);
                    }
                    None => pb.add_row(0.0.., [(sk, 1.0), (hk, -1.0)]),
                }
            }
        }
    }
    let storage = |pb: &mut RowProblem, set: &[Vec<Col>]| {
        for (n, row) in set.iter().enumerate() {
            pb.add_row(
                ..=env.nodes[n].cache_bytes,
                row.iter().enumerate().map(|(m, &c)| (c, env.model(m).weights_bytes)).collect::<Vec<_>>(),
            );
        }
    };
    if let Some(b) = &before {
        storage(&mut pb, b);
    }
    for hk in &h {
        storage(&mut pb, hk);
    }
    let ages: Vec<Vec<Vec<f64>>> =
        (0..n_nodes).map(|n| (0..n_models).map(|m| download_ages(env, n, m)).collect()).collect();
    // Ready indicator per (slot, node, model), made when a task needs it:
    // the model was in the set for the last A slots (or since before the window).
    let mut ready: Vec<Vec<Vec<Option<Col>>>> = vec![vec![vec![None; n_models]; n_nodes]; len];
    let mut constant = 0.0;
    let mut trivial = 0.0;
    for (k, obs) in views[range.clone()].iter().enumerate() {
        let mut rb_use: Vec<Vec<(Col, f64)>> = vec![Vec::new(); n_nodes];
        let mut cu_use: Vec<Vec<(Col, f64)>> = vec![Vec::new(); n_nodes];
        for (i, task) in obs.tasks.iter().enumerate() {
            let m = task.model;
            let fallback = task_cost(env, local_terms(env, task).total(), task.deadline_s).min(env.interruption_cost);
            constant += fallback;
            let mut cheapest = fallback;
            let mut all: Vec<(Col, f64)> = Vec::new();
            for n in 0..n_nodes {
                let link = obs.link(i, n);
                if !link.accessible {
                    continue;
                }
                // Per (rb, cu): the delay of the best cut, without cold start or handover.
                let mut warm = Vec::new();
                for &rb in env.rb_levels.iter().filter(|&&r| r <= env.nodes[n].rb_units) {
                    for &cu in env.cu_levels.iter().filter(|&&c| c <= env.nodes[n].cu_units) {
                        let t = (0..env.model(m).offload_cuts())
                            .map(|cut| offload_terms(env, task, link, n, cut, rb, cu, obs.time_s, obs.time_s).total())
                            .fold(f64::INFINITY, f64::min);
                        warm.push((rb, cu, t));
                    }
                }
                let mut at_node: Vec<(Col, f64)> = Vec::new();
                // Ready options: need the model in the set for the last A slots.
                let a_ready = ages[n][m].len();
                let ready_col = match ready[k][n][m] {
                    Some(c) => Some(c),
                    None => {
                        // r ≤ h_{k−j} for j = 0..=A, or h before the window and every slot since.
                        let mut chain: Vec<Col> = Vec::new();
                        let mut reachable = true;
                        for j in 0..=a_ready {
                            if j <= k {
                                chain.push(h[k - j][n][m]);
                            } else {
                                match &before {
                                    Some(b) => chain.push(b[n][m]),
                                    None => reachable = false,
                                }
                                break;
                            }
                        }
                        reachable.then(|| {
                            let r = pb.add_column(0.0, 0.0..=1.0);
                            for c in chain {
                                pb.add_row(..=0.0, [(r, 1.0), (c, -1.0)]);
                            }
                            ready[k][n][m] = Some(r);
                            r
                        })
                    }
                };
                let mut add = |pb: &mut RowProblem, cands: &[Candidate], gate: Col, at_node: &mut Vec<(Col, f64)>| {
                    let mut gated = Vec::with_capacity(cands.len() + 1);
                    for c in cands {
                        let x = pb.add_column(c.cost - fallback, 0.0..=1.0);
                        gated.push((x, 1.0));
                        at_node.push((x, 1.0));
                        rb_use[n].push((x, f64::from(c.rb)));
                        cu_use[n].push((x, f64::from(c.cu)));
                    }
                    if !gated.is_empty() {
                        gated.push((gate, -1.0));
                        pb.add_row(..=0.0, gated);
                    }
                };
                let warm_cands = pareto(&warm, 0.0, task.deadline_s, fallback, env);
                if let Some(c) = warm_cands.first() {
                    cheapest = cheapest.min(c.cost);
                }
                if let Some(r) = ready_col {
                    add(&mut pb, &warm_cands, r, &mut at_node);
                }
                // Cold options: downloaded a slots ago, within this window.
                for (a, &cold) in ages[n][m].iter().enumerate().take(k + 1) {
                    let cands = pareto(&warm, cold, task.deadline_s, fallback, env);
                    add(&mut pb, &cands, s[k - a][n][m], &mut at_node);
                }
                if !at_node.is_empty() {
                    at_node.push((h[k][n][m], -1.0));
                    pb.add_row(..=0.0, at_node.iter().copied());
                    at_node.pop();
                    all.extend(at_node);
                }
            }
            trivial += cheapest;
            if !all.is_empty() {
                pb.add_row(..=1.0, all);
            }
        }
        for n in 0..n_nodes {
            if !rb_use[n].is_empty() {
                pb.add_row(..=f64::from(env.nodes[n].rb_units), std::mem::take(&mut rb_use[n]));
                pb.add_row(..=f64::from(env.nodes[n].cu_units), std::mem::take(&mut cu_use[n]));
            }
        }
    }
    let columns = pb.num_cols();
    let rows = pb.num_rows();
    let mut model = pb.optimise(Sense::Minimise);
    model.set_option("threads", 1i32);
    model.set_option("output_flag", false);
    if !lp {
        model.set_option("mip_max_nodes", opts.node_limit.min(i32::MAX as u32) as i32);
    }
    model.set_option("time_limit", opts.time_limit_s);
    model.set_option("mip_rel_gap", 1e-6);
    let (mut status, mut dual, mut incumbent) = (WindowStatus::Trivial, f64::NEG_INFINITY, f64::NAN);
    if let Ok(solved) = model.try_solve() {
        dual = if lp {
            // An LP's optimum is its dual bound; stopped early, it proves nothing.
            if solved.status() == HighsModelStatus::Optimal {
                solved.objective_value()
            } else {
                f64::NEG_INFINITY
            }
        } else {
            solved.double_info_value(c"mip_dual_bound").unwrap_or(f64::NEG_INFINITY)
        };
        if solved.primal_solution_status() == highs::HighsSolutionStatus::Feasible {
            incumbent = constant + solved.objective_value();
        }
        status = match solved.status() {
            HighsModelStatus::Optimal => WindowStatus::Optimal,
            HighsModelStatus::ReachedTimeLimit => WindowStatus::TimeLimit,
            _ => WindowStatus::NodeLimit,
        };
        if !dual.is_finite() {
            status = WindowStatus::Trivial;
        }
    }
    let value = if status == WindowStatus::Trivial { trivial } else { (constant + dual).max(trivial) };
    WindowBound {
        slots: range,
        value,
        status,
        incumbent,
        trivial,
        columns,
        binaries,
        rows,
        solve_s: started.elapsed().as_secs_f64(),
    }
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
