//! The shared actor-critic network (tch) and the observation normaliser.
//!
//! Four small MLPs (hardtanh hidden layers): the option net scores every (task, option) row
//! and gives the level logits of node options; the cut net scores cut rows;
//! the cache net gives one keep logit per (node, model); the critic maps the
//! slot row to a value. All weights are shared across tasks and nodes, so a
//! checkpoint fits any number of terminals and nodes.

use tch::nn;
use tch::{Kind, Tensor};

use super::decode::{Downloads, Evictions, TaskOrder};
use super::features::{Demand, CACHE_DIM, CUT_DIM, CUT_EXTRA, ROW_DIM, TASK_DIM, VALUE_DIM};

/// Initial skip weight from a normalised cost estimate to its logit.
const PRIOR_WEIGHT: f64 = -4.0;

/// Nonlinearity of the hidden layers.
///
/// `hardtanh` (clamp to [−1, 1]) is what training uses: it keeps tanh's
/// bounded outputs, which a test with ReLU showed to matter (docs/model.md
/// §9b), at the cost of a clamp, where libtorch's `tanh` (MKL, high accuracy)
/// was 16 % of all training CPU time. `tanh` remains for checkpoints written
/// before the change (their sidecars have no `activation` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Tanh,
    Hardtanh,
}

impl Activation {
    fn legacy() -> Activation {
        Activation::Tanh
    }
    fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Tanh => x.tanh(),
            Activation::Hardtanh => x.hardtanh(),
        }
    }
}

/// Architecture constants (recorded in the checkpoint sidecar and checked on load).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Arch {
    pub row_dim: usize,
    pub cut_dim: usize,
    pub cache_dim: usize,
    pub value_dim: usize,
    pub hidden: usize,
    pub hidden_small: usize,
    pub rb_levels: usize,
    pub cu_levels: usize,
    #[serde(default = "Activation::legacy")]
    pub activation: Activation,
    /// Decoded decisions get leftover units ([`super::decode::top_up`]), in
    /// training and in evaluation; absent (false) in older sidecars.
    #[serde(default)]
    pub top_up: bool,
    /// Interrupted tasks are served at a node when that lowers the slot's
    /// cost ([`super::decode::rescue`]), before the top-up, in training and
    /// in evaluation; absent (false) in older sidecars.
    #[serde(default)]
    pub rescue: bool,
    /// A free cache choice fetches an absent model only where a task in
    /// reach uses it ([`super::decode::Fetch::InDemand`]), in training and
    /// in evaluation; absent (false, any model) in older sidecars.
    #[serde(default)]
    pub demand_fetch: bool,
    /// The cache rows' demand column is the model's share of the slot's
    /// tasks ([`Demand::Share`]), not their number; absent (false, the
    /// number) in older sidecars.
    #[serde(default)]
    pub demand_share: bool,
    /// Tasks are decoded largest local cost first ([`TaskOrder::Stake`]),
    /// not earliest deadline first; absent (false, the deadline) in older
    /// sidecars.
    #[serde(default)]
    pub stake_order: bool,
    /// A model still downloading is kept until ready ([`Downloads::Held`]);
    /// absent (false, revocable) in older sidecars.
    #[serde(default)]
    pub hold_downloads: bool,
    /// A fetch may not push out more stake than it brings
    /// ([`Evictions::Guarded`]); absent (false, free) in older sidecars.
    #[serde(default)]
    pub guard_evictions: bool,
    /// The cache head is asked about fetches before the tasks decode
    /// ([`super::decode::claim_fetches`]); absent (false, after) in older
    /// sidecars. A decoder setting, not a network one: weights trained
    /// without it decide with it (and may be fine-tuned either way).
    #[serde(default)]
    pub fetch_claims: bool,
}

impl Arch {
    pub fn new(rb_levels: usize, cu_levels: usize) -> Arch {
        Arch {
            row_dim: ROW_DIM,
            cut_dim: CUT_DIM,
            cache_dim: CACHE_DIM,
            value_dim: VALUE_DIM,
            hidden: 64,
            hidden_small: 16,
            rb_levels,
            cu_levels,
            activation: Activation::Hardtanh,
            top_up: true,
            rescue: true,
            demand_fetch: true,
            demand_share: true,
            stake_order: true,
            hold_downloads: true,
            guard_evictions: true,
            fetch_claims: false,
        }
    }
    /// The order in which this network's decoder offers tasks the nodes.
    pub fn task_order(&self) -> TaskOrder {
        if self.stake_order {
            TaskOrder::Stake
        } else {
            TaskOrder::Deadline
        }
    }
    /// What this network's decoder does with a download in progress.
    pub fn downloads(&self) -> Downloads {
        if self.hold_downloads {
            Downloads::Held
        } else {
            Downloads::Revocable
        }
    }
    /// Which fetches this network's decoder offers a task.
    pub fn evictions(&self) -> Evictions {
        if self.guard_evictions {
            Evictions::Guarded
        } else {
            Evictions::Free
        }
    }
    /// What the cache rows' demand column counts for this network.
    pub fn demand(&self) -> Demand {
        if self.demand_share {
            Demand::Share
        } else {
            Demand::Count
        }
    }
    pub fn row_out(&self) -> usize {
        1 + self.rb_levels + self.cu_levels
    }
    /// Every tensor of the network this architecture describes, by name
    /// (tch's `VarStore` names) with its shape: what a checkpoint must hold,
    /// no more and no less. Mirrors [`Net::new`] (checked by a test against
    /// a built `VarStore`).
    pub fn tensor_shapes(&self) -> std::collections::BTreeMap<String, Vec<i64>> {
        let mut out = std::collections::BTreeMap::new();
        let mlps = [
            ("option", self.row_dim, self.hidden_small, self.row_out()),
            ("cut", self.cut_dim, self.hidden_small, 1),
            ("cache", self.cache_dim, self.hidden_small, 1),
            ("value", self.value_dim, self.hidden, 1),
        ];
        for (net, i, h, o) in mlps {
            let (i, h, o) = (i as i64, h as i64, o as i64);
            for (name, shape) in [
                ("l1.weight", vec![h, i]),
                ("l1.bias", vec![h]),
                ("l2.weight", vec![h, h]),
                ("l2.bias", vec![h]),
                ("out.weight", vec![o, h]),
                ("out.bias", vec![o]),
                ("skip.weight", vec![o, i]),
            ] {
                out.insert(format!("{net}.{name}"), shape);
            }
        }
        out
    }
}

/// A two-layer MLP plus a linear skip path from the input to the output
/// ("wide and deep"). The skip path carries the prior: it starts with a few
/// hand-set weights (see [`Net::new`]) and is trained like everything else.
#[derive(Debug)]
struct Mlp {
    l1: nn::Linear,
    l2: nn::Linear,
    out: nn::Linear,
    skip: nn::Linear,
}

impl Mlp {
    /// `prior`: (output, input, weight) entries of the skip path; `out_bias`: initial output biases.
    fn new(
        p: nn::Path,
        input: usize,
        hidden: usize,
        output: usize,
        out_scale: f64,
        prior: &[(usize, usize, f64)],
        out_bias: &[f32],
    ) -> Mlp {
        let (i, h, o) = (input as i64, hidden as i64, output as i64);
        let l1 = nn::linear(&p / "l1", i, h, Default::default());
        let l2 = nn::linear(&p / "l2", h, h, Default::default());
        let out = nn::linear(&p / "out", h, o, Default::default());
        let skip = nn::linear(&p / "skip", i, o, nn::LinearConfig { bias: false, ..Default::default() });
        // A small last layer starts the learned part near zero (standard for PPO).
        tch::no_grad(|| {
            let _ = out.ws.shallow_clone().g_mul_scalar_(out_scale);
            if let Some(b) = &out.bs {
                let mut b = b.shallow_clone();
                let _ = b.zero_();
                if !out_bias.is_empty() {
                    b.copy_(&Tensor::from_slice(out_bias));
                }
            }
            let mut w = skip.ws.shallow_clone();
            let _ = w.zero_();
            for &(r, c, v) in prior {
                let _ = w.get(r as i64).get(c as i64).fill_(v);
            }
        });
        Mlp { l1, l2, out, skip }
    }
    fn forward(&self, x: &Tensor, activation: Activation) -> Tensor {
        let act = |t: Tensor| activation.apply(&t);
        let hidden = act(act(x.apply(&self.l1)).apply(&self.l2));
        // The narrow output layers are computed transposed, `W · hᵀ`: MKL's
        // sgemm is up to 5× slower on `[rows, k] · [k, 10]` (an output width
        // that is not a multiple of its 16-wide kernel) than on `[10, k] · [k,
        // rows]` (measured, docs/model.md §9b). Same function; the rounding
        // differs by ~1e-6.
        let out_t = self.out.ws.matmul(&hidden.tr()) + self.skip.ws.matmul(&x.tr());
        match &self.out.bs {
            Some(b) => out_t.tr() + b,
            None => out_t.tr(),
        }
    }
}

/// The actor-critic. Inputs are normalised rows as `[rows, dim]` tensors.
#[derive(Debug)]
pub struct Net {
    pub arch: Arch,
    option: Mlp,
    cut: Mlp,
    cache: Mlp,
    value: Mlp,
}

/// libtorch's random generator is global to the process, and building a
/// network draws from it. Every constructor holds this lock, so that
/// trainings and policies built in parallel threads (the tests) never take
/// from another's seeded sequence.
static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn torch_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Net {
    /// A fresh network (its random weights are for the caller to overwrite, or to train).
    pub fn new(root: &nn::Path, arch: Arch) -> Net {
        let _rng = torch_rng_lock();
        Net::build(root, arch)
    }

    /// A fresh network whose random weights are drawn from `seed`.
    pub fn seeded(root: &nn::Path, arch: Arch, seed: i64) -> Net {
        let _rng = torch_rng_lock();
        tch::manual_seed(seed);
        Net::build(root, arch)
    }

    /// Its prior (skip-path weights on normalised features): options and
    /// cuts with a lower estimated cost score higher, larger levels score
    /// higher, a model is kept where tasks that use it are strongest and
    /// where it already is. Training adjusts all of it.
    fn build(root: &nn::Path, arch: Arch) -> Net {
        let est_cost = TASK_DIM + 3;
        let cut_cost = ROW_DIM + CUT_EXTRA - 1;
        let ramp = |n: usize| (0..n).map(move |k| 2.0 * k as f32 / (n.max(2) - 1) as f32);
        let mut option_bias = vec![0.0f32];
        option_bias.extend(ramp(arch.rb_levels));
        option_bias.extend(ramp(arch.cu_levels));
        Net {
            arch,
            option: Mlp::new(
                root / "option",
                arch.row_dim,
                arch.hidden_small,
                arch.row_out(),
                0.01,
                &[(0, est_cost, PRIOR_WEIGHT)],
                &option_bias,
            ),
            cut: Mlp::new(root / "cut", arch.cut_dim, arch.hidden_small, 1, 0.01, &[(0, cut_cost, PRIOR_WEIGHT)], &[]),
            cache: Mlp::new(
                root / "cache",
                arch.cache_dim,
                arch.hidden_small,
                1,
                0.01,
                &[(0, 5, 2.0), (0, 0, 1.0)],
                &[],
            ),
            value: Mlp::new(root / "value", arch.value_dim, arch.hidden, 1, 1.0, &[], &[]),
        }
    }
    /// `[rows, row_dim]` → `[rows, row_out]` (node logit, rb logits, cu logits).
    pub fn options(&self, rows: &Tensor) -> Tensor {
        self.option.forward(rows, self.arch.activation)
    }
    /// `[rows, cut_dim]` → `[rows]`.
    pub fn cuts(&self, rows: &Tensor) -> Tensor {
        self.cut.forward(rows, self.arch.activation).squeeze_dim(-1)
    }
    /// `[rows, cache_dim]` → `[rows]`.
    pub fn caches(&self, rows: &Tensor) -> Tensor {
        self.cache.forward(rows, self.arch.activation).squeeze_dim(-1)
    }
    /// `[slots, value_dim]` → `[slots]`.
    pub fn values(&self, rows: &Tensor) -> Tensor {
        self.value.forward(rows, self.arch.activation).squeeze_dim(-1)
    }
}

/// Named tensors, flat: (name, shape, values).
pub type NamedWeights = Vec<(String, Vec<i64>, Vec<f32>)>;

/// A `[rows, dim]` tensor from a flat row-major slice.
pub fn rows_tensor(data: &[f32], dim: usize) -> Tensor {
    Tensor::from_slice(data).view([(data.len() / dim.max(1)) as i64, dim as i64])
}

/// The flat contents of a float tensor.
pub fn to_vec(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(&t.to_kind(Kind::Float).contiguous().view([-1])).expect("float tensor")
}

/// Running mean and variance of one row type, from sums (so that workers'
/// statistics add up exactly in any order they are merged).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunningStats {
    pub count: f64,
    pub sum: Vec<f64>,
    pub sum_sq: Vec<f64>,
}

impl RunningStats {
    pub fn new(dim: usize) -> RunningStats {
        RunningStats { count: 0.0, sum: vec![0.0; dim], sum_sq: vec![0.0; dim] }
    }
    pub fn dim(&self) -> usize {
        self.sum.len()
    }
    pub fn observe(&mut self, rows: &[f32]) {
        let d = self.dim();
        for r in rows.chunks_exact(d) {
            self.count += 1.0;
            for (k, &v) in r.iter().enumerate() {
                self.sum[k] += f64::from(v);
                self.sum_sq[k] += f64::from(v) * f64::from(v);
            }
        }
    }
    /// (mean, 1/std) per feature; a feature with (almost) no spread is only centred.
    pub fn affine(&self) -> (Vec<f32>, Vec<f32>) {
        let n = self.count.max(1.0);
        let mut mean = Vec::with_capacity(self.dim());
        let mut inv = Vec::with_capacity(self.dim());
        for k in 0..self.dim() {
            let m = self.sum[k] / n;
            let var = (self.sum_sq[k] / n - m * m).max(0.0);
            mean.push(m as f32);
            inv.push(if var > 1e-8 { (1.0 / var.sqrt()) as f32 } else { 1.0 });
        }
        (mean, inv)
    }
    /// Flat `count, sum…, sum_sq…` for all-reduce.
    pub fn to_flat(&self, out: &mut Vec<f64>) {
        out.push(self.count);
        out.extend_from_slice(&self.sum);
        out.extend_from_slice(&self.sum_sq);
    }
    pub fn from_flat(&mut self, flat: &[f64]) -> usize {
        let d = self.dim();
        self.count = flat[0];
        self.sum.copy_from_slice(&flat[1..1 + d]);
        self.sum_sq.copy_from_slice(&flat[1 + d..1 + 2 * d]);
        1 + 2 * d
    }
}

/// Observation normalisation of the four row types (saved with the checkpoint).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalizer {
    pub option: RunningStats,
    pub cut: RunningStats,
    pub cache: RunningStats,
    pub value: RunningStats,
}

/// Normalised values are clipped to this range.
const CLIP: f32 = 5.0;

/// The frozen affine maps of a normaliser.
#[derive(Debug, Clone)]
pub struct Affine {
    option: (Vec<f32>, Vec<f32>),
    cut: (Vec<f32>, Vec<f32>),
    cache: (Vec<f32>, Vec<f32>),
    value: (Vec<f32>, Vec<f32>),
}

fn apply(map: &(Vec<f32>, Vec<f32>), rows: &mut [f32]) {
    let d = map.0.len();
    for r in rows.chunks_exact_mut(d) {
        for ((v, m), inv) in r.iter_mut().zip(&map.0).zip(&map.1) {
            *v = ((*v - m) * inv).clamp(-CLIP, CLIP);
        }
    }
}

impl Affine {
    pub fn option(&self, rows: &mut [f32]) {
        apply(&self.option, rows)
    }
    pub fn cut(&self, rows: &mut [f32]) {
        apply(&self.cut, rows)
    }
    pub fn cache(&self, rows: &mut [f32]) {
        apply(&self.cache, rows)
    }
    pub fn value(&self, rows: &mut [f32]) {
        apply(&self.value, rows)
    }
}

impl Normalizer {
    pub fn new() -> Normalizer {
        Normalizer {
            option: RunningStats::new(ROW_DIM),
            cut: RunningStats::new(CUT_DIM),
            cache: RunningStats::new(CACHE_DIM),
            value: RunningStats::new(VALUE_DIM),
        }
    }
    pub fn affine(&self) -> Affine {
        Affine {
            option: self.option.affine(),
            cut: self.cut.affine(),
            cache: self.cache.affine(),
            value: self.value.affine(),
        }
    }
    pub fn to_flat(&self) -> Vec<f64> {
        let mut v = Vec::new();
        for s in [&self.option, &self.cut, &self.cache, &self.value] {
            s.to_flat(&mut v);
        }
        v
    }
    pub fn from_flat(&mut self, flat: &[f64]) {
        let mut at = 0;
        for s in [&mut self.option, &mut self.cut, &mut self.cache, &mut self.value] {
            at += s.from_flat(&flat[at..]);
        }
    }
    pub fn dims_match(&self) -> bool {
        self.option.dim() == ROW_DIM
            && self.cut.dim() == CUT_DIM
            && self.cache.dim() == CACHE_DIM
            && self.value.dim() == VALUE_DIM
    }
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::new()
    }
}

/// Named weights of a var store, sorted by name.
pub fn export_weights(vs: &nn::VarStore) -> NamedWeights {
    let mut v: Vec<_> = vs.variables().into_iter().map(|(name, t)| (name, t.size(), super::net::to_vec(&t))).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Divide the option net's node logit (the first output of its last layer
/// and of its skip path) by `t`. The most probable option of every task
/// stays the same, so a checkpoint decides exactly as before; the sampled
/// policy is flatter (t > 1). A fine-tune from it explores options the
/// checkpoint had all but ruled out: PPO moves a probability only by the
/// clip range per update, so an option sampled once in 10⁵ is never tried
/// often enough to be learned (docs/heldout.md, "Tempered start").
pub fn temper_node_logits(weights: &mut NamedWeights, t: f64) {
    for (name, shape, values) in weights.iter_mut() {
        let first_row = match name.as_str() {
            "option.out.weight" | "option.skip.weight" => shape[1] as usize,
            "option.out.bias" => 1,
            _ => continue,
        };
        for v in &mut values[..first_row] {
            *v = (f64::from(*v) / t) as f32;
        }
    }
}

/// Copy named weights into a var store whose variables have the same names and shapes.
pub fn import_weights(vs: &nn::VarStore, weights: &[(String, Vec<i64>, Vec<f32>)]) -> Result<(), String> {
    let vars = vs.variables();
    if vars.len() != weights.len() {
        return Err(format!("{} tensors, the network has {}", weights.len(), vars.len()));
    }
    for (name, shape, data) in weights {
        let Some(var) = vars.get(name) else { return Err(format!("unknown tensor {name:?}")) };
        if &var.size() != shape {
            return Err(format!("tensor {name:?} has shape {shape:?}, the network expects {:?}", var.size()));
        }
        tch::no_grad(|| var.shallow_clone().copy_(&Tensor::from_slice(data).view(shape.as_slice())));
    }
    Ok(())
}
