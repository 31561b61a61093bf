//! A family of scenarios for training: a scenario file with a `[family]`
//! table whose fields are ranges or lists to sample. `edgebench train`
//! expands it into `worlds` scenarios, each drawn from (training seed, world
//! index) alone, and trains on all of them; `run` and `score` refuse it (a
//! family is not one world to measure).
//!
//! ```toml
//! [family]
//! worlds = 32
//! [family.ranges]                  # uniform; integers when both ends are integers
//! "terminals.count" = [20, 60]
//! "nodes.cache_mib" = [200.0, 500.0]
//! [family.choices]                 # one of the values, equally likely
//! "mobility.model" = ["random_waypoint", "manhattan"]
//! ```

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use rand::Rng;

use crate::config::{Scenario, TraceLoader};
use crate::error::ConfigError;
use crate::rng::stream;
use crate::schema::{FamilyConfig, ScenarioConfig};
use crate::trace::{RawTrace, TraceFormat};

/// Most worlds one family expands into (each is validated and held in memory).
pub const MAX_WORLDS: usize = 4096;

/// Fields a family may not vary: its name labels every world, and a family
/// does not nest.
const FIXED: &[&str] = &["name", "description", "family"];

impl FamilyConfig {
    /// Sizes and shapes: `worlds` in 1..=MAX_WORLDS, numeric ordered ranges,
    /// non-empty choices, each field varied once and not one of [`FIXED`].
    pub fn check(&self, source: &str) -> Result<(), ConfigError> {
        let bad = |field: &str, msg: String| ConfigError::field(source, field, msg);
        if !(1..=MAX_WORLDS).contains(&self.worlds) {
            return Err(bad("family.worlds", format!("expected 1 to {MAX_WORLDS} worlds, got {}", self.worlds)));
        }
        for (path, [lo, hi]) in &self.ranges {
            let field = format!("family.ranges.\"{path}\"");
            let (Some(a), Some(b)) = (number(lo), number(hi)) else {
                return Err(bad(&field, format!("expected [low, high] as two numbers, got [{lo}, {hi}]")));
            };
            if !(a.is_finite() && b.is_finite() && a <= b) {
                return Err(bad(&field, format!("expected finite low <= high, got [{lo}, {hi}]")));
            }
            if lo.is_integer() != hi.is_integer() {
                return Err(bad(&field, format!("expected two integers or two floats, got [{lo}, {hi}]")));
            }
        }
        for (path, values) in &self.choices {
            if values.is_empty() {
                return Err(bad(&format!("family.choices.\"{path}\""), "expected at least one value, got []".into()));
            }
        }
        for path in self.ranges.keys().chain(self.choices.keys()) {
            let field = format!("family: \"{path}\"");
            if FIXED.contains(&path.split('.').next().unwrap_or("")) {
                return Err(bad(&field, format!("cannot vary: one of {} is fixed for every world", FIXED.join(", "))));
            }
            if self.ranges.contains_key(path) && self.choices.contains_key(path) {
                return Err(bad(&field, "is both a range and a choice; expected one of them".into()));
            }
        }
        Ok(())
    }

    /// The config of world `k` under `seed`: `base` with every varied field
    /// drawn (fields in name order, each from its own stream).
    pub fn sample(
        &self,
        base: &ScenarioConfig,
        seed: u64,
        k: usize,
        source: &str,
    ) -> Result<ScenarioConfig, ConfigError> {
        let toml::Value::Table(mut table) = toml::Value::try_from(ScenarioConfig { family: None, ..base.clone() })
            .expect("a ScenarioConfig always serialises to TOML")
        else {
            unreachable!("a ScenarioConfig serialises to a table")
        };
        let world = crate::rng::derive(seed, &format!("family-world-{k}"));
        for (path, [lo, hi]) in &self.ranges {
            let mut rng = stream(world, path);
            let v = match (lo, hi) {
                (toml::Value::Integer(a), toml::Value::Integer(b)) => toml::Value::Integer(rng.gen_range(*a..=*b)),
                _ => {
                    let (a, b) = (number(lo).unwrap_or(0.0), number(hi).unwrap_or(0.0));
                    toml::Value::Float(if a < b { rng.gen_range(a..b) } else { a })
                }
            };
            set(&mut table, path, v, source)?;
        }
        for (path, values) in &self.choices {
            let pick = stream(world, path).gen_range(0..values.len());
            set(&mut table, path, values[pick].clone(), source)?;
        }
        let drawn = self.drawn(&table);
        toml::Value::Table(table).try_into::<ScenarioConfig>().map_err(|e| {
            ConfigError::field(source, "family", format!("world {k} ({drawn}) is not a scenario: {}", e.message()))
        })
    }

    /// `path = value` of every varied field in `table`, for messages.
    fn drawn(&self, table: &toml::Table) -> String {
        let at = |path: &str| {
            let mut v: Option<&toml::Value> = None;
            let mut t = Some(table);
            for part in path.split('.') {
                v = t.and_then(|t| t.get(part));
                t = v.and_then(toml::Value::as_table);
            }
            v.map_or_else(|| "?".to_string(), ToString::to_string)
        };
        self.ranges.keys().chain(self.choices.keys()).map(|p| format!("{p} = {}", at(p))).collect::<Vec<_>>().join(", ")
    }
}

fn number(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// Set the dotted `path` of `table` to `v`; its sections must exist (every
/// section of a scenario does), its last part need not (fields written only when set).
fn set(table: &mut toml::Table, path: &str, v: toml::Value, source: &str) -> Result<(), ConfigError> {
    let parts: Vec<&str> = path.split('.').collect();
    let (last, sections) = parts.split_last().expect("split yields at least one part");
    let mut t = table;
    for s in sections {
        t = match t.get_mut(*s) {
            Some(toml::Value::Table(inner)) => inner,
            _ => {
                return Err(ConfigError::field(
                    source,
                    &format!("family: \"{path}\""),
                    format!("expected a field of the scenario file (`{s}` is not a section)"),
                ))
            }
        };
    }
    if matches!(t.get(*last), Some(toml::Value::Table(_))) {
        return Err(ConfigError::field(
            source,
            &format!("family: \"{path}\""),
            "expected a field, got a whole section".to_string(),
        ));
    }
    t.insert(last.to_string(), v);
    Ok(())
}

/// The scenarios a training draws from for one `--scenario` value: the
/// `worlds` sampled scenarios of a family file (every one validated), or the
/// one scenario of a preset or plain file.
pub fn resolve_for_training(spec: &str, seed: u64, loader: &TraceLoader<'_>) -> Result<Vec<Scenario>, ConfigError> {
    let Some((config, path)) = crate::presets::read_file_config(spec)? else {
        return Ok(vec![crate::presets::resolve_with(spec, loader)?]);
    };
    let source = path.display().to_string();
    let Some(family) = config.family.clone() else {
        // A plain file: validated as `resolve_with` would, without reading it again.
        return Ok(vec![config.validate_with(&source, path.parent(), loader)?]);
    };
    family.check(&source)?;
    // Worlds that replay the same trace file read it once.
    type Key = (PathBuf, Option<TraceFormat>, bool);
    let cache: RefCell<Vec<(Key, RawTrace)>> = RefCell::default();
    let cached = |p: &Path, f: Option<TraceFormat>, geo: bool| -> Result<RawTrace, ConfigError> {
        let key = (p.to_path_buf(), f, geo);
        if let Some((_, t)) = cache.borrow().iter().find(|(k, _)| *k == key) {
            return Ok(t.clone());
        }
        let t = loader(p, f, geo)?;
        cache.borrow_mut().push((key, t.clone()));
        Ok(t)
    };
    (0..family.worlds)
        .map(|k| {
            let drawn = family.sample(&config, seed, k, &source)?;
            let label = format!("{source} (family world {k})");
            drawn.validate_with(&label, path.parent(), &cached)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAMILY: &str = r#"
name = "fam"
slots = 20
[terminals]
count = 10
[family]
worlds = 16
[family.ranges]
"terminals.count" = [5, 40]
"nodes.cache_mib" = [100.0, 600.0]
[family.choices]
"mobility.model" = ["random_waypoint", "gauss_markov", "manhattan"]
"nodes.placement" = ["grid", "hex"]
"#;

    fn write(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fam.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path.display().to_string())
    }

    fn worlds(text: &str, seed: u64) -> Result<Vec<Scenario>, ConfigError> {
        let (_dir, path) = write(text);
        resolve_for_training(&path, seed, &crate::trace::import)
    }

    #[test]
    fn a_family_expands_into_its_worlds_drawn_from_the_seed() {
        let a = worlds(FAMILY, 7).unwrap();
        assert_eq!(a.len(), 16);
        let fields = |s: &Scenario| {
            let c = s.config();
            (c.terminals.count, c.nodes.cache_mib, c.mobility.model, c.nodes.placement)
        };
        for s in &a {
            let (count, cache, _, _) = fields(s);
            assert_eq!(s.name(), "fam");
            assert!((5..=40).contains(&count), "{count}");
            assert!((100.0..600.0).contains(&cache), "{cache}");
            assert_eq!(s.config().slots, 20, "fields not varied keep the file's value");
            assert!(s.config().family.is_none());
        }
        let drawn: Vec<_> = a.iter().map(fields).collect();
        assert_eq!(drawn, worlds(FAMILY, 7).unwrap().iter().map(fields).collect::<Vec<_>>());
        assert_ne!(drawn, worlds(FAMILY, 8).unwrap().iter().map(fields).collect::<Vec<_>>());
        // Sixteen draws see more than one value of every varied field.
        assert!(drawn.iter().any(|d| d.0 != drawn[0].0) && drawn.iter().any(|d| d.2 != drawn[0].2));
        assert!(drawn.iter().any(|d| d.3 != drawn[0].3) && drawn.iter().any(|d| d.1 != drawn[0].1));
    }

    #[test]
    fn a_family_is_not_a_scenario_to_run() {
        let (_dir, path) = write(FAMILY);
        let e = crate::presets::resolve(&path).unwrap_err().to_string();
        assert!(e.contains("field family") && e.contains("edgebench train"), "{e}");
    }

    #[test]
    fn bad_families_are_one_line_errors_naming_the_field() {
        let with = |family: &str| format!("name = \"fam\"\n[family]\n{family}");
        let cases = [
            ("worlds = 0", "family.worlds"),
            ("worlds = 4\n[family.ranges]\n\"terminals.count\" = [40, 5]", "terminals.count"),
            ("worlds = 4\n[family.ranges]\n\"terminals.count\" = [5, 40.0]", "two integers or two floats"),
            ("worlds = 4\n[family.ranges]\n\"terminals.count\" = [\"a\", 4]", "two numbers"),
            ("worlds = 4\n[family.choices]\n\"mobility.model\" = []", "at least one value"),
            ("worlds = 4\n[family.choices]\n\"name\" = [\"x\"]", "cannot vary"),
            ("worlds = 4\n[family.choices]\n\"nodes.colour\" = [\"red\"]", "colour"),
            ("worlds = 4\n[family.choices]\n\"nodez.count\" = [3]", "not a section"),
            ("worlds = 4\n[family.choices]\n\"nodes\" = [3]", "whole section"),
            ("worlds = 4\n[family.choices]\n\"mobility.model\" = [\"teleport\"]", "teleport"),
            ("worlds = 4\n[family.ranges]\n\"terminals.count\" = [0, 0]", "terminals.count"),
            ("worlds = 4\nextra = 1", "extra"),
        ];
        for (family, expected) in cases {
            let e = worlds(&with(family), 1).unwrap_err().to_string();
            assert!(e.contains(expected) && e.contains("fam.toml"), "{family} -> {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn a_plain_file_or_preset_is_one_world() {
        assert_eq!(resolve_for_training("tiny", 1, &crate::trace::import).unwrap().len(), 1);
        assert_eq!(worlds("name = \"plain\"\nslots = 10\n", 1).unwrap().len(), 1);
    }
}
