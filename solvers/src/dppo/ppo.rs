//! Distributed PPO: R processes (MPI ranks, [`RankComm`]) of W rollout
//! workers (threads) each, every worker with its own replica of the network
//! and its own environments, collect in parallel; every gradient step
//! averages the workers' gradients through [`GradientSync`] (the threads of a
//! rank sum in process, then one all-reduce sums across ranks: DD-PPO's
//! scheme) and each replica applies the same Adam step, so the replicas never
//! drift apart. Worker `g = rank × W + w` draws the same episodes and samples
//! whatever the split, so R × W and 1 × (R·W) train the same agent.
//!
//! Clipped surrogate with per-task probability ratios (and per cache unit)
//! sharing the slot's GAE advantage; advantages normalised over the whole
//! batch; value loss, entropy bonus, gradient-norm clipping, linear
//! learning-rate annealing; observation normalisation from running sums.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Barrier, Mutex};
use std::time::Instant;

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use scenarios::rng::{derive, stream};
use scenarios::sim::{observe, transition};
use scenarios::world::SlotDraws;
use scenarios::{Observation, Scenario, SimState, World};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use super::agent::{act, values, SlotRecord};
use super::checkpoint::{self, Checkpoint, FineTuneInfo, ScenarioInfo, Sidecar, TrainingInfo};
use super::decode::{HeadShape, Pick};
use super::features::{CACHE_DIM, CUT_DIM, ROW_DIM, VALUE_DIM};
use super::hyper::TrainConfig;
use super::net::{
    export_weights, import_weights, rows_tensor, temper_node_logits, Arch, NamedWeights, Net, Normalizer,
};
use super::DppoError;

/// Training worlds use seeds at or above this, so they never coincide with an
/// evaluation seed given on the command line (which are small integers).
pub const TRAIN_SEED_FLOOR: u64 = 1 << 48;

/// Synchronous all-reduce between the workers of one training.
pub trait GradientSync: Send + Sync {
    fn workers(&self) -> usize;
    /// Replace `buf` by the element-wise sum of every worker's `buf`
    /// (same length on all), summed in worker order so that the result does
    /// not depend on timing. Blocks until every worker has called it.
    fn all_reduce_sum(&self, worker: usize, buf: &mut [f64]);
    /// Seconds spent communicating across processes since the last call (0 within one process).
    fn take_comm_seconds(&self) -> f64 {
        0.0
    }
}

/// The processes of one training (MPI ranks in the harness); every call is
/// collective: every rank makes it, in the same order. Only one thread of a
/// rank calls at a time (MPI's `Serialized` threading level suffices).
pub trait RankComm: Send + Sync {
    fn rank(&self) -> usize;
    fn ranks(&self) -> usize;
    /// Replace `buf` by the element-wise sum of every rank's `buf`; every rank gets the same result.
    fn all_reduce_sum(&self, buf: &mut [f64]);
    /// Replace `buf` by rank 0's `buf`.
    fn broadcast(&self, buf: &mut [f64]);
}

/// [`GradientSync`] of a rank's threads, across ranks when given a [`RankComm`]:
/// the threads' buffers are summed in worker order, then (worker 0 of each
/// rank) summed across ranks by the communicator.
pub struct LocalSync<'a> {
    barrier: Barrier,
    slots: Mutex<Vec<Vec<f64>>>,
    sum: Mutex<Vec<f64>>,
    comm: Option<&'a dyn RankComm>,
    /// Seconds and calls spent in the cross-rank all-reduce (rank's worker 0).
    pub comm_s: Mutex<(f64, u64)>,
}

impl<'a> LocalSync<'a> {
    pub fn new(workers: usize) -> LocalSync<'a> {
        LocalSync::across(workers, None)
    }
    pub fn across(workers: usize, comm: Option<&'a dyn RankComm>) -> LocalSync<'a> {
        LocalSync {
            barrier: Barrier::new(workers),
            slots: Mutex::new(vec![Vec::new(); workers]),
            sum: Mutex::new(Vec::new()),
            comm,
            comm_s: Mutex::new((0.0, 0)),
        }
    }
}

impl GradientSync for LocalSync<'_> {
    fn workers(&self) -> usize {
        self.slots.lock().expect("sync lock").len() * self.comm.map_or(1, |c| c.ranks())
    }
    fn all_reduce_sum(&self, worker: usize, buf: &mut [f64]) {
        self.slots.lock().expect("sync lock")[worker] = buf.to_vec();
        self.barrier.wait();
        if worker == 0 {
            let slots = self.slots.lock().expect("sync lock");
            let mut sum = vec![0.0; buf.len()];
            for s in slots.iter() {
                for (b, v) in sum.iter_mut().zip(s) {
                    *b += v;
                }
            }
            if let Some(c) = self.comm {
                let t = Instant::now();
                c.all_reduce_sum(&mut sum);
                let mut acc = self.comm_s.lock().expect("sync lock");
                acc.0 += t.elapsed().as_secs_f64();
                acc.1 += 1;
            }
            *self.sum.lock().expect("sync lock") = sum;
        }
        // Worker 0 writes the sum only after every worker has read the last one
        // (the first barrier of the next call), so one more barrier suffices.
        self.barrier.wait();
        buf.copy_from_slice(&self.sum.lock().expect("sync lock"));
    }
    fn take_comm_seconds(&self) -> f64 {
        std::mem::take(&mut self.comm_s.lock().expect("sync lock").0)
    }
}

/// One row of the training log (`train.parquet`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateLog {
    pub update: u64,
    pub env_steps: u64,
    pub wall_s: f64,
    pub mean_slot_cost: f64,
    pub interruption_rate: f64,
    pub approx_kl: f64,
    pub clip_fraction: f64,
    pub entropy: f64,
    pub value_loss: f64,
    pub explained_variance: f64,
    /// Worker 0's seconds in this update: simulator and features (rollout
    /// minus forward), network forward during the rollout, PPO update.
    pub rollout_s: f64,
    pub forward_s: f64,
    pub update_s: f64,
    /// Worker 0's seconds in the all-reduce across ranks in this update (0 with one rank).
    pub allreduce_s: f64,
    /// The same rollout figures per scenario of the mixture, in mixture order:
    /// the learning curve of each world type.
    pub worlds: Vec<WorldLog>,
}

/// One scenario's share of an update's rollout (all workers and ranks).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorldLog {
    /// Slots its episodes advanced in this update (0: none was drawn).
    pub slots: u64,
    /// Mean cost of those slots (NaN when there were none).
    pub mean_slot_cost: f64,
    pub interruption_rate: f64,
}

/// The trained weights (flat, by variable name) and observation statistics.
pub struct Trained {
    pub arch: Arch,
    pub weights: NamedWeights,
    pub normalizer: Normalizer,
    pub logs: Vec<UpdateLog>,
    pub fine_tuned_from: Option<FineTuneInfo>,
}

impl Trained {
    /// The checkpoint of this training (`path` is where it will be saved).
    pub fn checkpoint(&self, mix: &Mixture<'_>, cfg: &TrainConfig, git_revision: &str, path: &Path) -> Checkpoint {
        let last = self.logs.last().cloned().unwrap_or_default();
        let d = &mix.entries[0].0.config().decision;
        let sidecar = Sidecar {
            format: checkpoint::FORMAT.into(),
            architecture: self.arch,
            rb_levels: d.rb_levels.clone(),
            cu_levels: d.cu_levels.clone(),
            hyperparameters: cfg.clone(),
            observation_stats: self.normalizer.clone(),
            scenario: ScenarioInfo { name: mix.name(), hash: mix.hash() },
            git_revision: git_revision.to_string(),
            training: TrainingInfo {
                updates: last.update,
                env_steps: last.env_steps,
                wall_s: last.wall_s,
                fine_tuned_from: self.fine_tuned_from.clone(),
            },
        };
        Checkpoint { path: path.to_path_buf(), sidecar, weights: self.weights.clone() }
    }
}

struct TrainEnv {
    /// Which scenario of the mixture the current episode's world is from.
    kind: usize,
    /// Its world type ([`Mixture::world_of`]), for the per-world logs.
    world_type: usize,
    world: World,
    draws: SlotDraws,
    state: SimState,
    obs: Observation,
    episode: u64,
}

fn episode_seed(seed: u64, worker: usize, env: usize, episode: u64) -> u64 {
    TRAIN_SEED_FLOOR | (derive(seed, &format!("dppo-episode-{worker}-{env}-{episode}")) >> 16)
}

/// The worlds a training draws its episodes from: scenarios with weights.
/// Every episode of every environment draws its scenario with probability
/// proportional to its weight, from (seed, worker, env, episode) alone, so a
/// training stays a function of its settings. One scenario draws nothing:
/// its training is the single-scenario one, bit for bit.
///
/// Scenarios that share a name are one *world type* in the logs and the
/// sidecar: the sampled worlds of a family file (`scenarios::family`).
pub struct Mixture<'a> {
    pub entries: Vec<(&'a Scenario, f64)>,
}

impl<'a> Mixture<'a> {
    pub fn single(scenario: &'a Scenario) -> Mixture<'a> {
        Mixture { entries: vec![(scenario, 1.0)] }
    }

    /// `name` for one world type, `name:weight+…` (weights summed per type) for several.
    pub fn name(&self) -> String {
        let names = self.names();
        if names.len() == 1 {
            return names[0].to_string();
        }
        let weight = |n: &str| self.entries.iter().filter(|(s, _)| s.name() == n).map(|e| e.1).sum::<f64>();
        // A family's share is the sum of its worlds' (w / worlds each): round off the float dust.
        let shown = |w: f64| (w * 1e9).round() / 1e9;
        names.iter().map(|n| format!("{n}:{}", shown(weight(n)))).collect::<Vec<_>>().join("+")
    }

    /// The world types' names (distinct scenario names), in order of first appearance.
    pub fn names(&self) -> Vec<&'a str> {
        let mut names: Vec<&'a str> = Vec::new();
        for (s, _) in &self.entries {
            if !names.contains(&s.name()) {
                names.push(s.name());
            }
        }
        names
    }

    /// The world type (index into [`Self::names`]) of scenario `kind`.
    pub fn world_of(&self, kind: usize) -> usize {
        let name = self.entries[kind].0.name();
        self.names().iter().position(|n| *n == name).expect("every scenario has a world type")
    }

    /// Per world type, in [`Self::names`] order, joined by `+`: the config
    /// hash of its scenario, or of the list of its scenarios' hashes.
    pub fn hash(&self) -> String {
        self.names()
            .iter()
            .map(|n| {
                let hashes: Vec<String> =
                    self.entries.iter().filter(|(s, _)| s.name() == *n).map(|(s, _)| s.config_hash()).collect();
                match hashes.as_slice() {
                    [one] => one.clone(),
                    many => scenarios::config::hash_text(&many.join("\n")),
                }
            })
            .collect::<Vec<_>>()
            .join("+")
    }

    /// Weights in scenario order, equal when none are given.
    pub fn new(scenarios: &'a [Scenario], weights: &[f64]) -> Mixture<'a> {
        let weight = |k: usize| if weights.is_empty() { 1.0 } else { weights[k] };
        Mixture { entries: scenarios.iter().enumerate().map(|(k, s)| (s, weight(k))).collect() }
    }

    /// Non-empty, positive finite weights, and scenarios one network and one
    /// minibatch can serve: the same decision levels and the same largest cut count.
    pub fn check(&self) -> Result<(), String> {
        let Some(&(first, _)) = self.entries.first() else {
            return Err("expected at least one scenario".into());
        };
        let (d0, cuts0) = (&first.config().decision, HeadShape::cuts_of(first.catalogue()));
        for (s, w) in &self.entries {
            if !(w.is_finite() && *w > 0.0) {
                return Err(format!("scenario `{}`: expected a positive finite weight, got {w}", s.name()));
            }
            let d = &s.config().decision;
            if d.rb_levels != d0.rb_levels || d.cu_levels != d0.cu_levels || HeadShape::cuts_of(s.catalogue()) != cuts0
            {
                return Err(format!(
                    "scenario `{}` cannot be mixed with `{}`: a mixture needs the same decision.rb_levels, \
                     decision.cu_levels and largest cut count",
                    s.name(),
                    first.name()
                ));
            }
        }
        Ok(())
    }

    /// The scenario (its index) of `episode` of environment `env` of worker `worker`.
    pub fn pick(&self, seed: u64, worker: usize, env: usize, episode: u64) -> usize {
        if self.entries.len() == 1 {
            return 0;
        }
        let total: f64 = self.entries.iter().map(|e| e.1).sum();
        let u = (derive(seed, &format!("dppo-world-{worker}-{env}-{episode}")) >> 11) as f64 / (1u64 << 53) as f64;
        let mut at = u * total;
        for (k, (_, w)) in self.entries.iter().enumerate() {
            if at < *w {
                return k;
            }
            at -= w;
        }
        self.entries.len() - 1
    }
}

impl TrainEnv {
    /// The world of episode `episode` of environment `env` of worker
    /// `worker`: its scenario drawn from the mixture, its seed from (seed,
    /// worker, env, episode); observed at its first slot.
    fn start(mix: &Mixture<'_>, seed: u64, worker: usize, env: usize, episode: u64) -> TrainEnv {
        let kind = mix.pick(seed, worker, env, episode);
        let world = World::build(mix.entries[kind].0, episode_seed(seed, worker, env, episode));
        let state = SimState::initial(world.env.nodes.len(), world.terminals());
        let mut obs = Observation::default();
        let mut draws = world.draws();
        observe(&world, &mut draws, &state, &mut obs);
        TrainEnv { kind, world_type: mix.world_of(kind), world, draws, state, obs, episode }
    }
    fn slots_left(&self) -> usize {
        self.world.slots() - self.state.slot
    }
}

/// The environments of each scenario of the mixture (indices in order), for
/// the scenarios that have any, in mixture order.
fn by_kind(envs: &[TrainEnv], kinds: usize) -> Vec<Vec<usize>> {
    (0..kinds)
        .map(|k| (0..envs.len()).filter(|&i| envs[i].kind == k).collect::<Vec<_>>())
        .filter(|m| !m.is_empty())
        .collect()
}

/// Per-slot data of a rollout, in (step, env) order.
struct Rollout {
    records: Vec<SlotRecord>,
    rewards: Vec<f32>,
    dones: Vec<bool>,
}

fn masked_log_softmax(logits: &Tensor, mask: &Tensor) -> Tensor {
    logits.masked_fill(&mask.logical_not(), -1e9).log_softmax(-1, Kind::Float)
}

fn entropy_of(logp: &Tensor) -> Tensor {
    -(logp.exp() * logp).sum_dim_intlist(-1, false, Kind::Float)
}

fn bool_tensor(v: &[bool], shape: &[i64]) -> Tensor {
    let f: Vec<u8> = v.iter().map(|&b| u8::from(b)).collect();
    Tensor::from_slice(&f).view(shape).to_kind(Kind::Bool)
}

/// Log-probabilities of the entries of `logits` (`[rows]`) under one softmax
/// per segment (`seg[r]` in `0..n_seg`, every segment non-empty), and each
/// segment's entropy (`[n_seg]`). Candidate lists differ in length; this
/// works on the real entries only, with no padding to the longest list.
fn segment_log_softmax(logits: &Tensor, seg: &[i64], n_seg: usize) -> (Tensor, Tensor) {
    // Each segment's largest logit (a constant) is subtracted so that exp cannot overflow.
    let mut max = vec![f32::NEG_INFINITY; n_seg];
    for (&s, v) in seg.iter().zip(super::net::to_vec(&logits.detach())) {
        max[s as usize] = max[s as usize].max(v);
    }
    let seg = Tensor::from_slice(seg);
    let z = logits - Tensor::from_slice(&max).index_select(0, &seg);
    let zeros = Tensor::zeros([n_seg as i64], (Kind::Float, Device::Cpu));
    let log_sum = zeros.index_add(0, &seg, &z.exp()).log();
    let logp = z - log_sum.index_select(0, &seg);
    let entropy = -zeros.index_add(0, &seg, &(logp.exp() * &logp));
    (logp, entropy)
}

fn i64_tensor(v: &[usize]) -> Tensor {
    let f: Vec<i64> = v.iter().map(|&x| x as i64).collect();
    Tensor::from_slice(&f)
}

/// Losses of one minibatch; returns (loss, [policy, value, entropy, kl, clip fraction]).
/// Public for the micro-benchmarks.
#[allow(clippy::too_many_arguments)]
pub fn minibatch_loss(
    net: &Net,
    shape: &HeadShape,
    records: &[&SlotRecord],
    advantages: &[f32],
    returns: &[f32],
    cfg: &TrainConfig,
) -> (Tensor, [f64; 5]) {
    // Only the rows that can matter go through the networks: options that
    // were allowed when the task was decided (a masked option's logit is never
    // used; the chosen one is always allowed) and a model's real cuts.
    let rows_of = |f: fn(&SlotRecord) -> usize| records.iter().map(|r| f(r)).sum::<usize>();
    let mut opt_rows = Vec::with_capacity(rows_of(|r| r.option_rows.len()));
    let (mut opt_seg, mut opt_chosen) = (Vec::new(), Vec::new());
    let (mut rb_mask, mut rb_a, mut cu_mask, mut cu_a, mut is_node) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut cut_rows = Vec::with_capacity(rows_of(|r| r.cut_rows.len()));
    let (mut cut_seg, mut cut_chosen, mut cut_pos) = (Vec::new(), Vec::new(), Vec::new());
    let mut cache_rows = Vec::with_capacity(rows_of(|r| r.cache_rows.len()));
    let (mut cache_keep, mut cache_old, mut cache_adv) = (Vec::new(), Vec::new(), Vec::new());
    let (mut task_old, mut task_adv, mut value_rows) = (Vec::new(), Vec::new(), Vec::new());
    let mut task_base = 0usize;
    for (rec, &adv) in records.iter().zip(advantages) {
        let a = &rec.actions;
        for i in 0..rec.n_tasks {
            let (lo, hi) = (a.cand_start[i], a.cand_start[i + 1]);
            debug_assert!(a.option_mask[lo + a.choice[i]], "the chosen option is allowed");
            for k in (lo..hi).filter(|&k| a.option_mask[k]) {
                if k == lo + a.choice[i] {
                    opt_chosen.push(opt_seg.len() as i64);
                }
                opt_seg.push((task_base + i) as i64);
                opt_rows.extend_from_slice(&rec.option_rows[k * ROW_DIM..(k + 1) * ROW_DIM]);
            }
        }
        rb_mask.extend_from_slice(&a.rb_mask);
        rb_a.extend_from_slice(&a.rb);
        cu_mask.extend_from_slice(&a.cu_mask);
        cu_a.extend_from_slice(&a.cu);
        // The record holds the real cuts of its offloaded tasks, in task order.
        let first_cut = cut_seg.len();
        for i in 0..rec.n_tasks {
            let off = a.is_offload(i);
            is_node.push(if off { 1f32 } else { 0.0 });
            if off {
                // The allowed cuts are a model's real ones, 0..cuts.
                let mask = &a.cut_mask[i * shape.cuts..(i + 1) * shape.cuts];
                let cuts = mask.iter().take_while(|&&m| m).count();
                debug_assert!(a.cut[i] < cuts && mask[cuts..].iter().all(|&m| !m));
                cut_chosen.push((cut_seg.len() + a.cut[i]) as i64);
                cut_seg.extend(std::iter::repeat_n(cut_pos.len() as i64, cuts));
                cut_pos.push(task_base + i);
            }
        }
        debug_assert_eq!((cut_seg.len() - first_cut) * CUT_DIM, rec.cut_rows.len());
        cut_rows.extend_from_slice(&rec.cut_rows);
        task_old.extend_from_slice(&a.task_logp);
        task_adv.extend(std::iter::repeat_n(adv, rec.n_tasks));
        for (u, &free) in a.cache_free_choice.iter().enumerate() {
            if free {
                cache_rows.extend_from_slice(&rec.cache_rows[u * CACHE_DIM..(u + 1) * CACHE_DIM]);
                cache_keep.push(if a.cache_keep[u] { 1f32 } else { 0.0 });
                cache_old.push(a.cache_logp[u]);
                cache_adv.push(adv);
            }
        }
        value_rows.extend_from_slice(&rec.value_row);
        task_base += rec.n_tasks;
    }
    let n_tasks = task_base as i64;
    let out_real = net.options(&rows_tensor(&opt_rows, ROW_DIM));
    let (opt_lp, opt_entropy) = segment_log_softmax(&out_real.select(1, 0), &opt_seg, task_base);
    let mut task_lp = opt_lp.index_select(0, &Tensor::from_slice(&opt_chosen));
    let mut entropy = opt_entropy.mean(Kind::Float);
    let node = Tensor::from_slice(&is_node);
    let node_count = node.sum(Kind::Float).clamp_min(1.0);
    let chosen = out_real.index_select(0, &Tensor::from_slice(&opt_chosen));
    let (l_rb, l_cu) = (shape.rb_levels as i64, shape.cu_levels as i64);
    for (logits, mask, acts, l) in
        [(chosen.narrow(1, 1, l_rb), &rb_mask, &rb_a, l_rb), (chosen.narrow(1, 1 + l_rb, l_cu), &cu_mask, &cu_a, l_cu)]
    {
        let lp = masked_log_softmax(&logits, &bool_tensor(mask, &[n_tasks, l]));
        task_lp += lp.gather(1, &i64_tensor(acts).unsqueeze(1), false).squeeze_dim(1) * &node;
        entropy += (entropy_of(&lp) * &node).sum(Kind::Float) / &node_count;
    }
    if !cut_pos.is_empty() {
        let logits = net.cuts(&rows_tensor(&cut_rows, CUT_DIM));
        let (lp, cut_entropy) = segment_log_softmax(&logits, &cut_seg, cut_pos.len());
        let chosen_lp = lp.index_select(0, &Tensor::from_slice(&cut_chosen));
        task_lp = task_lp.index_add(0, &i64_tensor(&cut_pos), &chosen_lp);
        entropy += cut_entropy.sum(Kind::Float) / &node_count;
    }
    let mut new_lp = task_lp;
    let mut old_lp = Tensor::from_slice(&task_old);
    let mut adv = Tensor::from_slice(&task_adv);
    if !cache_keep.is_empty() {
        let logits = net.caches(&rows_tensor(&cache_rows, CACHE_DIM));
        let keep = Tensor::from_slice(&cache_keep);
        let drop: Tensor = keep.ones_like() - &keep;
        let lp: Tensor = &keep * logits.log_sigmoid() + drop * logits.neg().log_sigmoid();
        let p = logits.sigmoid();
        let neg_logits = logits.neg();
        let q: Tensor = p.ones_like() - &p;
        let ent: Tensor = (&p * logits.log_sigmoid() + q * neg_logits.log_sigmoid()).neg();
        entropy += ent.mean(Kind::Float);
        new_lp = Tensor::cat(&[new_lp, lp], 0);
        old_lp = Tensor::cat(&[old_lp, Tensor::from_slice(&cache_old)], 0);
        adv = Tensor::cat(&[adv, Tensor::from_slice(&cache_adv)], 0);
    }
    let log_ratio = &new_lp - &old_lp;
    let ratio = log_ratio.exp();
    let surr1 = &ratio * &adv;
    let surr2 = ratio.clamp(1.0 - cfg.clip, 1.0 + cfg.clip) * &adv;
    let policy_loss = -surr1.min_other(&surr2).mean(Kind::Float);
    let v = net.values(&rows_tensor(&value_rows, VALUE_DIM));
    let value_loss = (v - Tensor::from_slice(returns)).square().mean(Kind::Float);
    let loss = &policy_loss + cfg.value_coef * &value_loss - cfg.entropy_coef * &entropy;
    let stats = tch::no_grad(|| {
        let kl = ((&ratio - 1.0) - &log_ratio).mean(Kind::Float).double_value(&[]);
        let clipped = (&ratio - 1.0).abs().gt(cfg.clip).to_kind(Kind::Float).mean(Kind::Float).double_value(&[]);
        [policy_loss.double_value(&[]), value_loss.double_value(&[]), entropy.double_value(&[]), kl, clipped]
    });
    (loss, stats)
}

/// Everything a worker needs, shared by reference.
struct Shared<'a> {
    mix: &'a Mixture<'a>,
    cfg: &'a TrainConfig,
    arch: Arch,
    init: &'a [(String, Vec<i64>, Vec<f32>)],
    /// The observation statistics every worker starts from.
    init_stats: &'a Normalizer,
    sync: &'a dyn GradientSync,
    /// This rank's first worker's global index (rank × workers).
    first_worker: usize,
}

struct WorkerOut {
    weights: NamedWeights,
    normalizer: Normalizer,
}

/// Worker `w` of this rank (`w` indexes the rank's sync; `g` is the global
/// index that seeds its environments and sampling).
fn run_worker(
    w: usize,
    sh: &Shared<'_>,
    log: Option<mpsc::Sender<UpdateLog>>,
    started: Instant,
) -> Result<WorkerOut, DppoError> {
    let cfg = sh.cfg;
    let g = sh.first_worker + w;
    let vs = nn::VarStore::new(Device::Cpu);
    let net = Net::new(&vs.root(), sh.arch);
    import_weights(&vs, sh.init).map_err(DppoError::Internal)?;
    let mut opt = nn::Adam::default().build(&vs, cfg.lr).map_err(|e| DppoError::Internal(e.to_string()))?;
    let params = vs.trainable_variables();
    let mut rng: ChaCha8Rng = stream(cfg.seed, &format!("dppo-worker-{g}"));
    let mut normalizer = sh.init_stats.clone();
    let mut envs: Vec<TrainEnv> =
        (0..cfg.envs_per_worker).map(|e| TrainEnv::start(sh.mix, cfg.seed, g, e, 0)).collect();
    // Levels and cuts agree across the mixture (checked): one shape serves the minibatches.
    let shape = HeadShape::of(&envs[0].world.env);
    let updates = cfg.updates();
    let n_workers = sh.sync.workers() as f64;
    for update in 0..updates {
        let lr = cfg.lr * (1.0 - update as f64 / updates as f64);
        opt.set_lr(lr);
        let t0 = Instant::now();
        let mut forward_s = 0.0;
        let affine = normalizer.affine();
        let mut batch_stats = Normalizer::new();
        let mut ro = Rollout { records: Vec::new(), rewards: Vec::new(), dones: Vec::new() };
        // Per scenario of the mixture: slots, cost, tasks, interrupted tasks
        // (the update's totals are their sums).
        let mut per_world = vec![[0.0f64; 4]; sh.mix.names().len()];
        for _ in 0..cfg.rollout_steps {
            // One batch per scenario of the mixture (its environment decodes), in mixture order.
            let mut decided: Vec<Option<(scenarios::Decision, SlotRecord)>> = envs.iter().map(|_| None).collect();
            for members in by_kind(&envs, sh.mix.entries.len()) {
                let env = &envs[members[0]].world.env;
                let obs: Vec<&Observation> = members.iter().map(|&i| &envs[i].obs).collect();
                let left: Vec<usize> = members.iter().map(|&i| envs[i].slots_left()).collect();
                let out = act(
                    &net,
                    &affine,
                    env,
                    &HeadShape::of(env),
                    &obs,
                    &left,
                    &mut Pick::Sample(&mut rng),
                    Some(&mut batch_stats),
                    &mut forward_s,
                );
                for (i, d) in members.into_iter().zip(out) {
                    decided[i] = Some(d);
                }
            }
            for (k_env, (e, decided)) in envs.iter_mut().zip(decided).enumerate() {
                let (decision, rec) = decided.expect("every environment decided");
                let (outcome, next) = transition(&e.world.env, &e.state, &e.obs, &decision)
                    .map_err(|err| DppoError::Internal(format!("decoded decision invalid: {err}")))?;
                let wl = &mut per_world[e.world_type];
                wl[0] += 1.0;
                wl[1] += outcome.cost;
                wl[2] += outcome.tasks.len() as f64;
                wl[3] += outcome.tasks.iter().filter(|t| t.interrupted).count() as f64;
                ro.records.push(rec);
                // Scaled by 1 − γ so that returns are O(one slot's cost per terminal).
                let terminals = e.world.terminals().max(1) as f32;
                ro.rewards.push(-(outcome.cost as f32) / terminals * (1.0 - cfg.gamma) as f32);
                e.state = next;
                let done = e.state.slot >= e.world.slots();
                ro.dones.push(done);
                if done {
                    *e = TrainEnv::start(sh.mix, cfg.seed, g, k_env, e.episode + 1);
                } else {
                    observe(&e.world, &mut e.draws, &e.state, &mut e.obs);
                }
            }
        }
        let clock = Instant::now();
        let mut last_values = vec![0f32; envs.len()];
        for members in by_kind(&envs, sh.mix.entries.len()) {
            let obs: Vec<&Observation> = members.iter().map(|&i| &envs[i].obs).collect();
            let left: Vec<usize> = members.iter().map(|&i| envs[i].slots_left()).collect();
            for (i, v) in members.iter().zip(values(&net, &affine, &envs[members[0]].world.env, &obs, &left)) {
                last_values[*i] = v;
            }
        }
        forward_s += clock.elapsed().as_secs_f64();
        let rollout_s = t0.elapsed().as_secs_f64();

        // GAE per environment (records are step-major).
        let n_env = cfg.envs_per_worker;
        let steps = cfg.rollout_steps;
        let mut adv = vec![0f32; steps * n_env];
        let mut ret = vec![0f32; steps * n_env];
        for (e, &last_value) in last_values.iter().enumerate() {
            let mut gae = 0.0f64;
            for t in (0..steps).rev() {
                let k = t * n_env + e;
                let next_v = if ro.dones[k] {
                    0.0
                } else if t + 1 == steps {
                    f64::from(last_value)
                } else {
                    f64::from(ro.records[k + n_env].value)
                };
                let nonterminal = if ro.dones[k] { 0.0 } else { 1.0 };
                let delta = f64::from(ro.rewards[k]) + cfg.gamma * next_v - f64::from(ro.records[k].value);
                gae = delta + cfg.gamma * cfg.gae_lambda * nonterminal * gae;
                adv[k] = gae as f32;
                ret[k] = (gae + f64::from(ro.records[k].value)) as f32;
            }
        }

        // Global statistics: normaliser sums, advantage moments, rollout metrics.
        let mut flat = batch_stats.to_flat();
        let adv_sum: f64 = adv.iter().map(|&a| f64::from(a)).sum();
        let adv_sq: f64 = adv.iter().map(|&a| f64::from(a) * f64::from(a)).sum();
        let n_slots = adv.len() as f64;
        let ret_mean: f64 = ret.iter().map(|&r| f64::from(r)).sum();
        let ret_sq: f64 = ret.iter().map(|&r| f64::from(r) * f64::from(r)).sum();
        let resid_sq: f64 =
            ret.iter().zip(&ro.records).map(|(&r, rec)| (f64::from(r) - f64::from(rec.value)).powi(2)).sum();
        flat.extend_from_slice(&[adv_sum, adv_sq, n_slots, ret_mean, ret_sq, resid_sq]);
        flat.extend(per_world.iter().flatten());
        sh.sync.all_reduce_sum(w, &mut flat);
        let n_stats = flat.len() - 6 - 4 * per_world.len();
        let (stats, rest) = flat.split_at(n_stats);
        let (g, world_sums) = rest.split_at(6);
        // All scenarios' cost, tasks and interrupted tasks.
        let total = |k: usize| world_sums.chunks_exact(4).map(|c| c[k]).sum::<f64>();
        let mut merged = normalizer.to_flat();
        for (m, b) in merged.iter_mut().zip(stats) {
            *m += b;
        }
        normalizer.from_flat(&merged);
        let (total_slots, mean_adv) = (g[2], g[0] / g[2]);
        let std_adv = (g[1] / total_slots - mean_adv * mean_adv).max(0.0).sqrt() + 1e-8;
        for a in adv.iter_mut() {
            *a = ((f64::from(*a) - mean_adv) / std_adv) as f32;
        }
        let ret_var = g[4] / total_slots - (g[3] / total_slots).powi(2);
        let explained = if ret_var > 1e-12 { 1.0 - (g[5] / total_slots) / ret_var } else { f64::NAN };

        // PPO epochs over shuffled minibatches of slots.
        let t1 = Instant::now();
        let mut idx: Vec<usize> = (0..adv.len()).collect();
        let mb = idx.len() / cfg.minibatches;
        let mut acc = [0f64; 5];
        let mut n_mb = 0.0;
        for _ in 0..cfg.epochs {
            idx.shuffle(&mut rng);
            for b in 0..cfg.minibatches {
                let sel = &idx[b * mb..if b + 1 == cfg.minibatches { idx.len() } else { (b + 1) * mb }];
                let recs: Vec<&SlotRecord> = sel.iter().map(|&k| &ro.records[k]).collect();
                let a: Vec<f32> = sel.iter().map(|&k| adv[k]).collect();
                let r: Vec<f32> = sel.iter().map(|&k| ret[k]).collect();
                opt.zero_grad();
                let (loss, st) = minibatch_loss(&net, &shape, &recs, &a, &r, cfg);
                // Every parameter needs a gradient on every worker for the
                // all-reduce. Once a parameter has one, `zero_grad` keeps it
                // (zeroed), so the zero-weighted touch is only needed until then.
                if params.iter().all(|p| p.grad().defined()) {
                    loss.backward();
                } else {
                    let touch = params.iter().map(|p| p.sum(Kind::Float)).fold(Tensor::from(0f32), |s, x| s + x);
                    (loss + touch * 0.0).backward();
                }
                average_gradients(w, &params, sh.sync, n_workers);
                opt.clip_grad_norm(cfg.max_grad_norm);
                opt.step();
                for (a, s) in acc.iter_mut().zip(st) {
                    *a += s;
                }
                n_mb += 1.0;
            }
        }
        let update_s = t1.elapsed().as_secs_f64();
        let mut m: Vec<f64> = acc.iter().map(|a| a / n_mb).collect();
        sh.sync.all_reduce_sum(w, &mut m);
        let allreduce_s = if w == 0 { sh.sync.take_comm_seconds() } else { 0.0 };
        if let Some(tx) = &log {
            let row = UpdateLog {
                update: update + 1,
                env_steps: (update + 1) * cfg.slots_per_update(),
                wall_s: started.elapsed().as_secs_f64(),
                mean_slot_cost: total(1) / total_slots,
                interruption_rate: if total(2) > 0.0 { total(3) / total(2) } else { 0.0 },
                approx_kl: m[3] / n_workers,
                clip_fraction: m[4] / n_workers,
                entropy: m[2] / n_workers,
                value_loss: m[1] / n_workers,
                explained_variance: explained,
                rollout_s: rollout_s - forward_s,
                forward_s,
                update_s,
                allreduce_s,
                worlds: world_sums
                    .chunks_exact(4)
                    .map(|c| WorldLog {
                        slots: c[0] as u64,
                        mean_slot_cost: c[1] / c[0],
                        interruption_rate: if c[2] > 0.0 { c[3] / c[2] } else { 0.0 },
                    })
                    .collect(),
            };
            if tx.send(row).is_err() {
                return Err(DppoError::Internal("training log receiver gone".into()));
            }
        }
    }
    Ok(WorkerOut { weights: export_weights(&vs), normalizer })
}

fn average_gradients(w: usize, params: &[Tensor], sync: &dyn GradientSync, n_workers: f64) {
    let grads: Vec<Tensor> = params.iter().map(Tensor::grad).collect();
    let mut flat: Vec<f64> = Vec::new();
    for g in &grads {
        flat.extend(super::net::to_vec(g).into_iter().map(f64::from));
    }
    sync.all_reduce_sum(w, &mut flat);
    let mut at = 0;
    tch::no_grad(|| {
        for g in &grads {
            let n = g.numel();
            let v: Vec<f32> = flat[at..at + n].iter().map(|&x| (x / n_workers) as f32).collect();
            g.shallow_clone().copy_(&Tensor::from_slice(&v).view(g.size().as_slice()));
            at += n;
        }
    });
}

/// Train on `mix` in one process from fresh weights; `on_update` sees every
/// log row as it arrives (on the calling thread).
pub fn train(
    mix: &Mixture<'_>,
    cfg: &TrainConfig,
    on_update: &mut dyn FnMut(&UpdateLog),
) -> Result<Trained, DppoError> {
    train_across(mix, cfg, None, None, on_update)
}

/// Train as one rank of `comm` (`cfg.ranks` must be its size): rank 0's
/// initial weights are broadcast, gradients and statistics are summed across
/// ranks, and only rank 0's `on_update` sees log rows. Every rank returns
/// the same weights (checked). `from`: fine-tune a checkpoint (its weights
/// and observation statistics) instead of drawing fresh weights from the seed.
pub fn train_across(
    mix: &Mixture<'_>,
    cfg: &TrainConfig,
    comm: Option<&dyn RankComm>,
    from: Option<&Checkpoint>,
    on_update: &mut dyn FnMut(&UpdateLog),
) -> Result<Trained, DppoError> {
    cfg.check().map_err(DppoError::Config)?;
    let (rank, ranks) = comm.map_or((0, 1), |c| (c.rank(), c.ranks()));
    if cfg.ranks != ranks {
        return Err(DppoError::Config(format!("{} ranks configured, {ranks} running", cfg.ranks)));
    }
    // One intra-op thread per worker: the parallelism is the workers'.
    tch::set_num_threads(1);
    super::alloc::keep_freed_memory();
    mix.check().map_err(DppoError::Config)?;
    let d = &mix.entries[0].0.config().decision;
    let arch = Arch { fetch_claims: cfg.fetch_claims, ..Arch::new(d.rb_levels.len(), d.cu_levels.len()) };
    let fresh = || {
        let vs = nn::VarStore::new(Device::Cpu);
        let _net = Net::seeded(&vs.root(), arch, derive(cfg.seed, "dppo-init") as i64);
        export_weights(&vs)
    };
    let (mut init, init_stats, fine_tuned_from) = match from {
        None => (fresh(), Normalizer::new(), None),
        Some(ck) => {
            // Fetch claims are the decoder's, not the network's: either may be fine-tuned under the other.
            if (Arch { fetch_claims: arch.fetch_claims, ..ck.sidecar.architecture }) != arch {
                return Err(DppoError::Config(format!(
                    "{}: its network ({:?}) is not the one this training builds ({arch:?})",
                    ck.path.display(),
                    ck.sidecar.architecture
                )));
            }
            let info = FineTuneInfo { scenario: ck.sidecar.scenario.clone(), env_steps: ck.sidecar.training.env_steps };
            let mut weights = ck.weights.clone();
            // Exact at T = 1 (x / 1 is x), so no special case.
            temper_node_logits(&mut weights, cfg.init_temperature);
            (weights, ck.sidecar.observation_stats.clone(), Some(info))
        }
    };
    if from.is_none() && cfg.init_temperature != 1.0 {
        return Err(DppoError::Config("--init-temperature: applies to a fine-tuned checkpoint (--init)".into()));
    }
    if let Some(c) = comm {
        // Every rank draws the same weights from the seed; rank 0's are
        // broadcast anyway, so that hosts with other libtorch builds agree.
        let mut flat: Vec<f64> = init.iter().flat_map(|(_, _, d)| d.iter().map(|&x| f64::from(x))).collect();
        c.broadcast(&mut flat);
        let mut at = 0;
        for (_, _, d) in init.iter_mut() {
            for x in d.iter_mut() {
                *x = flat[at] as f32;
                at += 1;
            }
        }
    }
    let sync = LocalSync::across(cfg.workers, comm);
    let shared =
        Shared { mix, cfg, arch, init: &init, init_stats: &init_stats, sync: &sync, first_worker: rank * cfg.workers };
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    let mut logs = Vec::new();
    let results: Vec<Result<WorkerOut, DppoError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cfg.workers)
            .map(|w| {
                let log = (w == 0 && rank == 0).then(|| tx.clone());
                let sh = &shared;
                s.spawn(move || run_worker(w, sh, log, started))
            })
            .collect();
        drop(tx);
        for row in rx {
            on_update(&row);
            logs.push(row);
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(DppoError::Internal("worker panicked".into()))))
            .collect()
    });
    let mut first = None;
    for r in results {
        let out = r?;
        first.get_or_insert(out);
    }
    let out = first.expect("at least one worker");
    if let Some(c) = comm {
        let mine = weights_digest(&out.weights);
        let mut root = mine;
        c.broadcast(&mut root);
        if root != mine {
            return Err(DppoError::Internal(format!("rank {rank}'s weights differ from rank 0's after training")));
        }
    }
    Ok(Trained { arch, weights: out.weights, normalizer: out.normalizer, logs, fine_tuned_from })
}

/// A digest of the weights' bits as two exactly representable f64 (for the cross-rank check).
fn weights_digest(weights: &NamedWeights) -> [f64; 2] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (_, _, d) in weights {
        for x in d {
            h = (h ^ u64::from(x.to_bits())).wrapping_mul(0x0100_0000_01b3);
        }
    }
    [(h >> 32) as f64, (h & 0xffff_ffff) as f64]
}
