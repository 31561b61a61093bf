//! `edgebench report`: tables from a results folder; bad input exits 2.

use std::process::{Command, Output};

fn edgebench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgebench")).args(args).output().expect("edgebench runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn run(out: &std::path::Path, seeds: &str) {
    let o = edgebench(&[
        "run",
        "--scenario",
        "tiny",
        "--policies",
        "nearest,greedy,local",
        "--seeds",
        seeds,
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn report_writes_markdown_and_latex_tables() {
    let d = tempfile::tempdir().unwrap();
    let res = d.path().join("res");
    run(&res, "1,2,3");
    let o = edgebench(&["report", "--results", res.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(res.join("report/tables.md")).unwrap();
    assert!(md.contains("## Scenario `tiny` (3 seeds)") && md.contains("| greedy |") && md.contains("**"), "{md}");
    let tex = std::fs::read_to_string(res.join("report/tables.tex")).unwrap();
    for needle in ["\\begin{table}", "\\toprule", "\\midrule", "\\bottomrule", "\\end{table}", "\\texttt{greedy}"] {
        assert!(tex.contains(needle), "{needle}: {tex}");
    }
    // Three policies: three body rows plus the header.
    assert_eq!(tex.lines().filter(|l| l.ends_with("\\\\")).count(), 4);
    // The report is a function of the results: the same twice.
    let out2 = d.path().join("again");
    assert!(edgebench(&["report", "--results", res.to_str().unwrap(), "--out", out2.to_str().unwrap()])
        .status
        .success());
    assert_eq!(tex, std::fs::read_to_string(out2.join("tables.tex")).unwrap());
}

#[test]
fn one_seed_says_the_interval_is_not_available() {
    let d = tempfile::tempdir().unwrap();
    let res = d.path().join("res");
    run(&res, "4");
    assert!(edgebench(&["report", "--results", res.to_str().unwrap()]).status.success());
    let md = std::fs::read_to_string(res.join("report/tables.md")).unwrap();
    assert!(md.contains("not available") && !md.contains(" ["), "{md}");
}

#[test]
fn report_on_bad_input_exits_2_naming_what_is_missing() {
    let d = tempfile::tempdir().unwrap();
    // Not a results set.
    let o = edgebench(&["report", "--results", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("summary.parquet"), "{}", stderr(&o));
    // A summary frame missing a column.
    let res = d.path().join("res");
    run(&res, "1,2");
    let df = harness::frames::read_parquet(&res.join("summary.parquet")).unwrap();
    let mut df = df.drop("cost").unwrap();
    harness::frames::write_parquet(&mut df, &res.join("summary.parquet")).unwrap();
    let o = edgebench(&["report", "--results", res.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing column(s) cost"), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1);
}
