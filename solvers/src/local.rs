//! `local`: every task on its own terminal, nothing cached. A sanity bound:
//! no radio, no cache, no interruption but lateness.

use scenarios::{Action, Decision, Environment, Observation, Policy, PolicyError};

#[derive(Debug, Default)]
pub struct Local;

impl Policy for Local {
    fn name(&self) -> &str {
        "local"
    }
    fn decide(&mut self, env: &Environment, obs: &Observation) -> Result<Decision, PolicyError> {
        Ok(Decision { caches: vec![Vec::new(); env.nodes.len()], actions: vec![Action::Local; obs.tasks.len()] })
    }
}
