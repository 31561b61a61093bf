//! What a DPPO checkpoint sees and does along its own run of one world: a
//! diagnostic for "why is the agent worse here" (docs/heldout.md).
//!
//! ```text
//! cargo run --release -p solvers --features dppo --example dppo_inputs -- CHECKPOINT SCENARIO SEED [NODE MODEL]
//! ```
//!
//! CHECKPOINT is a `.safetensors` file (with its `.json` sidecar) or
//! `shipped:NAME`; SCENARIO a preset name or a scenario file. It prints
//! 1. per input column of the option, cache and value rows, the share of
//!    normalised values at the ±5 clip (columns whose |z| never reaches 3
//!    are left out): inputs the checkpoint's statistics do not cover;
//! 2. per model, the agent's decisions split by whether a node the task
//!    reaches held the model ready, or held it at all: caching the agent did
//!    not do shows as local runs with the model nowhere in reach;
//! 3. its cache churn: fetches by what forced them (an offload, or the
//!    cache head's free choice), evictions (no room beside the decided set
//!    or room left, still downloading, used the slot before, with tasks of
//!    the model in reach), and fetches of a model evicted from the same
//!    node shortly before.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use scenarios::{Observation, Policy, Simulator, World};
use solvers::dppo::agent::{slot_rows, SlotRows};
use solvers::dppo::checkpoint::Checkpoint;
use solvers::dppo::features::{reach_counts, CACHE_DIM, NODE0, ROW_DIM, VALUE_DIM};
use solvers::dppo::net::{import_weights, rows_tensor, to_vec, Net};
use solvers::dppo::{CheckpointSource, Dppo};
use tch::{nn, Device};

const CLIP: f32 = 5.0;
const NEAR: f32 = 3.0;

/// Per input column: values seen, values at the clip, largest |z|.
#[derive(Clone, Default)]
struct Column {
    seen: u64,
    clipped: u64,
    max_z: f32,
}

fn tally(rows: &[f32], (mean, inv): &(Vec<f32>, Vec<f32>), cols: &mut [Column]) {
    for row in rows.chunks_exact(mean.len()) {
        for (k, c) in cols.iter_mut().enumerate() {
            let z = ((row[k] - mean[k]) * inv[k]).abs();
            c.seen += 1;
            c.clipped += u64::from(z >= CLIP);
            c.max_z = c.max_z.max(z);
        }
    }
}

fn load(spec: &str, rb: &[u32], cu: &[u32]) -> Result<Checkpoint, String> {
    let source = CheckpointSource::parse(Path::new(spec)).map_err(|e| format!("CHECKPOINT {e}"))?;
    source.load(rb, cu).map_err(|e| e.to_string())
}

fn run(args: &[String]) -> Result<(), String> {
    let (ck, scen, seed, target) = match args {
        [ck, scen, seed] => (ck, scen, seed, None),
        [ck, scen, seed, node, model] => (ck, scen, seed, Some((node, model))),
        _ => return Err("usage: dppo_inputs CHECKPOINT SCENARIO SEED [NODE MODEL]".into()),
    };
    let index = |name: &str, v: &str| {
        v.parse::<usize>().map_err(|_| format!("{name}: expected a non-negative integer, got {v:?}"))
    };
    let seed: u64 = seed.parse().map_err(|_| format!("SEED: expected a non-negative integer, got {seed:?}"))?;
    let scenario = scenarios::presets::resolve(scen).map_err(|e| e.to_string())?;
    let world = World::build(&scenario, seed);
    let env = &world.env;
    let ckpt = Arc::new(load(ck, &env.rb_levels, &env.cu_levels)?);
    let mut probe = match target {
        None => None,
        Some((node, model)) => {
            let (node, model) = (index("NODE", node)?, index("MODEL", model)?);
            if node >= env.nodes.len() || model >= env.catalogue().len() {
                return Err(format!(
                    "NODE {node} MODEL {model}: expected NODE < {} and MODEL < {}",
                    env.nodes.len(),
                    env.catalogue().len()
                ));
            }
            Some(Probe::new(&ckpt, node, model)?)
        }
    };
    let stats = &ckpt.sidecar.observation_stats;
    let maps = [stats.option.affine(), stats.cache.affine(), stats.value.affine()];
    let mut cols =
        [vec![Column::default(); ROW_DIM], vec![Column::default(); CACHE_DIM], vec![Column::default(); VALUE_DIM]];
    let mut decisions: BTreeMap<(usize, &str, bool, bool), u64> = BTreeMap::new();
    let mut policy = Dppo::new(&ckpt).map_err(|e| e.to_string())?;
    let mut churn = Churn::default();
    let mut sim = Simulator::new(&world);
    let mut obs = Observation::default();
    while !sim.is_done() {
        sim.observe(&mut obs);
        let rows = slot_rows(
            env,
            &obs,
            env.scenario.config().slots.saturating_sub(obs.slot),
            ckpt.sidecar.architecture.demand(),
        );
        for ((rows, map), c) in [&rows.opt, &rows.cache, &rows.value].into_iter().zip(&maps).zip(cols.iter_mut()) {
            tally(rows, map, c);
        }
        let decision = policy.decide(env, &obs).map_err(|e| e.to_string())?;
        if let Some(p) = probe.as_mut() {
            p.tally(env, &obs, &rows, &decision);
        }
        for (i, action) in decision.actions.iter().enumerate() {
            let model = obs.tasks[i].model;
            let reached = (0..env.nodes.len()).filter(|&n| obs.link(i, n).accessible);
            let entries: Vec<_> = reached.filter_map(|n| obs.cache_entry(n, model)).collect();
            let ready = entries.iter().any(|e| e.ready_at <= obs.time_s);
            *decisions.entry((model, action.kind(), ready, !entries.is_empty())).or_default() += 1;
        }
        churn.tally(env, &obs, &decision);
        sim.step(&obs, &decision).map_err(|e| format!("invalid decision: {e}"))?;
    }
    println!("inputs at the ±{CLIP} clip ({ck} on {scen}, seed {seed}):");
    for (name, cs) in ["option", "cache", "value"].iter().zip(&cols) {
        for (k, c) in cs.iter().enumerate().filter(|(_, c)| c.max_z >= NEAR) {
            let share = 100.0 * c.clipped as f64 / c.seen.max(1) as f64;
            println!("  {name} row, column {k:2}: {share:6.2} % clipped, max |z| {:.1}", c.max_z);
        }
    }
    println!("decisions per model, by the model's state at the nodes the task reaches:");
    for ((model, kind, ready, cached), n) in decisions {
        let state = if ready {
            "ready"
        } else if cached {
            "downloading"
        } else {
            "absent"
        };
        println!("  {:<12} {kind:<8} model {state:<11} {n:7}", env.model(model).name);
    }
    churn.print();
    if let Some(p) = probe {
        p.print(env);
    }
    Ok(())
}

/// Section 4: the heads' probabilities of serving one model at one node.
struct Probe {
    _vs: nn::VarStore,
    net: Net,
    affine: solvers::dppo::net::Affine,
    node: usize,
    model: usize,
    /// Per state of the model at the node: slots, tasks, sum of per-task
    /// probabilities, sum of per-slot "any task" probabilities, sum of cache
    /// probabilities, tasks served there.
    by_state: BTreeMap<&'static str, [f64; 6]>,
}

impl Probe {
    fn new(ckpt: &Checkpoint, node: usize, model: usize) -> Result<Probe, String> {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = Net::new(&vs.root(), ckpt.sidecar.architecture);
        import_weights(&vs, &ckpt.weights)?;
        let affine = ckpt.sidecar.observation_stats.affine();
        Ok(Probe { _vs: vs, net, affine, node, model, by_state: BTreeMap::new() })
    }

    fn tally(
        &mut self,
        env: &scenarios::Environment,
        obs: &Observation,
        rows: &SlotRows,
        decision: &scenarios::Decision,
    ) {
        let (mut opt, mut cache) = (rows.opt.clone(), rows.cache.clone());
        self.affine.option(&mut opt);
        self.affine.cache(&mut cache);
        let (out, cache_logits) = tch::no_grad(|| {
            (
                to_vec(&self.net.options(&rows_tensor(&opt, ROW_DIM))),
                to_vec(&self.net.caches(&rows_tensor(&cache, CACHE_DIM))),
            )
        });
        let stride = self.net.arch.row_out();
        let (mut tasks, mut sum, mut none) = (0.0, 0.0, 1.0);
        for i in (0..obs.tasks.len()).filter(|&i| obs.tasks[i].model == self.model) {
            let cands = rows.cand_start[i]..rows.cand_start[i + 1];
            let Some(at) = cands.clone().position(|k| rows.cands[k] == NODE0 + self.node) else { continue };
            let logits: Vec<f64> = cands.map(|k| f64::from(out[k * stride])).collect();
            let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = logits.iter().map(|l| (l - max).exp()).sum();
            let p = (logits[at] - max).exp() / z;
            tasks += 1.0;
            sum += p;
            none *= 1.0 - p;
        }
        if tasks == 0.0 {
            return;
        }
        let logit = f64::from(cache_logits[self.node * env.catalogue().len() + self.model]);
        let state = match obs.cache_entry(self.node, self.model) {
            None => "absent",
            Some(e) if e.ready_at > obs.time_s => "downloading",
            Some(_) => "ready",
        };
        let served = decision
            .actions
            .iter()
            .enumerate()
            .filter(|&(i, a)| {
                obs.tasks[i].model == self.model
                    && matches!(*a, scenarios::Action::Offload { node, .. } if node == self.node)
            })
            .count();
        let t = self.by_state.entry(state).or_default();
        for (k, v) in [1.0, tasks, sum, 1.0 - none, 1.0 / (1.0 + (-logit).exp()), served as f64].into_iter().enumerate()
        {
            t[k] += v;
        }
    }

    fn print(&self, env: &scenarios::Environment) {
        println!(
            "{} at node {}: the heads' probabilities, by the model's state there (slots with a task of it in reach):",
            env.model(self.model).name,
            self.node
        );
        for (state, [slots, tasks, p, any, cache, served]) in &self.by_state {
            println!(
                "  {state:<11} {slots:4} slots, {tasks:5} tasks: option head {:.2e} per task, {:.2e} per slot; \
                 cache head {:.3}; served there {served}",
                p / tasks,
                any / slots,
                cache / slots
            );
        }
    }
}

/// Cache churn along the run: downloads split by what forced them (an
/// offload of a task whose model was absent, or the cache head's free
/// choice), evictions by whether the decided set left room for the model,
/// and downloads of a model evicted from the same node not long before.
#[derive(Default)]
struct Churn {
    /// Per node: slot at which each model was last evicted.
    evicted_at: Vec<BTreeMap<usize, usize>>,
    downloads_pinned: u64,
    downloads_free: u64,
    evictions_no_room: u64,
    evictions_room: u64,
    evictions_used_last_slot: u64,
    evictions_downloading: u64,
    evictions_in_reach: u64,
    redownloads: [u64; 3],
}

const REDOWNLOAD_WINDOWS: [usize; 3] = [5, 20, 60];

impl Churn {
    fn tally(&mut self, env: &scenarios::Environment, obs: &Observation, decision: &scenarios::Decision) {
        self.evicted_at.resize(env.nodes.len(), BTreeMap::new());
        let reach = reach_counts(env, obs);
        for (n, set) in decision.caches.iter().enumerate() {
            let bytes: f64 = set.iter().map(|&m| env.model(m).weights_bytes).sum();
            for &m in set {
                if obs.cache_entry(n, m).is_some() {
                    continue;
                }
                let pinned = decision.actions.iter().enumerate().any(|(i, a)| {
                    matches!(*a, scenarios::Action::Offload { node, .. } if node == n && obs.tasks[i].model == m)
                });
                if pinned {
                    self.downloads_pinned += 1;
                } else {
                    self.downloads_free += 1;
                }
                if let Some(&at) = self.evicted_at[n].get(&m) {
                    for (k, w) in REDOWNLOAD_WINDOWS.iter().enumerate() {
                        self.redownloads[k] += u64::from(obs.slot - at <= *w);
                    }
                }
            }
            for e in &obs.caches[n] {
                if set.contains(&e.model) {
                    continue;
                }
                if bytes + env.model(e.model).weights_bytes <= env.nodes[n].cache_bytes {
                    self.evictions_room += 1;
                } else {
                    self.evictions_no_room += 1;
                }
                self.evictions_used_last_slot += u64::from(e.last_used.is_some_and(|u| u + 1 >= obs.slot));
                self.evictions_downloading += u64::from(e.ready_at > obs.time_s);
                self.evictions_in_reach += u64::from(reach[n][e.model] > 0);
                self.evicted_at[n].insert(e.model, obs.slot);
            }
        }
    }

    fn print(&self) {
        println!("cache churn:");
        println!(
            "  downloads {} (forced by an offload of the model {}, free choice {})",
            self.downloads_pinned + self.downloads_free,
            self.downloads_pinned,
            self.downloads_free
        );
        println!(
            "  evictions {} (no room beside the decided set {}, room left {}; still downloading {}; used in the slot before {}; \
             with tasks of the model in reach {})",
            self.evictions_no_room + self.evictions_room,
            self.evictions_no_room,
            self.evictions_room,
            self.evictions_downloading,
            self.evictions_used_last_slot,
            self.evictions_in_reach
        );
        for (w, n) in REDOWNLOAD_WINDOWS.iter().zip(self.redownloads) {
            println!("  downloads of a model evicted from the same node at most {w} slots before: {n}");
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dppo_inputs: {}", scenarios::error::one_line(&e));
            ExitCode::from(2)
        }
    }
}
