//! The seam between the simulator and the policies of `solvers`.

use thiserror::Error;

use crate::sim::{Decision, Observation};
use crate::world::Environment;

#[derive(Debug, Error)]
pub enum PolicyError {
    #[error("policy {policy}: {message}")]
    Failed { policy: String, message: String },
}

/// What an optimising policy reports about its last decision (the MILP's
/// solver record; recorded per slot in `slots.parquet`).
#[derive(Debug, Clone, PartialEq)]
pub struct SolverStats {
    /// `optimal`, `gap_limit`, `time_limit` or `fallback`.
    pub status: String,
    /// Objective of the returned solution (NaN for `fallback`).
    pub objective: f64,
    /// Best proven lower bound.
    pub bound: f64,
    /// Relative gap between objective and bound.
    pub gap: f64,
    /// Seconds spent building the model, and in the solver.
    pub build_s: f64,
    pub solve_s: f64,
    pub vars: usize,
    pub binaries: usize,
    pub rows: usize,
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
    /// Solver record of the last `decide`, for policies that solve a model.
    fn stats(&self) -> Option<&SolverStats> {
        None
    }
}
