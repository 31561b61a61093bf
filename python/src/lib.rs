//! `edgebench._edgebench`: the simulator for Python (the package `edgebench`
//! wraps it as a Gymnasium environment, python/edgebench/env.py).
//!
//! Fixed shapes for a scenario with T terminals, N nodes, M models, C cut
//! slots, L_rb and L_cu levels (every terminal has at most one task a slot,
//! so tasks are indexed by terminal):
//!
//! - observation (float64 arrays, fresh on every call): `task_mask` (T),
//!   `task` (T, 9: model, input MB, deadline s, device GFLOP/s, x m, y m,
//!   vx, vy m/s, last edge node or −1), `links` (T, N, 3: accessible, SNR dB
//!   (−200 out of range), rate Mbit/s on one unit), `cache` (N, M, 3: cached,
//!   seconds until ready, slot last used or −1), `time` (2: slot, slots left);
//! - action (int64, length 4T + N·M): per terminal target (0 local, 1 drop,
//!   2 + n offload to node n), cut, RB level index, CU level index; then per
//!   (node, model) keep-or-fetch (0/1). It is made valid by
//!   `solvers::dppo::decode::decode_requested` (the DPPO decoder's rule) and
//!   the number of changed choices is reported.

use std::path::PathBuf;
use std::time::SystemTime;

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;
use scenarios::sim::{observe, transition};
use scenarios::world::SlotDraws;
use scenarios::{Decision, Environment, Observation, Policy, PolicyError, Scenario, SimState, World};
use solvers::dppo::decode::{decode_requested, HeadShape, Requested};

/// Features per task row and per link, per cache cell.
const TASK_FEATURES: usize = 9;
const LINK_FEATURES: usize = 3;
const CACHE_FEATURES: usize = 3;
/// The SNR of a node out of any possible range (−∞ in the simulator).
const SNR_OUT_OF_RANGE: f64 = -200.0;

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Bad input (the CLI's exit 2) is a `ValueError` with the CLI's message, anything else a `RuntimeError`.
fn harness_error(e: anyhow::Error) -> PyErr {
    let msg = format!("{e:#}").replace('\n', " ");
    if harness::error::exit_code(&e) == harness::error::EXIT_BAD_INPUT {
        PyValueError::new_err(msg)
    } else {
        PyRuntimeError::new_err(msg)
    }
}

/// A preset name or scenario file, with the CLI's overrides.
fn load_scenario(spec: &str, slots: Option<usize>, terminals: Option<usize>) -> PyResult<Scenario> {
    let mut s = harness::resolve_scenario(spec).map_err(value_error)?;
    if let Some(n) = slots {
        if n == 0 {
            return Err(value_error("slots: expected a positive integer, got 0"));
        }
        s = s.with_slots(n, "slots").map_err(value_error)?;
    }
    if let Some(n) = terminals {
        if n == 0 {
            return Err(value_error("terminals: expected a positive integer, got 0"));
        }
        s = s.with_terminals(n, "terminals").map_err(value_error)?;
    }
    Ok(s)
}

/// The fixed shapes of a scenario.
#[derive(Debug, Clone, Copy)]
struct Dims {
    terminals: usize,
    slots: usize,
    shape: HeadShape,
}

impl Dims {
    fn of(world: &World) -> Dims {
        Dims { terminals: world.terminals(), slots: world.slots(), shape: HeadShape::of(&world.env) }
    }
    fn action_len(&self) -> usize {
        4 * self.terminals + self.shape.nodes * self.shape.models
    }
    /// Choices of each action entry (gymnasium's `MultiDiscrete.nvec`).
    fn nvec(&self) -> Vec<i64> {
        let s = &self.shape;
        let mut v = Vec::with_capacity(self.action_len());
        for _ in 0..self.terminals {
            v.extend([(2 + s.nodes) as i64, s.cuts as i64, s.rb_levels as i64, s.cu_levels as i64]);
        }
        v.extend(std::iter::repeat_n(2, s.nodes * s.models));
        v
    }
}

/// Observation arrays of one or more environments, appended in order.
#[derive(Default)]
struct ObsBuf {
    task_mask: Vec<f64>,
    task: Vec<f64>,
    links: Vec<f64>,
    cache: Vec<f64>,
    time: Vec<f64>,
}

impl ObsBuf {
    /// Append the observation `obs` (or, `done`, the empty one after the last slot).
    fn push(&mut self, obs: &Observation, dims: &Dims, done: bool) {
        let (t, n, m) = (dims.terminals, dims.shape.nodes, dims.shape.models);
        let (mask0, task0, links0) = (self.task_mask.len(), self.task.len(), self.links.len());
        self.task_mask.resize(mask0 + t, 0.0);
        self.task.resize(task0 + t * TASK_FEATURES, 0.0);
        self.links.resize(links0 + t * n * LINK_FEATURES, 0.0);
        if !done {
            for (i, task) in obs.tasks.iter().enumerate() {
                let u = task.terminal;
                self.task_mask[mask0 + u] = 1.0;
                let row = &mut self.task[task0 + u * TASK_FEATURES..task0 + (u + 1) * TASK_FEATURES];
                row.copy_from_slice(&[
                    task.model as f64,
                    task.input_bytes / 1e6,
                    task.deadline_s,
                    task.device_flops / 1e9,
                    task.pos[0],
                    task.pos[1],
                    task.vel[0],
                    task.vel[1],
                    task.last_edge.map_or(-1.0, |e| e as f64),
                ]);
                for (k, l) in obs.links_of(i).iter().enumerate() {
                    let at = links0 + (u * n + k) * LINK_FEATURES;
                    let snr = if l.snr_db.is_finite() { l.snr_db } else { SNR_OUT_OF_RANGE };
                    self.links[at..at + LINK_FEATURES].copy_from_slice(&[
                        f64::from(u8::from(l.accessible)),
                        snr,
                        l.rate_bps / 1e6,
                    ]);
                }
            }
        }
        let cache0 = self.cache.len();
        self.cache.resize(cache0 + n * m * CACHE_FEATURES, 0.0);
        for (node, entries) in obs.caches.iter().enumerate() {
            for e in entries {
                let at = cache0 + (node * m + e.model) * CACHE_FEATURES;
                self.cache[at..at + CACHE_FEATURES].copy_from_slice(&[
                    1.0,
                    (e.ready_at - obs.time_s).max(0.0),
                    e.last_used.map_or(-1.0, |s| s as f64),
                ]);
            }
        }
        let slot = if done { dims.slots } else { obs.slot };
        self.time.extend([slot as f64, (dims.slots - slot) as f64]);
    }

    /// The arrays as a dict, each with `lead` (the batch, or nothing) before its own shape.
    fn into_dict<'py>(self, py: Python<'py>, dims: &Dims, lead: &[usize]) -> PyResult<Bound<'py, PyDict>> {
        let (t, n, m) = (dims.terminals, dims.shape.nodes, dims.shape.models);
        let d = PyDict::new(py);
        let shaped = |v: Vec<f64>, own: &[usize]| -> PyResult<Bound<'py, PyAny>> {
            let shape: Vec<usize> = lead.iter().chain(own).copied().collect();
            Ok(PyArray1::from_vec(py, v).reshape(shape)?.into_any())
        };
        d.set_item("task_mask", shaped(self.task_mask, &[t])?)?;
        d.set_item("task", shaped(self.task, &[t, TASK_FEATURES])?)?;
        d.set_item("links", shaped(self.links, &[t, n, LINK_FEATURES])?)?;
        d.set_item("cache", shaped(self.cache, &[n, m, CACHE_FEATURES])?)?;
        d.set_item("time", shaped(self.time, &[2])?)?;
        Ok(d)
    }
}

/// The request an action vector makes, for the tasks of `obs`; wrong
/// lengths and out-of-range entries are `ValueError`s naming the entry.
fn requested(obs: &Observation, dims: &Dims, action: &[i64]) -> PyResult<Requested> {
    if action.len() != dims.action_len() {
        return Err(value_error(format!(
            "action: expected {} integers (4 per terminal for {} terminals, then one per node and model), got {}",
            dims.action_len(),
            dims.terminals,
            action.len()
        )));
    }
    for (k, (&a, &n)) in action.iter().zip(&dims.nvec()).enumerate() {
        if !(0..n).contains(&a) {
            return Err(value_error(format!("action[{k}]: expected an integer in [0, {n}), got {a}")));
        }
    }
    let mut r = Requested::default();
    for task in &obs.tasks {
        let base = 4 * task.terminal;
        r.option.push(action[base] as usize);
        r.cut.push(action[base + 1] as usize);
        r.rb.push(action[base + 2] as usize);
        r.cu.push(action[base + 3] as usize);
    }
    r.keep = action[4 * dims.terminals..].iter().map(|&k| k == 1).collect();
    Ok(r)
}

/// Which choices of each action entry can be valid (for masked agents):
/// a task's reachable targets and its model's cuts; for a terminal without a
/// task, only the first choice of each entry.
fn action_mask(env: &Environment, obs: &Observation, dims: &Dims, out: &mut Vec<bool>) {
    let s = &dims.shape;
    let start = out.len();
    let per_terminal = (2 + s.nodes) + s.cuts + s.rb_levels + s.cu_levels;
    for _ in 0..dims.terminals {
        for len in [2 + s.nodes, s.cuts, s.rb_levels, s.cu_levels] {
            out.push(true);
            out.extend(std::iter::repeat_n(false, len - 1));
        }
    }
    for (i, task) in obs.tasks.iter().enumerate() {
        let at = start + task.terminal * per_terminal;
        out[at + 1] = true;
        for (n, l) in obs.links_of(i).iter().enumerate() {
            out[at + 2 + n] = l.accessible;
        }
        let cuts = env.model(task.model).offload_cuts().max(1);
        out[at + 2 + s.nodes..at + 2 + s.nodes + cuts].fill(true);
        let lv = at + 2 + s.nodes + s.cuts;
        out[lv..lv + s.rb_levels + s.cu_levels].fill(true);
    }
    out.extend(std::iter::repeat_n(true, 2 * s.nodes * s.models));
}

/// One environment: a world and its state.
struct Core {
    scenario: Scenario,
    seed: u64,
    world: World,
    draws: SlotDraws,
    state: SimState,
    obs: Observation,
    dims: Dims,
}

/// What one step did.
struct Stepped {
    reward: f64,
    done: bool,
    changed: usize,
    tasks: usize,
    interrupted: usize,
}

impl Core {
    fn new(scenario: Scenario, seed: u64) -> Core {
        let world = World::build(&scenario, seed);
        let state = SimState::initial(world.env.nodes.len(), world.terminals());
        let mut obs = Observation::default();
        let mut draws = world.draws();
        observe(&world, &mut draws, &state, &mut obs);
        let dims = Dims::of(&world);
        Core { scenario, seed, world, draws, state, obs, dims }
    }
    fn reset(&mut self, seed: u64) {
        *self = Core::new(self.scenario.clone(), seed);
    }
    fn done(&self) -> bool {
        self.state.slot >= self.world.slots()
    }
    fn step(&mut self, req: &Requested) -> PyResult<Stepped> {
        if self.done() {
            return Err(value_error("step: the episode is over; call reset()"));
        }
        let (decision, changed) = decode_requested(&self.world.env, &self.obs, req);
        let (outcome, next) = transition(&self.world.env, &self.state, &self.obs, &decision)
            .map_err(|e| PyRuntimeError::new_err(format!("a repaired action was invalid (a bug): {e}")))?;
        self.state = next;
        if !self.done() {
            observe(&self.world, &mut self.draws, &self.state, &mut self.obs);
        }
        Ok(Stepped {
            reward: -outcome.cost,
            done: self.done(),
            changed,
            tasks: outcome.tasks.len(),
            interrupted: outcome.tasks.iter().filter(|t| t.interrupted).count(),
        })
    }
    fn push_obs(&self, buf: &mut ObsBuf) {
        buf.push(&self.obs, &self.dims, self.done());
    }
}

fn step_info<'py>(py: Python<'py>, s: &Stepped, core: &Core) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("changed", s.changed)?;
    d.set_item("cost", -s.reward)?;
    d.set_item("tasks", s.tasks)?;
    d.set_item("interrupted", s.interrupted)?;
    d.set_item("slot", core.state.slot)?;
    Ok(d)
}

/// Shapes and static facts of a scenario, for building spaces and agents.
fn dims_dict<'py>(py: Python<'py>, core: &Core) -> PyResult<Bound<'py, PyDict>> {
    let env = &core.world.env;
    let dims = &core.dims;
    let d = PyDict::new(py);
    d.set_item("scenario", core.scenario.name())?;
    d.set_item("terminals", dims.terminals)?;
    d.set_item("nodes", dims.shape.nodes)?;
    d.set_item("models", dims.shape.models)?;
    d.set_item("cuts", dims.shape.cuts)?;
    d.set_item("slots", dims.slots)?;
    d.set_item("slot_s", env.slot_s)?;
    d.set_item("nvec", dims.nvec())?;
    d.set_item("rb_levels", env.rb_levels.clone())?;
    d.set_item("cu_levels", env.cu_levels.clone())?;
    d.set_item("node_rb_units", env.nodes.iter().map(|n| n.rb_units).collect::<Vec<_>>())?;
    d.set_item("node_cu_units", env.nodes.iter().map(|n| n.cu_units).collect::<Vec<_>>())?;
    d.set_item("node_cache_bytes", env.nodes.iter().map(|n| n.cache_bytes).collect::<Vec<_>>())?;
    let models = &env.catalogue().models;
    d.set_item("model_names", models.iter().map(|m| m.name.clone()).collect::<Vec<_>>())?;
    d.set_item("model_weights_bytes", models.iter().map(|m| m.weights_bytes).collect::<Vec<_>>())?;
    d.set_item("model_cuts", models.iter().map(|m| m.offload_cuts()).collect::<Vec<_>>())?;
    d.set_item("interruption_cost", env.interruption_cost)?;
    Ok(d)
}

/// One environment of a scenario and seed (`edgebench.EdgeEnv` wraps it).
#[pyclass(module = "edgebench._edgebench")]
struct Sim {
    core: Core,
}

#[pymethods]
impl Sim {
    #[new]
    #[pyo3(signature = (scenario, seed, slots=None, terminals=None))]
    fn new(scenario: &str, seed: u64, slots: Option<usize>, terminals: Option<usize>) -> PyResult<Sim> {
        Ok(Sim { core: Core::new(load_scenario(scenario, slots, terminals)?, seed) })
    }

    /// Redraw the world of `seed`, exactly as `edgebench run --seeds <seed>` does.
    fn reset(&mut self, seed: u64) {
        self.core.reset(seed);
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.core.seed
    }

    #[getter]
    fn slot(&self) -> usize {
        self.core.state.slot
    }

    /// Shapes and static facts (levels, units, models).
    fn dims<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dims_dict(py, &self.core)
    }

    /// The current observation (fresh arrays).
    fn observation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let mut buf = ObsBuf::default();
        self.core.push_obs(&mut buf);
        buf.into_dict(py, &self.core.dims, &[])
    }

    /// The action mask for the current slot (flat, `sum(nvec)` booleans).
    fn action_mask<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        let mut out = Vec::new();
        action_mask(&self.core.world.env, &self.core.obs, &self.core.dims, &mut out);
        PyArray1::from_vec(py, out)
    }

    /// Apply an action to this slot: (reward, terminated, info).
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        action: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<(f64, bool, Bound<'py, PyDict>)> {
        let action = action.as_slice().map_err(value_error)?;
        let req = requested(&self.core.obs, &self.core.dims, action)?;
        let s = self.core.step(&req)?;
        Ok((s.reward, s.done, step_info(py, &s, &self.core)?))
    }
}

/// Many environments of one scenario, stepped in one call (an environment
/// that finishes is reset to its next seed: seed + number of environments).
#[pyclass(module = "edgebench._edgebench")]
struct VecSim {
    cores: Vec<Core>,
}

#[pymethods]
impl VecSim {
    #[new]
    #[pyo3(signature = (scenario, seeds, slots=None, terminals=None))]
    fn new(scenario: &str, seeds: Vec<u64>, slots: Option<usize>, terminals: Option<usize>) -> PyResult<VecSim> {
        if seeds.is_empty() {
            return Err(value_error("seeds: expected at least one seed"));
        }
        let s = load_scenario(scenario, slots, terminals)?;
        Ok(VecSim { cores: seeds.iter().map(|&seed| Core::new(s.clone(), seed)).collect() })
    }

    fn reset(&mut self, seeds: Vec<u64>) -> PyResult<()> {
        if seeds.len() != self.cores.len() {
            return Err(value_error(format!("seeds: expected {} seeds, got {}", self.cores.len(), seeds.len())));
        }
        for (c, s) in self.cores.iter_mut().zip(seeds) {
            c.reset(s);
        }
        Ok(())
    }

    fn dims<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dims_dict(py, &self.cores[0])
    }

    #[getter]
    fn seeds(&self) -> Vec<u64> {
        self.cores.iter().map(|c| c.seed).collect()
    }

    /// Every environment's observation, stacked (batch first).
    fn observation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let mut buf = ObsBuf::default();
        for c in &self.cores {
            c.push_obs(&mut buf);
        }
        buf.into_dict(py, &self.cores[0].dims, &[self.cores.len()])
    }

    fn action_mask<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mut out = Vec::new();
        for c in &self.cores {
            action_mask(&c.world.env, &c.obs, &c.dims, &mut out);
        }
        let per = out.len() / self.cores.len();
        Ok(PyArray1::from_vec(py, out).reshape([self.cores.len(), per])?.into_any())
    }

    /// Step every environment with its row of `actions`: (rewards, terminated,
    /// changed); a terminated environment is reset to its next seed, so the
    /// next observation is its new world's first slot.
    #[allow(clippy::type_complexity)]
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: PyReadonlyArray2<'py, i64>,
    ) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<bool>>, Bound<'py, PyArray1<i64>>)> {
        let shape = actions.shape();
        if shape[0] != self.cores.len() {
            return Err(value_error(format!("actions: expected {} rows, got {}", self.cores.len(), shape[0])));
        }
        let view = actions.as_array();
        let reqs: Vec<Requested> = self
            .cores
            .iter()
            .zip(view.rows())
            .map(|(c, row)| requested(&c.obs, &c.dims, &row.to_vec()))
            .collect::<PyResult<_>>()?;
        let n = self.cores.len() as u64;
        // The worlds are independent: stepped in parallel, collected in order.
        let results: Vec<PyResult<Stepped>> = py.detach(|| {
            self.cores
                .par_iter_mut()
                .zip(&reqs)
                .map(|(c, r)| {
                    let s = c.step(r)?;
                    if s.done {
                        let next = c.seed.wrapping_add(n);
                        c.reset(next);
                    }
                    Ok(s)
                })
                .collect()
        });
        let (mut rewards, mut dones, mut changed) = (Vec::new(), Vec::new(), Vec::new());
        for r in results {
            let s = r?;
            rewards.push(s.reward);
            dones.push(s.done);
            changed.push(s.changed as i64);
        }
        Ok((PyArray1::from_vec(py, rewards), PyArray1::from_vec(py, dones), PyArray1::from_vec(py, changed)))
    }
}

/// A Python object with `decide(observation) -> action` as a policy of the harness.
struct PyPolicy {
    obj: Py<PyAny>,
    name: String,
    dims: Dims,
}

impl Policy for PyPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    fn reset(&mut self, _env: &Environment, seed: u64) {
        // A policy that samples may want its seed; optional.
        Python::attach(|py| {
            if self.obj.bind(py).hasattr("reset").unwrap_or(false) {
                let _ = self.obj.call_method1(py, "reset", (seed,));
            }
        });
    }

    fn decide(&mut self, env: &Environment, obs: &Observation) -> Result<Decision, PolicyError> {
        let failed = |message: String| PolicyError::Failed { policy: self.name.clone(), message };
        Python::attach(|py| -> PyResult<Decision> {
            let mut buf = ObsBuf::default();
            buf.push(obs, &self.dims, false);
            let o = buf.into_dict(py, &self.dims, &[])?;
            let a = self.obj.call_method1(py, "decide", (o,))?;
            let np = py.import("numpy")?;
            let arr = np.call_method1("asarray", (a, "int64"))?.call_method0("ravel")?;
            let arr: PyReadonlyArray1<i64> = arr.extract()?;
            let req = requested(obs, &self.dims, arr.as_slice().map_err(value_error)?)?;
            Ok(decode_requested(env, obs, &req).0)
        })
        .map_err(|e| failed(e.to_string()))
    }
}

/// Run built-in policies (by name) and Python policies (objects with
/// `decide`) on the same worlds; writes the CLI's results set into `out`.
#[pyfunction]
#[pyo3(signature = (scenario, seeds, policies, out, slots=None, terminals=None, checkpoint=None, milp_time_limit=None, threads=None))]
#[allow(clippy::too_many_arguments)]
fn run(
    py: Python<'_>,
    scenario: &str,
    seeds: Vec<u64>,
    policies: Vec<Bound<'_, PyAny>>,
    out: PathBuf,
    slots: Option<usize>,
    terminals: Option<usize>,
    checkpoint: Option<PathBuf>,
    milp_time_limit: Option<f64>,
    threads: Option<usize>,
) -> PyResult<PathBuf> {
    let started = SystemTime::now();
    // (name, Some(object) for a Python policy), in the order given.
    let mut named: Vec<(String, Option<Py<PyAny>>)> = Vec::new();
    for p in &policies {
        if let Ok(name) = p.extract::<String>() {
            named.push((name, None));
        } else if p.hasattr("decide")? {
            let name: String = match p.getattr("name") {
                Ok(n) => n.extract()?,
                Err(_) => p.get_type().name()?.extract()?,
            };
            if harness::default_policies().contains(&name) || solvers::on_request().contains(&name.as_str()) {
                return Err(value_error(format!(
                    "policies: a Python policy is named `{name}`, like a built-in one; give it another `name`"
                )));
            }
            named.push((name, Some(p.clone().unbind())));
        } else {
            return Err(value_error(format!(
                "policies: expected a built-in policy's name or an object with decide(observation), got {}",
                p.repr()?
            )));
        }
    }
    if named.is_empty() {
        return Err(value_error("policies: expected at least one policy"));
    }
    for (i, (n, _)) in named.iter().enumerate() {
        if named[..i].iter().any(|(m, _)| m == n) {
            return Err(value_error(format!("policies: `{n}` is listed twice")));
        }
    }
    let builtin: Vec<String> = named.iter().filter(|p| p.1.is_none()).map(|p| p.0.clone()).collect();
    let mut args = harness::RunArgs::new(scenario, &out);
    args.seeds = seeds;
    args.slots = slots;
    args.terminals = terminals;
    args.checkpoint = checkpoint;
    // None: the CLI's default (`solvers::MilpOptions::DEFAULT`).
    if let Some(limit) = milp_time_limit {
        args.milp.time_limit_s = limit;
    }
    args.threads = threads;
    // The plan checks the scenario, seeds and built-in names (`local` stands in when there are none).
    args.policies = if builtin.is_empty() { vec!["local".to_string()] } else { builtin.clone() };
    let plan = harness::plan_from_args(&args).map_err(value_error)?;
    let staging = harness::staging::Staging::new(&out).map_err(harness_error)?;
    let pool = harness::thread_pool(threads).map_err(harness_error)?;
    let builtin_plan = harness::run::Plan { policies: builtin.clone(), ..plan.clone() };
    let builtin_runs = if builtin.is_empty() {
        Vec::new()
    } else {
        py.detach(|| pool.install(|| harness::run::execute(&builtin_plan, false))).map_err(harness_error)?
    };
    let mut runs = Vec::with_capacity(plan.seeds.len() * named.len());
    let mut builtin_runs = builtin_runs.into_iter();
    for &seed in &plan.seeds {
        let world = World::build(&plan.scenario, seed);
        let dims = Dims::of(&world);
        for (name, obj) in &named {
            let run = match obj {
                None => builtin_runs.next().expect("one built-in run per seed and name"),
                Some(o) => {
                    let policy = PyPolicy { obj: o.clone_ref(py), name: name.clone(), dims };
                    harness::run::run_policy_with(&world, name, Box::new(policy), None).map_err(harness_error)?
                }
            };
            runs.push(run);
        }
    }
    harness::run::check_bounds(&runs).map_err(harness_error)?;
    let all = harness::run::Plan { policies: named.into_iter().map(|p| p.0).collect(), ..plan };
    harness::write_results(&all, &runs, staging, started, pool.current_num_threads()).map_err(harness_error)
}

/// Tables and figures of a results set (`edgebench report`); returns the report folder.
#[pyfunction]
#[pyo3(signature = (results, out=None))]
fn report(results: PathBuf, out: Option<PathBuf>) -> PyResult<PathBuf> {
    harness::cmd_report(&results, out.as_deref()).map_err(harness_error)
}

/// Built-in policies of this build (in the default set), and those run on request only.
#[pyfunction]
fn builtin_policies() -> (Vec<String>, Vec<String>) {
    (harness::default_policies(), solvers::on_request().iter().map(|s| s.to_string()).collect())
}

#[pymodule]
fn _edgebench(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Sim>()?;
    m.add_class::<VecSim>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    m.add_function(wrap_pyfunction!(builtin_policies, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_SEEDS", harness::DEFAULT_SEEDS.to_vec())?;
    Ok(())
}
