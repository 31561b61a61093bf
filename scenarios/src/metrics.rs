//! Metrics of one (scenario, policy, seed) run (spec section 7), accumulated
//! slot by slot so that a run never holds more than its summary (the delays
//! for the exact p95 go to a temporary file past [`SPILL_AFTER`] of them).

use std::io::{BufReader, BufWriter, Read, Seek, Write};

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

#[derive(Debug)]
pub struct MetricsAccumulator {
    slot_s: f64,
    slots: usize,
    tasks: usize,
    delays_s: Delays,
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
            delays_s: Delays::default(),
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

    /// The summary; an error only when the delays' temporary file failed.
    pub fn finish(&mut self) -> std::io::Result<Summary> {
        let (mean_delay_s, p95_delay_s) = self.delays_s.mean_and_percentile(0.95)?;
        let slots = self.slots.max(1) as f64;
        let tasks = self.tasks as f64;
        let per_task = |x: f64| if self.tasks == 0 { f64::NAN } else { x / tasks };
        let minutes = tasks * self.slot_s / 60.0;
        Ok(Summary {
            slots: self.slots,
            tasks: self.tasks,
            mean_delay_ms: mean_delay_s * 1e3,
            p95_delay_ms: p95_delay_s * 1e3,
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
        })
    }
}

/// Delays past this many go to a temporary file (8 MB in memory before).
pub const SPILL_AFTER: usize = 1 << 20;

/// Every executed task's delay, in order: in memory, then, past
/// [`SPILL_AFTER`], all in an unnamed temporary file, so that memory does
/// not grow with the run. The mean sums in the same order either way, and
/// the percentile is the same nearest-rank value ([`select_spilled`]).
#[derive(Debug, Default)]
struct Delays {
    memory: Vec<f64>,
    spilled: Option<(BufWriter<std::fs::File>, usize)>,
    sum: f64,
    error: Option<std::io::Error>,
}

impl Delays {
    fn push(&mut self, d: f64) {
        self.sum += d;
        if let Some((file, n)) = &mut self.spilled {
            *n += 1;
            if let Err(e) = file.write_all(&d.to_le_bytes()) {
                self.error.get_or_insert(e);
            }
            return;
        }
        self.memory.push(d);
        if self.memory.len() > SPILL_AFTER {
            // An unnamed file, removed by the system when closed.
            let spill = tempfile::tempfile().and_then(|f| {
                let mut w = BufWriter::new(f);
                self.memory.iter().try_for_each(|d| w.write_all(&d.to_le_bytes()))?;
                Ok(w)
            });
            match spill {
                Ok(w) => {
                    self.spilled = Some((w, self.memory.len()));
                    self.memory = Vec::new();
                }
                // No temporary file: keep them in memory.
                Err(e) => {
                    eprintln!("edgebench: warning: no temporary file for task delays ({e}); keeping them in memory")
                }
            }
        }
    }

    fn count(&self) -> usize {
        self.spilled.as_ref().map_or(self.memory.len(), |(_, n)| *n)
    }

    fn mean_and_percentile(&mut self, p: f64) -> std::io::Result<(f64, f64)> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let n = self.count();
        let mean = if n == 0 { f64::NAN } else { self.sum / n as f64 };
        let Some((w, n)) = &mut self.spilled else {
            return Ok((mean, percentile(&self.memory, p)));
        };
        w.flush()?;
        let file = w.get_mut();
        Ok((mean, select_spilled(file, *n, p)?))
    }
}

/// A key whose unsigned order is `f64::total_cmp`'s.
fn order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

fn from_order_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// [`percentile`] of the `n` little-endian f64 in `file`, in constant
/// memory: the nearest-rank key found 16 bits at a time, a pass each.
fn select_spilled(file: &mut std::fs::File, n: usize, p: f64) -> std::io::Result<f64> {
    if n == 0 {
        return Ok(f64::NAN);
    }
    let mut rank = ((p * n as f64).ceil() as usize).clamp(1, n) as u64;
    let mut prefix = 0u64;
    let mut hist = vec![0u64; 1 << 16];
    for pass in 0..4 {
        let shift = 48 - 16 * pass;
        hist.fill(0);
        file.rewind()?;
        let mut r = BufReader::with_capacity(1 << 16, &mut *file);
        let mut buf = [0u8; 8];
        for _ in 0..n {
            r.read_exact(&mut buf)?;
            let k = order_key(f64::from_le_bytes(buf));
            // Only keys that share the digits found so far.
            if pass == 0 || k >> (shift + 16) == prefix {
                hist[((k >> shift) & 0xffff) as usize] += 1;
            }
        }
        let mut digit = 0;
        for (b, &c) in hist.iter().enumerate() {
            if rank <= c {
                digit = b as u64;
                break;
            }
            rank -= c;
        }
        prefix = prefix << 16 | digit;
    }
    Ok(from_order_key(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_spilled_percentile_is_the_sorted_one(
            values in prop::collection::vec(prop_oneof![any::<f64>().prop_filter("not NaN", |x| !x.is_nan()), Just(0.0), Just(-0.0), Just(1.5)], 1..400),
            p in 0.01f64..=1.0,
        ) {
            let mut file = tempfile::tempfile().unwrap();
            for v in &values {
                file.write_all(&v.to_le_bytes()).unwrap();
            }
            let got = select_spilled(&mut file, values.len(), p).unwrap();
            prop_assert_eq!(got.to_bits(), percentile(&values, p).to_bits());
        }
    }

    #[test]
    fn delays_past_the_spill_point_give_the_same_mean_and_p95() {
        let values: Vec<f64> = (0..SPILL_AFTER + 5000).map(|i| ((i * 7919) % 100_003) as f64 * 1e-4).collect();
        let mut d = Delays::default();
        values.iter().for_each(|&v| d.push(v));
        assert!(d.spilled.is_some() && d.memory.is_empty());
        let (mean, p95) = d.mean_and_percentile(0.95).unwrap();
        assert_eq!(mean, values.iter().sum::<f64>() / values.len() as f64);
        assert_eq!(p95, percentile(&values, 0.95));
    }
}
