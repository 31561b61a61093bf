//! Trace import, generation and replay, end to end through the binary.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{edgebench, message, stderr};

use harness::tracefile::load_trace;
use scenarios::trace::RawTrace;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

fn load(p: &Path) -> RawTrace {
    load_trace(p, None, false).unwrap()
}

/// Same terminals (by id), times and positions within `tol` metres.
fn assert_same_trace(a: &RawTrace, b: &RawTrace, tol: f64) {
    assert_eq!(a.ids, b.ids);
    assert_eq!(a.records.len(), b.records.len());
    for (r, s) in a.records.iter().zip(&b.records) {
        assert_eq!(r.terminal, s.terminal);
        assert!((r.t - s.t).abs() < 1e-9, "{r:?} {s:?}");
        assert!((r.x - s.x).abs() <= tol && (r.y - s.y).abs() <= tol, "{r:?} {s:?}");
    }
}

#[test]
fn generated_trace_round_trips_through_csv_to_the_millimetre() {
    let d = tempfile::tempdir().unwrap();
    for model in ["random-waypoint", "gauss-markov", "manhattan"] {
        let pq = d.path().join(format!("{model}.parquet"));
        let csv = d.path().join(format!("{model}.csv"));
        let back = d.path().join(format!("{model}-back.parquet"));
        let p = pq.to_str().unwrap();
        ok(edgebench(&[
            "trace",
            "gen",
            "--model",
            model,
            "--terminals",
            "12",
            "--slots",
            "200",
            "--seed",
            "4",
            "--speed",
            "1,15",
            "-o",
            p,
        ]));
        ok(edgebench(&["trace", "import", p, "-o", csv.to_str().unwrap()]));
        ok(edgebench(&["trace", "import", csv.to_str().unwrap(), "-o", back.to_str().unwrap()]));
        let (a, b) = (load(&pq), load(&back));
        assert_eq!(a.records.len(), 12 * 200);
        assert_same_trace(&a, &b, 1e-3);
    }
}

#[test]
fn sumo_fcd_and_the_same_trace_as_csv_give_the_same_canonical_trace() {
    let d = tempfile::tempdir().unwrap();
    let fcd = repo("scenarios/data/traces/sumo-excerpt.fcd.xml");
    let csv = d.path().join("excerpt.csv");
    ok(edgebench(&["trace", "import", "--format", "sumo-fcd", fcd.to_str().unwrap(), "-o", csv.to_str().unwrap()]));
    // Guessed format gives the same as the explicit one.
    let from_fcd = load(&fcd);
    assert!(from_fcd.records.len() > 100, "{}", from_fcd.records.len());
    assert_same_trace(&from_fcd, &load(&csv), 1e-6);
    // A hand-checked record: the file's first vehicle at its first timestep.
    let text = std::fs::read_to_string(&fcd).unwrap();
    let line = text.lines().find(|l| l.contains("<vehicle ")).unwrap();
    let attr = |k: &str| -> f64 {
        let s = &line[line.find(&format!(" {k}=\"")).unwrap() + k.len() + 3..];
        s[..s.find('"').unwrap()].parse().unwrap()
    };
    let first = from_fcd.records.iter().find(|r| r.terminal == 0).unwrap();
    assert_eq!((first.x, first.y), (attr("x"), attr("y")));
}

fn handovers_per_min(trace: &str) -> f64 {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("r");
    ok(edgebench(&[
        "run",
        "--scenario",
        "default",
        "--trace",
        repo(trace).to_str().unwrap(),
        "--policies",
        "nearest,greedy",
        "--seeds",
        "1,2",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]));
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<String>> = csv.lines().skip(1).map(|l| l.split(',').map(String::from).collect()).collect();
    // Sensible: tasks ran, some got served, the interruption rate is a rate.
    for r in &rows {
        let tasks: f64 = r[col("tasks")].parse().unwrap();
        let rate: f64 = r[col("interruption_rate")].parse().unwrap();
        assert!(tasks > 1000.0 && (0.0..0.6).contains(&rate), "{r:?}");
    }
    let nearest: Vec<f64> = rows
        .iter()
        .filter(|r| r[col("policy")] == "nearest")
        .map(|r| r[col("handovers_per_min")].parse().unwrap())
        .collect();
    nearest.iter().sum::<f64>() / nearest.len() as f64
}

#[test]
fn vehicles_hand_over_more_often_than_pedestrians() {
    let veh = handovers_per_min("scenarios/data/traces/vehicular.csv.gz");
    let ped = handovers_per_min("scenarios/data/traces/pedestrian.csv.gz");
    assert!(veh > 2.0 * ped, "vehicles {veh} vs pedestrians {ped} handovers per minute");
}

#[test]
fn a_parquet_trace_with_slot_override_runs_and_terminals_cannot_be_overridden() {
    let d = tempfile::tempdir().unwrap();
    let pq = d.path().join("t.parquet");
    ok(edgebench(&[
        "trace",
        "gen",
        "--model",
        "gauss-markov",
        "--terminals",
        "7",
        "--slots",
        "100",
        "-o",
        pq.to_str().unwrap(),
    ]));
    let out = d.path().join("r");
    ok(edgebench(&[
        "run",
        "--scenario",
        "tiny",
        "--trace",
        pq.to_str().unwrap(),
        "--slots",
        "40",
        "--seeds",
        "1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!((m["slots"].as_u64(), m["terminals"].as_u64()), (Some(40), Some(7)));
    let o = edgebench(&[
        "run",
        "--scenario",
        "tiny",
        "--trace",
        pq.to_str().unwrap(),
        "--terminals",
        "3",
        "--quiet",
        "--out",
        d.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn trace_info_describes_the_trace() {
    let o = ok(edgebench(&["trace", "info", repo("scenarios/data/traces/vehicular.csv.gz").to_str().unwrap()]));
    let text = String::from_utf8_lossy(&o.stdout);
    for key in ["terminals", "duration", "bounding box", "speed", "present"] {
        assert!(text.contains(key), "{text}");
    }
}

#[test]
fn presets_with_traces_and_sites_run() {
    let d = tempfile::tempdir().unwrap();
    for p in ["vehicular", "melbourne"] {
        let out = d.path().join(p);
        ok(edgebench(&[
            "run",
            "--scenario",
            p,
            "--slots",
            "20",
            "--seeds",
            "1",
            "--policies",
            "nearest,greedy",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]));
        assert!(out.join("summary.csv").exists());
    }
}

#[test]
fn run_with_a_lat_lon_trace_and_real_sites() {
    let d = tempfile::tempdir().unwrap();
    // Pedestrians around Flinders Street, as lat/lon, and the EUA sites as nodes.
    let csv = d.path().join("walk.csv");
    let mut text = String::from("t,id,lat,lon\n");
    for t in 0..60 {
        for u in 0..5 {
            text.push_str(&format!(
                "{t},p{u},{},{}\n",
                -37.8170 + 0.00002 * t as f64,
                144.9600 + 0.002 * u as f64 + 0.00001 * t as f64
            ));
        }
    }
    std::fs::write(&csv, text).unwrap();
    let out = d.path().join("r");
    let o = ok(edgebench(&[
        "run",
        "--scenario",
        "default",
        "--trace",
        csv.to_str().unwrap(),
        "--sites",
        repo("scenarios/data/eua-melbcbd-sites.csv").to_str().unwrap(),
        "--policies",
        "nearest",
        "--seeds",
        "1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]));
    drop(o);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["terminals"], 5);
    assert_eq!(m["slots"], 60);
    // The CBD sites cover Flinders Street: nearly every task reaches a node.
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let rate: f64 = row[header.iter().position(|h| *h == "interruption_rate").unwrap()].parse().unwrap();
    assert!(rate < 0.5, "{rate}");
    // A metric trace cannot be combined with sites.
    let metric = d.path().join("m.csv");
    std::fs::write(&metric, "t,id,x,y\n0,a,0,0\n1,a,5,5\n").unwrap();
    let o = edgebench(&[
        "run",
        "--scenario",
        "default",
        "--trace",
        metric.to_str().unwrap(),
        "--sites",
        repo("scenarios/data/eua-melbcbd-sites.csv").to_str().unwrap(),
        "--quiet",
        "--out",
        d.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("latitude/longitude"), "{}", stderr(&o));
}

/// Bad trace input: exit 2, one line naming the file and the line, nothing written.
fn assert_bad_trace(name: &str, content: &[u8], line: usize, via_run: bool) -> String {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join(name);
    std::fs::write(&f, content).unwrap();
    let out = d.path().join(if via_run { "res" } else { "out.parquet" });
    let o = if via_run {
        edgebench(&[
            "run",
            "--scenario",
            "tiny",
            "--trace",
            f.to_str().unwrap(),
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
    } else {
        edgebench(&["trace", "import", f.to_str().unwrap(), "-o", out.to_str().unwrap()])
    };
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{name}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
    assert!(
        err.contains(name) && err.contains(&format!("line {line}")),
        "{name}: expected file and line {line}: {err}"
    );
    assert!(!err.contains("panicked"));
    assert!(!out.exists(), "{name}: output written");
    let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 1, "{name}: left behind {left:?}");
    message(&o, d.path())
}

#[test]
fn bad_trace_input_exits_2_naming_file_and_line() {
    let mut seen = Vec::new();
    let fcd = std::fs::read_to_string(repo("scenarios/data/traces/sumo-excerpt.fcd.xml")).unwrap();
    // Cut inside an element, in the middle of the file.
    let cut = fcd[..fcd.len() / 2].rfind("<vehicle").unwrap() + 20;
    let cut_line = fcd[..cut].matches('\n').count() + 1;
    for via_run in [false, true] {
        seen.push(assert_bad_trace("truncated.fcd.xml", &fcd.as_bytes()[..cut], cut_line, via_run));
        seen.push(assert_bad_trace("nan.csv", b"t,id,x,y\n0,a,1,2\n1,a,NaN,2\n", 3, via_run));
        seen.push(assert_bad_trace("time.csv", b"t,id,x,y\n0,a,1,2\nnoon,a,1,2\n", 3, via_run));
        seen.push(assert_bad_trace("wrong.txt", b"this is not a trace\n", 1, via_run));
        seen.push(assert_bad_trace("empty.csv", b"", 1, via_run));
        seen.push(assert_bad_trace("huge.csv", b"t,id,x,y\n0,a,1,2\n1,a,1e300,2\n", 3, via_run));
        seen.push(assert_bad_trace("huge.movements", b"0 0 0 10 1e12 0\n", 1, via_run));
    }
    // A whole timestep cut off at the end of the file.
    let end = fcd.rfind("</timestep>").unwrap();
    let line = fcd[..end].matches('\n').count() + 1;
    seen.push(assert_bad_trace("unclosed.fcd.xml", &fcd.as_bytes()[..end], line, false));
    insta::assert_snapshot!(seen.join("\n"));
}

#[test]
fn bad_trace_cli_values_exit_2() {
    let mut seen = Vec::new();
    let d = tempfile::tempdir().unwrap();
    let o = d.path().join("t.parquet");
    for args in [
        vec!["trace", "gen", "--model", "levy-walk", "--terminals", "3", "--slots", "5", "-o", o.to_str().unwrap()],
        vec![
            "trace",
            "gen",
            "--model",
            "manhattan",
            "--terminals",
            "3",
            "--slots",
            "5",
            "--speed",
            "5,1",
            "-o",
            o.to_str().unwrap(),
        ],
        vec![
            "trace",
            "gen",
            "--model",
            "manhattan",
            "--terminals",
            "3",
            "--slots",
            "5",
            "-o",
            d.path().join("t.txt").to_str().unwrap(),
        ],
        vec!["trace", "import", "--format", "gpx", "x", "-o", o.to_str().unwrap()],
    ] {
        let r = edgebench(&args);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", stderr(&r));
        assert!(!o.exists());
        seen.push(message(&r, d.path()));
    }
    insta::assert_snapshot!(seen.join("\n"));
}
