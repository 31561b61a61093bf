//! The world of one (scenario, seed): the static environment that policies
//! may see, and the exogenous processes (trace, tasks, shadowing) that only
//! the simulator reads, slot by slot.

use std::sync::Arc;

use crate::catalogue::{Catalogue, DnnModel, ModelId};
use crate::config::Scenario;
use crate::mobility::{self, Trace};
use crate::radio::{Radio, ShadowMap, ShadowStack};
use crate::rng::stream;
use crate::topology::place_nodes;
use crate::workload::{self, Workload};

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

/// Environment plus the exogenous processes of one seed.
#[derive(Debug, Clone)]
pub struct World {
    pub seed: u64,
    pub env: Environment,
    pub radio: Radio,
    pub trace: Trace,
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

impl World {
    /// Build the world of `scenario` under `seed` with its own mobility generator.
    pub fn build(scenario: &Scenario, seed: u64) -> World {
        let c = scenario.config();
        if let Some(raw) = scenario.trace() {
            return Self::with_trace(scenario, seed, raw.resample(c.slot_s, Some(c.slots)));
        }
        let trace = mobility::generate(
            &mut stream(seed, "mobility"),
            &c.mobility,
            scenario.area(),
            c.terminals.count,
            c.slots,
            c.slot_s,
        );
        Self::with_trace(scenario, seed, trace)
    }

    /// Build the world around a given trace (its terminal and slot counts win).
    pub fn with_trace(scenario: &Scenario, seed: u64, trace: Trace) -> World {
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
        let workload = workload::draw(&mut stream(seed, "tasks"), &c.terminals, scenario.catalogue().len(), &trace);
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
        World { seed, env, radio, trace, workload, shadow, shadow_stack, range2_m2, tiles }
    }

    pub fn slots(&self) -> usize {
        self.trace.slots
    }
    pub fn terminals(&self) -> usize {
        self.trace.terminals
    }
}
