//! `edgebench report`: tables from a results folder; bad input exits 2.

use crate::common::{edgebench, message, stderr};

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
    let mut seen = vec![message(&o, d.path())];
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
    seen.push(message(&o, d.path()));
    insta::assert_snapshot!(seen.join("\n"));
}

#[test]
fn report_draws_every_figure_that_applies_and_the_score_tables() {
    let d = tempfile::tempdir().unwrap();
    let res = d.path().join("res");
    let o = edgebench(&[
        "run",
        "--scenario",
        "tiny",
        "--policies",
        "milp,nearest,greedy,local",
        "--seeds",
        "1,2",
        "--quiet",
        "--out",
        res.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = edgebench(&["report", "--results", res.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let figs = res.join("report/figures");
    for stem in ["delay-cdf", "interruption-delay", "utilisation", "timeline"] {
        let svg = std::fs::read_to_string(figs.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("greedy"), "{stem}.svg");
        let png = std::fs::read(figs.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png is a PNG");
    }
    // No training log, no sweep: no training curve, no sweep plots.
    assert!(!figs.join("training-curve.svg").exists());
    assert!(!figs.join("sweep-terminals.svg").exists());
    let md = std::fs::read_to_string(res.join("report/tables.md")).unwrap();
    assert!(md.contains("## Normalised score") && md.contains("IQM"), "{md}");
    assert!(md.contains("## Paired comparison with milp"), "{md}");
    let tex = std::fs::read_to_string(res.join("report/tables.tex")).unwrap();
    assert_eq!(tex.matches("\\begin{table}").count(), 3, "main, score and paired tables");
    assert_eq!(tex.matches('{').count(), tex.matches('}').count());
}

#[test]
fn the_report_page_is_one_self_contained_file() {
    let d = tempfile::tempdir().unwrap();
    let res = d.path().join("res");
    run(&res, "1,2");
    let o = edgebench(&["report", "--results", res.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = res.join("report");
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    // Every SVG figure the report drew is inline, once.
    let svgs: Vec<_> = std::fs::read_dir(report.join("figures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .collect();
    assert!(!svgs.is_empty());
    assert_eq!(page.matches("<svg ").count(), svgs.len());
    for svg in &svgs {
        let stem = svg.file_stem().unwrap().to_string_lossy();
        assert!(page.contains(&format!("<figure id=\"fig-{stem}\">")), "{stem}");
    }
    // The tables (one per scenario and score table) and the manifest.
    assert!(page.contains("<table>") && page.contains("greedy"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(res.join("manifest.json")).unwrap()).unwrap();
    assert!(page.contains(manifest["config_hash_sha256"].as_str().unwrap()));
    // Every link leads to a file that exists; nothing is fetched from elsewhere.
    let mut links = 0;
    for part in page.split("href=\"").skip(1) {
        let href = &part[..part.find('"').unwrap()];
        if let Some(anchor) = href.strip_prefix('#') {
            assert!(page.contains(&format!("id=\"{anchor}\"")), "#{anchor}");
        } else {
            assert!(report.join(href).is_file(), "{href} is not a file");
        }
        links += 1;
    }
    assert!(links >= 10, "{links}");
    for remote in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!page.contains(remote), "{remote}");
    }
    // A function of the results: the same page twice.
    assert!(edgebench(&["report", "--results", res.to_str().unwrap()]).status.success());
    assert_eq!(page, std::fs::read_to_string(report.join("index.html")).unwrap());
}
