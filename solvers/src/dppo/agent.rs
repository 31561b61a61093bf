//! One decision step of the agent for a batch of observations: build the
//! rows, run the heads once per stage for the whole batch, decode.

use std::time::Instant;

use rand::Rng;
use scenarios::{Decision, Environment, Observation};

use super::decode::{
    claim_fetches, decode_caches, decode_cuts, decode_tasks, rescue, top_up, Claims, Fetch, HeadShape, Pick,
    SlotActions,
};
use super::features::{self, Demand, SlotContext, CACHE_DIM, CUT_DIM, NODE0, ROW_DIM, VALUE_DIM};
use super::net::{rows_tensor, to_vec, Affine, Net, Normalizer};

/// What the update needs of one decided slot (rows already normalised).
#[derive(Debug, Clone)]
pub struct SlotRecord {
    pub n_tasks: usize,
    pub option_rows: Vec<f32>,
    pub actions: SlotActions,
    /// Per offloaded task (observation order): one cut row per real cut of its model.
    pub cut_rows: Vec<f32>,
    pub cache_rows: Vec<f32>,
    pub value_row: Vec<f32>,
    pub value: f32,
}

/// The raw (unnormalised) rows of one observation.
pub struct SlotRows {
    /// Option rows of every task's candidates, task after task.
    pub opt: Vec<f32>,
    /// Option ids of those candidates; task `i`'s are `cands[cand_start[i]..cand_start[i + 1]]`.
    pub cands: Vec<usize>,
    pub cand_start: Vec<usize>,
    pub cache: Vec<f32>,
    pub value: Vec<f32>,
}

/// The rows the agent builds for one observation, `slots_left` slots before the end.
pub fn slot_rows(env: &Environment, obs: &Observation, slots_left: usize, demand: Demand) -> SlotRows {
    let ctx = SlotContext::new(env, obs);
    // At most local, drop and every node per task.
    let most = obs.tasks.len() * (NODE0 + env.nodes.len());
    let mut opt = Vec::with_capacity(most * ROW_DIM);
    let (mut cands, mut cand_start) = (Vec::with_capacity(most), Vec::with_capacity(obs.tasks.len() + 1));
    cand_start.push(0);
    for i in 0..obs.tasks.len() {
        features::option_rows(env, obs, &ctx, i, &mut opt, &mut cands);
        cand_start.push(cands.len());
    }
    let mut cache = Vec::with_capacity(env.nodes.len() * env.catalogue().len() * CACHE_DIM);
    features::cache_rows(env, obs, &ctx, demand, &mut cache);
    let mut value = Vec::with_capacity(VALUE_DIM);
    features::value_row(env, obs, &opt, &cand_start, &cache, slots_left, &mut value);
    SlotRows { opt, cands, cand_start, cache, value }
}

/// Decide one slot for each observation. `stats`, when given, accumulates the
/// raw rows (for the normaliser's next update).
#[allow(clippy::too_many_arguments)]
pub fn act<R: Rng>(
    net: &Net,
    affine: &Affine,
    env: &Environment,
    shape: &HeadShape,
    observations: &[&Observation],
    slots_left: &[usize],
    pick: &mut Pick<'_, R>,
    mut stats: Option<&mut Normalizer>,
    forward_s: &mut f64,
) -> Vec<(Decision, SlotRecord)> {
    let rows: Vec<SlotRows> =
        observations.iter().zip(slots_left).map(|(obs, &left)| slot_rows(env, obs, left, net.arch.demand())).collect();
    let total = |f: fn(&SlotRows) -> usize| rows.iter().map(f).sum::<usize>();
    let mut raw_opt: Vec<Vec<f32>> = Vec::with_capacity(observations.len());
    let mut opt_all = Vec::with_capacity(total(|r| r.opt.len()));
    let mut cache_all = Vec::with_capacity(total(|r| r.cache.len()));
    let mut value_all = Vec::with_capacity(total(|r| r.value.len()));
    let mut records = Vec::with_capacity(observations.len());
    let mut candidates = Vec::with_capacity(observations.len());
    for (obs, SlotRows { opt, cands, cand_start, cache, value }) in observations.iter().zip(rows) {
        if let Some(s) = stats.as_deref_mut() {
            s.option.observe(&opt);
            s.cache.observe(&cache);
            s.value.observe(&value);
        }
        let (mut o, mut c, mut v) = (opt.clone(), cache, value);
        affine.option(&mut o);
        affine.cache(&mut c);
        affine.value(&mut v);
        opt_all.extend_from_slice(&o);
        cache_all.extend_from_slice(&c);
        value_all.extend_from_slice(&v);
        raw_opt.push(opt);
        candidates.push((cands, cand_start));
        records.push(SlotRecord {
            n_tasks: obs.tasks.len(),
            option_rows: o,
            actions: SlotActions::default(),
            cut_rows: Vec::new(),
            cache_rows: c,
            value_row: v,
            value: 0.0,
        });
    }
    let clock = Instant::now();
    let (row_out, cache_logits, values) = tch::no_grad(|| {
        (
            to_vec(&net.options(&rows_tensor(&opt_all, ROW_DIM))),
            to_vec(&net.caches(&rows_tensor(&cache_all, CACHE_DIM))),
            to_vec(&net.values(&rows_tensor(&value_all, VALUE_DIM))),
        )
    });
    *forward_s += clock.elapsed().as_secs_f64();

    // Stage 1: the cache head's fetch claims (if asked first), options and levels.
    let stride = shape.row_out();
    let per_slot_cache = shape.nodes * shape.models;
    let mut at = 0;
    let mut claims = Vec::with_capacity(records.len());
    for (k, (((obs, rec), v), (cands, cand_start))) in
        observations.iter().zip(records.iter_mut()).zip(&values).zip(candidates).enumerate()
    {
        let len = cands.len() * stride;
        let logits = &cache_logits[k * per_slot_cache..(k + 1) * per_slot_cache];
        let claimed = if net.arch.fetch_claims {
            claim_fetches(env, obs, shape, logits, net.arch.downloads(), pick)
        } else {
            Claims::default()
        };
        rec.actions = decode_tasks(
            env,
            obs,
            shape,
            cands,
            cand_start,
            &row_out[at..at + len],
            net.arch.task_order(),
            net.arch.downloads(),
            net.arch.evictions(),
            &claimed,
            pick,
        );
        rec.value = *v;
        at += len;
        claims.push(claimed);
    }

    // Stage 2: cuts of the offloaded tasks, all observations in one forward.
    // Only a model's real cuts are built and go through the network; decoding
    // takes `shape.cuts` logits per task, the padding masked.
    let (mut cut_all, mut cut_counts) = (Vec::new(), Vec::new());
    for ((obs, rec), raw) in observations.iter().zip(records.iter_mut()).zip(&raw_opt) {
        let mut rows = Vec::new();
        for i in 0..obs.tasks.len() {
            if !rec.actions.is_offload(i) {
                continue;
            }
            let o = rec.actions.option[i];
            let k = rec.actions.cand_start[i] + rec.actions.choice[i];
            let row = &raw[k * ROW_DIM..(k + 1) * ROW_DIM];
            let start = rows.len();
            features::cut_rows(env, obs, i, o - NODE0, row, &mut rows);
            if let Some(s) = stats.as_deref_mut() {
                s.cut.observe(&rows[start..]);
            }
            affine.cut(&mut rows[start..]);
            cut_counts.push((rows.len() - start) / CUT_DIM);
        }
        cut_all.extend_from_slice(&rows);
        rec.cut_rows = rows;
    }
    let clock = Instant::now();
    let real_logits = if cut_all.is_empty() {
        Vec::new()
    } else {
        tch::no_grad(|| to_vec(&net.cuts(&rows_tensor(&cut_all, CUT_DIM))))
    };
    *forward_s += clock.elapsed().as_secs_f64();
    let mut cut_logits = Vec::with_capacity(cut_counts.len() * shape.cuts);
    let mut from = 0;
    for n in cut_counts {
        cut_logits.extend_from_slice(&real_logits[from..from + n]);
        cut_logits.resize(cut_logits.len() + shape.cuts - n, 0.0);
        from += n;
    }
    let mut at = 0;
    let mut out = Vec::with_capacity(records.len());
    for (k, ((obs, mut rec), claimed)) in observations.iter().zip(records).zip(&claims).enumerate() {
        let n_cut = (0..rec.n_tasks).filter(|&i| rec.actions.is_offload(i)).count() * shape.cuts;
        decode_cuts(env, obs, shape, &mut rec.actions, &cut_logits[at..at + n_cut], pick);
        at += n_cut;
        let logits = &cache_logits[k * per_slot_cache..(k + 1) * per_slot_cache];
        let fetch = if net.arch.demand_fetch { Fetch::InDemand } else { Fetch::Any };
        let mut decision =
            decode_caches(env, obs, shape, &mut rec.actions, logits, fetch, net.arch.downloads(), claimed, pick);
        if net.arch.rescue {
            rescue(env, obs, &mut decision);
        }
        if net.arch.top_up {
            top_up(env, obs, &mut decision);
        }
        out.push((decision, rec));
    }
    out
}

/// The critic's values of the given observations (for bootstrapping a rollout).
pub fn values(
    net: &Net,
    affine: &Affine,
    env: &Environment,
    observations: &[&Observation],
    slots_left: &[usize],
) -> Vec<f32> {
    let mut rows = Vec::new();
    for (obs, &left) in observations.iter().zip(slots_left) {
        let start = rows.len();
        rows.extend(slot_rows(env, obs, left, net.arch.demand()).value);
        affine.value(&mut rows[start..]);
    }
    tch::no_grad(|| to_vec(&net.values(&rows_tensor(&rows, VALUE_DIM))))
}
