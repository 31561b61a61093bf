//! `edgebench` under `mpirun -n 2` (MPICH, installed by `make setup`):
//! distributed training equals threads in one process, a distributed run and
//! sweep equal the serial ones, a killed rank leaves no complete-looking
//! results, and bad arguments exit 2 with one line.
#![cfg(feature = "mpi")]

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{assert_same_sweep, finished_cells, stderr, sweep_args, without_timing};
use harness::frames::read_parquet;

/// `mpirun -n <ranks> edgebench <args>`.
fn mpirun(ranks: usize, args: &[String]) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["-n", &ranks.to_string(), env!("CARGO_BIN_EXE_edgebench")]).args(args);
    c
}

fn output(mut c: Command) -> Output {
    c.output().expect("mpirun starts (MPICH's launcher; `make setup` installs it)")
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn train_args(workers: usize, out: &Path) -> Vec<String> {
    let mut a = strings(&[
        "train",
        "--scenario",
        "tiny",
        "--envs",
        "2",
        "--rollout",
        "8",
        "--steps",
        "320",
        "--seed",
        "7",
        "--quiet",
        "--workers",
        &workers.to_string(),
        "--out",
    ]);
    a.push(out.to_str().unwrap().to_string());
    a
}

#[test]
fn two_ranks_of_one_worker_train_exactly_what_one_rank_of_two_workers_trains() {
    let d = tempfile::tempdir().unwrap();
    let (threads, ranks) = (d.path().join("threads"), d.path().join("ranks"));
    let o = crate::common::bin().args(train_args(2, &threads)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = output(mpirun(2, &train_args(1, &ranks)));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("on 2 rank(s) × 1 worker(s)"), "{}", stderr(&o));

    // The same weights, bit for bit.
    let w = |dir: &Path| std::fs::read(dir.join("policy.safetensors")).unwrap();
    assert_eq!(w(&threads), w(&ranks), "the weights differ");
    // The same training log, wall-clock columns aside (10 updates).
    let timing = ["wall_s", "rollout_s", "forward_s", "update_s", "allreduce_s"];
    let log = |dir: &Path| read_parquet(&dir.join("train.parquet")).unwrap().drop_many(timing);
    let (a, b) = (log(&threads), log(&ranks));
    assert_eq!(a.height(), 10);
    assert!(a.equals_missing(&b), "training logs differ:\n{a}\n{b}");
    // The sidecar records the split; the observation statistics are the same.
    let side = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("policy.json")).unwrap()).unwrap()
    };
    let (sa, sb) = (side(&threads), side(&ranks));
    assert_eq!(sa["observation_stats"], sb["observation_stats"]);
    assert_eq!((&sa["hyperparameters"]["ranks"], &sa["hyperparameters"]["workers"]), (&1.into(), &2.into()));
    assert_eq!((&sb["hyperparameters"]["ranks"], &sb["hyperparameters"]["workers"]), (&2.into(), &1.into()));
    // The allreduce is timed on the ranks, absent in one process.
    let secs = |dir: &Path| {
        let df = read_parquet(&dir.join("train.parquet")).unwrap();
        df.column("allreduce_s").unwrap().f64().unwrap().into_no_null_iter().sum::<f64>()
    };
    assert_eq!(secs(&threads), 0.0);
    assert!(secs(&ranks) > 0.0);
    // Rank 1 wrote nothing beside rank 0's results.
    let entries: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
}

#[test]
fn a_run_on_two_ranks_writes_the_serial_results_set() {
    let d = tempfile::tempdir().unwrap();
    let (serial, ranked) = (d.path().join("serial"), d.path().join("ranked"));
    // Every policy of the build and the bound, on three seeds: 3 × 10 jobs split over the ranks.
    let args = |out: &Path| {
        let mut a = strings(&["run", "--scenario", "tiny", "--seeds", "1,2,3", "--quiet", "--out"]);
        a.push(out.to_str().unwrap().to_string());
        a
    };
    let o = crate::common::bin().args(args(&serial)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = output(mpirun(2, &args(&ranked)));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).matches("no DPPO checkpoint is shipped").count(),
        1,
        "notes from rank 0 only: {}",
        stderr(&o)
    );
    let csv = |dir: &Path| std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert_eq!(without_timing(&csv(&ranked)), without_timing(&csv(&serial)));
    // Every task and slot row, wall-clock columns aside.
    for (file, timing) in [("tasks.parquet", vec![]), ("slots.parquet", harness::frames::wall_clock("slots").to_vec())]
    {
        let df = |dir: &Path| read_parquet(&dir.join(file)).unwrap().drop_many(timing.clone());
        let (a, b) = (df(&serial), df(&ranked));
        assert!(a.height() > 0 && a.equals_missing(&b), "{file} differs");
    }
    // The bound's windows, their solve times (the last column) aside.
    let windows = |dir: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(dir.join("bound.csv")).unwrap();
        text.lines().map(|l| l.rsplit_once(',').unwrap().0.to_string()).collect()
    };
    assert!(std::fs::read_to_string(serial.join("bound.csv")).unwrap().lines().next().unwrap().ends_with(",solve_s"));
    assert_eq!(windows(&serial), windows(&ranked));
    let entries: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
}

#[test]
fn a_sweep_on_two_ranks_equals_the_serial_sweep() {
    let d = tempfile::tempdir().unwrap();
    let serial = d.path().join("serial");
    let o = crate::common::bin().args(sweep_args(&serial)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let ranked = d.path().join("ranked");
    let o = output(mpirun(2, &sweep_args(&ranked)));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_sweep(&ranked, &serial);
}

#[test]
fn a_killed_rank_leaves_no_combined_results_and_the_sweep_resumes() {
    let d = tempfile::tempdir().unwrap();
    let serial = d.path().join("serial");
    assert!(crate::common::bin().args(sweep_args(&serial)).output().unwrap().status.success());
    let part = d.path().join("part");
    // Rank 1 stops hard while its first cell writes its results.
    let mut c = mpirun(2, &sweep_args(&part));
    c.env("EDGEBENCH_TEST_KILL_AFTER", "summary.csv").env("EDGEBENCH_TEST_KILL_RANK", "1");
    let o = output(c);
    assert!(!o.status.success(), "a killed rank must fail the command");
    assert!(!part.join("summary.csv").exists() && !part.join("summary.parquet").exists());
    let done = finished_cells(&part);
    assert!(done.len() < 6, "{done:?}");
    // Started again (here with one process), it resumes from the finished cells.
    let o = crate::common::bin().args(sweep_args(&part)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_sweep(&part, &serial);
}

#[test]
fn bad_arguments_under_mpirun_exit_2_with_one_line() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("s");
    let with = |extra: &[&str]| {
        let mut a = sweep_args(&out);
        a.extend(strings(extra));
        a
    };
    for (args, must) in [
        (with(&["--shard", "0/2"]), "--shard"),
        (with(&["--shard", "3/2"]), "0 ≤ K < N"),
        (with(&["--merge"]), "--merge"),
        (with(&["--vary", "colour=1"]), "colour"),
        (strings(&["run", "--scenario", "tiny", "--seeds", "1,1", "--quiet", "--out", out.to_str().unwrap()]), "twice"),
        (train_args(0, &out), "--workers"),
    ] {
        let o = output(mpirun(2, &args));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(must), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).trim().lines().count(), 1, "one line from one rank: {}", stderr(&o));
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
}
