//! The bytes a rank sends rank 0 under MPI: its finished runs, as postcard
//! (compact, exact for every f64 including NaN and ∞). The columns that hold
//! shared or static strings go through the helpers below.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::run::PolicyRun;

/// Runs with their index in the plan's job list.
pub fn encode(runs: &[(usize, PolicyRun)]) -> anyhow::Result<Vec<u8>> {
    Ok(postcard::to_stdvec(runs)?)
}

pub fn decode(bytes: &[u8]) -> anyhow::Result<Vec<(usize, PolicyRun)>> {
    Ok(postcard::from_bytes(bytes)?)
}

/// `Vec<Arc<str>>` as a sequence of strings (equal strings share one `Arc` again).
pub mod arc_strs {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[Arc<str>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| &**x))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Arc<str>>, D::Error> {
        let v: Vec<String> = Vec::deserialize(d)?;
        let mut last: Option<Arc<str>> = None;
        Ok(v.into_iter()
            .map(|x| match &last {
                Some(a) if **a == *x => a.clone(),
                _ => {
                    let a: Arc<str> = Arc::from(x);
                    last = Some(a.clone());
                    a
                }
            })
            .collect())
    }
}

fn known<E: serde::de::Error>(x: &str, names: &[&'static str]) -> Result<&'static str, E> {
    names.iter().copied().find(|n| *n == x).ok_or_else(|| E::custom(format!("unknown name {x:?}")))
}

fn reason_names() -> Vec<&'static str> {
    scenarios::sim::Reason::ALL.iter().map(|r| r.name()).collect()
}

/// Task kinds (`Action::kind`).
pub mod kinds {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[&'static str], s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<&'static str>, D::Error> {
        let v: Vec<String> = Vec::deserialize(d)?;
        v.iter().map(|x| known(x, &scenarios::Action::KINDS)).collect()
    }
}

/// Interruption reasons (`Reason::name`), or none.
pub mod reasons {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[Option<&'static str>], s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Option<&'static str>>, D::Error> {
        let v: Vec<Option<String>> = Vec::deserialize(d)?;
        let names = reason_names();
        v.iter().map(|x| x.as_deref().map(|x| known(x, &names)).transpose()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{cost_only, SlotColumns, SolverSummary, TaskColumns};

    #[test]
    fn runs_round_trip_exactly_with_nan_infinity_and_static_names() {
        let p: Arc<str> = Arc::from("greedy");
        let tasks = TaskColumns {
            policy: vec![p.clone(), p.clone()],
            model: vec![Arc::from("resnet"), Arc::from("vgg")],
            kind: vec!["offload", "drop"],
            reason: vec![None, Some("no_coverage")],
            delay_ms: vec![Some(0.1 + 0.2), None],
            cost: vec![1.0 / 3.0, f64::MIN_POSITIVE],
            ..Default::default()
        };
        let slots = SlotColumns { policy: vec![p], cost: vec![f64::NAN], ..Default::default() };
        let solver = SolverSummary { max_gap: f64::INFINITY, solve_s: vec![1e-300], ..Default::default() };
        let run = PolicyRun {
            policy: "greedy".into(),
            seed: u64::MAX,
            terminals: 7,
            tasks,
            slots,
            summary: cost_only(3, 2, 2.5),
            solver: Some(solver.clone()),
            bound: None,
            tasks_file: None,
        };
        let back = decode(&encode(&[(4, run.clone())]).unwrap()).unwrap();
        assert_eq!(back.len(), 1);
        let (k, b) = &back[0];
        assert_eq!(*k, 4);
        assert_eq!((b.policy.as_str(), b.seed, b.terminals), ("greedy", u64::MAX, 7));
        assert_eq!(b.tasks.kind, run.tasks.kind);
        assert_eq!(b.tasks.reason, run.tasks.reason);
        assert_eq!(b.tasks.model, run.tasks.model);
        assert_eq!(b.tasks.delay_ms, run.tasks.delay_ms);
        assert_eq!(b.tasks.cost, run.tasks.cost);
        assert!(Arc::ptr_eq(&b.tasks.policy[0], &b.tasks.policy[1]), "equal names share one Arc");
        assert!(b.slots.cost[0].is_nan() && b.summary.mean_delay_ms.is_nan());
        assert_eq!(b.summary.cost, 2.5);
        assert_eq!(b.solver, Some(solver));
    }

    #[test]
    fn an_unknown_kind_is_refused() {
        let run = PolicyRun {
            policy: "x".into(),
            seed: 1,
            terminals: 1,
            tasks: TaskColumns { kind: vec!["local"], ..Default::default() },
            slots: SlotColumns::default(),
            summary: cost_only(1, 1, 1.0),
            solver: None,
            bound: None,
            tasks_file: None,
        };
        let mut bytes = encode(&[(0, run)]).unwrap();
        let at = bytes.windows(5).position(|w| w == b"local").unwrap();
        bytes[at] = b'X';
        assert!(decode(&bytes).is_err(), "a kind no simulator writes must not decode");
    }
}
