//! What the DPPO agent sees: fixed-width feature rows built from an
//! observation, so that one shared network scores any number of tasks,
//! nodes and cuts (parameter sharing across terminals and nodes).
//!
//! Rows, all plain `f32` (normalised later by [`super::normalize`]):
//! - *option rows*, one per (task, option) with options `[local, drop,
//!   node 0, …, node N−1]`: the task's own features followed by the option's;
//!   the node head scores them (softmax per task) and the same rows give the
//!   resource-unit and compute-level logits of a node option;
//! - *cut rows*, one per offloadable cut of the chosen node: the option row
//!   followed by the cut's delay terms (built only after the node is chosen);
//! - *cache rows*, one per (node, model): the cache head's keep/fetch input;
//! - one *value row* per slot for the critic.
//!
//! Delay estimates use the simulator's own delay functions with the largest
//! levels, i.e. what the option could achieve on an otherwise idle node.

use scenarios::sim::{local_cost, local_terms, offload_terms, task_cost};
use scenarios::{Environment, Observation, TaskView};

pub const TASK_DIM: usize = 9;
pub const OPTION_DIM: usize = 15;
/// Width of an option row.
pub const ROW_DIM: usize = TASK_DIM + OPTION_DIM;
/// Option-row column of the local cost at stake of the task's model at the
/// node, the last one (added after checkpoints without it were shipped:
/// [`super::checkpoint`] widens those). A cut row starts with its option
/// row, so the column has the same index there.
pub const OPTION_STAKE: usize = ROW_DIM - 1;
pub const CUT_EXTRA: usize = 6;
/// Width of a cut row (option row + cut features).
pub const CUT_DIM: usize = ROW_DIM + CUT_EXTRA;
pub const CACHE_DIM: usize = 11;
/// Cache-row column of the model's demand ([`Demand`]).
pub const CACHE_DEMAND: usize = CACHE_DIM - 2;
/// Cache-row column of the local cost at stake, the last one (added after
/// checkpoints without it were shipped: [`super::checkpoint`] widens those).
pub const CACHE_STAKE: usize = CACHE_DIM - 1;
/// The same column's mean in the critic's row.
pub const VALUE_STAKE: usize = TASK_DIM + 2 + CACHE_STAKE;
/// Critic-row columns of the covered stake ([`covered_stake`]): counting
/// downloads in progress, then ready models only (the last two, added after
/// checkpoints without them were shipped: [`super::checkpoint`] widens those).
pub const VALUE_COVERED: usize = TASK_DIM + 2 + CACHE_DIM + 3;
pub const VALUE_COVERED_READY: usize = VALUE_COVERED + 1;
/// Width of the critic's slot row.
pub const VALUE_DIM: usize = VALUE_COVERED_READY + 1;

/// Option index of running locally and of dropping; node `n` is `NODE0 + n`.
pub const OPT_LOCAL: usize = 0;
pub const OPT_DROP: usize = 1;
pub const NODE0: usize = 2;

fn squash(x: f64) -> f32 {
    // Ratios to the deadline span decades (1e-3 … 1e2): ln(1 + x) keeps them O(1).
    x.clamp(0.0, 1e6).ln_1p() as f32
}

/// Largest configured levels (levels ascending).
fn max_levels(env: &Environment) -> (u32, u32) {
    (*env.rb_levels.last().expect("validated non-empty"), *env.cu_levels.last().expect("validated non-empty"))
}

/// The task's model at one node, looked up once per (task, node): when it is
/// ready (its cache entry's time, or a download started now), whether it is
/// cached, and the backhaul cost of downloading it (0 when cached).
struct ModelAt {
    ready: f64,
    cached: bool,
    download_cost: f64,
}

fn model_at(env: &Environment, obs: &Observation, node: usize, model: usize) -> ModelAt {
    // One cache lookup for all three (`Observation::model_ready_at` is the ready time alone).
    match obs.cache_entry(node, model) {
        Some(e) => ModelAt { ready: e.ready_at, cached: true, download_cost: 0.0 },
        None => ModelAt {
            ready: env.ready_after_download(node, model, obs.time_s),
            cached: false,
            download_cost: env.backhaul_cost_per_byte * env.model(model).weights_bytes,
        },
    }
}

/// Delay terms (s) of one cut at a node with the largest levels: (device, uplink, edge, total).
fn cut_estimate(env: &Environment, obs: &Observation, i: usize, node: usize, cut: usize, at: &ModelAt) -> [f64; 4] {
    let (rb, cu) = max_levels(env);
    let t = offload_terms(env, &obs.tasks[i], obs.link(i, node), node, cut, rb, cu, at.ready, obs.time_s);
    [t.device_s, t.uplink_s, t.edge_s, t.total()]
}

/// Cost of an offload estimate including the download's backhaul cost when the model is not cached.
fn offload_cost(env: &Environment, obs: &Observation, i: usize, at: &ModelAt, total_s: f64) -> f64 {
    task_cost(env, total_s, obs.tasks[i].deadline_s) + at.download_cost
}

/// Best (least cost) estimate over the cuts at `node`: (cost, delay s).
fn best_offload(env: &Environment, obs: &Observation, i: usize, node: usize, at: &ModelAt) -> (f64, f64) {
    let cuts = env.model(obs.tasks[i].model).offload_cuts();
    (0..cuts)
        .map(|c| {
            let total = cut_estimate(env, obs, i, node, c, at)[3];
            (offload_cost(env, obs, i, at, total), total)
        })
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .expect("every model has cut 0")
}

fn task_features(env: &Environment, obs: &Observation, i: usize, out: &mut Vec<f32>) {
    let task: &TaskView = &obs.tasks[i];
    let m = env.model(task.model);
    let local = local_terms(env, task).total();
    let accessible = obs.links_of(i).iter().filter(|l| l.accessible).count();
    out.extend_from_slice(&[
        task.deadline_s as f32,
        (task.input_bytes / 60e3).ln() as f32,
        ((m.total_flops / 1e9).ln() / 3.0) as f32,
        ((m.weights_bytes / 1e7).ln() / 3.0) as f32,
        (task.vel[0].hypot(task.vel[1]) / 10.0) as f32,
        squash(local / task.deadline_s),
        task_cost(env, local, task.deadline_s) as f32,
        accessible as f32 / 4.0,
        f32::from(u8::from(task.last_edge.is_some())),
    ]);
}

/// Per-slot context shared by the rows of one observation.
pub struct SlotContext {
    /// Each task's strongest accessible node.
    pub strongest: Vec<Option<usize>>,
    /// Tasks whose strongest accessible node is n, per node.
    pub strongest_count: Vec<u32>,
    /// Free cache fraction per node.
    pub cache_free: Vec<f64>,
    /// Per node, per model: the local cost at stake, the summed cost on
    /// their own terminals (over ω, 1 when late there) of the slot's tasks
    /// of the model that reach the node. A model whose tasks are late on
    /// their terminals (ResNet-152) is worth a node's room more than one of
    /// the same size whose tasks are not (AlexNet); size alone cannot tell
    /// them apart (docs/heldout.md, `random-pedestrian`).
    pub stake: Vec<Vec<f64>>,
}

impl SlotContext {
    pub fn new(env: &Environment, obs: &Observation) -> SlotContext {
        let n_nodes = env.nodes.len();
        let strongest: Vec<Option<usize>> = (0..obs.tasks.len()).map(|i| strongest_node(obs, i)).collect();
        let mut strongest_count = vec![0u32; n_nodes];
        for n in strongest.iter().flatten() {
            strongest_count[*n] += 1;
        }
        let cache_free = (0..n_nodes)
            .map(|n| {
                let used: f64 = obs.caches[n].iter().map(|e| env.model(e.model).weights_bytes).sum();
                1.0 - used / env.nodes[n].cache_bytes
            })
            .collect();
        SlotContext { strongest, strongest_count, cache_free, stake: stake_by_node(env, obs) }
    }
}

/// Accessible node with the best SNR (ties to the lower index).
pub fn strongest_node(obs: &Observation, i: usize) -> Option<usize> {
    obs.links_of(i)
        .iter()
        .enumerate()
        .filter(|(_, l)| l.accessible)
        .max_by(|a, b| a.1.snr_db.total_cmp(&b.1.snr_db).then(b.0.cmp(&a.0)))
        .map(|(n, _)| n)
}

/// Append the option rows of task `i` (`ROW_DIM` each) for its candidate
/// options: local, drop and every node it reaches (in that order); the
/// candidates' option ids go to `cands`. Unreachable nodes get no row: they
/// can never be chosen, and leaving them out halves the network's work.
pub fn option_rows(
    env: &Environment,
    obs: &Observation,
    ctx: &SlotContext,
    i: usize,
    out: &mut Vec<f32>,
    cands: &mut Vec<usize>,
) {
    let task = &obs.tasks[i];
    let mut tf = Vec::with_capacity(TASK_DIM);
    task_features(env, obs, i, &mut tf);
    let omega = env.interruption_cost;
    let local = local_terms(env, task).total();
    // local
    out.extend_from_slice(&tf);
    let mut row = [0f32; OPTION_DIM];
    row[0] = 1.0;
    row[3] = (task_cost(env, local, task.deadline_s) / omega) as f32;
    row[4] = squash(local / task.deadline_s);
    out.extend_from_slice(&row);
    cands.push(OPT_LOCAL);
    // drop
    out.extend_from_slice(&tf);
    let mut row = [0f32; OPTION_DIM];
    row[1] = 1.0;
    row[3] = 1.0;
    out.extend_from_slice(&row);
    cands.push(OPT_DROP);
    for n in 0..env.nodes.len() {
        let link = obs.link(i, n);
        if !link.accessible {
            continue;
        }
        out.extend_from_slice(&tf);
        let mut row = [0f32; OPTION_DIM];
        let at = model_at(env, obs, n, task.model);
        let (cost, delay) = best_offload(env, obs, i, n, &at);
        row[2] = 1.0;
        row[3] = (cost / omega) as f32;
        row[4] = squash(delay / task.deadline_s);
        row[5] = 1.0;
        row[6] = (link.snr_db / 30.0) as f32;
        row[7] = (link.rate_bps / 1e6).max(1e-3).ln() as f32;
        row[8] = f32::from(u8::from(at.cached));
        row[9] = f32::from(u8::from(at.cached && at.ready <= obs.time_s));
        row[10] = squash((at.ready - obs.time_s).max(0.0) / task.deadline_s);
        row[11] = f32::from(u8::from(task.last_edge == Some(n)));
        row[12] = ctx.strongest_count[n] as f32 / 10.0;
        row[13] = ctx.cache_free[n] as f32;
        // What serving the model here is worth to every task of it in reach
        // (the cache row's stake column): a download pays for all of them.
        row[14] = (ctx.stake[n][task.model] / 10.0) as f32;
        out.extend_from_slice(&row);
        cands.push(NODE0 + n);
    }
}

/// Append the cut rows of task `i` at `node` (`CUT_DIM` each, one per offloadable cut).
pub fn cut_rows(env: &Environment, obs: &Observation, i: usize, node: usize, option_row: &[f32], out: &mut Vec<f32>) {
    let task = &obs.tasks[i];
    let cuts = env.model(task.model).offload_cuts();
    let at = model_at(env, obs, node, task.model);
    for c in 0..cuts {
        let [dev, up, edge, total] = cut_estimate(env, obs, i, node, c, &at);
        out.extend_from_slice(option_row);
        let d = task.deadline_s;
        out.extend_from_slice(&[
            c as f32 / (cuts.max(2) - 1) as f32,
            squash(dev / d),
            squash(up / d),
            squash(edge / d),
            squash(total / d),
            (offload_cost(env, obs, i, &at, total) / env.interruption_cost) as f32,
        ]);
    }
}

/// Per node, per model: the tasks of the slot that use the model and reach
/// the node (the cache rows' demand; the decoder's demand fetch).
pub fn reach_counts(env: &Environment, obs: &Observation) -> Vec<Vec<u32>> {
    let mut reach = vec![vec![0u32; env.catalogue().len()]; env.nodes.len()];
    for (i, task) in obs.tasks.iter().enumerate() {
        for (n, counts) in reach.iter_mut().enumerate() {
            counts[task.model] += u32::from(obs.link(i, n).accessible);
        }
    }
    reach
}

/// How the cache rows' demand column ([`CACHE_DEMAND`]) counts the slot's
/// tasks that use the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demand {
    /// Their number, /10: it grows with the world's terminal count (older checkpoints).
    Count,
    /// Their share of the slot's tasks, times [`DEMAND_SHARE_SCALE`]: the
    /// same whatever the world's size (issue 21).
    Share,
}

/// `default`'s 36 tasks per slot, /10: there the share column equals the
/// count column, so weights trained on the count carry over unchanged.
pub const DEMAND_SHARE_SCALE: f64 = 3.6;

/// Append the cache rows of every (node, model) pair, node-major (`CACHE_DIM` each).
pub fn cache_rows(env: &Environment, obs: &Observation, ctx: &SlotContext, demand: Demand, out: &mut Vec<f32>) {
    let n_models = env.catalogue().len();
    let n_tasks = obs.tasks.len();
    let mut demand_total = vec![0u32; n_models];
    for t in &obs.tasks {
        demand_total[t.model] += 1;
    }
    for (n, reach) in reach_counts(env, obs).iter().enumerate() {
        // Per model, the tasks whose strongest node it is.
        let mut strongest = vec![0u32; n_models];
        for (i, t) in obs.tasks.iter().enumerate() {
            if ctx.strongest[i] == Some(n) {
                strongest[t.model] += 1;
            }
        }
        for (m, &total) in demand_total.iter().enumerate() {
            let entry = obs.cache_entry(n, m);
            let w = env.model(m).weights_bytes;
            let download = env.ready_after_download(n, m, 0.0);
            let remaining = entry.map_or(download, |e| (e.ready_at - obs.time_s).max(0.0));
            let age =
                entry.and_then(|e| e.last_used).map_or(1.0, |u| ((obs.slot.saturating_sub(u)) as f64 / 30.0).min(1.0));
            out.extend_from_slice(&[
                f32::from(u8::from(entry.is_some())),
                f32::from(u8::from(entry.is_some_and(|e| e.ready_at <= obs.time_s))),
                (remaining / 10.0) as f32,
                (w / env.nodes[n].cache_bytes) as f32,
                reach[m] as f32 / 10.0,
                strongest[m] as f32 / 5.0,
                age as f32,
                ctx.cache_free[n] as f32,
                (download / 10.0) as f32,
                match demand {
                    Demand::Count => total as f32 / 10.0,
                    Demand::Share => (f64::from(total) / n_tasks.max(1) as f64 * DEMAND_SHARE_SCALE) as f32,
                },
                (ctx.stake[n][m] / 10.0) as f32,
            ]);
        }
    }
}

/// Per node, per model: the summed local cost (over ω) of the slot's tasks
/// of the model that reach the node ([`SlotContext::stake`]).
pub fn stake_by_node(env: &Environment, obs: &Observation) -> Vec<Vec<f64>> {
    let mut stake = vec![vec![0f64; env.catalogue().len()]; env.nodes.len()];
    for (i, t) in obs.tasks.iter().enumerate() {
        let at_stake = local_cost(env, t) / env.interruption_cost;
        for (n, s) in stake.iter_mut().enumerate() {
            if obs.link(i, n).accessible {
                s[t.model] += at_stake;
            }
        }
    }
    stake
}

/// Shares of the slot's local cost at stake (its tasks' cost on their own
/// terminals) whose model is cached at a node the task reaches: counting
/// downloads in progress, and ready models only. The mean cache row says how
/// much is cached and how much is at stake, never whether the one is where
/// the other is, so without these the critic cannot value a download that
/// will serve the tasks around it (docs/model.md §9b, value row).
pub fn covered_stake(env: &Environment, obs: &Observation) -> (f64, f64) {
    let (mut total, mut cached, mut ready) = (0.0, 0.0, 0.0);
    for (i, t) in obs.tasks.iter().enumerate() {
        let stake = local_cost(env, t);
        total += stake;
        let entries =
            (0..env.nodes.len()).filter(|&n| obs.link(i, n).accessible).filter_map(|n| obs.cache_entry(n, t.model));
        let (mut is_cached, mut is_ready) = (false, false);
        for e in entries {
            is_cached = true;
            is_ready |= e.ready_at <= obs.time_s;
        }
        cached += if is_cached { stake } else { 0.0 };
        ready += if is_ready { stake } else { 0.0 };
    }
    if total > 0.0 {
        (cached / total, ready / total)
    } else {
        (0.0, 0.0)
    }
}

/// The critic's row: mean task features, mean and minimum-over-options cost
/// estimates, mean cache row, three slot-level counts and the covered stake.
pub fn value_row(
    env: &Environment,
    obs: &Observation,
    option_rows: &[f32],
    cand_start: &[usize],
    cache_rows: &[f32],
    slots_left: usize,
    out: &mut Vec<f32>,
) {
    let n_tasks = obs.tasks.len();
    let mut mean_task = [0f32; TASK_DIM];
    let mut mean_best = 0f32;
    let mut mean_local = 0f32;
    for i in 0..n_tasks {
        let rows = &option_rows[cand_start[i] * ROW_DIM..cand_start[i + 1] * ROW_DIM];
        let n_opt = cand_start[i + 1] - cand_start[i];
        for (k, v) in mean_task.iter_mut().enumerate() {
            *v += rows[k];
        }
        let best = (0..n_opt).map(|o| rows[o * ROW_DIM + TASK_DIM + 3]).fold(f32::INFINITY, f32::min);
        mean_best += best;
        mean_local += rows[TASK_DIM + 3];
    }
    let k = n_tasks.max(1) as f32;
    out.extend(mean_task.iter().map(|v| v / k));
    out.push(mean_best / k);
    out.push(mean_local / k);
    let n_cache = cache_rows.len() / CACHE_DIM;
    let mut mean_cache = [0f32; CACHE_DIM];
    for r in 0..n_cache {
        for (k, v) in mean_cache.iter_mut().enumerate() {
            *v += cache_rows[r * CACHE_DIM + k];
        }
    }
    out.extend(mean_cache.iter().map(|v| v / n_cache.max(1) as f32));
    out.push(n_tasks as f32 / 30.0);
    out.push(env.nodes.len() as f32 / 10.0);
    out.push((slots_left as f32 / 100.0).min(3.0));
    let (covered, ready) = covered_stake(env, obs);
    out.extend_from_slice(&[covered as f32, ready as f32]);
}
