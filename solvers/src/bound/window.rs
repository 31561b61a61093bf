//! The HiGHS model of one window of the bound (see the module above for the
//! formulation and why each relaxation only lowers the value).

use std::ops::Range;
use std::time::Instant;

use highs::{Col, HighsModelStatus, RowProblem, Sense};

use scenarios::sim::{local_cost, offload_terms, task_cost, Observation};
use scenarios::{Environment, World};

use super::{slot_views, windows, BoundOptions, RunBound, WindowBound, WindowStatus};
use crate::options::{cheapest_cut_per_level, undominated};

/// The whole run's bound, windows one after another.
pub fn run_bound(world: &World, opts: &BoundOptions) -> RunBound {
    let views = slot_views(world);
    let ws = windows(views.len(), opts.window_slots);
    RunBound::from_windows(ws.into_iter().map(|r| window_bound(&world.env, &views, r, opts)).collect())
}

/// Slots a download of `model` at `node` takes before it is ready with no
/// cold start, and the cold start at each earlier age.
fn download_ages(env: &Environment, node: usize, model: usize) -> Vec<f64> {
    let d = env.ready_after_download(node, model, 0.0);
    // Age a (slots since the download started): cold start d − aΔ while positive.
    (0..).map(|a| d - a as f64 * env.slot_s).take_while(|&c| c > 1e-9).collect()
}

/// The options `(cost, rb, cu)` of one (task, node, cold start) that beat
/// `fallback` and that no other one dominates; `warm` holds each level
/// pair's delay without cold start, `(delay, rb, cu, cut)`.
fn options_with_cold(
    warm: &[(f64, u32, u32, usize)],
    cold: f64,
    deadline: f64,
    fallback: f64,
    env: &Environment,
) -> Vec<(f64, u32, u32, ())> {
    let c = warm
        .iter()
        .filter_map(|&(t, rb, cu, _)| {
            // A nanosecond off the cold start: rounding in the simulator's own
            // sum can only make this option look better, never worse.
            let total = if cold > 0.0 { t + cold - 1e-9 } else { t };
            (total <= deadline).then(|| (task_cost(env, total, deadline), rb, cu, ()))
        })
        .filter(|c| c.0 < fallback)
        .collect();
    undominated(c)
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
            let fallback = local_cost(env, task).min(env.interruption_cost);
            constant += fallback;
            let mut cheapest = fallback;
            let mut all: Vec<(Col, f64)> = Vec::new();
            for n in 0..n_nodes {
                let link = obs.link(i, n);
                if !link.accessible {
                    continue;
                }
                // Per (rb, cu): the delay of the best cut, without cold start or handover.
                let warm = cheapest_cut_per_level(env, n, env.model(m).offload_cuts(), |cut, rb, cu| {
                    Some(offload_terms(env, task, link, n, cut, rb, cu, obs.time_s, obs.time_s).total())
                });
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
                let mut add =
                    |pb: &mut RowProblem, cands: &[(f64, u32, u32, ())], gate: Col, at_node: &mut Vec<(Col, f64)>| {
                        let mut gated = Vec::with_capacity(cands.len() + 1);
                        for &(cost, rb, cu, ()) in cands {
                            let x = pb.add_column(cost - fallback, 0.0..=1.0);
                            gated.push((x, 1.0));
                            at_node.push((x, 1.0));
                            rb_use[n].push((x, f64::from(rb)));
                            cu_use[n].push((x, f64::from(cu)));
                        }
                        if !gated.is_empty() {
                            gated.push((gate, -1.0));
                            pb.add_row(..=0.0, gated);
                        }
                    };
                let warm_cands = options_with_cold(&warm, 0.0, task.deadline_s, fallback, env);
                if let Some(c) = warm_cands.first() {
                    cheapest = cheapest.min(c.0);
                }
                if let Some(r) = ready_col {
                    add(&mut pb, &warm_cands, r, &mut at_node);
                }
                // Cold options: downloaded a slots ago, within this window.
                for (a, &cold) in ages[n][m].iter().enumerate().take(k + 1) {
                    let cands = options_with_cold(&warm, cold, task.deadline_s, fallback, env);
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
