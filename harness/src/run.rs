//! Running a plan: scenarios × policies × seeds. One world per seed, shared
//! by every policy (same trace, channel and tasks); runs go in parallel on a
//! rayon pool and are collected in plan order, so the output does not depend
//! on the thread count.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use scenarios::metrics::MetricsAccumulator;
use scenarios::rng::derive;
use scenarios::sim::{Observation, Simulator};
use scenarios::{Action, Scenario, Summary, World};
use solvers::PolicyOptions;

use crate::error::BadInput;

/// Per-task columns of one or more runs (the rows of `tasks.parquet`).
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct TaskColumns {
    #[serde(with = "crate::wire::arc_strs")]
    pub policy: Vec<Arc<str>>,
    pub seed: Vec<u64>,
    pub slot: Vec<u32>,
    pub terminal: Vec<u32>,
    #[serde(with = "crate::wire::arc_strs")]
    pub model: Vec<Arc<str>>,
    pub x_m: Vec<f64>,
    pub y_m: Vec<f64>,
    pub input_bytes: Vec<f64>,
    pub best_snr_db: Vec<Option<f64>>,
    #[serde(with = "crate::wire::kinds")]
    pub kind: Vec<&'static str>,
    pub node: Vec<Option<u32>>,
    pub cut: Vec<Option<u32>>,
    pub rb: Vec<Option<u32>>,
    pub cu: Vec<Option<u32>>,
    pub device_ms: Vec<f64>,
    pub uplink_ms: Vec<f64>,
    pub edge_ms: Vec<f64>,
    pub cold_ms: Vec<f64>,
    pub handover_ms: Vec<f64>,
    pub delay_ms: Vec<Option<f64>>,
    pub deadline_ms: Vec<f64>,
    pub met: Vec<bool>,
    pub interrupted: Vec<bool>,
    #[serde(with = "crate::wire::reasons")]
    pub reason: Vec<Option<&'static str>>,
    pub cost: Vec<f64>,
    pub handover: Vec<bool>,
}

/// Per-slot columns (the rows of `slots.parquet`).
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct SlotColumns {
    #[serde(with = "crate::wire::arc_strs")]
    pub policy: Vec<Arc<str>>,
    pub seed: Vec<u64>,
    pub slot: Vec<u32>,
    pub tasks: Vec<u32>,
    pub interrupted: Vec<u32>,
    pub cost: Vec<f64>,
    pub backhaul_bytes: Vec<f64>,
    pub rb_util: Vec<f64>,
    pub cu_util: Vec<f64>,
    pub cache_util: Vec<f64>,
    pub decision_ms: Vec<f64>,
    /// Solver record (policies that solve a model; null for the others).
    pub solver_status: Vec<Option<String>>,
    pub solver_objective: Vec<Option<f64>>,
    pub solver_bound: Vec<Option<f64>>,
    pub solver_gap: Vec<Option<f64>>,
    pub solver_build_ms: Vec<Option<f64>>,
    pub solver_solve_ms: Vec<Option<f64>>,
    pub solver_vars: Vec<Option<u32>>,
    pub solver_binaries: Vec<Option<u32>>,
    pub solver_rows: Vec<Option<u32>>,
}

/// The result of one (policy, seed) run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PolicyRun {
    pub policy: String,
    pub seed: u64,
    pub terminals: usize,
    pub tasks: TaskColumns,
    pub slots: SlotColumns,
    pub summary: Summary,
    /// For policies that solve a model: the share of slots solved to proven optimality and the worst gap.
    pub solver: Option<SolverSummary>,
    /// For the `bound` row: its windows (the summary's `cost` is their sum).
    pub bound: Option<solvers::bound::RunBound>,
    /// Where the task rows went when they were streamed to a file as the run
    /// went (`tasks` is then empty).
    #[serde(default)]
    pub tasks_file: Option<std::path::PathBuf>,
}

/// Streamed task rows go to their file in batches of this many (one row group each).
pub const TASK_BATCH_ROWS: usize = 1 << 16;

/// The name under which the clairvoyant lower bound is asked for (`--policies
/// …,bound`) and listed in the results: a row of the summary whose `cost` is
/// the bound, not a policy (it has no tasks or slots of its own).
pub const BOUND: &str = reports::BOUND;

/// Relative slack of the check that no policy's run cost is below the bound:
/// HiGHS's feasibility and optimality tolerances (1e-7) on sums of a few
/// thousand task costs.
pub const BOUND_TOLERANCE: f64 = 1e-6;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SolverSummary {
    pub slots: usize,
    pub optimal: usize,
    pub max_gap: f64,
    pub solve_s: Vec<f64>,
    pub build_s: f64,
}

impl SolverSummary {
    fn push(&mut self, s: &scenarios::policy::SolverStats) {
        self.slots += 1;
        self.optimal += usize::from(s.status == "optimal");
        // A fallback has no gap of its own: it counts as an infinite one.
        let gap = if s.status == "fallback" { f64::INFINITY } else { s.gap };
        self.max_gap = self.max_gap.max(gap);
        self.solve_s.push(s.solve_s);
        self.build_s += s.build_s;
    }
    /// Share of model building in build + solve time.
    pub fn build_share(&self) -> f64 {
        let solve: f64 = self.solve_s.iter().sum();
        self.build_s / (self.build_s + solve).max(1e-12)
    }
    pub fn optimal_share(&self) -> f64 {
        self.optimal as f64 / self.slots.max(1) as f64
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub scenario: Scenario,
    pub policies: Vec<String>,
    pub seeds: Vec<u64>,
    pub options: PolicyOptions,
}

/// The seed a policy samples with in the run of `seed` (disjoint from the world's streams).
pub fn policy_seed(seed: u64, policy: &str) -> u64 {
    derive(seed, &format!("policy:{policy}"))
}

/// A fresh policy; `milp-oracle` is made from the world (it reads the future).
fn make_policy(world: &World, name: &str, opts: &PolicyOptions) -> Result<Box<dyn scenarios::Policy>> {
    #[cfg(feature = "milp")]
    if name == "milp-oracle" {
        let future = Arc::new(solvers::bound::slot_views(world));
        return Ok(Box::new(solvers::milp::Milp::oracle(opts.milp, future)));
    }
    let _ = world;
    solvers::make_with(name, opts).map_err(|e| match e {
        // A bad checkpoint is bad input (exit 2), never a missing policy.
        solvers::MakeError::BadInput(m) => BadInput(m).into(),
        e @ solvers::MakeError::Unknown(_) => anyhow!(e),
    })
}

/// Run one policy through one world.
pub fn run_policy(
    world: &World,
    policy_name: &str,
    opts: &PolicyOptions,
    progress: Option<&ProgressBar>,
) -> Result<PolicyRun> {
    run_policy_with(world, policy_name, make_policy(world, policy_name, opts)?, progress)
}

/// [`run_policy`] streaming its task rows into the Parquet file `tasks_to`
/// as it goes (memory: one batch of rows, not the run's).
pub fn run_policy_into(
    world: &World,
    policy_name: &str,
    opts: &PolicyOptions,
    progress: Option<&ProgressBar>,
    tasks_to: &std::path::Path,
) -> Result<PolicyRun> {
    let policy = make_policy(world, policy_name, opts)?;
    let mut writer = crate::frames::TaskWriter::create(tasks_to, world.env.scenario.name())?;
    // Encoding and compressing the rows takes a quarter of a heuristic's run:
    // a thread of its own does it while the simulation goes on (two batches
    // in flight at most, so memory stays two batches).
    let (send, batches) = std::sync::mpsc::sync_channel::<TaskColumns>(1);
    std::thread::scope(|scope| {
        let encoder = scope.spawn(move || -> Result<()> {
            for batch in batches {
                writer.write(&batch)?;
            }
            writer.finish()
        });
        let run = simulate(world, policy_name, policy, progress, &mut |rows: &mut TaskColumns, last: bool| {
            if rows.len() >= TASK_BATCH_ROWS || last {
                // A failed send means the encoder stopped on an error, which `join` reports.
                let _ = send.send(std::mem::take(rows));
            }
        });
        drop(send);
        let written = encoder.join().map_err(|_| anyhow!("the task-row encoder of {policy_name} panicked"))?;
        let mut run = run?;
        written?;
        run.tasks_file = Some(tasks_to.to_path_buf());
        Ok(run)
    })
}

/// Run a policy object (one the harness does not make, e.g. a Python agent)
/// through one world; its task rows are kept in the returned run.
pub fn run_policy_with(
    world: &World,
    policy_name: &str,
    policy: Box<dyn scenarios::Policy>,
    progress: Option<&ProgressBar>,
) -> Result<PolicyRun> {
    simulate(world, policy_name, policy, progress, &mut |_, _| {})
}

/// What to do with the task rows gathered so far: called after every slot
/// with `last` false, and once at the end with `last` true. Rows it leaves
/// in place end up in the run's `tasks`.
type TaskRowsHook<'a> = dyn FnMut(&mut TaskColumns, bool) + 'a;

fn simulate(
    world: &World,
    policy_name: &str,
    mut policy: Box<dyn scenarios::Policy>,
    progress: Option<&ProgressBar>,
    on_rows: &mut TaskRowsHook<'_>,
) -> Result<PolicyRun> {
    let env = &world.env;
    policy.reset(env, policy_seed(world.seed, policy_name));
    let name: Arc<str> = Arc::from(policy_name);
    let model_names: Vec<Arc<str>> = env.catalogue().models.iter().map(|m| Arc::from(m.name.as_str())).collect();
    let mut sim = Simulator::new(world);
    let mut obs = Observation::default();
    let mut metrics = MetricsAccumulator::new(world.terminals(), env.slot_s);
    let mut solver = SolverSummary::default();
    let mut tc = TaskColumns::default();
    let mut sc = SlotColumns::default();
    while !sim.is_done() {
        sim.observe(&mut obs);
        let started = Instant::now();
        let decision = policy.decide(env, &obs).map_err(|e| anyhow!("seed {}, slot {}: {e}", world.seed, obs.slot))?;
        let decision_s = started.elapsed().as_secs_f64();
        let outcome =
            sim.step(&obs, &decision).map_err(|e| anyhow!("policy {policy_name}, seed {}: {e}", world.seed))?;
        metrics.push(&outcome, decision_s);
        for (i, (task, out)) in obs.tasks.iter().zip(&outcome.tasks).enumerate() {
            tc.policy.push(name.clone());
            tc.seed.push(world.seed);
            tc.slot.push(obs.slot as u32);
            tc.terminal.push(task.terminal as u32);
            tc.model.push(model_names[task.model].clone());
            tc.x_m.push(task.pos[0]);
            tc.y_m.push(task.pos[1]);
            tc.input_bytes.push(task.input_bytes);
            let best =
                obs.links_of(i).iter().filter(|l| l.accessible).map(|l| l.snr_db).fold(f64::NEG_INFINITY, f64::max);
            tc.best_snr_db.push(best.is_finite().then_some(best));
            tc.kind.push(out.action.kind());
            let (node, cut, rb, cu) = match out.action {
                Action::Offload { node, cut, rb, cu } => (Some(node as u32), Some(cut as u32), Some(rb), Some(cu)),
                _ => (None, None, None, None),
            };
            tc.node.push(node);
            tc.cut.push(cut);
            tc.rb.push(rb);
            tc.cu.push(cu);
            tc.device_ms.push(out.terms.device_s * 1e3);
            tc.uplink_ms.push(out.terms.uplink_s * 1e3);
            tc.edge_ms.push(out.terms.edge_s * 1e3);
            tc.cold_ms.push(out.terms.cold_s * 1e3);
            tc.handover_ms.push(out.terms.handover_s * 1e3);
            tc.delay_ms.push(out.delay_s.map(|d| d * 1e3));
            tc.deadline_ms.push(out.deadline_s * 1e3);
            tc.met.push(out.met);
            tc.interrupted.push(out.interrupted);
            tc.reason.push(out.reason.map(|r| r.name()));
            tc.cost.push(out.cost);
            tc.handover.push(out.handover);
        }
        sc.policy.push(name.clone());
        sc.seed.push(world.seed);
        sc.slot.push(obs.slot as u32);
        sc.tasks.push(outcome.tasks.len() as u32);
        sc.interrupted.push(outcome.tasks.iter().filter(|t| t.interrupted).count() as u32);
        sc.cost.push(outcome.cost);
        sc.backhaul_bytes.push(outcome.backhaul_bytes);
        sc.rb_util.push(outcome.rb_util);
        sc.cu_util.push(outcome.cu_util);
        sc.cache_util.push(outcome.cache_util);
        sc.decision_ms.push(decision_s * 1e3);
        let st = policy.stats();
        let nn = |v: f64| (!v.is_nan()).then_some(v);
        sc.solver_status.push(st.map(|s| s.status.clone()));
        sc.solver_objective.push(st.and_then(|s| nn(s.objective)));
        sc.solver_bound.push(st.and_then(|s| nn(s.bound)));
        sc.solver_gap.push(st.and_then(|s| nn(s.gap)));
        sc.solver_build_ms.push(st.map(|s| s.build_s * 1e3));
        sc.solver_solve_ms.push(st.map(|s| s.solve_s * 1e3));
        sc.solver_vars.push(st.map(|s| s.vars as u32));
        sc.solver_binaries.push(st.map(|s| s.binaries as u32));
        sc.solver_rows.push(st.map(|s| s.rows as u32));
        if let Some(s) = st {
            solver.push(s);
        }
        on_rows(&mut tc, false);
        if let Some(p) = progress {
            p.inc(1);
        }
    }
    on_rows(&mut tc, true);
    Ok(PolicyRun {
        policy: policy_name.to_string(),
        seed: world.seed,
        terminals: world.terminals(),
        tasks: tc,
        slots: sc,
        summary: metrics.finish().context("computing the run's delay percentiles")?,
        solver: (solver.slots > 0).then_some(solver),
        bound: None,
        tasks_file: None,
    })
}

/// The clairvoyant lower bound of one world (docs/model.md §9c): windows in
/// parallel, summed in order; a summary row whose `cost` is the bound.
#[cfg(feature = "milp")]
pub fn run_bound(world: &World, opts: &PolicyOptions, progress: Option<&ProgressBar>) -> Result<PolicyRun> {
    let views = solvers::bound::slot_views(world);
    let b = bound_windows(world, &views, &opts.bound, progress);
    let summary = cost_only(views.len(), views.iter().map(|o| o.tasks.len()).sum(), b.value);
    Ok(PolicyRun {
        policy: BOUND.to_string(),
        seed: world.seed,
        terminals: world.terminals(),
        tasks: TaskColumns::default(),
        slots: SlotColumns::default(),
        summary,
        solver: None,
        bound: Some(b),
        tasks_file: None,
    })
}

/// The bound of a world whose slot views are `views`: its windows solved in
/// parallel (the result does not depend on the thread count), summed in order.
#[cfg(feature = "milp")]
pub fn bound_windows(
    world: &World,
    views: &[scenarios::Observation],
    opts: &solvers::bound::BoundOptions,
    progress: Option<&ProgressBar>,
) -> solvers::bound::RunBound {
    use solvers::bound;
    let windows: Vec<bound::WindowBound> = bound::windows(views.len(), opts.window_slots)
        .into_par_iter()
        .map(|r| {
            let len = r.len() as u64;
            let w = bound::window_bound(&world.env, views, r, opts);
            if let Some(p) = progress {
                p.inc(len);
            }
            w
        })
        .collect();
    bound::RunBound::from_windows(windows)
}

/// A summary that has a cost and nothing else (the bound's row).
pub fn cost_only(slots: usize, tasks: usize, cost: f64) -> Summary {
    let nan = f64::NAN;
    Summary {
        slots,
        tasks,
        mean_delay_ms: nan,
        p95_delay_ms: nan,
        interruption_rate: nan,
        interruption_events_per_100: nan,
        mean_interruption_len: nan,
        rb_util: nan,
        cu_util: nan,
        cache_util: nan,
        backhaul_gb: nan,
        handovers_per_min: nan,
        cost,
        decision_ms_mean: nan,
        decision_ms_p95: nan,
    }
}

/// The bound of `seed` among `runs`, if they hold one.
pub fn bound_of(runs: &[PolicyRun], seed: u64) -> Option<f64> {
    runs.iter().find(|r| r.policy == BOUND && r.seed == seed).map(|r| r.summary.cost)
}

/// Whether a run cost is below its seed's lower bound, beyond the solver's tolerance.
pub fn below_bound(cost: f64, bound: f64) -> bool {
    cost < bound - BOUND_TOLERANCE * bound.abs().max(1.0)
}

/// A bound above any policy's run cost of the same seed is a bug in the
/// bound: fail loudly, naming the seed and the policy, never clip.
pub fn check_bounds(runs: &[PolicyRun]) -> Result<()> {
    for r in runs.iter().filter(|r| r.policy != BOUND) {
        let Some(b) = bound_of(runs, r.seed) else { continue };
        if below_bound(r.summary.cost, b) {
            return Err(anyhow!(
                "seed {}: the lower bound {b:.6} is above {}'s run cost {:.6}; the bound is wrong (a bug), \
                 no results written",
                r.seed,
                r.policy,
                r.summary.cost
            ));
        }
    }
    Ok(())
}

/// Run every (seed, policy) of the plan; results in plan order (seed-major).
pub fn execute(plan: &Plan, show_progress: bool) -> Result<Vec<PolicyRun>> {
    let bar = progress_bar(plan, show_progress);
    let runs = execute_with(plan, &bar);
    bar.finish_and_clear();
    runs
}

/// The progress bar of a plan's run: a slot per tick (hidden unless `show`).
pub fn progress_bar(plan: &Plan, show: bool) -> ProgressBar {
    slot_bar(plan.total_slots(), format!("run {}", plan.scenario.name()), show)
}

/// A bar of `slots` ticks headed `prefix` (hidden unless `show`).
pub fn slot_bar(slots: u64, prefix: String, show: bool) -> ProgressBar {
    let bar = if show { ProgressBar::new(slots) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} slots  {elapsed} elapsed, ETA {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix);
    bar
}

impl Plan {
    /// Slots the plan simulates (all seeds and policies).
    pub fn total_slots(&self) -> u64 {
        self.scenario.config().slots as u64 * (self.seeds.len() * self.policies.len()) as u64
    }
}

/// [`execute`] advancing a caller's progress bar by one per slot.
pub fn execute_with(plan: &Plan, bar: &ProgressBar) -> Result<Vec<PolicyRun>> {
    let jobs = plan.jobs();
    let runs = run_jobs(plan, &jobs, bar, None)?;
    check_bounds(&runs)?;
    Ok(runs)
}

/// [`execute_with`] streaming each run's task rows into its own file in
/// `parts` (`tasks-<job>.parquet`) instead of keeping them.
pub fn execute_into(plan: &Plan, bar: &ProgressBar, parts: &std::path::Path) -> Result<Vec<PolicyRun>> {
    let jobs = plan.jobs();
    let runs = run_jobs(plan, &jobs, bar, Some(parts))?;
    check_bounds(&runs)?;
    Ok(runs)
}

impl Plan {
    /// The (seed index, policy) jobs, seed-major: the order of the results.
    pub fn jobs(&self) -> Vec<(usize, &str)> {
        (0..self.seeds.len()).flat_map(|w| self.policies.iter().map(move |p| (w, p.as_str()))).collect()
    }
}

/// Run these jobs in parallel (each seed's world built once); results in job
/// order. With `parts`, task rows are streamed to a file per job there.
fn run_jobs(
    plan: &Plan,
    jobs: &[(usize, &str)],
    bar: &ProgressBar,
    parts: Option<&std::path::Path>,
) -> Result<Vec<PolicyRun>> {
    let mut seeds: Vec<usize> = jobs.iter().map(|j| j.0).collect();
    seeds.sort_unstable();
    seeds.dedup();
    let worlds: Vec<(usize, World)> =
        seeds.par_iter().map(|&w| (w, World::build(&plan.scenario, plan.seeds[w]))).collect();
    let world = |w: usize| &worlds.iter().find(|x| x.0 == w).expect("built").1;
    jobs.par_iter()
        .enumerate()
        .map(|(k, &(w, p))| {
            #[cfg(feature = "milp")]
            if p == BOUND {
                return run_bound(world(w), &plan.options, Some(bar));
            }
            match parts {
                Some(dir) => {
                    run_policy_into(world(w), p, &plan.options, Some(bar), &dir.join(format!("tasks-{k:05}.parquet")))
                }
                None => run_policy(world(w), p, &plan.options, Some(bar)),
            }
        })
        .collect()
}

/// Relative work of one run of a policy, for splitting jobs over MPI ranks
/// (the registry's `work`; 1 for a name it does not have).
pub fn expected_work(policy: &str) -> u64 {
    solvers::registry::info(policy).map_or(1, |p| p.work)
}

/// The rank of each job: largest expected work first, each to the rank with
/// the least work so far (the lowest on ties). Every rank computes the same.
pub fn split_jobs(jobs: &[(usize, &str)], ranks: usize) -> Vec<usize> {
    let work: Vec<u64> = jobs.iter().map(|j| expected_work(j.1)).collect();
    crate::sweep::least_loaded(&work, ranks)
}

/// [`execute`] over MPI ranks: each rank runs its share of the jobs; rank 0
/// receives every run and returns them in plan order (the other ranks: none).
pub fn execute_across(plan: &Plan, show_progress: bool, ranks: &crate::ranks::Ranks) -> Result<Vec<PolicyRun>> {
    let jobs = plan.jobs();
    let rank_of = split_jobs(&jobs, ranks.size());
    let mine: Vec<usize> = (0..jobs.len()).filter(|&k| rank_of[k] == ranks.rank()).collect();
    let my_jobs: Vec<(usize, &str)> = mine.iter().map(|&k| jobs[k]).collect();
    let slots = plan.scenario.config().slots as u64 * my_jobs.len() as u64;
    let prefix = format!("run {} (rank 0 of {}: its share)", plan.scenario.name(), ranks.size());
    let bar = slot_bar(slots, prefix, show_progress);
    let runs = run_jobs(plan, &my_jobs, &bar, None)?;
    bar.finish_and_clear();
    let indexed: Vec<(usize, PolicyRun)> = mine.into_iter().zip(runs).collect();
    // Rank 0 keeps its own runs as they are; only the others are encoded and sent.
    let bytes = if ranks.is_root() { Vec::new() } else { crate::wire::encode(&indexed)? };
    let Some(parts) = ranks.gather_bytes(bytes)? else { return Ok(Vec::new()) };
    let mut all: Vec<Option<PolicyRun>> = vec![None; jobs.len()];
    let mut own = Some(indexed);
    for (r, bytes) in parts.iter().enumerate() {
        let part = if r == 0 { own.take().expect("rank 0's part once") } else { crate::wire::decode(bytes)? };
        for (k, run) in part {
            all[k] = Some(run);
        }
    }
    let runs: Vec<PolicyRun> = all
        .into_iter()
        .enumerate()
        .map(|(k, r)| r.ok_or_else(|| anyhow!("job {k} ({:?}) came back from no rank", jobs[k])))
        .collect::<Result<_>>()?;
    check_bounds(&runs)?;
    Ok(runs)
}

impl TaskColumns {
    pub fn append(&mut self, o: &TaskColumns) {
        macro_rules! ext {
            ($($f:ident),*) => { $( self.$f.extend_from_slice(&o.$f); )* };
        }
        ext!(
            policy,
            seed,
            slot,
            terminal,
            model,
            x_m,
            y_m,
            input_bytes,
            best_snr_db,
            kind,
            node,
            cut,
            rb,
            cu,
            device_ms,
            uplink_ms,
            edge_ms,
            cold_ms,
            handover_ms,
            delay_ms,
            deadline_ms,
            met,
            interrupted,
            reason,
            cost,
            handover
        );
    }
    pub fn len(&self) -> usize {
        self.slot.len()
    }
    pub fn is_empty(&self) -> bool {
        self.slot.is_empty()
    }
}

impl SlotColumns {
    pub fn append(&mut self, o: &SlotColumns) {
        macro_rules! ext {
            ($($f:ident),*) => { $( self.$f.extend_from_slice(&o.$f); )* };
        }
        ext!(policy, seed, slot, tasks, interrupted, cost, backhaul_bytes, rb_util, cu_util, cache_util, decision_ms);
        ext!(
            solver_status,
            solver_objective,
            solver_bound,
            solver_gap,
            solver_build_ms,
            solver_solve_ms,
            solver_vars,
            solver_binaries,
            solver_rows
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(policy: &str, seed: u64, cost: f64) -> PolicyRun {
        PolicyRun {
            policy: policy.into(),
            seed,
            terminals: 1,
            tasks: TaskColumns::default(),
            slots: SlotColumns::default(),
            summary: cost_only(1, 1, cost),
            solver: None,
            bound: None,
            tasks_file: None,
        }
    }

    #[test]
    fn jobs_split_over_ranks_spread_the_heavy_policies_first() {
        let policies = ["greedy", "milp-lookahead", "local", "milp", "bound", "milp-lookahead", "dppo"];
        let jobs: Vec<(usize, &str)> = policies.iter().enumerate().map(|(i, p)| (i, *p)).collect();
        let of = split_jobs(&jobs, 2);
        // The two lookahead runs (100 each) go to different ranks, then bound (50) and milp (20).
        assert_ne!(of[1], of[5]);
        assert_eq!((of[1], of[5], of[4], of[3]), (0, 1, 0, 1));
        let load =
            |r: usize| jobs.iter().zip(&of).filter(|(_, &k)| k == r).map(|(j, _)| expected_work(j.1)).sum::<u64>();
        assert!(load(0).abs_diff(load(1)) <= 50, "{} vs {}", load(0), load(1));
        assert!(split_jobs(&jobs, 1).iter().all(|&k| k == 0));
    }

    #[test]
    fn a_bound_above_a_policy_fails_naming_the_seed_and_the_policy() {
        let ok = vec![row("greedy", 1, 10.0), row(BOUND, 1, 9.0), row("greedy", 2, 5.0), row(BOUND, 2, 5.0)];
        assert!(check_bounds(&ok).is_ok());
        let bad = vec![row("greedy", 1, 10.0), row(BOUND, 1, 9.0), row("local", 2, 4.9), row(BOUND, 2, 5.0)];
        let e = check_bounds(&bad).unwrap_err().to_string();
        assert!(e.contains("seed 2") && e.contains("local"), "{e}");
    }
}
