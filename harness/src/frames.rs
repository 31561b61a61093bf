//! Result columns → polars frames → Parquet and CSV files.

use std::fs::File;
use std::path::Path;

use anyhow::{Context as _, Result};
use polars::prelude::*;

use crate::run::{PolicyRun, SlotColumns, TaskColumns};
use scenarios::metrics::percentile;

fn strs(v: &[std::sync::Arc<str>]) -> Vec<&str> {
    v.iter().map(|s| s.as_ref()).collect()
}

/// NaN (no value) becomes null, so CSV shows an empty cell and Parquet a null.
fn nan_null(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

pub fn tasks_frame(scenario: &str, t: &TaskColumns) -> Result<DataFrame> {
    let n = t.len();
    let cols = vec![
        Column::new("scenario".into(), vec![scenario; n]),
        Column::new("policy".into(), strs(&t.policy)),
        Column::new("seed".into(), t.seed.clone()),
        Column::new("slot".into(), t.slot.clone()),
        Column::new("terminal".into(), t.terminal.clone()),
        Column::new("model".into(), strs(&t.model)),
        Column::new("x_m".into(), t.x_m.clone()),
        Column::new("y_m".into(), t.y_m.clone()),
        Column::new("input_bytes".into(), t.input_bytes.clone()),
        Column::new("best_snr_db".into(), t.best_snr_db.clone()),
        Column::new("decision".into(), t.kind.clone()),
        Column::new("node".into(), t.node.clone()),
        Column::new("cut".into(), t.cut.clone()),
        Column::new("rb".into(), t.rb.clone()),
        Column::new("cu".into(), t.cu.clone()),
        Column::new("device_ms".into(), t.device_ms.clone()),
        Column::new("uplink_ms".into(), t.uplink_ms.clone()),
        Column::new("edge_ms".into(), t.edge_ms.clone()),
        Column::new("cold_ms".into(), t.cold_ms.clone()),
        Column::new("handover_ms".into(), t.handover_ms.clone()),
        Column::new("delay_ms".into(), t.delay_ms.clone()),
        Column::new("deadline_ms".into(), t.deadline_ms.clone()),
        Column::new("met".into(), t.met.clone()),
        Column::new("interrupted".into(), t.interrupted.clone()),
        Column::new("reason".into(), t.reason.clone()),
        Column::new("cost".into(), t.cost.clone()),
        Column::new("handover".into(), t.handover.clone()),
    ];
    Ok(DataFrame::new(n, cols)?)
}

pub fn slots_frame(scenario: &str, s: &SlotColumns) -> Result<DataFrame> {
    let n = s.slot.len();
    let cols = vec![
        Column::new("scenario".into(), vec![scenario; n]),
        Column::new("policy".into(), strs(&s.policy)),
        Column::new("seed".into(), s.seed.clone()),
        Column::new("slot".into(), s.slot.clone()),
        Column::new("tasks".into(), s.tasks.clone()),
        Column::new("interrupted".into(), s.interrupted.clone()),
        Column::new("cost".into(), s.cost.clone()),
        Column::new("backhaul_bytes".into(), s.backhaul_bytes.clone()),
        Column::new("rb_util".into(), s.rb_util.clone()),
        Column::new("cu_util".into(), s.cu_util.clone()),
        Column::new("cache_util".into(), s.cache_util.clone()),
        Column::new("decision_ms".into(), s.decision_ms.clone()),
        Column::new("solver_status".into(), s.solver_status.clone()),
        Column::new("solver_objective".into(), s.solver_objective.clone()),
        Column::new("solver_bound".into(), s.solver_bound.clone()),
        Column::new("solver_gap".into(), s.solver_gap.clone()),
        Column::new("solver_build_ms".into(), s.solver_build_ms.clone()),
        Column::new("solver_solve_ms".into(), s.solver_solve_ms.clone()),
        Column::new("solver_vars".into(), s.solver_vars.clone()),
        Column::new("solver_binaries".into(), s.solver_binaries.clone()),
        Column::new("solver_rows".into(), s.solver_rows.clone()),
    ];
    Ok(DataFrame::new(n, cols)?)
}

/// A summary column: its name and how it is computed from one run (the
/// runs of the same results are there for the bound of the run's seed).
pub struct SummaryColumn {
    pub name: &'static str,
    build: Build,
}

/// How a column's value is computed, by its type; None is an empty cell (null).
#[derive(Clone, Copy)]
enum Build {
    Count(fn(&PolicyRun) -> u64),
    Number(fn(&PolicyRun, &[PolicyRun]) -> Option<f64>),
    Text(fn(&PolicyRun) -> Option<&'static str>),
}

const fn count(name: &'static str, f: fn(&PolicyRun) -> u64) -> SummaryColumn {
    SummaryColumn { name, build: Build::Count(f) }
}

const fn number(name: &'static str, f: fn(&PolicyRun, &[PolicyRun]) -> Option<f64>) -> SummaryColumn {
    SummaryColumn { name, build: Build::Number(f) }
}

/// A metric of `scenarios::metrics::Summary` (NaN, no value, is null).
macro_rules! summary_metric {
    ($field:ident) => {
        number(stringify!($field), |r, _| nan_null(r.summary.$field))
    };
}

/// A statistic of the MILP's slots (null for a policy that solves none).
macro_rules! solver_stat {
    ($name:literal, $stat:expr) => {
        number($name, |r, _| r.solver.as_ref().map($stat))
    };
}

/// `summary.csv`'s columns after `scenario` and `policy`, in order (a
/// contract: later tools read them by name), with how each is computed: the
/// one list of them. The metrics among them are presented as
/// `reports::metrics` says.
pub const SUMMARY: &[SummaryColumn] = &[
    count("seed", |r| r.seed),
    count("tasks", |r| r.summary.tasks as u64),
    summary_metric!(mean_delay_ms),
    summary_metric!(p95_delay_ms),
    summary_metric!(interruption_rate),
    summary_metric!(interruption_events_per_100),
    summary_metric!(mean_interruption_len),
    summary_metric!(rb_util),
    summary_metric!(cu_util),
    summary_metric!(cache_util),
    summary_metric!(backhaul_gb),
    summary_metric!(handovers_per_min),
    summary_metric!(cost),
    summary_metric!(decision_ms_mean),
    summary_metric!(decision_ms_p95),
    solver_stat!("milp_optimal_share", |s| s.optimal_share()),
    solver_stat!("milp_max_gap", |s| s.max_gap),
    solver_stat!("milp_solve_ms_p50", |s| 1e3 * percentile(&s.solve_s, 0.5)),
    solver_stat!("milp_solve_ms_p95", |s| 1e3 * percentile(&s.solve_s, 0.95)),
    solver_stat!("milp_build_share", |s| s.build_share()),
    number("gap_to_bound", |r, runs| {
        crate::run::bound_of(runs, r.seed).filter(|&b| b > 0.0).map(|b| (r.summary.cost - b) / b)
    }),
    SummaryColumn { name: "bound_status", build: Build::Text(|r| r.bound.as_ref().map(|b| b.status())) },
    count("slots", |r| r.summary.slots as u64),
    count("terminals", |r| r.terminals as u64),
];

/// The columns of `summary.csv`, in order.
pub fn summary_columns() -> Vec<&'static str> {
    ["scenario", "policy"].into_iter().chain(SUMMARY.iter().map(|c| c.name)).collect()
}

/// Columns whose values are wall-clock times (or shares of them), per
/// results file: they depend on the machine and its load, every other
/// column is a function of (config, seed). Regression checks never read
/// them; comparisons of results leave them out.
pub const WALL_CLOCK: &[(&str, &[&str])] = &[
    ("summary", &["decision_ms_mean", "decision_ms_p95", "milp_solve_ms_p50", "milp_solve_ms_p95", "milp_build_share"]),
    ("slots", &["decision_ms", "solver_build_ms", "solver_solve_ms"]),
    ("bound", &["solve_s"]),
];

/// The wall-clock columns of a results file (`summary`, `slots`, `bound`; none for another).
pub fn wall_clock(file: &str) -> &'static [&'static str] {
    WALL_CLOCK.iter().find(|w| w.0 == file).map_or(&[], |w| w.1)
}

pub fn summary_frame(scenario: &str, runs: &[PolicyRun]) -> Result<DataFrame> {
    let n = runs.len();
    let mut cols = vec![
        Column::new("scenario".into(), vec![scenario; n]),
        Column::new("policy".into(), runs.iter().map(|r| r.policy.as_str()).collect::<Vec<_>>()),
    ];
    for c in SUMMARY {
        let name = c.name.into();
        cols.push(match c.build {
            Build::Count(f) => Column::new(name, runs.iter().map(f).collect::<Vec<_>>()),
            Build::Number(f) => Column::new(name, runs.iter().map(|r| f(r, runs)).collect::<Vec<_>>()),
            Build::Text(f) => Column::new(name, runs.iter().map(f).collect::<Vec<_>>()),
        });
    }
    Ok(DataFrame::new(n, cols)?)
}

/// `bound.csv`: one row per (seed, window) of the lower bound, how it was
/// obtained and what it cost to solve (`solve_s` is wall-clock). None when
/// no run holds a bound.
pub fn bound_frame(scenario: &str, runs: &[PolicyRun]) -> Result<Option<DataFrame>> {
    let rows: Vec<(u64, &solvers::bound::WindowBound)> = runs
        .iter()
        .filter_map(|r| r.bound.as_ref().map(|b| (r.seed, b)))
        .flat_map(|(s, b)| b.windows.iter().map(move |w| (s, w)))
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let n = rows.len();
    let col = |name: &str, f: &dyn Fn(&solvers::bound::WindowBound) -> f64| {
        Column::new(name.into(), rows.iter().map(|(_, w)| nan_null(f(w))).collect::<Vec<_>>())
    };
    let cols = vec![
        Column::new("scenario".into(), vec![scenario; n]),
        Column::new("seed".into(), rows.iter().map(|r| r.0).collect::<Vec<_>>()),
        Column::new("first_slot".into(), rows.iter().map(|r| r.1.slots.start as u64).collect::<Vec<_>>()),
        Column::new("slots".into(), rows.iter().map(|r| r.1.slots.len() as u64).collect::<Vec<_>>()),
        col("bound", &|w| w.value),
        Column::new("status".into(), rows.iter().map(|r| r.1.status.name()).collect::<Vec<_>>()),
        col("trivial", &|w| w.trivial),
        col("relaxation_incumbent", &|w| w.incumbent),
        Column::new("columns".into(), rows.iter().map(|r| r.1.columns as u64).collect::<Vec<_>>()),
        Column::new("binaries".into(), rows.iter().map(|r| r.1.binaries as u64).collect::<Vec<_>>()),
        Column::new("rows".into(), rows.iter().map(|r| r.1.rows as u64).collect::<Vec<_>>()),
        col("solve_s", &|w| w.solve_s),
    ];
    Ok(Some(DataFrame::new(n, cols)?))
}

/// Task rows streamed into a Parquet file, a row group per batch, as a run
/// goes: the rows of a long run are never all in memory.
pub struct TaskWriter {
    writer: polars::io::parquet::write::BatchedWriter<std::io::BufWriter<File>>,
    scenario: String,
    path: std::path::PathBuf,
}

impl TaskWriter {
    pub fn create(path: &Path, scenario: &str) -> Result<TaskWriter> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let schema = tasks_frame(scenario, &TaskColumns::default())?.schema().as_ref().clone();
        let writer = ParquetWriter::new(std::io::BufWriter::new(file))
            .batched(&schema)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(TaskWriter { writer, scenario: scenario.to_string(), path: path.to_path_buf() })
    }
    /// Append the rows of `t` (none: nothing is written).
    pub fn write(&mut self, t: &TaskColumns) -> Result<()> {
        if t.is_empty() {
            return Ok(());
        }
        self.write_frame(&tasks_frame(&self.scenario, t)?)
    }
    /// Append a frame of the tasks schema (rows read back from another task file).
    pub fn write_frame(&mut self, df: &DataFrame) -> Result<()> {
        self.writer
            .write_batch(df)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("writing {}", self.path.display()))
    }
    /// Write the footer.
    pub fn finish(self) -> Result<()> {
        self.writer
            .finish()
            .map(drop)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// Rows of a task file in order, `chunk` rows at a time (memory: one chunk;
/// the footer is read once).
pub fn copy_task_rows(from: &Path, to: &mut TaskWriter, chunk: usize) -> Result<()> {
    let reading = || format!("reading {}", from.display());
    let file = File::open(from).with_context(reading)?;
    let metadata = ParquetReader::new(file.try_clone().with_context(reading)?)
        .get_metadata()
        .map_err(anyhow::Error::from)
        .with_context(reading)?
        .clone();
    let mut at = 0;
    while at < metadata.num_rows {
        let mut reader = ParquetReader::new(file.try_clone().with_context(reading)?).with_slice(Some((at, chunk)));
        reader.set_metadata(metadata.clone());
        to.write_frame(&reader.finish().map_err(anyhow::Error::from).with_context(reading)?)?;
        at += chunk;
    }
    Ok(())
}

pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    ParquetWriter::new(file)
        .finish(df)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub fn write_csv(df: &mut DataFrame, path: &Path) -> Result<()> {
    let mut file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    CsvWriter::new(&mut file)
        .include_header(true)
        .finish(df)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The summary frame of a results folder (`--results`); bad input (exit 2)
/// when the folder is not one.
pub fn read_results_summary(results: &Path) -> Result<DataFrame> {
    let path = results.join("summary.parquet");
    if !results.is_dir() {
        return Err(crate::error::BadInput(format!("--results {}: not a folder", results.display())).into());
    }
    if !path.is_file() {
        return Err(crate::error::BadInput(format!(
            "--results {}: not a results set (no summary.parquet; write one with `edgebench run`)",
            results.display()
        ))
        .into());
    }
    read_parquet(&path).map_err(|e| crate::error::BadInput(format!("{}: {e:#}", path.display())).into())
}

pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    crate::parquet_check::check_path(path)
        .map_err(|m| anyhow::anyhow!("{}: not a readable Parquet file: {m}", path.display()))?;
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    crate::error::catch_reader_panic(|| ParquetReader::new(file).finish())
        .map_err(|m| anyhow::anyhow!("not a readable Parquet file ({m})"))?
        .map_err(anyhow::Error::from)
        .with_context(|| format!("reading {}", path.display()))
}
