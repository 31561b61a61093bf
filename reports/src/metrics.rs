//! The summary's metrics as reports and `regress` show and judge them: one
//! entry per metric, the one place of its header, scale, decimals and
//! direction. `summary.md`, the paper tables and `regress --init` are views
//! that list which metrics they show, in their order (a test checks every
//! view names registered metrics).

/// Which way is better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
    /// No ranking (utilisation: more is not better in itself).
    Neither,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    /// The summary frame's column.
    pub column: &'static str,
    /// Markdown header (summary.md and the tables).
    pub header: &'static str,
    /// LaTeX header (the tables).
    pub latex: &'static str,
    /// Shown values are the column times this (fractions as %).
    pub scale: f64,
    /// Decimals in the paper tables, and in summary.md.
    pub decimals: usize,
    pub summary_decimals: usize,
    pub better: Better,
    /// Checked by `regress --init` (never a wall-clock metric: it depends on the machine).
    pub regress: bool,
    /// Panel title and axis label in the figures (None: no figure shows it).
    pub figure: Option<(&'static str, &'static str)>,
}

/// A registry row (positional, so that the table below reads as a table).
#[allow(clippy::too_many_arguments)]
const fn m(
    column: &'static str,
    header: &'static str,
    latex: &'static str,
    scale: f64,
    decimals: usize,
    summary_decimals: usize,
    better: Better,
    regress: bool,
) -> Metric {
    Metric { column, header, latex, scale, decimals, summary_decimals, better, regress, figure: None }
}

impl Metric {
    /// With a figure's panel title and axis label.
    const fn fig(mut self, title: &'static str, axis: &'static str) -> Metric {
        self.figure = Some((title, axis));
        self
    }

    /// The figure's (title, axis label); panics for a metric no figure shows (a bug of the figure code).
    pub fn figure(&self) -> (&'static str, &'static str) {
        self.figure.unwrap_or_else(|| panic!("`{}` has no figure title in the metrics registry", self.column))
    }
}

use Better::{Lower, Neither};

/// (column, header, LaTeX header, scale, decimals in the tables, in summary.md, better, regress --init),
/// then the figure's panel title and axis label where a figure shows the metric.
pub const METRICS: &[Metric] = &[
    m("mean_delay_ms", "mean delay (ms)", "Mean delay (ms)", 1.0, 1, 1, Lower, true)
        .fig("Mean delay", "mean delay of served tasks (ms)"),
    m("p95_delay_ms", "p95 delay (ms)", "P95 delay (ms)", 1.0, 1, 1, Lower, false),
    m("interruption_rate", "interrupted (%)", "Interrupted (\\%)", 100.0, 2, 2, Lower, true)
        .fig("Interruption rate", "interrupted tasks (%)"),
    m("interruption_events_per_100", "events /100", "Events/100", 1.0, 2, 2, Lower, false),
    m("mean_interruption_len", "event len (slots)", "Event length (slots)", 1.0, 2, 2, Lower, false),
    m("rb_util", "RB util (%)", "RB util. (\\%)", 100.0, 1, 1, Neither, false)
        .fig("Resource units", "mean share of units in use (%)"),
    m("cu_util", "CU util (%)", "CU util. (\\%)", 100.0, 1, 1, Neither, false)
        .fig("Compute units", "mean share of units in use (%)"),
    m("cache_util", "cache util (%)", "Cache util. (\\%)", 100.0, 1, 1, Neither, false)
        .fig("Cache", "mean share of cache bytes used (%)"),
    m("backhaul_gb", "backhaul (GB)", "Backhaul (GB)", 1.0, 2, 2, Lower, false),
    m("handovers_per_min", "handovers /min", "Handovers/min", 1.0, 2, 3, Neither, false),
    m("cost", "cost", "Cost", 1.0, 1, 1, Lower, true).fig("Run cost", "run cost"),
    m("gap_to_bound", "gap to bound (%)", "Gap to bound (\\%)", 100.0, 1, 1, Lower, true),
    m("decision_ms_mean", "decide (ms)", "Decide (ms)", 1.0, 3, 3, Lower, false)
        .fig("Decision time per slot", "mean decision time (ms)"),
];

/// The registered metric of `column`.
pub fn metric(column: &str) -> &'static Metric {
    METRICS.iter().find(|m| m.column == column).unwrap_or_else(|| panic!("`{column}` is not a registered metric"))
}

/// `summary.md`'s columns, in order.
pub const SUMMARY_MD: &[&str] = &[
    "mean_delay_ms",
    "p95_delay_ms",
    "interruption_rate",
    "interruption_events_per_100",
    "mean_interruption_len",
    "rb_util",
    "cu_util",
    "cache_util",
    "backhaul_gb",
    "handovers_per_min",
    "cost",
    "gap_to_bound",
    "decision_ms_mean",
];

/// The paper tables' columns, in order.
pub const TABLES: &[&str] = &[
    "mean_delay_ms",
    "p95_delay_ms",
    "interruption_rate",
    "interruption_events_per_100",
    "handovers_per_min",
    "rb_util",
    "cu_util",
    "backhaul_gb",
    "cost",
    "gap_to_bound",
];

/// `regress --init`'s metrics, in the registry's order.
pub fn regress_init() -> impl Iterator<Item = &'static Metric> {
    METRICS.iter().filter(|m| m.regress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_view_names_registered_metrics_once() {
        for view in [SUMMARY_MD, TABLES] {
            for (i, c) in view.iter().enumerate() {
                metric(c);
                assert!(!view[..i].contains(c), "{c} twice");
            }
        }
        // What regress may check is what the tables rank.
        assert!(regress_init().all(|m| m.better != Better::Neither && TABLES.contains(&m.column)));
    }
}
