//! Helpers shared by the integration tests of the `edgebench` binary.

use std::path::Path;
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_edgebench"))
}

/// `edgebench ARGS`, waited for.
pub fn edgebench(args: &[&str]) -> Output {
    bin().args(args).output().expect("edgebench runs")
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A user-facing error as kept in a snapshot: stderr with the test's
/// temporary folder written `[tmp]` (its name changes from run to run).
pub fn message(o: &Output, tmp: &Path) -> String {
    stderr(o).trim_end().replace(tmp.to_str().unwrap(), "[tmp]")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A sweep of 2 × 3 cells on `tiny` (each cell a few hundred milliseconds).
pub fn sweep_args(out: &Path) -> Vec<String> {
    [
        "sweep",
        "--scenario",
        "tiny",
        "--vary",
        "deadline=300,800",
        "--vary",
        "terminals=3,6,9",
        "--slots",
        "150",
        "--policies",
        "greedy,nearest,milp",
        "--seeds",
        "1,2",
        "--quiet",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.to_str().unwrap().to_string()])
    .collect()
}

/// summary.csv without its wall-clock columns (decision and solver times).
pub fn without_timing(csv: &str) -> Vec<String> {
    let timing = harness::frames::wall_clock("summary");
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let keep: Vec<usize> = (0..header.len()).filter(|&i| !timing.contains(&header[i])).collect();
    assert_eq!(keep.len(), header.len() - timing.len(), "every timing column is in the header");
    csv.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            keep.iter().map(|&i| f[i]).collect::<Vec<_>>().join(",")
        })
        .collect()
}

pub fn finished_cells(out: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(out.join("cells")) else { return Vec::new() };
    let mut v: Vec<String> = rd
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("manifest.json").is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

/// Hidden entries (staging folders, temporary files) of these folders.
pub fn hidden_entries(dirs: &[&Path]) -> Vec<String> {
    dirs.iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// `dir` holds the sweep `reference` holds (its combined summary.csv, timing
/// aside) and no temporary file or staging folder.
pub fn assert_same_sweep(dir: &Path, reference: &Path) {
    let csv = |d: &Path| std::fs::read_to_string(d.join("summary.csv")).unwrap();
    assert_eq!(without_timing(&csv(dir)), without_timing(&csv(reference)));
    let hidden = hidden_entries(&[dir, &dir.join("cells")]);
    assert!(hidden.is_empty(), "temporary files left: {hidden:?}");
}
