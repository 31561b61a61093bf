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

/// The columns of `summary.csv`, in order (a contract: later tools read them by name).
pub const SUMMARY_COLUMNS: &[&str] = &[
    "scenario",
    "policy",
    "seed",
    "tasks",
    "mean_delay_ms",
    "p95_delay_ms",
    "interruption_rate",
    "interruption_events_per_100",
    "mean_interruption_len",
    "rb_util",
    "cu_util",
    "cache_util",
    "backhaul_gb",
    "handovers_per_min",
    "cost",
    "decision_ms_mean",
    "decision_ms_p95",
    "milp_optimal_share",
    "milp_max_gap",
    "milp_solve_ms_p50",
    "milp_solve_ms_p95",
    "milp_build_share",
    "gap_to_bound",
    "bound_status",
    "slots",
    "terminals",
];

pub fn summary_frame(scenario: &str, runs: &[PolicyRun]) -> Result<DataFrame> {
    let n = runs.len();
    let f = |g: &dyn Fn(&PolicyRun) -> f64| runs.iter().map(|r| nan_null(g(r))).collect::<Vec<_>>();
    let cols = vec![
        Column::new("scenario".into(), vec![scenario; n]),
        Column::new("policy".into(), runs.iter().map(|r| r.policy.as_str()).collect::<Vec<_>>()),
        Column::new("seed".into(), runs.iter().map(|r| r.seed).collect::<Vec<_>>()),
        Column::new("tasks".into(), runs.iter().map(|r| r.summary.tasks as u64).collect::<Vec<_>>()),
        Column::new("mean_delay_ms".into(), f(&|r| r.summary.mean_delay_ms)),
        Column::new("p95_delay_ms".into(), f(&|r| r.summary.p95_delay_ms)),
        Column::new("interruption_rate".into(), f(&|r| r.summary.interruption_rate)),
        Column::new("interruption_events_per_100".into(), f(&|r| r.summary.interruption_events_per_100)),
        Column::new("mean_interruption_len".into(), f(&|r| r.summary.mean_interruption_len)),
        Column::new("rb_util".into(), f(&|r| r.summary.rb_util)),
        Column::new("cu_util".into(), f(&|r| r.summary.cu_util)),
        Column::new("cache_util".into(), f(&|r| r.summary.cache_util)),
        Column::new("backhaul_gb".into(), f(&|r| r.summary.backhaul_gb)),
        Column::new("handovers_per_min".into(), f(&|r| r.summary.handovers_per_min)),
        Column::new("cost".into(), f(&|r| r.summary.cost)),
        Column::new("decision_ms_mean".into(), f(&|r| r.summary.decision_ms_mean)),
        Column::new("decision_ms_p95".into(), f(&|r| r.summary.decision_ms_p95)),
        Column::new(
            "milp_optimal_share".into(),
            runs.iter().map(|r| r.solver.as_ref().map(|s| s.optimal_share())).collect::<Vec<_>>(),
        ),
        Column::new(
            "milp_max_gap".into(),
            runs.iter().map(|r| r.solver.as_ref().map(|s| s.max_gap)).collect::<Vec<_>>(),
        ),
        Column::new(
            "milp_solve_ms_p50".into(),
            runs.iter().map(|r| r.solver.as_ref().map(|s| 1e3 * percentile(&s.solve_s, 0.5))).collect::<Vec<_>>(),
        ),
        Column::new(
            "milp_solve_ms_p95".into(),
            runs.iter().map(|r| r.solver.as_ref().map(|s| 1e3 * percentile(&s.solve_s, 0.95))).collect::<Vec<_>>(),
        ),
        Column::new(
            "milp_build_share".into(),
            runs.iter().map(|r| r.solver.as_ref().map(|s| s.build_share())).collect::<Vec<_>>(),
        ),
        Column::new(
            "gap_to_bound".into(),
            runs.iter()
                .map(|r| crate::run::bound_of(runs, r.seed).filter(|&b| b > 0.0).map(|b| (r.summary.cost - b) / b))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "bound_status".into(),
            runs.iter().map(|r| r.bound.as_ref().map(|b| b.status())).collect::<Vec<_>>(),
        ),
        Column::new("slots".into(), runs.iter().map(|r| r.summary.slots as u64).collect::<Vec<_>>()),
        Column::new("terminals".into(), runs.iter().map(|r| r.terminals as u64).collect::<Vec<_>>()),
    ];
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

pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    crate::parquet_check::check_path(path)
        .map_err(|m| anyhow::anyhow!("{}: not a readable Parquet file: {m}", path.display()))?;
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    crate::error::catch_reader_panic(|| ParquetReader::new(file).finish())
        .map_err(|m| anyhow::anyhow!("not a readable Parquet file ({m})"))?
        .map_err(anyhow::Error::from)
        .with_context(|| format!("reading {}", path.display()))
}
