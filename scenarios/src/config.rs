//! Validation: a [`ScenarioConfig`] (the schema, `schema.rs`) becomes the
//! checked [`Scenario`] the rest of the code runs on, section by section,
//! loading the files it names (catalogue, sites, trace). Only
//! [`ScenarioConfig::validate`] makes a `Scenario`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::catalogue::Catalogue;
use crate::error::{shown, ConfigError};
use crate::geo;
use crate::schema::{
    CatalogueConfig, CostConfig, DecisionConfig, MobilityConfig, MobilityModel, NodesConfig, Placement, RadioConfig,
    ScenarioConfig, TerminalsConfig,
};
use crate::trace::{self, RawTrace, TraceFormat};

/// Loads a trace file: (path, format or None to guess, x/y are lon/lat).
pub type TraceLoader<'a> = dyn Fn(&Path, Option<TraceFormat>, bool) -> Result<RawTrace, ConfigError> + 'a;

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
        hash_text(&self.to_toml())
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

/// SHA-256 of `text`, hex.
pub fn hash_text(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl ScenarioConfig {
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
    /// Sections are checked in file order, then the files are loaded and the
    /// area fitted; the first error is returned.
    pub fn validate_with(
        mut self,
        source: &str,
        base_dir: Option<&Path>,
        loader: &TraceLoader<'_>,
    ) -> Result<Scenario, ConfigError> {
        let check = Check { source };
        if self.family.is_some() {
            return Err(check.bad(
                "family",
                "a scenario without a [family] table: a family of worlds is sampled by `edgebench train` only",
                "a [family] table".into(),
            ));
        }
        check.top(&self)?;
        check.nodes(&self.nodes)?;
        check.radio(&self.radio)?;
        check.terminals(&self.terminals)?;
        check.mobility(&self.mobility)?;
        check.sizes(&self)?;
        check.decision(&self.decision)?;
        check.cost(&self.cost)?;

        let (catalogue, catalogue_file) = check.load_catalogue(&self.catalogue, base_dir)?;
        let (mut raw, trace_file) = check.load_trace(&self.mobility, base_dir, loader)?;
        let loaded = raw.clone();
        let (latlon, sites_file) = check.load_sites(&self.nodes, base_dir)?;
        let n = &self.nodes;
        let node_count = latlon.as_ref().map_or(n.count, Vec::len);
        let fitted = check.fit_area(&self, raw.as_mut(), latlon, &trace_file, node_count)?;
        if let Some(r) = &raw {
            check.trace_window(&self.mobility, r)?;
        }
        let terminal_count = raw.as_ref().map_or(self.terminals.count, |r| match self.mobility.trace_terminals {
            0 => r.ids.len(),
            k => k,
        });
        check.resolved(&self, &fitted, node_count, terminal_count)?;

        self.catalogue.file = catalogue_file;
        self.nodes.sites_file = sites_file;
        self.nodes.count = node_count;
        self.terminals.count = terminal_count;
        self.mobility.trace_file = trace_file;
        Ok(Scenario {
            config: self,
            catalogue,
            site_positions: fitted.site_positions,
            area: fitted.area,
            spacing: fitted.spacing,
            trace: raw.map(Arc::new),
            loaded_trace: loaded.map(Arc::new),
        })
    }
}

/// Where the nodes and the area ended up once sites and a trace are known.
struct Fitted {
    area: [f64; 2],
    site_positions: Option<Vec<[f64; 2]>>,
    spacing: f64,
}

/// The checks of one scenario source; every error names the source and the field.
struct Check<'a> {
    source: &'a str,
}

impl Check<'_> {
    fn bad(&self, field: &str, expected: &str, got: String) -> ConfigError {
        ConfigError::Field {
            source_name: self.source.to_string(),
            field: field.to_string(),
            message: format!("expected {expected}, got {got}"),
        }
    }
    fn pos(&self, field: &str, v: f64) -> Result<(), ConfigError> {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(self.bad(field, "a finite number > 0", shown(v)))
        }
    }
    fn nonneg(&self, field: &str, v: f64) -> Result<(), ConfigError> {
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(self.bad(field, "a finite number >= 0", shown(v)))
        }
    }
    fn finite(&self, field: &str, v: f64) -> Result<(), ConfigError> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(self.bad(field, "a finite number", shown(v)))
        }
    }
    fn prob(&self, field: &str, v: f64) -> Result<(), ConfigError> {
        if (0.0..=1.0).contains(&v) {
            Ok(())
        } else {
            Err(self.bad(field, "a probability in [0, 1]", shown(v)))
        }
    }
    fn range(&self, field: &str, r: [f64; 2], min_ok: f64) -> Result<(), ConfigError> {
        if r[0].is_finite() && r[1].is_finite() && r[0] >= min_ok && r[0] <= r[1] {
            Ok(())
        } else {
            Err(self.bad(
                field,
                &format!("[low, high] with {min_ok} <= low <= high"),
                format!("[{}, {}]", shown(r[0]), shown(r[1])),
            ))
        }
    }
    fn count(&self, field: &str, v: impl Into<u64>) -> Result<(), ConfigError> {
        if v.into() == 0 {
            return Err(self.bad(field, "a positive integer", "0".into()));
        }
        Ok(())
    }

    fn top(&self, c: &ScenarioConfig) -> Result<(), ConfigError> {
        if c.name.trim().is_empty() {
            return Err(self.bad("name", "a non-empty name", "\"\"".into()));
        }
        self.count("slots", c.slots as u64)?;
        self.pos("slot_s", c.slot_s)?;
        self.pos("area_m[0]", c.area_m[0])?;
        self.pos("area_m[1]", c.area_m[1])
    }

    fn nodes(&self, n: &NodesConfig) -> Result<(), ConfigError> {
        if n.count == 0 && n.placement != Placement::Sites {
            return Err(self.bad(
                "nodes.count",
                "at least one node (0 means every site, with placement = \"sites\")",
                "0".into(),
            ));
        }
        if matches!(n.placement, Placement::Grid | Placement::Hex) {
            self.pos("nodes.spacing_m", n.spacing_m)?;
        }
        self.nonneg("nodes.site_margin_m", n.site_margin_m)?;
        self.count("nodes.rb_units", n.rb_units)?;
        self.pos("nodes.rb_unit_hz", n.rb_unit_hz)?;
        self.count("nodes.cu_units", n.cu_units)?;
        self.pos("nodes.cu_gflops", n.cu_gflops)?;
        self.pos("nodes.cache_mib", n.cache_mib)?;
        self.pos("nodes.backhaul_mbps", n.backhaul_mbps)?;
        self.nonneg("nodes.cloud_rtt_ms", n.cloud_rtt_ms)
    }

    fn radio(&self, r: &RadioConfig) -> Result<(), ConfigError> {
        self.finite("radio.tx_power_dbm", r.tx_power_dbm)?;
        self.finite("radio.noise_dbm_per_hz", r.noise_dbm_per_hz)?;
        self.nonneg("radio.noise_figure_db", r.noise_figure_db)?;
        self.nonneg("radio.interference_margin_db", r.interference_margin_db)?;
        self.nonneg("radio.shadowing_sigma_db", r.shadowing_sigma_db)?;
        self.pos("radio.shadowing_decorrelation_m", r.shadowing_decorrelation_m)?;
        self.finite("radio.min_snr_db", r.min_snr_db)
    }

    fn terminals(&self, t: &TerminalsConfig) -> Result<(), ConfigError> {
        self.count("terminals.count", t.count as u64)?;
        self.range("terminals.device_gflops", t.device_gflops, f64::MIN_POSITIVE)?;
        self.nonneg("terminals.zipf_exponent", t.zipf_exponent)?;
        self.prob("terminals.model_switch_prob", t.model_switch_prob)?;
        self.pos("terminals.input_kb_median", t.input_kb_median)?;
        self.nonneg("terminals.input_log_sigma", t.input_log_sigma)?;
        if t.deadline_ms.is_empty() {
            return Err(self.bad("terminals.deadline_ms", "at least one deadline", "[]".into()));
        }
        for (i, d) in t.deadline_ms.iter().enumerate() {
            self.pos(&format!("terminals.deadline_ms[{i}]"), *d)?;
        }
        self.prob("terminals.activity", t.activity)
    }

    fn mobility(&self, m: &MobilityConfig) -> Result<(), ConfigError> {
        self.range("mobility.speed_mps", m.speed_mps, 0.0)?;
        if m.speed_mps[1] <= 0.0 && m.model != MobilityModel::GaussMarkov {
            return Err(self.bad(
                "mobility.speed_mps",
                "a range with a positive upper end",
                format!("[{}, {}]", m.speed_mps[0], m.speed_mps[1]),
            ));
        }
        self.range("mobility.pause_s", m.pause_s, 0.0)?;
        if !(0.0..1.0).contains(&m.gm_alpha) {
            return Err(self.bad("mobility.gm_alpha", "a number in [0, 1)", shown(m.gm_alpha)));
        }
        self.nonneg("mobility.gm_speed_sigma", m.gm_speed_sigma)?;
        self.nonneg("mobility.gm_direction_sigma", m.gm_direction_sigma)?;
        self.pos("mobility.block_m", m.block_m)?;
        self.prob("mobility.turn_prob", m.turn_prob)?;
        self.nonneg("mobility.trace_offset_s", m.trace_offset_s)?;
        let unset = "0 (unset) without mobility.trace_file: it selects part of a trace";
        if m.trace_file.is_empty() && m.trace_offset_s != 0.0 {
            return Err(self.bad("mobility.trace_offset_s", unset, shown(m.trace_offset_s)));
        }
        if m.trace_file.is_empty() && m.trace_terminals != 0 {
            return Err(self.bad("mobility.trace_terminals", unset, m.trace_terminals.to_string()));
        }
        Ok(())
    }

    /// Size limits keep memory bounded and sums of units far from overflow.
    fn sizes(&self, c: &ScenarioConfig) -> Result<(), ConfigError> {
        let (n, t) = (&c.nodes, &c.terminals);
        if n.count > 10_000 {
            return Err(self.bad("nodes.count", "at most 10000 nodes", n.count.to_string()));
        }
        if t.count > 1_000_000 {
            return Err(self.bad("terminals.count", "at most 1000000 terminals", t.count.to_string()));
        }
        if (c.slots as f64) * (t.count as f64) > 1e8 {
            return Err(self.bad(
                "slots",
                &format!("slots × terminals.count at most 1e8 (terminals.count = {})", t.count),
                c.slots.to_string(),
            ));
        }
        for (field, v) in [("nodes.rb_units", n.rb_units), ("nodes.cu_units", n.cu_units)] {
            if v > 1_000_000 {
                return Err(self.bad(field, "at most 1000000 units", v.to_string()));
            }
        }
        Ok(())
    }

    fn decision(&self, d: &DecisionConfig) -> Result<(), ConfigError> {
        check_levels(self.source, "decision.rb_levels", &d.rb_levels)?;
        check_levels(self.source, "decision.cu_levels", &d.cu_levels)?;
        self.nonneg("decision.handover_ms", d.handover_ms)
    }

    fn cost(&self, k: &CostConfig) -> Result<(), ConfigError> {
        self.nonneg("cost.interruption", k.interruption)?;
        self.nonneg("cost.backhaul_per_gb", k.backhaul_per_gb)
    }

    /// The catalogue, built-in or a file, then the subset in use; and the
    /// file as the resolved config names it.
    fn load_catalogue(&self, c: &CatalogueConfig, base_dir: Option<&Path>) -> Result<(Catalogue, String), ConfigError> {
        let source = self.source;
        if c.models.is_empty() {
            return Err(self.bad("catalogue.models", "at least one model name", "[]".into()));
        }
        if c.file.is_empty() {
            let catalogue =
                Catalogue::builtin(&c.models).map_err(|e| ConfigError::field(source, "catalogue.models", e))?;
            return Ok((catalogue, c.file.clone()));
        }
        let path = resolve(base_dir, &c.file);
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            message: format!("cannot read catalogue file (field catalogue.file of {source}): {e}"),
        })?;
        let catalogue = Catalogue::from_profiles_json(&text, &path.display().to_string(), &c.models)
            .map_err(|e| ConfigError::field(source, "catalogue.models", e))?;
        Ok((catalogue, path.display().to_string()))
    }

    /// The trace, when one is given, loaded here so that a bad file is bad
    /// input; and the file as the resolved config names it.
    fn load_trace(
        &self,
        m: &MobilityConfig,
        base_dir: Option<&Path>,
        loader: &TraceLoader<'_>,
    ) -> Result<(Option<RawTrace>, String), ConfigError> {
        if m.trace_file.is_empty() {
            return Ok((None, m.trace_file.clone()));
        }
        match m.trace_file.strip_prefix("builtin:") {
            Some(name) => {
                let raw = trace::builtin(name).ok_or_else(|| {
                    self.bad(
                        "mobility.trace_file",
                        &format!("one of {}", trace::builtin_names().join(", ")),
                        format!("`{}`", m.trace_file),
                    )
                })??;
                Ok((Some(raw), m.trace_file.clone()))
            }
            None => {
                let path = resolve(base_dir, &m.trace_file);
                let raw = loader(&path, m.trace_format, m.trace_geo)?;
                Ok((Some(raw), path.display().to_string()))
            }
        }
    }

    /// The replayed part of a trace lies in it: the offset before its last
    /// record, the terminal subset no larger than its terminals.
    fn trace_window(&self, m: &MobilityConfig, raw: &RawTrace) -> Result<(), ConfigError> {
        let (t0, t1) = raw.time_span();
        if m.trace_offset_s > 0.0 && m.trace_offset_s >= t1 - t0 {
            return Err(self.bad(
                "mobility.trace_offset_s",
                &format!("an offset shorter than the trace's span ({} s)", shown(t1 - t0)),
                shown(m.trace_offset_s),
            ));
        }
        if m.trace_terminals > raw.ids.len() {
            return Err(self.bad(
                "mobility.trace_terminals",
                &format!("at most the trace's {} terminals (0 = all)", raw.ids.len()),
                m.trace_terminals.to_string(),
            ));
        }
        Ok(())
    }

    /// The sites' latitude/longitude when nodes stand at sites (`nodes.count
    /// = 0` takes every site of the file); and the file as the resolved config names it.
    #[allow(clippy::type_complexity)]
    fn load_sites(
        &self,
        n: &NodesConfig,
        base_dir: Option<&Path>,
    ) -> Result<(Option<Vec<(f64, f64)>>, String), ConfigError> {
        if n.placement != Placement::Sites {
            return Ok((None, n.sites_file.clone()));
        }
        if n.sites_file.is_empty() {
            return Err(self.bad("nodes.sites_file", "a site file path for placement = \"sites\"", "\"\"".into()));
        }
        let (latlon, named) = match n.sites_file.strip_prefix("builtin:") {
            Some(name) => {
                let text = geo::builtin_sites(name).ok_or_else(|| {
                    self.bad(
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
                    message: format!("cannot read site file (field nodes.sites_file of {}): {e}", self.source),
                })?;
                (geo::parse_sites_csv(&text, &path.display().to_string())?, path.display().to_string())
            }
        };
        if latlon.len() < n.count {
            return Err(self.bad(
                "nodes.count",
                &format!("at most the {} sites of {}", latlon.len(), named),
                n.count.to_string(),
            ));
        }
        let count = if n.count == 0 { latlon.len() } else { n.count };
        Ok((Some(latlon[..count].to_vec()), named))
    }

    /// The area: the config's, or fitted to the sites and the trace (which
    /// is shifted into it).
    fn fit_area(
        &self,
        c: &ScenarioConfig,
        raw: Option<&mut RawTrace>,
        latlon: Option<Vec<(f64, f64)>>,
        trace_file: &str,
        node_count: usize,
    ) -> Result<Fitted, ConfigError> {
        let n = &c.nodes;
        let mut fitted = Fitted { area: c.area_m, site_positions: None, spacing: n.spacing_m };
        match (raw, latlon) {
            (None, None) => {}
            (None, Some(ll)) => {
                let xy = geo::project_sites(&ll, n.site_margin_m);
                fitted.area = xy.area;
                fitted.site_positions = Some(xy.positions);
            }
            (Some(t), Some(ll)) => {
                let origin = t.origin.ok_or_else(|| {
                    self.bad(
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
                fitted.area = [
                    (max_x - min_x + 2.0 * n.site_margin_m).max(1.0),
                    (max_y - min_y + 2.0 * n.site_margin_m).max(1.0),
                ];
                fitted.site_positions = Some(pos);
            }
            (Some(t), None) => {
                // Generated layouts are fitted to the trace's bounding box: the
                // trace is shifted to start at the origin, the area is its box, and
                // a lattice's spacing gives every node an equal share of it.
                let tb = t.bbox();
                t.translate(-tb[0], -tb[1]);
                fitted.area = [(tb[2] - tb[0]).max(1.0), (tb[3] - tb[1]).max(1.0)];
                fitted.spacing = (fitted.area[0] * fitted.area[1] / node_count as f64).sqrt();
            }
        }
        Ok(fitted)
    }

    /// Limits that depend on what the files resolved to.
    fn resolved(
        &self,
        c: &ScenarioConfig,
        fitted: &Fitted,
        node_count: usize,
        terminal_count: usize,
    ) -> Result<(), ConfigError> {
        let area = fitted.area;
        if (c.slots as f64) * (terminal_count as f64) > 1e8 {
            return Err(self.bad(
                "slots",
                &format!("slots × terminals ({terminal_count}) at most 1e8"),
                c.slots.to_string(),
            ));
        }
        if !(area[0].is_finite() && area[1].is_finite()) || area[0] > 1e6 || area[1] > 1e6 {
            return Err(self.bad(
                "area_m",
                "an area of at most 1000 km per side",
                format!("[{}, {}]", area[0], area[1]),
            ));
        }
        // Shadowing maps are gridded at a quarter of the decorrelation distance; bound their size.
        let r = &c.radio;
        let cell = geo::shadow_cell_m(r.shadowing_decorrelation_m);
        let cells = (area[0] / cell + 3.0) * (area[1] / cell + 3.0) * node_count as f64;
        if cells > 2e8 {
            return Err(self.bad(
                "radio.shadowing_decorrelation_m",
                "a decorrelation distance large enough for the area (shadowing maps would exceed 2e8 cells)",
                shown(r.shadowing_decorrelation_m),
            ));
        }
        Ok(())
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
            ("[mobility]\ntrace_offset_s = 5.0", "mobility.trace_offset_s"),
            ("[mobility]\ntrace_terminals = 3", "mobility.trace_terminals"),
            ("[mobility]\ntrace_file = \"builtin:pedestrian\"\ntrace_offset_s = -1.0", "mobility.trace_offset_s"),
            ("[mobility]\ntrace_file = \"builtin:pedestrian\"\ntrace_offset_s = 600.0", "mobility.trace_offset_s"),
            ("[mobility]\ntrace_file = \"builtin:pedestrian\"\ntrace_terminals = 224", "mobility.trace_terminals"),
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
