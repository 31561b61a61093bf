//! The scenario file's schema: exactly what a TOML file says, as plain serde
//! types. Every field has the `default` preset's value, so a file lists only
//! what differs. Nothing here checks a value or reads a file: `config`
//! turns a [`ScenarioConfig`] into the checked `Scenario`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::trace::TraceFormat;

/// Node placement rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Square lattice with `spacing_m`, the `count` points nearest the area centre.
    Grid,
    /// Hexagonal lattice with `spacing_m`, the `count` points nearest the area centre.
    Hex,
    /// Uniform in the area (seeded).
    Random,
    /// The first `count` rows of `sites_file` (latitude/longitude), projected to metres.
    Sites,
}

/// Path-loss model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathLossModel {
    /// `140.7 + 36.7 log10(d_km)` dB.
    SmallCell,
    /// `128.1 + 37.6 log10(d_km)` dB.
    Macro,
}

/// Built-in mobility generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MobilityModel {
    RandomWaypoint,
    GaussMarkov,
    Manhattan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScenarioConfig {
    /// Scenario name, written into every result row.
    pub name: String,
    /// One line for `edgebench scenario list`.
    pub description: String,
    /// Number of slots `T`.
    pub slots: usize,
    /// Slot length `Δ` in seconds.
    pub slot_s: f64,
    /// Width and height of the world in metres (generated placements and mobility).
    pub area_m: [f64; 2],
    pub nodes: NodesConfig,
    pub radio: RadioConfig,
    pub terminals: TerminalsConfig,
    pub mobility: MobilityConfig,
    pub catalogue: CatalogueConfig,
    pub decision: DecisionConfig,
    pub cost: CostConfig,
    /// Training only: the fields to sample per world (`family.rs`); a
    /// scenario to run has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<FamilyConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodesConfig {
    pub placement: Placement,
    pub count: usize,
    /// Lattice spacing for `grid` and `hex`.
    pub spacing_m: f64,
    /// Site file for `sites`: CSV with LATITUDE and LONGITUDE columns.
    pub sites_file: String,
    /// With `sites`: the area is the sites' bounding box plus this margin on every side.
    pub site_margin_m: f64,
    /// Uplink resource units `K_n`.
    pub rb_units: u32,
    /// Bandwidth of one resource unit, Hz.
    pub rb_unit_hz: f64,
    /// Compute units `C_n`.
    pub cu_units: u32,
    /// FLOP/s of one compute unit `f_e`.
    pub cu_gflops: f64,
    /// Cache storage `S_n`, MiB.
    pub cache_mib: f64,
    /// Backhaul rate `R_bh`, Mbit/s.
    pub backhaul_mbps: f64,
    /// Cloud round trip `RTT_cloud`, ms.
    pub cloud_rtt_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RadioConfig {
    pub pathloss: PathLossModel,
    pub tx_power_dbm: f64,
    pub noise_dbm_per_hz: f64,
    pub noise_figure_db: f64,
    pub interference_margin_db: f64,
    pub shadowing_sigma_db: f64,
    pub shadowing_decorrelation_m: f64,
    /// `γ_min`: a node is accessible when the SNR on one unit is at least this.
    pub min_snr_db: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TerminalsConfig {
    pub count: usize,
    /// Device compute `f_u` drawn uniformly from this range, GFLOP/s.
    pub device_gflops: [f64; 2],
    /// Zipf exponent of model popularity (rank = order in `catalogue.models`).
    pub zipf_exponent: f64,
    /// Probability per slot that a terminal switches to a freshly drawn model.
    pub model_switch_prob: f64,
    /// Median of the lognormal task input size, kB (1 kB = 1000 bytes).
    pub input_kb_median: f64,
    /// σ of ln(input size).
    pub input_log_sigma: f64,
    /// Deadlines of the service classes, ms; each terminal draws one class uniformly.
    pub deadline_ms: Vec<f64>,
    /// Probability that a terminal issues a task in a slot.
    pub activity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MobilityConfig {
    pub model: MobilityModel,
    /// Speed range, m/s (random waypoint and Manhattan draw uniformly; Gauss–Markov uses the midpoint as mean).
    pub speed_mps: [f64; 2],
    /// Random waypoint pause range, s.
    pub pause_s: [f64; 2],
    /// Gauss–Markov memory α in [0, 1).
    pub gm_alpha: f64,
    /// Gauss–Markov speed standard deviation, m/s.
    pub gm_speed_sigma: f64,
    /// Gauss–Markov direction standard deviation, rad.
    pub gm_direction_sigma: f64,
    /// Manhattan block length, m.
    pub block_m: f64,
    /// Manhattan probability of turning at an intersection (left or right, equally).
    pub turn_prob: f64,
    /// A trace to replay instead of the generator ("" = generate): a file
    /// (SUMO FCD, BonnMotion, CSV; canonical Parquet through the binary) or
    /// `builtin:NAME`. The terminal count becomes the trace's.
    pub trace_file: String,
    /// The trace file's format, or "" (None) to guess it from the content.
    #[serde(with = "crate::trace::format_or_guess")]
    pub trace_format: Option<TraceFormat>,
    /// SUMO FCD only: x and y hold longitude and latitude (`--fcd-output.geo`).
    pub trace_geo: bool,
    /// With a trace: replay it from this many seconds after its first record
    /// (0 = from the start). Written only when set, so older files keep their hash.
    #[serde(skip_serializing_if = "is_zero_f64")]
    pub trace_offset_s: f64,
    /// With a trace: replay this many of its terminals (0 = all), a subset
    /// drawn per world seed among those present in the replayed window.
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub trace_terminals: usize,
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

fn is_zero_usize(v: &usize) -> bool {
    *v == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogueConfig {
    /// Profile file (format of `scenarios/data/dnn_profiles.json`); empty = the built-in one.
    pub file: String,
    /// Models in use, in popularity order.
    pub models: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionConfig {
    /// Allowed resource-unit levels.
    pub rb_levels: Vec<u32>,
    /// Allowed compute-unit levels.
    pub cu_levels: Vec<u32>,
    /// Handover (context migration) delay `H`, ms.
    pub handover_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostConfig {
    /// `ω`: cost of an interrupted task.
    pub interruption: f64,
    /// `β`: cost per GB (1e9 bytes) downloaded over the backhaul.
    pub backhaul_per_gb: f64,
}

/// The `[family]` table of a training family (`family.rs`): how many worlds, and which fields vary how. Keys
/// are dotted field paths of the scenario file (`"mobility.speed_mps"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyConfig {
    /// Worlds drawn per training.
    pub worlds: usize,
    /// `[low, high]`: uniform; integers when both ends are written as integers.
    #[serde(default)]
    pub ranges: BTreeMap<String, [toml::Value; 2]>,
    /// Values, one drawn uniformly.
    #[serde(default)]
    pub choices: BTreeMap<String, Vec<toml::Value>>,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        Self {
            name: "default".into(),
            description: "9 small cells on a grid, 36 walking-to-cycling terminals, 5 CNNs, 300 one-second slots"
                .into(),
            slots: 300,
            slot_s: 1.0,
            area_m: [800.0, 800.0],
            nodes: NodesConfig::default(),
            radio: RadioConfig::default(),
            terminals: TerminalsConfig::default(),
            mobility: MobilityConfig::default(),
            catalogue: CatalogueConfig::default(),
            decision: DecisionConfig::default(),
            cost: CostConfig::default(),
            family: None,
        }
    }
}

impl Default for NodesConfig {
    fn default() -> Self {
        Self {
            placement: Placement::Grid,
            count: 9,
            spacing_m: 250.0,
            sites_file: String::new(),
            site_margin_m: 100.0,
            rb_units: 20,
            rb_unit_hz: 900e3,
            cu_units: 16,
            cu_gflops: 125.0,
            cache_mib: 384.0,
            backhaul_mbps: 200.0,
            cloud_rtt_ms: 20.0,
        }
    }
}

impl Default for RadioConfig {
    fn default() -> Self {
        Self {
            pathloss: PathLossModel::SmallCell,
            tx_power_dbm: 23.0,
            noise_dbm_per_hz: -174.0,
            noise_figure_db: 5.0,
            interference_margin_db: 0.0,
            shadowing_sigma_db: 6.0,
            shadowing_decorrelation_m: 50.0,
            min_snr_db: 0.0,
        }
    }
}

impl Default for TerminalsConfig {
    fn default() -> Self {
        Self {
            count: 36,
            device_gflops: [5.0, 20.0],
            zipf_exponent: 0.8,
            model_switch_prob: 0.0,
            input_kb_median: 60.0,
            input_log_sigma: 0.3,
            deadline_ms: vec![150.0, 300.0, 800.0],
            activity: 1.0,
        }
    }
}

impl Default for MobilityConfig {
    fn default() -> Self {
        Self {
            model: MobilityModel::RandomWaypoint,
            speed_mps: [1.0, 8.0],
            pause_s: [0.0, 10.0],
            gm_alpha: 0.85,
            gm_speed_sigma: 1.0,
            gm_direction_sigma: 0.4,
            block_m: 100.0,
            turn_prob: 0.5,
            trace_file: String::new(),
            trace_format: None,
            trace_geo: false,
            trace_offset_s: 0.0,
            trace_terminals: 0,
        }
    }
}

impl Default for CatalogueConfig {
    fn default() -> Self {
        Self {
            file: String::new(),
            models: ["MobileNetV2", "ResNet-18", "ResNet-50", "ResNet-152", "AlexNet"].map(String::from).to_vec(),
        }
    }
}

impl Default for DecisionConfig {
    fn default() -> Self {
        Self { rb_levels: vec![1, 2, 3, 4, 6, 8], cu_levels: vec![1, 2, 4], handover_ms: 30.0 }
    }
}

impl Default for CostConfig {
    fn default() -> Self {
        Self { interruption: 2.0, backhaul_per_gb: 0.5 }
    }
}

impl ScenarioConfig {
    /// Parse TOML text. `source` names the file (or preset) in error messages.
    pub fn from_toml_str(text: &str, source: &str) -> Result<ScenarioConfig, ConfigError> {
        toml::from_str::<ScenarioConfig>(text).map_err(|e| {
            let (line, col) = toml_error_place(text, &e);
            let msg = e.message().replace('\n', " ");
            ConfigError::Parse { source_name: source.to_string(), line, col, message: msg }
        })
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a ScenarioConfig always serialises to TOML")
    }
}

/// Where a TOML error is, 1-based line and column ((0, 0) when toml gives no place).
pub fn toml_error_place(text: &str, e: &toml::de::Error) -> (usize, usize) {
    e.span().map_or((0, 0), |span| line_col(text, span.start))
}

/// A TOML error in one line, as every input file's error reads: `line L, column C: message`.
pub fn toml_error_line(text: &str, e: &toml::de::Error) -> String {
    let (line, col) = toml_error_place(text, e);
    format!("line {line}, column {col}: {}", e.message().replace('\n', " "))
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let upto = &text[..offset.min(text.len())];
    let line = upto.matches('\n').count() + 1;
    let col = upto.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
