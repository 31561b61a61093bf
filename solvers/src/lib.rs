//! edgebench policies. Each implements `scenarios::Policy`; heavy backends
//! (`milp`, `dppo`) come behind cargo features.

pub mod cache_plan;
pub mod greedy;
pub mod local;
pub mod nearest;
pub mod random;

use scenarios::Policy;

/// Policies this build has, in the order results list them.
pub fn available() -> Vec<&'static str> {
    vec!["nearest", "greedy", "local", "random"]
}

/// A fresh policy by name; None when this build does not have it.
pub fn make(name: &str) -> Option<Box<dyn Policy>> {
    Some(match name {
        "nearest" => Box::new(nearest::Nearest::default()),
        "greedy" => Box::new(greedy::Greedy),
        "local" => Box::new(local::Local),
        "random" => Box::new(random::RandomPolicy::default()),
        _ => return None,
    })
}
