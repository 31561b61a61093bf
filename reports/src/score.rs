//! The normalised score across scenarios and seeds (interquartile mean with a
//! stratified-bootstrap interval, the rliable method) and the paired
//! comparison of every policy with a reference on identical traces.
//!
//! `s = (C_best_heuristic − C) / (C_best_heuristic − C_ref)` per (scenario,
//! seed), where the best heuristic is the cheapest on that seed of the
//! policies that `solvers::registry` lists as heuristics run by default
//! (`nearest`, `greedy`, `local`, `random`), and the reference is one of its
//! score references (the bound, `milp`, `milp-lookahead`; a report has the
//! tables of each one the results hold). 1 = the reference's cost, 0 = the best heuristic's. The
//! per-slot MILP is myopic, so its run cost can be above the best
//! heuristic's; the denominator is then negative and the tables say so.

use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use solvers::registry::score_heuristics;

use crate::{f64_column, str_column};

/// Interquartile mean: the mean of the middle half (⌊n/4⌋ values trimmed at
/// each end, as `scipy.stats.trim_mean(x, 0.25)`, which rliable uses).
pub fn iqm(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let k = v.len() / 4;
    let mid = &v[k..v.len() - k];
    mid.iter().sum::<f64>() / mid.len() as f64
}

/// IQM over all runs and a 95 % percentile interval from a stratified
/// bootstrap: each resample draws, within every scenario, as many seeds as
/// it has, with replacement. None when no scenario has two seeds.
pub fn stratified_iqm_ci(strata: &[Vec<f64>], resamples: usize, seed: u64) -> (f64, Option<(f64, f64)>) {
    let all: Vec<f64> = strata.iter().flatten().copied().collect();
    let point = iqm(&all);
    if strata.iter().all(|s| s.len() < 2) {
        return (point, None);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let stats: Vec<f64> = (0..resamples)
        .map(|_| {
            let sample: Vec<f64> = strata
                .iter()
                .flat_map(|s| (0..s.len()).map(|_| s[rng.gen_range(0..s.len())]).collect::<Vec<_>>())
                .collect();
            iqm(&sample)
        })
        .collect();
    (point, Some(crate::tables::percentile_interval(stats)))
}

/// One policy's normalised score.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    pub policy: String,
    pub runs: usize,
    pub iqm: f64,
    pub ci: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScoreTable {
    /// The policy `s` is normalised against.
    pub reference: String,
    pub rows: Vec<ScoreRow>,
    /// (scenario, seed) pairs whose denominator is not positive (reference not below the best heuristic).
    pub non_positive: usize,
    pub pairs: usize,
}

/// One (scenario, policy) of the paired comparison with the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedRow {
    pub scenario: String,
    pub policy: String,
    /// Mean over seeds of `cost − cost_ref` (same trace, channel and tasks), with its interval.
    pub diff: f64,
    pub ci: Option<(f64, f64)>,
    /// Seeds where the policy's run cost is below the reference's, of `seeds`.
    pub below: usize,
    pub seeds: usize,
}

type Runs = Vec<(String, String, i64, f64)>;

fn runs(summary: &DataFrame) -> PolarsResult<Runs> {
    let scen = str_column(summary, "scenario")?;
    let pol = str_column(summary, "policy")?;
    let seed = f64_column(summary, "seed")?;
    let cost = f64_column(summary, "cost")?;
    Ok((0..scen.len()).map(|i| (scen[i].clone(), pol[i].clone(), seed[i] as i64, cost[i])).collect())
}

fn cost_of(r: &Runs, scen: &str, pol: &str, seed: i64) -> Option<f64> {
    r.iter().find(|x| x.0 == scen && x.1 == pol && x.2 == seed).map(|x| x.3)
}

fn distinct<T: PartialEq + Clone>(it: impl Iterator<Item = T>) -> Vec<T> {
    let mut v = Vec::new();
    for x in it {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}

/// The normalised-score table against `reference`; None without it or without a heuristic.
pub fn normalised_scores(summary: &DataFrame, reference: &str) -> PolarsResult<Option<ScoreTable>> {
    let r = runs(summary)?;
    let scenarios = distinct(r.iter().map(|x| x.0.clone()));
    let policies = distinct(r.iter().map(|x| x.1.clone()));
    let heuristics = score_heuristics();
    if !policies.iter().any(|p| p == reference) || !policies.iter().any(|p| heuristics.contains(&p.as_str())) {
        return Ok(None);
    }
    let (mut non_positive, mut pairs) = (0, 0);
    let mut strata: Vec<Vec<Vec<f64>>> = vec![Vec::new(); policies.len()];
    for s in &scenarios {
        let seeds = distinct(r.iter().filter(|x| &x.0 == s).map(|x| x.2));
        let mut per_policy: Vec<Vec<f64>> = vec![Vec::new(); policies.len()];
        for &seed in &seeds {
            let best = heuristics.iter().filter_map(|h| cost_of(&r, s, h, seed)).fold(f64::INFINITY, f64::min);
            let Some(reference) = cost_of(&r, s, reference, seed) else { continue };
            if !best.is_finite() {
                continue;
            }
            pairs += 1;
            if best - reference <= 0.0 {
                non_positive += 1;
            }
            for (k, p) in policies.iter().enumerate() {
                if let Some(c) = cost_of(&r, s, p, seed) {
                    per_policy[k].push((best - c) / (best - reference));
                }
            }
        }
        for (k, v) in per_policy.into_iter().enumerate() {
            if !v.is_empty() {
                strata[k].push(v);
            }
        }
    }
    let rows = policies
        .iter()
        .zip(&strata)
        .map(|(p, st)| {
            let (iqm, ci) = stratified_iqm_ci(st, 2000, 0x5c0e);
            ScoreRow { policy: p.clone(), runs: st.iter().map(Vec::len).sum(), iqm, ci }
        })
        .collect();
    Ok(Some(ScoreTable { reference: reference.to_string(), rows, non_positive, pairs }))
}

/// Paired comparison with the MILP per scenario; empty without `milp`.
pub fn paired_vs(summary: &DataFrame, reference: &str) -> PolarsResult<Vec<PairedRow>> {
    let r = runs(summary)?;
    let mut out = Vec::new();
    for s in distinct(r.iter().map(|x| x.0.clone())) {
        let seeds = distinct(r.iter().filter(|x| x.0 == s && x.1 == reference).map(|x| x.2));
        if seeds.is_empty() {
            continue;
        }
        for p in distinct(r.iter().filter(|x| x.0 == s && x.1 != reference).map(|x| x.1.clone())) {
            let diffs: Vec<f64> = seeds
                .iter()
                .filter_map(|&seed| Some(cost_of(&r, &s, &p, seed)? - cost_of(&r, &s, reference, seed)?))
                .collect();
            let (diff, ci) = crate::tables::bootstrap_mean_ci(&diffs, 2000, 0x9a1d);
            let below = diffs.iter().filter(|&&d| d < 0.0).count();
            out.push(PairedRow { scenario: s.clone(), policy: p, diff, ci, below, seeds: diffs.len() });
        }
    }
    Ok(out)
}

/// `x` rounded to `dec` decimals, without a minus sign on zero.
fn num(x: f64, dec: usize) -> String {
    let r = format!("{x:.dec$}");
    if r.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        r.trim_start_matches('-').to_string()
    } else {
        r
    }
}

/// A number for LaTeX: a real minus sign.
fn tex(s: String) -> String {
    match s.strip_prefix('-') {
        Some(r) => format!("$-${r}"),
        None => s,
    }
}

fn interval(ci: Option<(f64, f64)>, dec: usize, latex: bool) -> String {
    let ci =
        ci.map(|(lo, hi)| if latex { (tex(num(lo, dec)), tex(num(hi, dec))) } else { (num(lo, dec), num(hi, dec)) });
    match ci {
        Some((lo, hi)) if latex => format!(" {{\\scriptsize [{lo}, {hi}]}}"),
        Some((lo, hi)) => format!(" [{lo}, {hi}]"),
        None if latex => " {\\scriptsize (CI n/a: one seed)}".into(),
        None => " (CI not available: one seed)".into(),
    }
}

fn score_note(reference: &str) -> String {
    format!("s = (cost of the best heuristic − cost) / (cost of the best heuristic − cost of {reference}) per (scenario, seed); 1 = {reference}, 0 = best heuristic. IQM over all runs, 95 % stratified-bootstrap interval (2 000 resamples; seeds resampled within each scenario).")
}

/// Markdown of both tables against `reference` (empty when the results do not have it).
pub fn markdown(reference: &str, score: Option<&ScoreTable>, paired: &[PairedRow]) -> String {
    let mut s = String::new();
    if let Some(t) = score {
        s.push_str(&format!(
            "## Normalised score against {reference} (all scenarios)\n\n| policy | runs | IQM of s [95 % CI] |\n|:--|--:|--:|\n"
        ));
        for r in &t.rows {
            s.push_str(&format!("| {} | {} | {}{} |\n", r.policy, r.runs, num(r.iqm, 3), interval(r.ci, 3, false)));
        }
        s.push_str(&format!("\n{}\n", score_note(reference)));
        if t.non_positive > 0 {
            let why = if reference == crate::BOUND {
                "the best heuristic is at the bound there"
            } else if reference == "milp" {
                "the per-slot MILP is myopic: docs/model.md §9a"
            } else {
                "it plans from a forecast and is not an optimum of the run: docs/model.md §9a"
            };
            s.push_str(&format!(
                "\n**Caution:** on {} of {} (scenario, seed) pairs the run cost of {reference} is not below the best heuristic's ({why}), so the denominator is not positive and s ranks those runs backwards.\n",
                t.non_positive, t.pairs
            ));
        }
        s.push('\n');
    }
    if !paired.is_empty() {
        s.push_str(&format!("## Paired comparison with {reference} (same trace, channel and tasks)\n\n| scenario | policy | cost − cost of {reference} [95 % CI] | seeds below {reference} |\n|:--|:--|--:|--:|\n"));
        for r in paired {
            s.push_str(&format!(
                "| {} | {} | {}{} | {} of {} |\n",
                r.scenario,
                r.policy,
                num(r.diff, 1),
                interval(r.ci, 1, false),
                r.below,
                r.seeds
            ));
        }
        s.push('\n');
    }
    s
}

/// LaTeX (booktabs) of both tables against `reference`.
pub fn latex(reference: &str, score: Option<&ScoreTable>, paired: &[PairedRow]) -> String {
    let esc = |x: &str| crate::tables::latex_escape(x);
    let name = esc(reference);
    let mut s = String::new();
    if let Some(t) = score {
        s.push_str(&format!("\\begin{{table}}[t]\n\\centering\n\\caption{{Normalised score $s$ against {name} (IQM over scenarios and seeds, 95\\,\\% stratified-bootstrap interval); 1 = {name}, 0 = best heuristic.}}\n\\begin{{tabular}}{{lrr}}\n\\toprule\nPolicy & Runs & IQM of $s$ \\\\\n\\midrule\n"));
        for r in &t.rows {
            s.push_str(&format!(
                "{} & {} & {}{} \\\\\n",
                esc(&r.policy),
                r.runs,
                num(r.iqm, 3),
                interval(r.ci, 3, true)
            ));
        }
        s.push_str("\\bottomrule\n\\end{tabular}\n\\end{table}\n\n");
    }
    if !paired.is_empty() {
        s.push_str(&format!("\\begin{{table}}[t]\n\\centering\n\\caption{{Paired comparison with {name} on identical traces: mean cost difference over seeds (95\\,\\% bootstrap interval) and seeds below {name}.}}\n\\begin{{tabular}}{{llrr}}\n\\toprule\nScenario & Policy & Cost $-$ reference & Below \\\\\n\\midrule\n"));
        for r in paired {
            s.push_str(&format!(
                "{} & {} & {}{} & {}/{} \\\\\n",
                esc(&r.scenario),
                esc(&r.policy),
                tex(num(r.diff, 1)),
                interval(r.ci, 1, true),
                r.below,
                r.seeds
            ));
        }
        s.push_str("\\bottomrule\n\\end{tabular}\n\\end{table}\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iqm_trims_a_quarter_at_each_end() {
        assert_eq!(iqm(&[8.0, 1.0, 2.0, 7.0, 3.0, 6.0, 4.0, 5.0]), 4.5);
        // n = 5: ⌊5/4⌋ = 1 trimmed per side: mean of 2, 3, 100 → 35.
        assert_eq!(iqm(&[1.0, 2.0, 3.0, 100.0, 1000.0]), 35.0);
        assert_eq!(iqm(&[7.0]), 7.0);
    }

    #[test]
    fn stratified_bootstrap_of_constants_and_of_one_seed() {
        let (p, ci) = stratified_iqm_ci(&[vec![0.5; 4], vec![0.5; 3]], 500, 1);
        assert_eq!((p, ci), (0.5, Some((0.5, 0.5))));
        let (p, ci) = stratified_iqm_ci(&[vec![0.2], vec![0.4]], 500, 1);
        assert!((p - 0.3).abs() < 1e-12 && ci.is_none());
    }

    #[test]
    fn stratified_resampling_keeps_each_scenario_in_every_resample() {
        // Scenario A scores 0 on every seed, B scores 1: every resample has 4
        // of each, so every resample's IQM is 0.5 and the interval is a point.
        let (p, ci) = stratified_iqm_ci(&[vec![0.0; 4], vec![1.0; 4]], 1000, 3);
        assert_eq!(p, 0.5);
        assert_eq!(ci, Some((0.5, 0.5)));
    }

    #[test]
    fn scores_and_paired_differences_from_a_summary() {
        let df = df!(
            "scenario" => ["a", "a", "a", "a", "a", "a"],
            "policy" => ["milp", "greedy", "x", "milp", "greedy", "x"],
            "seed" => [1i64, 1, 1, 2, 2, 2],
            "cost" => [10.0, 20.0, 15.0, 10.0, 30.0, 30.0],
        )
        .unwrap();
        let t = normalised_scores(&df, "milp").unwrap().unwrap();
        let x = t.rows.iter().find(|r| r.policy == "x").unwrap();
        // seed 1: (20 − 15)/(20 − 10) = 0.5; seed 2: 0.
        assert!((x.iqm - 0.25).abs() < 1e-12);
        assert_eq!(t.non_positive, 0);
        let p = paired_vs(&df, "milp").unwrap();
        let x = p.iter().find(|r| r.policy == "x").unwrap();
        assert_eq!((x.diff, x.below, x.seeds), (12.5, 0, 2));
    }

    #[test]
    fn the_lookahead_reference_gets_its_own_tables() {
        let df = df!(
            "scenario" => ["a", "a", "a", "a"],
            "policy" => ["milp-lookahead", "greedy", "x", "milp"],
            "seed" => [1i64, 1, 1, 1],
            "cost" => [10.0, 20.0, 12.0, 40.0],
        )
        .unwrap();
        let t = normalised_scores(&df, "milp-lookahead").unwrap().unwrap();
        let x = t.rows.iter().find(|r| r.policy == "x").unwrap();
        // (20 − 12)/(20 − 10) = 0.8; against the per-slot milp the denominator is negative.
        assert!((x.iqm - 0.8).abs() < 1e-12 && t.non_positive == 0);
        assert_eq!(normalised_scores(&df, "milp").unwrap().unwrap().non_positive, 1);
        let paired = paired_vs(&df, "milp-lookahead").unwrap();
        let md = markdown("milp-lookahead", Some(&t), &paired);
        assert!(md.contains("## Normalised score against milp-lookahead"), "{md}");
        assert!(md.contains("## Paired comparison with milp-lookahead"), "{md}");
        assert!(!md.contains("Caution"), "{md}");
        let none = df!("scenario" => ["a"], "policy" => ["greedy"], "seed" => [1i64], "cost" => [1.0]).unwrap();
        assert!(normalised_scores(&none, "milp-lookahead").unwrap().is_none());
    }
}
