//! The harness behind the `edgebench` binary: expands a plan, runs it, and
//! writes the results set (`tasks.parquet`, `slots.parquet`, `summary.*`,
//! `manifest.json`).

pub mod error;
pub mod frames;
pub mod fuzz;
pub mod parquet_check;
pub mod ranks;
pub mod regress;
pub mod run;
#[cfg(all(feature = "dppo", feature = "milp"))]
pub mod score_cmd;
pub mod staging;
pub mod sweep;
pub mod trace_cmd;
pub mod tracefile;
#[cfg(feature = "dppo")]
pub mod train_cmd;
pub mod wire;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use error::BadInput;
use run::{Plan, SlotColumns};
use staging::{test_stop_point, Staging};

/// What `edgebench run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunArgs {
    pub scenario: String,
    pub policies: Vec<String>,
    pub seeds: Vec<u64>,
    pub slots: Option<usize>,
    pub terminals: Option<usize>,
    pub trace: Option<PathBuf>,
    pub trace_format: Option<scenarios::trace::TraceFormat>,
    pub sites: Option<PathBuf>,
    /// The MILPs' time limit, gap and `milp-lookahead`'s horizon.
    pub milp: solvers::MilpOptions,
    /// The lower bound's windows and limits.
    pub bound: solvers::bound::BoundOptions,
    pub threads: Option<usize>,
    /// DPPO checkpoint (default: the one shipped for the scenario).
    pub checkpoint: Option<PathBuf>,
    pub out: PathBuf,
    pub progress: bool,
}

/// The policies a run has when `--policies` is not given: every policy of
/// the build that runs by default, then the lower bound where the build can
/// compute it (`solvers::registry`).
pub fn default_policies() -> Vec<String> {
    solvers::registry::names(|p| p.by_default).into_iter().map(String::from).collect()
}

/// The MILP flags (`--milp-time-limit`, `--milp-gap`, `--milp-horizon`),
/// named in the error; the horizon counts this slot and at least one forecast slot.
pub(crate) fn check_milp(m: &solvers::MilpOptions) -> Result<(), BadInput> {
    if !(m.time_limit_s.is_finite() && m.time_limit_s > 0.0) {
        return Err(BadInput(format!(
            "--milp-time-limit: expected a positive number of seconds, got {}",
            m.time_limit_s
        )));
    }
    if !(m.rel_gap.is_finite() && (0.0..1.0).contains(&m.rel_gap)) {
        return Err(BadInput(format!("--milp-gap: expected a relative gap in [0, 1), got {}", m.rel_gap)));
    }
    if m.horizon_slots < 2 {
        return Err(BadInput(format!(
            "--milp-horizon: expected at least 2 slots (this one and one forecast), got {}",
            m.horizon_slots
        )));
    }
    Ok(())
}

/// The seeds of a run or a sweep when none are given (the CLI, `RunArgs::new`, Python's `run`).
pub const DEFAULT_SEEDS: [u64; 3] = [1, 2, 3];

impl RunArgs {
    /// Every policy of the build on [`DEFAULT_SEEDS`] with the CLI's defaults.
    pub fn new(scenario: &str, out: &std::path::Path) -> RunArgs {
        RunArgs {
            scenario: scenario.to_string(),
            policies: Vec::new(),
            seeds: DEFAULT_SEEDS.to_vec(),
            slots: None,
            terminals: None,
            trace: None,
            trace_format: None,
            sites: None,
            milp: solvers::MilpOptions::DEFAULT,
            bound: solvers::bound::BoundOptions::DEFAULT,
            threads: None,
            checkpoint: None,
            out: out.to_path_buf(),
            progress: false,
        }
    }
}

/// A preset or scenario file, with canonical Parquet traces readable too.
pub fn resolve_scenario(spec: &str) -> Result<scenarios::Scenario, BadInput> {
    Ok(scenarios::presets::resolve_with(spec, &tracefile::load_trace)?)
}

/// Check every input and build the plan; nothing is written yet.
pub fn plan_from_args(a: &RunArgs) -> Result<Plan, BadInput> {
    let mut scenario = resolve_scenario(&a.scenario)?;
    if a.trace.is_some() || a.sites.is_some() {
        scenario = with_trace_and_sites(&scenario, a)?;
    }
    if let Some(s) = a.slots {
        if s == 0 {
            return Err(BadInput("--slots: expected a positive integer, got 0".into()));
        }
        scenario = scenario.with_slots(s, "--slots")?;
    }
    if let Some(t) = a.terminals {
        if t == 0 {
            return Err(BadInput("--terminals: expected a positive integer, got 0".into()));
        }
        scenario = scenario.with_terminals(t, "--terminals")?;
    }
    let available = default_policies();
    let policies: Vec<String> = if a.policies.is_empty() { available.clone() } else { a.policies.clone() };
    for (i, p) in policies.iter().enumerate() {
        if !available.contains(p) && !solvers::on_request().contains(&p.as_str()) {
            return Err(BadInput(format!(
                "--policies: unknown policy `{p}`; this build has: {} (and, on request only, {})",
                available.join(", "),
                solvers::on_request().join(", ")
            )));
        }
        if policies[..i].contains(p) {
            return Err(BadInput(format!("--policies: `{p}` is listed twice")));
        }
    }
    if a.seeds.is_empty() {
        return Err(BadInput("--seeds: expected at least one seed".into()));
    }
    for (i, s) in a.seeds.iter().enumerate() {
        if a.seeds[..i].contains(s) {
            return Err(BadInput(format!("--seeds: seed {s} is listed twice")));
        }
    }
    if a.threads == Some(0) {
        return Err(BadInput("--threads: expected a positive integer, got 0".into()));
    }
    check_milp(&a.milp)?;
    check_bound_args(&a.bound)?;
    // The other field exists only with the `dppo` feature.
    #[allow(unused_mut, clippy::needless_update)]
    let mut options = solvers::PolicyOptions { bound: a.bound, milp: a.milp, ..Default::default() };
    let uses_dppo = policies.iter().any(|p| p == "dppo");
    if a.checkpoint.is_some() && !uses_dppo {
        return Err(BadInput("--checkpoint is only used by the dppo policy, which is not among --policies".into()));
    }
    #[cfg(feature = "dppo")]
    if uses_dppo {
        options.dppo = Some(train_cmd::load_checkpoint(a.checkpoint.as_deref(), &scenario)?);
    }
    Ok(Plan { scenario, policies, seeds: a.seeds.clone(), options })
}

/// `--bound-window` ≥ 1 slot, `--bound-time-limit` > 0 s.
pub(crate) fn check_bound_args(b: &solvers::bound::BoundOptions) -> Result<(), BadInput> {
    if b.window_slots == 0 {
        return Err(BadInput("--bound-window: expected a positive number of slots, got 0".into()));
    }
    if !(b.time_limit_s.is_finite() && b.time_limit_s > 0.0) {
        return Err(BadInput(format!(
            "--bound-time-limit: expected a positive number of seconds, got {}",
            b.time_limit_s
        )));
    }
    Ok(())
}

/// Apply `--trace`, `--trace-format` and `--sites` to a scenario.
fn with_trace_and_sites(s: &scenarios::Scenario, a: &RunArgs) -> Result<scenarios::Scenario, BadInput> {
    let mut c = s.config().clone();
    let format = a.trace_format;
    let mut cached = None;
    if let Some(path) = &a.trace {
        let raw = tracefile::load_trace(path, format, false)?;
        // The run covers the trace unless --slots says otherwise.
        let (t0, t1) = raw.time_span();
        c.slots = ((t1 - t0) / c.slot_s + 1e-9).floor() as usize + 1;
        c.mobility.trace_file = std::path::absolute(path).unwrap_or(path.clone()).display().to_string();
        c.mobility.trace_format = format;
        cached = Some(raw);
    } else if a.trace_format.is_some() {
        return Err(BadInput("--trace-format needs --trace".into()));
    }
    if let Some(sites) = &a.sites {
        c.nodes.placement = scenarios::schema::Placement::Sites;
        c.nodes.sites_file = std::path::absolute(sites).unwrap_or(sites.clone()).display().to_string();
        c.nodes.count = 0;
    }
    let loader = |p: &std::path::Path, f, g| match &cached {
        Some(raw) => Ok(raw.clone()),
        None => tracefile::load_trace(p, f, g),
    };
    Ok(c.validate_with("--trace/--sites", None, &loader)?)
}

/// `edgebench run`: returns the results folder.
/// `edgebench run` in one process.
pub fn cmd_run(a: &RunArgs) -> Result<PathBuf> {
    let plan = plan_from_args(a)?;
    let pool = thread_pool(a.threads)?;
    run_into(&plan, &a.out, &pool, None, a.progress)
}

/// `edgebench run` as one of `ranks`: under MPI every rank runs its share of
/// the (seed, policy) jobs and rank 0 writes the results set (`Ok(None)` on the others).
pub fn cmd_run_across(a: &RunArgs, ranks: &ranks::Ranks) -> Result<Option<PathBuf>> {
    if ranks.size() == 1 {
        return cmd_run(a).map(Some);
    }
    let checked = (|| -> Result<_> {
        let plan = plan_from_args(a)?;
        let pool = thread_pool(a.threads)?;
        let staging = if ranks.is_root() { Some(Staging::new(&a.out)?) } else { None };
        Ok((plan, pool, staging))
    })();
    let (plan, pool, staging) = ranks.agree(checked)?;
    let started = SystemTime::now();
    let show = a.progress && ranks.is_root();
    let runs = ranks.or_abort(pool.install(|| run::execute_across(&plan, show, ranks)))?;
    let Some(staging) = staging else { return Ok(None) };
    ranks.or_abort(write_results(&plan, &runs, staging, started, pool.current_num_threads())).map(Some)
}

/// A rayon pool with `threads` threads (default: one per core).
pub fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(t) = threads {
        pool = pool.num_threads(t);
    }
    pool.build().context("starting worker threads")
}

/// Run a plan and write its results set to `out` (staged, renamed at the
/// end). `bar`: a caller's progress bar to advance (a sweep's); otherwise one
/// of its own when `progress`.
pub fn run_into(
    plan: &Plan,
    out: &std::path::Path,
    pool: &rayon::ThreadPool,
    bar: Option<&indicatif::ProgressBar>,
    progress: bool,
) -> Result<PathBuf> {
    let started = SystemTime::now();
    let staging = Staging::new(out)?;
    tracing::info!(scenario = plan.scenario.name(), policies = ?plan.policies, seeds = ?plan.seeds, "running");
    // Task rows stream into a file per run in the staging folder as the runs go.
    let parts = staging.path().join(PARTS);
    std::fs::create_dir(&parts).with_context(|| format!("creating {}", parts.display()))?;
    let runs = match bar {
        Some(b) => pool.install(|| run::execute_into(plan, b, &parts))?,
        None => {
            let own = run::progress_bar(plan, progress);
            let runs = pool.install(|| run::execute_into(plan, &own, &parts));
            own.finish_and_clear();
            runs?
        }
    };
    write_results(plan, &runs, staging, started, pool.current_num_threads())
}

/// The staging subfolder where runs stream their task rows (removed before the commit).
const PARTS: &str = ".parts";

/// `tasks.parquet`: every run's task rows in run order, from the files they
/// were streamed to (one such file alone is moved, not copied) or from memory.
fn write_tasks(scenario: &str, runs: &[run::PolicyRun], path: &std::path::Path) -> Result<()> {
    let streamed: Vec<&PathBuf> = runs.iter().filter_map(|r| r.tasks_file.as_ref()).collect();
    if streamed.len() == 1 && runs.iter().all(|r| r.tasks.is_empty()) {
        return std::fs::rename(streamed[0], path).with_context(|| format!("writing {}", path.display()));
    }
    let mut out = frames::TaskWriter::create(path, scenario)?;
    for r in runs {
        match &r.tasks_file {
            Some(f) => frames::copy_task_rows(f, &mut out, run::TASK_BATCH_ROWS)?,
            None => out.write(&r.tasks)?,
        }
    }
    out.finish()
}

/// Write the results set of finished runs into a staging folder and commit it.
pub fn write_results(
    plan: &Plan,
    runs: &[run::PolicyRun],
    staging: Staging,
    started: SystemTime,
    threads: usize,
) -> Result<PathBuf> {
    let name = plan.scenario.name().to_string();
    let mut slots = SlotColumns::default();
    for r in runs {
        slots.append(&r.slots);
    }
    let dir = staging.path();
    write_tasks(&name, runs, &dir.join("tasks.parquet"))?;
    let parts = dir.join(PARTS);
    if parts.exists() {
        std::fs::remove_dir_all(&parts).with_context(|| format!("removing {}", parts.display()))?;
    }
    test_stop_point("tasks.parquet");
    frames::write_parquet(&mut frames::slots_frame(&name, &slots)?, &dir.join("slots.parquet"))?;
    let mut summary = frames::summary_frame(&name, runs)?;
    frames::write_parquet(&mut summary, &dir.join("summary.parquet"))?;
    frames::write_csv(&mut summary, &dir.join("summary.csv"))?;
    test_stop_point("summary.csv");
    let md = reports::summary_markdown(&summary, &plan.seeds).context("rendering summary.md")?;
    std::fs::write(dir.join("summary.md"), md).context("writing summary.md")?;
    let mut files = vec!["tasks.parquet", "slots.parquet", "summary.parquet", "summary.csv", "summary.md"];
    if let Some(mut b) = frames::bound_frame(&name, runs)? {
        frames::write_csv(&mut b, &dir.join("bound.csv"))?;
        files.push("bound.csv");
    }

    let manifest = serde_json::json!({
        "edgebench_version": env!("CARGO_PKG_VERSION"),
        "git_revision": env!("EDGEBENCH_GIT_REV"),
        "scenario": name,
        "config_hash_sha256": plan.scenario.config_hash(),
        "config_toml": plan.scenario.to_toml(),
        "seeds": plan.seeds,
        "policies": plan.policies,
        "slots": plan.scenario.config().slots,
        "terminals": plan.scenario.config().terminals.count,
        "threads": threads,
        "started_at": rfc3339(started),
        "finished_at": rfc3339(SystemTime::now()),
        "files": files,
    });
    std::fs::write(dir.join("manifest.json"), serde_json::to_string_pretty(&manifest)? + "\n")
        .context("writing manifest.json")?;
    test_stop_point("manifest.json");
    staging.commit()
}

/// `edgebench report`: tables from a results folder; returns the report folder.
pub fn cmd_report(results: &std::path::Path, out: Option<&std::path::Path>) -> Result<PathBuf> {
    let summary_path = results.join("summary.parquet");
    let summary = frames::read_results_summary(results)?;
    let missing: Vec<&str> =
        reports::tables::required_columns().into_iter().filter(|c| summary.column(c).is_err()).collect();
    if !missing.is_empty() {
        return Err(BadInput(format!("{}: missing column(s) {}", summary_path.display(), missing.join(", "))).into());
    }
    let tables =
        reports::tables::build_tables(&summary).map_err(|e| BadInput(format!("{}: {e}", summary_path.display())))?;
    let out = out.map(PathBuf::from).unwrap_or_else(|| results.join("report"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let (mut md, mut tex) = (reports::tables::markdown(&tables), reports::tables::latex(&tables) + "\n");
    // Score tables against each reference the results hold (milp, milp-lookahead).
    for reference in solvers::registry::score_references() {
        let bad = |e: polars::prelude::PolarsError| BadInput(format!("{}: {e}", summary_path.display()));
        let score = reports::score::normalised_scores(&summary, reference).map_err(bad)?;
        let paired = reports::score::paired_vs(&summary, reference).map_err(bad)?;
        md += &reports::score::markdown(reference, score.as_ref(), &paired);
        tex += &reports::score::latex(reference, score.as_ref(), &paired);
    }
    let md_for_page = md.clone();
    for (name, text) in [("tables.md", md), ("tables.tex", tex)] {
        let tmp = out.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, out.join(name)).with_context(|| format!("writing {}", out.join(name).display()))?;
    }
    // Figures: from the summary, and from tasks.parquet and train.parquet when present.
    let optional = |name: &str| -> Result<Option<polars::prelude::DataFrame>> {
        let p = results.join(name);
        if !p.is_file() {
            return Ok(None);
        }
        Ok(Some(frames::read_parquet(&p).map_err(|e| BadInput(format!("{}: {e:#}", p.display())))?))
    };
    let tasks = optional("tasks.parquet")?;
    let train = optional("train.parquet")?;
    let inputs = reports::figures::Inputs { summary: &summary, tasks: tasks.as_ref(), train: train.as_ref() };
    let fig_dir = out.join("figures");
    let files = reports::figures::render_all(&inputs, &fig_dir)
        .map_err(|e| BadInput(format!("{}: cannot draw the figures: {e}", results.display())))?;
    tracing::info!(figures = files.len(), "figures written");
    write_report_page(results, &out, &md_for_page, &files)?;
    Ok(out)
}

/// `index.html`: the tables, the figures inline, the manifest, links to the files.
fn write_report_page(
    results: &std::path::Path,
    out: &std::path::Path,
    tables_md: &str,
    figures: &[PathBuf],
) -> Result<()> {
    let mut svgs = Vec::new();
    for f in figures.iter().filter(|f| f.extension().is_some_and(|e| e == "svg")) {
        let stem = f.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        svgs.push((stem, std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?));
    }
    let manifest_path = results.join("manifest.json");
    let manifest: Option<serde_json::Value> = match std::fs::read_to_string(&manifest_path) {
        Ok(text) => Some(
            serde_json::from_str(&text).map_err(|e| BadInput(format!("{}: not JSON: {e}", manifest_path.display())))?,
        ),
        Err(_) => None,
    };
    // The results' files, linked relative to the page when it sits inside them (the default).
    let to_results = match (std::fs::canonicalize(results), std::fs::canonicalize(out)) {
        (Ok(r), Ok(o)) if o.starts_with(&r) => {
            let depth = o.strip_prefix(&r).map(|rest| rest.components().count()).unwrap_or(0);
            Some("../".repeat(depth))
        }
        _ => None,
    };
    let mut links = Vec::new();
    for name in [
        "summary.csv",
        "summary.parquet",
        "summary.md",
        "tasks.parquet",
        "slots.parquet",
        "bound.csv",
        "train.parquet",
        "manifest.json",
    ] {
        let file = results.join(name);
        if file.is_file() {
            let href = match &to_results {
                Some(up) => format!("{up}{name}"),
                None => std::fs::canonicalize(&file).unwrap_or(file).display().to_string(),
            };
            links.push((name.to_string(), href));
        }
    }
    for name in ["tables.md", "tables.tex"] {
        links.push((name.to_string(), name.to_string()));
    }
    for f in figures.iter().filter(|f| f.extension().is_some_and(|e| e == "png")) {
        let name = f.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        links.push((format!("figures/{name}"), format!("figures/{name}")));
    }
    let title = match manifest.as_ref().and_then(|m| m.get("scenario")).and_then(|s| s.as_str()) {
        Some(s) => format!("edgebench report: {s}"),
        None => "edgebench report".to_string(),
    };
    let page =
        reports::html::Page { title: &title, tables_md, figures: &svgs, manifest: manifest.as_ref(), links: &links };
    let tmp = out.join(".index.html.tmp");
    std::fs::write(&tmp, reports::html::render(&page)).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out.join("index.html"))
        .with_context(|| format!("writing {}", out.join("index.html").display()))?;
    Ok(())
}

/// UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000)), "2026-11-18T11:06:40Z");
    }
}
