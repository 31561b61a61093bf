//! Task draws (spec section 2): per-terminal profiles and per-slot tasks,
//! drawn once per (scenario, seed) so that every policy sees the same ones.

use rand::Rng;
use rand_distr::{Distribution, LogNormal};

use crate::catalogue::ModelId;
use crate::config::TerminalsConfig;
use crate::mobility::Trace;

#[derive(Debug, Clone, PartialEq)]
pub struct TerminalProfile {
    /// `f_u`, FLOP/s.
    pub device_flops: f64,
    /// `D_u`, s.
    pub deadline_s: f64,
    /// Index into `terminals.deadline_ms`.
    pub service_class: usize,
}

/// Indexed `[slot · U + terminal]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub terminals: usize,
    pub profiles: Vec<TerminalProfile>,
    pub active: Vec<bool>,
    pub model: Vec<ModelId>,
    pub input_bytes: Vec<f64>,
}

/// Zipf over ranks 1..=n with exponent `s`, as a cumulative table.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Zipf {
        let w: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
        let total: f64 = w.iter().sum();
        let mut acc = 0.0;
        let cdf = w
            .iter()
            .map(|x| {
                acc += x / total;
                acc
            })
            .collect();
        Zipf { cdf }
    }
    pub fn sample<R: Rng>(&self, rng: &mut R) -> usize {
        let x: f64 = rng.gen();
        self.cdf.iter().position(|&c| x < c).unwrap_or(self.cdf.len() - 1)
    }
}

/// Draw profiles and tasks. A slot's task exists when the terminal is present
/// in the trace and its activity draw succeeds. Draws do not depend on the
/// trace's presence pattern (every draw is made for every terminal-slot), so
/// a trace with gaps does not shift the others' tasks.
pub fn draw<R: Rng>(rng: &mut R, cfg: &TerminalsConfig, models: usize, trace: &Trace) -> Workload {
    let u_n = trace.terminals;
    let zipf = Zipf::new(models, cfg.zipf_exponent);
    let lognormal = LogNormal::new((cfg.input_kb_median * 1000.0).ln(), cfg.input_log_sigma.max(0.0))
        .expect("validated lognormal parameters");
    let mut profiles = Vec::with_capacity(u_n);
    let mut current = Vec::with_capacity(u_n);
    for _ in 0..u_n {
        let f = cfg.device_gflops[0] + (cfg.device_gflops[1] - cfg.device_gflops[0]) * rng.gen::<f64>();
        let class = rng.gen_range(0..cfg.deadline_ms.len());
        profiles.push(TerminalProfile {
            device_flops: f * 1e9,
            deadline_s: cfg.deadline_ms[class] / 1000.0,
            service_class: class,
        });
        current.push(zipf.sample(rng));
    }
    let n = trace.slots * u_n;
    let (mut active, mut model, mut input) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for t in 0..trace.slots {
        for (u, cur) in current.iter_mut().enumerate() {
            let on = rng.gen::<f64>() < cfg.activity;
            let switch = rng.gen::<f64>() < cfg.model_switch_prob;
            let fresh = zipf.sample(rng);
            if switch && t > 0 {
                *cur = fresh;
            }
            let bytes = if cfg.input_log_sigma > 0.0 { lognormal.sample(rng) } else { cfg.input_kb_median * 1000.0 };
            active.push(on && trace.is_present(t, u));
            model.push(*cur);
            input.push(bytes.round().max(1.0));
        }
    }
    Workload { terminals: u_n, profiles, active, model, input_bytes: input }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    #[test]
    fn zipf_frequencies_match() {
        let z = Zipf::new(5, 0.8);
        let mut rng = stream(1, "z");
        let mut c = [0usize; 5];
        for _ in 0..100_000 {
            c[z.sample(&mut rng)] += 1;
        }
        // p1 = 1 / Σ k^-0.8 = 1 / 2.5947 = 0.3854.
        assert!((c[0] as f64 / 1e5 - 0.3854).abs() < 0.01, "{c:?}");
        assert!(c.windows(2).all(|w| w[0] > w[1]));
    }
}
