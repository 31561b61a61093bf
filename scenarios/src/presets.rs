//! Built-in scenarios, shipped as TOML files next to this crate so that a user
//! can copy one and edit it.

use std::path::Path;

use crate::config::{Scenario, TraceLoader};
use crate::error::ConfigError;
use crate::schema::ScenarioConfig;

/// (name, TOML text).
pub const PRESETS: &[(&str, &str)] = &[
    ("tiny", include_str!("../presets/tiny.toml")),
    ("default", include_str!("../presets/default.toml")),
    ("dense", include_str!("../presets/dense.toml")),
    ("vehicular", include_str!("../presets/vehicular.toml")),
    ("melbourne", include_str!("../presets/melbourne.toml")),
];

pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

pub fn preset(name: &str) -> Result<Scenario, ConfigError> {
    let (_, text) = PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| ConfigError::UnknownPreset { name: name.into(), known: names().join(", ") })?;
    let source = format!("preset {name}");
    ScenarioConfig::from_toml_str(text, &source)?.validate(&source, None)
}

/// A preset name, or a path to a TOML file (anything with a `/` or ending in `.toml`).
pub fn resolve(spec: &str) -> Result<Scenario, ConfigError> {
    resolve_with(spec, &crate::trace::import)
}

/// [`resolve`] with a trace loader for formats this crate does not read.
pub fn resolve_with(spec: &str, loader: &TraceLoader<'_>) -> Result<Scenario, ConfigError> {
    if is_file_spec(spec) {
        load_file_with(Path::new(spec), loader)
    } else {
        preset(spec)
    }
}

pub fn load_file(path: &Path) -> Result<Scenario, ConfigError> {
    load_file_with(path, &crate::trace::import)
}

pub fn load_file_with(path: &Path, loader: &TraceLoader<'_>) -> Result<Scenario, ConfigError> {
    let name = path.display().to_string();
    parse_file(path)?.validate_with(&name, path.parent(), loader)
}

/// The config a scenario file says, unvalidated.
fn parse_file(path: &Path) -> Result<ScenarioConfig, ConfigError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::File { path: name.clone(), message: format!("cannot read scenario file: {e}") })?;
    let text = String::from_utf8(bytes).map_err(|e| ConfigError::File {
        path: name.clone(),
        message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
    })?;
    ScenarioConfig::from_toml_str(&text, &name)
}

/// When `spec` names a file (as [`resolve_with`] reads it): its config,
/// unvalidated, and its path; `None` for a preset.
pub fn read_file_config(spec: &str) -> Result<Option<(ScenarioConfig, std::path::PathBuf)>, ConfigError> {
    if is_file_spec(spec) {
        Ok(Some((parse_file(Path::new(spec))?, Path::new(spec).to_path_buf())))
    } else {
        Ok(None)
    }
}

fn is_file_spec(spec: &str) -> bool {
    spec.contains('/') || spec.ends_with(".toml") || Path::new(spec).is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_validates_and_is_named_after_itself() {
        for name in names() {
            let s = preset(name).unwrap();
            assert_eq!(s.name(), name);
        }
    }

    #[test]
    fn unknown_preset_lists_the_known_ones() {
        let e = preset("nope").unwrap_err().to_string();
        assert!(e.contains("tiny") && e.contains("default"), "{e}");
    }
}
