//! `edgebench regress`: a deliberately worse policy is caught (exit 1, the
//! metric named), the unchanged one passes, bad input exits 2, `--update`
//! keeps the tolerances.

use std::path::Path;

use crate::common::{edgebench, message, stderr};

fn args(policies: &str, out: &Path) -> harness::RunArgs {
    harness::RunArgs { policies: vec![policies.into()], seeds: vec![1, 2, 3, 4], ..harness::RunArgs::new("tiny", out) }
}

/// Results where the runs labelled `greedy` are made by `greedy-nocache`: a
/// greedy that ignores (never fills) the cache.
fn degraded_greedy(out: &Path) {
    let plan = harness::plan_from_args(&args("greedy-nocache", out)).unwrap();
    let mut runs = harness::run::execute(&plan, false).unwrap();
    for r in &mut runs {
        r.policy = "greedy".into();
        r.tasks.policy.iter_mut().for_each(|p| *p = "greedy".into());
        r.slots.policy.iter_mut().for_each(|p| *p = "greedy".into());
    }
    let staging = harness::staging::Staging::new(out).unwrap();
    harness::write_results(&plan, &runs, staging, std::time::SystemTime::now(), 1).unwrap();
}

#[test]
fn a_deliberately_worse_greedy_is_caught_and_the_unchanged_one_passes() {
    let d = tempfile::tempdir().unwrap();
    let good = d.path().join("good");
    harness::cmd_run(&args("greedy", &good)).unwrap();
    let base = d.path().join("base.toml");
    let o =
        edgebench(&["regress", "--init", "--results", good.to_str().unwrap(), "--baseline", base.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = edgebench(&["regress", "--results", good.to_str().unwrap(), "--baseline", base.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(table.matches("| ok |").count(), 3, "{table}");

    let bad = d.path().join("bad");
    degraded_greedy(&bad);
    let o = edgebench(&["regress", "--results", bad.to_str().unwrap(), "--baseline", base.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("tiny/greedy/cost"), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(table.contains("| tiny | greedy | cost |") && table.contains("WORSE"), "{table}");

    // --update takes the new values and keeps the tolerances; then it passes.
    let before = std::fs::read_to_string(&base).unwrap();
    let o =
        edgebench(&["regress", "--update", "--results", bad.to_str().unwrap(), "--baseline", base.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = std::fs::read_to_string(&base).unwrap();
    let tolerances = |t: &str| t.lines().filter(|l| l.starts_with("tolerance")).map(String::from).collect::<Vec<_>>();
    assert_eq!(tolerances(&before), tolerances(&after));
    assert_ne!(before, after);
    let o = edgebench(&["regress", "--results", bad.to_str().unwrap(), "--baseline", base.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn bad_regress_input_exits_2() {
    let mut seen = Vec::new();
    let d = tempfile::tempdir().unwrap();
    let res = d.path().join("res");
    harness::cmd_run(&args("local", &res)).unwrap();
    let r = res.to_str().unwrap();
    let write = |name: &str, text: &str| {
        let p = d.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let check = |scenario: &str, policy: &str, metric: &str| {
        format!("[[check]]\nscenario = \"{scenario}\"\npolicy = \"{policy}\"\nmetric = \"{metric}\"\nvalue = 1.0\ntolerance = 0.1\ntolerance_kind = \"relative\"\nworse = \"higher\"\n")
    };
    for (base, must) in [
        (d.path().join("missing.toml").to_str().unwrap().to_string(), "missing.toml"),
        (write("broken.toml", "[[check]\n"), "broken.toml"),
        (write("field.toml", &check("tiny", "local", "cost").replace("worse", "direction")), "direction"),
        (write("policy.toml", &check("tiny", "greedy", "cost")), "greedy"),
        (write("metric.toml", &check("tiny", "local", "happiness")), "happiness"),
    ] {
        let o = edgebench(&["regress", "--results", r, "--baseline", &base]);
        assert_eq!(o.status.code(), Some(2), "{base}: {}", stderr(&o));
        assert!(stderr(&o).contains(must), "{base}: {}", stderr(&o));
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
        seen.push(message(&o, d.path()));
    }
    let o = edgebench(&[
        "regress",
        "--results",
        d.path().to_str().unwrap(),
        "--baseline",
        &write("ok.toml", &check("tiny", "local", "cost")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a results set"), "{}", stderr(&o));
    seen.push(message(&o, d.path()));
    insta::assert_snapshot!(seen.join("\n"));
}
