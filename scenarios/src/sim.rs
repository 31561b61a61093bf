//! The simulator: `state + decision → outcome + next state` (spec sections 4–7).
//!
//! [`transition`] is pure, so any decision can be evaluated from any state
//! (the MILP comparison needs that); [`Simulator`] drives a run.

use crate::catalogue::ModelId;
use crate::error::{InvalidDecision, Rule};
use crate::world::{Environment, SlotDraws, World};

/// What a policy decides for one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The whole model on the terminal (cut `L_m`).
    Local,
    /// Run the prefix up to `cut` on the terminal and the rest at `node`.
    Offload { node: usize, cut: usize, rb: u32, cu: u32 },
    /// Not served: an interruption.
    Drop,
}

impl Action {
    /// Every [`Action::kind`].
    pub const KINDS: [&'static str; 3] = ["local", "offload", "drop"];
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Local => "local",
            Action::Offload { .. } => "offload",
            Action::Drop => "drop",
        }
    }
}

/// A policy's decision for one slot: a cache set per node (what it holds from
/// this slot on) and one action per task of the observation, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    pub caches: Vec<Vec<ModelId>>,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheEntry {
    pub model: ModelId,
    /// Absolute time (s) at which the weights are on the node.
    pub ready_at: f64,
    /// Last slot in which a task used it (for LRU policies).
    pub last_used: Option<usize>,
}

/// Everything that carries over from one slot to the next.
#[derive(Debug, Clone, PartialEq)]
pub struct SimState {
    pub slot: usize,
    pub caches: Vec<Vec<CacheEntry>>,
    /// Edge node that last served each terminal (survives local and dropped slots).
    pub last_edge: Vec<Option<usize>>,
}

impl SimState {
    pub fn initial(nodes: usize, terminals: usize) -> SimState {
        SimState { slot: 0, caches: vec![Vec::new(); nodes], last_edge: vec![None; terminals] }
    }
}

/// One task as a policy sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    pub terminal: usize,
    pub model: ModelId,
    pub input_bytes: f64,
    pub deadline_s: f64,
    pub device_flops: f64,
    pub pos: [f64; 2],
    pub vel: [f64; 2],
    pub last_edge: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    /// SNR on one unit (−∞ when the node is out of any possible range).
    pub snr_db: f64,
    /// `r_un`, bit/s on one unit (0 when not accessible).
    pub rate_bps: f64,
    pub accessible: bool,
}

/// The state at the start of a slot, as a policy may see it (spec section 8).
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub slot: usize,
    pub time_s: f64,
    pub nodes: usize,
    pub tasks: Vec<TaskView>,
    /// Task-major: `links[i · nodes + n]`.
    pub links: Vec<Link>,
    pub caches: Vec<Vec<CacheEntry>>,
}

impl Observation {
    pub fn link(&self, task: usize, node: usize) -> &Link {
        &self.links[task * self.nodes + node]
    }
    pub fn links_of(&self, task: usize) -> &[Link] {
        &self.links[task * self.nodes..(task + 1) * self.nodes]
    }
    pub fn covered(&self, task: usize) -> bool {
        self.links_of(task).iter().any(|l| l.accessible)
    }
    pub fn cache_entry(&self, node: usize, model: ModelId) -> Option<&CacheEntry> {
        self.caches[node].iter().find(|e| e.model == model)
    }
    /// When `model` is ready at `node` for a task of this slot: its cache
    /// entry's time, else that of a download started now (the cold start is
    /// `max(0, ready − time_s)`).
    pub fn model_ready_at(&self, env: &Environment, node: usize, model: ModelId) -> f64 {
        match self.cache_entry(node, model) {
            Some(e) => e.ready_at,
            None => env.ready_after_download(node, model, self.time_s),
        }
    }
}

/// The delay of one task, term by term (spec section 6), seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DelayTerms {
    pub device_s: f64,
    pub uplink_s: f64,
    pub edge_s: f64,
    pub cold_s: f64,
    pub handover_s: f64,
}

impl DelayTerms {
    pub fn total(&self) -> f64 {
        self.device_s + self.uplink_s + self.edge_s + self.cold_s + self.handover_s
    }
}

/// Delay of running the whole model on the terminal: `F_m(L)/f_u`.
pub fn local_terms(env: &Environment, task: &TaskView) -> DelayTerms {
    DelayTerms { device_s: env.model(task.model).total_flops / task.device_flops, ..DelayTerms::default() }
}

/// Delay of an offload; `ready_at` is when the model is (or will be) on the node.
#[allow(clippy::too_many_arguments)]
pub fn offload_terms(
    env: &Environment,
    task: &TaskView,
    link: &Link,
    node: usize,
    cut: usize,
    rb: u32,
    cu: u32,
    ready_at: f64,
    now_s: f64,
) -> DelayTerms {
    let m = env.model(task.model);
    DelayTerms {
        device_s: m.prefix_flops(cut) / task.device_flops,
        uplink_s: m.sent_bytes(cut, task.input_bytes) * 8.0 / (f64::from(rb) * link.rate_bps),
        edge_s: m.suffix_flops(cut) / (f64::from(cu) * env.nodes[node].cu_flops),
        cold_s: (ready_at - now_s).max(0.0),
        handover_s: if task.last_edge.is_some_and(|p| p != node) { env.handover_s } else { 0.0 },
    }
}

/// Per-task cost: `T/D` when met, `ω` when interrupted.
pub fn task_cost(env: &Environment, delay_s: f64, deadline_s: f64) -> f64 {
    if delay_s <= deadline_s {
        delay_s / deadline_s
    } else {
        env.interruption_cost
    }
}

/// What the task costs run on its own terminal (`T/D`, or `ω` when late):
/// what a policy that serves it at a node saves against, its stake.
pub fn local_cost(env: &Environment, task: &TaskView) -> f64 {
    task_cost(env, local_terms(env, task).total(), task.deadline_s)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Late,
    Dropped,
    NoCoverage,
    ColdStart,
}

impl Reason {
    pub const ALL: [Reason; 4] = [Reason::Late, Reason::Dropped, Reason::NoCoverage, Reason::ColdStart];
    pub fn name(self) -> &'static str {
        match self {
            Reason::Late => "late",
            Reason::Dropped => "dropped",
            Reason::NoCoverage => "no_coverage",
            Reason::ColdStart => "cold_start",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskOutcome {
    pub terminal: usize,
    pub action: Action,
    pub terms: DelayTerms,
    /// `T`; None when dropped.
    pub delay_s: Option<f64>,
    pub deadline_s: f64,
    pub met: bool,
    pub interrupted: bool,
    pub reason: Option<Reason>,
    pub cost: f64,
    /// Served by an edge node other than the previous serving one.
    pub handover: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlotOutcome {
    pub slot: usize,
    pub tasks: Vec<TaskOutcome>,
    /// Bytes downloaded over the backhaul this slot (all nodes).
    pub backhaul_bytes: f64,
    /// Sum of task costs plus `β` per GB downloaded.
    pub cost: f64,
    /// Mean over nodes of `Σrb/K_n`, `Σcu/C_n`, cache bytes `/S_n`.
    pub rb_util: f64,
    pub cu_util: f64,
    pub cache_util: f64,
}

fn invalid(slot: usize, rule: Rule, detail: String) -> InvalidDecision {
    InvalidDecision { slot, rule, detail }
}

/// Check a decision against every rule of spec section 4.
pub fn validate(env: &Environment, obs: &Observation, d: &Decision) -> Result<(), InvalidDecision> {
    let slot = obs.slot;
    let n_nodes = env.nodes.len();
    if d.caches.len() != n_nodes {
        return Err(invalid(slot, Rule::CacheSetCount, format!("{} cache sets for {} nodes", d.caches.len(), n_nodes)));
    }
    for (n, set) in d.caches.iter().enumerate() {
        let mut bytes = 0.0;
        for (k, &m) in set.iter().enumerate() {
            if m >= env.catalogue().len() {
                return Err(invalid(
                    slot,
                    Rule::ModelId,
                    format!("node {n} caches model id {m}; the catalogue has {}", env.catalogue().len()),
                ));
            }
            if set[..k].contains(&m) {
                return Err(invalid(
                    slot,
                    Rule::CacheDuplicate,
                    format!("node {n} lists model {} twice", env.model(m).name),
                ));
            }
            bytes += env.model(m).weights_bytes;
        }
        if bytes > env.nodes[n].cache_bytes {
            return Err(invalid(
                slot,
                Rule::CacheStorage,
                format!("node {n} cache set needs {bytes:.0} bytes, capacity {:.0}", env.nodes[n].cache_bytes),
            ));
        }
    }
    if d.actions.len() != obs.tasks.len() {
        return Err(invalid(
            slot,
            Rule::ActionCount,
            format!("{} actions for {} tasks", d.actions.len(), obs.tasks.len()),
        ));
    }
    let mut rb = vec![0u32; n_nodes];
    let mut cu = vec![0u32; n_nodes];
    for (i, a) in d.actions.iter().enumerate() {
        let Action::Offload { node, cut, rb: r, cu: c } = *a else { continue };
        let task = &obs.tasks[i];
        if node >= n_nodes {
            return Err(invalid(
                slot,
                Rule::NodeIndex,
                format!("task {i} (terminal {}) offloaded to node {node}; there are {n_nodes}", task.terminal),
            ));
        }
        if !obs.link(i, node).accessible {
            return Err(invalid(
                slot,
                Rule::Accessibility,
                format!("task {i} (terminal {}) offloaded to node {node}, which it cannot reach", task.terminal),
            ));
        }
        let cuts = env.model(task.model).offload_cuts();
        if cut >= cuts {
            return Err(invalid(
                slot,
                Rule::Cut,
                format!("task {i} cut {cut}; model {} has offload cuts 0..{}", env.model(task.model).name, cuts - 1),
            ));
        }
        if !env.rb_levels.contains(&r) {
            return Err(invalid(slot, Rule::RbLevel, format!("task {i} rb {r} not in {:?}", env.rb_levels)));
        }
        if !env.cu_levels.contains(&c) {
            return Err(invalid(slot, Rule::CuLevel, format!("task {i} cu {c} not in {:?}", env.cu_levels)));
        }
        if !d.caches[node].contains(&task.model) {
            return Err(invalid(
                slot,
                Rule::CacheMembership,
                format!("task {i} needs {} at node {node}, which is not in its cache set", env.model(task.model).name),
            ));
        }
        rb[node] += r;
        cu[node] += c;
    }
    for n in 0..n_nodes {
        if rb[n] > env.nodes[n].rb_units {
            return Err(invalid(
                slot,
                Rule::RbCapacity,
                format!("node {n} allocates {} resource units of {}", rb[n], env.nodes[n].rb_units),
            ));
        }
        if cu[n] > env.nodes[n].cu_units {
            return Err(invalid(
                slot,
                Rule::CuCapacity,
                format!("node {n} allocates {} compute units of {}", cu[n], env.nodes[n].cu_units),
            ));
        }
    }
    Ok(())
}

/// The cache of every node after applying the decision's cache sets at `now_s`:
/// kept models keep their ready time, new ones start downloading now.
/// Returns the new caches and the bytes downloaded.
pub fn apply_cache_sets(
    env: &Environment,
    caches: &[Vec<CacheEntry>],
    sets: &[Vec<ModelId>],
    now_s: f64,
) -> (Vec<Vec<CacheEntry>>, f64) {
    let mut downloaded = 0.0;
    let next = sets
        .iter()
        .enumerate()
        .map(|(n, set)| {
            set.iter()
                .map(|&m| match caches[n].iter().find(|e| e.model == m) {
                    Some(e) => *e,
                    None => {
                        downloaded += env.model(m).weights_bytes;
                        CacheEntry { model: m, ready_at: env.ready_after_download(n, m, now_s), last_used: None }
                    }
                })
                .collect()
        })
        .collect();
    (next, downloaded)
}

/// Evaluate `decision` from `state` (whose slot `obs` describes) without
/// changing anything: the slot's outcome and the next state.
pub fn transition(
    env: &Environment,
    state: &SimState,
    obs: &Observation,
    decision: &Decision,
) -> Result<(SlotOutcome, SimState), InvalidDecision> {
    validate(env, obs, decision)?;
    let now = obs.time_s;
    let (mut caches, backhaul_bytes) = apply_cache_sets(env, &state.caches, &decision.caches, now);
    let mut last_edge = state.last_edge.clone();
    let n_nodes = env.nodes.len();
    let mut rb_used = vec![0u32; n_nodes];
    let mut cu_used = vec![0u32; n_nodes];
    let mut tasks = Vec::with_capacity(obs.tasks.len());
    let mut task_cost_sum = 0.0;
    for (i, (task, action)) in obs.tasks.iter().zip(&decision.actions).enumerate() {
        let covered = obs.covered(i);
        let (terms, executed, handover) = match *action {
            Action::Drop => (DelayTerms::default(), false, false),
            Action::Local => (local_terms(env, task), true, false),
            Action::Offload { node, cut, rb, cu } => {
                let entry =
                    caches[node].iter_mut().find(|e| e.model == task.model).expect("validated cache membership");
                let terms = offload_terms(env, task, obs.link(i, node), node, cut, rb, cu, entry.ready_at, now);
                entry.last_used = Some(obs.slot);
                rb_used[node] += rb;
                cu_used[node] += cu;
                last_edge[task.terminal] = Some(node);
                (terms, true, task.last_edge.is_some_and(|p| p != node))
            }
        };
        let delay = executed.then(|| terms.total());
        let met = delay.is_some_and(|t| t <= task.deadline_s);
        let interrupted = !met;
        let reason = if !interrupted {
            None
        } else if !covered {
            Some(Reason::NoCoverage)
        } else if !executed {
            Some(Reason::Dropped)
        } else if terms.cold_s > 0.0 && terms.total() - terms.cold_s <= task.deadline_s {
            Some(Reason::ColdStart)
        } else {
            Some(Reason::Late)
        };
        let cost = match delay {
            Some(t) => task_cost(env, t, task.deadline_s),
            None => env.interruption_cost,
        };
        task_cost_sum += cost;
        tasks.push(TaskOutcome {
            terminal: task.terminal,
            action: *action,
            terms,
            delay_s: delay,
            deadline_s: task.deadline_s,
            met,
            interrupted,
            reason,
            cost,
            handover,
        });
    }
    let mean = |f: &dyn Fn(usize) -> f64| (0..n_nodes).map(f).sum::<f64>() / n_nodes as f64;
    let rb_util = mean(&|n| f64::from(rb_used[n]) / f64::from(env.nodes[n].rb_units));
    let cu_util = mean(&|n| f64::from(cu_used[n]) / f64::from(env.nodes[n].cu_units));
    let cache_util =
        mean(&|n| caches[n].iter().map(|e| env.model(e.model).weights_bytes).sum::<f64>() / env.nodes[n].cache_bytes);
    let outcome = SlotOutcome {
        slot: obs.slot,
        tasks,
        backhaul_bytes,
        cost: task_cost_sum + env.backhaul_cost_per_byte * backhaul_bytes,
        rb_util,
        cu_util,
        cache_util,
    };
    Ok((outcome, SimState { slot: state.slot + 1, caches, last_edge }))
}

/// Fill `obs` with the start of `state.slot` in `world`, reading the slot
/// through `draws` (which moves there: keep one per run, as its slots are
/// read in order).
pub fn observe(world: &World, draws: &mut SlotDraws, state: &SimState, obs: &mut Observation) {
    let t = state.slot;
    world.draws_at(draws, t);
    let u_n = world.terminals();
    let n_nodes = world.env.nodes.len();
    obs.slot = t;
    obs.time_s = t as f64 * world.env.slot_s;
    obs.nodes = n_nodes;
    obs.tasks.clear();
    obs.links.clear();
    for u in 0..u_n {
        if !draws.tasks.active[u] {
            continue;
        }
        let pos = draws.pos[u];
        let profile = &world.workload.profiles[u];
        obs.tasks.push(TaskView {
            terminal: u,
            model: draws.tasks.model[u],
            input_bytes: draws.tasks.input_bytes[u],
            deadline_s: profile.deadline_s,
            device_flops: profile.device_flops,
            pos,
            vel: draws.velocity(u, world.env.slot_s),
            last_edge: state.last_edge[u],
        });
        // Skip links that no shadowing value of this tile could make accessible.
        let at = world.shadow[0].locate(pos[0], pos[1]);
        for (n, node) in world.env.nodes.iter().enumerate() {
            let d2 = (pos[0] - node.pos[0]).powi(2) + (pos[1] - node.pos[1]).powi(2);
            obs.links.push(if d2 > world.range2_m2[at.tile * n_nodes + n] {
                Link { snr_db: f64::NEG_INFINITY, rate_bps: 0.0, accessible: false }
            } else {
                let snr = world.radio.snr_db_sq(d2, world.shadow_stack.at_point(&at, n));
                let accessible = snr >= world.radio.min_snr_db;
                Link {
                    snr_db: snr,
                    rate_bps: if accessible { world.radio.rate_per_unit_bps(snr) } else { 0.0 },
                    accessible,
                }
            });
        }
    }
    obs.caches.clone_from(&state.caches);
}

/// Drives one run of one policy through a world.
pub struct Simulator<'w> {
    world: &'w World,
    draws: SlotDraws,
    state: SimState,
}

impl<'w> Simulator<'w> {
    pub fn new(world: &'w World) -> Simulator<'w> {
        Simulator { world, draws: world.draws(), state: SimState::initial(world.env.nodes.len(), world.terminals()) }
    }
    pub fn state(&self) -> &SimState {
        &self.state
    }
    pub fn is_done(&self) -> bool {
        self.state.slot >= self.world.slots()
    }
    pub fn observe(&mut self, obs: &mut Observation) {
        observe(self.world, &mut self.draws, &self.state, obs);
    }
    /// Apply `decision` to the slot described by `obs` (made by `observe` on this state).
    pub fn step(&mut self, obs: &Observation, decision: &Decision) -> Result<SlotOutcome, InvalidDecision> {
        debug_assert_eq!(obs.slot, self.state.slot, "observation of another slot");
        let (outcome, next) = transition(&self.world.env, &self.state, obs, decision)?;
        self.state = next;
        Ok(outcome)
    }
}
