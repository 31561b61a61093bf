//! What one download is worth to a DPPO checkpoint under its own policy: a
//! diagnostic for an investment the agent does not make (docs/heldout.md,
//! "Longer horizon").
//!
//! ```text
//! cargo run --release -p solvers --features dppo --example dppo_forced_fetch -- CHECKPOINT SCENARIO SEED NODE MODEL SLOT
//! ```
//!
//! Runs the checkpoint twice on the same world: as it decides, and with one
//! decision changed at SLOT: NODE fetches MODEL, the models of the agent's
//! set that no longer fit beside it are evicted (largest first) and the
//! tasks offloaded there with an evicted model run on their terminals. Every
//! other decision, before and after, is the agent's. It prints both run
//! costs, the cost from SLOT on, and, after SLOT, how many tasks of MODEL
//! NODE served and in how many slots it held MODEL; on stderr, for the 30
//! slots from SLOT of the forced run, MODEL's state at NODE, its tasks in
//! reach, the set kept there and the tasks served there by model. A large saving says the
//! download is worth making under the agent's own policy, so not learning it
//! is a failure of credit; none says the agent's later decisions waste it.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use scenarios::{Action, Observation, Policy, Simulator, World};
use solvers::dppo::checkpoint::Checkpoint;
use solvers::dppo::{CheckpointSource, Dppo};

struct Run {
    cost: f64,
    cost_after: f64,
    served_after: u64,
    held_slots: u64,
}

fn run_once(
    world: &World,
    ckpt: &Arc<Checkpoint>,
    node: usize,
    model: usize,
    from: usize,
    forced: bool,
) -> Result<Run, String> {
    let env = &world.env;
    let mut policy = Dppo::new(ckpt).map_err(|e| e.to_string())?;
    let mut sim = Simulator::new(world);
    let mut obs = Observation::default();
    let mut r = Run { cost: 0.0, cost_after: 0.0, served_after: 0, held_slots: 0 };
    while !sim.is_done() {
        sim.observe(&mut obs);
        let mut decision = policy.decide(env, &obs).map_err(|e| e.to_string())?;
        if forced && obs.slot == from && !decision.caches[node].contains(&model) {
            let cap = env.nodes[node].cache_bytes;
            let mut set = decision.caches[node].clone();
            set.sort_by(|&a, &b| env.model(b).weights_bytes.total_cmp(&env.model(a).weights_bytes));
            let bytes = |s: &[usize]| s.iter().map(|&x| env.model(x).weights_bytes).sum::<f64>();
            while !set.is_empty() && bytes(&set) + env.model(model).weights_bytes > cap {
                set.remove(0);
            }
            set.push(model);
            set.sort_unstable();
            for (i, a) in decision.actions.iter_mut().enumerate() {
                if matches!(*a, Action::Offload { node: n, .. } if n == node) && !set.contains(&obs.tasks[i].model) {
                    *a = Action::Local;
                }
            }
            decision.caches[node] = set;
        }
        let slot = obs.slot;
        let out = sim.step(&obs, &decision).map_err(|e| format!("invalid decision at slot {slot}: {e}"))?;
        r.cost += out.cost;
        // Tasks of model `m` served at the node this slot.
        let at_node = |m: usize| {
            out.tasks
                .iter()
                .zip(&obs.tasks)
                .filter(|(t, v)| v.model == m && matches!(t.action, Action::Offload { node: n, .. } if n == node))
                .count()
        };
        if forced && slot >= from && slot < from + 30 {
            let in_reach =
                (0..obs.tasks.len()).filter(|&i| obs.tasks[i].model == model && obs.link(i, node).accessible).count();
            let state = match obs.cache_entry(node, model) {
                None => "absent",
                Some(e) if e.ready_at > obs.time_s => "downloading",
                Some(_) => "ready",
            };
            let served: Vec<String> =
                (0..env.catalogue().len()).map(|m| format!("{}:{}", env.model(m).name, at_node(m))).collect();
            eprintln!(
                "  slot {slot:3}: {state:11} {in_reach:2} in reach; kept {:?}; served at the node {}",
                decision.caches[node],
                served.join(" ")
            );
        }
        if slot >= from {
            r.cost_after += out.cost;
            r.held_slots += u64::from(decision.caches[node].contains(&model));
            r.served_after += at_node(model) as u64;
        }
    }
    Ok(r)
}

fn run(args: &[String]) -> Result<(), String> {
    let [ck, scen, seed, node, model, slot] = args else {
        return Err("usage: dppo_forced_fetch CHECKPOINT SCENARIO SEED NODE MODEL SLOT".into());
    };
    let int = |name: &str, v: &str| {
        v.parse::<usize>().map_err(|_| format!("{name}: expected a non-negative integer, got {v:?}"))
    };
    let (node, model, slot) = (int("NODE", node)?, int("MODEL", model)?, int("SLOT", slot)?);
    let seed: u64 = seed.parse().map_err(|_| format!("SEED: expected a non-negative integer, got {seed:?}"))?;
    let scenario = scenarios::presets::resolve(scen).map_err(|e| e.to_string())?;
    let world = World::build(&scenario, seed);
    let env = &world.env;
    if node >= env.nodes.len() || model >= env.catalogue().len() || slot >= world.slots() {
        return Err(format!(
            "NODE {node} MODEL {model} SLOT {slot}: expected NODE < {}, MODEL < {}, SLOT < {}",
            env.nodes.len(),
            env.catalogue().len(),
            world.slots()
        ));
    }
    if env.model(model).weights_bytes > env.nodes[node].cache_bytes {
        return Err(format!("MODEL {model} does not fit NODE {node}'s cache"));
    }
    let source = CheckpointSource::parse(Path::new(ck)).map_err(|e| format!("CHECKPOINT {e}"))?;
    let ckpt = Arc::new(source.load(&env.rb_levels, &env.cu_levels).map_err(|e| e.to_string())?);
    let plain = run_once(&world, &ckpt, node, model, slot, false)?;
    let forced = run_once(&world, &ckpt, node, model, slot, true)?;
    let name = &env.model(model).name;
    println!("{ck} on {scen}, seed {seed}: {name} fetched at node {node} in slot {slot}");
    println!("                run cost   from slot {slot}   {name} tasks served there after   slots held after");
    for (label, r) in [("as it decides", &plain), ("forced fetch", &forced)] {
        println!("  {label:14} {:9.2}   {:12.2}   {:31}   {:16}", r.cost, r.cost_after, r.served_after, r.held_slots);
    }
    println!("  saving of the forced fetch: {:.2}", plain.cost - forced.cost);
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dppo_forced_fetch: {e}");
            ExitCode::from(2)
        }
    }
}
