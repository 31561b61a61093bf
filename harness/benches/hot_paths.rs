//! Micro-benchmarks of the hot paths, on seeded inputs, the size in the id:
//! observation building, the simulator's transition, every policy's
//! decision (from a warm state of the `default` preset: 36 terminals, 9
//! nodes), the DPPO network forward pass, one PPO minibatch step and one
//! worker's whole PPO update, and trace import (SUMO FCD and CSV). MILP model building and solving are in
//! `solvers/benches/milp.rs`; observe + decide + step in `sim_step.rs`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use scenarios::sim::{observe, transition, Observation};
use scenarios::world::SlotDraws;
use scenarios::{Policy, SimState, World};
use solvers::dppo::agent::{act, SlotRecord};
use solvers::dppo::decode::{HeadShape, Pick};
use solvers::dppo::features::{option_rows, SlotContext, ROW_DIM};
use solvers::dppo::hyper::TrainConfig;
use solvers::dppo::net::import_weights;
use solvers::dppo::net::{rows_tensor, Net};
use solvers::dppo::ppo::minibatch_loss;
use solvers::registry::Kind;
use tch::nn::{self, OptimizerConfig};

/// The default preset's world (seed 1) and its state after 100 slots of greedy (warm caches).
fn warm() -> (World, SlotDraws, SimState, Observation) {
    let w = World::build(&scenarios::presets::preset("default").unwrap(), 1);
    let mut draws = w.draws();
    let mut state = SimState::initial(w.env.nodes.len(), w.terminals());
    let mut obs = Observation::default();
    let mut g = solvers::make("greedy").unwrap();
    for _ in 0..100 {
        observe(&w, &mut draws, &state, &mut obs);
        let d = g.decide(&w.env, &obs).unwrap();
        state = transition(&w.env, &state, &obs, &d).unwrap().1;
    }
    observe(&w, &mut draws, &state, &mut obs);
    (w, draws, state, obs)
}

fn checkpoint(w: &World) -> Arc<solvers::dppo::checkpoint::Checkpoint> {
    let d = &w.env.scenario.config().decision;
    Arc::new(solvers::dppo::shipped_checkpoint("default").load(&d.rb_levels, &d.cu_levels).unwrap())
}

fn simulator(c: &mut Criterion) {
    let (w, mut draws, state, mut obs) = warm();
    let size = format!("{}t_{}n", w.terminals(), w.env.nodes.len());
    let mut g = c.benchmark_group("hot");
    // The draws are at this slot already: this times the observation, not the draws.
    g.bench_function(BenchmarkId::new("observe", &size), |b| b.iter(|| observe(&w, &mut draws, &state, &mut obs)));
    observe(&w, &mut draws, &state, &mut obs);
    let d = solvers::make("greedy").unwrap().decide(&w.env, &obs).unwrap();
    g.bench_function(BenchmarkId::new("transition", &size), |b| {
        b.iter(|| transition(&w.env, &state, &obs, &d).unwrap())
    });
    let ck = checkpoint(&w);
    // Every cheap policy run by default (the MILPs are timed in solvers/benches/milp.rs).
    let cheap = solvers::registry::names(|p| p.by_default && matches!(p.kind, Kind::Heuristic | Kind::Learned));
    for name in cheap {
        let mut p: Box<dyn Policy> = if name == "dppo" {
            Box::new(solvers::dppo::Dppo::new(&ck).unwrap())
        } else {
            solvers::make(name).unwrap()
        };
        p.reset(&w.env, 1);
        g.bench_function(BenchmarkId::new(format!("decide_{name}"), &size), |b| {
            b.iter(|| p.decide(&w.env, &obs).unwrap())
        });
    }
    g.finish();
}

fn dppo(c: &mut Criterion) {
    tch::set_num_threads(1);
    let (w, _, _, obs) = warm();
    let env = &w.env;
    let shape = HeadShape::of(env);
    let ck = checkpoint(&w);
    let vs = nn::VarStore::new(tch::Device::Cpu);
    let net = Net::new(&vs.root(), ck.sidecar.architecture);
    import_weights(&vs, &ck.weights).unwrap();
    let affine = ck.sidecar.observation_stats.affine();
    let ctx = SlotContext::new(env, &obs);
    let (mut rows, mut cands) = (Vec::new(), Vec::new());
    for i in 0..obs.tasks.len() {
        option_rows(env, &obs, &ctx, i, &mut rows, &mut cands);
    }
    affine.option(&mut rows);
    let mut g = c.benchmark_group("hot");
    g.bench_function(BenchmarkId::new("dppo_option_forward", format!("{}rows", cands.len())), |b| {
        b.iter(|| tch::no_grad(|| net.options(&rows_tensor(&rows, ROW_DIM))))
    });
    // One PPO minibatch step (loss, backward, Adam) on 64 slots sampled from 4 copies of the warm state.
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut records: Vec<SlotRecord> = Vec::new();
    let mut fwd = 0.0;
    while records.len() < 256 {
        let batch = act(&net, &affine, env, &shape, &[&obs; 4], &[200; 4], &mut Pick::Sample(&mut rng), None, &mut fwd);
        records.extend(batch.into_iter().map(|(_, r)| r));
    }
    let refs: Vec<&SlotRecord> = records.iter().collect();
    let adv: Vec<f32> = (0..256).map(|k| ((k % 7) as f32 - 3.0) / 3.0).collect();
    let ret: Vec<f32> = (0..256).map(|k| -0.3 - 0.01 * (k % 64) as f32).collect();
    let cfg = TrainConfig::default();
    let mut opt = nn::Adam::default().build(&vs, 1e-3).unwrap();
    let mut step = |k: usize| {
        let r = k * 64..(k + 1) * 64;
        opt.zero_grad();
        let (loss, _) = minibatch_loss(&net, &shape, &refs[r.clone()], &adv[r.clone()], &ret[r], &cfg);
        loss.backward();
        opt.clip_grad_norm(cfg.max_grad_norm);
        opt.step();
    };
    g.bench_function(BenchmarkId::new("ppo_minibatch_step", "64slots_36t_9n"), |b| b.iter(|| step(0)));
    // One worker's whole update with the default settings (epochs × minibatches of its 256 slots).
    g.sample_size(10);
    let label = format!("256slots_{}x{}_36t_9n", cfg.epochs, cfg.minibatches);
    g.bench_function(BenchmarkId::new("ppo_update", label), |b| {
        b.iter(|| {
            for _ in 0..cfg.epochs {
                for k in 0..cfg.minibatches {
                    step(k);
                }
            }
        })
    });
    g.finish();
}

/// A SUMO FCD document of `steps` × `vehicles` records.
fn fcd(steps: usize, vehicles: usize) -> String {
    let mut s = String::from("<fcd-export>\n");
    for t in 0..steps {
        s.push_str(&format!("  <timestep time=\"{t}.00\">\n"));
        for v in 0..vehicles {
            let x = 10.0 * t as f64 + v as f64;
            s.push_str(&format!(
                "    <vehicle id=\"veh{v}\" x=\"{x:.2}\" y=\"{:.2}\" angle=\"90.00\" type=\"car\" speed=\"10.00\" pos=\"5.10\" lane=\"e_0\" slope=\"0.00\"/>\n",
                50.0 + v as f64
            ));
        }
        s.push_str("  </timestep>\n");
    }
    s.push_str("</fcd-export>\n");
    s
}

fn traces(c: &mut Criterion) {
    let (steps, vehicles) = (1000, 20);
    let xml = fcd(steps, vehicles);
    let mut csv = String::from("t,id,x,y\n");
    for t in 0..steps {
        for v in 0..vehicles {
            csv.push_str(&format!("{t},veh{v},{:.2},{:.2}\n", 10.0 * t as f64 + v as f64, 50.0 + v as f64));
        }
    }
    let records = (steps * vehicles) as u64;
    let mut g = c.benchmark_group("hot");
    g.throughput(Throughput::Elements(records));
    g.bench_function(BenchmarkId::new("trace_import_sumo_fcd", format!("{records}records")), |b| {
        b.iter(|| scenarios::trace::parse_sumo_fcd(std::io::Cursor::new(xml.as_bytes()), "bench.xml", false).unwrap())
    });
    g.bench_function(BenchmarkId::new("trace_import_csv", format!("{records}records")), |b| {
        b.iter(|| scenarios::trace::parse_csv(std::io::Cursor::new(csv.as_bytes()), "bench.csv").unwrap())
    });
    g.finish();
}

criterion_group!(benches, simulator, dppo, traces);
criterion_main!(benches);
