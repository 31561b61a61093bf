//! `edgebench train`: distributed PPO on a scenario, or on a mixture of
//! scenarios with weights (every episode draws its scenario); writes the checkpoint
//! (`policy.safetensors` + `policy.json`) and the training log (`train.parquet`,
//! and `train_worlds.parquet`: the rollout figures per scenario of the mixture).
//! It refuses held-out evaluation inputs (docs/heldout.md).
//! Under `mpirun -n R` every rank runs `--workers` threads; rank 0 alone
//! writes the results and draws the progress bar.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::*;
use solvers::dppo::checkpoint;
use solvers::dppo::hyper::TrainConfig;
use solvers::dppo::ppo::{self, Mixture, UpdateLog};
use solvers::dppo::DppoError;

use crate::error::BadInput;
use crate::ranks::Ranks;
use crate::staging::Staging;

#[derive(Debug, Clone)]
pub struct TrainArgs {
    /// Presets or scenario files the episodes are drawn from (one: that scenario alone).
    pub scenarios: Vec<String>,
    /// Their weights, in the same order (empty: equal).
    pub weights: Vec<f64>,
    /// A checkpoint to fine-tune instead of fresh weights.
    pub init: Option<PathBuf>,
    pub config: TrainConfig,
    pub out: PathBuf,
    pub progress: bool,
}

/// Map an agent error to the binary's error kinds (bad checkpoints and settings are bad input).
pub fn dppo_error(e: DppoError) -> anyhow::Error {
    match e {
        DppoError::BadCheckpoint(_) | DppoError::Config(_) => BadInput(e.to_string()).into(),
        DppoError::Internal(_) => anyhow::Error::new(e),
    }
}

/// The training log as a frame (one row per update).
pub fn log_frame(logs: &[UpdateLog]) -> Result<DataFrame> {
    let col_u =
        |name: &str, f: fn(&UpdateLog) -> u64| Column::new(name.into(), logs.iter().map(f).collect::<Vec<u64>>());
    let col_f =
        |name: &str, f: fn(&UpdateLog) -> f64| Column::new(name.into(), logs.iter().map(f).collect::<Vec<f64>>());
    Ok(DataFrame::new(
        logs.len(),
        vec![
            col_u("update", |l| l.update),
            col_u("env_steps", |l| l.env_steps),
            col_f("wall_s", |l| l.wall_s),
            col_f("mean_slot_cost", |l| l.mean_slot_cost),
            col_f("interruption_rate", |l| l.interruption_rate),
            col_f("approx_kl", |l| l.approx_kl),
            col_f("clip_fraction", |l| l.clip_fraction),
            col_f("entropy", |l| l.entropy),
            col_f("value_loss", |l| l.value_loss),
            col_f("explained_variance", |l| l.explained_variance),
            col_f("rollout_s", |l| l.rollout_s),
            col_f("forward_s", |l| l.forward_s),
            col_f("update_s", |l| l.update_s),
            col_f("allreduce_s", |l| l.allreduce_s),
        ],
    )?)
}

/// The training log per scenario of the mixture, long form (one row per
/// update and scenario): the learning curve of each world type.
pub fn worlds_frame(logs: &[UpdateLog], names: &[&str]) -> Result<DataFrame> {
    let rows = || logs.iter().flat_map(|l| l.worlds.iter().zip(names).map(move |(w, n)| (l, w, n)));
    Ok(DataFrame::new(
        logs.len() * names.len(),
        vec![
            Column::new("update".into(), rows().map(|r| r.0.update).collect::<Vec<u64>>()),
            Column::new("env_steps".into(), rows().map(|r| r.0.env_steps).collect::<Vec<u64>>()),
            Column::new("world".into(), rows().map(|r| *r.2).collect::<Vec<&str>>()),
            Column::new("slots".into(), rows().map(|r| r.1.slots).collect::<Vec<u64>>()),
            Column::new("mean_slot_cost".into(), rows().map(|r| r.1.mean_slot_cost).collect::<Vec<f64>>()),
            Column::new("interruption_rate".into(), rows().map(|r| r.1.interruption_rate).collect::<Vec<f64>>()),
        ],
    )?)
}

/// The directory name that marks held-out evaluation inputs: training never reads from one.
pub const HELD_OUT_DIR: &str = "heldout";

/// The held-out input (a scenario file or its trace) `arg` would train on, if any.
fn held_out_input(arg: &str, s: &scenarios::Scenario) -> Option<String> {
    let inside = |p: &str| Path::new(p).components().any(|c| c.as_os_str() == HELD_OUT_DIR);
    let trace = &s.config().mobility.trace_file;
    [arg, trace.as_str()].into_iter().find(|p| inside(p)).map(str::to_string)
}

/// Train; `Ok(None)` on a rank other than 0 (it writes nothing).
pub fn cmd_train(a: &TrainArgs, ranks: &Ranks) -> Result<Option<PathBuf>> {
    let checked = (|| {
        if !a.weights.is_empty() && a.weights.len() != a.scenarios.len() {
            return Err(BadInput(format!(
                "--weights: expected one weight per --scenario ({}), got {}",
                a.scenarios.len(),
                a.weights.len()
            ))
            .into());
        }
        // A family file gives its sampled worlds, each with an equal share of its weight.
        let mut scenarios = Vec::new();
        let mut weights = Vec::new();
        for (k, arg) in a.scenarios.iter().enumerate() {
            let worlds = scenarios::family::resolve_for_training(arg, a.config.seed, &crate::tracefile::load_trace)
                .map_err(BadInput::from)?;
            for s in &worlds {
                if let Some(p) = held_out_input(arg, s) {
                    return Err(BadInput(format!(
                        "--scenario {arg}: {p} is a held-out evaluation input (a `{HELD_OUT_DIR}` directory); \
                         training on it would void the held-out protocol (docs/heldout.md)"
                    ))
                    .into());
                }
            }
            if let Some(same) = scenarios.iter().find(|s: &&scenarios::Scenario| s.name() == worlds[0].name()) {
                return Err(BadInput(format!(
                    "--scenario {arg}: its name `{}` is also that of an earlier --scenario; \
                     the training logs are per name, so the names must differ",
                    same.name()
                ))
                .into());
            }
            let w = a.weights.get(k).copied().unwrap_or(1.0);
            weights.extend(std::iter::repeat_n(w / worlds.len() as f64, worlds.len()));
            scenarios.extend(worlds);
        }
        let init = a.init.as_deref().map(|p| load_checkpoint(Some(p), &scenarios[0])).transpose()?;
        let config = TrainConfig { ranks: ranks.size(), ..a.config.clone() };
        config.check().map_err(|e| BadInput(format!("train: {e}")))?;
        let staging = if ranks.is_root() { Some(Staging::new(&a.out)?) } else { None };
        Mixture::new(&scenarios, &weights).check().map_err(|e| BadInput(format!("train: {e}")))?;
        Ok((scenarios, weights, config, staging, init))
    })();
    let (scenarios, weights, config, staging, init) = ranks.agree(checked)?;
    let mix = Mixture::new(&scenarios, &weights);
    let trained = ranks.or_abort(train(a, &mix, &config, init.as_deref(), ranks))?;
    let Some(staging) = staging else { return Ok(None) };
    let last = trained.logs.last().cloned().unwrap_or_default();
    let dir = staging.path();
    let ckpt = trained.checkpoint(&mix, &config, env!("EDGEBENCH_GIT_REV"), &dir.join("policy.safetensors"));
    ckpt.save().with_context(|| format!("writing the checkpoint in {}", dir.display()))?;
    crate::staging::test_stop_point("policy.safetensors");
    crate::frames::write_parquet(&mut log_frame(&trained.logs)?, &dir.join("train.parquet"))?;
    crate::frames::write_parquet(&mut worlds_frame(&trained.logs, &mix.names())?, &dir.join("train_worlds.parquet"))?;
    let out = staging.commit()?;
    eprintln!(
        "edgebench: trained {} slots in {} updates on {} rank(s) × {} worker(s), {:.0} s ({:.0} slots/s); \
         last mean slot cost {:.3}, interruption rate {:.2} %",
        last.env_steps,
        last.update,
        config.ranks,
        config.workers,
        last.wall_s,
        last.env_steps as f64 / last.wall_s.max(1e-9),
        last.mean_slot_cost,
        100.0 * last.interruption_rate
    );
    Ok(Some(out))
}

fn train(
    a: &TrainArgs,
    mix: &Mixture<'_>,
    config: &TrainConfig,
    init: Option<&checkpoint::Checkpoint>,
    ranks: &Ranks,
) -> Result<ppo::Trained> {
    let names = mix.names();
    let progress = a.progress && ranks.is_root();
    let bar = if progress { ProgressBar::new(config.total_steps) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} slots ({per_sec}, ETA {eta}) {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut on_update = |l: &UpdateLog| {
        bar.set_position(l.env_steps);
        tracing::info!(
            update = l.update,
            steps = l.env_steps,
            wall_s = format!("{:.1}", l.wall_s),
            cost = format!("{:.3}", l.mean_slot_cost),
            interrupted = format!("{:.3}", l.interruption_rate),
            kl = format!("{:.4}", l.approx_kl),
            clip = format!("{:.3}", l.clip_fraction),
            entropy = format!("{:.3}", l.entropy),
            vloss = format!("{:.4}", l.value_loss),
            ev = format!("{:.3}", l.explained_variance),
            rollout_s = format!("{:.3}", l.rollout_s),
            forward_s = format!("{:.3}", l.forward_s),
            update_s = format!("{:.3}", l.update_s),
            worlds = world_costs(&names, l),
            "update"
        );
        bar.set_message(format!("cost/slot {:.2}, interrupted {:.1} %", l.mean_slot_cost, 100.0 * l.interruption_rate));
    };
    let comm: Option<&dyn ppo::RankComm> = if ranks.size() > 1 { Some(ranks) } else { None };
    let trained = ppo::train_across(mix, config, comm, init, &mut on_update).map_err(dppo_error)?;
    bar.finish_and_clear();
    Ok(trained)
}

/// Each scenario's mean slot cost in an update, for the log line (empty for one scenario).
fn world_costs(names: &[&str], l: &UpdateLog) -> String {
    if names.len() < 2 {
        return String::new();
    }
    names.iter().zip(&l.worlds).map(|(n, w)| format!("{n} {:.3}", w.mean_slot_cost)).collect::<Vec<_>>().join(", ")
}

/// The checkpoint `run` uses for `dppo`: `--checkpoint` (a file, or
/// `shipped:NAME`, one embedded in the binary) or the one shipped for the
/// scenario.
pub fn load_checkpoint(
    given: Option<&Path>,
    scenario: &scenarios::Scenario,
) -> Result<std::sync::Arc<checkpoint::Checkpoint>, BadInput> {
    let d = &scenario.config().decision;
    let ck = match given {
        Some(spec) => solvers::dppo::CheckpointSource::parse(spec)
            .map_err(|e| BadInput(format!("--checkpoint {e}")))?
            .load(&d.rb_levels, &d.cu_levels),
        None => {
            let shipped = solvers::dppo::shipped_checkpoint(scenario.name());
            if shipped.name != scenario.name() {
                crate::ranks::note(&format!(
                    "no DPPO checkpoint is shipped for scenario `{}`; dppo uses the shipped `{}` one (pass --checkpoint to choose)",
                    scenario.name(),
                    shipped.name
                ));
            }
            shipped.load(&d.rb_levels, &d.cu_levels)
        }
    }
    .map_err(|e| BadInput(e.to_string()))?;
    Ok(std::sync::Arc::new(ck))
}
