//! What a DPPO checkpoint sees and does along its own run of one world: a
//! diagnostic for "why is the agent worse here" (docs/heldout.md).
//!
//! ```text
//! cargo run --release -p solvers --features dppo --example dppo_inputs -- CHECKPOINT SCENARIO SEED
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
use solvers::dppo::agent::slot_rows;
use solvers::dppo::checkpoint::Checkpoint;
use solvers::dppo::features::{reach_counts, CACHE_DIM, ROW_DIM, VALUE_DIM};
use solvers::dppo::{CheckpointSource, Dppo};

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
    let [ck, scen, seed] = args else {
        return Err("usage: dppo_inputs CHECKPOINT SCENARIO SEED".into());
    };
    let seed: u64 = seed.parse().map_err(|_| format!("SEED: expected a non-negative integer, got {seed:?}"))?;
    let scenario = scenarios::presets::resolve(scen).map_err(|e| e.to_string())?;
    let world = World::build(&scenario, seed);
    let env = &world.env;
    let ckpt = Arc::new(load(ck, &env.rb_levels, &env.cu_levels)?);
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
    Ok(())
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
