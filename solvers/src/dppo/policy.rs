//! `dppo` as a [`Policy`]: a checkpoint's network, most probable choice in
//! every head (deterministic), one intra-op thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use scenarios::{Decision, Environment, Observation, Policy, PolicyError};
use tch::nn;
use tch::Device;

use super::agent::act;
use super::checkpoint::Checkpoint;
use super::decode::{HeadShape, Pick};
use super::net::import_weights;
use super::net::{Affine, Net};
use super::DppoError;

/// A checkpoint shipped inside the binary: `solvers/checkpoints/<name>.*`
/// (`make train` writes them), embedded at build time, so that a binary
/// copied anywhere runs `dppo` without the source tree.
pub struct Shipped {
    pub name: &'static str,
    pub weights: &'static [u8],
    pub sidecar: &'static str,
}

const SHIPPED: [Shipped; 2] = [
    // Trained on `default` alone (`make train`).
    Shipped {
        name: "default",
        weights: include_bytes!("../../checkpoints/default.safetensors"),
        sidecar: include_str!("../../checkpoints/default.json"),
    },
    // `default`'s fine-tuned on a mixture of world types and sampled worlds
    // (`make train-general`, docs/heldout.md).
    Shipped {
        name: "general",
        weights: include_bytes!("../../checkpoints/general.safetensors"),
        sidecar: include_str!("../../checkpoints/general.json"),
    },
];

/// The shipped checkpoint a scenario without one of its own uses: the one
/// with the higher mean s_lookahead on the presets that use it (`vehicular`,
/// `melbourne`, `dense`), a rule fixed in advance that no held-out score
/// enters (docs/heldout.md "Which checkpoint is the fallback").
const FALLBACK: &str = "default";

/// The checkpoint shipped for a scenario name, else the fallback one.
pub fn shipped_checkpoint(scenario: &str) -> &'static Shipped {
    shipped_named(scenario).or_else(|| shipped_named(FALLBACK)).expect("the fallback is shipped")
}

/// The shipped checkpoint of this name (`--checkpoint shipped:NAME`).
pub fn shipped_named(name: &str) -> Option<&'static Shipped> {
    SHIPPED.iter().find(|s| s.name == name)
}

pub fn shipped_names() -> Vec<&'static str> {
    SHIPPED.iter().map(|s| s.name).collect()
}

/// Where a checkpoint comes from, as `--checkpoint` names it: `shipped:NAME`
/// (one embedded in the binary) or a `.safetensors` file.
pub enum CheckpointSource<'a> {
    Shipped(&'static Shipped),
    File(&'a Path),
}

impl<'a> CheckpointSource<'a> {
    /// `Err` names the unknown shipped checkpoint and the ones there are.
    pub fn parse(spec: &'a Path) -> Result<CheckpointSource<'a>, String> {
        match spec.to_str().and_then(|s| s.strip_prefix("shipped:")) {
            None => Ok(CheckpointSource::File(spec)),
            Some(name) => shipped_named(name).map(CheckpointSource::Shipped).ok_or_else(|| {
                let names: Vec<String> = shipped_names().iter().map(|n| format!("shipped:{n}")).collect();
                format!("shipped:{name}: no such shipped checkpoint; expected one of {}", names.join(", "))
            }),
        }
    }
    /// Checked against the levels of the scenario it will decide in.
    pub fn load(&self, rb_levels: &[u32], cu_levels: &[u32]) -> Result<Checkpoint, DppoError> {
        match self {
            CheckpointSource::Shipped(s) => s.load(rb_levels, cu_levels),
            CheckpointSource::File(p) => super::checkpoint::load(p, rb_levels, cu_levels),
        }
    }
}

impl Shipped {
    /// How errors and notes name it.
    pub fn label(&self) -> PathBuf {
        PathBuf::from(format!("<shipped checkpoint {}.safetensors>", self.name))
    }
    /// Checked against the levels of the scenario it will decide in, as a file is.
    pub fn load(&self, rb_levels: &[u32], cu_levels: &[u32]) -> Result<Checkpoint, DppoError> {
        super::checkpoint::load_bytes(&self.label(), self.weights, self.sidecar, rb_levels, cu_levels)
    }
}

pub struct Dppo {
    // Kept alive: the net's tensors live in it.
    _vs: nn::VarStore,
    net: Net,
    affine: Affine,
}

impl Dppo {
    /// A policy from a loaded checkpoint (checked against the scenario by `checkpoint::load`).
    pub fn new(ckpt: &Arc<Checkpoint>) -> Result<Dppo, DppoError> {
        tch::set_num_threads(1);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = Net::new(&vs.root(), ckpt.sidecar.architecture);
        import_weights(&vs, &ckpt.weights)
            .map_err(|e| DppoError::BadCheckpoint(format!("{}: {e}", ckpt.path.display())))?;
        let affine = ckpt.sidecar.observation_stats.affine();
        Ok(Dppo { _vs: vs, net, affine })
    }
}

impl Policy for Dppo {
    fn name(&self) -> &str {
        "dppo"
    }
    fn decide(&mut self, env: &Environment, obs: &Observation) -> Result<Decision, PolicyError> {
        let shape = HeadShape::of(env);
        let left = env.scenario.config().slots.saturating_sub(obs.slot);
        let mut forward_s = 0.0;
        let mut pick = Pick::<ChaCha8Rng>::Mode;
        let mut out = act(&self.net, &self.affine, env, &shape, &[obs], &[left], &mut pick, None, &mut forward_s);
        Ok(out.pop().expect("one observation, one decision").0)
    }
}
