//! End-to-end tests of the `edgebench` binary and of the run harness.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{bin, edgebench, message, stderr, tmp, without_timing};
use harness::frames::read_parquet;
use harness::run::{execute, Plan};
use polars::prelude::{CsvReadOptions, SerReader};

/// `run --scenario tiny` with every policy (dppo with its shipped checkpoint).
fn tiny_args() -> harness::RunArgs {
    harness::RunArgs { seeds: vec![3, 4], ..harness::RunArgs::new("tiny", Path::new("unused")) }
}

fn run_tiny(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--scenario", "tiny", "--seeds", "1,2", "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    edgebench(&args)
}

/// Folder entries, hidden ones included (a staging folder must not survive).
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    v.sort();
    v
}

#[test]
fn run_writes_the_results_set() {
    let d = tmp();
    let out = d.path().join("res");
    let o = run_tiny(&out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        entries(&out),
        [
            "bound.csv",
            "manifest.json",
            "slots.parquet",
            "summary.csv",
            "summary.md",
            "summary.parquet",
            "tasks.parquet"
        ]
    );
    assert_eq!(entries(d.path()), ["res"], "no staging folder left");

    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let required = "scenario, policy, seed, tasks, mean_delay_ms, p95_delay_ms, interruption_rate, interruption_events_per_100, mean_interruption_len, rb_util, cu_util, cache_util, backhaul_gb, handovers_per_min, cost, decision_ms_mean, decision_ms_p95";
    for col in required.split(", ") {
        assert!(header.contains(&col), "summary.csv lacks {col}: {header:?}");
    }
    // The documented column list is the file's header, in order.
    assert_eq!(header, harness::frames::summary_columns());
    // One row per (policy, seed): every policy of the build and the bound × 2 seeds.
    let policies = solvers::available().len();
    assert_eq!(csv.lines().count(), 1 + (policies + 1) * 2);
    // The bound's rows: its cost below every policy's of the seed, every row's gap to it.
    let summary = read_parquet(&out.join("summary.parquet")).unwrap();
    let pol = reports::str_column(&summary, "policy").unwrap();
    let seed = reports::f64_column(&summary, "seed").unwrap();
    let cost = reports::f64_column(&summary, "cost").unwrap();
    let gap = reports::f64_column(&summary, "gap_to_bound").unwrap();
    let status = reports::str_column(&summary, "bound_status").unwrap();
    for b in (0..pol.len()).filter(|&i| pol[i] == "bound") {
        assert_eq!(status[b], "optimal");
        for i in (0..pol.len()).filter(|&i| seed[i] == seed[b]) {
            assert!(cost[i] >= cost[b], "{} below the bound", pol[i]);
            assert!((gap[i] - (cost[i] - cost[b]) / cost[b]).abs() < 1e-12);
        }
    }
    let windows = std::fs::read_to_string(out.join("bound.csv")).unwrap();
    // tiny: 30 slots in windows of 10, two seeds.
    assert_eq!(windows.lines().count(), 1 + 3 * 2, "{windows}");

    let tasks = read_parquet(&out.join("tasks.parquet")).unwrap();
    for col in [
        "scenario",
        "policy",
        "seed",
        "slot",
        "terminal",
        "decision",
        "node",
        "cut",
        "rb",
        "cu",
        "device_ms",
        "uplink_ms",
        "edge_ms",
        "cold_ms",
        "handover_ms",
        "delay_ms",
        "deadline_ms",
        "met",
        "interrupted",
        "reason",
        "cost",
    ] {
        assert!(tasks.column(col).is_ok(), "tasks.parquet lacks {col}");
    }
    // tiny: 6 terminals always active, 30 slots, every policy, 2 seeds.
    assert_eq!(tasks.height(), 6 * 30 * policies * 2);
    let slots = read_parquet(&out.join("slots.parquet")).unwrap();
    assert_eq!(slots.height(), 30 * policies * 2);
    assert!(slots.column("decision_ms").is_ok() && slots.column("rb_util").is_ok());

    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    for key in [
        "edgebench_version",
        "git_revision",
        "config_toml",
        "config_hash_sha256",
        "seeds",
        "policies",
        "started_at",
        "finished_at",
    ] {
        assert!(!m[key].is_null(), "manifest lacks {key}");
    }
    assert_eq!(m["seeds"], serde_json::json!([1, 2]));
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("| greedy |") && md.contains("| nearest |"));
}

#[test]
fn same_command_same_results_whatever_the_thread_count() {
    let d = tmp();
    let runs: Vec<PathBuf> = ["1", "2", "4"]
        .iter()
        .map(|t| {
            let out = d.path().join(format!("t{t}"));
            let o = run_tiny(&out, &["--threads", t]);
            assert!(o.status.success(), "{}", stderr(&o));
            out
        })
        .collect();
    let csv0 = without_timing(&std::fs::read_to_string(runs[0].join("summary.csv")).unwrap());
    let tasks0 = read_parquet(&runs[0].join("tasks.parquet")).unwrap();
    let bytes0 = std::fs::read(runs[0].join("tasks.parquet")).unwrap();
    // The slots and the bound's windows, wall-clock columns aside (ARCHITECTURE.md's invariant).
    let timeless = |dir: &Path| {
        let slots = read_parquet(&dir.join("slots.parquet")).unwrap();
        let bound = CsvReadOptions::default()
            .with_infer_schema_length(None)
            .try_into_reader_with_file_path(Some(dir.join("bound.csv")))
            .unwrap()
            .finish()
            .unwrap();
        [("slots", slots), ("bound", bound)].map(|(f, df)| df.drop_many(harness::frames::wall_clock(f).to_vec()))
    };
    let timeless0 = timeless(&runs[0]);
    for r in &runs[1..] {
        assert_eq!(csv0, without_timing(&std::fs::read_to_string(r.join("summary.csv")).unwrap()));
        let t = read_parquet(&r.join("tasks.parquet")).unwrap();
        assert!(tasks0.equals_missing(&t), "tasks.parquet differs for {}", r.display());
        assert_eq!(bytes0, std::fs::read(r.join("tasks.parquet")).unwrap(), "tasks.parquet bytes differ");
        for (a, b) in timeless0.iter().zip(timeless(r).iter()) {
            assert!(a.height() > 0 && a.equals_missing(b), "{a} against {b}");
        }
    }
}

#[test]
fn architecture_names_every_wall_clock_column() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../ARCHITECTURE.md")).unwrap();
    let invariant = text.lines().skip_while(|l| !l.contains("wall-clock quantities in the results")).take(8);
    let invariant: String = invariant.collect::<Vec<_>>().join(" ");
    for (file, columns) in harness::frames::WALL_CLOCK {
        for c in *columns {
            assert!(invariant.contains(&format!("`{c}`")), "ARCHITECTURE.md does not name {file}'s `{c}`");
        }
    }
    // Every metric the reports present is a summary column; a wall-clock one is never a regression check.
    for m in reports::metrics::METRICS {
        assert!(harness::frames::summary_columns().contains(&m.column), "{} is not in summary.csv", m.column);
    }
    for m in reports::metrics::regress_init() {
        assert!(!harness::frames::wall_clock("summary").contains(&m.column), "{}", m.column);
    }
}

#[test]
fn every_policy_sees_the_same_trace_channel_and_tasks() {
    let plan = Plan {
        scenario: scenarios::presets::preset("tiny").unwrap(),
        policies: solvers::available().iter().map(|s| s.to_string()).collect(),
        seeds: vec![3, 4],
        options: harness::plan_from_args(&tiny_args()).unwrap().options,
    };
    let runs = execute(&plan, false).unwrap();
    for seed in [3, 4] {
        let of_seed: Vec<_> = runs.iter().filter(|r| r.seed == seed).collect();
        assert_eq!(of_seed.len(), plan.policies.len());
        let a = &of_seed[0].tasks;
        for r in &of_seed[1..] {
            let b = &r.tasks;
            assert_eq!(a.slot, b.slot);
            assert_eq!(a.terminal, b.terminal);
            assert_eq!(a.model, b.model);
            assert_eq!(a.x_m, b.x_m, "positions differ between {} and {}", of_seed[0].policy, r.policy);
            assert_eq!(a.y_m, b.y_m);
            assert_eq!(a.input_bytes, b.input_bytes);
            assert_eq!(a.deadline_ms, b.deadline_ms);
            assert_eq!(a.best_snr_db, b.best_snr_db, "channel differs");
        }
    }
    // Different seeds do give different traces.
    let s3 = &runs.iter().find(|r| r.seed == 3).unwrap().tasks;
    let s4 = &runs.iter().find(|r| r.seed == 4).unwrap().tasks;
    assert_ne!(s3.x_m, s4.x_m);
}

/// The CLI streams every run's task rows to a file in batches of
/// `TASK_BATCH_ROWS` and joins them in run order: `tasks.parquet` holds
/// exactly the rows an in-memory run keeps, here with more than one batch
/// per run and more than one run.
#[test]
fn streamed_task_rows_equal_the_rows_kept_in_memory() {
    let d = tmp();
    let out = d.path().join("res");
    let args = ["--scenario", "dense", "--terminals", "300", "--slots", "300", "--policies", "nearest,local"];
    let o = edgebench(&[&["run", "--seeds", "1", "--quiet", "--out", out.to_str().unwrap()][..], &args[..]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let a = harness::RunArgs {
        scenario: "dense".into(),
        terminals: Some(300),
        slots: Some(300),
        policies: vec!["nearest".into(), "local".into()],
        seeds: vec![1],
        ..harness::RunArgs::new("dense", Path::new("unused"))
    };
    let plan = harness::plan_from_args(&a).unwrap();
    let runs = execute(&plan, false).unwrap();
    assert!(runs.iter().all(|r| r.tasks.len() > harness::run::TASK_BATCH_ROWS), "the test needs several batches");
    let mut all = harness::run::TaskColumns::default();
    for r in &runs {
        all.append(&r.tasks);
    }
    let kept = harness::frames::tasks_frame("dense", &all).unwrap();
    let streamed = read_parquet(&out.join("tasks.parquet")).unwrap();
    assert!(streamed.equals_missing(&kept), "tasks.parquet differs from the rows kept in memory");
    assert_eq!(entries(d.path()), ["res"]);
}

#[test]
fn default_preset_discriminates_between_nearest_and_greedy() {
    let plan = Plan {
        scenario: scenarios::presets::preset("default").unwrap(),
        policies: vec!["nearest".into(), "greedy".into()],
        seeds: vec![1, 2, 3],
        options: Default::default(),
    };
    let runs = execute(&plan, false).unwrap();
    let get = |p: &str, s: u64| runs.iter().find(|r| r.policy == p && r.seed == s).unwrap().summary.clone();
    let (mut nearest_cost, mut greedy_cost) = (0.0, 0.0);
    for seed in [1, 2, 3] {
        let n = get("nearest", seed);
        let g = get("greedy", seed);
        assert!(
            (0.05..=0.40).contains(&n.interruption_rate),
            "seed {seed}: nearest interruption {}",
            n.interruption_rate
        );
        assert!(g.cost <= 0.9 * n.cost, "seed {seed}: greedy {} vs nearest {}", g.cost, n.cost);
        nearest_cost += n.cost;
        greedy_cost += g.cost;
    }
    assert!(greedy_cost <= 0.9 * nearest_cost);
}

#[test]
fn scenario_list_and_show_round_trip() {
    let o = edgebench(&["scenario", "list"]);
    assert!(o.status.success());
    let list = String::from_utf8_lossy(&o.stdout);
    for p in ["tiny", "default", "dense"] {
        assert!(list.lines().any(|l| l.starts_with(p)), "{list}");
    }
    let o = edgebench(&["scenario", "show", "default"]);
    assert!(o.status.success());
    let d = tmp();
    let file = d.path().join("mine.toml");
    std::fs::write(&file, &o.stdout).unwrap();
    // The shown config is accepted back and resolves to the same config (same hash).
    let again = edgebench(&["scenario", "show", file.to_str().unwrap()]);
    assert_eq!(o.stdout, again.stdout);
    let out = d.path().join("r");
    let r = edgebench(&[
        "run",
        "--scenario",
        file.to_str().unwrap(),
        "--slots",
        "5",
        "--seeds",
        "1",
        "--policies",
        "nearest",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
}

/// Runs `edgebench run` on a scenario file with `text` and checks the exit
/// code 2, a one-line message naming `must_name`, and that nothing was written.
fn assert_bad_scenario(text: Option<&str>, scenario_arg: Option<&str>, must_name: &[&str]) -> String {
    let d = tmp();
    let file = d.path().join("bad.toml");
    if let Some(t) = text {
        std::fs::write(&file, t).unwrap();
    }
    let arg = scenario_arg.map(String::from).unwrap_or_else(|| file.to_str().unwrap().to_string());
    let out = d.path().join("res");
    let o = edgebench(&["run", "--scenario", &arg, "--quiet", "--out", out.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{arg}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for m in must_name {
        assert!(err.contains(m), "message should name `{m}`: {err}");
    }
    let left: Vec<String> = entries(d.path()).into_iter().filter(|e| e != "bad.toml" && e != "dir.toml").collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    message(&o, d.path())
}

#[test]
fn bad_scenario_input_exits_2_with_one_line_naming_file_and_field() {
    // (file text, or the --scenario argument; what the message must name)
    let d = tmp();
    let dir = d.path().join("dir.toml");
    std::fs::create_dir(&dir).unwrap();
    let cases: &[(Option<&str>, Option<&str>, &[&str])] = &[
        (Some("slots = = 3\n"), None, &["bad.toml", "line 1"]),
        (Some("slots = 10\n[nodes]\nfoo = 1\n"), None, &["bad.toml", "line 3", "foo"]),
        (Some("slot_s = nan\n"), None, &["bad.toml", "slot_s", "NaN"]),
        (Some("[nodes]\ncache_mib = -1.0\n"), None, &["bad.toml", "nodes.cache_mib"]),
        (Some("[nodes]\ncu_gflops = -1e300\n"), None, &["bad.toml", "nodes.cu_gflops", "-1e300"]),
        (Some("[terminals]\ndeadline_ms = [150.0, -1.0]\n"), None, &["bad.toml", "terminals.deadline_ms[1]"]),
        (
            Some("[catalogue]\nmodels = [\"ResNet-18\", \"GoogLeNet\"]\n"),
            None,
            &["bad.toml", "catalogue.models", "GoogLeNet"],
        ),
        (Some("[nodes]\ncount = 0\n"), None, &["bad.toml", "nodes.count"]),
        (Some("[nodes]\nplacement = \"sites\"\nsites_file = \"missing.csv\"\n"), None, &["missing.csv"]),
        (Some("\u{0}\u{ff}\u{fe}"), None, &["bad.toml"]),
        (None, Some("no-such-preset"), &["no-such-preset", "default"]),
        (None, Some("/nonexistent/x.toml"), &["/nonexistent/x.toml", "cannot read"]),
        // A folder where a file is expected is unreadable as a scenario.
        (None, Some(dir.to_str().unwrap()), &["dir.toml"]),
    ];
    let seen: Vec<String> = cases
        .iter()
        .map(|(text, arg, must)| assert_bad_scenario(*text, *arg, must).replace(d.path().to_str().unwrap(), "[tmp]"))
        .collect();
    insta::assert_snapshot!(seen.join("\n"));
}

#[test]
fn bad_cli_values_exit_2() {
    let mut seen = Vec::new();
    let d = tmp();
    let out = d.path().join("res");
    let o = out.to_str().unwrap();
    for (args, must) in [
        (vec!["--slots", "0"], "--slots"),
        (vec!["--terminals", "0"], "--terminals"),
        (vec!["--policies", "nearest,oracle"], "oracle"),
        (vec!["--policies", "greedy,greedy"], "twice"),
        (vec!["--seeds", "1,1"], "twice"),
        (vec!["--seeds", "one"], "one"),
        (vec!["--threads", "0"], "--threads"),
        (vec!["--policies", "milp-lookahead", "--milp-horizon", "1"], "--milp-horizon"),
        (vec!["--policies", "bound", "--bound-window", "0"], "--bound-window"),
        (vec!["--policies", "bound", "--bound-time-limit", "0"], "--bound-time-limit"),
        (vec!["--policies", "bound", "--bound-time-limit=-3"], "--bound-time-limit"),
    ] {
        let mut full = vec!["run", "--scenario", "tiny", "--quiet", "--out", o];
        full.extend(args.iter());
        let r = edgebench(&full);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", stderr(&r));
        assert!(stderr(&r).contains(must), "{args:?}: {}", stderr(&r));
        assert!(!out.exists());
        seen.push(format!("{}\n{}\n", args.join(" "), message(&r, d.path())));
    }
    insta::assert_snapshot!(seen.join("\n"));
    // A file where the results folder should go is bad input too.
    std::fs::write(&out, "x").unwrap();
    let r = edgebench(&["run", "--scenario", "tiny", "--quiet", "--out", o]);
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
}

#[test]
fn an_interrupted_run_leaves_no_results_folder() {
    let d = tmp();
    let out = d.path().join("res");
    let mut child = bin()
        .args([
            "run",
            "--scenario",
            "default",
            "--slots",
            "200000",
            "--seeds",
            "1",
            "--policies",
            "greedy",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "a killed run must not leave {}", out.display());
}

/// Stopped hard while it writes its results (a test hook aborts the process
/// right after a file lands in the staging folder, as a SIGKILL there would):
/// no `--out` folder, only the hidden staging folder with the partial files.
#[test]
fn a_run_stopped_mid_write_leaves_no_results_folder() {
    for point in ["tasks.parquet", "summary.csv", "manifest.json"] {
        let d = tmp();
        let out = d.path().join("res");
        let o = bin()
            .args(["run", "--scenario", "tiny", "--policies", "greedy,local", "--seeds", "1", "--quiet", "--out"])
            .arg(&out)
            .env("EDGEBENCH_TEST_KILL_AFTER", point)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{point}: the hook must stop the run");
        assert!(!out.exists(), "{point}: a run stopped mid-write left {}", out.display());
        let staged: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".res.tmp-"))
            .collect();
        assert_eq!(staged.len(), 1, "{point}: {staged:?}");
        assert!(staged[0].join(point).is_file(), "{point}: the stop must land after {point} was written");
        // The next run into the same folder completes and clears the killed run's staging folder.
        let o = run_tiny(&out, &["--policies", "greedy"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(out.join("manifest.json").is_file());
        assert_eq!(entries(d.path()), ["res"], "{point}");
    }
}

/// Wait (a minute at most) until `path` exists.
fn wait_for(path: &Path) {
    for _ in 0..6000 {
        if path.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{} did not appear", path.display());
}

/// A run held mid-write (test hook) while a second run aims at the same
/// `--out`: the second fails at once with exit 2 and one line; the first
/// completes, and the folder is its results whole.
#[test]
fn two_runs_into_one_folder_one_wins_whole_the_other_fails() {
    let d = tmp();
    let out = d.path().join("res");
    let go = d.path().join("go");
    let mut first = bin()
        .args(["run", "--scenario", "tiny", "--policies", "greedy,local", "--seeds", "1", "--quiet", "--out"])
        .arg(&out)
        .env("EDGEBENCH_TEST_HOLD_AT", "tasks.parquet")
        .env("EDGEBENCH_TEST_HOLD_FILE", &go)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&d.path().join("go.held"));
    let second = run_tiny(&out, &["--policies", "nearest"]);
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    let err = stderr(&second);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("another edgebench process is writing there") && err.contains("res"), "{err}");
    std::fs::write(&go, b"").unwrap();
    assert!(first.wait().unwrap().success());
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(csv.contains(",greedy,") && csv.contains(",local,") && !csv.contains(",nearest,"), "{csv}");
    assert_eq!(entries(d.path()), ["go", "go.held", "res"]);
    // Free again: a third run replaces the folder whole.
    let third = run_tiny(&out, &["--policies", "nearest"]);
    assert!(third.status.success(), "{}", stderr(&third));
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(csv.contains(",nearest,") && !csv.contains(",greedy,"), "{csv}");
}

#[test]
fn a_new_run_replaces_an_old_results_folder() {
    let d = tmp();
    let out = d.path().join("res");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("stale.txt"), "old").unwrap();
    let o = run_tiny(&out, &["--policies", "local"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!out.join("stale.txt").exists());
    assert!(out.join("summary.csv").exists());
    assert_eq!(entries(d.path()), ["res"]);
}

#[cfg(feature = "dppo")]
mod dppo {
    use super::*;

    #[test]
    fn bad_training_mixtures_exit_2_and_nothing_is_written() {
        let d = tmp();
        let out = d.path().join("agent");
        let levels = d.path().join("levels.toml");
        std::fs::write(&levels, "name = \"levels\"\n[decision]\nrb_levels = [1, 2]\n").unwrap();
        // Held-out evaluation inputs: a scenario file of scenarios/heldout/, and
        // a scenario elsewhere that replays a held-out trace.
        let root = std::path::absolute("..").unwrap();
        let held_trace = root.join("scenarios/data/heldout/grid5-vehicular.csv.gz");
        let sneaky = d.path().join("sneaky.toml");
        std::fs::write(&sneaky, format!("name = \"sneaky\"\n[mobility]\ntrace_file = {:?}\n", held_trace)).unwrap();
        let no_ckpt = d.path().join("none.safetensors");
        // Families: one that may draw the held-out trace, one naming no field of a scenario.
        let sneaky_family = d.path().join("sneaky-family.toml");
        std::fs::write(
            &sneaky_family,
            format!(
                "name = \"fam\"\n[mobility]\ntrace_file = \"builtin:vehicular\"\n[family]\nworlds = 4\n\
                 [family.choices]\n\"mobility.trace_file\" = [\"builtin:vehicular\", {:?}]\n",
                held_trace
            ),
        )
        .unwrap();
        let typo_family = d.path().join("typo-family.toml");
        std::fs::write(
            &typo_family,
            "name = \"fam\"\n[family]\nworlds = 4\n[family.ranges]\n\"terminals.cuont\" = [5, 9]\n",
        )
        .unwrap();
        let mut seen = Vec::new();
        for extra in [
            vec!["--scenario", "tiny", "--scenario", "default", "--weights", "1"],
            vec!["--scenario", "tiny", "--scenario", "default", "--weights", "1,-2"],
            vec!["--scenario", "tiny", "--scenario", levels.to_str().unwrap()],
            vec!["--scenario", "tiny", "--scenario", "../scenarios/heldout/random-pedestrian.toml"],
            vec!["--scenario", sneaky.to_str().unwrap()],
            vec!["--scenario", "tiny", "--init", no_ckpt.to_str().unwrap()],
            vec!["--scenario", sneaky_family.to_str().unwrap()],
            vec!["--scenario", typo_family.to_str().unwrap()],
            vec!["--scenario", "tiny", "--scenario", "tiny"],
        ] {
            let mut args = vec!["train", "--steps", "1024", "--quiet", "--out", out.to_str().unwrap()];
            args.extend(extra.iter());
            let o = edgebench(&args);
            assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
            assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
            assert!(!out.exists());
            seen.push(message(&o, d.path()).replace(root.to_str().unwrap(), "[root]"));
        }
        insta::assert_snapshot!(seen.join("\n"));
    }

    /// A family file trains on its sampled worlds, logged as one world type;
    /// `run` refuses it.
    #[test]
    fn a_family_trains_as_one_world_type_and_is_not_a_scenario_to_run() {
        let d = tmp();
        let fam = d.path().join("fam.toml");
        std::fs::write(
            &fam,
            "name = \"fam\"\nslots = 16\n[nodes]\ncount = 4\n[catalogue]\nmodels = [\"MobileNetV2\", \"ResNet-18\"]\n\
             [family]\nworlds = 3\n[family.ranges]\n\"terminals.count\" = [3, 8]\n\
             [family.choices]\n\"mobility.model\" = [\"gauss_markov\", \"manhattan\"]\n",
        )
        .unwrap();
        let out = d.path().join("agent");
        let args =
            ["train", "--scenario", fam.to_str().unwrap(), "--steps", "1024", "--rollout", "32", "--quiet", "--out"];
        let o = edgebench(&[&args[..], &[out.to_str().unwrap()]].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        let worlds = read_parquet(&out.join("train_worlds.parquet")).unwrap();
        let col = worlds.column("world").unwrap().str().unwrap().clone();
        let names: Vec<&str> = (0..col.len()).filter_map(|i| col.get(i)).collect();
        assert!(!names.is_empty() && names.iter().all(|n| *n == "fam"), "{names:?}");
        let o = edgebench(&[
            "run",
            "--scenario",
            fam.to_str().unwrap(),
            "--quiet",
            "--out",
            d.path().join("r").to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("field family") && stderr(&o).contains("edgebench train"), "{}", stderr(&o));
    }

    #[test]
    fn train_writes_checkpoint_and_log_and_run_uses_it() {
        let d = tmp();
        let out = d.path().join("agent");
        let o = edgebench(&[
            "train",
            "--scenario",
            "tiny",
            "--steps",
            "512",
            "--workers",
            "2",
            "--envs",
            "2",
            "--rollout",
            "32",
            "--seed",
            "3",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(entries(&out), ["policy.json", "policy.safetensors", "train.parquet", "train_worlds.parquet"]);
        let worlds = read_parquet(&out.join("train_worlds.parquet")).unwrap();
        assert_eq!(worlds.height(), 4);
        assert_eq!(worlds.column("world").unwrap().str().unwrap().get(0), Some("tiny"));
        let log = read_parquet(&out.join("train.parquet")).unwrap();
        assert_eq!(log.height(), 4);
        for col in [
            "update",
            "env_steps",
            "wall_s",
            "mean_slot_cost",
            "interruption_rate",
            "approx_kl",
            "clip_fraction",
            "entropy",
            "value_loss",
            "explained_variance",
        ] {
            assert!(log.column(col).is_ok(), "train.parquet lacks {col}");
        }
        let side: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("policy.json")).unwrap()).unwrap();
        for key in ["architecture", "hyperparameters", "observation_stats", "scenario", "git_revision"] {
            assert!(side.get(key).is_some(), "sidecar lacks {key}");
        }
        assert_eq!(side["architecture"]["fetch_claims"], false);
        let ck = out.join("policy.safetensors");
        let res = d.path().join("res");
        let o = run_tiny(&res, &["--policies", "dppo,greedy", "--checkpoint", ck.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let csv = std::fs::read_to_string(res.join("summary.csv")).unwrap();
        assert_eq!(csv.lines().filter(|l| l.contains(",dppo,")).count(), 2);
        // Fine-tuned with fetch claims, from a checkpoint without: the sidecar says so.
        let claims = d.path().join("claims");
        let o = edgebench(&[
            "train",
            "--scenario",
            "tiny",
            "--steps",
            "256",
            "--envs",
            "2",
            "--init",
            ck.to_str().unwrap(),
            "--fetch-claims",
            "--quiet",
            "--out",
            claims.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let side: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(claims.join("policy.json")).unwrap()).unwrap();
        assert_eq!(
            (&side["architecture"]["fetch_claims"], &side["hyperparameters"]["fetch_claims"]),
            (&true.into(), &true.into())
        );
    }

    /// `--checkpoint shipped:NAME` is the checkpoint built into the binary:
    /// the same results as its file; an unknown name is bad input.
    #[test]
    fn a_shipped_checkpoint_is_chosen_by_name() {
        let d = tmp();
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../solvers/checkpoints/default.safetensors");
        let (by_name, by_file) = (d.path().join("name"), d.path().join("file"));
        for (out, ck) in [(&by_name, "shipped:default"), (&by_file, file.to_str().unwrap())] {
            let o = run_tiny(out, &["--policies", "dppo", "--checkpoint", ck]);
            assert!(o.status.success(), "{}", stderr(&o));
            assert!(!stderr(&o).contains("no DPPO checkpoint is shipped"), "{}", stderr(&o));
        }
        let csv = |dir: &Path| std::fs::read_to_string(dir.join("summary.csv")).unwrap();
        assert_eq!(without_timing(&csv(&by_name)), without_timing(&csv(&by_file)));
        let o = run_tiny(&d.path().join("bad"), &["--policies", "dppo", "--checkpoint", "shipped:nope"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        insta::assert_snapshot!(message(&o, d.path()));
    }

    /// A training stopped hard while it writes (after the new checkpoint
    /// landed in the staging folder, or in the middle of the swap) leaves the
    /// folder of the previous training whole: its checkpoint loads and runs.
    #[test]
    fn a_killed_training_leaves_the_previous_checkpoint_intact() {
        let d = tmp();
        let out = d.path().join("agent");
        let train = |seed: &str, kill: Option<&str>| {
            let mut c = bin();
            c.args(["train", "--scenario", "tiny", "--steps", "256", "--workers", "1", "--envs", "2"])
                .args(["--rollout", "32", "--seed", seed, "--quiet", "--out"])
                .arg(&out);
            if let Some(point) = kill {
                c.env("EDGEBENCH_TEST_KILL_AFTER", point);
            }
            c.output().unwrap()
        };
        let o = train("1", None);
        assert!(o.status.success(), "{}", stderr(&o));
        let before = std::fs::read(out.join("policy.safetensors")).unwrap();
        let o = train("2", Some("policy.safetensors"));
        assert!(!o.status.success(), "the hook must stop the training");
        assert_eq!(std::fs::read(out.join("policy.safetensors")).unwrap(), before, "the previous checkpoint changed");
        assert_eq!(entries(&out), ["policy.json", "policy.safetensors", "train.parquet", "train_worlds.parquet"]);
        // Stopped right after the swap: the new training is in place, whole.
        let o = train("2", Some("commit"));
        assert!(!o.status.success(), "the hook must stop the training");
        let after = std::fs::read(out.join("policy.safetensors")).unwrap();
        assert_ne!(after, before);
        assert_eq!(entries(&out), ["policy.json", "policy.safetensors", "train.parquet", "train_worlds.parquet"]);
        let ck = out.join("policy.safetensors");
        let res = d.path().join("res");
        let o = run_tiny(&res, &["--policies", "dppo", "--checkpoint", ck.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        // The next training clears the stopped one's staging folder.
        let o = train("3", None);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(entries(d.path()), ["agent", "res"]);
    }

    /// `score` gives each policy's gap to the seed's lower bound: the gap of
    /// the costs it prints, never negative (no policy costs less than the
    /// bound); a bound stopped at a limit comes with a note; `--no-bound`
    /// leaves those columns empty.
    #[test]
    fn score_gives_the_gap_to_the_lower_bound() {
        let o = edgebench(&["score", "--scenario", "tiny", "--seeds", "1,2"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8(o.stdout.clone()).unwrap();
        let cells = |l: &str| l.split('|').map(|c| c.trim().to_string()).collect::<Vec<_>>();
        let header = cells(out.lines().next().unwrap());
        let at = header.iter().position(|c| c == "bound").expect("a bound column");
        let rows: Vec<Vec<String>> =
            out.lines().filter(|l| l.starts_with("| 1 |") || l.starts_with("| 2 |")).map(cells).collect();
        assert_eq!(rows.len(), 2, "{out}");
        for r in &rows {
            let num = |k: usize| r[k].parse::<f64>().unwrap_or_else(|_| panic!("column {k} of {r:?}"));
            let bound = num(at);
            assert!(bound > 0.0, "{r:?}");
            let gaps: Vec<f64> = r[at + 1].split(" / ").map(|g| g.parse().unwrap()).collect();
            assert_eq!(gaps.len(), 3, "{r:?}");
            // dppo, milp-lookahead, greedy: cost columns 2, 6 and 3.
            for (gap, cost) in gaps.iter().zip([num(2), num(6), num(3)]) {
                assert!(*gap >= 0.0, "{r:?}");
                // Costs and the bound are printed to 0.1, gaps to 0.1 %.
                assert!((gap - 100.0 * (cost - bound) / bound).abs() <= 0.05 + 100.0 * 0.1 / bound, "{r:?}");
            }
        }
        assert!(out.contains("\nmean gap to the lower bound: dppo "), "{out}");
        assert!(!stderr(&o).contains("the lower bound is"), "every window solved: no note");
        // A bound stopped at a limit is still a bound, and said to be weaker.
        let o = edgebench(&["score", "--scenario", "tiny", "--seeds", "1", "--bound-time-limit", "0.000001"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("seed 1: the lower bound is `"), "{}", stderr(&o));
        let o = edgebench(&["score", "--scenario", "tiny", "--seeds", "1", "--no-bound"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(out.lines().any(|l| l.starts_with("| 1 |") && l.ends_with("| – | – |")), "{out}");
        assert!(!out.contains("gap to the lower bound:"), "{out}");
        // Bad bound settings are refused before anything is printed.
        let o = edgebench(&["score", "--scenario", "tiny", "--seeds", "1", "--bound-window", "0"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("--bound-window") && o.stdout.is_empty(), "{}", stderr(&o));
    }

    #[test]
    fn a_checkpoint_that_does_not_fit_exits_2() {
        let d = tmp();
        let res = d.path().join("res");
        let junk = d.path().join("junk.safetensors");
        std::fs::write(&junk, b"not weights").unwrap();
        std::fs::write(d.path().join("junk.json"), "{}").unwrap();
        let missing = d.path().join("missing.safetensors");
        for (ck, must) in [(&junk, "junk.json"), (&missing, "missing.safetensors")] {
            let o = run_tiny(&res, &["--policies", "dppo", "--checkpoint", ck.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
            assert!(stderr(&o).contains(must), "{}", stderr(&o));
            assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
            assert!(!res.exists());
        }
        // The shipped checkpoint with one tensor renamed, or a 2-D tensor's
        // shape transposed (same size): bad input naming the file and the tensor.
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../solvers/checkpoints/default.safetensors");
        let bytes = std::fs::read(&shipped).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap().to_string();
        let parsed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&header).unwrap();
        let (name, info) = parsed
            .iter()
            .find(|(k, v)| *k != "__metadata__" && v["shape"].as_array().is_some_and(|s| s.len() == 2 && s[0] != s[1]))
            .expect("a 2-D tensor that is not square");
        let shape = info["shape"].as_array().unwrap();
        let (a, b) = (shape[0].as_u64().unwrap(), shape[1].as_u64().unwrap());
        let renamed = format!("{}X", &name[..name.len() - 1]);
        let at = header.find(&format!("\"{name}\":")).unwrap();
        let shape_text = format!("\"shape\":[{a},{b}]");
        let rel = at + header[at..].find(&shape_text).unwrap();
        let mut transposed = header.clone();
        transposed.replace_range(rel..rel + shape_text.len(), &format!("\"shape\":[{b},{a}]"));
        assert_ne!(transposed, header, "the test must change the shape");
        for (tag, new_header, must) in [
            ("renamed", header.replacen(&format!("\"{name}\""), &format!("\"{renamed}\""), 1), renamed.clone()),
            ("transposed", transposed, name.clone()),
        ] {
            assert_eq!(new_header.len(), header.len());
            let ck = d.path().join(format!("{tag}.safetensors"));
            let mut out = bytes[..8].to_vec();
            out.extend_from_slice(new_header.as_bytes());
            out.extend_from_slice(&bytes[8 + n..]);
            std::fs::write(&ck, out).unwrap();
            std::fs::copy(shipped.with_extension("json"), ck.with_extension("json")).unwrap();
            let o = run_tiny(&res, &["--policies", "dppo", "--checkpoint", ck.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(2), "{tag}: {}", stderr(&o));
            assert!(
                stderr(&o).contains(&format!("{tag}.safetensors")) && stderr(&o).contains(&must),
                "{tag}: {}",
                stderr(&o)
            );
            assert!(!stderr(&o).contains("not in this build"), "{}", stderr(&o));
            assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
            assert!(!res.exists());
        }
        // The shipped checkpoint refuses a scenario with other levels.
        let toml = d.path().join("levels.toml");
        std::fs::write(&toml, "[decision]\nrb_levels = [1, 2]\n").unwrap();
        let o = edgebench(&[
            "run",
            "--scenario",
            toml.to_str().unwrap(),
            "--policies",
            "dppo",
            "--slots",
            "5",
            "--quiet",
            "--out",
            res.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("architecture"), "{}", stderr(&o));
        // --checkpoint without dppo, and bad training settings.
        let o = run_tiny(&res, &["--policies", "greedy", "--checkpoint", junk.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        for (args, must) in [
            (vec!["--workers", "0"], "--workers"),
            (vec!["--steps", "10"], "steps"),
            (vec!["--lr", "0"], "--lr"),
            (vec!["--entropy-coef=-0.1"], "--entropy-coef"),
            (vec!["--gamma", "1"], "--gamma"),
            (vec!["--gae-lambda", "1.5"], "--gae-lambda"),
            (vec!["--init-temperature", "3"], "--init"),
        ] {
            let mut full = vec!["train", "--scenario", "tiny", "--quiet", "--out", res.to_str().unwrap()];
            full.extend(args.iter());
            let o = edgebench(&full);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
            assert!(stderr(&o).contains(must), "{args:?}: {}", stderr(&o));
            assert!(!res.exists());
        }
    }
}

/// The exit-code contract: 2 bad input, 3 an internal failure (one line, no
/// backtrace without RUST_BACKTRACE), 1 only for a regression (tests/regress.rs).
#[test]
fn internal_failures_exit_3_with_one_line() {
    let d = tmp();
    // A panic, through the test hook.
    let o = bin()
        .args(["run", "--scenario", "tiny", "--policies", "local", "--seeds", "1", "--quiet", "--out"])
        .arg(d.path().join("p"))
        .env("EDGEBENCH_TEST_PANIC", "1")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("internal error"), "{}", stderr(&o));
    assert!(!d.path().join("p").exists());
    // An I/O failure: the results cannot be written where --out points (a
    // file stands where its parent folder should be).
    let file = d.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let o = bin()
        .args(["run", "--scenario", "tiny", "--policies", "local", "--seeds", "1", "--quiet", "--out"])
        .arg(file.join("res"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
}

/// The shipped checkpoint is inside the binary: a copy of the binary,
/// started from another folder, runs `dppo` with it.
#[test]
fn a_copied_binary_runs_dppo_from_anywhere() {
    let d = tmp();
    let copy = d.path().join("edgebench");
    std::fs::copy(env!("CARGO_BIN_EXE_edgebench"), &copy).unwrap();
    let out = d.path().join("r");
    let o = std::process::Command::new(&copy)
        .current_dir(d.path())
        .args(["run", "--scenario", "default", "--policies", "dppo", "--slots", "5", "--seeds", "1", "--quiet"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = read_parquet(&out.join("summary.parquet")).unwrap();
    assert_eq!(summary.column("policy").unwrap().str().unwrap().get(0), Some("dppo"));
}

/// ARCHITECTURE.md's code map is checked against the tree: every source file
/// of the crates and the Python package is named in it, and every file it
/// names exists.
#[test]
fn the_code_map_names_every_source_file_and_only_files_that_exist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs" || x == "py") {
                out.push(p);
            }
        }
    }
    let mut sources = Vec::new();
    for dir in ["scenarios/src", "solvers/src", "harness/src", "reports/src", "python/src", "python/edgebench"] {
        walk(&root.join(dir), &mut sources);
    }
    assert!(sources.len() > 50, "{}", sources.len());
    for f in &sources {
        let name = f.file_name().unwrap().to_string_lossy();
        assert!(
            map.contains(&format!("`{name}`")) || map.contains(&format!("/{name}`")),
            "ARCHITECTURE.md does not name {}",
            f.display()
        );
    }
    // Every backticked file name with a source extension names a file of the tree.
    let mut tree = Vec::new();
    for dir in ["scenarios", "solvers", "harness", "reports", "python", "scripts"] {
        walk(&root.join(dir), &mut tree);
    }
    let tree: Vec<String> = tree.iter().map(|p| p.to_string_lossy().replace('\\', "/")).collect();
    // (Fences out first: their three backticks would shift the pairing.)
    for part in map.replace("```", "").split('`').skip(1).step_by(2) {
        if (part.ends_with(".rs") || part.ends_with(".py")) && !part.contains(' ') {
            assert!(
                tree.iter().any(|t| t.ends_with(&format!("/{part}"))),
                "ARCHITECTURE.md names `{part}`, which does not exist"
            );
        }
    }
}

/// ARCHITECTURE.md's invariant: `Policy::stats` is `Some` exactly for the
/// policies of the `milp` feature (each solves a MILP per slot), so the
/// summary's `milp_*` columns are filled for those and empty for the others.
#[test]
fn solver_statistics_come_from_the_milp_policies_only() {
    let d = tmp();
    let out = d.path().join("r");
    let every: Vec<&str> = solvers::registry::names(|p| p.name != solvers::registry::BOUND);
    let args = ["run", "--scenario", "tiny", "--slots", "8", "--seeds", "1", "--quiet", "--policies"];
    let o = edgebench(&[&args[..], &[&every.join(","), "--out", out.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = read_parquet(&out.join("summary.parquet")).unwrap();
    let policy = summary.column("policy").unwrap().str().unwrap().clone();
    let share = summary.column("milp_optimal_share").unwrap().f64().unwrap().clone();
    assert_eq!(policy.len(), every.len());
    for (p, s) in policy.iter().zip(share.iter()) {
        let info = solvers::registry::info(p.unwrap()).unwrap();
        assert_eq!(s.is_some(), info.feature == Some("milp"), "{}: milp_optimal_share {s:?}", info.name);
    }
}

/// ARCHITECTURE.md's claim for the world model: its modules form no cycle
/// (`schema` → `trace` → `geo` → `error`; `config` on top). Read from the
/// `crate::` paths of each module (tests aside), re-exports of `lib.rs`
/// resolved to their module.
#[test]
fn the_world_models_modules_form_no_cycle() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    // `pub use module::{A, B};` → A, B belong to module.
    let mut owner = std::collections::HashMap::new();
    for line in lib.lines().filter_map(|l| l.strip_prefix("pub use ")) {
        let (module, names) = line.trim_end_matches(';').split_once("::").unwrap();
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            owner.insert(name.trim().to_string(), module.to_string());
        }
    }
    let mut graph = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let module = path.file_stem().unwrap().to_string_lossy().to_string();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        let deps = graph.entry(module.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group[..group.find('}').unwrap()].split(',').map(str::trim).collect(),
                None => vec![rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap()],
            };
            for name in names {
                let name = name.split("::").next().unwrap();
                let dep = owner.get(name).cloned().unwrap_or_else(|| name.to_string());
                if dep != module && !dep.is_empty() {
                    deps.insert(dep);
                }
            }
        }
    }
    assert!(graph["schema"].contains("trace") && graph["config"].contains("schema"), "{graph:?}");
    // Depth-first search; a module met again on the current path closes a cycle.
    fn visit<'a>(
        m: &'a str,
        g: &'a std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut std::collections::BTreeSet<&'a str>,
    ) {
        if done.contains(m) {
            return;
        }
        assert!(!path.contains(&m), "module cycle: {} → {m}", path.join(" → "));
        path.push(m);
        for d in g.get(m).into_iter().flatten() {
            visit(d, g, path, done);
        }
        path.pop();
        done.insert(m);
    }
    let mut done = std::collections::BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
}
