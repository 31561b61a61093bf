//! Figures from saved frames (plotters), each written as SVG and PNG.
//!
//! One colour and one marker per policy in every figure ([`policy_style`]),
//! axis labels with units, legends placed away from the data. Text uses the
//! DejaVu Sans font shipped in `reports/assets/` (no system fonts needed).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use polars::prelude::*;

pub use solvers::registry::Marker;

use crate::metrics::{metric, Metric};
use crate::tables::bootstrap_mean_ci;
use crate::{f64_column, str_column};

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            plotters::style::register_font("sans-serif", style, FONT).ok().expect("the shipped font parses");
        }
    });
}

type Res<T> = Result<T, String>;

fn e<E: std::fmt::Display>(err: E) -> String {
    err.to_string()
}

/// The colour and marker of a policy: the registry's (`solvers::registry`),
/// or for a name it does not have (an agent of the user's) the next free
/// ones by the policy's place in the figure.
pub fn policy_style(name: &str, index: usize) -> (RGBColor, Marker) {
    match solvers::registry::info(name) {
        Some(p) => (RGBColor(p.colour[0], p.colour[1], p.colour[2]), p.marker),
        None => {
            // Colours no registry row has.
            let extra = [RGBColor(23, 190, 207), RGBColor(128, 0, 0), RGBColor(0, 128, 128), RGBColor(128, 128, 0)];
            let marks = [Marker::Square, Marker::Triangle, Marker::Diamond, Marker::Cross];
            (extra[index % extra.len()], marks[index % marks.len()])
        }
    }
}

/// Draw a policy's markers at `pts` on `chart`.
macro_rules! markers {
    ($chart:expr, $m:expr, $pts:expr, $c:expr) => {{
        let c: RGBColor = $c;
        let s = c.filled();
        let pts: Vec<(f64, f64)> = $pts.collect();
        match $m {
            Marker::Circle => $chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, s))).map(|_| ()),
            Marker::Triangle => $chart.draw_series(pts.into_iter().map(|p| TriangleMarker::new(p, 5, s))).map(|_| ()),
            Marker::Square => $chart
                .draw_series(pts.into_iter().map(|p| EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], s)))
                .map(|_| ()),
            Marker::Cross => {
                $chart.draw_series(pts.into_iter().map(|p| Cross::new(p, 4, c.stroke_width(2)))).map(|_| ())
            }
            Marker::Diamond => $chart
                .draw_series(
                    pts.into_iter()
                        .map(|p| EmptyElement::at(p) + Polygon::new(vec![(0, -5), (5, 0), (0, 5), (-5, 0)], s)),
                )
                .map(|_| ()),
        }
        .map_err(e)?
    }};
}

/// A legend entry: a short line in the policy's colour.
macro_rules! legend_line {
    ($c:expr) => {{
        let c: RGBColor = $c;
        move |(x, y)| EmptyElement::at((x, y)) + PathElement::new(vec![(-10, 0), (10, 0)], c.stroke_width(2))
    }};
}

/// Draw every curve (line, a marker every `$every(len)` points, legend
/// entry), then the legend at `$pos`.
macro_rules! curves_with_legend {
    ($chart:expr, $curves:expr, $every:expr, $pos:expr, $mix:expr, $font:expr) => {{
        for (p, c, m, pts) in $curves {
            let (c, m) = (*c, *m);
            $chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
                .map_err(e)?
                .label(p.as_str())
                .legend(legend_line!(c));
            let every = $every(pts.len());
            markers!($chart, m, pts.iter().step_by(every).copied(), c);
        }
        $chart
            .configure_series_labels()
            .position($pos)
            .background_style(WHITE.mix($mix))
            .border_style(BLACK)
            .label_font(("sans-serif", $font))
            .draw()
            .map_err(e)?;
    }};
}

/// Write the figure drawn by `$draw` (a closure body using `$root`) as SVG and PNG.
macro_rules! both {
    ($dir:expr, $stem:expr, $size:expr, |$root:ident| $draw:expr) => {{
        let svg = $dir.join(format!("{}.svg", $stem));
        let png = $dir.join(format!("{}.png", $stem));
        {
            let $root = SVGBackend::new(&svg, $size).into_drawing_area();
            $root.fill(&WHITE).map_err(e)?;
            $draw?;
            $root.present().map_err(e)?;
        }
        {
            let $root = BitMapBackend::new(&png, $size).into_drawing_area();
            $root.fill(&WHITE).map_err(e)?;
            $draw?;
            $root.present().map_err(e)?;
        }
        vec![svg, png]
    }};
}

/// What the figures read; every frame is optional but the summary.
pub struct Inputs<'a> {
    pub summary: &'a DataFrame,
    pub tasks: Option<&'a DataFrame>,
    pub train: Option<&'a DataFrame>,
}

fn distinct(v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for x in v {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

fn file_safe(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '=' || c == '.' { c } else { '_' }).collect()
}

/// Render every figure that applies into `dir`; returns the files written.
pub fn render_all(inp: &Inputs<'_>, dir: &Path) -> Res<Vec<PathBuf>> {
    register_font();
    std::fs::create_dir_all(dir).map_err(|err| format!("creating {}: {err}", dir.display()))?;
    let mut files = Vec::new();
    let scen = str_column(inp.summary, "scenario").map_err(e)?;
    let scenarios = distinct(&scen);
    let swept: Vec<String> =
        inp.summary.get_column_names().iter().filter_map(|c| c.strip_prefix("sweep_").map(str::to_string)).collect();
    // Per-scenario figures; a sweep's cells are drawn against the swept parameter instead.
    if swept.is_empty() {
        for s in &scenarios {
            let tag = if scenarios.len() == 1 { String::new() } else { format!("-{}", file_safe(s)) };
            files.extend(ci_bars(inp.summary, s, dir, &tag)?);
            files.extend(utilisation(inp.summary, s, dir, &tag)?);
            if let Some(t) = inp.tasks {
                files.extend(delay_cdf(t, s, dir, &tag)?);
                files.extend(timeline(t, s, dir, &tag)?);
            }
        }
    } else {
        for axis in &swept {
            files.extend(sweep_plot(inp.summary, axis, dir)?);
        }
    }
    if let Some(t) = inp.train {
        files.extend(training_curve(t, inp.summary, dir)?);
    }
    Ok(files)
}

/// Policies in first-seen order with their style.
fn policies_of(names: &[String]) -> Vec<(String, RGBColor, Marker)> {
    distinct(names)
        .into_iter()
        .enumerate()
        .map(|(k, p)| {
            let (c, m) = policy_style(&p, k);
            (p, c, m)
        })
        .collect()
}

fn delay_cdf(tasks: &DataFrame, scenario: &str, dir: &Path, tag: &str) -> Res<Vec<PathBuf>> {
    let scen = str_column(tasks, "scenario").map_err(e)?;
    let pol = str_column(tasks, "policy").map_err(e)?;
    let delay = f64_column(tasks, "delay_ms").map_err(e)?;
    let rows: Vec<usize> = (0..scen.len()).filter(|&i| scen[i] == scenario).collect();
    let names: Vec<String> = rows.iter().map(|&i| pol[i].clone()).collect();
    let mut curves = Vec::new();
    for (p, c, m) in policies_of(&names) {
        let mut d: Vec<f64> =
            rows.iter().filter(|&&i| pol[i] == p).map(|&i| delay[i]).filter(|v| v.is_finite() && *v > 0.0).collect();
        if d.is_empty() {
            continue;
        }
        d.sort_by(f64::total_cmp);
        let n = d.len();
        let step = (n / 300).max(1);
        let mut pts: Vec<(f64, f64)> = (0..n).step_by(step).map(|k| (d[k], (k + 1) as f64 / n as f64)).collect();
        pts.push((d[n - 1], 1.0));
        curves.push((p, c, m, pts));
    }
    if curves.is_empty() {
        return Ok(Vec::new());
    }
    let lo = curves.iter().map(|c| c.3[0].0).fold(f64::INFINITY, f64::min);
    let hi = curves.iter().map(|c| c.3.last().expect("non-empty").0).fold(0.0, f64::max);
    let log = hi / lo > 100.0;
    let files =
        both!(dir, format!("delay-cdf{tag}"), (900, 560), |root| draw_cdf(&root, &curves, lo, hi, log, scenario));
    Ok(files)
}

type Curve = (String, RGBColor, Marker, Vec<(f64, f64)>);
/// (policy, mean, 95 % interval).
type Bar = (String, f64, Option<(f64, f64)>);
/// (slot, node, delay ms, deadline ms, interrupted, decision kind).
type TimelinePoint = (f64, f64, f64, f64, bool, String);

fn draw_cdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    curves: &[Curve],
    lo: f64,
    hi: f64,
    log: bool,
    scenario: &str,
) -> Res<()> {
    let caption = format!("Delay CDF of served tasks — {scenario}");
    let mut b = ChartBuilder::on(root);
    b.caption(caption, ("sans-serif", 22)).margin(12).x_label_area_size(48).y_label_area_size(60);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(if log { "delay (ms, log scale)" } else { "delay (ms)" })
                .y_desc("share of served tasks ≤ delay")
                .label_style(("sans-serif", 15))
                .draw()
                .map_err(e)?;
            curves_with_legend!(chart, curves, |n: usize| (n / 8).max(1), SeriesLabelPosition::LowerRight, 0.9, 15);
        }};
    }
    if log {
        body!(b.build_cartesian_2d((lo * 0.8..hi * 1.25).log_scale(), 0.0..1.02).map_err(e)?);
    } else {
        body!(b.build_cartesian_2d(0.0..hi * 1.05, 0.0..1.02).map_err(e)?);
    }
    Ok(())
}

/// Per policy of a scenario: (mean, CI) of a summary column over seeds.
fn per_policy(summary: &DataFrame, scenario: &str, col: &str) -> Res<Vec<Bar>> {
    let scen = str_column(summary, "scenario").map_err(e)?;
    let pol = str_column(summary, "policy").map_err(e)?;
    let v = f64_column(summary, col).map_err(e)?;
    let rows: Vec<usize> = (0..scen.len()).filter(|&i| scen[i] == scenario).collect();
    let names = distinct(&rows.iter().map(|&i| pol[i].clone()).collect::<Vec<_>>());
    Ok(names
        .into_iter()
        .map(|p| {
            let vals: Vec<f64> =
                rows.iter().filter(|&&i| pol[i] == p).map(|&i| v[i]).filter(|x| x.is_finite()).collect();
            let (m, ci) = bootstrap_mean_ci(&vals, 2000, 0xf16);
            (p, m, ci)
        })
        // A row without the metric (the bound has only a cost) gets no bar.
        .filter(|b| b.1.is_finite())
        .collect())
}

/// One bar panel: a bar per policy (its colour), optional 95 % CI whiskers.
fn bar_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    bars: &[Bar],
    scale: f64,
    y_max: Option<f64>,
) -> Res<()> {
    let n = bars.len();
    let top = y_max.unwrap_or_else(|| {
        bars.iter().map(|b| b.2.map_or(b.1, |c| c.1).max(b.1) * scale).fold(0.0, f64::max).max(1e-9) * 1.15
    });
    let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(62)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0.0..top)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let k = x.round();
            if (x - k).abs() < 1e-6 && k >= 0.0 && (k as usize) < names.len() {
                names[k as usize].clone()
            } else {
                String::new()
            }
        })
        .y_desc(y_desc)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(e)?;
    for (k, (p, m, ci)) in bars.iter().enumerate() {
        let (c, _) = policy_style(p, k);
        let x = k as f64;
        chart
            .draw_series(std::iter::once(Rectangle::new([(x - 0.35, 0.0), (x + 0.35, m * scale)], c.filled())))
            .map_err(e)?;
        if let Some((lo, hi)) = ci {
            let style = BLACK.stroke_width(2);
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(x, lo * scale), (x, hi * scale)], style)))
                .map_err(e)?;
            for y in [lo * scale, hi * scale] {
                chart
                    .draw_series(std::iter::once(PathElement::new(vec![(x - 0.12, y), (x + 0.12, y)], style)))
                    .map_err(e)?;
            }
        }
    }
    Ok(())
}

fn ci_bars(summary: &DataFrame, scenario: &str, dir: &Path, tag: &str) -> Res<Vec<PathBuf>> {
    let [intr, delay, cost] = ["interruption_rate", "mean_delay_ms", "cost"].map(metric);
    let intr_bars = per_policy(summary, scenario, intr.column)?;
    let delay_bars = per_policy(summary, scenario, delay.column)?;
    let cost_bars = per_policy(summary, scenario, cost.column)?;
    let one_seed = intr_bars.iter().all(|b| b.2.is_none());
    let note = if one_seed { " (one seed: no interval)" } else { " (mean, 95 % CI over seeds)" };
    // The bound is a run cost only: it appears in the cost panel (and is named there).
    let cost_title = if cost_bars.iter().any(|b| b.0 == crate::BOUND) {
        format!("{}; bound = clairvoyant floor", cost.figure().0)
    } else {
        cost.figure().0.to_string()
    };
    let files = both!(dir, format!("interruption-delay{tag}"), (1600, 480), |root| {
        let panels = root.split_evenly((1, 3));
        let (t, y) = intr.figure();
        bar_panel(&panels[0], &format!("{t}{note}"), y, &intr_bars, intr.scale, None)
            .and_then(|_| {
                let (t, y) = delay.figure();
                bar_panel(&panels[1], &format!("{t}{note}"), y, &delay_bars, delay.scale, None)
            })
            .and_then(|_| bar_panel(&panels[2], &cost_title, cost.figure().1, &cost_bars, cost.scale, None))
    });
    Ok(files)
}

fn utilisation(summary: &DataFrame, scenario: &str, dir: &Path, tag: &str) -> Res<Vec<PathBuf>> {
    let metrics = ["rb_util", "cu_util", "cache_util"].map(metric);
    let bars = metrics.iter().map(|m| per_policy(summary, scenario, m.column)).collect::<Res<Vec<_>>>()?;
    let files = both!(dir, format!("utilisation{tag}"), (1300, 460), |root| {
        let panels = root.split_evenly((1, 3));
        metrics.iter().zip(&bars).zip(panels.iter()).try_for_each(|((m, b), area)| {
            let (t, y) = m.figure();
            bar_panel(area, t, y, b, m.scale, Some(105.0))
        })
    });
    Ok(files)
}

/// One terminal, first seed: serving node and delay against the deadline, per policy.
fn timeline(tasks: &DataFrame, scenario: &str, dir: &Path, tag: &str) -> Res<Vec<PathBuf>> {
    let scen = str_column(tasks, "scenario").map_err(e)?;
    let pol = str_column(tasks, "policy").map_err(e)?;
    let seed = f64_column(tasks, "seed").map_err(e)?;
    let term = f64_column(tasks, "terminal").map_err(e)?;
    let slot = f64_column(tasks, "slot").map_err(e)?;
    let node = f64_column(tasks, "node").map_err(e)?;
    let delay = f64_column(tasks, "delay_ms").map_err(e)?;
    let deadline = f64_column(tasks, "deadline_ms").map_err(e)?;
    let kind = str_column(tasks, "decision").map_err(e)?;
    let flags = tasks.column("interrupted").map_err(e)?.bool().map_err(e)?.clone();
    let interrupted: Vec<bool> = (0..flags.len()).map(|i| flags.get(i).unwrap_or(false)).collect();
    let rows: Vec<usize> = (0..scen.len()).filter(|&i| scen[i] == scenario).collect();
    let Some(&first) = rows.first() else { return Ok(Vec::new()) };
    let s0 = rows.iter().map(|&i| seed[i]).fold(seed[first], f64::min);
    // The terminal with the most interruptions over all policies (ties: lowest id): the interesting one.
    let mut count: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
    for &i in rows.iter().filter(|&&i| seed[i] == s0) {
        *count.entry(term[i] as i64).or_default() += usize::from(interrupted[i]);
    }
    let Some((&t0, _)) = count.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))) else { return Ok(Vec::new()) };
    let mine: Vec<usize> = rows.iter().copied().filter(|&i| seed[i] == s0 && term[i] as i64 == t0).collect();
    let names = distinct(&mine.iter().map(|&i| pol[i].clone()).collect::<Vec<_>>());
    let n_nodes = mine.iter().map(|&i| node[i]).filter(|v| v.is_finite()).fold(0.0, f64::max) as i64 + 1;
    let max_slot = mine.iter().map(|&i| slot[i]).fold(0.0, f64::max) + 1.0;
    let max_delay = mine.iter().flat_map(|&i| [delay[i], deadline[i]]).filter(|v| v.is_finite()).fold(1.0, f64::max);
    let min_delay = mine.iter().map(|&i| delay[i]).filter(|v| v.is_finite() && *v > 0.0).fold(max_delay, f64::min);
    let data: Vec<(String, Vec<TimelinePoint>)> = names
        .iter()
        .map(|p| {
            let pts = mine
                .iter()
                .filter(|&&i| &pol[i] == p)
                .map(|&i| (slot[i], node[i], delay[i], deadline[i], interrupted[i], kind[i].clone()))
                .collect();
            (p.clone(), pts)
        })
        .collect();
    let height = 170 * data.len() as u32 + 60;
    let title =
        format!("Terminal {t0}, seed {s0}: serving node (left) and delay against its deadline (right) — {scenario}");
    let files = both!(dir, format!("timeline{tag}"), (1400, height), |root| {
        draw_timeline(&root, &title, &data, n_nodes, max_slot, min_delay, max_delay)
    });
    Ok(files)
}

fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    data: &[(String, Vec<TimelinePoint>)],
    n_nodes: i64,
    max_slot: f64,
    min_delay: f64,
    max_delay: f64,
) -> Res<()> {
    let root = root.titled(title, ("sans-serif", 18)).map_err(e)?;
    let rows = root.split_evenly((data.len(), 2));
    for (k, (p, pts)) in data.iter().enumerate() {
        let (c, m) = policy_style(p, k);
        // Left: serving node; local = −1, dropped = −2.
        let mut left = ChartBuilder::on(&rows[2 * k])
            .caption(format!("{p}: serving node"), ("sans-serif", 14))
            .margin(6)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..max_slot, -2.5..n_nodes as f64 - 0.5)
            .map_err(e)?;
        left.configure_mesh()
            .y_labels((n_nodes + 3) as usize)
            .y_label_formatter(&|y| match y.round() as i64 {
                -2 => "drop".into(),
                -1 => "local".into(),
                v if v >= 0 && (y - y.round()).abs() < 1e-6 => format!("node {v}"),
                _ => String::new(),
            })
            .x_desc("slot")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(e)?;
        let y_of = |pt: &TimelinePoint| match pt.5.as_str() {
            "local" => -1.0,
            "drop" => -2.0,
            _ => pt.1,
        };
        markers!(left, m, pts.iter().map(|pt| (pt.0, y_of(pt))), c);
        // Right: delay (log) and deadline; interruptions marked at the top.
        let mut right = ChartBuilder::on(&rows[2 * k + 1])
            .caption(format!("{p}: delay and deadline (× = interrupted)"), ("sans-serif", 14))
            .margin(6)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..max_slot, (min_delay * 0.7..max_delay * 2.0).log_scale())
            .map_err(e)?;
        right
            .configure_mesh()
            .x_desc("slot")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .y_desc("ms (log)")
            .y_labels(5)
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(e)?;
        right.draw_series(LineSeries::new(pts.iter().map(|pt| (pt.0, pt.3)), BLACK.stroke_width(1))).map_err(e)?;
        right
            .draw_series(LineSeries::new(
                pts.iter().filter(|pt| pt.2.is_finite()).map(|pt| (pt.0, pt.2)),
                c.stroke_width(2),
            ))
            .map_err(e)?;
        right
            .draw_series(
                pts.iter()
                    .filter(|pt| pt.4)
                    .map(|pt| Cross::new((pt.0, max_delay * 1.6), 4, RGBColor(0, 0, 0).stroke_width(2))),
            )
            .map_err(e)?;
    }
    Ok(())
}

/// Means over seeds (and other swept parameters) per (policy, axis value).
fn sweep_plot(summary: &DataFrame, axis: &str, dir: &Path) -> Res<Vec<PathBuf>> {
    let pol = str_column(summary, "policy").map_err(e)?;
    let x = f64_column(summary, &format!("sweep_{axis}")).map_err(e)?;
    let [intr, delay, cost, dec] = ["interruption_rate", "mean_delay_ms", "cost", "decision_ms_mean"].map(metric);
    let column = |m: &Metric| f64_column(summary, m.column).map_err(e);
    let mut xs: Vec<f64> = x.clone();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let styles = policies_of(&pol);
    let series = |v: &[f64], scale: f64| -> Vec<Curve> {
        styles
            .iter()
            .map(|(p, c, m)| {
                let pts = xs
                    .iter()
                    .filter_map(|&xv| {
                        let vals: Vec<f64> = (0..pol.len())
                            .filter(|&i| &pol[i] == p && x[i] == xv && v[i].is_finite())
                            .map(|i| v[i])
                            .collect();
                        (!vals.is_empty()).then(|| (xv, scale * vals.iter().sum::<f64>() / vals.len() as f64))
                    })
                    .collect();
                (p.clone(), *c, *m, pts)
            })
            .collect()
    };
    let unit = match axis {
        "terminals" => "terminals",
        "speed" => "terminal speed (m/s)",
        "deadline" => "deadline (ms)",
        "cache" => "cache per node (MiB)",
        other => other,
    };
    let panels = [intr, delay, cost].map(|m| Ok((m.figure(), series(&column(m)?, m.scale))));
    let panels = panels.into_iter().collect::<Res<Vec<_>>>()?;
    let mut files = both!(dir, format!("sweep-{axis}"), (1500, 480), |root| {
        let areas = root.split_evenly((1, 3));
        panels.iter().zip(areas.iter()).try_for_each(|(((t, y), s), a)| line_panel(a, t, unit, y, s, false))
    });
    if axis == "terminals" {
        let d = series(&column(dec)?, dec.scale);
        let (t, y) = dec.figure();
        let y = format!("{}, log scale)", y.trim_end_matches(')'));
        files.extend(both!(dir, "sweep-terminals-decision-time", (800, 520), |root| {
            line_panel(&root, t, unit, &y, &d, true)
        }));
    }
    Ok(files)
}

fn line_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    curves: &[Curve],
    log_y: bool,
) -> Res<()> {
    let pts = curves.iter().flat_map(|c| c.3.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        return Ok(());
    }
    let pad = ((x1 - x0) * 0.05).max(0.5);
    let mut b = ChartBuilder::on(area);
    b.caption(title, ("sans-serif", 18)).margin(10).x_label_area_size(44).y_label_area_size(78);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).label_style(("sans-serif", 14)).draw().map_err(e)?;
            curves_with_legend!(chart, curves, |_: usize| 1, SeriesLabelPosition::UpperLeft, 0.85, 13);
        }};
    }
    if log_y {
        let lo = curves.iter().flat_map(|c| c.3.iter().map(|p| p.1)).filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
        body!(b.build_cartesian_2d(x0 - pad..x1 + pad, (lo.min(y1) * 0.5..y1 * 30.0).log_scale()).map_err(e)?);
    } else {
        // Headroom above the data for the legend (upper left).
        body!(b.build_cartesian_2d(x0 - pad..x1 + pad, (y0.min(0.0))..(y1 * 1.6).max(1e-9)).map_err(e)?);
    }
    Ok(())
}

/// Mean slot cost against environment steps, with the baselines' mean slot costs.
fn training_curve(train: &DataFrame, summary: &DataFrame, dir: &Path) -> Res<Vec<PathBuf>> {
    let steps = f64_column(train, "env_steps").map_err(e)?;
    let cost = f64_column(train, "mean_slot_cost").map_err(e)?;
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    // Smooth over ~1 % of the updates so the trend is visible under sampling noise.
    let w = (steps.len() / 100).max(1);
    let pts: Vec<(f64, f64)> = (0..steps.len())
        .step_by(w)
        .map(|i| {
            let j = (i + w).min(steps.len());
            (steps[j - 1], cost[i..j].iter().sum::<f64>() / (j - i) as f64)
        })
        .collect();
    let pol = str_column(summary, "policy").map_err(e)?;
    let run_cost = f64_column(summary, "cost").map_err(e)?;
    let slots = f64_column(summary, "slots").map_err(e)?;
    let baselines: Vec<(String, RGBColor, f64)> = policies_of(&pol)
        .into_iter()
        .filter(|(p, _, _)| p != "dppo")
        .map(|(p, c, _)| {
            let v: Vec<f64> = (0..pol.len()).filter(|&i| pol[i] == p).map(|i| run_cost[i] / slots[i]).collect();
            (p, c, v.iter().sum::<f64>() / v.len().max(1) as f64)
        })
        .collect();
    // Headroom above the highest line keeps the legend (upper right) off the data.
    let y_max = pts.iter().map(|p| p.1).chain(baselines.iter().map(|b| b.2)).fold(0.0, f64::max) * 1.6;
    let x_max = steps[steps.len() - 1];
    let files =
        both!(dir, "training-curve", (1000, 560), |root| { draw_training(&root, &pts, &baselines, x_max, y_max) });
    Ok(files)
}

fn draw_training<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    pts: &[(f64, f64)],
    baselines: &[(String, RGBColor, f64)],
    x_max: f64,
    y_max: f64,
) -> Res<()> {
    let mut chart = ChartBuilder::on(root)
        .caption("DPPO training: mean slot cost (sampled policy) and the baselines' mean slot cost", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("environment steps (slots, all workers)")
        .y_desc("mean cost per slot")
        .x_label_formatter(&|x| format!("{:.1} M", x / 1e6))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(e)?;
    let (c, m) = policy_style("dppo", 0);
    chart
        .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
        .map_err(e)?
        .label("dppo (training)")
        .legend(legend_line!(c));
    let every = (pts.len() / 10).max(1);
    markers!(chart, m, pts.iter().step_by(every).copied(), c);
    for (p, c, v) in baselines {
        let c = *c;
        chart
            .draw_series(DashedLineSeries::new(vec![(0.0, *v), (x_max, *v)], 8, 5, c.stroke_width(2)))
            .map_err(e)?
            .label(format!("{p} ({v:.1})"))
            .legend(legend_line!(c));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(e)?;
    Ok(())
}
