//! Task draws (spec section 2): per-terminal profiles and per-slot tasks,
//! the same for every policy of one (scenario, seed).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

use crate::catalogue::ModelId;
use crate::schema::TerminalsConfig;

#[derive(Debug, Clone, PartialEq)]
pub struct TerminalProfile {
    /// `f_u`, FLOP/s.
    pub device_flops: f64,
    /// `D_u`, s.
    pub deadline_s: f64,
    /// Index into `terminals.deadline_ms`.
    pub service_class: usize,
}

/// The terminals' profiles and the start of their task stream, drawn once
/// per (scenario, seed) so that every policy sees the same tasks; the tasks
/// themselves are drawn slot by slot ([`Workload::next_slot`]), so memory
/// does not grow with the number of slots.
#[derive(Debug, Clone)]
pub struct Workload {
    pub profiles: Vec<TerminalProfile>,
    activity: f64,
    model_switch_prob: f64,
    zipf: Zipf,
    /// `None` for a fixed input size.
    input: Option<LogNormal<f64>>,
    input_fixed_bytes: f64,
    /// The stream after the profiles, at slot 0's first draw.
    rng: ChaCha8Rng,
    first_models: Vec<ModelId>,
}

/// Where a replay of the task stream is: the next slot's draws and each
/// terminal's current model.
#[derive(Debug, Clone)]
pub struct TaskStream {
    rng: ChaCha8Rng,
    current: Vec<ModelId>,
    next_slot: usize,
}

/// One slot's tasks, indexed by terminal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlotTasks {
    pub active: Vec<bool>,
    pub model: Vec<ModelId>,
    pub input_bytes: Vec<f64>,
}

/// Zipf over ranks 1..=n with exponent `s`, as a cumulative table.
#[derive(Debug, Clone)]
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

/// Draw the profiles of `terminals` terminals and the start of their tasks.
pub fn draw(mut rng: ChaCha8Rng, cfg: &TerminalsConfig, models: usize, terminals: usize) -> Workload {
    let zipf = Zipf::new(models, cfg.zipf_exponent);
    let lognormal = LogNormal::new((cfg.input_kb_median * 1000.0).ln(), cfg.input_log_sigma.max(0.0))
        .expect("validated lognormal parameters");
    let mut profiles = Vec::with_capacity(terminals);
    let mut first_models = Vec::with_capacity(terminals);
    for _ in 0..terminals {
        let f = cfg.device_gflops[0] + (cfg.device_gflops[1] - cfg.device_gflops[0]) * rng.gen::<f64>();
        let class = rng.gen_range(0..cfg.deadline_ms.len());
        profiles.push(TerminalProfile {
            device_flops: f * 1e9,
            deadline_s: cfg.deadline_ms[class] / 1000.0,
            service_class: class,
        });
        first_models.push(zipf.sample(&mut rng));
    }
    Workload {
        profiles,
        activity: cfg.activity,
        model_switch_prob: cfg.model_switch_prob,
        zipf,
        input: (cfg.input_log_sigma > 0.0).then_some(lognormal),
        input_fixed_bytes: cfg.input_kb_median * 1000.0,
        rng,
        first_models,
    }
}

impl Workload {
    pub fn terminals(&self) -> usize {
        self.profiles.len()
    }
    /// A replay of the tasks from slot 0.
    pub fn stream(&self) -> TaskStream {
        TaskStream { rng: self.rng.clone(), current: self.first_models.clone(), next_slot: 0 }
    }
    /// Draw the next slot's tasks into `out`. A terminal has a task when it
    /// is `present` in the trace and its activity draw succeeds. Every draw is
    /// made for every terminal, so a trace with gaps does not shift the
    /// others' tasks.
    pub fn next_slot(&self, s: &mut TaskStream, present: &[bool], out: &mut SlotTasks) {
        let t = s.next_slot;
        out.active.clear();
        out.model.clear();
        out.input_bytes.clear();
        for (cur, &here) in s.current.iter_mut().zip(present) {
            let on = s.rng.gen::<f64>() < self.activity;
            let switch = s.rng.gen::<f64>() < self.model_switch_prob;
            let fresh = self.zipf.sample(&mut s.rng);
            if switch && t > 0 {
                *cur = fresh;
            }
            let bytes = match &self.input {
                Some(lognormal) => lognormal.sample(&mut s.rng),
                None => self.input_fixed_bytes,
            };
            out.active.push(on && here);
            out.model.push(*cur);
            out.input_bytes.push(bytes.round().max(1.0));
        }
        s.next_slot += 1;
    }
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
