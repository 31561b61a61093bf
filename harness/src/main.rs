//! `edgebench`: run deployment policies on scenarios and write results.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use harness::error::{exit_code, BadInput, Regression, ReportedElsewhere, EXIT_INTERNAL};
use harness::trace_cmd::TraceAction;
use harness::RunArgs;
use solvers::bound::BoundOptions;
#[cfg(feature = "dppo")]
use solvers::dppo::hyper::TrainConfig;
use solvers::MilpOptions;

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  regression: `regress` found a metric worse than its tolerance (only `regress`)
  2  bad input (unreadable or malformed file, unknown field, invalid value, unknown preset or policy)
  3  internal failure (a policy error or invalid decision, an I/O error, a bug; a panic prints one line)

Logging: RUST_LOG=debug (or info, warn) sets how much is logged to stderr.";

#[derive(Parser)]
#[command(name = "edgebench", version, about = "Benchmark DNN-inference deployment policies on edge nodes serving mobile terminals", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run policies on a scenario over seeds and write results to --out.
    Run(RunCli),
    /// List or show scenarios.
    #[command(subcommand)]
    Scenario(ScenarioCmd),
    /// Tables (Markdown, LaTeX booktabs) with bootstrap confidence intervals from a results folder.
    Report {
        /// A results folder written by `edgebench run`.
        #[arg(long)]
        results: PathBuf,
        /// Where to write the report [default: RESULTS/report].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import, generate and inspect mobility traces.
    #[command(subcommand)]
    Trace(TraceAction),
    /// Compare a results set with a baseline (TOML); exit 1 when a metric is worse than its tolerance, 2 on bad input, 3 on a failure.
    Regress {
        /// A results folder (summary.parquet).
        #[arg(long)]
        results: PathBuf,
        /// The baseline TOML file.
        #[arg(long)]
        baseline: PathBuf,
        /// Rewrite the baseline's values from the results, keeping its checks and tolerances.
        #[arg(long, conflicts_with = "init")]
        update: bool,
        /// Write a new baseline from the results (cost, interruption rate, mean delay of every policy;
        /// tolerance = max(1 %, 2 standard errors over the seeds)).
        #[arg(long)]
        init: bool,
    },
    /// Run a scenario over the Cartesian product of parameter values (resumable); `report` reads the result.
    Sweep(SweepCli),
    /// Train the DPPO agent (distributed PPO) on a scenario; writes a checkpoint and train.parquet to --out.
    #[cfg(feature = "dppo")]
    Train(TrainCli),
    /// DPPO against greedy and the exact per-slot MILP, per seed: run totals and common states (see docs/model.md).
    #[cfg(all(feature = "dppo", feature = "milp"))]
    Score {
        /// A preset name or a scenario TOML file.
        #[arg(long)]
        scenario: String,
        /// Comma-separated evaluation seeds.
        #[arg(long, value_delimiter = ',', default_values_t = [1u64, 2, 3, 4, 5])]
        seeds: Vec<u64>,
        /// DPPO checkpoint: a .safetensors file, or shipped:NAME (one built in) [default: the one shipped for the scenario].
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        #[command(flatten)]
        milp: MilpCli,
        #[command(flatten)]
        bound: BoundCli,
        /// Skip the lower bound and the gaps to it (the bound of a large world takes minutes).
        #[arg(long)]
        no_bound: bool,
    },
}

#[cfg(feature = "dppo")]
#[derive(clap::Args)]
struct TrainCli {
    /// A preset name or a scenario TOML file; every episode draws fresh mobility and tasks.
    /// Repeat it to train on a mixture: each episode draws one of them (by --weights).
    #[arg(long, required = true)]
    scenario: Vec<String>,
    /// Comma-separated weights of the --scenario values, in order [default: equal].
    #[arg(long, value_delimiter = ',')]
    weights: Vec<f64>,
    /// Rollout workers (threads) per process, each with its own environments and network replica
    /// (under `mpirun -n R`: R × workers in all).
    #[arg(long, default_value_t = TrainConfig::default().workers)]
    workers: usize,
    /// Environment slots to train for (all ranks and workers together).
    #[arg(long, default_value_t = TrainConfig::default().total_steps)]
    steps: u64,
    /// Training seed (network initialisation, episodes, sampling).
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// Environments per worker.
    #[arg(long, default_value_t = TrainConfig::default().envs_per_worker)]
    envs: usize,
    /// Slots each environment advances per update.
    #[arg(long, default_value_t = TrainConfig::default().rollout_steps)]
    rollout: usize,
    /// Adam learning rate at the start (annealed linearly to 0).
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    lr: f64,
    /// PPO epochs over each rollout.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    /// Weight of the entropy bonus in the PPO loss.
    #[arg(long, default_value_t = TrainConfig::default().entropy_coef)]
    entropy_coef: f64,
    /// Discount per slot (0 < γ < 1): how far ahead a decision's consequences count (about
    /// 1/(1 − γ) slots); a model download pays only once it is ready, slots later.
    #[arg(long, default_value_t = TrainConfig::default().gamma)]
    gamma: f64,
    /// GAE λ (0 ≤ λ ≤ 1): how much of the advantage comes from observed rewards rather than
    /// the critic's estimate (λ = 1: observed rewards up to the rollout's end).
    #[arg(long, default_value_t = TrainConfig::default().gae_lambda)]
    gae_lambda: f64,
    /// Fine-tune this checkpoint (its weights and observation statistics) instead of starting
    /// from fresh weights; the sidecar records it.
    #[arg(long, value_name = "CHECKPOINT")]
    init: Option<PathBuf>,
    /// Divide the --init checkpoint's node logits by this before training: the same decisions,
    /// a flatter sampled policy, so that the fine-tune explores options the checkpoint had all
    /// but ruled out (docs/heldout.md, "Tempered start").
    #[arg(long, default_value_t = TrainConfig::default().init_temperature, requires = "init")]
    init_temperature: f64,
    /// Train (and save) with fetch claims: the decoder asks the cache head about downloads
    /// before the tasks (docs/model.md §9b, "Fetch claims"). The shipped `default` checkpoint
    /// decides with them; its weights were trained without.
    #[arg(long)]
    fetch_claims: bool,
    /// Output folder: policy.safetensors, policy.json, train.parquet, train_worlds.parquet.
    #[arg(long)]
    out: PathBuf,
    /// Do not draw a progress bar.
    #[arg(long)]
    quiet: bool,
}

/// The MILPs' settings, shared by `run`, `sweep` and `score`; the defaults
/// are `solvers::MilpOptions::DEFAULT`.
#[derive(clap::Args)]
struct MilpCli {
    /// MILP: wall-clock limit per slot, s (the incumbent is used when it is hit).
    #[arg(long, default_value_t = MilpOptions::DEFAULT.time_limit_s)]
    milp_time_limit: f64,
    /// MILP: relative gap at which the solver stops.
    #[arg(long, default_value_t = MilpOptions::DEFAULT.rel_gap)]
    milp_gap: f64,
    /// milp-lookahead: slots it plans over, this one included (at least 2).
    #[arg(long, default_value_t = MilpOptions::DEFAULT.horizon_slots)]
    milp_horizon: usize,
}

impl MilpCli {
    fn options(&self) -> MilpOptions {
        MilpOptions { time_limit_s: self.milp_time_limit, rel_gap: self.milp_gap, horizon_slots: self.milp_horizon }
    }
}

/// What `run` and `sweep` share: which policies, seeds and slots, how, and
/// where to.
#[derive(clap::Args)]
struct JobCli {
    /// Comma-separated policies [default: every policy of this build].
    #[arg(long, value_delimiter = ',')]
    policies: Vec<String>,
    /// Comma-separated seeds; each gives its own trace, channel and tasks.
    #[arg(long, value_delimiter = ',', default_values_t = harness::DEFAULT_SEEDS)]
    seeds: Vec<u64>,
    /// Override the scenario's number of slots.
    #[arg(long)]
    slots: Option<usize>,
    #[command(flatten)]
    milp: MilpCli,
    #[command(flatten)]
    bound: BoundCli,
    /// Worker threads [default: one per core]. Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// DPPO checkpoint (.safetensors with its .json sidecar, or shipped:NAME for one built in) [default: the one shipped for the scenario].
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Do not draw a progress bar.
    #[arg(long)]
    quiet: bool,
}

impl JobCli {
    /// The run's arguments from these flags (the trace and site fields empty).
    fn run_args(self, scenario: String, out: PathBuf, ranks: &harness::ranks::Ranks) -> RunArgs {
        RunArgs {
            scenario,
            policies: self.policies,
            seeds: self.seeds,
            slots: self.slots,
            terminals: None,
            trace: None,
            trace_format: None,
            sites: None,
            milp: self.milp.options(),
            bound: self.bound.options(),
            threads: self.threads.or_else(|| ranks.default_threads()),
            checkpoint: self.checkpoint,
            out,
            progress: !self.quiet,
        }
    }
}

/// The lower bound's settings, shared by `run` and `sweep`.
#[derive(clap::Args)]
struct BoundCli {
    /// Lower bound (`bound`): slots per window; longer is tighter and slower.
    #[arg(long, default_value_t = BoundOptions::DEFAULT.window_slots)]
    bound_window: usize,
    /// Lower bound: 0 = each window's LP relaxation; N > 0 = binary caches, N branch-and-bound nodes per window.
    #[arg(long, default_value_t = BoundOptions::DEFAULT.node_limit)]
    bound_nodes: u32,
    /// Lower bound: wall-clock limit per window, s (a safety net; its status says when it was hit).
    #[arg(long, default_value_t = BoundOptions::DEFAULT.time_limit_s)]
    bound_time_limit: f64,
}

impl BoundCli {
    fn options(&self) -> BoundOptions {
        BoundOptions {
            window_slots: self.bound_window,
            node_limit: self.bound_nodes,
            time_limit_s: self.bound_time_limit,
        }
    }
}

#[derive(clap::Args)]
struct RunCli {
    /// A preset name (see `edgebench scenario list`) or a scenario TOML file.
    #[arg(long)]
    scenario: String,
    #[command(flatten)]
    job: JobCli,
    /// Override the scenario's number of terminals.
    #[arg(long)]
    terminals: Option<usize>,
    /// Replay this trace (canonical Parquet, SUMO FCD, BonnMotion or CSV) instead of the scenario's generator.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Format of --trace [default: guessed].
    #[arg(long, value_enum)]
    trace_format: Option<scenarios::trace::TraceFormat>,
    /// Place the nodes at the sites of this CSV (LATITUDE, LONGITUDE columns; needs a lat/lon trace with --trace).
    #[arg(long)]
    sites: Option<PathBuf>,
    /// Results folder (written to a temporary folder first, renamed at the end).
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct SweepCli {
    /// A preset name or a scenario TOML file (the base of every cell).
    #[arg(long)]
    scenario: String,
    /// NAME=V1,V2,… with NAME one of terminals, speed (m/s), deadline (ms), cache (MiB); repeat to add axes.
    #[arg(long = "vary", required = true)]
    vary: Vec<String>,
    #[command(flatten)]
    job: JobCli,
    /// Sweep folder: cells/<cell>/ results sets, summary.parquet and summary.csv of all cells.
    #[arg(long)]
    out: PathBuf,
    /// K/N: run only shard K (0 ≤ K < N) of the cells, e.g. one task of a
    /// Slurm job array; the shard that finds every cell finished writes the
    /// combined summary.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Run nothing: write the combined summary of a sweep whose cells are all
    /// finished (after its shards).
    #[arg(long, conflicts_with = "shard")]
    merge: bool,
}

#[derive(Subcommand)]
enum ScenarioCmd {
    /// List the built-in presets.
    List,
    /// Print the resolved config of a preset or file as TOML (accepted back by `run --scenario`).
    Show {
        /// Preset name or TOML file.
        scenario: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap: --help/--version exit 0, usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    // A panic is an internal failure: one line and exit 3 (with RUST_BACKTRACE
    // set, Rust's own report and its backtrace).
    if std::env::var_os("RUST_BACKTRACE").is_none() {
        std::panic::set_hook(Box::new(|info| {
            let what = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            eprintln!("edgebench: internal error: {}{at}", scenarios::error::one_line(&what));
        }));
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(cli))) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) if e.downcast_ref::<ReportedElsewhere>().is_some() => ExitCode::from(exit_code(&e) as u8),
        Ok(Err(e)) => {
            eprintln!("edgebench: error: {}", scenarios::error::one_line(&format!("{e:#}")));
            ExitCode::from(exit_code(&e) as u8)
        }
        Err(_) => ExitCode::from(EXIT_INTERNAL as u8),
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    // Test hook (read by the exit-code tests only): panic here.
    if std::env::var_os("EDGEBENCH_TEST_PANIC").is_some() {
        panic!("EDGEBENCH_TEST_PANIC is set");
    }
    match cli.command {
        Command::Run(r) => {
            let ranks = harness::ranks::Ranks::init()?;
            let args = RunArgs {
                terminals: r.terminals,
                trace: r.trace,
                trace_format: r.trace_format,
                sites: r.sites,
                ..r.job.run_args(r.scenario, r.out, &ranks)
            };
            if let Some(out) = harness::cmd_run_across(&args, &ranks)? {
                eprintln!("edgebench: results in {}", out.display());
            }
            Ok(())
        }
        Command::Scenario(ScenarioCmd::List) => {
            for name in scenarios::presets::names() {
                let s = scenarios::presets::preset(name).map_err(BadInput::from)?;
                println!("{name:<10} {}", s.config().description);
            }
            Ok(())
        }
        Command::Scenario(ScenarioCmd::Show { scenario }) => {
            let s = harness::resolve_scenario(&scenario)?;
            print!("{}", s.to_toml());
            Ok(())
        }
        Command::Trace(cmd) => harness::trace_cmd::run(cmd),
        Command::Regress { results, baseline, update, init } => {
            use harness::regress;
            if init {
                let n = regress::init(&results, &baseline)?;
                eprintln!("edgebench: wrote {n} checks to {}", baseline.display());
                return Ok(());
            }
            if update {
                let n = regress::update(&results, &baseline)?;
                eprintln!("edgebench: updated the values of {n} checks in {}", baseline.display());
                return Ok(());
            }
            let verdicts = regress::compare(&results, &baseline)?;
            print!("{}", regress::table(&verdicts));
            let failed: Vec<String> = verdicts
                .iter()
                .filter(|v| v.failed)
                .map(|v| format!("{}/{}/{}", v.check.scenario, v.check.policy, v.check.metric))
                .collect();
            if failed.is_empty() {
                eprintln!("edgebench: regress: all {} checks within tolerance", verdicts.len());
                Ok(())
            } else {
                Err(Regression(format!(
                    "regress: {} of {} checks worse than tolerance: {}",
                    failed.len(),
                    verdicts.len(),
                    failed.join(", ")
                ))
                .into())
            }
        }
        Command::Sweep(w) => {
            let ranks = harness::ranks::Ranks::init()?;
            let parsed = (|| -> Result<_> {
                let axes = w.vary.iter().map(|v| harness::sweep::parse_axis(v)).collect::<Result<Vec<_>, _>>()?;
                let shard = w.shard.as_deref().map(harness::sweep::parse_shard).transpose()?;
                Ok((axes, shard))
            })();
            let (axes, shard) = ranks.agree(parsed)?;
            let run = w.job.run_args(w.scenario, w.out, &ranks);
            let args = harness::sweep::SweepArgs { run, axes, shard, merge: w.merge };
            match harness::sweep::cmd_sweep(&args, &ranks)? {
                harness::sweep::SweepOutcome::Combined(out) => {
                    eprintln!("edgebench: sweep results in {}", out.display())
                }
                harness::sweep::SweepOutcome::ShardDone { .. } if ranks.size() > 1 => {}
                harness::sweep::SweepOutcome::ShardDone { ran, finished, cells } => {
                    let which = shard.map_or(String::new(), |s| format!(" {}/{}", s.index, s.count));
                    eprintln!(
                        "edgebench: shard{which} done ({ran} cells); {finished} of {cells} cells finished; \
                         the last shard to finish, or `edgebench sweep … --merge`, writes the combined summary"
                    )
                }
            }
            Ok(())
        }
        #[cfg(all(feature = "dppo", feature = "milp"))]
        Command::Score { scenario, seeds, checkpoint, milp, bound, no_bound } => {
            harness::score_cmd::cmd_score(&harness::score_cmd::ScoreArgs {
                scenario,
                seeds,
                checkpoint,
                milp: milp.options(),
                bound: (!no_bound).then(|| bound.options()),
            })?;
            Ok(())
        }
        #[cfg(feature = "dppo")]
        Command::Train(t) => {
            let config = solvers::dppo::hyper::TrainConfig {
                workers: t.workers,
                envs_per_worker: t.envs,
                rollout_steps: t.rollout,
                total_steps: t.steps,
                seed: t.seed,
                lr: t.lr,
                epochs: t.epochs,
                entropy_coef: t.entropy_coef,
                gamma: t.gamma,
                gae_lambda: t.gae_lambda,
                init_temperature: t.init_temperature,
                fetch_claims: t.fetch_claims,
                ..Default::default()
            };
            let args = harness::train_cmd::TrainArgs {
                scenarios: t.scenario,
                weights: t.weights,
                init: t.init,
                config,
                out: t.out,
                progress: !t.quiet,
            };
            let ranks = harness::ranks::Ranks::init()?;
            if let Some(out) = harness::train_cmd::cmd_train(&args, &ranks)? {
                eprintln!("edgebench: checkpoint and training log in {}", out.display());
            }
            Ok(())
        }
        Command::Report { results, out } => {
            let out = harness::cmd_report(&results, out.as_deref())?;
            eprintln!("edgebench: report in {}", out.display());
            Ok(())
        }
    }
}
