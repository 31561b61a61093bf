//! The world of one (scenario, seed): the static environment that policies
//! may see, and the exogenous processes (trace, tasks, shadowing) that only
//! the simulator reads, slot by slot.

use std::sync::Arc;

use rand::seq::SliceRandom;

use crate::catalogue::{Catalogue, DnnModel, ModelId};
use crate::config::Scenario;
use crate::mobility::{WalkPlan, Walkers};
use crate::radio::{Radio, ShadowMap, ShadowStack};
use crate::rng::stream;
use crate::topology::place_nodes;
use crate::trace::Trace;
use crate::workload::{self, SlotTasks, TaskStream, Workload};

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: [f64; 2],
    /// `K_n`.
    pub rb_units: u32,
    /// `C_n`.
    pub cu_units: u32,
    /// `f_e`, FLOP/s per compute unit.
    pub cu_flops: f64,
    /// `S_n`, bytes.
    pub cache_bytes: f64,
    /// `R_bh`, bit/s.
    pub backhaul_bps: f64,
    /// `RTT_cloud`, s.
    pub cloud_rtt_s: f64,
}

/// What every policy may know before the run: nodes, catalogue, levels, costs.
#[derive(Debug, Clone)]
pub struct Environment {
    pub scenario: Arc<Scenario>,
    pub nodes: Vec<Node>,
    pub slot_s: f64,
    pub handover_s: f64,
    pub rb_levels: Vec<u32>,
    pub cu_levels: Vec<u32>,
    /// `ω`.
    pub interruption_cost: f64,
    /// `β` per byte (β per GB / 1e9).
    pub backhaul_cost_per_byte: f64,
}

impl Environment {
    pub fn catalogue(&self) -> &Catalogue {
        self.scenario.catalogue()
    }
    pub fn model(&self, id: ModelId) -> &DnnModel {
        self.scenario.catalogue().get(id)
    }
    /// Time at which a download started at `t_s` at `node` is ready.
    pub fn ready_after_download(&self, node: usize, model: ModelId, t_s: f64) -> f64 {
        let n = &self.nodes[node];
        t_s + n.cloud_rtt_s + self.model(model).weights_bytes * 8.0 / n.backhaul_bps
    }
}

/// Where the terminals are: a trace held in memory (read from a file), or
/// generated mobility replayed slot by slot.
#[derive(Debug, Clone)]
pub enum Mobility {
    Stored(Trace),
    Generated(Box<WalkPlan>),
}

/// Environment plus the exogenous processes of one seed. The positions and
/// tasks of a slot are read through [`SlotDraws`], in slot order, so that a
/// world's memory does not grow with its number of slots.
#[derive(Debug, Clone)]
pub struct World {
    pub seed: u64,
    pub env: Environment,
    pub radio: Radio,
    pub mobility: Mobility,
    pub workload: Workload,
    pub shadow: Vec<ShadowMap>,
    /// The same maps interleaved by node, for reading every node at one point.
    pub shadow_stack: ShadowStack,
    /// Squared distance beyond which no link to node n from a point of shadowing
    /// tile k can be accessible: `range2[k · nodes + n]` (all maps share one
    /// grid; tile-major, as `observe` reads every node of one tile).
    pub range2_m2: Vec<f64>,
    pub tiles: usize,
}

/// `count` terminals of `trace` drawn under `seed` (ascending): a uniform draw
/// among those present in some slot, topped up with absent ones (in index
/// order) when too few are.
fn trace_subset(trace: &Trace, count: usize, seed: u64) -> Vec<usize> {
    let (mut seen, absent): (Vec<usize>, Vec<usize>) = (0..trace.terminals).partition(|&u| trace.ever_present(u));
    seen.shuffle(&mut stream(seed, "trace-terminals"));
    let mut keep: Vec<usize> = seen.into_iter().chain(absent).take(count).collect();
    keep.sort_unstable();
    keep
}

impl World {
    /// Build the world of `scenario` under `seed` with its own mobility generator.
    pub fn build(scenario: &Scenario, seed: u64) -> World {
        let c = scenario.config();
        if let Some(raw) = scenario.trace() {
            let m = &c.mobility;
            let mut trace = raw.resample_from(m.trace_offset_s, c.slot_s, Some(c.slots));
            if m.trace_terminals > 0 && m.trace_terminals < trace.terminals {
                trace = trace.subset(&trace_subset(&trace, m.trace_terminals, seed));
            }
            return Self::with_trace(scenario, seed, trace);
        }
        let walks =
            WalkPlan::new(stream(seed, "mobility"), &c.mobility, scenario.area(), c.terminals.count, c.slots, c.slot_s);
        Self::with_mobility(scenario, seed, Mobility::Generated(Box::new(walks)))
    }

    /// Build the world around a given trace (its terminal and slot counts win).
    pub fn with_trace(scenario: &Scenario, seed: u64, trace: Trace) -> World {
        Self::with_mobility(scenario, seed, Mobility::Stored(trace))
    }

    fn with_mobility(scenario: &Scenario, seed: u64, mobility: Mobility) -> World {
        let c = scenario.config();
        let positions = place_nodes(scenario, seed);
        let nodes: Vec<Node> = positions
            .iter()
            .map(|&pos| Node {
                pos,
                rb_units: c.nodes.rb_units,
                cu_units: c.nodes.cu_units,
                cu_flops: c.nodes.cu_gflops * 1e9,
                cache_bytes: c.nodes.cache_mib * (1u64 << 20) as f64,
                backhaul_bps: c.nodes.backhaul_mbps * 1e6,
                cloud_rtt_s: c.nodes.cloud_rtt_ms / 1000.0,
            })
            .collect();
        let radio = Radio::new(&c.radio, c.nodes.rb_units, c.nodes.rb_unit_hz);
        let mut shadow_rng = stream(seed, "shadowing");
        let shadow: Vec<ShadowMap> = (0..nodes.len())
            .map(|_| {
                if c.radio.shadowing_sigma_db > 0.0 {
                    ShadowMap::generate(
                        &mut shadow_rng,
                        scenario.area(),
                        c.radio.shadowing_decorrelation_m,
                        c.radio.shadowing_sigma_db,
                    )
                } else {
                    ShadowMap::flat(scenario.area())
                }
            })
            .collect();
        assert!(shadow.windows(2).all(|w| w[0].same_grid(&w[1])), "one shadowing grid per world");
        let tiles = shadow[0].tiles();
        let range2_m2 = (0..tiles)
            .flat_map(|k| shadow.iter().map(move |m| (k, m)))
            .map(|(k, m)| radio.max_range_m(m.tile_min_db(k).min(0.0)).powi(2))
            .collect();
        let shadow_stack = ShadowStack::new(&shadow);
        let terminals = match &mobility {
            Mobility::Stored(trace) => trace.terminals,
            Mobility::Generated(walks) => walks.terminals(),
        };
        let workload = workload::draw(stream(seed, "tasks"), &c.terminals, scenario.catalogue().len(), terminals);
        let env = Environment {
            scenario: Arc::new(scenario.clone()),
            nodes,
            slot_s: c.slot_s,
            handover_s: c.decision.handover_ms / 1000.0,
            rb_levels: c.decision.rb_levels.clone(),
            cu_levels: c.decision.cu_levels.clone(),
            interruption_cost: c.cost.interruption,
            backhaul_cost_per_byte: c.cost.backhaul_per_gb / 1e9,
        };
        World { seed, env, radio, mobility, workload, shadow, shadow_stack, range2_m2, tiles }
    }

    pub fn slots(&self) -> usize {
        match &self.mobility {
            Mobility::Stored(trace) => trace.slots,
            Mobility::Generated(walks) => walks.slots(),
        }
    }
    pub fn terminals(&self) -> usize {
        self.workload.terminals()
    }

    /// A reader of this world's slots, before slot 0.
    pub fn draws(&self) -> SlotDraws {
        let u_n = self.terminals();
        SlotDraws {
            slot: None,
            walkers: match &self.mobility {
                Mobility::Stored(_) => None,
                Mobility::Generated(walks) => Some(walks.walkers()),
            },
            stream: self.workload.stream(),
            pos: vec![[0.0; 2]; u_n],
            prev_pos: vec![[0.0; 2]; u_n],
            present: vec![true; u_n],
            prev_present: vec![false; u_n],
            tasks: SlotTasks::default(),
        }
    }

    /// Bring `d` to slot `t`: forward from where it is, or replayed from slot 0
    /// when `t` is behind it. Reading slots in order costs one slot each.
    pub fn draws_at(&self, d: &mut SlotDraws, t: usize) {
        assert!(t < self.slots(), "slot {t} of a world of {} slots", self.slots());
        if d.slot.is_some_and(|s| s > t) {
            *d = self.draws();
        }
        while d.slot != Some(t) {
            let next = d.slot.map_or(0, |s| s + 1);
            std::mem::swap(&mut d.pos, &mut d.prev_pos);
            std::mem::swap(&mut d.present, &mut d.prev_present);
            match (&self.mobility, &mut d.walkers) {
                (Mobility::Stored(trace), _) => {
                    let u_n = trace.terminals;
                    d.pos.copy_from_slice(&trace.pos[next * u_n..(next + 1) * u_n]);
                    d.present.copy_from_slice(&trace.present[next * u_n..(next + 1) * u_n]);
                }
                (Mobility::Generated(walks), Some(walkers)) => {
                    walks.next_slot(walkers, &mut d.pos);
                    d.present.fill(true); // generated terminals are always there
                }
                (Mobility::Generated(_), None) => unreachable!("generated mobility has walkers"),
            }
            if next == 0 {
                d.prev_present.fill(false);
            }
            self.workload.next_slot(&mut d.stream, &d.present, &mut d.tasks);
            d.slot = Some(next);
        }
    }
}

/// The exogenous draws of the slot a [`World::draws_at`] brought it to:
/// every terminal's position and presence (and the previous slot's, for
/// velocities) and its task. Memory per terminal, whatever the slot count.
#[derive(Debug, Clone)]
pub struct SlotDraws {
    slot: Option<usize>,
    walkers: Option<Walkers>,
    stream: TaskStream,
    pub pos: Vec<[f64; 2]>,
    prev_pos: Vec<[f64; 2]>,
    pub present: Vec<bool>,
    prev_present: Vec<bool>,
    pub tasks: SlotTasks,
}

impl SlotDraws {
    /// The slot these draws are of (`None` before the first).
    pub fn slot(&self) -> Option<usize> {
        self.slot
    }
    /// Velocity of terminal `u` at the start of this slot: displacement over
    /// the previous slot (zero at slot 0 or after an absence).
    pub fn velocity(&self, u: usize, slot_s: f64) -> [f64; 2] {
        if !self.prev_present[u] {
            return [0.0, 0.0];
        }
        let (a, b) = (self.prev_pos[u], self.pos[u]);
        [(b[0] - a[0]) / slot_s, (b[1] - a[1]) / slot_s]
    }
}
