//! `milp`: the exact optimum of one slot's cost (spec section 7) over the
//! decision space of section 4, solved with HiGHS through good_lp.
//!
//! Formulation (docs/model.md, "The MILP"): every offload option of a task,
//! (node, cut, rb level, cu level), is a binary whose cost is a constant of the
//! slot's starting state (its delay terms, cold start included, are fixed by
//! the option and by whether the model is cached at the node), plus a binary
//! for local and one for drop, exactly one per task; a binary per (node,
//! model) for the cache set, linked to the options that use it, with storage,
//! unit and compute capacities; the objective adds `β·s_m` for every model
//! that enters a cache. Offload options that miss the deadline cost `ω` and
//! use resources, so they are dominated by `drop` and left out; that leaves
//! the optimum unchanged.

use std::sync::Arc;
use std::time::Instant;

use good_lp::solvers::highs::highs;
use good_lp::{constraint, variable, Expression, ProblemVariables, SolverModel, Variable};
use highs::{HighsModelStatus, HighsSolutionStatus};

use scenarios::policy::SolverStats;
use scenarios::sim::{local_cost, offload_terms, task_cost, Link};
use scenarios::{Action, Decision, Environment, ModelId, Observation, Policy, PolicyError, TaskView};

use crate::greedy::Greedy;
use crate::options::{cheapest_cut_per_level, undominated};
use crate::MilpOptions;

/// How a planning MILP (`milp-lookahead`, `milp-oracle`) is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanSolve {
    /// One MILP over this slot's assignment, the forecast's and the cache
    /// set, all binary (`milp-lookahead-joint`, on request: the exact
    /// optimum of the planning model, five times slower).
    Joint,
    /// Two MILPs: the cache set first, with every assignment continuous in
    /// [0, 1] (the cache set the only binaries); then this slot exactly,
    /// `milp`'s model with that cache set fixed (docs/model.md §9a).
    CacheFirst,
}

#[derive(Debug)]
pub struct Milp {
    opts: MilpOptions,
    /// 1: the exact per-slot optimum; more: a planning MILP over that many slots.
    horizon_slots: usize,
    plan: PlanSolve,
    /// `milp-oracle`: every slot of the run, read by the forecast stage
    /// instead of the persistence forecast (a clairvoyant policy).
    future: Option<Arc<Vec<Observation>>>,
    last: Option<SolverStats>,
}

impl Milp {
    /// The exact per-slot MILP (`milp`).
    pub fn new(opts: MilpOptions) -> Milp {
        Milp { opts, horizon_slots: 1, plan: PlanSolve::Joint, future: None, last: None }
    }

    /// `milp-lookahead`: this slot exactly, plus `opts.horizon_slots − 1`
    /// forecast slots that share its cache set (docs/model.md §9a), solved
    /// as `plan` says (`milp-lookahead` is `CacheFirst`, `milp-lookahead-joint` `Joint`).
    pub fn lookahead(opts: MilpOptions, plan: PlanSolve) -> Milp {
        Milp { opts, horizon_slots: opts.horizon_slots.max(2), plan, future: None, last: None }
    }

    /// `milp-oracle`: `milp-lookahead` whose forecast stage reads the true
    /// next slots from `future` (every slot of the run, as
    /// `bound::slot_views` gives them). Not an online policy: it knows the
    /// future, so its run cost is one a clairvoyant planner reaches, an upper
    /// limit on the run optimum that the bound limits from below.
    pub fn oracle(opts: MilpOptions, future: Arc<Vec<Observation>>) -> Milp {
        Milp {
            opts,
            horizon_slots: opts.horizon_slots.max(2),
            plan: PlanSolve::CacheFirst,
            future: Some(future),
            last: None,
        }
    }
}

impl Default for Milp {
    fn default() -> Self {
        Milp::new(MilpOptions::default())
    }
}

/// One offload option of one task.
#[derive(Debug, Clone, Copy)]
struct Opt {
    task: usize,
    action: Action,
}

/// The model of one slot, before solving.
pub struct SlotModel {
    vars: ProblemVariables,
    objective: Expression,
    constraints: Vec<good_lp::Constraint>,
    /// Column index of each option's binary.
    options: Vec<(Opt, usize)>,
    local: Vec<usize>,
    cache: Vec<Vec<usize>>,
    pub binaries: usize,
}

/// Per node and model, whether the model is in the node's cache set.
pub type CacheSet = Vec<Vec<bool>>;

impl SlotModel {
    /// The cache set a solution (its column values) chose.
    fn cache_set(&self, cols: &[f64]) -> CacheSet {
        self.cache.iter().map(|row| row.iter().map(|&c| cols[c] > 0.5).collect()).collect()
    }
}

/// Whether the assignment columns (local, drop, offload options, fallback)
/// are binary or continuous in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignments {
    Binary,
    Continuous,
}

/// Columns, objective and rows of a model under construction.
struct Parts {
    vars: ProblemVariables,
    objective: Expression,
    constraints: Vec<good_lp::Constraint>,
    binaries: usize,
    /// Columns made so far, binary or not (a column's index is its rank).
    columns: usize,
    assignments: Assignments,
    /// The cache set when it is fixed: no option where the model is not in it.
    fixed_cache: Option<CacheSet>,
}

impl Parts {
    /// A new column and its index.
    fn column(&mut self, v: good_lp::VariableDefinition) -> (Variable, usize) {
        self.columns += 1;
        (self.vars.add(v), self.columns - 1)
    }

    /// A new binary.
    fn bin(&mut self) -> (Variable, usize) {
        self.binaries += 1;
        self.column(variable().binary())
    }

    /// A new assignment column: binary, or in [0, 1].
    fn assign(&mut self) -> (Variable, usize) {
        match self.assignments {
            Assignments::Binary => self.bin(),
            Assignments::Continuous => self.column(variable().min(0.0).max(1.0)),
        }
    }

    /// Cache membership of model `m` at node `n`: binary, or fixed by `fixed_cache`.
    fn cache(&mut self, n: usize, m: usize) -> (Variable, usize) {
        match self.fixed_cache.as_ref().map(|f| f[n][m]) {
            None => self.bin(),
            Some(v) => {
                let v = if v { 1.0 } else { 0.0 };
                self.column(variable().min(v).max(v))
            }
        }
    }
}

/// One assignment of every task (this slot's, or the forecast's): its unit
/// and compute use per node.
struct Stage {
    rb_use: Vec<Expression>,
    cu_use: Vec<Expression>,
}

impl Stage {
    fn new(n_nodes: usize) -> Stage {
        Stage { rb_use: vec![Expression::default(); n_nodes], cu_use: vec![Expression::default(); n_nodes] }
    }

    /// Task `i`'s offload options in this stage: a binary for every option
    /// that `cost(node, link, model ready time, cut, rb, cu)` prices (None:
    /// dominated, left out), with its cost and its units; per accessible node
    /// the rule that an option there needs the task's model in the node's
    /// cache set; and `one == 1` over the task's other choices `one` and its
    /// options. Returns the options made with their columns.
    #[allow(clippy::too_many_arguments)]
    fn add_task(
        &mut self,
        p: &mut Parts,
        env: &Environment,
        obs: &Observation,
        i: usize,
        cache: &[Vec<Variable>],
        mut one: Expression,
        mut cost: impl FnMut(usize, &Link, f64, usize, u32, u32) -> Option<f64>,
    ) -> Vec<(Action, usize)> {
        let model = obs.tasks[i].model;
        let mut made = Vec::new();
        for (n, cache_at_n) in cache.iter().enumerate() {
            let link = obs.link(i, n);
            if !link.accessible || p.fixed_cache.as_ref().is_some_and(|f| !f[n][model]) {
                continue;
            }
            let ready = obs.model_ready_at(env, n, model);
            let mut at_node = Expression::default();
            // Exact reductions (crate::options): the cheapest cut per level pair, undominated options.
            let per_level = cheapest_cut_per_level(env, n, env.model(model).offload_cuts(), |cut, rb, cu| {
                cost(n, link, ready, cut, rb, cu)
            });
            for (c, rb, cu, cut) in undominated(per_level) {
                let (x, col) = p.assign();
                p.objective += c * x;
                one += x;
                at_node += x;
                self.rb_use[n] += f64::from(rb) * x;
                self.cu_use[n] += f64::from(cu) * x;
                made.push((Action::Offload { node: n, cut, rb, cu }, col));
            }
            p.constraints.push(constraint!(at_node <= cache_at_n[model]));
        }
        p.constraints.push(constraint!(one == 1));
        made
    }

    /// The stage's unit and compute capacity rows.
    fn close(self, p: &mut Parts, env: &Environment) {
        for (n, (rb, cu)) in self.rb_use.into_iter().zip(self.cu_use).enumerate() {
            p.constraints.push(constraint!(rb <= f64::from(env.nodes[n].rb_units)));
            p.constraints.push(constraint!(cu <= f64::from(env.nodes[n].cu_units)));
        }
    }
}

/// Build the MILP of the slot described by `obs`; with `horizon_slots > 1`,
/// add the forecast stage of `milp-lookahead` (see `add_forecast_stage`).
pub fn build(env: &Environment, obs: &Observation, horizon_slots: usize) -> SlotModel {
    build_with(env, obs, horizon_slots, None, Assignments::Binary, None)
}

/// [`build`], with the forecast stage reading the true next slots from
/// `future` when given (`milp-oracle`), binary or continuous assignments,
/// and the cache set left to the solver or fixed (then a task has no option
/// at a node whose set lacks its model).
pub fn build_with(
    env: &Environment,
    obs: &Observation,
    horizon_slots: usize,
    future: Option<&[Observation]>,
    assignments: Assignments,
    fixed_cache: Option<&CacheSet>,
) -> SlotModel {
    let n_nodes = env.nodes.len();
    let n_models = env.catalogue().len();
    let mut p = Parts {
        vars: ProblemVariables::new(),
        objective: Expression::default(),
        constraints: Vec::new(),
        binaries: 0,
        columns: 0,
        assignments,
        fixed_cache: fixed_cache.cloned(),
    };
    let mut cache_cols: Vec<Vec<usize>> = Vec::with_capacity(n_nodes);
    // Cache binaries and the download cost of models that are not cached yet.
    let mut cache: Vec<Vec<Variable>> = Vec::with_capacity(n_nodes);
    for n in 0..n_nodes {
        let (mut row, mut cols) = (Vec::with_capacity(n_models), Vec::with_capacity(n_models));
        for m in 0..n_models {
            let (h, col) = p.cache(n, m);
            if obs.cache_entry(n, m).is_none() {
                p.objective += env.backhaul_cost_per_byte * env.model(m).weights_bytes * h;
            }
            row.push(h);
            cols.push(col);
        }
        cache.push(row);
        cache_cols.push(cols);
    }
    for (n, row) in cache.iter().enumerate() {
        // In MB: bytes make coefficients of 1e8 that slow HiGHS down.
        let used: Expression = row.iter().enumerate().map(|(m, &h)| env.model(m).weights_bytes * 1e-6 * h).sum();
        p.constraints.push(constraint!(used <= env.nodes[n].cache_bytes * 1e-6));
    }
    let mut options: Vec<(Opt, usize)> = Vec::new();
    let mut local = Vec::with_capacity(obs.tasks.len());
    let mut stage = Stage::new(n_nodes);
    for (i, task) in obs.tasks.iter().enumerate() {
        let (l, l_col) = p.assign();
        let (d, _) = p.assign();
        local.push(l_col);
        p.objective += local_cost(env, task) * l + env.interruption_cost * d;
        let made = stage.add_task(&mut p, env, obs, i, &cache, l + d, |n, link, ready, cut, rb, cu| {
            let t = offload_terms(env, task, link, n, cut, rb, cu, ready, obs.time_s).total();
            // Late: costs ω and uses resources, dominated by drop.
            (t <= task.deadline_s).then(|| task_cost(env, t, task.deadline_s))
        });
        options.extend(made.into_iter().map(|(action, col)| (Opt { task: i, action }, col)));
    }
    stage.close(&mut p, env);
    if horizon_slots > 1 {
        add_forecast_stage(env, obs, horizon_slots, future, &cache, &mut p);
    }
    let Parts { vars, objective, constraints, binaries, .. } = p;
    SlotModel { vars, objective, constraints, options, local, cache: cache_cols, binaries }
}

/// The forecast stage of `milp-lookahead`: the next `horizon_slots − 1`
/// slots, forecast by persistence (the same terminals ask for the same models
/// with the same inputs, deadlines and links; nothing from the future is
/// read), served from this slot's cache set `h` by one assignment that holds
/// over all of them. An offload option costs, summed over those slots, its
/// task cost in the slots where it meets the deadline (the cold start shrinks
/// as the download proceeds) and the task's fallback, `min(local, ω)`, in the
/// others; the handover is left out (paid once, not in every slot). The
/// stage has its own unit and compute capacities and no download cost:
/// downloads are paid in this slot. It gives the cache set the value it has
/// for later slots, which the per-slot optimum cannot see.
fn add_forecast_stage(
    env: &Environment,
    obs: &Observation,
    horizon_slots: usize,
    future: Option<&[Observation]>,
    cache: &[Vec<Variable>],
    p: &mut Parts,
) {
    let later = horizon_slots - 1;
    let mut stage = Stage::new(env.nodes.len());
    let fallback_of = |t: &TaskView| local_cost(env, t).min(env.interruption_cost);
    for (i, task) in obs.tasks.iter().enumerate() {
        let fallback = fallback_of(task);
        // No handover term in the forecast slots.
        let settled = TaskView { last_edge: None, ..task.clone() };
        // `milp-oracle`: the terminal's true task, links and fallback in each
        // forecast slot (None when it has no task then, or the run is over).
        let truth: Vec<Option<(TaskView, &[Link], f64)>> = future
            .map(|views| {
                (1..=later)
                    .map(|k| {
                        let v = views.get(obs.slot + k)?;
                        let j = v.tasks.iter().position(|t| t.terminal == task.terminal)?;
                        let t = TaskView { last_edge: None, ..v.tasks[j].clone() };
                        let fb = fallback_of(&t);
                        Some((t, v.links_of(j), fb))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let total_fallback = match future {
            None => later as f64 * fallback,
            Some(_) => truth.iter().flatten().map(|x| x.2).sum(),
        };
        let (f, _) = p.assign();
        p.objective += total_fallback * f;
        stage.add_task(p, env, obs, i, cache, f.into(), |n, link, ready, cut, rb, cu| {
            let cost: f64 = if future.is_some() {
                truth
                    .iter()
                    .enumerate()
                    .map(|(k0, x)| match x {
                        None => 0.0,
                        Some((t, links, fb)) => {
                            let when = obs.time_s + (k0 + 1) as f64 * env.slot_s;
                            let warm = offload_terms(env, t, &links[n], n, cut, rb, cu, when, when).total();
                            task_cost(env, warm + (ready - when).max(0.0), t.deadline_s).min(*fb)
                        }
                    })
                    .sum()
            } else {
                // Delay without the cold start; the cold start per forecast slot.
                let warm = offload_terms(env, &settled, link, n, cut, rb, cu, obs.time_s, obs.time_s).total();
                if warm > task.deadline_s {
                    return None; // late in every slot: dominated by the fallback
                }
                (1..=later)
                    .map(|k| {
                        let cold = (ready - (obs.time_s + k as f64 * env.slot_s)).max(0.0);
                        task_cost(env, warm + cold, task.deadline_s).min(fallback)
                    })
                    .sum()
            };
            // Never better than the fallback, and uses units: left out.
            (cost < total_fallback).then_some(cost)
        });
    }
    stage.close(p, env);
}

/// Per node, the models of `chosen` and then the models already cached and
/// not chosen, most recently used first, while they fit (keeping a cached
/// model costs nothing this slot).
fn cache_lists(env: &Environment, obs: &Observation, chosen: &CacheSet) -> Vec<Vec<ModelId>> {
    (0..env.nodes.len())
        .map(|n| {
            let mut set: Vec<ModelId> = (0..env.catalogue().len()).filter(|&k| chosen[n][k]).collect();
            let mut used: f64 = set.iter().map(|&k| env.model(k).weights_bytes).sum();
            let mut kept: Vec<_> = obs.caches[n].iter().filter(|e| !set.contains(&e.model)).collect();
            kept.sort_by_key(|e| (std::cmp::Reverse(e.last_used), e.model));
            for e in kept {
                let s = env.model(e.model).weights_bytes;
                if used + s <= env.nodes[n].cache_bytes {
                    used += s;
                    set.push(e.model);
                }
            }
            set
        })
        .collect()
}

/// The decision a solution encodes, with the cache lists of `cache_lists`.
fn decode(env: &Environment, obs: &Observation, m: &SlotModel, cols: &[f64]) -> Decision {
    let mut actions = vec![Action::Drop; obs.tasks.len()];
    for (i, &l) in m.local.iter().enumerate() {
        if cols[l] > 0.5 {
            actions[i] = Action::Local;
        }
    }
    for (opt, x) in &m.options {
        if cols[*x] > 0.5 {
            actions[opt.task] = opt.action;
        }
    }
    let caches = cache_lists(env, obs, &m.cache_set(cols));
    Decision { caches, actions }
}

impl Policy for Milp {
    fn name(&self) -> &str {
        if self.future.is_some() {
            "milp-oracle"
        } else if self.horizon_slots > 1 && self.plan == PlanSolve::Joint {
            "milp-lookahead-joint"
        } else if self.horizon_slots > 1 {
            "milp-lookahead"
        } else {
            "milp"
        }
    }

    fn stats(&self) -> Option<&SolverStats> {
        self.last.as_ref()
    }

    fn decide(&mut self, env: &Environment, obs: &Observation) -> Result<Decision, PolicyError> {
        let started = Instant::now();
        let future = self.future.as_deref().map(|v| v.as_slice());
        let mut stats = SolverStats {
            status: "fallback".into(),
            objective: f64::NAN,
            bound: f64::NAN,
            gap: f64::NAN,
            build_s: 0.0,
            solve_s: 0.0,
            vars: 0,
            binaries: 0,
            rows: 0,
        };
        let solved = if self.horizon_slots > 1 && self.plan == PlanSolve::CacheFirst {
            // The cache set of the plan with continuous assignments, then
            // this slot exactly from it; the second solve gets the time left.
            let mut plan = build_with(env, obs, self.horizon_slots, future, Assignments::Continuous, None);
            solve(&mut plan, self.opts.time_limit_s, self.opts.rel_gap, Tuning::Small, &mut stats, started)
                .map(|cols| {
                    // The planned set and the cached models kept beside it:
                    // this slot may use all of them.
                    let lists = cache_lists(env, obs, &plan.cache_set(&cols));
                    let n_models = env.catalogue().len();
                    lists.iter().map(|l| (0..n_models).map(|k| l.contains(&k)).collect()).collect::<CacheSet>()
                })
                .and_then(|set| {
                    // Its building counts as build time too.
                    let building = Instant::now();
                    let mut m = build_with(env, obs, 1, None, Assignments::Binary, Some(&set));
                    let left = (self.opts.time_limit_s - started.elapsed().as_secs_f64()).max(1e-3);
                    let cols = solve(&mut m, left, self.opts.rel_gap, Tuning::Small, &mut stats, building)?;
                    Some((m, cols))
                })
        } else {
            let mut m = build_with(env, obs, self.horizon_slots, future, Assignments::Binary, None);
            solve(&mut m, self.opts.time_limit_s, self.opts.rel_gap, Tuning::Default, &mut stats, started)
                .map(|cols| (m, cols))
        };
        let decision = match solved {
            Some((m, cols)) => decode(env, obs, &m, &cols),
            None => {
                stats.status = "fallback".into();
                Greedy.decide(env, obs)?
            }
        };
        self.last = Some(stats);
        Ok(decision)
    }
}

/// HiGHS settings of a solve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tuning {
    /// HiGHS's defaults (`milp`, `milp-lookahead-joint`).
    Default,
    /// For the two small MILPs of `CacheFirst`, solved at the root node: no
    /// presolve, symmetry detection, restart or sub-MIP, RINS, RENS,
    /// reduced-cost and feasibility-jump heuristics. They change the time,
    /// not the optimum (to the gap); HiGHS spent most of each solve in them
    /// (docs/measurements.md).
    Small,
}

/// Solve `m` with HiGHS within `time_limit_s`; its column values when a
/// feasible solution was found. Adds its size and times (from `started`,
/// model building included) to `stats` and sets its status, objective, gap
/// and bound (a later solve overwrites them, except that the status only
/// gets worse).
fn solve(
    m: &mut SlotModel,
    time_limit_s: f64,
    rel_gap: f64,
    tuning: Tuning,
    stats: &mut SolverStats,
    started: Instant,
) -> Option<Vec<f64>> {
    let vars = std::mem::replace(&mut m.vars, ProblemVariables::new());
    let objective = std::mem::take(&mut m.objective);
    let constraints = std::mem::take(&mut m.constraints);
    stats.vars += vars.len();
    stats.rows += constraints.len();
    stats.binaries += m.binaries;
    let mut problem = vars.minimise(objective).using(highs);
    for c in constraints {
        problem = problem.with(c);
    }
    let mut model = problem.into_inner();
    // One thread per solve: parallelism comes from solving runs side by side.
    model.set_option("threads", 1i32);
    model.set_option("time_limit", time_limit_s);
    model.set_option("mip_rel_gap", rel_gap);
    model.set_option("output_flag", false);
    if tuning == Tuning::Small {
        model.set_option("presolve", "off");
        model.set_option("mip_detect_symmetry", false);
        model.set_option("mip_allow_restart", false);
        for heuristic in ["rins", "rens", "root_reduced_cost", "feasibility_jump"] {
            model.set_option(format!("mip_heuristic_run_{heuristic}"), false);
        }
    }
    stats.build_s += started.elapsed().as_secs_f64();
    let solve_start = Instant::now();
    let solved = model.try_solve();
    stats.solve_s += solve_start.elapsed().as_secs_f64();
    let s = solved.ok()?;
    let status = s.status();
    let feasible = s.primal_solution_status() == HighsSolutionStatus::Feasible;
    if !feasible || matches!(status, HighsModelStatus::Infeasible | HighsModelStatus::ModelError) {
        return None;
    }
    let cols = s.get_solution().columns().to_vec();
    let objective = s.objective_value();
    let gap = s.mip_gap();
    let gap = if gap.is_finite() { gap.max(0.0) } else { 0.0 };
    stats.objective = objective;
    stats.gap = if stats.gap.is_nan() { gap } else { stats.gap.max(gap) };
    stats.bound = objective - gap * objective.abs();
    let this = match status {
        HighsModelStatus::Optimal if gap <= 1e-9 => "optimal",
        HighsModelStatus::Optimal => "gap_limit",
        _ => "time_limit",
    };
    // The worse of this solve's status and an earlier one's.
    let rank = |s: &str| ["optimal", "gap_limit", "time_limit"].iter().position(|&x| x == s).unwrap_or(0);
    if stats.status == "fallback" || rank(this) > rank(&stats.status) {
        stats.status = this.into();
    }
    Some(cols)
}
