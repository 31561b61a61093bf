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
//!    not do shows as local runs with the model nowhere in reach.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use scenarios::{Observation, Policy, Simulator, World};
use solvers::dppo::agent::slot_rows;
use solvers::dppo::checkpoint::Checkpoint;
use solvers::dppo::features::{CACHE_DIM, ROW_DIM, VALUE_DIM};
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
    let mut sim = Simulator::new(&world);
    let mut obs = Observation::default();
    while !sim.is_done() {
        sim.observe(&mut obs);
        let rows = slot_rows(env, &obs, env.scenario.config().slots.saturating_sub(obs.slot));
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
    Ok(())
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
