//! Metrics of one (scenario, policy, seed) run (spec section 7), accumulated
//! slot by slot so that a run never holds more than its summary.

use crate::sim::SlotOutcome;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub slots: usize,
    pub tasks: usize,
    /// Mean and p95 of `T` over executed tasks (met or late), ms; NaN when none ran.
    pub mean_delay_ms: f64,
    pub p95_delay_ms: f64,
    pub interruption_rate: f64,
    /// Maximal runs of consecutive interrupted slots of one terminal, per 100 tasks.
    pub interruption_events_per_100: f64,
    /// Mean length of those runs, slots; NaN when there are none.
    pub mean_interruption_len: f64,
    pub rb_util: f64,
    pub cu_util: f64,
    pub cache_util: f64,
    pub backhaul_gb: f64,
    /// Handovers per terminal per minute of activity.
    pub handovers_per_min: f64,
    /// Sum of slot costs.
    pub cost: f64,
    pub decision_ms_mean: f64,
    pub decision_ms_p95: f64,
}

#[derive(Debug, Clone)]
pub struct MetricsAccumulator {
    slot_s: f64,
    slots: usize,
    tasks: usize,
    delays_s: Vec<f64>,
    interrupted: usize,
    events: usize,
    /// Per terminal, the last slot in which it was interrupted.
    last_interrupted: Vec<Option<usize>>,
    rb_util: f64,
    cu_util: f64,
    cache_util: f64,
    backhaul_bytes: f64,
    handovers: usize,
    cost: f64,
    decision_s: Vec<f64>,
}

/// Nearest-rank percentile (`p` in (0, 1]) of unsorted values; NaN when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

impl MetricsAccumulator {
    pub fn new(terminals: usize, slot_s: f64) -> Self {
        MetricsAccumulator {
            slot_s,
            slots: 0,
            tasks: 0,
            delays_s: Vec::new(),
            interrupted: 0,
            events: 0,
            last_interrupted: vec![None; terminals],
            rb_util: 0.0,
            cu_util: 0.0,
            cache_util: 0.0,
            backhaul_bytes: 0.0,
            handovers: 0,
            cost: 0.0,
            decision_s: Vec::new(),
        }
    }

    pub fn push(&mut self, out: &SlotOutcome, decision_s: f64) {
        self.slots += 1;
        self.tasks += out.tasks.len();
        for t in &out.tasks {
            if let Some(d) = t.delay_s {
                self.delays_s.push(d);
            }
            if t.interrupted {
                self.interrupted += 1;
                // A run continues only through consecutive slots.
                let cont = out.slot > 0 && self.last_interrupted[t.terminal] == Some(out.slot - 1);
                if !cont {
                    self.events += 1;
                }
                self.last_interrupted[t.terminal] = Some(out.slot);
            }
            self.handovers += usize::from(t.handover);
        }
        self.rb_util += out.rb_util;
        self.cu_util += out.cu_util;
        self.cache_util += out.cache_util;
        self.backhaul_bytes += out.backhaul_bytes;
        self.cost += out.cost;
        self.decision_s.push(decision_s);
    }

    pub fn finish(&self) -> Summary {
        let slots = self.slots.max(1) as f64;
        let tasks = self.tasks as f64;
        let per_task = |x: f64| if self.tasks == 0 { f64::NAN } else { x / tasks };
        let minutes = tasks * self.slot_s / 60.0;
        Summary {
            slots: self.slots,
            tasks: self.tasks,
            mean_delay_ms: mean(&self.delays_s) * 1e3,
            p95_delay_ms: percentile(&self.delays_s, 0.95) * 1e3,
            interruption_rate: per_task(self.interrupted as f64),
            interruption_events_per_100: per_task(100.0 * self.events as f64),
            mean_interruption_len: if self.events == 0 {
                f64::NAN
            } else {
                self.interrupted as f64 / self.events as f64
            },
            rb_util: self.rb_util / slots,
            cu_util: self.cu_util / slots,
            cache_util: self.cache_util / slots,
            backhaul_gb: self.backhaul_bytes / 1e9,
            handovers_per_min: if minutes > 0.0 { self.handovers as f64 / minutes } else { f64::NAN },
            cost: self.cost,
            decision_ms_mean: mean(&self.decision_s) * 1e3,
            decision_ms_p95: percentile(&self.decision_s, 0.95) * 1e3,
        }
    }
}
