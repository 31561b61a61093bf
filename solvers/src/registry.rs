//! The policies as data: one row per policy (and one for the lower bound,
//! which runs and reports like one). The CLI's lists, the default run, the
//! normalised score's heuristics and references, the figures' styles, the
//! MPI work split and the hot-path benchmark all read this table, so adding
//! a policy is its module, a row here and an arm in [`crate::make_with`].

/// What a policy is, for the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A rule with no optimisation; the cheapest of these is the normalised score's zero.
    Heuristic,
    /// Solves an optimisation model (the MILPs).
    Optimiser,
    /// A trained agent.
    Learned,
    /// Not realisable online: reads the future (the oracle, the lower bound).
    Reference,
}

/// A figure's marker shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Triangle,
    Square,
    Cross,
    Diamond,
}

/// One policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolicyInfo {
    pub name: &'static str,
    pub kind: Kind,
    /// Run when `--policies` is not given; otherwise only on request.
    pub by_default: bool,
    /// The `solvers` cargo feature it needs (None: every build).
    pub feature: Option<&'static str>,
    /// Whether this build has it (the feature is on).
    pub in_build: bool,
    /// Made by the harness from the world (it reads the future), not by [`crate::make_with`].
    pub from_world: bool,
    /// The reports give the normalised score against it when the results hold it.
    pub score_reference: bool,
    /// Colour (RGB) and marker in every figure.
    pub colour: [u8; 3],
    pub marker: Marker,
    /// Relative work of one run, for splitting jobs over MPI ranks (largest
    /// first); from the per-slot decision times on `default` (docs/measurements.md).
    pub work: u64,
}

const fn row(name: &'static str, kind: Kind, by_default: bool, colour: [u8; 3], marker: Marker) -> PolicyInfo {
    PolicyInfo {
        name,
        kind,
        by_default,
        feature: None,
        in_build: true,
        from_world: false,
        score_reference: false,
        colour,
        marker,
        work: 1,
    }
}

const fn milp(mut p: PolicyInfo) -> PolicyInfo {
    p.feature = Some("milp");
    p.in_build = cfg!(feature = "milp");
    p
}

const fn work(mut p: PolicyInfo, work: u64) -> PolicyInfo {
    p.work = work;
    p
}

const fn from_world(mut p: PolicyInfo) -> PolicyInfo {
    p.from_world = true;
    p
}

const fn score_reference(mut p: PolicyInfo) -> PolicyInfo {
    p.score_reference = true;
    p
}

/// The name of the lower bound's rows (not a policy: the harness computes it).
pub const BOUND: &str = "bound";

use Kind::*;
use Marker::*;

/// Every policy, in the order results list them: the default run's first,
/// then those run on request only.
pub const POLICIES: &[PolicyInfo] = &[
    {
        let mut p = work(row("dppo", Learned, true, [214, 39, 40], Circle), 2);
        p.feature = Some("dppo");
        p.in_build = cfg!(feature = "dppo");
        p
    },
    score_reference(milp(work(row("milp", Optimiser, true, [31, 119, 180], Square), 20))),
    score_reference(milp(work(row("milp-lookahead", Optimiser, true, [120, 180, 230], Square), 100))),
    row("nearest", Heuristic, true, [255, 127, 14], Diamond),
    row("greedy", Heuristic, true, [44, 160, 44], Triangle),
    row("local", Heuristic, true, [110, 110, 110], Cross),
    row("random", Heuristic, true, [148, 103, 189], Circle),
    // The bound is listed first among the references of the score (s = 1 at the floor).
    score_reference(from_world(milp(work(row(BOUND, Reference, true, [30, 30, 30], Cross), 50)))),
    // On request: the slow joint planner, the clairvoyant oracle, the cache ablation.
    milp(work(row("milp-lookahead-joint", Optimiser, false, [140, 86, 75], Square), 500)),
    from_world(milp(work(row("milp-oracle", Reference, false, [188, 189, 34], Cross), 100))),
    row("greedy-nocache", Heuristic, false, [227, 119, 194], Triangle),
];

/// The row of a policy, None for a name no policy has.
pub fn info(name: &str) -> Option<&'static PolicyInfo> {
    POLICIES.iter().find(|p| p.name == name)
}

/// Names of this build's policies that `select` keeps, in table order.
pub fn names(select: impl Fn(&PolicyInfo) -> bool) -> Vec<&'static str> {
    POLICIES.iter().filter(|p| p.in_build && select(p)).map(|p| p.name).collect()
}

/// The normalised score's heuristics and references, in table order,
/// whatever the build (reports read results made by any build).
pub fn score_heuristics() -> Vec<&'static str> {
    POLICIES.iter().filter(|p| p.kind == Heuristic && p.by_default).map(|p| p.name).collect()
}

/// See [`score_heuristics`]; the bound first.
pub fn score_references() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = POLICIES.iter().filter(|p| p.score_reference).map(|p| p.name).collect();
    v.sort_by_key(|&n| n != BOUND);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_styles_are_distinct() {
        for (i, p) in POLICIES.iter().enumerate() {
            assert!(POLICIES[..i].iter().all(|q| q.name != p.name), "{} twice", p.name);
            assert!(
                POLICIES[..i].iter().all(|q| (q.colour, q.marker) != (p.colour, p.marker)),
                "{} has another policy's style",
                p.name
            );
        }
    }

    #[test]
    fn every_policy_of_the_build_is_made_by_make_with_or_from_the_world() {
        for p in POLICIES.iter().filter(|p| p.in_build) {
            match crate::make(p.name) {
                Err(crate::MakeError::Unknown(_)) => assert!(p.from_world, "`{}` has no arm in make_with", p.name),
                // dppo needs a checkpoint: made, then refused for its input.
                Ok(_) | Err(crate::MakeError::BadInput(_)) => assert!(!p.from_world, "{}", p.name),
            }
        }
        assert!(matches!(crate::make("no-such-policy"), Err(crate::MakeError::Unknown(_))));
    }

    #[test]
    fn the_score_lists_are_the_ones_the_reports_had() {
        assert_eq!(score_heuristics(), ["nearest", "greedy", "local", "random"]);
        assert_eq!(score_references(), [BOUND, "milp", "milp-lookahead"]);
    }
}
