//! The model's formulas against hand-computed values, decision validation
//! rule by rule, and the metrics on a hand-built three-slot example.

use scenarios::metrics::MetricsAccumulator;
use scenarios::sim::{transition, DelayTerms, Link, Reason, SlotOutcome, TaskOutcome};
use scenarios::{Action, CacheEntry, Decision, Observation, Rule, ScenarioConfig, SimState, TaskView, World};

const R18: usize = 0;
const MNV2: usize = 1;

/// Two nodes, ResNet-18 and MobileNetV2, no shadowing: numbers easy to check by hand.
fn world() -> World {
    let mut c = ScenarioConfig::default();
    c.nodes.count = 2;
    c.terminals.count = 2;
    c.slots = 5;
    c.radio.shadowing_sigma_db = 0.0;
    // The spec's compute granularity (8 × 250 GFLOP/s) keeps the hand values simple.
    c.nodes.cu_units = 8;
    c.nodes.cu_gflops = 250.0;
    c.catalogue.models = vec!["ResNet-18".into(), "MobileNetV2".into()];
    World::build(&c.validate("test", None).unwrap(), 1)
}

fn task(model: usize, deadline_s: f64, last_edge: Option<usize>) -> TaskView {
    TaskView {
        terminal: 0,
        model,
        input_bytes: 60_000.0,
        deadline_s,
        device_flops: 10e9,
        pos: [0.0, 0.0],
        vel: [0.0, 0.0],
        last_edge,
    }
}

fn obs(slot: usize, tasks: Vec<TaskView>, accessible: bool, caches: Vec<Vec<CacheEntry>>) -> Observation {
    let link = Link { snr_db: 10.0, rate_bps: 4e6, accessible };
    Observation { slot, time_s: slot as f64, nodes: 2, links: vec![link; tasks.len() * 2], tasks, caches }
}

fn ready(model: usize) -> CacheEntry {
    CacheEntry { model, ready_at: 0.0, last_used: None }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn offload_delay_terms_and_cost_by_hand() {
    let w = world();
    let state = SimState { slot: 0, caches: vec![vec![ready(R18)], vec![]], last_edge: vec![Some(1), None] };
    let o = obs(0, vec![task(R18, 0.3, Some(1))], true, state.caches.clone());
    let d =
        Decision { caches: vec![vec![R18], vec![]], actions: vec![Action::Offload { node: 0, cut: 0, rb: 4, cu: 2 }] };
    let (out, next) = transition(&w.env, &state, &o, &d).unwrap();
    let t = &out.tasks[0];
    // uplink 60000·8 / (4 · 4e6) = 0.03 s; edge 3.628146688e9 / (2 · 250e9) = 0.007256293376 s;
    // handover 0.03 s (last served by node 1); no cold start; nothing on the device at cut 0.
    assert!(close(t.terms.device_s, 0.0));
    assert!(close(t.terms.uplink_s, 0.03));
    assert!(close(t.terms.edge_s, 0.007256293376));
    assert!(close(t.terms.cold_s, 0.0));
    assert!(close(t.terms.handover_s, 0.03));
    assert!(close(t.delay_s.unwrap(), 0.067256293376));
    assert!(t.met && !t.interrupted && t.handover);
    assert!(close(t.cost, 0.067256293376 / 0.3));
    assert!(close(out.cost, t.cost));
    assert_eq!(next.last_edge[0], Some(0));
    assert_eq!(next.caches[0][0].last_used, Some(0));
    // 4 of 20 units at node 0, none at node 1: mean 0.1; compute 2 of 8: mean 0.125.
    assert!(close(out.rb_util, 0.1) && close(out.cu_util, 0.125));
}

#[test]
fn partitioned_offload_by_hand() {
    let w = world();
    let state = SimState { slot: 0, caches: vec![vec![ready(R18)], vec![]], last_edge: vec![Some(0), None] };
    let o = obs(0, vec![task(R18, 0.3, Some(0))], true, state.caches.clone());
    let d =
        Decision { caches: vec![vec![R18], vec![]], actions: vec![Action::Offload { node: 0, cut: 1, rb: 2, cu: 1 }] };
    let (out, _) = transition(&w.env, &state, &o, &d).unwrap();
    let t = &out.tasks[0].terms;
    // Cut 1 is after layer2.0: prefix 2·760266752 FLOPs on a 10 GFLOP/s device = 0.1520533504 s;
    // 401408/4 = 100352 int8 bytes over 2 units at 4 Mbit/s = 0.100352 s; the rest on one 250 GFLOP/s unit.
    assert!(close(t.device_s, 0.1520533504));
    assert!(close(t.uplink_s, 0.100352));
    assert!(close(t.edge_s, 0.008430452736));
    assert!(close(t.handover_s, 0.0), "same node: no handover");
    assert!(close(t.total(), 0.260835803136));
}

#[test]
fn cold_start_download_and_backhaul_cost_by_hand() {
    let w = world();
    let state = SimState { slot: 2, caches: vec![vec![], vec![]], last_edge: vec![None, None] };
    let o = obs(2, vec![task(R18, 0.3, None)], true, state.caches.clone());
    let d =
        Decision { caches: vec![vec![R18], vec![]], actions: vec![Action::Offload { node: 0, cut: 0, rb: 4, cu: 2 }] };
    let (out, next) = transition(&w.env, &state, &o, &d).unwrap();
    // 4·11689512 = 46758048 bytes at 200 Mbit/s after a 20 ms round trip: ready at 2 + 1.89032192 s.
    assert!(close(next.caches[0][0].ready_at, 3.89032192));
    let t = &out.tasks[0];
    assert!(close(t.terms.cold_s, 1.89032192));
    assert!(t.interrupted && !t.met);
    assert_eq!(t.reason, Some(Reason::ColdStart));
    assert!(close(t.cost, 2.0));
    assert!(close(out.backhaul_bytes, 46_758_048.0));
    // Slot cost: ω + 0.5 per GB · 0.046758048 GB.
    assert!(close(out.cost, 2.0 + 0.023379024));
    // A model kept in the set keeps its ready time: one slot later the cold start is 0.89032192 s.
    let o3 = obs(3, vec![task(R18, 2.0, None)], true, next.caches.clone());
    let (out3, _) = transition(&w.env, &next, &o3, &d).unwrap();
    assert!(close(out3.tasks[0].terms.cold_s, 0.89032192));
    assert!(close(out3.backhaul_bytes, 0.0));
}

#[test]
fn local_drop_and_no_coverage_by_hand() {
    let w = world();
    let state = SimState::initial(2, 2);
    let o = obs(0, vec![task(MNV2, 0.15, None), task(R18, 0.3, None)], true, state.caches.clone());
    let d = Decision { caches: vec![vec![], vec![]], actions: vec![Action::Local, Action::Drop] };
    let (out, _) = transition(&w.env, &state, &o, &d).unwrap();
    // 2·300774272 FLOPs on 10 GFLOP/s = 0.0601548544 s; cost T/D.
    assert!(close(out.tasks[0].delay_s.unwrap(), 0.0601548544));
    assert!(close(out.tasks[0].cost, 0.0601548544 / 0.15));
    assert_eq!(out.tasks[1].reason, Some(Reason::Dropped));
    assert_eq!(out.tasks[1].delay_s, None);
    assert!(close(out.cost, 0.0601548544 / 0.15 + 2.0));
    // Without any accessible node, a late local run is a no-coverage interruption.
    let o = obs(0, vec![task(R18, 0.3, None)], false, state.caches.clone());
    let d = Decision { caches: vec![vec![], vec![]], actions: vec![Action::Local] };
    let (out, _) = transition(&w.env, &state, &o, &d).unwrap();
    assert!(close(out.tasks[0].delay_s.unwrap(), 0.3628146688));
    assert_eq!(out.tasks[0].reason, Some(Reason::NoCoverage));
}

#[test]
fn eviction_and_re_adding_downloads_again() {
    let w = world();
    let state = SimState { slot: 4, caches: vec![vec![ready(R18)], vec![]], last_edge: vec![None, None] };
    let o = obs(4, vec![], true, state.caches.clone());
    let drop_it = Decision { caches: vec![vec![], vec![]], actions: vec![] };
    let (out, next) = transition(&w.env, &state, &o, &drop_it).unwrap();
    assert!(next.caches[0].is_empty() && close(out.backhaul_bytes, 0.0));
    let back = Decision { caches: vec![vec![R18], vec![]], actions: vec![] };
    let (out, next) = transition(&w.env, &next, &obs(5, vec![], true, next.caches.clone()), &back).unwrap();
    assert!(close(out.backhaul_bytes, 46_758_048.0));
    assert!(close(next.caches[0][0].ready_at, 5.0 + 1.89032192));
}

#[test]
fn each_rule_is_named_when_broken() {
    let w = world();
    let state = SimState { slot: 0, caches: vec![vec![ready(R18)], vec![]], last_edge: vec![None, None] };
    let o = obs(0, vec![task(R18, 0.3, None)], true, state.caches.clone());
    let off = |node, cut, rb, cu| Action::Offload { node, cut, rb, cu };
    let cases: Vec<(Decision, Rule)> = vec![
        (Decision { caches: vec![vec![R18]], actions: vec![Action::Local] }, Rule::CacheSetCount),
        (Decision { caches: vec![vec![R18], vec![]], actions: vec![] }, Rule::ActionCount),
        (Decision { caches: vec![vec![7], vec![]], actions: vec![Action::Local] }, Rule::ModelId),
        (Decision { caches: vec![vec![R18, R18], vec![]], actions: vec![Action::Local] }, Rule::CacheDuplicate),
        (Decision { caches: vec![vec![R18], vec![]], actions: vec![off(5, 0, 1, 1)] }, Rule::NodeIndex),
        (Decision { caches: vec![vec![R18], vec![]], actions: vec![off(0, 9, 1, 1)] }, Rule::Cut),
        (Decision { caches: vec![vec![R18], vec![]], actions: vec![off(0, 0, 5, 1)] }, Rule::RbLevel),
        (Decision { caches: vec![vec![R18], vec![]], actions: vec![off(0, 0, 1, 3)] }, Rule::CuLevel),
        (Decision { caches: vec![vec![R18], vec![]], actions: vec![off(1, 0, 1, 1)] }, Rule::CacheMembership),
    ];
    for (d, rule) in cases {
        let e = transition(&w.env, &state, &o, &d).unwrap_err();
        assert_eq!(e.rule, rule, "{e}");
        assert!(e.to_string().contains(rule.name()), "{e}");
    }
    // Capacity: three tasks with 8 units each need 24 of 20.
    let o3 = obs(0, vec![task(R18, 0.3, None); 3], true, state.caches.clone());
    let d = Decision { caches: vec![vec![R18], vec![]], actions: vec![off(0, 0, 8, 1); 3] };
    assert_eq!(transition(&w.env, &state, &o3, &d).unwrap_err().rule, Rule::RbCapacity);
    let d = Decision { caches: vec![vec![R18], vec![]], actions: vec![off(0, 0, 1, 4); 3] };
    assert_eq!(transition(&w.env, &state, &o3, &d).unwrap_err().rule, Rule::CuCapacity);
    // Storage: shrink the cache below ResNet-18's 44.6 MiB.
    let mut c = w.env.scenario.config().clone();
    c.nodes.cache_mib = 40.0;
    let small = World::build(&c.validate("t", None).unwrap(), 1);
    let d = Decision { caches: vec![vec![R18], vec![]], actions: vec![Action::Local] };
    assert_eq!(transition(&small.env, &state, &o, &d).unwrap_err().rule, Rule::CacheStorage);
    // Inaccessible node.
    let o_far = obs(0, vec![task(R18, 0.3, None)], false, state.caches.clone());
    let d = Decision { caches: vec![vec![R18], vec![]], actions: vec![off(0, 0, 1, 1)] };
    assert_eq!(transition(&w.env, &state, &o_far, &d).unwrap_err().rule, Rule::Accessibility);
}

fn outcome(slot: usize, tasks: Vec<(usize, Option<f64>, bool, bool)>, cost: f64) -> SlotOutcome {
    SlotOutcome {
        slot,
        tasks: tasks
            .into_iter()
            .map(|(terminal, delay, interrupted, handover)| TaskOutcome {
                terminal,
                action: if delay.is_some() { Action::Local } else { Action::Drop },
                terms: DelayTerms::default(),
                delay_s: delay,
                deadline_s: 0.3,
                met: !interrupted,
                interrupted,
                reason: None,
                cost: 0.0,
                handover,
            })
            .collect(),
        backhaul_bytes: 1e8,
        cost,
        rb_util: 0.5,
        cu_util: 0.25,
        cache_util: 0.1 * slot as f64,
    }
}

#[test]
fn metrics_of_a_three_slot_example() {
    // Terminal 0: interrupted (dropped) in slots 0 and 1, met in slot 2.
    // Terminal 1: met in slot 0, late in slot 1, met in slot 2 with a handover.
    let mut m = MetricsAccumulator::new(2, 1.0);
    m.push(&outcome(0, vec![(0, None, true, false), (1, Some(0.1), false, false)], 2.5), 0.001);
    m.push(&outcome(1, vec![(0, None, true, false), (1, Some(0.5), true, false)], 4.0), 0.002);
    m.push(&outcome(2, vec![(0, Some(0.2), false, false), (1, Some(0.3), false, true)], 1.5), 0.003);
    let s = m.finish().unwrap();
    assert_eq!(s.tasks, 6);
    // Executed delays 0.1, 0.5, 0.2, 0.3 s: mean 275 ms; nearest-rank p95 is the largest.
    assert!(close(s.mean_delay_ms, 275.0));
    assert!(close(s.p95_delay_ms, 500.0));
    assert!(close(s.interruption_rate, 0.5));
    // Two runs (terminal 0: slots 0–1; terminal 1: slot 1) in 6 tasks.
    assert!(close(s.interruption_events_per_100, 100.0 * 2.0 / 6.0));
    assert!(close(s.mean_interruption_len, 1.5));
    assert!(close(s.rb_util, 0.5) && close(s.cu_util, 0.25) && close(s.cache_util, 0.1));
    assert!(close(s.backhaul_gb, 0.3));
    // One handover in 6 terminal-slots of 1 s = 0.1 minute.
    assert!(close(s.handovers_per_min, 10.0));
    assert!(close(s.cost, 8.0));
    assert!(close(s.decision_ms_mean, 2.0));
    assert!(close(s.decision_ms_p95, 3.0));
}

#[test]
fn reading_a_slot_again_or_out_of_order_gives_the_same_draws() {
    let s = scenarios::presets::preset("tiny").unwrap();
    let w = World::build(&s, 4);
    let mut seq = w.draws();
    let in_order: Vec<_> = (0..w.slots())
        .map(|t| {
            w.draws_at(&mut seq, t);
            (seq.pos.clone(), seq.tasks.clone(), (0..w.terminals()).map(|u| seq.velocity(u, 1.0)).collect::<Vec<_>>())
        })
        .collect();
    let mut d = w.draws();
    for t in [5, 2, 2, 17, 0, 29, 1] {
        w.draws_at(&mut d, t);
        assert_eq!(d.slot(), Some(t));
        let vel: Vec<_> = (0..w.terminals()).map(|u| d.velocity(u, 1.0)).collect();
        assert_eq!((d.pos.clone(), d.tasks.clone(), vel), in_order[t], "slot {t}");
    }
}

#[test]
fn same_seed_same_world() {
    let s = scenarios::presets::preset("tiny").unwrap();
    let slots = |w: &World| {
        let mut d = w.draws();
        (0..w.slots())
            .map(|t| {
                w.draws_at(&mut d, t);
                (d.pos.clone(), d.present.clone(), d.tasks.clone())
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (World::build(&s, 9), World::build(&s, 9));
    assert_eq!(a.workload.profiles, b.workload.profiles);
    assert_eq!(slots(&a), slots(&b));
    assert_ne!(slots(&a), slots(&World::build(&s, 10)));
}

/// Positions and presence of every slot of a world.
fn replay(w: &World) -> Vec<(Vec<[f64; 2]>, Vec<bool>)> {
    let mut d = w.draws();
    (0..w.slots())
        .map(|t| {
            w.draws_at(&mut d, t);
            (d.pos.clone(), d.present.clone())
        })
        .collect()
}

fn pedestrian_trace(slots: usize, offset_s: f64, terminals: usize) -> scenarios::Scenario {
    let mut c = ScenarioConfig { slots, ..Default::default() };
    c.mobility.trace_file = "builtin:pedestrian".into();
    c.mobility.trace_offset_s = offset_s;
    c.mobility.trace_terminals = terminals;
    c.validate("test", None).unwrap()
}

#[test]
fn a_trace_offset_replays_the_trace_from_later_on() {
    let whole = replay(&World::build(&pedestrian_trace(160, 0.0, 0), 1));
    let later = replay(&World::build(&pedestrian_trace(60, 100.0, 0), 1));
    assert_eq!(later.len(), 60);
    for (k, slot) in later.iter().enumerate() {
        assert_eq!(slot, &whole[100 + k], "slot {k} of the offset replay is slot {} of the whole", 100 + k);
    }
    assert!(later.iter().any(|(_, present)| present.iter().any(|&p| p)), "someone walks in the window");
}

#[test]
fn a_trace_subset_keeps_whole_tracks_of_present_terminals_drawn_per_seed() {
    let whole = World::build(&pedestrian_trace(100, 50.0, 0), 1);
    let all = replay(&whole);
    // Each terminal's track: its (position, presence) in every slot.
    let track = |r: &[(Vec<[f64; 2]>, Vec<bool>)], u: usize| r.iter().map(|(p, q)| (p[u], q[u])).collect::<Vec<_>>();
    let seen: Vec<usize> = (0..whole.terminals()).filter(|&u| all.iter().any(|(_, q)| q[u])).collect();
    assert!(seen.len() > 20 && seen.len() < whole.terminals(), "{} of {} present", seen.len(), whole.terminals());
    let subset_of = |seed: u64| {
        let w = World::build(&pedestrian_trace(100, 50.0, 20), seed);
        assert_eq!(w.terminals(), 20);
        let r = replay(&w);
        // Every kept terminal is one present in the window, whole track and in index order.
        let kept: Vec<usize> = (0..20)
            .map(|v| *seen.iter().find(|&&u| track(&all, u) == track(&r, v)).expect("a track of the trace"))
            .collect();
        assert!(kept.windows(2).all(|p| p[0] < p[1]), "{kept:?}");
        kept
    };
    assert_eq!(subset_of(3), subset_of(3));
    assert_ne!(subset_of(3), subset_of(4));
}
