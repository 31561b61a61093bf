//! edgebench policies. Each implements `scenarios::Policy`; heavy backends
//! (`milp`, `dppo`) come behind cargo features.

pub mod bound;
pub mod cache_plan;
pub mod dppo;
pub mod greedy;
pub mod local;
#[cfg(feature = "milp")]
pub mod milp;
pub mod nearest;
pub mod options;
pub mod random;
pub mod registry;

use scenarios::Policy;

/// Settings of the policies that take any.
#[derive(Debug, Clone, Default)]
pub struct PolicyOptions {
    pub milp: MilpOptions,
    /// The clairvoyant lower bound's windows and limits (not a policy: the harness computes it).
    pub bound: bound::BoundOptions,
    /// The loaded checkpoint `dppo` decides with (required to make `dppo`).
    #[cfg(feature = "dppo")]
    pub dppo: Option<std::sync::Arc<dppo::checkpoint::Checkpoint>>,
}

/// Slots `milp-lookahead` plans over by default, this one included: three
/// times the longest model download of the default catalogue (9.2 s); 60
/// gave the same run cost on `default` (docs/model.md §9a).
pub const LOOKAHEAD_HORIZON_SLOTS: usize = 30;

/// The MILPs' solver settings (plain data, in every build, so that the CLI
/// and the Python package take their defaults from [`MilpOptions::DEFAULT`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MilpOptions {
    /// Wall-clock limit per slot, s.
    pub time_limit_s: f64,
    /// Relative MIP gap at which HiGHS stops.
    pub rel_gap: f64,
    /// Slots `milp-lookahead` plans over, this one included (≥ 2; `milp` ignores it).
    pub horizon_slots: usize,
}

impl MilpOptions {
    /// The one place of the defaults.
    pub const DEFAULT: MilpOptions =
        MilpOptions { time_limit_s: 10.0, rel_gap: 1e-6, horizon_slots: LOOKAHEAD_HORIZON_SLOTS };
}

impl Default for MilpOptions {
    fn default() -> Self {
        MilpOptions::DEFAULT
    }
}

/// Policies that `--policies` accepts but that are not run by default: the
/// ablation `greedy-nocache`, the slow joint form of `milp-lookahead`, and
/// the clairvoyant `milp-oracle` (the registry's rows with `by_default` off).
pub fn on_request() -> Vec<&'static str> {
    registry::names(|p| !p.by_default)
}

/// Policies this build has, runs by default and makes with [`make_with`],
/// in the order results list them (the lower bound, which the harness
/// makes from the world, is not among them).
pub fn available() -> Vec<&'static str> {
    registry::names(|p| p.by_default && !p.from_world)
}

/// Why a policy could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    /// No policy of that name in this build.
    #[error("policy `{0}` is not in this build")]
    Unknown(String),
    /// The policy's own input (a checkpoint) is bad; the message names the
    /// file and what is wrong with it (a tensor's name, shape or dtype).
    #[error("{0}")]
    BadInput(String),
}

/// A fresh policy by name with default settings.
pub fn make(name: &str) -> Result<Box<dyn Policy>, MakeError> {
    make_with(name, &PolicyOptions::default())
}

/// A fresh policy by name.
pub fn make_with(name: &str, _opts: &PolicyOptions) -> Result<Box<dyn Policy>, MakeError> {
    Ok(match name {
        #[cfg(feature = "milp")]
        "milp" => Box::new(milp::Milp::new(_opts.milp)),
        #[cfg(feature = "milp")]
        "milp-lookahead" => Box::new(milp::Milp::lookahead(_opts.milp, milp::PlanSolve::CacheFirst)),
        #[cfg(feature = "milp")]
        "milp-lookahead-joint" => Box::new(milp::Milp::lookahead(_opts.milp, milp::PlanSolve::Joint)),
        #[cfg(feature = "dppo")]
        "dppo" => {
            let checkpoint = _opts
                .dppo
                .as_ref()
                .ok_or_else(|| MakeError::BadInput("policy `dppo` needs a checkpoint (--checkpoint FILE)".into()))?;
            Box::new(dppo::Dppo::new(checkpoint).map_err(|e| MakeError::BadInput(e.to_string()))?)
        }
        "nearest" => Box::new(nearest::Nearest::default()),
        "greedy" => Box::new(greedy::Greedy),
        "greedy-nocache" => Box::new(greedy::GreedyNoCache),
        "local" => Box::new(local::Local),
        "random" => Box::new(random::RandomPolicy::default()),
        _ => return Err(MakeError::Unknown(name.to_string())),
    })
}
