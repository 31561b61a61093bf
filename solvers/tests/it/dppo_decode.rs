//! The DPPO decoder cannot produce an invalid decision: whatever the logits,
//! on many random worlds and states, every decoded decision passes the
//! simulator's validation (masks track capacity, cache space and reach).

#![allow(clippy::field_reassign_with_default)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scenarios::sim::{observe, transition, validate};
use scenarios::{Observation, ScenarioConfig, SimState, World};
use solvers::dppo::decode::{
    claim_fetches, decode_caches, decode_cuts, decode_requested, decode_tasks, rescue, top_up, Claims, Downloads,
    Evictions, Fetch, HeadShape, Pick, Requested, TaskOrder,
};
use solvers::dppo::features::{
    cache_rows, covered_stake, option_rows, Demand, SlotContext, CACHE_DEMAND, CACHE_DIM, CACHE_STAKE, NODE0, OPT_DROP,
    OPT_LOCAL,
};

/// Decode one slot from random logits (with fetch claims or not); returns
/// the decision and the number of models claimed.
fn decode_random(
    world: &World,
    obs: &Observation,
    rng: &mut ChaCha8Rng,
    sample: bool,
    fetch: Fetch,
) -> (scenarios::Decision, usize) {
    let env = &world.env;
    let shape = HeadShape::of(env);
    let ctx = SlotContext::new(env, obs);
    let (mut rows, mut cands, mut start) = (Vec::new(), Vec::new(), vec![0]);
    for i in 0..obs.tasks.len() {
        option_rows(env, obs, &ctx, i, &mut rows, &mut cands);
        start.push(cands.len());
    }
    let scale: f32 = rng.gen_range(0.1..20.0);
    let row_out: Vec<f32> = (0..cands.len() * shape.row_out()).map(|_| rng.gen_range(-scale..scale)).collect();
    let cut_logits: Vec<f32> = (0..obs.tasks.len() * shape.cuts).map(|_| rng.gen_range(-scale..scale)).collect();
    let cache_logits: Vec<f32> = (0..shape.nodes * shape.models).map(|_| rng.gen_range(-scale..scale)).collect();
    let mut draw = ChaCha8Rng::seed_from_u64(rng.gen());
    let mut pick = if sample { Pick::Sample(&mut draw) } else { Pick::Mode };
    let order = if rng.gen_bool(0.5) { TaskOrder::Stake } else { TaskOrder::Deadline };
    let downloads = if rng.gen_bool(0.5) { Downloads::Held } else { Downloads::Revocable };
    let evictions = if rng.gen_bool(0.5) { Evictions::Guarded } else { Evictions::Free };
    let claims = if rng.gen_bool(0.5) {
        claim_fetches(env, obs, &shape, &cache_logits, downloads, &mut pick)
    } else {
        Claims::default()
    };
    let mut a = decode_tasks(env, obs, &shape, cands, start, &row_out, order, downloads, evictions, &claims, &mut pick);
    decode_cuts(env, obs, &shape, &mut a, &cut_logits, &mut pick);
    let d = decode_caches(env, obs, &shape, &mut a, &cache_logits, fetch, downloads, &claims, &mut pick);
    // A claim is the cache head's choice, made once, and what it fetched is kept.
    for &(u, fetched, lp) in &claims.decided {
        assert!(a.cache_free_choice[u] && a.cache_keep[u] == fetched && a.cache_logp[u] == lp);
    }
    for (n, models) in claims.models.iter().enumerate() {
        assert!(models.iter().all(|m| d.caches[n].contains(m)), "slot {}: a claim at node {n} was dropped", obs.slot);
    }
    if downloads == Downloads::Held {
        for (n, entries) in obs.caches.iter().enumerate() {
            for e in entries.iter().filter(|e| e.ready_at > obs.time_s) {
                assert!(d.caches[n].contains(&e.model), "slot {}: a download in progress was not held", obs.slot);
            }
        }
    }
    (d, claims.models.iter().map(Vec::len).sum())
}

/// A world with random nodes (count, units, cache) and terminals (count, activity).
fn random_world(rng: &mut ChaCha8Rng, case: u64, slots: usize) -> World {
    random_world_with(rng, case, slots, |_| {})
}

/// As [`random_world`], with `edit` applied to the configuration last.
fn random_world_with(rng: &mut ChaCha8Rng, case: u64, slots: usize, edit: impl FnOnce(&mut ScenarioConfig)) -> World {
    let mut c = ScenarioConfig::default();
    c.slots = slots;
    c.nodes.count = rng.gen_range(1..8);
    c.nodes.rb_units = rng.gen_range(1..24);
    c.nodes.cu_units = rng.gen_range(1..18);
    c.nodes.cache_mib = rng.gen_range(10.0..500.0);
    c.terminals.count = rng.gen_range(1..60);
    c.terminals.activity = rng.gen_range(0.3..1.0);
    c.terminals.model_switch_prob = 0.1;
    edit(&mut c);
    World::build(&c.validate("decode-test", None).unwrap(), case)
}

/// A hand-built world of one node: the default scenario with `edit` applied, seed 1.
fn one_node_world(name: &str, edit: impl FnOnce(&mut ScenarioConfig)) -> World {
    let mut c = ScenarioConfig::default();
    c.nodes.count = 1;
    edit(&mut c);
    World::build(&c.validate(name, None).unwrap(), 1)
}

/// One node with a cache of `cache_mib`, two models, AlexNet (model 0) and
/// ResNet-152 (model 1), and `terminals` always-active terminals near it.
fn alexnet_and_resnet152_world(name: &str, terminals: usize, cache_mib: f64) -> World {
    one_node_world(name, |c| {
        c.area_m = [60.0, 60.0];
        c.terminals.count = terminals;
        c.terminals.activity = 1.0;
        c.catalogue.models = vec!["AlexNet".into(), "ResNet-152".into()];
        c.nodes.cache_mib = cache_mib;
    })
}

/// As [`alexnet_and_resnet152_world`], the 300 MiB cache holding one of the two.
fn alexnet_or_resnet152_world(name: &str, terminals: usize) -> World {
    let world = alexnet_and_resnet152_world(name, terminals, 300.0);
    let (env, cap) = (&world.env, world.env.nodes[0].cache_bytes);
    let (w_a, w_r) = (env.model(0).weights_bytes, env.model(1).weights_bytes);
    assert!(w_a <= cap && w_r <= cap && w_a + w_r > cap, "room for one of the two");
    world
}

/// The observation of a world's first slot.
fn first_observation(world: &World) -> Observation {
    let mut obs = Observation::default();
    observe(world, &mut world.draws(), &SimState::initial(world.env.nodes.len(), world.terminals()), &mut obs);
    obs
}

/// The first observation of a one-node world whose tasks all reach the
/// node, each set to a `(model, deadline s, device FLOP/s)`, in order.
fn tasks_near_node_0(world: &World, tasks: &[(usize, f64, f64)]) -> Observation {
    let mut obs = first_observation(world);
    let n = tasks.len();
    assert!(obs.tasks.len() == n && (0..n).all(|i| obs.link(i, 0).accessible), "{n} tasks, all reaching the node");
    for (t, &(model, deadline, flops)) in obs.tasks.iter_mut().zip(tasks) {
        (t.model, t.deadline_s, t.device_flops) = (model, deadline, flops);
    }
    obs
}

/// [`alexnet_or_resnet152_world`] with two tasks near the node: AlexNet
/// (model 0, the earlier deadline), on time on its terminal, and
/// ResNet-152 (model 1), late on its own.
fn alexnet_on_time_and_resnet152_late(name: &str) -> (World, Observation) {
    let world = alexnet_or_resnet152_world(name, 2);
    let obs = tasks_near_node_0(&world, &[(0, 0.15, 20e9), (1, 0.3, 20e9)]);
    let on_time = |i| on_time_locally(&world.env, &obs, i);
    assert!(on_time(0) && !on_time(1), "AlexNet on time, ResNet-152 late on its terminal");
    (world, obs)
}

/// Whether task `i` meets its deadline on its own terminal.
fn on_time_locally(env: &scenarios::Environment, obs: &Observation, i: usize) -> bool {
    scenarios::sim::local_terms(env, &obs.tasks[i]).total() <= obs.tasks[i].deadline_s
}

/// Along 40 random worlds (`world_of`) of 30 slots, decode random logits in
/// every state (sampled or not, either fetch rule and task order), check that the decision
/// is valid, and hand it to `check` with its state, observation and fetch
/// rule; the state then evolves with it (caches fill, ready times vary).
/// Returns the number of models claimed along the way.
fn each_decoded_slot(
    rng: &mut ChaCha8Rng,
    mut world_of: impl FnMut(&mut ChaCha8Rng, u64) -> World,
    mut check: impl FnMut(u64, &World, &SimState, &Observation, &scenarios::Decision, Fetch),
) -> usize {
    let mut claimed = 0;
    for case in 0..40u64 {
        let world = world_of(rng, case);
        let mut state = SimState::initial(world.env.nodes.len(), world.terminals());
        let mut obs = Observation::default();
        let mut draws = world.draws();
        for _ in 0..world.slots() {
            observe(&world, &mut draws, &state, &mut obs);
            let sample = rng.gen_bool(0.7);
            let fetch = if rng.gen_bool(0.5) { Fetch::InDemand } else { Fetch::Any };
            let (d, claims) = decode_random(&world, &obs, rng, sample, fetch);
            claimed += claims;
            if let Err(e) = validate(&world.env, &obs, &d) {
                panic!("case {case}, slot {}: {e}", obs.slot);
            }
            check(case, &world, &state, &obs, &d, fetch);
            state = transition(&world.env, &state, &obs, &d).unwrap().1;
        }
    }
    claimed
}

/// Apply a step after decoding (`top_up`, `rescue`) to a copy of `d`, check
/// that the copy is valid and holds the same caches, and return the slot's
/// outcome before and after the step.
fn outcomes_around(
    step: (&str, fn(&scenarios::Environment, &Observation, &mut scenarios::Decision)),
    case: u64,
    world: &World,
    state: &SimState,
    obs: &Observation,
    d: &scenarios::Decision,
) -> (scenarios::SlotOutcome, scenarios::SlotOutcome) {
    let (name, apply) = step;
    let mut after = d.clone();
    apply(&world.env, obs, &mut after);
    if let Err(e) = validate(&world.env, obs, &after) {
        panic!("case {case}, slot {}, after {name}: {e}", obs.slot);
    }
    assert_eq!(after.caches, d.caches);
    (transition(&world.env, state, obs, d).unwrap().0, transition(&world.env, state, obs, &after).unwrap().0)
}

#[test]
fn every_decoded_decision_is_valid() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xdec0de);
    let mut checked = 0;
    let mut offloads = 0;
    let (mut raised, mut gained) = (0usize, 0.0f64);
    let claimed = each_decoded_slot(
        &mut rng,
        |rng, case| random_world(rng, case, 30),
        |case, world, state, obs, d, _| {
            offloads += d.actions.iter().filter(|a| matches!(a, scenarios::Action::Offload { .. })).count();
            checked += 1;
            // The top-up keeps the decision valid, changes only levels, and
            // never raises a task's cost (nor, so, the slot's).
            let (before, after) = outcomes_around(("top-up", top_up), case, world, state, obs, d);
            for (k, (b, a)) in before.tasks.iter().zip(&after.tasks).enumerate() {
                match (b.action, a.action) {
                    (
                        scenarios::Action::Offload { node, cut, rb, cu },
                        scenarios::Action::Offload { node: n2, cut: c2, rb: r2, cu: u2 },
                    ) => {
                        assert!(
                            node == n2 && cut == c2 && r2 >= rb && u2 >= cu,
                            "task {k}: {:?} -> {:?}",
                            b.action,
                            a.action
                        );
                        raised += usize::from(r2 > rb || u2 > cu);
                    }
                    (x, y) => assert_eq!(x, y, "task {k}: only offload levels change"),
                }
                assert!(a.cost <= b.cost + 1e-12, "case {case}, task {k}: cost {} -> {}", b.cost, a.cost);
            }
            assert!(after.cost <= before.cost + 1e-9);
            gained += before.cost - after.cost;
        },
    );
    assert_eq!(checked, 40 * 30);
    assert!(offloads > 1_000, "the test must exercise offloads, got {offloads}");
    assert!(raised > 100 && gained > 0.0, "the top-up must be exercised: {raised} tasks raised, cost gained {gained}");
    assert!(claimed > 100, "fetch claims must be exercised, got {claimed}");
}

/// The request that asks for exactly `d`.
fn request_of(world: &World, d: &scenarios::Decision) -> Requested {
    let env = &world.env;
    let models = env.catalogue().len();
    let mut r = Requested { keep: vec![false; env.nodes.len() * models], ..Requested::default() };
    for a in &d.actions {
        let (o, cut, rb, cu) = match *a {
            scenarios::Action::Local => (OPT_LOCAL, 0, 0, 0),
            scenarios::Action::Drop => (OPT_DROP, 0, 0, 0),
            scenarios::Action::Offload { node, cut, rb, cu } => (
                NODE0 + node,
                cut,
                env.rb_levels.iter().position(|&l| l == rb).unwrap(),
                env.cu_levels.iter().position(|&l| l == cu).unwrap(),
            ),
        };
        r.option.push(o);
        r.cut.push(cut);
        r.rb.push(rb);
        r.cu.push(cu);
    }
    for (n, set) in d.caches.iter().enumerate() {
        for &m in set {
            r.keep[n * models + m] = true;
        }
    }
    r
}

fn sorted_caches(d: &scenarios::Decision) -> Vec<Vec<usize>> {
    d.caches
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.sort_unstable();
            s
        })
        .collect()
}

/// An outside agent's request (the Python environment's action) always
/// becomes a valid decision; a request that is already valid (the
/// decoder's own, or `nearest`'s) comes back unchanged with no change counted.
#[test]
fn requested_decisions_are_made_valid_and_valid_ones_pass_unchanged() {
    use scenarios::Policy;
    let mut rng = ChaCha8Rng::seed_from_u64(0x5e9);
    let (mut repaired, mut requests) = (0usize, 0usize);
    for case in 0..25u64 {
        let world = random_world(&mut rng, case, 20);
        let env = &world.env;
        let shape = HeadShape::of(env);
        let mut state = SimState::initial(env.nodes.len(), world.terminals());
        let mut obs = Observation::default();
        let mut nearest = solvers::nearest::Nearest::default();
        let mut draws = world.draws();
        for _ in 0..world.slots() {
            observe(&world, &mut draws, &state, &mut obs);
            // Anything at all.
            let n = obs.tasks.len();
            let req = Requested {
                option: (0..n).map(|_| rng.gen_range(0..NODE0 + shape.nodes)).collect(),
                cut: (0..n).map(|_| rng.gen_range(0..shape.cuts + 2)).collect(),
                rb: (0..n).map(|_| rng.gen_range(0..shape.rb_levels)).collect(),
                cu: (0..n).map(|_| rng.gen_range(0..shape.cu_levels)).collect(),
                keep: (0..shape.nodes * shape.models).map(|_| rng.gen_bool(0.5)).collect(),
            };
            let (d, changed) = decode_requested(env, &obs, &req);
            validate(env, &obs, &d).unwrap_or_else(|e| panic!("case {case}, slot {}: {e}", obs.slot));
            let back = request_of(&world, &d);
            let differs = |a: &[usize], b: &[usize]| a.iter().zip(b).filter(|(x, y)| x != y).count();
            assert!(changed >= differs(&back.option, &req.option), "every changed option is counted");
            repaired += changed;
            requests += 1;
            // Valid requests pass unchanged (decoded under either fetch rule).
            let fetch = if rng.gen_bool(0.5) { Fetch::InDemand } else { Fetch::Any };
            let (own, _) = decode_random(&world, &obs, &mut rng, true, fetch);
            let (d2, changed2) = decode_requested(env, &obs, &request_of(&world, &own));
            assert_eq!((d2.actions.clone(), changed2), (own.actions.clone(), 0), "case {case}, slot {}", obs.slot);
            assert_eq!(sorted_caches(&d2), sorted_caches(&own));
            let near = nearest.decide(env, &obs).unwrap();
            let (d3, changed3) = decode_requested(env, &obs, &request_of(&world, &near));
            assert_eq!((d3.actions.clone(), changed3), (near.actions.clone(), 0), "case {case}, slot {}", obs.slot);
            assert_eq!(sorted_caches(&d3), sorted_caches(&near));
            state = transition(env, &state, &obs, &d).unwrap().1;
        }
    }
    assert!(repaired > 0 && requests > 400, "random requests must need repairs: {repaired} in {requests}");
}

/// A cache with room for one of two large models keeps the one the cache
/// head prefers, whichever comes first in the catalogue: free choices are
/// offered in the head's order, not the catalogue's (AlexNet, last in the
/// default catalogue, was never fetched on `melbourne` before).
#[test]
fn a_full_cache_keeps_the_model_the_head_prefers_most() {
    let world = one_node_world("cache-order-test", |c| {
        c.nodes.cache_mib = 250.0;
        c.terminals.count = 3;
    });
    let env = &world.env;
    let (big_early, big_late) = (3, 4);
    let (w_early, w_late) = (env.model(big_early).weights_bytes, env.model(big_late).weights_bytes);
    let cap = env.nodes[0].cache_bytes;
    assert!(w_early <= cap && w_late <= cap && w_early + w_late > cap, "the test needs room for one of the two");
    let obs = first_observation(&world);
    let shape = HeadShape::of(env);
    for (preferred, other) in [(big_late, big_early), (big_early, big_late)] {
        let mut logits = vec![-10.0f32; shape.models];
        logits[preferred] = 3.0;
        logits[other] = 1.0;
        let mut a =
            solvers::dppo::decode::SlotActions { option: vec![OPT_LOCAL; obs.tasks.len()], ..Default::default() };
        let d = caches_without_claims(env, &obs, &mut a, &logits, Fetch::Any, Downloads::Revocable);
        assert_eq!(d.caches, vec![vec![preferred]], "preferred {preferred}");
        // Both were offered only while they fit: the other one was not a free choice.
        assert!(a.cache_free_choice[preferred] && !a.cache_free_choice[other]);
        validate(env, &obs, &d).unwrap();
    }
}

/// Stage 3 (most probable choices) without fetch claims.
fn caches_without_claims(
    env: &scenarios::Environment,
    obs: &Observation,
    a: &mut solvers::dppo::decode::SlotActions,
    cache_logits: &[f32],
    fetch: Fetch,
    downloads: Downloads,
) -> scenarios::Decision {
    let mut pick: Pick<'_, ChaCha8Rng> = Pick::Mode;
    decode_caches(env, obs, &HeadShape::of(env), a, cache_logits, fetch, downloads, &Claims::default(), &mut pick)
}

/// Stage 1 decoded (most probable) when every task can go local, drop or
/// node 0 and every task's logits prefer node 0, after `claims`.
fn decode_preferring_node_0(
    env: &scenarios::Environment,
    obs: &Observation,
    order: TaskOrder,
    downloads: Downloads,
    evictions: Evictions,
    claims: &Claims,
) -> solvers::dppo::decode::SlotActions {
    let shape = HeadShape::of(env);
    let cands: Vec<usize> = obs.tasks.iter().flat_map(|_| [OPT_LOCAL, OPT_DROP, NODE0]).collect();
    let cand_start = (0..=obs.tasks.len()).map(|i| 3 * i).collect();
    let row_out: Vec<f32> = cands
        .iter()
        .flat_map(|&c| (0..shape.row_out()).map(move |k| if k == 0 && c == NODE0 { 5.0 } else { 0.0 }))
        .collect();
    let mut pick: Pick<'_, ChaCha8Rng> = Pick::Mode;
    decode_tasks(env, obs, &shape, cands, cand_start, &row_out, order, downloads, evictions, claims, &mut pick)
}

/// The options of [`decode_preferring_node_0`] without claims.
fn options_preferring_node_0(
    env: &scenarios::Environment,
    obs: &Observation,
    order: TaskOrder,
    downloads: Downloads,
    evictions: Evictions,
) -> Vec<usize> {
    decode_preferring_node_0(env, obs, order, downloads, evictions, &Claims::default()).option
}

/// The task order decides which of two models that cannot share a node's
/// cache gets it: an AlexNet task with the earlier deadline, on time on its
/// terminal, and a ResNet-152 task, late on its own; both prefer the node.
/// By deadline AlexNet pins the cache and the ResNet-152 task is refused
/// the node; by stake it is the other way round.
#[test]
fn the_task_order_decides_which_model_claims_a_full_cache() {
    let (world, obs) = alexnet_on_time_and_resnet152_late("task-order-test");
    let env = &world.env;
    let decide = |order| {
        let option = options_preferring_node_0(env, &obs, order, Downloads::Revocable, Evictions::Free);
        (option[0], option[1])
    };
    assert_eq!(decide(TaskOrder::Deadline), (NODE0, OPT_LOCAL));
    assert_eq!(decide(TaskOrder::Stake), (OPT_LOCAL, NODE0));
}

/// A download in progress: ResNet-152 is on its way to a node with room for
/// one of AlexNet and ResNet-152, and an AlexNet task wants the node. With
/// [`Downloads::Revocable`] the task takes the node, AlexNet is fetched and
/// the download is dropped; with [`Downloads::Held`] the node is refused to
/// the task and ResNet-152 stays, though the cache head would let it go.
#[test]
fn a_held_download_keeps_its_room_until_ready() {
    let world = alexnet_or_resnet152_world("held-download-test", 1);
    let env = &world.env;
    let (alexnet, resnet) = (0, 1);
    let mut obs = first_observation(&world);
    assert!(obs.tasks.len() == 1 && obs.link(0, 0).accessible, "one task, reaching the node");
    obs.tasks[0].model = alexnet;
    obs.caches[0] = vec![scenarios::CacheEntry { model: resnet, ready_at: obs.time_s + 5.0, last_used: None }];
    let shape = HeadShape::of(env);
    let decide = |downloads| {
        let mut a =
            decode_preferring_node_0(env, &obs, TaskOrder::Stake, downloads, Evictions::Free, &Claims::default());
        let mut pick: Pick<'_, ChaCha8Rng> = Pick::Mode;
        decode_cuts(env, &obs, &shape, &mut a, &vec![0.0; shape.cuts], &mut pick);
        let d = caches_without_claims(env, &obs, &mut a, &[-10.0, -10.0], Fetch::Any, downloads);
        validate(env, &obs, &d).unwrap();
        (a.option[0], d.caches)
    };
    assert_eq!(decide(Downloads::Revocable), (NODE0, vec![vec![alexnet]]));
    assert_eq!(decide(Downloads::Held), (OPT_LOCAL, vec![vec![resnet]]));
}

/// With [`Evictions::Guarded`] a fetch may not push out more stake than it
/// brings. One node with room for AlexNet or ResNet-152; an AlexNet task,
/// first by deadline, and three ResNet-152 tasks, late on their terminals;
/// every task prefers the node. With ResNet-152 ready there, the AlexNet
/// fetch would evict it: free, AlexNet takes the node and the ResNet-152
/// tasks run locally; guarded, the AlexNet task is refused the node (its
/// stake is below the three's) and the ResNet-152 tasks are served. With
/// AlexNet ready instead, the ResNet-152 fetch brings more stake than the
/// one AlexNet task holds, so it is offered either way.
#[test]
fn a_guarded_fetch_may_not_push_out_more_stake_than_it_brings() {
    let world = alexnet_or_resnet152_world("guarded-evictions", 4);
    let env = &world.env;
    let (alexnet, resnet) = (0, 1);
    let resnet_task = (resnet, 0.3, 20e9);
    let mut obs = tasks_near_node_0(&world, &[(alexnet, 0.15, 20e9), resnet_task, resnet_task, resnet_task]);
    let on_time = |i| on_time_locally(env, &obs, i);
    assert!(on_time(0) && !on_time(1), "AlexNet on time, ResNet-152 late on its terminal");
    let decide = |obs: &Observation, evictions| {
        options_preferring_node_0(env, obs, TaskOrder::Deadline, Downloads::Held, evictions)
    };
    let ready = |model| vec![scenarios::CacheEntry { model, ready_at: obs.time_s, last_used: None }];
    let mut held = obs.clone();
    held.caches[0] = ready(resnet);
    assert_eq!(decide(&held, Evictions::Free), vec![NODE0, OPT_LOCAL, OPT_LOCAL, OPT_LOCAL]);
    assert_eq!(decide(&held, Evictions::Guarded), vec![OPT_LOCAL, NODE0, NODE0, NODE0]);
    held.caches[0] = ready(alexnet);
    obs.tasks.swap(0, 3); // the ResNet-152 tasks first: their fetch is what is judged
    for t in obs.tasks.iter_mut() {
        t.deadline_s = if t.model == alexnet { 0.3 } else { 0.15 };
    }
    held.tasks = obs.tasks.clone();
    let want = vec![NODE0, NODE0, NODE0, OPT_LOCAL];
    assert_eq!(decide(&held, Evictions::Free), want);
    assert_eq!(decide(&held, Evictions::Guarded), want);
}

/// The guard judges a fetch once: a second task of a model that an earlier
/// task of the slot fetched to the node is offered it like a cached one.
/// One node with room for AlexNet and ResNet-152 together; AlexNet ready,
/// its two tasks late on their terminals (more stake than the two
/// ResNet-152 tasks, on time on theirs). The first ResNet-152 fetch fits
/// beside AlexNet; counted again on the second task's turn, its bytes
/// would not, and the second would be refused the node.
#[test]
fn a_guarded_fetch_is_judged_once_per_slot() {
    let world = alexnet_and_resnet152_world("guard-once", 4, 500.0);
    let (env, cap) = (&world.env, world.env.nodes[0].cache_bytes);
    let (alexnet, resnet) = (0, 1);
    let (w_a, w_r) = (env.model(alexnet).weights_bytes, env.model(resnet).weights_bytes);
    assert!(w_a + w_r <= cap && w_a + 2.0 * w_r > cap, "room for both, not for ResNet-152 twice");
    let (resnet_task, alexnet_task) = ((resnet, 0.2, 1e12), (alexnet, 0.3, 1e9));
    let mut obs = tasks_near_node_0(&world, &[resnet_task, resnet_task, alexnet_task, alexnet_task]);
    assert!(
        on_time_locally(env, &obs, 0) && !on_time_locally(env, &obs, 2),
        "ResNet-152 on time on its terminal, AlexNet late"
    );
    obs.caches[0] = vec![scenarios::CacheEntry { model: alexnet, ready_at: obs.time_s, last_used: None }];
    let options = options_preferring_node_0(env, &obs, TaskOrder::Deadline, Downloads::Held, Evictions::Guarded);
    assert_eq!(options, vec![NODE0; 4]);
}

/// With [`Fetch::InDemand`] a free choice fetches only a model that a task
/// reaching the node uses: one node, one terminal near it, two models; the
/// head prefers the one the terminal does not use. With [`Fetch::Any`] both
/// are fetched; in demand only the used one, and the other is not even
/// offered.
#[test]
fn a_demand_fetch_fetches_only_what_a_task_in_reach_uses() {
    let world = one_node_world("demand-fetch-test", |c| {
        c.area_m = [60.0, 60.0];
        c.terminals.count = 1;
        c.catalogue.models = vec!["MobileNetV2".into(), "ResNet-18".into()];
    });
    let env = &world.env;
    let obs = first_observation(&world);
    assert!(obs.tasks.len() == 1 && obs.link(0, 0).accessible, "one task, reaching the node");
    let used = obs.tasks[0].model;
    let unused = 1 - used;
    let mut logits = [0f32; 2];
    (logits[unused], logits[used]) = (3.0, 1.0);
    let decide = |fetch| {
        let mut a = solvers::dppo::decode::SlotActions { option: vec![OPT_LOCAL], ..Default::default() };
        let d = caches_without_claims(env, &obs, &mut a, &logits, fetch, Downloads::Revocable);
        validate(env, &obs, &d).unwrap();
        (d.caches, a.cache_free_choice)
    };
    assert_eq!(decide(Fetch::Any), (vec![vec![0, 1]], vec![true, true]));
    let mut offered = [false; 2];
    offered[used] = true;
    assert_eq!(decide(Fetch::InDemand), (vec![vec![used]], offered.to_vec()));
}

/// Along random worlds, a decision decoded with [`Fetch::InDemand`] fetches
/// (forced by an offload or by the head) only models that a task reaching
/// the node uses; with [`Fetch::Any`] some fetches are for no one.
#[test]
fn a_demand_fetch_never_fetches_for_no_one() {
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let mut for_no_one = [0usize; 2];
    let mut fetched = 0usize;
    each_decoded_slot(
        &mut rng,
        |rng, case| random_world(rng, case, 30),
        |case, _, _, obs, d, fetch| {
            for (n, set) in d.caches.iter().enumerate() {
                for &m in set.iter().filter(|&&m| obs.cache_entry(n, m).is_none()) {
                    let used = (0..obs.tasks.len()).any(|i| obs.tasks[i].model == m && obs.link(i, n).accessible);
                    if fetch == Fetch::InDemand {
                        assert!(used, "case {case}, slot {}: node {n} fetched model {m} for no one", obs.slot);
                        fetched += 1;
                    }
                    for_no_one[usize::from(fetch == Fetch::InDemand)] += usize::from(!used);
                }
            }
        },
    );
    assert!(fetched > 100, "the demand fetch must fetch: {fetched}");
    assert!(for_no_one[0] > 100, "without it fetches for no one must occur: {}", for_no_one[0]);
}

/// The cache rows' demand column (docs/model.md §9b): the number of the
/// slot's tasks that use the model, /10, or their share of the slot's tasks
/// times 3.6. With 36 tasks, as on `default`, the two agree, so weights
/// trained on the number carry over; the share sums to 3.6 over the models
/// whatever the world's size, where the number grows with it. Every other
/// column is the same either way.
#[test]
fn the_demand_column_counts_or_shares_the_slot_tasks() {
    for terminals in [36, 108] {
        let world = one_node_world("demand-column", |c| {
            c.terminals.count = terminals;
            c.terminals.activity = 1.0;
        });
        let (env, obs) = (&world.env, first_observation(&world));
        assert_eq!(obs.tasks.len(), terminals, "every terminal has a task");
        let ctx = SlotContext::new(env, &obs);
        let (mut count, mut share) = (Vec::new(), Vec::new());
        cache_rows(env, &obs, &ctx, Demand::Count, &mut count);
        cache_rows(env, &obs, &ctx, Demand::Share, &mut share);
        let demand = |rows: &[f32], m: usize| rows[m * CACHE_DIM + CACHE_DEMAND];
        let models = env.catalogue().len();
        for m in 0..models {
            let users = obs.tasks.iter().filter(|t| t.model == m).count() as f32;
            assert!((demand(&count, m) - users / 10.0).abs() < 1e-6);
            assert!((demand(&share, m) - users / terminals as f32 * 3.6).abs() < 1e-5);
            if terminals == 36 {
                assert!((demand(&count, m) - demand(&share, m)).abs() < 1e-6);
            }
        }
        let sum = |rows: &[f32]| (0..models).map(|m| demand(rows, m)).sum::<f32>();
        assert!((sum(&share) - 3.6).abs() < 1e-5, "shares sum to {}", sum(&share));
        assert!((sum(&count) - terminals as f32 / 10.0).abs() < 1e-5);
        for (k, (a, b)) in count.iter().zip(&share).enumerate().filter(|(k, _)| k % CACHE_DIM != CACHE_DEMAND) {
            assert_eq!(a, b, "column {} differs", k % CACHE_DIM);
        }
    }
    // A slot without tasks has no share: 0, not 0/0.
    let world = one_node_world("demand-column", |_| {});
    let mut obs = first_observation(&world);
    obs.tasks.clear();
    let mut rows = Vec::new();
    cache_rows(&world.env, &obs, &SlotContext::new(&world.env, &obs), Demand::Share, &mut rows);
    assert!(rows.chunks(CACHE_DIM).all(|r| r[CACHE_DEMAND] == 0.0 && r[CACHE_STAKE] == 0.0), "{rows:?}");
}

/// The cache rows' stake column: per (node, model), the tasks of the model
/// that reach the node, each counted as its cost on its own terminal over ω
/// (1 when late there, delay/deadline/ω when on time), /10. On `default`'s
/// 36 terminals ResNet-152 is late on some terminal and another model on
/// time on some, so both branches are exercised.
#[test]
fn the_stake_column_sums_the_local_cost_of_the_tasks_in_reach() {
    let world = one_node_world("stake-column", |c| c.terminals.activity = 1.0);
    let (env, obs) = (&world.env, first_observation(&world));
    let mut rows = Vec::new();
    cache_rows(env, &obs, &SlotContext::new(env, &obs), Demand::Share, &mut rows);
    let omega = env.interruption_cost;
    let (mut late, mut on_time) = (0, 0);
    let mut expected = vec![0f64; env.catalogue().len()];
    for (i, t) in obs.tasks.iter().enumerate() {
        if !obs.link(i, 0).accessible {
            continue;
        }
        let delay = env.model(t.model).total_flops / t.device_flops;
        expected[t.model] += if delay > t.deadline_s {
            late += 1;
            1.0
        } else {
            on_time += 1;
            delay / t.deadline_s / omega
        };
    }
    assert!(late > 0 && on_time > 0, "late {late}, on time {on_time}");
    for (m, e) in expected.iter().enumerate() {
        let got = rows[m * CACHE_DIM + CACHE_STAKE];
        assert!((f64::from(got) - e / 10.0).abs() < 1e-5, "model {m}: {got} against {}", e / 10.0);
    }
}

/// The critic's covered stake: of the slot's local cost at stake, the share
/// whose model is cached at a node the task reaches (downloads counted), and
/// the share whose model is ready there. One node; an AlexNet task (on time
/// on its terminal: cost a < ω) and a ResNet-152 task (late: ω) near it.
#[test]
fn the_covered_stake_is_the_share_of_local_cost_cached_in_reach() {
    let world = alexnet_or_resnet152_world("covered-stake", 2);
    let env = &world.env;
    let (alexnet, resnet) = (0, 1);
    let mut obs = first_observation(&world);
    assert!(obs.tasks.len() == 2 && obs.link(0, 0).accessible && obs.link(1, 0).accessible);
    obs.tasks[0].model = alexnet;
    obs.tasks[1].model = resnet;
    let (a, omega) = (scenarios::sim::local_cost(env, &obs.tasks[0]), env.interruption_cost);
    assert!(a < omega && scenarios::sim::local_cost(env, &obs.tasks[1]) == omega, "AlexNet on time, ResNet-152 late");
    let entry = |model, wait: f64| scenarios::CacheEntry { model, ready_at: obs.time_s + wait, last_used: None };
    let cases = [
        (vec![], (0.0, 0.0)),
        (vec![entry(alexnet, 0.0)], (a / (a + omega), a / (a + omega))),
        (vec![entry(resnet, 5.0)], (omega / (a + omega), 0.0)),
        (vec![entry(alexnet, 0.0), entry(resnet, 5.0)], (1.0, a / (a + omega))),
    ];
    for (cache, (covered, ready)) in cases {
        obs.caches[0] = cache.clone();
        let got = covered_stake(env, &obs);
        assert!((got.0 - covered).abs() < 1e-12 && (got.1 - ready).abs() < 1e-12, "{cache:?}: {got:?}");
    }
    // A task that does not reach the node is not covered by its cache.
    obs.links[1].accessible = false;
    let got = covered_stake(env, &obs);
    assert!((got.0 - a / (a + omega)).abs() < 1e-12, "{got:?}");
    // A slot without tasks: 0, not 0/0.
    obs.tasks.clear();
    assert_eq!(covered_stake(env, &obs), (0.0, 0.0));
}

/// The rescue keeps a decision valid and its caches, never raises the slot's
/// cost, moves only interrupted tasks (to a node) and otherwise only lowers
/// levels; on random worlds and logits it rescues many tasks. A small `ω`
/// makes rescues that would cost more in steps than they gain common.
#[test]
fn the_rescue_keeps_decisions_valid_and_never_raises_the_slot_cost() {
    use scenarios::Action;
    let mut rng = ChaCha8Rng::seed_from_u64(0x5e5c0e);
    let (mut rescued, mut gained) = (0usize, 0.0f64);
    let world_of = |rng: &mut ChaCha8Rng, case| {
        let omega = rng.gen_range(0.3..3.0);
        random_world_with(rng, case, 30, |c| c.cost.interruption = omega)
    };
    each_decoded_slot(&mut rng, world_of, |case, world, state, obs, d, _| {
        let (before, after) = outcomes_around(("the rescue", rescue), case, world, state, obs, d);
        for (k, (b, a)) in before.tasks.iter().zip(&after.tasks).enumerate() {
            match (b.action, a.action) {
                (Action::Offload { node, cut, rb, cu }, Action::Offload { node: n2, cut: c2, rb: r2, cu: u2 }) => {
                    assert!(
                        node == n2 && cut == c2 && r2 <= rb && u2 <= cu,
                        "task {k}: {:?} -> {:?}",
                        b.action,
                        a.action
                    )
                }
                (Action::Drop | Action::Local, Action::Offload { .. }) => {
                    assert_eq!(b.cost, world.env.interruption_cost, "task {k}: only an interrupted task is moved");
                    assert!(a.cost < b.cost, "task {k}: a rescue serves the task for less");
                    rescued += 1;
                }
                (x, y) => assert_eq!(x, y, "task {k}"),
            }
        }
        assert!(after.cost <= before.cost + 1e-9, "case {case}: slot cost {} -> {}", before.cost, after.cost);
        gained += before.cost - after.cost;
    });
    assert!(rescued > 200 && gained > 0.0, "the rescue must be exercised: {rescued} tasks, cost gained {gained}");
}

/// Hand-built: one node, two tasks of a ready model; the first holds every
/// unit, the second is dropped. The rescue steps the first down one level
/// and serves the second at the smallest levels, for a lower slot cost.
#[test]
fn the_rescue_takes_units_from_a_task_that_holds_them_all() {
    use scenarios::{Action, Decision};
    let world = one_node_world("rescue-test", |c| {
        c.area_m = [100.0, 100.0];
        c.nodes.rb_units = 8;
        c.nodes.cu_units = 4;
        c.terminals.count = 2;
        c.terminals.activity = 1.0;
        c.terminals.model_switch_prob = 0.0;
        c.terminals.deadline_ms = vec![1000.0];
        c.catalogue.models = vec!["MobileNetV2".into()];
    });
    let env = &world.env;
    let mut state = SimState::initial(1, world.terminals());
    let mut obs = Observation::default();
    let mut draws = world.draws();
    // Fetch the model and wait until it is ready.
    loop {
        observe(&world, &mut draws, &state, &mut obs);
        if obs.cache_entry(0, 0).is_some_and(|e| e.ready_at <= obs.time_s) {
            break;
        }
        let keep = Decision { caches: vec![vec![0]], actions: vec![Action::Local; obs.tasks.len()] };
        state = transition(env, &state, &obs, &keep).unwrap().1;
    }
    assert_eq!(obs.tasks.len(), 2);
    assert!(obs.covered(0) && obs.covered(1));
    let d = Decision {
        caches: vec![vec![0]],
        actions: vec![Action::Offload { node: 0, cut: 0, rb: 8, cu: 4 }, Action::Drop],
    };
    let mut r = d.clone();
    rescue(env, &obs, &mut r);
    validate(env, &obs, &r).unwrap();
    let (rb_min, cu_min) = (env.rb_levels[0], env.cu_levels[0]);
    match (r.actions[0], r.actions[1]) {
        (Action::Offload { rb, cu, .. }, Action::Offload { node: 0, rb: r1, cu: c1, .. }) => {
            assert_eq!((r1, c1), (rb_min, cu_min));
            // One step down of each unit that was short, no more.
            assert_eq!(rb, *env.rb_levels.iter().filter(|&&l| l < 8).max().unwrap());
            assert_eq!(cu, *env.cu_levels.iter().filter(|&&l| l < 4).max().unwrap());
        }
        other => panic!("not rescued: {other:?}"),
    }
    let before = transition(env, &state, &obs, &d).unwrap().0.cost;
    let after = transition(env, &state, &obs, &r).unwrap().0.cost;
    assert!(after < before - 0.5, "slot cost {before} -> {after}");

    // With ω between the rescued task's served cost and that plus what the
    // steps down cost the first task, the move would raise the slot's cost:
    // no rescue.
    let cost_of =
        |d: &Decision| transition(env, &state, &obs, d).unwrap().0.tasks.iter().map(|t| t.cost).collect::<Vec<_>>();
    let (held, shared) = (cost_of(&d)[0], cost_of(&r));
    let rise = shared[0] - held;
    assert!(rise > 1e-6, "stepping down must cost the first task something");
    let mut cheap = world.env.clone();
    cheap.interruption_cost = shared[1] + rise / 2.0;
    let mut kept = d.clone();
    rescue(&cheap, &obs, &mut kept);
    assert_eq!(kept, d, "a rescue that costs more than it gains is not made");
}

/// The claims of the most probable choices, downloads held, with the same
/// cache-head logit per model at every node.
fn claims_with(env: &scenarios::Environment, obs: &Observation, model_logits: &[f32]) -> Claims {
    let shape = HeadShape::of(env);
    let logits: Vec<f32> = (0..shape.nodes).flat_map(|_| model_logits.iter().copied()).collect();
    let mut pick: Pick<'_, ChaCha8Rng> = Pick::Mode;
    claim_fetches(env, obs, &shape, &logits, Downloads::Held, &mut pick)
}

/// As [`claims_with`], the cache head wanting both models equally.
fn claims_wanting_everything(env: &scenarios::Environment, obs: &Observation) -> Claims {
    claims_with(env, obs, &[5.0, 5.0])
}

/// Fetch claims come before the tasks: an AlexNet task (earlier deadline,
/// on time on its terminal) and a ResNet-152 task (late on its own) both
/// prefer the node, whose cache holds one of the two. By deadline the
/// AlexNet task pins the node first and the ResNet-152 task is refused it;
/// with the cache head asked first (preferring ResNet-152), ResNet-152 is
/// claimed, and it is the AlexNet task that is refused. The claim is a free
/// choice of the cache head, kept in the decision.
#[test]
fn a_claim_is_decided_before_the_tasks() {
    let (world, obs) = alexnet_on_time_and_resnet152_late("claim-first");
    let env = &world.env;
    let (alexnet, resnet) = (0, 1);
    let shape = HeadShape::of(env);
    let options = |claims: &Claims| {
        let mut a =
            decode_preferring_node_0(env, &obs, TaskOrder::Deadline, Downloads::Held, Evictions::Guarded, claims);
        let mut pick: Pick<'_, ChaCha8Rng> = Pick::Mode;
        decode_cuts(env, &obs, &shape, &mut a, &vec![0.0; 2 * shape.cuts], &mut pick);
        let d =
            decode_caches(env, &obs, &shape, &mut a, &[5.0, 5.0], Fetch::InDemand, Downloads::Held, claims, &mut pick);
        validate(env, &obs, &d).unwrap();
        (a.option.clone(), d.caches, a.cache_free_choice)
    };
    let (opts, caches, _) = options(&Claims::default());
    assert_eq!((opts, caches), (vec![NODE0, OPT_LOCAL], vec![vec![alexnet]]));
    let claims = claims_with(env, &obs, &[1.0, 5.0]);
    assert_eq!(claims.models, vec![vec![resnet]], "ResNet-152 claimed; then AlexNet no longer fits");
    let (opts, caches, free) = options(&claims);
    assert_eq!((opts, caches), (vec![OPT_LOCAL, NODE0], vec![vec![resnet]]));
    assert!(free[resnet], "the claim is the cache head's choice");
}

/// A claim counts only the tasks a download would serve: a ResNet-152 task
/// standing by the node is claimed for; one walking away at 5 m/s has left
/// the node's reach (the farthest task in reach now) when the ~10 s
/// download is ready, and one that reaches another node already holding
/// ResNet-152 (there or on its way) is served there; neither is claimed for.
#[test]
fn a_claim_counts_only_tasks_still_in_reach_and_served_nowhere_else() {
    let world = alexnet_and_resnet152_world("claim-staying", 1, 500.0);
    let env = &world.env;
    let resnet = 1;
    let mut obs = tasks_near_node_0(&world, &[(resnet, 0.3, 20e9)]);
    assert!(!on_time_locally(env, &obs, 0));
    assert_eq!(claims_wanting_everything(env, &obs).models, vec![vec![resnet]]);
    let away = [obs.tasks[0].pos[0] - env.nodes[0].pos[0], obs.tasks[0].pos[1] - env.nodes[0].pos[1]];
    let norm = away[0].hypot(away[1]).max(1e-9);
    obs.tasks[0].vel = [5.0 * away[0] / norm, 5.0 * away[1] / norm];
    let claims = claims_wanting_everything(env, &obs);
    assert!(claims.models == vec![Vec::<usize>::new()] && claims.decided.is_empty(), "{claims:?}");

    let mut c = ScenarioConfig::default();
    (c.nodes.count, c.area_m, c.terminals.count, c.terminals.activity) = (2, [60.0, 60.0], 1, 1.0);
    c.catalogue.models = vec!["AlexNet".into(), "ResNet-152".into()];
    let world = World::build(&c.validate("claim-elsewhere", None).unwrap(), 1);
    let env = &world.env;
    let mut obs = first_observation(&world);
    assert!(obs.tasks.len() == 1 && obs.link(0, 0).accessible && obs.link(0, 1).accessible, "one task, both nodes");
    (obs.tasks[0].model, obs.tasks[0].deadline_s, obs.tasks[0].device_flops) = (resnet, 0.3, 20e9);
    assert_eq!(claims_wanting_everything(env, &obs).models, vec![vec![resnet], vec![resnet]]);
    obs.caches[1] = vec![scenarios::CacheEntry { model: resnet, ready_at: obs.time_s + 3.0, last_used: None }];
    assert_eq!(claims_wanting_everything(env, &obs).models, vec![Vec::<usize>::new(); 2]);
}

/// A claim may push out a ready model in use only for at least its stake:
/// AlexNet ready at a node with room for one of the two, every task late on
/// its terminal (stake 1 each). Two ResNet-152 tasks against one AlexNet
/// task claim the node; one against two does not.
#[test]
fn a_claim_evicts_a_model_in_use_only_for_at_least_its_stake() {
    let world = alexnet_or_resnet152_world("claim-evicts", 3);
    let env = &world.env;
    let (alexnet, resnet) = (0, 1);
    let late = |model| (model, 0.05, 1e9);
    for (tasks, claimed) in [
        ([late(resnet), late(resnet), late(alexnet)], vec![vec![resnet]]),
        ([late(resnet), late(alexnet), late(alexnet)], vec![vec![]]),
    ] {
        let mut obs = tasks_near_node_0(&world, &tasks);
        assert!((0..3).all(|i| !on_time_locally(env, &obs, i)), "every task late on its terminal");
        obs.caches[0] = vec![scenarios::CacheEntry { model: alexnet, ready_at: obs.time_s, last_used: None }];
        assert_eq!(claims_wanting_everything(env, &obs).models, claimed, "{tasks:?}");
    }
}
