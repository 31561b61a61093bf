//! `edgebench sweep`: the Cartesian product, resumable after a kill with the
//! same results as an uninterrupted sweep, bad input refused.

use std::time::{Duration, Instant};

use crate::common::{
    assert_same_sweep, bin, finished_cells, hidden_entries, message, stderr, sweep_args, without_timing,
};

#[test]
fn a_killed_sweep_resumes_without_redoing_cells_and_equals_an_uninterrupted_one() {
    let d = tempfile::tempdir().unwrap();
    let whole = d.path().join("whole");
    let o = bin().args(sweep_args(&whole)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(finished_cells(&whole).len(), 6);
    let csv_whole = std::fs::read_to_string(whole.join("summary.csv")).unwrap();
    // 6 cells × 3 policies × 2 seeds, plus the header.
    assert_eq!(csv_whole.lines().count(), 1 + 36);
    assert!(csv_whole.lines().next().unwrap().contains("sweep_terminals"));

    let part = d.path().join("part");
    let mut child = bin().args(sweep_args(&part)).spawn().unwrap();
    let started = Instant::now();
    while finished_cells(&part).is_empty() && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = finished_cells(&part);
    assert!(!done.is_empty() && done.len() < 6, "kill must land mid-sweep, finished: {done:?}");
    assert!(!part.join("summary.csv").exists(), "an interrupted sweep has no combined summary");
    let stamp =
        |c: &str| std::fs::metadata(part.join("cells").join(c).join("manifest.json")).unwrap().modified().unwrap();
    let before: Vec<_> = done.iter().map(|c| stamp(c)).collect();

    let o = bin().args(sweep_args(&part)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("{} of 6 cells were already finished", done.len())), "{}", stderr(&o));
    let after: Vec<_> = done.iter().map(|c| stamp(c)).collect();
    assert_eq!(before, after, "finished cells were recomputed");
    assert_eq!(finished_cells(&part).len(), 6);
    let hidden = hidden_entries(&[&part.join("cells")]);
    assert!(hidden.is_empty(), "staging folders left: {hidden:?}");
    let csv_part = std::fs::read_to_string(part.join("summary.csv")).unwrap();
    assert_eq!(without_timing(&csv_part), without_timing(&csv_whole));

    // The sweep's results are a results set for `report`, one table per cell.
    let o = bin().args(["report", "--results", part.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(part.join("report").join("tables.md")).unwrap();
    assert!(md.contains("tiny[deadline=300_terminals=3]"), "{md}");
}

/// A sweep stopped hard while a cell writes its results (the test hook of
/// `staging::test_stop_point`) leaves that cell unfinished; the resumed sweep
/// equals the uninterrupted one and leaves no staging folder.
#[test]
fn a_sweep_stopped_mid_write_resumes_to_the_uninterrupted_results() {
    let d = tempfile::tempdir().unwrap();
    let whole = d.path().join("whole");
    assert!(bin().args(sweep_args(&whole)).output().unwrap().status.success());
    let part = d.path().join("part");
    let o = bin().args(sweep_args(&part)).env("EDGEBENCH_TEST_KILL_AFTER", "summary.csv").output().unwrap();
    assert!(!o.status.success());
    assert!(finished_cells(&part).is_empty(), "{:?}", finished_cells(&part));
    assert!(!part.join("summary.csv").exists());
    let staged = std::fs::read_dir(part.join("cells")).unwrap().filter(|e| {
        let e = e.as_ref().unwrap();
        e.file_name().to_string_lossy().starts_with('.') && e.path().join("summary.csv").is_file()
    });
    assert_eq!(staged.count(), 1, "the stop must land inside a cell's staging folder");
    let o = bin().args(sweep_args(&part)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(part.join("summary.csv")).unwrap();
    let csv_whole = std::fs::read_to_string(whole.join("summary.csv")).unwrap();
    assert_eq!(without_timing(&csv), without_timing(&csv_whole));
    let hidden = hidden_entries(&[&part.join("cells")]);
    assert!(hidden.is_empty(), "staging folders left: {hidden:?}");
}

#[test]
fn bad_sweep_input_exits_2() {
    let mut seen = Vec::new();
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("s");
    let o = out.to_str().unwrap();
    for (vary, must) in [
        (vec!["--vary", "speed=fast"], "fast"),
        (vec!["--vary", "colour=1,2"], "colour"),
        (vec!["--vary", "terminals=2.5"], "integer"),
        (vec!["--vary", "cache=-1"], "-1"),
        (vec!["--vary", "terminals=2,2"], "twice"),
        (vec!["--vary", "terminals=2", "--vary", "terminals=3"], "twice"),
        (vec!["--vary", "terminals"], "NAME=V1"),
    ] {
        let mut args = vec!["sweep", "--scenario", "tiny", "--policies", "local", "--quiet", "--out", o];
        args.extend(vary.iter());
        let r = bin().args(&args).output().unwrap();
        assert_eq!(r.status.code(), Some(2), "{vary:?}: {}", stderr(&r));
        assert!(stderr(&r).contains(must), "{vary:?}: {}", stderr(&r));
        assert_eq!(stderr(&r).trim().lines().count(), 1, "{}", stderr(&r));
        assert!(!out.exists());
        seen.push(format!("{}: {}", vary.join(" "), message(&r, d.path())));
    }
    // Another sweep into the folder of a first one is refused.
    let first = [
        "sweep",
        "--scenario",
        "tiny",
        "--policies",
        "local",
        "--seeds",
        "1",
        "--vary",
        "terminals=2",
        "--quiet",
        "--out",
        o,
    ];
    assert!(bin().args(first).output().unwrap().status.success());
    let second = [
        "sweep",
        "--scenario",
        "tiny",
        "--policies",
        "local",
        "--seeds",
        "1",
        "--vary",
        "terminals=3",
        "--quiet",
        "--out",
        o,
    ];
    let r = bin().args(second).output().unwrap();
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(stderr(&r).contains("another sweep"), "{}", stderr(&r));
    seen.push(format!("a second sweep into the first's folder: {}", message(&r, d.path())));
    insta::assert_snapshot!(seen.join("\n"));
}

#[test]
fn shards_run_together_split_the_cells_and_merge_into_the_serial_sweep() {
    let d = tempfile::tempdir().unwrap();
    let whole = d.path().join("whole");
    assert!(bin().args(sweep_args(&whole)).output().unwrap().status.success());

    // One shard alone runs its share only, and writes no combined summary.
    let sharded = d.path().join("sharded");
    let shard = |k: usize| {
        let mut a = sweep_args(&sharded);
        a.extend(["--shard".to_string(), format!("{k}/3")]);
        a
    };
    let o = bin().args(shard(0)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let first = finished_cells(&sharded);
    assert_eq!(first.len(), 2, "6 cells over 3 shards: {first:?}");
    assert!(stderr(&o).contains("2 of 6 cells finished"), "{}", stderr(&o));
    assert!(!sharded.join("summary.csv").exists());
    // Merging now is refused (exit 2) and names the cells still missing.
    let mut merge = sweep_args(&sharded);
    merge.push("--merge".into());
    let o = bin().args(&merge).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("4 of 6 cells of") && stderr(&o).contains("not finished"), "{}", stderr(&o));
    assert!(!sharded.join("summary.csv").exists());

    // All three at once into the same folder (shard 0 resumes: nothing to do).
    let children: Vec<_> =
        (0..3).map(|k| bin().args(shard(k)).stderr(std::process::Stdio::piped()).spawn().unwrap()).collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("(2 cells)") || stderr(&o).contains("sweep results in"), "{}", stderr(&o));
    }
    assert_eq!(finished_cells(&sharded).len(), 6);
    for f in ["summary.csv", "summary.parquet"] {
        let _ = std::fs::remove_file(sharded.join(f));
    }
    let o = bin().args(&merge).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_sweep(&sharded, &whole);
}

#[test]
fn bad_shard_and_merge_arguments_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("s");
    for (extra, must) in [
        (vec!["--shard", "3/2"], "0 ≤ K < N"),
        (vec!["--shard", "0/0"], "0 ≤ K < N"),
        (vec!["--shard", "a/2"], "K/N"),
        (vec!["--shard", "1"], "K/N"),
        (vec!["--shard=-1/2"], "K/N"),
        (vec!["--shard", "0/2", "--merge"], "--merge"),
        (vec!["--merge"], "holds no sweep"),
    ] {
        let mut args = sweep_args(&out);
        args.extend(extra.iter().map(|s| s.to_string()));
        let r = bin().args(&args).output().unwrap();
        assert_eq!(r.status.code(), Some(2), "{extra:?}: {}", stderr(&r));
        assert!(stderr(&r).contains(must), "{extra:?}: {}", stderr(&r));
        assert!(!out.exists(), "{extra:?} wrote {}", out.display());
    }
}
