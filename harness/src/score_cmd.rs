//! `edgebench score`: the DPPO agent against greedy and the exact per-slot
//! MILP, per seed, two ways.
//!
//! - *Run totals* (the issue's `s`): `s = (C_greedy − C_dppo) / (C_greedy − C_milp)`
//!   with each policy driving its own run. The per-slot MILP is myopic (it
//!   never pays for a download that cannot help within the slot), so its
//!   run total can be above greedy's and the denominator negative; the
//!   figure is printed as measured.
//! - *Common states*: along DPPO's own trajectory, greedy and the MILP decide
//!   from exactly the state DPPO is in, and
//!   `s_common = Σ_t (g_t − d_t) / Σ_t (g_t − m_t)`. The MILP is exact per
//!   slot, so `m_t ≤ d_t` and `s_common ≤ 1`; 1 means DPPO's every slot is
//!   optimal, 0 means greedy's quality.
//!
//! - *Run totals against a planner*: the same `s` with `milp-lookahead` (the
//!   MILP that plans this slot and a persistence forecast of the next ones
//!   with one cache set, docs/model.md §9a) in place of the per-slot MILP:
//!   `s_lookahead = (C_greedy − C_dppo) / (C_greedy − C_lookahead)`. It is not
//!   an optimum of the run (nothing without the future is), so values above 1
//!   are possible: DPPO then beats the planner.
//!
//! - *Gap to the lower bound* (unless `--no-bound`): each policy's run cost
//!   over the seed's clairvoyant lower bound (docs/model.md §9c), minus 1;
//!   what no `s` can say, how far each is from the best possible.
//!
//! Also the decision times on those common states (DPPO, MILP solve).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, Result};
use scenarios::metrics::percentile;
use scenarios::sim::{observe, transition};
use scenarios::{Observation, Policy, SimState, World};

use crate::error::BadInput;

pub struct ScoreArgs {
    pub scenario: String,
    pub seeds: Vec<u64>,
    pub checkpoint: Option<PathBuf>,
    /// The MILPs' settings (the gap included), the references' solver.
    pub milp: solvers::MilpOptions,
    /// The lower bound's settings; `None`: no bound (`--no-bound`).
    pub bound: Option<solvers::bound::BoundOptions>,
}

/// Per-seed figures.
#[derive(Debug, Clone)]
pub struct SeedScore {
    pub seed: u64,
    pub cost: [f64; 3],
    pub interruption: [f64; 3],
    pub s_total: f64,
    /// Run cost and interruption rate of `milp-lookahead`.
    pub lookahead: (f64, f64),
    pub s_lookahead: f64,
    pub s_common: f64,
    pub common: [f64; 3],
    pub dppo_decide_ms: Vec<f64>,
    pub milp_solve_ms: Vec<f64>,
    /// The seed's clairvoyant lower bound, when asked for.
    pub bound: Option<f64>,
}

impl SeedScore {
    /// Relative gaps to the bound of DPPO, `milp-lookahead` and greedy.
    pub fn gaps(&self) -> Option<[f64; 3]> {
        self.bound.map(|b| [self.cost[0], self.lookahead.0, self.cost[1]].map(|c| (c - b) / b))
    }
}

/// Run `policy` over `world`: (total cost, interruption rate).
fn run_totals(world: &World, policy: &mut dyn Policy) -> Result<(f64, f64)> {
    policy.reset(&world.env, world.seed);
    let mut state = SimState::initial(world.env.nodes.len(), world.terminals());
    let mut obs = Observation::default();
    let mut draws = world.draws();
    let (mut cost, mut tasks, mut interrupted) = (0.0, 0usize, 0usize);
    while state.slot < world.slots() {
        observe(world, &mut draws, &state, &mut obs);
        let d = policy.decide(&world.env, &obs).map_err(|e| anyhow!("{e}"))?;
        let (out, next) = transition(&world.env, &state, &obs, &d).map_err(|e| anyhow!("{e}"))?;
        cost += out.cost;
        tasks += out.tasks.len();
        interrupted += out.tasks.iter().filter(|t| t.interrupted).count();
        state = next;
    }
    Ok((cost, interrupted as f64 / tasks.max(1) as f64))
}

pub fn score_seed(
    world: &World,
    dppo: &mut dyn Policy,
    greedy: &mut dyn Policy,
    milp: &mut dyn Policy,
    lookahead: &mut dyn Policy,
) -> Result<SeedScore> {
    let (cg, ig) = run_totals(world, greedy)?;
    let (cm, im) = run_totals(world, milp)?;
    let (cl, il) = run_totals(world, lookahead)?;
    dppo.reset(&world.env, world.seed);
    greedy.reset(&world.env, world.seed);
    milp.reset(&world.env, world.seed);
    // DPPO's own run is the trajectory of the common states: its totals come from this loop.
    let (mut tasks, mut interrupted) = (0usize, 0usize);
    let mut state = SimState::initial(world.env.nodes.len(), world.terminals());
    let mut obs = Observation::default();
    let mut common = [0.0f64; 3];
    let (mut dppo_ms, mut milp_ms) = (Vec::new(), Vec::new());
    let mut draws = world.draws();
    while state.slot < world.slots() {
        observe(world, &mut draws, &state, &mut obs);
        let t = Instant::now();
        let d = dppo.decide(&world.env, &obs).map_err(|e| anyhow!("{e}"))?;
        dppo_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let g = greedy.decide(&world.env, &obs).map_err(|e| anyhow!("{e}"))?;
        let t = Instant::now();
        let m = milp.decide(&world.env, &obs).map_err(|e| anyhow!("{e}"))?;
        milp_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let (od, next) = transition(&world.env, &state, &obs, &d).map_err(|e| anyhow!("{e}"))?;
        let og = transition(&world.env, &state, &obs, &g).map_err(|e| anyhow!("{e}"))?.0;
        let om = transition(&world.env, &state, &obs, &m).map_err(|e| anyhow!("{e}"))?.0;
        common[0] += od.cost;
        tasks += od.tasks.len();
        interrupted += od.tasks.iter().filter(|t| t.interrupted).count();
        common[1] += og.cost;
        common[2] += om.cost;
        state = next;
    }
    let (cd, id) = (common[0], interrupted as f64 / tasks.max(1) as f64);
    Ok(SeedScore {
        seed: world.seed,
        cost: [cd, cg, cm],
        interruption: [id, ig, im],
        s_total: (cg - cd) / (cg - cm),
        lookahead: (cl, il),
        s_lookahead: (cg - cd) / (cg - cl),
        s_common: (common[1] - common[0]) / (common[1] - common[2]),
        common,
        dppo_decide_ms: dppo_ms,
        milp_solve_ms: milp_ms,
        bound: None,
    })
}

/// A run cost below the seed's lower bound is a bug in the bound: fail
/// loudly, naming the seed and the policy (as `run` does), never clip.
fn check_above_bound(s: &SeedScore, bound: f64) -> Result<()> {
    let runs = [("dppo", s.cost[0]), ("greedy", s.cost[1]), ("milp", s.cost[2]), ("milp-lookahead", s.lookahead.0)];
    for (policy, cost) in runs {
        if crate::run::below_bound(cost, bound) {
            return Err(anyhow!(
                "seed {}: the lower bound {bound:.6} is above {policy}'s run cost {cost:.6}; the bound is wrong (a bug)",
                s.seed
            ));
        }
    }
    Ok(())
}

pub fn cmd_score(a: &ScoreArgs) -> Result<Vec<SeedScore>> {
    let scenario = crate::resolve_scenario(&a.scenario)?;
    if a.seeds.is_empty() {
        return Err(BadInput("--seeds: expected at least one seed".into()).into());
    }
    crate::check_milp(&a.milp)?;
    if let Some(b) = &a.bound {
        crate::check_bound_args(b)?;
    }
    let ck = crate::train_cmd::load_checkpoint(a.checkpoint.as_deref(), &scenario)?;
    let mut out = Vec::new();
    println!("| seed | cost dppo | cost greedy | cost milp | s (run totals) | cost milp-lookahead | s_lookahead | intr. dppo % | intr. greedy % | intr. lookahead % | common-state cost dppo / greedy / milp | s_common | bound | gap to bound dppo / lookahead / greedy % |");
    println!("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|:--|--:|--:|:--|");
    for &seed in &a.seeds {
        let world = World::build(&scenario, seed);
        let mut dppo = solvers::dppo::Dppo::new(&ck).map_err(crate::train_cmd::dppo_error)?;
        let mut greedy = solvers::greedy::Greedy;
        let opts = a.milp;
        let mut milp = solvers::milp::Milp::new(opts);
        let mut lookahead = solvers::milp::Milp::lookahead(opts, solvers::milp::PlanSolve::CacheFirst);
        let mut s = score_seed(&world, &mut dppo, &mut greedy, &mut milp, &mut lookahead)?;
        if let Some(opts) = &a.bound {
            // The bound of a large world takes minutes: a bar (drawn on a terminal only).
            let views = solvers::bound::slot_views(&world);
            let bar = crate::run::slot_bar(views.len() as u64, format!("seed {seed}: lower bound"), true);
            let rb = crate::run::bound_windows(&world, &views, opts, Some(&bar));
            bar.finish_and_clear();
            if rb.status() != "optimal" {
                // As `run`'s bound.csv says per window: weaker, and with a time limit machine-dependent.
                eprintln!(
                    "edgebench: note: seed {seed}: the lower bound is `{}` (a window stopped at a limit, \
                     --bound-time-limit or --bound-nodes): valid but weaker",
                    rb.status()
                );
            }
            let b = rb.value;
            check_above_bound(&s, b)?;
            s.bound = Some(b);
        }
        let (bound, gaps) = match (s.bound, s.gaps()) {
            (Some(b), Some(g)) => {
                (format!("{b:.1}"), format!("{:.1} / {:.1} / {:.1}", 100.0 * g[0], 100.0 * g[1], 100.0 * g[2]))
            }
            _ => ("–".to_string(), "–".to_string()),
        };
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.3} | {:.1} | {:.3} | {:.2} | {:.2} | {:.2} | {:.1} / {:.1} / {:.1} | {:.3} | {bound} | {gaps} |",
            s.seed,
            s.cost[0],
            s.cost[1],
            s.cost[2],
            s.s_total,
            s.lookahead.0,
            s.s_lookahead,
            100.0 * s.interruption[0],
            100.0 * s.interruption[1],
            100.0 * s.lookahead.1,
            s.common[0],
            s.common[1],
            s.common[2],
            s.s_common
        );
        out.push(s);
    }
    let n = out.len() as f64;
    let mean = |f: &dyn Fn(&SeedScore) -> f64| out.iter().map(f).sum::<f64>() / n;
    let all_d: Vec<f64> = out.iter().flat_map(|s| s.dppo_decide_ms.clone()).collect();
    let all_m: Vec<f64> = out.iter().flat_map(|s| s.milp_solve_ms.clone()).collect();
    println!();
    println!(
        "mean s (run totals) {:.3}; mean s_lookahead {:.3}; mean s_common {:.3}; interruption dppo {:.2} % vs greedy {:.2} %",
        mean(&|s| s.s_total),
        mean(&|s| s.s_lookahead),
        mean(&|s| s.s_common),
        100.0 * mean(&|s| s.interruption[0]),
        100.0 * mean(&|s| s.interruption[1])
    );
    if let Some(g) = out.iter().map(SeedScore::gaps).collect::<Option<Vec<_>>>() {
        let mean_gap = |k: usize| 100.0 * g.iter().map(|x| x[k]).sum::<f64>() / n;
        println!(
            "mean gap to the lower bound: dppo {:.1} %, milp-lookahead {:.1} %, greedy {:.1} %",
            mean_gap(0),
            mean_gap(1),
            mean_gap(2)
        );
    }
    println!(
        "decision time on DPPO's states: dppo p50 {:.3} ms, p95 {:.3} ms; milp p50 {:.1} ms, p95 {:.1} ms (ratio of medians {:.0}x)",
        percentile(&all_d, 0.5),
        percentile(&all_d, 0.95),
        percentile(&all_m, 0.5),
        percentile(&all_m, 0.95),
        percentile(&all_m, 0.5) / percentile(&all_d, 0.5)
    );
    Ok(out)
}
