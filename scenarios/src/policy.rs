//! The seam between the simulator and the policies of `solvers`.

use thiserror::Error;

use crate::sim::{Decision, Observation};
use crate::world::Environment;

#[derive(Debug, Error)]
pub enum PolicyError {
    #[error("policy {policy}: {message}")]
    Failed { policy: String, message: String },
}

/// A deployment policy: sees the state at the start of a slot, returns one
/// decision for the whole slot. It must return decisions that pass
/// [`crate::sim::validate`]; the simulator never repairs one.
pub trait Policy: Send {
    fn name(&self) -> &str;
    /// Called once before a run; `seed` is the run's policy seed (for
    /// policies that sample). Default: nothing to reset.
    fn reset(&mut self, _env: &Environment, _seed: u64) {}
    fn decide(&mut self, env: &Environment, obs: &Observation) -> Result<Decision, PolicyError>;
}
