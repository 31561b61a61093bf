//! Training hyperparameters: what `edgebench train` takes, and what a
//! checkpoint's sidecar records about the training that made it. Apart from
//! `ppo` so that loading a checkpoint for inference does not reach into the
//! training code.

/// Hyperparameters (written into the checkpoint sidecar).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Processes (MPI ranks); `workers` threads each.
    #[serde(default = "one")]
    pub ranks: usize,
    /// Worker threads per rank.
    pub workers: usize,
    pub envs_per_worker: usize,
    /// Slots each environment advances per update.
    pub rollout_steps: usize,
    /// Environment slots in total (all workers).
    pub total_steps: u64,
    pub seed: u64,
    pub gamma: f64,
    pub gae_lambda: f64,
    pub clip: f64,
    pub epochs: usize,
    pub minibatches: usize,
    pub lr: f64,
    pub entropy_coef: f64,
    pub value_coef: f64,
    pub max_grad_norm: f64,
    /// The fine-tuned checkpoint's node logits are divided by this before
    /// training ([`super::net::temper_node_logits`]; 1: as saved).
    #[serde(default = "unit")]
    pub init_temperature: f64,
    /// The decoder asks the cache head about fetches before the tasks, in
    /// training and in the saved checkpoint ([`super::net::Arch::fetch_claims`];
    /// absent: false).
    #[serde(default)]
    pub fetch_claims: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        // Measured on `default` (docs/model.md §9b): one epoch at 3e-3 over
        // 3 M slots beats the former two epochs at 1e-3 over 2 M slots in
        // less wall time; 16 environments per worker give the forward pass
        // larger batches.
        TrainConfig {
            ranks: 1,
            workers: 2,
            envs_per_worker: 16,
            rollout_steps: 16,
            total_steps: 1_000_000,
            seed: 1,
            gamma: 0.95,
            gae_lambda: 0.95,
            clip: 0.2,
            epochs: 1,
            minibatches: 4,
            lr: 3e-3,
            entropy_coef: 0.001,
            value_coef: 0.5,
            max_grad_norm: 0.5,
            init_temperature: 1.0,
            fetch_claims: false,
        }
    }
}

impl TrainConfig {
    pub fn slots_per_update(&self) -> u64 {
        (self.ranks * self.workers * self.envs_per_worker * self.rollout_steps) as u64
    }
    pub fn updates(&self) -> u64 {
        (self.total_steps / self.slots_per_update()).max(1)
    }
    /// Every setting checked, named by its `edgebench train` flag where it has one.
    pub fn check(&self) -> Result<(), String> {
        let positive = [
            ("ranks", self.ranks),
            ("--workers", self.workers),
            ("--envs", self.envs_per_worker),
            ("--rollout", self.rollout_steps),
            ("--epochs", self.epochs),
            ("minibatches", self.minibatches),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("{name}: expected a positive integer, got 0"));
            }
        }
        if self.workers > 64 {
            return Err(format!("--workers: expected at most 64, got {}", self.workers));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("--lr: expected a positive number, got {}", self.lr));
        }
        if !(self.entropy_coef.is_finite() && self.entropy_coef >= 0.0) {
            return Err(format!("--entropy-coef: expected a finite number >= 0, got {}", self.entropy_coef));
        }
        if !(self.gamma > 0.0 && self.gamma < 1.0) {
            return Err(format!("--gamma: expected a number in (0, 1), got {}", self.gamma));
        }
        if !(0.0..=1.0).contains(&self.gae_lambda) {
            return Err(format!("--gae-lambda: expected a number in [0, 1], got {}", self.gae_lambda));
        }
        if !(self.init_temperature.is_finite() && self.init_temperature > 0.0) {
            return Err(format!("--init-temperature: expected a positive number, got {}", self.init_temperature));
        }
        if self.minibatches > self.envs_per_worker * self.rollout_steps {
            return Err(format!(
                "minibatches ({}) must not exceed the slots per worker and update ({})",
                self.minibatches,
                self.envs_per_worker * self.rollout_steps
            ));
        }
        if self.total_steps < self.slots_per_update() {
            return Err(format!(
                "--steps ({}) must be at least one update's worth of slots ({} = ranks × workers × envs × rollout steps)",
                self.total_steps,
                self.slots_per_update()
            ));
        }
        Ok(())
    }
}

fn one() -> usize {
    1
}

fn unit() -> f64 {
    1.0
}
