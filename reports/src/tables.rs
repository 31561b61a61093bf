//! Paper tables from a summary frame: per scenario, one row per policy, each
//! metric as the mean over seeds with a 95 % bootstrap confidence interval,
//! the best value of each column in bold; Markdown and LaTeX (booktabs).

use polars::prelude::*;

use std::sync::LazyLock;

use crate::metrics::{Better, Metric};
use crate::{f64_column, str_column};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The tables' metrics (`metrics::TABLES`, with their registry entries).
pub static TABLE_METRICS: LazyLock<Vec<&'static Metric>> =
    LazyLock::new(|| crate::metrics::TABLES.iter().map(|c| crate::metrics::metric(c)).collect());

/// Columns a summary frame must have for the tables.
pub fn required_columns() -> Vec<&'static str> {
    let mut v = vec!["scenario", "policy", "seed"];
    v.extend(TABLE_METRICS.iter().map(|m| m.column).filter(|c| !crate::OPTIONAL_COLUMNS.contains(c)));
    v
}

/// Mean and 95 % percentile-bootstrap interval of the mean (`resamples`
/// resamples with a fixed seed, so the same values give the same interval).
/// The interval is None with fewer than two values: one seed has no spread.
pub fn bootstrap_mean_ci(values: &[f64], resamples: usize, seed: u64) -> (f64, Option<(f64, f64)>) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, None);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, None);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let means: Vec<f64> =
        (0..resamples).map(|_| (0..n).map(|_| values[rng.gen_range(0..n)]).sum::<f64>() / n as f64).collect();
    (mean, Some(percentile_interval(means)))
}

/// The 2.5 % and 97.5 % percentiles of bootstrap statistics (nearest rank).
pub(crate) fn percentile_interval(mut stats: Vec<f64>) -> (f64, f64) {
    stats.sort_by(f64::total_cmp);
    let last = stats.len() - 1;
    let q = |p: f64| stats[((p * last as f64).round() as usize).min(last)];
    (q(0.025), q(0.975))
}

/// One cell: mean and interval over seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub mean: f64,
    pub ci: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioTable {
    pub scenario: String,
    pub seeds: usize,
    pub policies: Vec<String>,
    /// `cells[policy][metric]`.
    pub cells: Vec<Vec<Cell>>,
}

/// Build the tables of a summary frame (one row per scenario, policy, seed).
pub fn build_tables(summary: &DataFrame) -> PolarsResult<Vec<ScenarioTable>> {
    let scen = str_column(summary, "scenario")?;
    let pol = str_column(summary, "policy")?;
    let seeds = f64_column(summary, "seed")?;
    let metrics: Vec<Vec<f64>> =
        TABLE_METRICS.iter().map(|m| f64_column(summary, m.column)).collect::<PolarsResult<_>>()?;
    let mut tables: Vec<ScenarioTable> = Vec::new();
    for s in scen.iter() {
        if tables.iter().any(|t| &t.scenario == s) {
            continue;
        }
        let rows: Vec<usize> = (0..scen.len()).filter(|&i| &scen[i] == s).collect();
        let mut policies: Vec<String> = Vec::new();
        for &i in &rows {
            if !policies.contains(&pol[i]) {
                policies.push(pol[i].clone());
            }
        }
        let mut seed_set: Vec<i64> = rows.iter().map(|&i| seeds[i] as i64).collect();
        seed_set.sort_unstable();
        seed_set.dedup();
        let cells = policies
            .iter()
            .map(|p| {
                let mine: Vec<usize> = rows.iter().copied().filter(|&i| &pol[i] == p).collect();
                metrics
                    .iter()
                    .enumerate()
                    .map(|(k, col)| {
                        let vals: Vec<f64> = mine.iter().map(|&i| col[i]).filter(|v| v.is_finite()).collect();
                        let (mean, ci) = bootstrap_mean_ci(&vals, 2000, 0x7ab1e + k as u64);
                        Cell { mean, ci }
                    })
                    .collect()
            })
            .collect();
        tables.push(ScenarioTable { scenario: s.clone(), seeds: seed_set.len(), policies, cells });
    }
    Ok(tables)
}

/// Per metric, the rows holding the best mean among the policies (ties all
/// count; none where the metric has no direction or no value; the bound's
/// row is a floor, not a contender).
fn best_rows(t: &ScenarioTable) -> Vec<Vec<usize>> {
    let contenders: Vec<usize> = (0..t.policies.len()).filter(|&i| t.policies[i] != crate::BOUND).collect();
    TABLE_METRICS
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let means = contenders.iter().map(|&i| t.cells[i][k].mean).filter(|v| v.is_finite());
            let best = match m.better {
                Better::Lower => means.fold(f64::INFINITY, f64::min),
                Better::Higher => means.fold(f64::NEG_INFINITY, f64::max),
                Better::Neither => return Vec::new(),
            };
            if !best.is_finite() {
                return Vec::new();
            }
            let tol = 1e-12 * best.abs().max(1.0);
            contenders.iter().copied().filter(|&i| (t.cells[i][k].mean - best).abs() <= tol).collect()
        })
        .collect()
}

fn fmt_cell(c: &Cell, scale: f64, dec: usize, latex: bool) -> String {
    if !c.mean.is_finite() {
        return if latex { "--".into() } else { "–".into() };
    }
    let m = format!("{:.*}", dec, c.mean * scale);
    match c.ci {
        Some((lo, hi)) if latex => format!("{m} {{\\scriptsize [{:.*}, {:.*}]}}", dec, lo * scale, dec, hi * scale),
        Some((lo, hi)) => format!("{m} [{:.*}, {:.*}]", dec, lo * scale, dec, hi * scale),
        None => m,
    }
}

/// Markdown: one table per scenario.
pub fn markdown(tables: &[ScenarioTable]) -> String {
    let mut s = String::new();
    for t in tables {
        s.push_str(&format!(
            "## Scenario `{}` ({} seed{})\n\n",
            t.scenario,
            t.seeds,
            if t.seeds == 1 { "" } else { "s" }
        ));
        if t.seeds < 2 {
            s.push_str("One seed: confidence intervals are not available (no spread to resample).\n\n");
        } else {
            s.push_str("Mean over seeds [95 % bootstrap confidence interval]; best in bold.\n\n");
        }
        s.push_str("| policy |");
        for m in TABLE_METRICS.iter() {
            s.push_str(&format!(" {} |", m.header));
        }
        s.push_str("\n|:--|");
        s.push_str(&"--:|".repeat(TABLE_METRICS.len()));
        s.push('\n');
        let best = best_rows(t);
        for (i, p) in t.policies.iter().enumerate() {
            s.push_str(&format!("| {p} |"));
            for (k, m) in TABLE_METRICS.iter().enumerate() {
                let v = fmt_cell(&t.cells[i][k], m.scale, m.decimals, false);
                if best[k].contains(&i) {
                    s.push_str(&format!(" **{v}** |"));
                } else {
                    s.push_str(&format!(" {v} |"));
                }
            }
            s.push('\n');
        }
        s.push('\n');
    }
    s
}

pub(crate) fn latex_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '_' | '%' | '&' | '#' | '$' | '{' | '}' => format!("\\{c}"),
            '~' => "\\textasciitilde{}".into(),
            '^' => "\\textasciicircum{}".into(),
            '\\' => "\\textbackslash{}".into(),
            c => c.to_string(),
        })
        .collect()
}

/// LaTeX: one `table` per scenario (needs `\usepackage{booktabs}` and `\usepackage{graphicx}`).
pub fn latex(tables: &[ScenarioTable]) -> String {
    let mut s =
        String::from("% Generated by edgebench report. Needs \\usepackage{booktabs} and \\usepackage{graphicx}.\n");
    for t in tables {
        let ci = if t.seeds < 2 {
            "one seed, confidence intervals not available".to_string()
        } else {
            format!("mean over {} seeds with 95\\,\\% bootstrap confidence intervals; best in bold", t.seeds)
        };
        s.push_str("\\begin{table}[t]\n\\centering\n\\scriptsize\n\\setlength{\\tabcolsep}{3pt}\n");
        s.push_str(&format!("\\caption{{Scenario \\texttt{{{}}}: {ci}.}}\n", latex_escape(&t.scenario)));
        s.push_str(&format!("\\label{{tab:{}}}\n", t.scenario.replace(|c: char| !c.is_ascii_alphanumeric(), "-")));
        // Scaled to the text width: nine metrics with intervals are wider than a page.
        s.push_str(&format!(
            "\\resizebox{{\\linewidth}}{{!}}{{%\n\\begin{{tabular}}{{l{}}}\n\\toprule\n",
            "r".repeat(TABLE_METRICS.len())
        ));
        s.push_str("Policy");
        for m in TABLE_METRICS.iter() {
            s.push_str(&format!(" & {}", m.latex));
        }
        s.push_str(" \\\\\n\\midrule\n");
        let best = best_rows(t);
        for (i, p) in t.policies.iter().enumerate() {
            s.push_str(&format!("\\texttt{{{}}}", latex_escape(p)));
            for (k, m) in TABLE_METRICS.iter().enumerate() {
                let v = fmt_cell(&t.cells[i][k], m.scale, m.decimals, true);
                if best[k].contains(&i) {
                    s.push_str(&format!(" & \\textbf{{{v}}}"));
                } else {
                    s.push_str(&format!(" & {v}"));
                }
            }
            s.push_str(" \\\\\n");
        }
        s.push_str("\\bottomrule\n\\end{tabular}}\n\\end{table}\n\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_of_a_constant_is_that_constant() {
        let (m, ci) = bootstrap_mean_ci(&[3.0; 5], 500, 1);
        assert_eq!(m, 3.0);
        assert_eq!(ci, Some((3.0, 3.0)));
    }

    #[test]
    fn bootstrap_matches_the_normal_interval_on_a_large_sample() {
        // 0, 1, …, 99: mean 49.5, population σ = 28.866, standard error 2.8866;
        // the percentile interval of the mean is close to 49.5 ± 1.96·2.8866 = [43.84, 55.16].
        let v: Vec<f64> = (0..100).map(f64::from).collect();
        let (m, ci) = bootstrap_mean_ci(&v, 4000, 7);
        let (lo, hi) = ci.unwrap();
        assert_eq!(m, 49.5);
        assert!((lo - 43.84).abs() < 0.6 && (hi - 55.16).abs() < 0.6, "[{lo}, {hi}]");
    }

    #[test]
    fn one_seed_has_no_interval() {
        assert_eq!(bootstrap_mean_ci(&[2.0], 100, 1), (2.0, None));
        let t = ScenarioTable {
            scenario: "s".into(),
            seeds: 1,
            policies: vec!["a".into()],
            cells: vec![vec![Cell { mean: 1.0, ci: None }; TABLE_METRICS.len()]],
        };
        assert!(markdown(std::slice::from_ref(&t)).contains("not available"));
        assert!(latex(&[t]).contains("not available"));
    }

    #[test]
    fn latex_is_a_booktabs_table_with_balanced_braces() {
        let cell = Cell { mean: 1.5, ci: Some((1.0, 2.0)) };
        let t = ScenarioTable {
            scenario: "my_scen".into(),
            seeds: 3,
            policies: vec!["a".into(), "b_x".into()],
            cells: vec![vec![cell.clone(); TABLE_METRICS.len()], vec![Cell { mean: 2.5, ..cell }; TABLE_METRICS.len()]],
        };
        let tex = latex(&[t]);
        for needle in [
            "\\begin{table}",
            "\\begin{tabular}",
            "\\toprule",
            "\\midrule",
            "\\bottomrule",
            "\\end{tabular}",
            "\\end{table}",
            "\\textbf{1.5",
            "b\\_x",
            "my\\_scen",
        ] {
            assert!(tex.contains(needle), "{needle} missing:\n{tex}");
        }
        assert_eq!(tex.matches('{').count(), tex.matches('}').count());
        // Header + 2 rows, each with one cell per metric.
        let rows: Vec<&str> = tex.lines().filter(|l| l.ends_with("\\\\")).collect();
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r.matches(" & ").count() == TABLE_METRICS.len()));
    }
}
