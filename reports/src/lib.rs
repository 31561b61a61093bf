//! Tables (and, later, figures) drawn from saved result frames only, so that
//! a report can be regenerated without re-running anything.

pub mod figures;
pub mod html;
pub mod metrics;
pub mod score;
pub mod tables;

/// The summary row that holds the clairvoyant lower bound (its `cost`), not a policy.
pub use solvers::registry::BOUND;

use polars::prelude::*;

/// One row per (scenario, policy): the mean over seeds of each metric.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyMeans {
    pub scenario: String,
    pub policy: String,
    pub seeds: usize,
    /// Metric name → mean over seeds (NaN when every seed is empty).
    pub values: Vec<(String, f64)>,
}

/// Columns a summary may lack (written before they existed): read as empty.
pub const OPTIONAL_COLUMNS: &[&str] = &["gap_to_bound"];

/// A column as f64 values (null → NaN), whatever its numeric type; an
/// optional column that is missing reads as all NaN.
pub fn f64_column(df: &DataFrame, name: &str) -> PolarsResult<Vec<f64>> {
    if OPTIONAL_COLUMNS.contains(&name) && df.column(name).is_err() {
        return Ok(vec![f64::NAN; df.height()]);
    }
    let c = df.column(name)?.cast(&DataType::Float64)?;
    let ca = c.f64()?;
    Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or(f64::NAN)).collect())
}

/// A column as strings (null → "").
pub fn str_column(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    let ca = c.str()?;
    Ok((0..ca.len()).map(|i| ca.get(i).unwrap_or("").to_string()).collect())
}

/// Group a summary frame (one row per scenario, policy, seed) by (scenario, policy), first-seen order.
pub fn policy_means(summary: &DataFrame) -> PolarsResult<Vec<PolicyMeans>> {
    let scen = str_column(summary, "scenario")?;
    let pol = str_column(summary, "policy")?;
    let metrics: Vec<(&str, Vec<f64>)> =
        metrics::SUMMARY_MD.iter().map(|c| Ok((*c, f64_column(summary, c)?))).collect::<PolarsResult<_>>()?;
    let mut out: Vec<PolicyMeans> = Vec::new();
    let mut rows: Vec<Vec<usize>> = Vec::new();
    for i in 0..summary.height() {
        match out.iter().position(|g| g.scenario == scen[i] && g.policy == pol[i]) {
            Some(k) => rows[k].push(i),
            None => {
                out.push(PolicyMeans {
                    scenario: scen[i].clone(),
                    policy: pol[i].clone(),
                    seeds: 0,
                    values: Vec::new(),
                });
                rows.push(vec![i]);
            }
        }
    }
    for (g, idx) in out.iter_mut().zip(&rows) {
        g.seeds = idx.len();
        for (name, col) in &metrics {
            let vals: Vec<f64> = idx.iter().map(|&i| col[i]).filter(|v| !v.is_nan()).collect();
            let mean = if vals.is_empty() { f64::NAN } else { vals.iter().sum::<f64>() / vals.len() as f64 };
            g.values.push((name.to_string(), mean));
        }
    }
    Ok(out)
}

/// `summary.md`: per scenario, one row per policy, means over seeds.
pub fn summary_markdown(summary: &DataFrame, seeds: &[u64]) -> PolarsResult<String> {
    let groups = policy_means(summary)?;
    let mut s = String::new();
    let mut scenarios: Vec<&str> = Vec::new();
    for g in &groups {
        if !scenarios.contains(&g.scenario.as_str()) {
            scenarios.push(&g.scenario);
        }
    }
    let seed_list: Vec<String> = seeds.iter().map(u64::to_string).collect();
    for sc in scenarios {
        s.push_str(&format!("## Scenario `{sc}`: mean over seeds {}\n\n", seed_list.join(", ")));
        s.push_str("| policy |");
        for c in metrics::SUMMARY_MD {
            s.push_str(&format!(" {} |", metrics::metric(c).header));
        }
        s.push_str("\n|:--|");
        s.push_str(&"--:|".repeat(metrics::SUMMARY_MD.len()));
        s.push('\n');
        for g in groups.iter().filter(|g| g.scenario == sc) {
            s.push_str(&format!("| {} |", g.policy));
            for (c, (_, v)) in metrics::SUMMARY_MD.iter().zip(&g.values) {
                let m = metrics::metric(c);
                if v.is_nan() {
                    s.push_str(" – |");
                } else {
                    s.push_str(&format!(" {:.*} |", m.summary_decimals, v * m.scale));
                }
            }
            s.push('\n');
        }
        s.push('\n');
    }
    s.push_str("Cost: sum over slots of task costs (T/D when met, ω when interrupted) plus β per GB of backhaul; lower is better.\n");
    if groups.iter().any(|g| g.policy == BOUND) {
        s.push_str("`bound`: the clairvoyant lower bound on the run cost (no policy, online or offline, can cost less; docs/model.md §9c); gap to bound = (cost − bound)/bound.\n");
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_group_by_policy_and_skip_missing() {
        let n = 3;
        let mut cols =
            vec![Column::new("scenario".into(), vec!["s"; n]), Column::new("policy".into(), vec!["a", "b", "a"])];
        for c in metrics::SUMMARY_MD {
            let v: Vec<Option<f64>> = if *c == "mean_delay_ms" {
                vec![Some(10.0), Some(5.0), None]
            } else {
                vec![Some(1.0), Some(2.0), Some(3.0)]
            };
            cols.push(Column::new((*c).into(), v));
        }
        let df = DataFrame::new(n, cols).unwrap();
        let g = policy_means(&df).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].policy, "a");
        assert_eq!(g[0].seeds, 2);
        assert_eq!(g[0].values[0], ("mean_delay_ms".to_string(), 10.0));
        assert_eq!(g[0].values[2].1, 2.0);
        let md = summary_markdown(&df, &[1, 2]).unwrap();
        assert!(md.contains("| a |") && md.contains("| b |"), "{md}");
    }
}
