//! `edgebench regress`: compare a results set with a committed baseline.
//!
//! The baseline (TOML) lists checks: for a (scenario, policy) and a summary
//! metric, the baseline value (mean over the seeds), a tolerance (absolute or
//! relative) and the direction that is worse. A check fails when the current
//! mean is worse than the baseline by more than the tolerance. `--init`
//! writes a baseline from results, tolerances from the seed-to-seed spread;
//! `--update` rewrites the values and keeps the tolerances.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::error::BadInput;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Worse {
    Higher,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToleranceKind {
    Absolute,
    Relative,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub scenario: String,
    pub policy: String,
    pub metric: String,
    pub value: f64,
    pub tolerance: f64,
    pub tolerance_kind: ToleranceKind,
    pub worse: Worse,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub check: Vec<Check>,
}

/// One line of the verdict table.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub check: Check,
    pub current: f64,
    /// Signed change toward worse (positive = worse), in the tolerance's unit.
    pub worse_by: f64,
    pub failed: bool,
}

fn load(path: &Path) -> Result<Baseline, BadInput> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BadInput(format!("--baseline {}: cannot read ({e})", path.display())))?;
    parse_baseline(&text, path)
}

/// A baseline's TOML text; `path` names it in errors.
pub fn parse_baseline(text: &str, path: &Path) -> Result<Baseline, BadInput> {
    let b: Baseline = toml::from_str(text).map_err(|e| {
        BadInput(format!("--baseline {}: {}", path.display(), scenarios::schema::toml_error_line(text, &e)))
    })?;
    for (k, c) in b.check.iter().enumerate() {
        if !(c.value.is_finite() && c.tolerance.is_finite() && c.tolerance >= 0.0) {
            return Err(BadInput(format!(
                "--baseline {}: check {} ({}, {}, {}): value and tolerance must be finite, tolerance ≥ 0",
                path.display(),
                k + 1,
                c.scenario,
                c.policy,
                c.metric
            )));
        }
    }
    Ok(b)
}

/// A results set's summary with its scenario and policy columns read once.
struct Summary {
    frame: polars::prelude::DataFrame,
    scenario: Vec<String>,
    policy: Vec<String>,
}

impl Summary {
    fn read(results: &Path) -> Result<Summary> {
        let frame = crate::frames::read_results_summary(results)?;
        let scenario = reports::str_column(&frame, "scenario")?;
        let policy = reports::str_column(&frame, "policy")?;
        Ok(Summary { frame, scenario, policy })
    }

    /// The per-seed values of `metric` for (scenario, policy); None when there is no such row.
    fn values(&self, scenario: &str, policy: &str, metric: &str) -> Result<Option<Vec<f64>>> {
        let vals = reports::f64_column(&self.frame, metric)?;
        let v: Vec<f64> = (0..vals.len())
            .filter(|&i| self.scenario[i] == scenario && self.policy[i] == policy)
            .map(|i| vals[i])
            .collect();
        Ok((!v.is_empty()).then_some(v))
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Compare; `Err` on bad input (missing files, columns, rows).
pub fn compare(results: &Path, baseline: &Path) -> Result<Vec<Verdict>> {
    let b = load(baseline)?;
    let summary = Summary::read(results)?;
    let mut out = Vec::new();
    for c in b.check {
        if summary.frame.column(&c.metric).is_err() {
            return Err(
                BadInput(format!("{}: no column `{}` (named in the baseline)", results.display(), c.metric)).into()
            );
        }
        let Some(v) = summary.values(&c.scenario, &c.policy, &c.metric)? else {
            return Err(BadInput(format!(
                "{}: no run of policy `{}` on scenario `{}` (named in the baseline)",
                results.display(),
                c.policy,
                c.scenario
            ))
            .into());
        };
        let now = mean(&v);
        let delta = match c.worse {
            Worse::Higher => now - c.value,
            Worse::Lower => c.value - now,
        };
        let worse_by = match c.tolerance_kind {
            ToleranceKind::Absolute => delta,
            ToleranceKind::Relative => delta / c.value.abs().max(1e-12),
        };
        // NaN (a metric that became undefined) counts as worse.
        let failed = worse_by.is_nan() || worse_by > c.tolerance;
        out.push(Verdict { check: c, current: now, worse_by, failed });
    }
    Ok(out)
}

/// The verdict table (Markdown).
pub fn table(verdicts: &[Verdict]) -> String {
    let mut s = String::from(
        "| scenario | policy | metric | baseline | current | change | tolerance | verdict |\n|:--|:--|:--|--:|--:|--:|--:|:--|\n",
    );
    for v in verdicts {
        let c = &v.check;
        let change = if c.value.abs() > 1e-12 {
            format!("{:+.2} %", 100.0 * (v.current - c.value) / c.value.abs())
        } else {
            format!("{:+.4}", v.current - c.value)
        };
        let tol = match c.tolerance_kind {
            ToleranceKind::Absolute => format!("{:.4} abs", c.tolerance),
            ToleranceKind::Relative => format!("{:.2} %", 100.0 * c.tolerance),
        };
        let verdict = if v.failed {
            format!(
                "WORSE ({} is worse)",
                match c.worse {
                    Worse::Higher => "higher",
                    Worse::Lower => "lower",
                }
            )
        } else {
            "ok".to_string()
        };
        s.push_str(&format!(
            "| {} | {} | {} | {:.6} | {:.6} | {} | {} | {} |\n",
            c.scenario, c.policy, c.metric, c.value, v.current, change, tol, verdict
        ));
    }
    s
}

/// `--update`: the same checks with the current values.
pub fn update(results: &Path, baseline: &Path) -> Result<usize> {
    let mut b = load(baseline)?;
    let summary = Summary::read(results)?;
    for c in &mut b.check {
        let v = summary.values(&c.scenario, &c.policy, &c.metric)?.ok_or_else(|| {
            BadInput(format!(
                "{}: no run of `{}` on `{}` (named in the baseline)",
                results.display(),
                c.policy,
                c.scenario
            ))
        })?;
        c.value = mean(&v);
    }
    write(baseline, &b)?;
    Ok(b.check.len())
}

/// `--init`: a check per (scenario, policy) and metric `reports::metrics` marks for regress,
/// relative tolerance = max(1 %, 2 × the standard error of the mean over the
/// seeds): a change smaller than what redrawing the seeds could cause passes.
pub fn init(results: &Path, baseline: &Path) -> Result<usize> {
    let summary = Summary::read(results)?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (s, p) in summary.scenario.iter().zip(&summary.policy) {
        let p = (s.clone(), p.clone());
        if !pairs.contains(&p) {
            pairs.push(p);
        }
    }
    let mut check = Vec::new();
    // The bound is the yardstick the gaps are measured with, not a policy to check.
    for (s, p) in pairs.iter().filter(|(_, p)| p != crate::run::BOUND) {
        for metric in reports::metrics::regress_init() {
            let m = metric.column;
            let v = summary.values(s, p, m)?.unwrap_or_default();
            let n = v.len() as f64;
            let mu = mean(&v);
            if !mu.is_finite() {
                continue;
            }
            let sd = (v.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
            let se = sd / n.sqrt();
            // A gap is already relative (to the bound): its tolerance is absolute,
            // max(0.01, 2 SE), one point of the bound.
            let (tol, kind) = if m == "gap_to_bound" {
                ((2.0 * se).max(0.01), ToleranceKind::Absolute)
            } else {
                (if mu.abs() > 1e-12 { (2.0 * se / mu.abs()).max(0.01) } else { 0.01 }, ToleranceKind::Relative)
            };
            check.push(Check {
                scenario: s.clone(),
                policy: p.clone(),
                metric: m.to_string(),
                value: mu,
                tolerance: (tol * 1e4).ceil() / 1e4,
                tolerance_kind: kind,
                worse: match metric.better {
                    reports::metrics::Better::Higher => Worse::Lower,
                    _ => Worse::Higher,
                },
            });
        }
    }
    let n = check.len();
    write(baseline, &Baseline { check })?;
    Ok(n)
}

fn write(path: &Path, b: &Baseline) -> Result<()> {
    let body = toml::to_string(b).context("serialising the baseline")?;
    let text = format!(
        "# edgebench regression baseline: `edgebench regress --results DIR --baseline {}`.\n# Each check: mean over seeds of `metric` for (scenario, policy); it fails when the\n# current mean is worse than `value` by more than `tolerance` (absolute, or relative\n# to `value`). `--update` rewrites the values and keeps the tolerances.\n\n{body}",
        path.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default()
    );
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
