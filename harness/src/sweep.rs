//! `edgebench sweep`: the Cartesian product of parameter values, one results
//! set per cell under `OUT/cells/<cell>/`, combined into `OUT/summary.*`.
//!
//! Resumable: a cell is finished when its folder exists (results sets are
//! staged and renamed into place only when complete), so a sweep started
//! again skips finished cells and redoes a half-written one. `OUT/sweep.json`
//! records what the sweep is; starting another sweep into the same folder is
//! refused. A cell's results depend only on its config and seeds, so an
//! interrupted sweep, once finished, equals an uninterrupted one.
//!
//! `--shard K/N` runs only shard K's cells (of N, split by [`shards`]), so N
//! processes (a Slurm job array, any batch system) can share one sweep
//! folder; whichever finds every cell finished writes the combined summary,
//! and `--merge` writes it without running anything.
//!
//! Under `mpirun -n R` (or `srun`), rank r runs shard r/R of the cells, by the
//! same split, in the shared `--out`; when every rank is done, rank 0 writes
//! the combined summary. A failing rank stops them all before anything is
//! combined; started again (with any number of ranks), the sweep resumes
//! from the finished cells.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::*;

use crate::error::BadInput;
use crate::ranks::Ranks;
use crate::run::Plan;
use crate::{frames, plan_from_args, RunArgs};

/// Parameters a sweep can vary, with what each sets in the scenario.
pub const PARAMETERS: [(&str, &str); 4] = [
    ("terminals", "terminals.count (positive integer)"),
    ("speed", "mobility.speed_mps = [v, v] (m/s, every terminal at speed v)"),
    ("deadline", "terminals.deadline_ms = [v] (ms, every task)"),
    ("cache", "nodes.cache_mib (MiB per node)"),
];

/// One `--vary name=v1,v2,…`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Axis {
    pub name: String,
    pub values: Vec<f64>,
}

/// Parse `name=v1,v2,…`.
pub fn parse_axis(spec: &str) -> Result<Axis, BadInput> {
    let known = || PARAMETERS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ");
    let (name, list) = spec
        .split_once('=')
        .ok_or_else(|| BadInput(format!("--vary {spec}: expected NAME=V1,V2,… with NAME one of {}", known())))?;
    if !PARAMETERS.iter().any(|p| p.0 == name) {
        return Err(BadInput(format!("--vary {spec}: unknown parameter `{name}`; expected one of {}", known())));
    }
    let mut values = Vec::new();
    for v in list.split(',') {
        let x: f64 = v.trim().parse().map_err(|_| BadInput(format!("--vary {spec}: `{v}` is not a number")))?;
        if !(x.is_finite() && x > 0.0) || (name == "terminals" && x.fract() != 0.0) {
            return Err(BadInput(format!(
                "--vary {spec}: `{v}` is not a positive {}",
                if name == "terminals" { "integer" } else { "number" }
            )));
        }
        if values.contains(&x) {
            return Err(BadInput(format!("--vary {spec}: `{v}` is listed twice")));
        }
        values.push(x);
    }
    Ok(Axis { name: name.to_string(), values })
}

/// What `OUT/sweep.json` records: a resumed sweep must be the same sweep.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepSpec {
    pub scenario: String,
    pub config_hash: String,
    pub axes: Vec<Axis>,
    pub policies: Vec<String>,
    pub seeds: Vec<u64>,
}

/// One cell: a value per axis.
#[derive(Debug, Clone)]
pub struct Cell {
    pub values: Vec<(String, f64)>,
}

impl Cell {
    /// Folder name, e.g. `terminals=10_speed=1.5` (no commas: it is a CSV field too).
    pub fn id(&self) -> String {
        self.values.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("_")
    }
}

/// The most cells a sweep may have (each is a results set on disk).
pub const MAX_CELLS: usize = 100_000;

/// The number of cells of `axes`, refused above [`MAX_CELLS`] before any is built.
pub fn check_cells(axes: &[Axis]) -> Result<usize, BadInput> {
    let n = axes.iter().try_fold(1usize, |n, a| n.checked_mul(a.values.len()).filter(|&n| n <= MAX_CELLS));
    n.ok_or_else(|| {
        let sizes: Vec<String> = axes.iter().map(|a| format!("{} {}", a.values.len(), a.name)).collect();
        BadInput(format!("--vary: {} make more than {MAX_CELLS} cells", sizes.join(" × ")))
    })
}

/// The Cartesian product, first axis slowest.
pub fn cells(axes: &[Axis]) -> Vec<Cell> {
    let mut out = vec![Cell { values: Vec::new() }];
    for a in axes {
        out = out
            .into_iter()
            .flat_map(|c| {
                a.values.iter().map(move |&v| {
                    let mut values = c.values.clone();
                    values.push((a.name.clone(), v));
                    Cell { values }
                })
            })
            .collect();
    }
    out
}

/// The scenario of a cell.
fn cell_scenario(base: &scenarios::Scenario, cell: &Cell) -> Result<scenarios::Scenario, BadInput> {
    let mut c = base.config().clone();
    for (name, v) in &cell.values {
        match name.as_str() {
            "terminals" => c.terminals.count = *v as usize,
            "speed" => c.mobility.speed_mps = [*v, *v],
            "deadline" => c.terminals.deadline_ms = vec![*v],
            "cache" => c.nodes.cache_mib = *v,
            other => unreachable!("axis {other} was checked when parsed"),
        }
    }
    Ok(c.validate(&format!("sweep cell {}", cell.id()), None)?)
}

/// `--shard K/N`: this process runs shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// Parse `K/N` with `0 ≤ K < N`.
pub fn parse_shard(spec: &str) -> Result<Shard, BadInput> {
    let bad = || BadInput(format!("--shard {spec}: expected K/N, two whole numbers with 0 ≤ K < N (e.g. 0/4)"));
    let (k, n) = spec.split_once('/').ok_or_else(bad)?;
    let (index, count): (usize, usize) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if index >= count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

/// The shard of each cell: cells in order of expected work, largest first
/// (slots × seeds × policies × terminals: the MILPs grow with the
/// terminals), each to the shard with the least work so far (the lowest
/// index on ties). Deterministic: every process of a sweep computes the same split.
pub fn shards(plans: &[Plan], count: usize) -> Vec<usize> {
    let work: Vec<u64> =
        plans.iter().map(|p| p.total_slots() * p.scenario.config().terminals.count.max(1) as u64).collect();
    least_loaded(&work, count)
}

/// Longest processing time first: items by decreasing work (index on ties),
/// each to the bin with the least work so far (the lowest index on ties).
pub fn least_loaded(work: &[u64], bins: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..work.len()).collect();
    order.sort_by(|&a, &b| work[b].cmp(&work[a]).then(a.cmp(&b)));
    let mut load = vec![0u64; bins.max(1)];
    let mut of = vec![0usize; work.len()];
    for i in order {
        let k = (0..load.len()).min_by_key(|&k| (load[k], k)).expect("at least one bin");
        load[k] += work[i];
        of[i] = k;
    }
    of
}

pub struct SweepArgs {
    pub run: RunArgs,
    pub axes: Vec<Axis>,
    /// Run only this shard's cells.
    pub shard: Option<Shard>,
    /// Run nothing: combine the finished cells (every cell must be finished).
    pub merge: bool,
}

/// What a sweep command did.
pub enum SweepOutcome {
    /// Every cell is finished and the combined summary is written.
    Combined(PathBuf),
    /// This shard's cells are finished, others are not yet.
    ShardDone { ran: usize, finished: usize, cells: usize },
}

/// A checked sweep, ready to run.
struct Prepared {
    all: Vec<Cell>,
    plans: Vec<Plan>,
    spec: SweepSpec,
}

/// Run (or resume) a sweep, or its shard, or merge it; under MPI, this rank's share.
pub fn cmd_sweep(a: &SweepArgs, ranks: &Ranks) -> Result<SweepOutcome> {
    let checked = prepare(a).and_then(|p| {
        if ranks.size() > 1 && (a.shard.is_some() || a.merge) {
            let flag = if a.merge { "--merge" } else { "--shard" };
            return Err(BadInput(format!(
                "{flag}: not under mpirun/srun ({} ranks): the ranks already split the sweep; \
                 start {flag} as one process",
                ranks.size()
            ))
            .into());
        }
        Ok(p)
    });
    let Prepared { all, plans, spec } = ranks.agree(checked)?;
    let out = &a.run.out;
    if a.merge {
        combine(out, &all)?;
        return Ok(SweepOutcome::Combined(out.clone()));
    }
    let cells_dir = out.join("cells");
    let setup = (|| -> Result<()> {
        std::fs::create_dir_all(&cells_dir).with_context(|| format!("creating {}", cells_dir.display()))?;
        // Written whole and renamed: shards started together may write it at once.
        let spec_path = out.join("sweep.json");
        let tmp = out.join(format!(".sweep.json.tmp-{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_string_pretty(&spec)? + "\n")
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &spec_path).with_context(|| format!("writing {}", spec_path.display()))?;
        Ok(())
    })();
    ranks.agree(setup)?;
    if ranks.size() > 1 {
        ranks.agree(check_shared_folder(out, ranks))?;
    }
    let shard = if ranks.size() > 1 { Some(Shard { index: ranks.rank(), count: ranks.size() }) } else { a.shard };
    let ran = ranks.or_abort(run_cells(a, &all, &plans, shard, ranks.is_root()))?;
    let finished = |cell: &Cell| cells_dir.join(cell.id()).join("manifest.json").is_file();
    if ranks.size() > 1 {
        ranks.barrier();
        if !ranks.is_root() {
            return Ok(SweepOutcome::ShardDone { ran, finished: all.len(), cells: all.len() });
        }
    }
    let done = all.iter().filter(|c| finished(c)).count();
    if done < all.len() {
        return Ok(SweepOutcome::ShardDone { ran, finished: done, cells: all.len() });
    }
    ranks.or_abort(combine(out, &all))?;
    Ok(SweepOutcome::Combined(out.clone()))
}

/// Under MPI every rank must see the same `--out`: rank 0 leaves a token
/// there, and each rank looks for it.
fn check_shared_folder(out: &Path, ranks: &Ranks) -> Result<()> {
    let mut pid = [f64::from(std::process::id())];
    ranks.broadcast(&mut pid);
    let token = out.join(format!(".rank0-{}", pid[0] as u32));
    if ranks.is_root() {
        std::fs::write(&token, b"").with_context(|| format!("writing {}", token.display()))?;
    }
    ranks.barrier();
    let seen = token.is_file();
    ranks.barrier();
    if ranks.is_root() {
        let _ = std::fs::remove_file(&token);
    }
    if !seen {
        return Err(BadInput(format!(
            "--out {}: rank {} does not see rank 0's files there; under MPI --out must be a folder every rank shares",
            out.display(),
            ranks.rank()
        ))
        .into());
    }
    Ok(())
}

/// Every check before anything is written.
fn prepare(a: &SweepArgs) -> Result<Prepared> {
    if a.axes.is_empty() {
        return Err(BadInput("sweep: expected at least one --vary NAME=V1,V2,…".into()).into());
    }
    for (i, ax) in a.axes.iter().enumerate() {
        if a.axes[..i].iter().any(|b| b.name == ax.name) {
            return Err(BadInput(format!("--vary: `{}` is varied twice", ax.name)).into());
        }
    }
    check_cells(&a.axes)?;
    let base = plan_from_args(&a.run)?;
    let all = cells(&a.axes);
    // Check every cell's config before anything runs.
    let mut plans = Vec::with_capacity(all.len());
    for cell in &all {
        let scenario = cell_scenario(&base.scenario, cell)?;
        plans.push(Plan { scenario, ..base.clone() });
    }
    let out = &a.run.out;
    if out.exists() && !out.is_dir() {
        return Err(BadInput(format!("--out {}: exists and is not a folder", out.display())).into());
    }
    let spec = SweepSpec {
        scenario: base.scenario.name().to_string(),
        config_hash: base.scenario.config_hash(),
        axes: a.axes.clone(),
        policies: base.policies.clone(),
        seeds: base.seeds.clone(),
    };
    let spec_path = out.join("sweep.json");
    if a.merge && !spec_path.exists() {
        return Err(BadInput(format!("--merge: {} holds no sweep (no sweep.json)", out.display())).into());
    }
    if spec_path.exists() {
        let text = std::fs::read_to_string(&spec_path).with_context(|| format!("reading {}", spec_path.display()))?;
        let old: SweepSpec = serde_json::from_str(&text)
            .map_err(|e| BadInput(format!("{}: not a sweep record ({e})", spec_path.display())))?;
        if old != spec {
            return Err(BadInput(format!(
                "--out {}: holds another sweep (scenario, parameters, policies or seeds differ); use another folder",
                out.display()
            ))
            .into());
        }
    } else if out.exists() && std::fs::read_dir(out)?.any(|e| e.is_ok_and(|e| !is_shared_entry(&e.file_name()))) {
        return Err(BadInput(format!("--out {}: exists, is not empty and holds no sweep", out.display())).into());
    }
    let cells_dir = out.join("cells");
    let finished = |cell: &Cell| cells_dir.join(cell.id()).join("manifest.json").is_file();
    if a.merge {
        let missing: Vec<String> = all.iter().filter(|c| !finished(c)).map(Cell::id).collect();
        if !missing.is_empty() {
            return Err(BadInput(format!(
                "--merge: {} of {} cells of {} are not finished yet: {} (run their shards first)",
                missing.len(),
                all.len(),
                out.display(),
                missing.join(", ")
            ))
            .into());
        }
    }
    Ok(Prepared { all, plans, spec })
}

/// Run the unfinished cells of `shard` (all cells without one); returns how
/// many of its cells are finished now.
fn run_cells(a: &SweepArgs, all: &[Cell], plans: &[Plan], shard: Option<Shard>, show: bool) -> Result<usize> {
    let cells_dir = a.run.out.join("cells");
    let finished = |cell: &Cell| cells_dir.join(cell.id()).join("manifest.json").is_file();
    let shard_of = shards(plans, shard.map_or(1, |s| s.count));
    let mine = |k: usize| shard.is_none_or(|s| shard_of[k] == s.index);
    // Another shard's staging folders are its work in progress, not stale.
    let own: Vec<String> = all.iter().enumerate().filter(|&(k, _)| mine(k)).map(|(_, c)| c.id()).collect();
    remove_stale_staging(&cells_dir, &own)?;

    let total: u64 = plans.iter().enumerate().filter(|&(k, _)| mine(k)).map(|(_, p)| p.total_slots()).sum();
    let bar = if a.run.progress && show { ProgressBar::new(total) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("sweep [{bar:40}] {pos}/{len} slots, cell {msg}  {elapsed} elapsed, ETA {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    let pool = crate::thread_pool(a.run.threads)?;
    let (mut skipped, mut ran) = (0, 0);
    for (k, (cell, plan)) in all.iter().zip(plans).enumerate().filter(|&(k, _)| mine(k)) {
        let dir = cells_dir.join(cell.id());
        if finished(cell) {
            skipped += 1;
            bar.inc(plan.total_slots());
            continue;
        }
        bar.set_message(format!("{}/{} ({})", k + 1, all.len(), cell.id()));
        crate::run_into(plan, &dir, &pool, Some(&bar), false)?;
        ran += 1;
    }
    bar.finish_and_clear();
    if skipped > 0 && show {
        let whose = if shard.is_some() { " of this shard" } else { "" };
        eprintln!("edgebench: sweep resumed: {skipped} of {} cells{whose} were already finished", skipped + ran);
    }
    Ok(skipped + ran)
}

/// Entries of a sweep folder that another shard may have made before its
/// `sweep.json`: the cells folder and a `sweep.json` being written.
fn is_shared_entry(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    name == "cells" || name.starts_with(".sweep.json.tmp-")
}

/// Staging folders of an interrupted cell of `cells` (`.<cell>.tmp-<pid>`).
fn remove_stale_staging(cells_dir: &Path, cells: &[String]) -> Result<()> {
    for e in std::fs::read_dir(cells_dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().to_string();
        if cells.iter().any(|c| name.starts_with(&format!(".{c}.tmp-"))) {
            std::fs::remove_dir_all(e.path()).with_context(|| format!("removing {}", e.path().display()))?;
        }
    }
    Ok(())
}

/// One summary for the whole sweep: each cell's rows with the swept values
/// (`sweep_<name>` columns, `cell`), and `scenario` set to `<name>[<cell>]`
/// so that `report` tabulates every cell on its own.
fn combine(out: &Path, all: &[Cell]) -> Result<()> {
    let mut frames_ = Vec::new();
    for cell in all {
        let path = out.join("cells").join(cell.id()).join("summary.parquet");
        let mut df = frames::read_parquet(&path)?;
        let n = df.height();
        let scen = df.column("scenario")?.str()?.get(0).unwrap_or("").to_string();
        df.with_column(Column::new("scenario".into(), vec![format!("{scen}[{}]", cell.id()); n]))?;
        df.with_column(Column::new("cell".into(), vec![cell.id(); n]))?;
        for (name, v) in &cell.values {
            df.with_column(Column::new(format!("sweep_{name}").into(), vec![*v; n]))?;
        }
        frames_.push(df);
    }
    let mut all_df = frames_.remove(0);
    for df in &frames_ {
        all_df.vstack_mut(df)?;
    }
    // Two shards finishing together may both combine: each writes its own file.
    let pid = std::process::id();
    let tmp = out.join(format!(".summary.parquet.tmp-{pid}"));
    frames::write_parquet(&mut all_df, &tmp)?;
    std::fs::rename(&tmp, out.join("summary.parquet"))?;
    let tmp = out.join(format!(".summary.csv.tmp-{pid}"));
    frames::write_csv(&mut all_df, &tmp)?;
    std::fs::rename(&tmp, out.join("summary.csv"))?;
    Ok(())
}
