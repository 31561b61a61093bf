//! From head logits to a decision that cannot break a rule of the simulator.
//!
//! With fetch claims ([`claim_fetches`]) the cache head first claims absent
//! models whose tasks will still be there when the download is ready; a
//! claimed model is pinned like a held download. Then tasks are decoded one
//! after another in a [`TaskOrder`], each
//! against what earlier tasks left: a node is offered only when the task
//! reaches it, its smallest levels still fit and its model is cached there or
//! can still be fetched (the bytes of models already needed this slot plus
//! this one fit the cache; with [`Downloads::Held`] a download in progress is
//! needed); a level only when it fits what is left. Cuts are
//! offered up to the model's number of cuts. Caches come last: a model used
//! by an offload this slot (or held) is kept (forced), any other is a keep/fetch coin of
//! the cache head, offered only while it fits (and, for an absent model, with
//! [`Fetch::InDemand`], only where a task in reach uses it). Every mask is
//! returned so that the update re-applies exactly the distribution that was
//! sampled.
//!
//! [`rescue`] then serves at a node tasks the decision interrupts when that
//! lowers the slot's cost, and [`top_up`] hands the units no task was given
//! to offloaded tasks (deterministic steps after sampling, not part of the
//! sampled distribution).

use rand::Rng;
use scenarios::sim::{local_cost, local_terms, offload_terms, task_cost};
use scenarios::{Action, Decision, Environment, Observation};

use super::features::{reach_counts, stake_by_node, NODE0, OPT_DROP, OPT_LOCAL};

/// How a head's choice is made.
pub enum Pick<'r, R: Rng> {
    /// Sample from the masked distribution (training).
    Sample(&'r mut R),
    /// Most probable allowed choice (evaluation; first index on ties).
    Mode,
}

impl<R: Rng> Pick<'_, R> {
    /// Choose among `logits` where `mask` allows; returns (index, log-probability).
    fn categorical(&mut self, logits: &[f32], mask: &[bool]) -> (usize, f32) {
        let max = logits.iter().zip(mask).filter(|(_, &m)| m).map(|(&l, _)| l).fold(f32::NEG_INFINITY, f32::max);
        debug_assert!(max.is_finite(), "categorical over an empty mask");
        let z: f64 = logits.iter().zip(mask).filter(|(_, &m)| m).map(|(&l, _)| f64::from(l - max).exp()).sum();
        let lse = f64::from(max) + z.ln();
        let pick = match self {
            Pick::Mode => {
                let mut best = usize::MAX;
                for (k, (&l, &m)) in logits.iter().zip(mask).enumerate() {
                    if m && (best == usize::MAX || l > logits[best]) {
                        best = k;
                    }
                }
                best
            }
            Pick::Sample(rng) => {
                let u: f64 = rng.gen::<f64>() * z;
                let mut acc = 0.0;
                let mut last = usize::MAX;
                let mut chosen = usize::MAX;
                for (k, (&l, &m)) in logits.iter().zip(mask).enumerate() {
                    if !m {
                        continue;
                    }
                    last = k;
                    acc += f64::from(l - max).exp();
                    if u < acc {
                        chosen = k;
                        break;
                    }
                }
                if chosen == usize::MAX {
                    last
                } else {
                    chosen
                }
            }
        };
        (pick, (f64::from(logits[pick]) - lse) as f32)
    }

    /// Keep (true) or not with probability `sigmoid(logit)`; returns (choice, log-probability).
    fn bernoulli(&mut self, logit: f32) -> (bool, f32) {
        let p = 1.0 / (1.0 + (-f64::from(logit)).exp());
        let keep = match self {
            Pick::Mode => p > 0.5,
            Pick::Sample(rng) => rng.gen::<f64>() < p,
        };
        // log σ(x) = −softplus(−x), log(1 − σ(x)) = −softplus(x), computed stably.
        let softplus = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
        let lp = if keep { -softplus(-f64::from(logit)) } else { -softplus(f64::from(logit)) };
        (keep, lp as f32)
    }
}

/// Shape of the heads for one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadShape {
    pub nodes: usize,
    pub models: usize,
    pub rb_levels: usize,
    pub cu_levels: usize,
    /// Cut slots (the largest number of offloadable cuts in the catalogue).
    pub cuts: usize,
}

impl HeadShape {
    pub fn of(env: &Environment) -> HeadShape {
        HeadShape {
            nodes: env.nodes.len(),
            models: env.catalogue().len(),
            rb_levels: env.rb_levels.len(),
            cu_levels: env.cu_levels.len(),
            cuts: HeadShape::cuts_of(env.catalogue()),
        }
    }
    /// Cut slots of a catalogue: its largest number of offloadable cuts.
    pub fn cuts_of(catalogue: &scenarios::Catalogue) -> usize {
        catalogue.models.iter().map(|m| m.offload_cuts()).max().unwrap_or(1)
    }
    /// Outputs per option row: node logit, rb level logits, cu level logits.
    pub fn row_out(&self) -> usize {
        1 + self.rb_levels + self.cu_levels
    }
}

/// Everything sampled for one slot, with the masks it was sampled under.
#[derive(Debug, Clone, Default)]
pub struct SlotActions {
    /// Candidate options of every task, flat (task `i` owns
    /// `cands[cand_start[i]..cand_start[i + 1]]`), and which were allowed
    /// when the task was decoded.
    pub cands: Vec<usize>,
    pub cand_start: Vec<usize>,
    pub option_mask: Vec<bool>,
    /// Per task (observation order): chosen option id and its position among the candidates.
    pub option: Vec<usize>,
    pub choice: Vec<usize>,
    pub rb: Vec<usize>,
    pub rb_mask: Vec<bool>,
    pub cu: Vec<usize>,
    pub cu_mask: Vec<bool>,
    pub cut: Vec<usize>,
    pub cut_mask: Vec<bool>,
    /// Log-probability of each task's joint choice (option, levels, cut).
    pub task_logp: Vec<f32>,
    /// Per (node, model): kept, decided by the head (not forced or masked), log-probability.
    pub cache_keep: Vec<bool>,
    pub cache_free_choice: Vec<bool>,
    pub cache_logp: Vec<f32>,
}

impl SlotActions {
    pub fn is_offload(&self, task: usize) -> bool {
        self.option[task] >= NODE0
    }
}

/// The order in which [`decode_tasks`] offers tasks the nodes. It decides
/// the caches as much as the units: the first task to pick a node pins its
/// model there, and a model that no longer fits is masked for every later
/// task (docs/model.md §9b, "Decoding").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOrder {
    /// Earliest deadline first, ties by terminal.
    Deadline,
    /// Largest cost on the task's own terminal first (the local cost at
    /// stake; late there counts ω), ties as [`TaskOrder::Deadline`]: the
    /// tasks with most to gain from a node claim its room first, so one
    /// whose model is late on every terminal (ResNet-152) is not locked out
    /// by one of the same size that is mostly on time (AlexNet).
    Stake,
}

/// What the decoder does with a model whose download is still in progress
/// when the slot starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Downloads {
    /// As any cached model: kept only when a task uses it or the cache head
    /// keeps it, and another model may take its room.
    Revocable,
    /// Kept (forced) until it is ready, its bytes taken in every mask: a
    /// fetch, once paid, lives to serve (docs/model.md §9b, "Held downloads").
    Held,
}

/// Whether a task's option may fetch a model that pushes out models other
/// tasks in reach would use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evictions {
    /// Any fetch that fits beside the models already pinned this slot.
    Free,
    /// A fetch of `m` at `n` that does not fit beside the pinned models and
    /// the ready models at `n` with tasks in reach is offered only when
    /// `m`'s local cost at stake there is at least theirs together: one
    /// late AlexNet task may not evict ResNet-152 serving three
    /// (docs/model.md §9b, "Guarded evictions").
    Guarded,
}

/// With [`Evictions::Guarded`] (a task's fetch) and for a fetch claim, may
/// `model` (absent at `node`) be fetched there, given the models pinned
/// there so far? Yes when it fits beside them and the ready models there
/// that tasks in reach use (stake > 0, not pinned yet), or when the stake
/// it `brings` is at least theirs together. `stake` is
/// [`super::features::stake_by_node`]'s.
#[allow(clippy::too_many_arguments)]
fn fetch_allowed(
    env: &Environment,
    obs: &Observation,
    node: usize,
    model: usize,
    pinned: &[usize],
    pinned_bytes: f64,
    brings: f64,
    stake: &[Vec<f64>],
) -> bool {
    let (mut bytes, mut their_stake) = (0.0, 0.0);
    for e in &obs.caches[node] {
        let in_use = e.ready_at <= obs.time_s && stake[node][e.model] > 0.0 && !pinned.contains(&e.model);
        if e.model != model && in_use {
            bytes += env.model(e.model).weights_bytes;
            their_stake += stake[node][e.model];
        }
    }
    pinned_bytes + env.model(model).weights_bytes + bytes <= env.nodes[node].cache_bytes || brings >= their_stake
}

/// Per model, the stake at `node` that a download started now would serve:
/// the local cost at stake (as [`super::features::stake_by_node`]) of the
/// model's tasks that reach the node, reach no other node holding the model
/// (ready or downloading), and will still be in reach when the download is
/// ready. Each task moves on at its velocity for the download's wait; in
/// reach means no farther from the node than the farthest task that reaches
/// it now. A download serves nothing until it is ready, and a vehicle has
/// left the cell by then (docs/model.md §9b, "Fetch claims").
fn staying_stake(env: &Environment, obs: &Observation, node: usize) -> Vec<f64> {
    let at = env.nodes[node].pos;
    let dist = |p: [f64; 2]| (p[0] - at[0]).hypot(p[1] - at[1]);
    let in_reach: Vec<usize> = (0..obs.tasks.len()).filter(|&i| obs.link(i, node).accessible).collect();
    let range = in_reach.iter().map(|&i| dist(obs.tasks[i].pos)).fold(0.0, f64::max);
    let mut staying = vec![0.0; env.catalogue().len()];
    for &i in &in_reach {
        let t = &obs.tasks[i];
        let held_elsewhere =
            (0..obs.nodes).any(|o| o != node && obs.link(i, o).accessible && obs.cache_entry(o, t.model).is_some());
        let wait = env.ready_after_download(node, t.model, obs.time_s) - obs.time_s;
        if !held_elsewhere && dist([t.pos[0] + t.vel[0] * wait, t.pos[1] + t.vel[1] * wait]) <= range {
            staying[t.model] += local_cost(env, t) / env.interruption_cost;
        }
    }
    staying
}

/// Fetches the cache head decided before the tasks ([`claim_fetches`]);
/// empty ([`Claims::default`]) when the decoder does not ask it first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    /// Per node, the models claimed: pinned for the tasks, then kept.
    pub models: Vec<Vec<usize>>,
    /// The (node, model) units decided: unit (node-major), fetched, log-probability.
    pub decided: Vec<(usize, bool, f32)>,
}

/// Ask the cache head, before the tasks decode, about every absent model
/// with a [`staying_stake`] at a node (per node, in the head's order). A
/// claim must fit beside the held downloads and earlier claims; it may push
/// out ready models that tasks in reach use only when its staying stake is
/// at least theirs now. A claimed model is pinned for the tasks, then kept.
///
/// Why first: decided after the tasks, the cache head's fetch of ResNet-152
/// at node 4 of held-out `random-pedestrian` seed 2, which it wanted with
/// probability 0.994, was never offered, because an AlexNet offload had
/// pinned AlexNet there. Why the staying stake: claims priced by this
/// slot's stake swapped ready models in use for downloads whose tasks had
/// left (or were served elsewhere) by the time they were ready
/// (docs/model.md §9b, "Fetch claims").
pub fn claim_fetches<R: Rng>(
    env: &Environment,
    obs: &Observation,
    shape: &HeadShape,
    cache_logits: &[f32],
    downloads: Downloads,
    pick: &mut Pick<'_, R>,
) -> Claims {
    let n_models = shape.models;
    let stake = stake_by_node(env, obs);
    let held = held_downloads(obs, shape.nodes, downloads);
    let mut claims = Claims { models: vec![Vec::new(); shape.nodes], decided: Vec::new() };
    for (n, claimed) in claims.models.iter_mut().enumerate() {
        let mut pinned = held[n].clone();
        let mut bytes: f64 = pinned.iter().map(|&m| env.model(m).weights_bytes).sum();
        let logits = &cache_logits[n * n_models..(n + 1) * n_models];
        let staying = staying_stake(env, obs, n);
        let mut absent: Vec<usize> =
            (0..n_models).filter(|&m| obs.cache_entry(n, m).is_none() && staying[m] > 0.0).collect();
        absent.sort_by(|&x, &y| logits[y].total_cmp(&logits[x]).then(x.cmp(&y)));
        for m in absent {
            let w = env.model(m).weights_bytes;
            if bytes + w > env.nodes[n].cache_bytes
                || !fetch_allowed(env, obs, n, m, &pinned, bytes, staying[m], &stake)
            {
                continue;
            }
            let (fetch, lp) = pick.bernoulli(logits[m]);
            claims.decided.push((n * n_models + m, fetch, lp));
            if fetch {
                pinned.push(m);
                claimed.push(m);
                bytes += w;
            }
        }
    }
    claims
}

/// The models each node must keep this slot because their download is in
/// progress (none with [`Downloads::Revocable`]).
fn held_downloads(obs: &Observation, nodes: usize, downloads: Downloads) -> Vec<Vec<usize>> {
    (0..nodes)
        .map(|n| match downloads {
            Downloads::Revocable => Vec::new(),
            Downloads::Held => obs.caches[n].iter().filter(|e| e.ready_at > obs.time_s).map(|e| e.model).collect(),
        })
        .collect()
}

/// Earliest deadline first, ties by terminal.
fn deadline_order(obs: &Observation) -> impl Fn(&usize, &usize) -> std::cmp::Ordering + '_ {
    |&x, &y| {
        obs.tasks[x]
            .deadline_s
            .total_cmp(&obs.tasks[y].deadline_s)
            .then(obs.tasks[x].terminal.cmp(&obs.tasks[y].terminal))
    }
}

/// Cost (`T/D`, or `ω` when late) of task `i` offloaded to `node` with these
/// levels and cut, its model ready at `ready_at`.
#[allow(clippy::too_many_arguments)]
fn offload_cost(
    env: &Environment,
    obs: &Observation,
    i: usize,
    node: usize,
    ready_at: f64,
    cut: usize,
    rb: u32,
    cu: u32,
) -> f64 {
    let task = &obs.tasks[i];
    let terms = offload_terms(env, task, obs.link(i, node), node, cut, rb, cu, ready_at, obs.time_s);
    task_cost(env, terms.total(), task.deadline_s)
}

/// Decode options and levels of every task (stage 1), in `order`.
/// `cands`/`cand_start` list each task's candidate options (see
/// `features::option_rows`); `row_out` holds `row_out()` values per
/// candidate row.
#[allow(clippy::too_many_arguments)]
pub fn decode_tasks<R: Rng>(
    env: &Environment,
    obs: &Observation,
    shape: &HeadShape,
    cands: Vec<usize>,
    cand_start: Vec<usize>,
    row_out: &[f32],
    order: TaskOrder,
    downloads: Downloads,
    evictions: Evictions,
    claims: &Claims,
    pick: &mut Pick<'_, R>,
) -> SlotActions {
    let n_tasks = obs.tasks.len();
    let stride = shape.row_out();
    debug_assert_eq!(row_out.len(), cands.len() * stride);
    let mut a = SlotActions {
        option_mask: vec![false; cands.len()],
        cands,
        cand_start,
        option: vec![OPT_DROP; n_tasks],
        choice: vec![0; n_tasks],
        rb: vec![0; n_tasks],
        rb_mask: vec![false; n_tasks * shape.rb_levels],
        cu: vec![0; n_tasks],
        cu_mask: vec![false; n_tasks * shape.cu_levels],
        cut: vec![0; n_tasks],
        cut_mask: vec![false; n_tasks * shape.cuts],
        task_logp: vec![0.0; n_tasks],
        ..SlotActions::default()
    };
    let by_deadline = deadline_order(obs);
    let mut sequence: Vec<usize> = (0..n_tasks).collect();
    match order {
        TaskOrder::Deadline => sequence.sort_by(&by_deadline),
        TaskOrder::Stake => {
            let stake: Vec<f64> = obs.tasks.iter().map(|t| local_cost(env, t)).collect();
            sequence.sort_by(|x, y| stake[*y].total_cmp(&stake[*x]).then(by_deadline(x, y)));
        }
    }
    let mut rb_left: Vec<u32> = env.nodes.iter().map(|n| n.rb_units).collect();
    let mut cu_left: Vec<u32> = env.nodes.iter().map(|n| n.cu_units).collect();
    let mut pinned = held_downloads(obs, shape.nodes, downloads);
    // Claimed models are absent from the cache, held downloads in it: no overlap.
    for (models, claimed) in pinned.iter_mut().zip(&claims.models) {
        models.extend_from_slice(claimed);
    }
    let mut pinned_bytes: Vec<f64> =
        pinned.iter().map(|ms| ms.iter().map(|&m| env.model(m).weights_bytes).sum()).collect();
    let (rb_min, cu_min) = (env.rb_levels[0], env.cu_levels[0]);
    let stake = (evictions == Evictions::Guarded).then(|| stake_by_node(env, obs));
    let mut logits = Vec::new();
    for &i in &sequence {
        let task = &obs.tasks[i];
        let w = env.model(task.model).weights_bytes;
        let (lo, hi) = (a.cand_start[i], a.cand_start[i + 1]);
        for k in lo..hi {
            a.option_mask[k] = match a.cands[k] {
                OPT_LOCAL | OPT_DROP => true,
                o => {
                    let n = o - NODE0;
                    let pinned_here = pinned[n].contains(&task.model);
                    let fits_model = pinned_here || pinned_bytes[n] + w <= env.nodes[n].cache_bytes;
                    // Only a new fetch is judged: a model pinned here this slot
                    // is an earlier task's fetch (or cached), judged then.
                    let fetches = !pinned_here && obs.cache_entry(n, task.model).is_none();
                    let guarded = match &stake {
                        Some(stake) if fetches => {
                            let brings = stake[n][task.model];
                            fetch_allowed(env, obs, n, task.model, &pinned[n], pinned_bytes[n], brings, stake)
                        }
                        _ => true,
                    };
                    obs.link(i, n).accessible && rb_left[n] >= rb_min && cu_left[n] >= cu_min && fits_model && guarded
                }
            };
        }
        logits.clear();
        logits.extend((lo..hi).map(|k| row_out[k * stride]));
        let (choice, mut lp) = pick.categorical(&logits, &a.option_mask[lo..hi]);
        let opt = a.cands[lo + choice];
        a.choice[i] = choice;
        a.option[i] = opt;
        if opt >= NODE0 {
            let n = opt - NODE0;
            let base = (lo + choice) * stride;
            let rb_mask = &mut a.rb_mask[i * shape.rb_levels..(i + 1) * shape.rb_levels];
            for (k, m) in rb_mask.iter_mut().enumerate() {
                *m = env.rb_levels[k] <= rb_left[n];
            }
            let (rb, lp_rb) = pick.categorical(&row_out[base + 1..base + 1 + shape.rb_levels], rb_mask);
            let cu_mask = &mut a.cu_mask[i * shape.cu_levels..(i + 1) * shape.cu_levels];
            for (k, m) in cu_mask.iter_mut().enumerate() {
                *m = env.cu_levels[k] <= cu_left[n];
            }
            let cu_base = base + 1 + shape.rb_levels;
            let (cu, lp_cu) = pick.categorical(&row_out[cu_base..cu_base + shape.cu_levels], cu_mask);
            a.rb[i] = rb;
            a.cu[i] = cu;
            lp += lp_rb + lp_cu;
            rb_left[n] -= env.rb_levels[rb];
            cu_left[n] -= env.cu_levels[cu];
            if !pinned[n].contains(&task.model) {
                pinned[n].push(task.model);
                pinned_bytes[n] += w;
            }
        }
        a.task_logp[i] = lp;
    }
    a
}

/// Decode the cut of every offloaded task (stage 2); `cut_logits` holds
/// `shape.cuts` values per offloaded task, in observation order.
pub fn decode_cuts<R: Rng>(
    env: &Environment,
    obs: &Observation,
    shape: &HeadShape,
    a: &mut SlotActions,
    cut_logits: &[f32],
    pick: &mut Pick<'_, R>,
) {
    let mut k = 0;
    for i in 0..obs.tasks.len() {
        if !a.is_offload(i) {
            continue;
        }
        let cuts = env.model(obs.tasks[i].model).offload_cuts();
        let mask = &mut a.cut_mask[i * shape.cuts..(i + 1) * shape.cuts];
        for (c, m) in mask.iter_mut().enumerate() {
            *m = c < cuts;
        }
        let (cut, lp) = pick.categorical(&cut_logits[k * shape.cuts..(k + 1) * shape.cuts], mask);
        a.cut[i] = cut;
        a.task_logp[i] += lp;
        k += 1;
    }
}

/// Which absent models a free cache choice may fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Any model that fits.
    Any,
    /// Only a model that a task reaching the node uses this slot: a fetch
    /// for no one fills the cache and, offered in the head's order, can
    /// push out a model that is used (docs/model.md §9b, "Demand fetch").
    InDemand,
}

/// Decode the cache sets (stage 3) and return the decision; `cache_logits`
/// holds one keep logit per (node, model), node-major.
#[allow(clippy::too_many_arguments)]
pub fn decode_caches<R: Rng>(
    env: &Environment,
    obs: &Observation,
    shape: &HeadShape,
    a: &mut SlotActions,
    cache_logits: &[f32],
    fetch: Fetch,
    downloads: Downloads,
    claims: &Claims,
    pick: &mut Pick<'_, R>,
) -> Decision {
    let (n_nodes, n_models) = (shape.nodes, shape.models);
    a.cache_keep = vec![false; n_nodes * n_models];
    a.cache_free_choice = vec![false; n_nodes * n_models];
    a.cache_logp = vec![0.0; n_nodes * n_models];
    let mut needed = vec![vec![false; n_models]; n_nodes];
    // The claims' choices were made before the tasks; claimed models are kept.
    for &(u, fetched, lp) in &claims.decided {
        (a.cache_free_choice[u], a.cache_keep[u], a.cache_logp[u]) = (true, fetched, lp);
        needed[u / n_models][u % n_models] |= fetched;
    }
    for (n, models) in held_downloads(obs, n_nodes, downloads).iter().enumerate() {
        for &m in models {
            needed[n][m] = true;
        }
    }
    for i in 0..obs.tasks.len() {
        if a.is_offload(i) {
            needed[a.option[i] - NODE0][obs.tasks[i].model] = true;
        }
    }
    // Tasks in reach per node and model, where only those may be fetched.
    let reach = (fetch == Fetch::InDemand).then(|| reach_counts(env, obs));
    let mut caches = Vec::with_capacity(n_nodes);
    let mut free = Vec::with_capacity(n_models);
    for (n, need) in needed.iter().enumerate() {
        let mut set = Vec::new();
        let mut bytes = 0.0;
        for (m, _) in need.iter().enumerate().filter(|(_, &x)| x) {
            set.push(m);
            bytes += env.model(m).weights_bytes;
            // A claim the head declined keeps its sample for the update,
            // though a task fetched the model after it.
            if !a.cache_free_choice[n * n_models + m] {
                a.cache_keep[n * n_models + m] = true;
            }
        }
        // The free choices in the head's order of preference (highest logit
        // first, ties to the lower model): in index order, a model late in
        // the catalogue could never be fetched into a cache that the earlier
        // ones fill (AlexNet on `melbourne`, docs/model.md §9b "Decoding").
        let logits = &cache_logits[n * n_models..(n + 1) * n_models];
        free.clear();
        let fetchable = |m: usize| reach.as_ref().is_none_or(|r| r[n][m] > 0) || obs.cache_entry(n, m).is_some();
        let decided = |m: usize| a.cache_free_choice[n * n_models + m];
        free.extend((0..n_models).filter(|&m| !need[m] && !decided(m) && fetchable(m)));
        free.sort_by(|&x, &y| logits[y].total_cmp(&logits[x]).then(x.cmp(&y)));
        for &m in &free {
            if bytes + env.model(m).weights_bytes > env.nodes[n].cache_bytes {
                continue;
            }
            let u = n * n_models + m;
            let (keep, lp) = pick.bernoulli(cache_logits[u]);
            a.cache_free_choice[u] = true;
            a.cache_keep[u] = keep;
            a.cache_logp[u] = lp;
            if keep {
                set.push(m);
                bytes += env.model(m).weights_bytes;
            }
        }
        set.sort_unstable(); // a set: the same decision whatever the order of choice
        caches.push(set);
    }
    let actions = (0..obs.tasks.len())
        .map(|i| match a.option[i] {
            OPT_LOCAL => Action::Local,
            OPT_DROP => Action::Drop,
            o => Action::Offload {
                node: o - NODE0,
                cut: a.cut[i],
                rb: env.rb_levels[a.rb[i]],
                cu: env.cu_levels[a.cu[i]],
            },
        })
        .collect();
    Decision { caches, actions }
}

/// What a decision's offloads leave at each node: units per node, and the
/// offloaded tasks there with the time their model is ready (it does not
/// change with levels, so the top-up and the rescue look it up once).
struct NodeLoads {
    rb_left: Vec<u32>,
    cu_left: Vec<u32>,
    at_node: Vec<Vec<(usize, f64)>>,
}

impl NodeLoads {
    fn of(env: &Environment, obs: &Observation, decision: &Decision) -> NodeLoads {
        let mut rb_left: Vec<u32> = env.nodes.iter().map(|n| n.rb_units).collect();
        let mut cu_left: Vec<u32> = env.nodes.iter().map(|n| n.cu_units).collect();
        let mut at_node: Vec<Vec<(usize, f64)>> = vec![Vec::new(); env.nodes.len()];
        for (i, a) in decision.actions.iter().enumerate() {
            if let Action::Offload { node, rb, cu, .. } = *a {
                rb_left[node] = rb_left[node].saturating_sub(rb);
                cu_left[node] = cu_left[node].saturating_sub(cu);
                at_node[node].push((i, obs.model_ready_at(env, node, obs.tasks[i].model)));
            }
        }
        NodeLoads { rb_left, cu_left, at_node }
    }
}

/// Work-conserving allocation after decoding: units of a node that no task
/// was given go, one level step at a time, to the offloaded task at that
/// node whose cost (`T/D`, or `ω` when late) drops the most, until no step
/// fits or helps. The sequential decoder cannot know what later tasks leave
/// unused; without this the shipped agent left a third of the units idle
/// (docs/model.md §9b). More units only shorten uplink and edge time, so no
/// task's cost rises, and levels stay within what is left: a valid decision
/// stays valid. Caches and nodes are not touched.
pub fn top_up(env: &Environment, obs: &Observation, decision: &mut Decision) {
    // Nodes do not share units, so each is topped up on its own.
    let NodeLoads { mut rb_left, mut cu_left, at_node } = NodeLoads::of(env, obs, decision);
    for (node, tasks) in at_node.iter().enumerate() {
        let levels = |i: usize, actions: &[Action]| match actions[i] {
            Action::Offload { cut, rb, cu, .. } => (cut, rb, cu),
            _ => unreachable!("only offloads are topped up"),
        };
        let cost = |i, ready_at, cut, rb, cu| offload_cost(env, obs, i, node, ready_at, cut, rb, cu);
        // The best single step of a task given what is left: (gain, rb, cu);
        // the RB step wins a tie.
        let best_step = |(i, ready_at): (usize, f64), actions: &[Action], rb_left: u32, cu_left: u32| {
            let (cut, rb, cu) = levels(i, actions);
            let now = cost(i, ready_at, cut, rb, cu);
            let rb_up = env.rb_levels.iter().copied().find(|&l| l > rb && l - rb <= rb_left).map(|r| (r, cu));
            let cu_up = env.cu_levels.iter().copied().find(|&l| l > cu && l - cu <= cu_left).map(|c| (rb, c));
            [rb_up, cu_up]
                .into_iter()
                .flatten()
                .map(|(r, c)| (now - cost(i, ready_at, cut, r, c), r, c))
                .filter(|&(gain, _, _)| gain > 1e-12)
                .fold(
                    None,
                    |best: Option<(f64, u32, u32)>, s| if best.is_some_and(|b| b.0 >= s.0) { best } else { Some(s) },
                )
        };
        let mut steps: Vec<Option<(f64, u32, u32)>> =
            tasks.iter().map(|&t| best_step(t, &decision.actions, rb_left[node], cu_left[node])).collect();
        loop {
            // Largest gain first; ties to the first task (observation order).
            let mut pick: Option<(usize, f64)> = None;
            for (k, s) in steps.iter().enumerate() {
                if let Some((gain, _, _)) = *s {
                    if pick.is_none_or(|(_, g)| gain > g) {
                        pick = Some((k, gain));
                    }
                }
            }
            let Some((k, _)) = pick else { break };
            let (_, rb, cu) = steps[k].take().expect("picked a step");
            let i = tasks[k].0;
            if let Action::Offload { rb: r, cu: c, .. } = &mut decision.actions[i] {
                rb_left[node] -= rb - *r;
                cu_left[node] -= cu - *c;
                (*r, *c) = (rb, cu);
            }
            // The task's next step, and every step here that no longer fits.
            for (kk, &t) in tasks.iter().enumerate() {
                let (_, r0, c0) = levels(t.0, &decision.actions);
                let stale = steps[kk].is_some_and(|(_, r1, c1)| r1 - r0 > rb_left[node] || c1 - c0 > cu_left[node]);
                if kk == k || stale {
                    steps[kk] = best_step(t, &decision.actions, rb_left[node], cu_left[node]);
                }
            }
        }
    }
}

/// Rescue after decoding: a task the decision drops, or runs on its terminal
/// past the deadline, costs `ω`; if a node it reaches holds its model in the
/// decided cache, it is served there at the smallest levels and its cheapest
/// cut whenever that lowers the slot's cost. When the node has no unit left,
/// units are taken from the tasks already there, one level step at a time,
/// the step that raises cost least first, and the move is made only if the
/// rescued task gains more than those steps cost. Tasks are rescued in the
/// decoder's order (earliest deadline first), each at the node where the net
/// gain is largest (ties to the lower node). The sequential decoder gives
/// early tasks their levels before it sees the later ones, which then find
/// the node's units gone: on crowded nodes the agent dropped tasks whose
/// model was ready (docs/model.md §9b "Rescue"). A deterministic step after
/// sampling, like [`top_up`]; levels stay within the units and caches are
/// not touched, so a valid decision stays valid.
pub fn rescue(env: &Environment, obs: &Observation, decision: &mut Decision) {
    let (rb_min, cu_min) = (env.rb_levels[0], env.cu_levels[0]);
    let NodeLoads { mut rb_left, mut cu_left, mut at_node } = NodeLoads::of(env, obs, decision);
    let mut interrupted: Vec<usize> = (0..obs.tasks.len())
        .filter(|&i| match decision.actions[i] {
            Action::Offload { .. } => false,
            Action::Drop => true,
            Action::Local => local_terms(env, &obs.tasks[i]).total() > obs.tasks[i].deadline_s,
        })
        .collect();
    interrupted.sort_by(deadline_order(obs));
    let cost = |i, node, ready_at, cut, rb, cu| offload_cost(env, obs, i, node, ready_at, cut, rb, cu);
    let below = |levels: &[u32], l: u32| levels.iter().copied().filter(|&x| x < l).max();
    // A rescue at one node: net gain, the cut, and the level steps it takes.
    struct Plan {
        gain: f64,
        node: usize,
        ready_at: f64,
        cut: usize,
        steps: Vec<(usize, u32, u32)>,
    }
    for &i in &interrupted {
        let model = obs.tasks[i].model;
        let mut best: Option<Plan> = None;
        for node in 0..env.nodes.len() {
            if !obs.link(i, node).accessible || !decision.caches[node].contains(&model) {
                continue;
            }
            let ready_at = obs.model_ready_at(env, node, model);
            let (served, cut) = (0..env.model(model).offload_cuts())
                .map(|c| (cost(i, node, ready_at, c, rb_min, cu_min), c))
                .fold((f64::INFINITY, 0), |b, x| if x.0 < b.0 { x } else { b });
            let mut gain = env.interruption_cost - served;
            // Levels of the tasks at the node as the steps leave them.
            let mut levels: Vec<(u32, u32)> = at_node[node]
                .iter()
                .map(|&(k, _)| match decision.actions[k] {
                    Action::Offload { rb, cu, .. } => (rb, cu),
                    _ => unreachable!("only offloads are at a node"),
                })
                .collect();
            let (mut rb_free, mut cu_free) = (rb_left[node], cu_left[node]);
            let mut steps = Vec::new();
            while gain > 1e-12 && (rb_free < rb_min || cu_free < cu_min) {
                // The cheapest single step down of a unit still short; ties to the first task.
                let mut pick: Option<(f64, usize, u32, u32)> = None;
                for (t, &(k, ready)) in at_node[node].iter().enumerate() {
                    let (rb, cu) = levels[t];
                    let Action::Offload { cut: c, .. } = decision.actions[k] else { unreachable!() };
                    let now = cost(k, node, ready, c, rb, cu);
                    let down = [
                        (rb_free < rb_min).then(|| below(&env.rb_levels, rb).map(|r| (r, cu))).flatten(),
                        (cu_free < cu_min).then(|| below(&env.cu_levels, cu).map(|x| (rb, x))).flatten(),
                    ];
                    for (r, x) in down.into_iter().flatten() {
                        let rise = cost(k, node, ready, c, r, x) - now;
                        if pick.is_none_or(|p| rise < p.0) {
                            pick = Some((rise, t, r, x));
                        }
                    }
                }
                let Some((rise, t, r, x)) = pick else {
                    gain = 0.0;
                    break;
                };
                rb_free += levels[t].0 - r;
                cu_free += levels[t].1 - x;
                levels[t] = (r, x);
                gain -= rise;
                steps.push((t, r, x));
            }
            if gain > 1e-12 && best.as_ref().is_none_or(|b| gain > b.gain) {
                best = Some(Plan { gain, node, ready_at, cut, steps });
            }
        }
        let Some(plan) = best else { continue };
        let node = plan.node;
        for (t, r, x) in plan.steps {
            if let Action::Offload { rb, cu, .. } = &mut decision.actions[at_node[node][t].0] {
                rb_left[node] += *rb - r;
                cu_left[node] += *cu - x;
                (*rb, *cu) = (r, x);
            }
        }
        rb_left[node] -= rb_min;
        cu_left[node] -= cu_min;
        decision.actions[i] = Action::Offload { node, cut: plan.cut, rb: rb_min, cu: cu_min };
        at_node[node].push((i, plan.ready_at));
    }
}

/// A decision as an outside agent asks for it (the Python environment's
/// action), per task in observation order and per (node, model).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Requested {
    /// `OPT_LOCAL`, `OPT_DROP`, or `NODE0 + node`.
    pub option: Vec<usize>,
    pub cut: Vec<usize>,
    /// Indices into the environment's RB and CU levels.
    pub rb: Vec<usize>,
    pub cu: Vec<usize>,
    /// Keep or fetch, node-major (`node · models + model`).
    pub keep: Vec<bool>,
}

/// The requested decision made valid by the decoder's own rule (tasks in
/// earliest-deadline order, [`TaskOrder::Deadline`], against what earlier
/// tasks left; docs/model.md):
/// a requested option that is not offered (node out of reach, no unit left
/// for its smallest levels, model cannot fit) becomes `local`; a level that
/// does not fit what is left becomes the largest that does; a cut beyond the
/// model's becomes its last; a model an offload needs is kept even if not
/// asked for, and a model asked for that no longer fits is not fetched.
/// Returns the decision and how many choices were changed.
pub fn decode_requested(env: &Environment, obs: &Observation, req: &Requested) -> (Decision, usize) {
    let shape = HeadShape::of(env);
    let n_tasks = obs.tasks.len();
    let mut cands = Vec::new();
    let mut cand_start = Vec::with_capacity(n_tasks + 1);
    for i in 0..n_tasks {
        cand_start.push(cands.len());
        cands.extend([OPT_LOCAL, OPT_DROP]);
        cands.extend((0..shape.nodes).filter(|&n| obs.link(i, n).accessible).map(|n| NODE0 + n));
    }
    cand_start.push(cands.len());
    // Logits whose most probable allowed entry is the request, else the
    // nearest allowed one below it (levels and cuts are allowed as a prefix).
    let near = |k: usize, want: usize| -(k.abs_diff(want) as f32) - if k > want { 0.5 } else { 0.0 };
    let stride = shape.row_out();
    let mut row_out = vec![0f32; cands.len() * stride];
    for i in 0..n_tasks {
        for k in cand_start[i]..cand_start[i + 1] {
            let row = &mut row_out[k * stride..(k + 1) * stride];
            // Not the request: below every allowed fallback's 0 except local's.
            row[0] = if cands[k] == req.option[i] {
                1.0
            } else if cands[k] == OPT_LOCAL {
                0.0
            } else {
                -1.0
            };
            for l in 0..shape.rb_levels {
                row[1 + l] = near(l, req.rb[i]);
            }
            for l in 0..shape.cu_levels {
                row[1 + shape.rb_levels + l] = near(l, req.cu[i]);
            }
        }
    }
    let mut pick: Pick<'_, rand_chacha::ChaCha8Rng> = Pick::Mode;
    let mut a = decode_tasks(
        env,
        obs,
        &shape,
        cands,
        cand_start,
        &row_out,
        TaskOrder::Deadline,
        Downloads::Revocable,
        Evictions::Free,
        &Claims::default(),
        &mut pick,
    );
    let offloaded: Vec<usize> = (0..n_tasks).filter(|&i| a.is_offload(i)).collect();
    let mut cut_logits = Vec::with_capacity(offloaded.len() * shape.cuts);
    for &i in &offloaded {
        cut_logits.extend((0..shape.cuts).map(|c| near(c, req.cut[i])));
    }
    decode_cuts(env, obs, &shape, &mut a, &cut_logits, &mut pick);
    let cache_logits: Vec<f32> = req.keep.iter().map(|&k| if k { 1.0 } else { -1.0 }).collect();
    let decision = decode_caches(
        env,
        obs,
        &shape,
        &mut a,
        &cache_logits,
        Fetch::Any,
        Downloads::Revocable,
        &Claims::default(),
        &mut pick,
    );
    let mut changed = 0;
    for i in 0..n_tasks {
        changed += usize::from(a.option[i] != req.option[i]);
        if a.is_offload(i) && a.option[i] == req.option[i] {
            changed += usize::from(a.rb[i] != req.rb[i]) + usize::from(a.cu[i] != req.cu[i]);
            changed += usize::from(a.cut[i] != req.cut[i]);
        }
    }
    changed += a.cache_keep.iter().zip(&req.keep).filter(|(x, y)| x != y).count();
    (decision, changed)
}
