//! Scenario configuration in two steps: [`ScenarioConfig`] is exactly what a
//! TOML file says (every field has the `default` preset's value, so a file
//! lists only what differs), and [`Scenario`] is the checked type the rest of
//! the code runs on. Only [`ScenarioConfig::validate`] makes a `Scenario`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalogue::Catalogue;
use crate::error::ConfigError;
use crate::geo;
use crate::trace::{self, RawTrace, TraceFormat};

/// Loads a trace file: (path, format or None to guess, x/y are lon/lat).
pub type TraceLoader<'a> = dyn Fn(&Path, Option<TraceFormat>, bool) -> Result<RawTrace, ConfigError> + 'a;

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

/// A validated scenario: the config as written, plus what it resolved to
/// (catalogue, projected sites, area). Construct with [`ScenarioConfig::validate`].
#[derive(Debug, Clone)]
pub struct Scenario {
    config: ScenarioConfig,
    catalogue: Catalogue,
    /// Projected site positions (metres, already shifted into the area) for `sites`.
    site_positions: Option<Vec<[f64; 2]>>,
    /// Width and height actually used.
    area: [f64; 2],
    /// Lattice spacing actually used (fitted to a trace when one is given).
    spacing: f64,
    /// The imported trace, shifted into the area.
    trace: Option<Arc<RawTrace>>,
    /// The same trace as loaded (before fitting), for re-validation.
    loaded_trace: Option<Arc<RawTrace>>,
}

impl Scenario {
    pub fn config(&self) -> &ScenarioConfig {
        &self.config
    }
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }
    pub fn site_positions(&self) -> Option<&[[f64; 2]]> {
        self.site_positions.as_deref()
    }
    pub fn area(&self) -> [f64; 2] {
        self.area
    }
    pub fn lattice_spacing(&self) -> f64 {
        self.spacing
    }
    /// The trace the scenario replays instead of its generator, if any.
    pub fn trace(&self) -> Option<&RawTrace> {
        self.trace.as_deref()
    }
    pub fn name(&self) -> &str {
        &self.config.name
    }
    /// The resolved config as TOML; `ScenarioConfig::from_toml_str` accepts it back.
    pub fn to_toml(&self) -> String {
        self.config.to_toml()
    }
    /// SHA-256 (hex) of the resolved TOML: two runs with equal hashes ran the same scenario.
    pub fn config_hash(&self) -> String {
        let digest = Sha256::digest(self.to_toml().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
    /// Copy with a different slot count (CLI override), re-validated.
    pub fn with_slots(&self, slots: usize, source: &str) -> Result<Scenario, ConfigError> {
        let mut c = self.config.clone();
        c.slots = slots;
        self.revalidate(c, source)
    }
    /// Copy with a different terminal count (CLI override), re-validated.
    /// A scenario that replays a trace takes its terminals from the trace.
    pub fn with_terminals(&self, count: usize, source: &str) -> Result<Scenario, ConfigError> {
        if self.trace.is_some() {
            return Err(ConfigError::field(
                source,
                "terminals.count",
                "cannot be set: the scenario replays a trace, whose terminals are used",
            ));
        }
        let mut c = self.config.clone();
        c.terminals.count = count;
        self.revalidate(c, source)
    }
    /// Validate a changed copy of the config, reusing the loaded trace.
    fn revalidate(&self, c: ScenarioConfig, source: &str) -> Result<Scenario, ConfigError> {
        match &self.loaded_trace {
            Some(t) => c.validate_with(source, None, &|_, _, _| Ok(RawTrace::clone(t))),
            None => c.validate(source, None),
        }
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

    /// Check every field and resolve files. `base_dir` resolves relative paths
    /// (`sites_file`, `catalogue.file`) against the scenario file's folder; when
    /// None they are resolved against the working directory.
    ///
    /// Resolved file paths are written back as absolute paths, so that the
    /// resolved config (`Scenario::to_toml`) works from any folder. A site file
    /// named `builtin:NAME` is one shipped in `scenarios/data/`.
    pub fn validate(self, source: &str, base_dir: Option<&Path>) -> Result<Scenario, ConfigError> {
        self.validate_with(source, base_dir, &trace::import)
    }

    /// [`Self::validate`] with a trace loader for file formats the world model
    /// does not read itself (the binary adds canonical Parquet traces).
    pub fn validate_with(
        mut self,
        source: &str,
        base_dir: Option<&Path>,
        loader: &TraceLoader<'_>,
    ) -> Result<Scenario, ConfigError> {
        let bad = |field: &str, expected: &str, got: String| ConfigError::Field {
            source_name: source.to_string(),
            field: field.to_string(),
            message: format!("expected {expected}, got {got}"),
        };
        let pos = |field: &str, v: f64| -> Result<(), ConfigError> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(bad(field, "a finite number > 0", shown(v)))
            }
        };
        let nonneg = |field: &str, v: f64| -> Result<(), ConfigError> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(bad(field, "a finite number >= 0", shown(v)))
            }
        };
        let finite = |field: &str, v: f64| -> Result<(), ConfigError> {
            if v.is_finite() {
                Ok(())
            } else {
                Err(bad(field, "a finite number", shown(v)))
            }
        };
        let prob = |field: &str, v: f64| -> Result<(), ConfigError> {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(bad(field, "a probability in [0, 1]", shown(v)))
            }
        };
        let range = |field: &str, r: [f64; 2], min_ok: f64| -> Result<(), ConfigError> {
            if r[0].is_finite() && r[1].is_finite() && r[0] >= min_ok && r[0] <= r[1] {
                Ok(())
            } else {
                Err(bad(
                    field,
                    &format!("[low, high] with {min_ok} <= low <= high"),
                    format!("[{}, {}]", shown(r[0]), shown(r[1])),
                ))
            }
        };

        let c = &self;
        if c.name.trim().is_empty() {
            return Err(bad("name", "a non-empty name", "\"\"".into()));
        }
        if c.slots == 0 {
            return Err(bad("slots", "a positive integer", "0".into()));
        }
        pos("slot_s", c.slot_s)?;
        pos("area_m[0]", c.area_m[0])?;
        pos("area_m[1]", c.area_m[1])?;

        let n = &c.nodes;
        if n.count == 0 && n.placement != Placement::Sites {
            return Err(bad(
                "nodes.count",
                "at least one node (0 means every site, with placement = \"sites\")",
                "0".into(),
            ));
        }
        if matches!(n.placement, Placement::Grid | Placement::Hex) {
            pos("nodes.spacing_m", n.spacing_m)?;
        }
        nonneg("nodes.site_margin_m", n.site_margin_m)?;
        if n.rb_units == 0 {
            return Err(bad("nodes.rb_units", "a positive integer", "0".into()));
        }
        pos("nodes.rb_unit_hz", n.rb_unit_hz)?;
        if n.cu_units == 0 {
            return Err(bad("nodes.cu_units", "a positive integer", "0".into()));
        }
        pos("nodes.cu_gflops", n.cu_gflops)?;
        pos("nodes.cache_mib", n.cache_mib)?;
        pos("nodes.backhaul_mbps", n.backhaul_mbps)?;
        nonneg("nodes.cloud_rtt_ms", n.cloud_rtt_ms)?;

        let r = &c.radio;
        finite("radio.tx_power_dbm", r.tx_power_dbm)?;
        finite("radio.noise_dbm_per_hz", r.noise_dbm_per_hz)?;
        nonneg("radio.noise_figure_db", r.noise_figure_db)?;
        nonneg("radio.interference_margin_db", r.interference_margin_db)?;
        nonneg("radio.shadowing_sigma_db", r.shadowing_sigma_db)?;
        pos("radio.shadowing_decorrelation_m", r.shadowing_decorrelation_m)?;
        finite("radio.min_snr_db", r.min_snr_db)?;

        let t = &c.terminals;
        if t.count == 0 {
            return Err(bad("terminals.count", "a positive integer", "0".into()));
        }
        range("terminals.device_gflops", t.device_gflops, f64::MIN_POSITIVE)?;
        nonneg("terminals.zipf_exponent", t.zipf_exponent)?;
        prob("terminals.model_switch_prob", t.model_switch_prob)?;
        pos("terminals.input_kb_median", t.input_kb_median)?;
        nonneg("terminals.input_log_sigma", t.input_log_sigma)?;
        if t.deadline_ms.is_empty() {
            return Err(bad("terminals.deadline_ms", "at least one deadline", "[]".into()));
        }
        for (i, d) in t.deadline_ms.iter().enumerate() {
            pos(&format!("terminals.deadline_ms[{i}]"), *d)?;
        }
        prob("terminals.activity", t.activity)?;

        let m = &c.mobility;
        range("mobility.speed_mps", m.speed_mps, 0.0)?;
        if m.speed_mps[1] <= 0.0 && m.model != MobilityModel::GaussMarkov {
            return Err(bad(
                "mobility.speed_mps",
                "a range with a positive upper end",
                format!("[{}, {}]", m.speed_mps[0], m.speed_mps[1]),
            ));
        }
        range("mobility.pause_s", m.pause_s, 0.0)?;
        if !(0.0..1.0).contains(&m.gm_alpha) {
            return Err(bad("mobility.gm_alpha", "a number in [0, 1)", shown(m.gm_alpha)));
        }
        nonneg("mobility.gm_speed_sigma", m.gm_speed_sigma)?;
        nonneg("mobility.gm_direction_sigma", m.gm_direction_sigma)?;
        pos("mobility.block_m", m.block_m)?;
        prob("mobility.turn_prob", m.turn_prob)?;

        // Size limits keep memory bounded and sums of units far from overflow.
        if n.count > 10_000 {
            return Err(bad("nodes.count", "at most 10000 nodes", n.count.to_string()));
        }
        if t.count > 1_000_000 {
            return Err(bad("terminals.count", "at most 1000000 terminals", t.count.to_string()));
        }
        if (c.slots as f64) * (t.count as f64) > 1e8 {
            return Err(bad(
                "slots",
                &format!("slots × terminals.count at most 1e8 (terminals.count = {})", t.count),
                c.slots.to_string(),
            ));
        }
        for (field, v) in [("nodes.rb_units", n.rb_units), ("nodes.cu_units", n.cu_units)] {
            if v > 1_000_000 {
                return Err(bad(field, "at most 1000000 units", v.to_string()));
            }
        }
        let d = &c.decision;
        check_levels(source, "decision.rb_levels", &d.rb_levels)?;
        check_levels(source, "decision.cu_levels", &d.cu_levels)?;
        nonneg("decision.handover_ms", d.handover_ms)?;

        let k = &c.cost;
        nonneg("cost.interruption", k.interruption)?;
        nonneg("cost.backhaul_per_gb", k.backhaul_per_gb)?;

        // Catalogue: built-in or a file, then the subset in use.
        if c.catalogue.models.is_empty() {
            return Err(bad("catalogue.models", "at least one model name", "[]".into()));
        }
        let mut catalogue_file = c.catalogue.file.clone();
        let catalogue = if c.catalogue.file.is_empty() {
            Catalogue::builtin(&c.catalogue.models).map_err(|e| ConfigError::field(source, "catalogue.models", e))?
        } else {
            let path = resolve(base_dir, &c.catalogue.file);
            catalogue_file = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                path: path.display().to_string(),
                message: format!("cannot read catalogue file (field catalogue.file of {source}): {e}"),
            })?;
            Catalogue::from_profiles_json(&text, &path.display().to_string(), &c.catalogue.models)
                .map_err(|e| ConfigError::field(source, "catalogue.models", e))?
        };

        // A trace, when given, is loaded here so that a bad file is bad input.
        let mut trace_file = m.trace_file.clone();
        let mut loaded: Option<RawTrace> = None;
        let mut raw = if m.trace_file.is_empty() {
            None
        } else {
            let format = m.trace_format;
            let raw = match m.trace_file.strip_prefix("builtin:") {
                Some(name) => trace::builtin(name).ok_or_else(|| {
                    bad(
                        "mobility.trace_file",
                        &format!("one of {}", trace::builtin_names().join(", ")),
                        format!("`{}`", m.trace_file),
                    )
                })??,
                None => {
                    let path = resolve(base_dir, &m.trace_file);
                    trace_file = path.display().to_string();
                    loader(&path, format, m.trace_geo)?
                }
            };
            loaded = Some(raw.clone());
            Some(raw)
        };

        // Sites, when placed there; `nodes.count = 0` takes every site of the file.
        let mut sites_file = n.sites_file.clone();
        let latlon = if n.placement == Placement::Sites {
            if n.sites_file.is_empty() {
                return Err(bad("nodes.sites_file", "a site file path for placement = \"sites\"", "\"\"".into()));
            }
            let (latlon, shown) = match n.sites_file.strip_prefix("builtin:") {
                Some(name) => {
                    let text = geo::builtin_sites(name).ok_or_else(|| {
                        bad(
                            "nodes.sites_file",
                            &format!("one of {}", geo::builtin_site_names().join(", ")),
                            format!("`{}`", n.sites_file),
                        )
                    })?;
                    (geo::parse_sites_csv(text, &n.sites_file)?, n.sites_file.clone())
                }
                None => {
                    let path = resolve(base_dir, &n.sites_file);
                    let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                        path: path.display().to_string(),
                        message: format!("cannot read site file (field nodes.sites_file of {source}): {e}"),
                    })?;
                    (geo::parse_sites_csv(&text, &path.display().to_string())?, path.display().to_string())
                }
            };
            sites_file = shown;
            if latlon.len() < n.count {
                return Err(bad(
                    "nodes.count",
                    &format!("at most the {} sites of {}", latlon.len(), sites_file),
                    n.count.to_string(),
                ));
            }
            let count = if n.count == 0 { latlon.len() } else { n.count };
            Some(latlon[..count].to_vec())
        } else {
            None
        };

        // The area: the config's, or fitted to the sites and the trace.
        let mut area = c.area_m;
        let mut site_positions = None;
        let mut spacing = n.spacing_m;
        let node_count = latlon.as_ref().map_or(n.count, Vec::len);
        match (raw.as_mut(), latlon) {
            (None, None) => {}
            (None, Some(ll)) => {
                let xy = geo::project_sites(&ll, n.site_margin_m);
                area = xy.area;
                site_positions = Some(xy.positions);
            }
            (Some(t), Some(ll)) => {
                let origin = t.origin.ok_or_else(|| {
                    bad(
                        "mobility.trace_file",
                        "a trace in latitude/longitude when nodes stand at sites (they must share one projection)",
                        format!("`{trace_file}` in metres"),
                    )
                })?;
                let mut pos: Vec<[f64; 2]> = ll.iter().map(|&(la, lo)| geo::project(la, lo, origin)).collect();
                let tb = t.bbox();
                let min_x = pos.iter().map(|p| p[0]).fold(tb[0], f64::min);
                let min_y = pos.iter().map(|p| p[1]).fold(tb[1], f64::min);
                let max_x = pos.iter().map(|p| p[0]).fold(tb[2], f64::max);
                let max_y = pos.iter().map(|p| p[1]).fold(tb[3], f64::max);
                let (dx, dy) = (n.site_margin_m - min_x, n.site_margin_m - min_y);
                pos.iter_mut().for_each(|p| *p = [p[0] + dx, p[1] + dy]);
                t.translate(dx, dy);
                area = [
                    (max_x - min_x + 2.0 * n.site_margin_m).max(1.0),
                    (max_y - min_y + 2.0 * n.site_margin_m).max(1.0),
                ];
                site_positions = Some(pos);
            }
            (Some(t), None) => {
                // Generated layouts are fitted to the trace's bounding box: the
                // trace is shifted to start at the origin, the area is its box, and
                // a lattice's spacing gives every node an equal share of it.
                let tb = t.bbox();
                t.translate(-tb[0], -tb[1]);
                area = [(tb[2] - tb[0]).max(1.0), (tb[3] - tb[1]).max(1.0)];
                spacing = (area[0] * area[1] / node_count as f64).sqrt();
            }
        }
        let terminal_count = raw.as_ref().map_or(t.count, |r| r.ids.len());
        if (c.slots as f64) * (terminal_count as f64) > 1e8 {
            return Err(bad(
                "slots",
                &format!("slots × terminals ({terminal_count}) at most 1e8"),
                c.slots.to_string(),
            ));
        }
        if !(area[0].is_finite() && area[1].is_finite()) || area[0] > 1e6 || area[1] > 1e6 {
            return Err(bad("area_m", "an area of at most 1000 km per side", format!("[{}, {}]", area[0], area[1])));
        }
        // Shadowing maps are gridded at a quarter of the decorrelation distance; bound their size.
        let cell = geo::shadow_cell_m(r.shadowing_decorrelation_m);
        let cells = (area[0] / cell + 3.0) * (area[1] / cell + 3.0) * node_count as f64;
        if cells > 2e8 {
            return Err(bad(
                "radio.shadowing_decorrelation_m",
                "a decorrelation distance large enough for the area (shadowing maps would exceed 2e8 cells)",
                shown(r.shadowing_decorrelation_m),
            ));
        }
        self.catalogue.file = catalogue_file;
        self.nodes.sites_file = sites_file;
        self.nodes.count = node_count;
        self.terminals.count = terminal_count;
        self.mobility.trace_file = trace_file;
        Ok(Scenario {
            config: self,
            catalogue,
            site_positions,
            area,
            spacing,
            trace: raw.map(Arc::new),
            loaded_trace: loaded.map(Arc::new),
        })
    }
}

fn check_levels(source: &str, field: &str, levels: &[u32]) -> Result<(), ConfigError> {
    let err = |m: &str| ConfigError::Field { source_name: source.into(), field: field.into(), message: m.into() };
    if levels.is_empty() {
        return Err(err("expected at least one level, got []"));
    }
    if levels.contains(&0) {
        return Err(err("expected levels >= 1, got 0"));
    }
    if levels.iter().any(|&l| l > 1_000_000) {
        return Err(err("expected levels <= 1000000"));
    }
    if levels.windows(2).any(|w| w[0] >= w[1]) {
        return Err(err("expected strictly increasing levels"));
    }
    Ok(())
}

/// A path relative to `base` (or the working directory), made absolute.
fn resolve(base: Option<&Path>, p: &str) -> PathBuf {
    let path = PathBuf::from(p);
    let joined = match base {
        Some(b) if path.is_relative() => b.join(path),
        _ => path,
    };
    std::path::absolute(&joined).unwrap_or(joined)
}

/// A number as an error message shows it: in full below 1e9, in scientific
/// notation beyond (`{}` would print 1e300 as 301 digits).
pub(crate) fn shown(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e9 {
        format!("{v:e}")
    } else {
        format!("{v}")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn err_of(toml_text: &str) -> String {
        match ScenarioConfig::from_toml_str(toml_text, "t.toml").and_then(|c| c.validate("t.toml", None)) {
            Ok(_) => panic!("expected an error for {toml_text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn default_config_validates_and_round_trips() {
        let s = ScenarioConfig::default().validate("default", None).unwrap();
        let text = s.to_toml();
        let back = ScenarioConfig::from_toml_str(&text, "x").unwrap();
        assert_eq!(&back, s.config());
    }

    #[test]
    fn unknown_field_names_line_and_field() {
        let e = err_of("slots = 10\n[nodes]\ncount = 3\nfoo = 1\n");
        assert!(e.starts_with("t.toml: line 4"), "{e}");
        assert!(e.contains("foo"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn malformed_toml_is_one_line() {
        let e = err_of("slots = = 3\n");
        assert!(e.starts_with("t.toml: line 1"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn each_invalid_field_is_named() {
        let cases = [
            ("slots = 0", "slots"),
            ("slot_s = -1.0", "slot_s"),
            ("slot_s = nan", "slot_s"),
            ("[nodes]\ncount = 0", "nodes.count"),
            ("[nodes]\ncu_gflops = nan", "nodes.cu_gflops"),
            ("[nodes]\ncache_mib = -5.0", "nodes.cache_mib"),
            ("[nodes]\nrb_units = 0", "nodes.rb_units"),
            ("[nodes]\ncu_units = 4000000000", "nodes.cu_units"),
            ("slots = 100000000000", "slots"),
            ("[nodes]\ncount = 50000", "nodes.count"),
            ("[nodes]\nplacement = \"sites\"", "nodes.sites_file"),
            ("[radio]\nshadowing_sigma_db = -1.0", "radio.shadowing_sigma_db"),
            ("[terminals]\ncount = 0", "terminals.count"),
            ("[terminals]\ndevice_gflops = [5.0, 1.0]", "terminals.device_gflops"),
            ("[terminals]\ndeadline_ms = []", "terminals.deadline_ms"),
            ("[terminals]\ndeadline_ms = [100.0, -3.0]", "terminals.deadline_ms[1]"),
            ("[terminals]\nactivity = 1.5", "terminals.activity"),
            ("[mobility]\ngm_alpha = 1.0", "mobility.gm_alpha"),
            ("[catalogue]\nmodels = [\"NoSuchNet\"]", "catalogue.models"),
            ("[catalogue]\nmodels = []", "catalogue.models"),
            ("[decision]\nrb_levels = [2, 1]", "decision.rb_levels"),
            ("[decision]\ncu_levels = [0, 1]", "decision.cu_levels"),
            ("[cost]\ninterruption = -2.0", "cost.interruption"),
        ];
        for (text, field) in cases {
            let e = err_of(text);
            assert!(e.contains(&format!("field {field}:")), "{text} -> {e}");
            assert!(e.starts_with("t.toml"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn unknown_model_names_the_model() {
        let e = err_of("[catalogue]\nmodels = [\"ResNet-18\", \"Inception\"]");
        assert!(e.contains("Inception"), "{e}");
    }

    #[test]
    fn hash_changes_with_config() {
        let a = ScenarioConfig::default().validate("a", None).unwrap();
        let b = a.with_slots(10, "b").unwrap();
        assert_ne!(a.config_hash(), b.config_hash());
        assert_eq!(a.config_hash(), ScenarioConfig::default().validate("a", None).unwrap().config_hash());
    }
}
