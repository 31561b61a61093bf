//! Checkpoints: the weights as safetensors (F32, little-endian) and a JSON
//! sidecar with architecture, levels, hyperparameters, observation
//! statistics, scenario and git revision. Both are read and checked in full
//! before anything runs; every mismatch is a one-line [`DppoError::BadCheckpoint`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::net::{Arch, NamedWeights, Normalizer};
use super::ppo::{TrainConfig, Trained};
use super::DppoError;

pub const FORMAT: &str = "edgebench-dppo-1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioInfo {
    pub name: String,
    /// `Scenario::config_hash` of the training scenario.
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingInfo {
    pub updates: u64,
    pub env_steps: u64,
    pub wall_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    pub format: String,
    pub architecture: Arch,
    pub rb_levels: Vec<u32>,
    pub cu_levels: Vec<u32>,
    pub hyperparameters: TrainConfig,
    pub observation_stats: Normalizer,
    pub scenario: ScenarioInfo,
    pub git_revision: String,
    pub training: TrainingInfo,
}

/// A loaded, checked checkpoint.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub path: PathBuf,
    pub sidecar: Sidecar,
    pub weights: NamedWeights,
}

/// The sidecar that belongs to a weights file: same name, `.json`.
pub fn sidecar_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

fn bad(path: &Path, msg: impl std::fmt::Display) -> DppoError {
    DppoError::BadCheckpoint(format!("{}: {msg}", path.display()))
}

#[derive(Serialize, Deserialize)]
struct TensorInfo {
    dtype: String,
    shape: Vec<i64>,
    data_offsets: [usize; 2],
}

/// Serialise named F32 tensors as safetensors.
pub fn safetensors_bytes(weights: &[(String, Vec<i64>, Vec<f32>)]) -> Vec<u8> {
    let mut sorted: Vec<_> = weights.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut header = BTreeMap::new();
    let mut at = 0;
    for (name, shape, data) in &sorted {
        let len = data.len() * 4;
        header.insert(
            name.clone(),
            TensorInfo { dtype: "F32".into(), shape: shape.clone(), data_offsets: [at, at + len] },
        );
        at += len;
    }
    let mut json = serde_json::to_vec(&header).expect("serialisable header");
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + at);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for (_, _, data) in sorted {
        for v in data {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Parse safetensors bytes holding only F32 tensors.
pub fn parse_safetensors(path: &Path, bytes: &[u8]) -> Result<NamedWeights, DppoError> {
    if bytes.len() < 8 {
        return Err(bad(path, "not a safetensors file (shorter than its 8-byte header length)"));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    if n > bytes.len() - 8 || n > 100_000_000 {
        return Err(bad(
            path,
            format!("not a safetensors file (header length {n} beyond the file's {} bytes)", bytes.len()),
        ));
    }
    let header: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&bytes[8..8 + n])
        .map_err(|e| bad(path, format!("not a safetensors file (header is not JSON: {e})")))?;
    let data = &bytes[8 + n..];
    let mut out = Vec::new();
    for (name, value) in header {
        if name == "__metadata__" {
            continue;
        }
        let info: TensorInfo =
            serde_json::from_value(value).map_err(|e| bad(path, format!("tensor {name:?}: bad entry ({e})")))?;
        if info.dtype != "F32" {
            return Err(bad(path, format!("tensor {name:?} is {}, expected F32", info.dtype)));
        }
        let [b, e] = info.data_offsets;
        let numel: i64 = info.shape.iter().product();
        if info.shape.iter().any(|&d| d < 0) || e < b || e > data.len() || (e - b) as i64 != numel * 4 {
            return Err(bad(
                path,
                format!(
                    "tensor {name:?}: offsets {b}..{e} do not match shape {:?} in {} data bytes",
                    info.shape,
                    data.len()
                ),
            ));
        }
        let values: Vec<f32> =
            data[b..e].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(bad(path, format!("tensor {name:?} holds a non-finite value")));
        }
        out.push((name, info.shape, values));
    }
    Ok(out)
}

/// Write `weights` to `path` (safetensors) and the sidecar next to it.
pub fn save(path: &Path, weights: &[(String, Vec<i64>, Vec<f32>)], sidecar: &Sidecar) -> std::io::Result<()> {
    std::fs::write(path, safetensors_bytes(weights))?;
    let json = serde_json::to_string_pretty(sidecar).expect("serialisable sidecar");
    std::fs::write(sidecar_path(path), json + "\n")
}

/// Read and check a checkpoint against the levels of the scenario it will decide in.
pub fn load(path: &Path, rb_levels: &[u32], cu_levels: &[u32]) -> Result<Checkpoint, DppoError> {
    let bytes = std::fs::read(path).map_err(|e| bad(path, format!("cannot read ({e})")))?;
    let side_path = sidecar_path(path);
    let side_text = std::fs::read_to_string(&side_path)
        .map_err(|e| bad(&side_path, format!("cannot read the checkpoint's JSON sidecar ({e})")))?;
    load_bytes(path, &bytes, &side_text, rb_levels, cu_levels)
}

/// Check a checkpoint held in memory (`path` names it in errors; its
/// sidecar is `sidecar_path(path)`): the same checks as [`load`].
pub fn load_bytes(
    path: &Path,
    bytes: &[u8],
    side_text: &str,
    rb_levels: &[u32],
    cu_levels: &[u32],
) -> Result<Checkpoint, DppoError> {
    let side_path = sidecar_path(path);
    let sidecar: Sidecar =
        serde_json::from_str(side_text).map_err(|e| bad(&side_path, format!("not a DPPO checkpoint sidecar: {e}")))?;
    if sidecar.format != FORMAT {
        return Err(bad(&side_path, format!("format {:?}, this build reads {FORMAT:?}", sidecar.format)));
    }
    // Either activation runs, with or without the top-up (checkpoints from
    // before hardtanh and before the top-up keep working and deciding as before).
    let expected = Arch {
        activation: sidecar.architecture.activation,
        top_up: sidecar.architecture.top_up,
        ..Arch::new(rb_levels.len(), cu_levels.len())
    };
    if sidecar.architecture != expected {
        return Err(bad(
            &side_path,
            format!(
                "architecture {:?} does not fit this build and scenario, which need {:?}",
                sidecar.architecture, expected
            ),
        ));
    }
    if sidecar.rb_levels != rb_levels || sidecar.cu_levels != cu_levels {
        return Err(bad(
            &side_path,
            format!(
                "trained for levels rb {:?} cu {:?}; the scenario has rb {:?} cu {:?}",
                sidecar.rb_levels, sidecar.cu_levels, rb_levels, cu_levels
            ),
        ));
    }
    if !sidecar.observation_stats.dims_match() {
        return Err(bad(&side_path, "observation statistics have the wrong widths"));
    }
    let weights = parse_safetensors(path, bytes)?;
    Ok(Checkpoint { path: path.to_path_buf(), sidecar, weights })
}

impl Checkpoint {
    /// The checkpoint of a finished training (`path` is where it will be saved).
    pub fn from_trained(
        trained: &Trained,
        scenario: &scenarios::Scenario,
        cfg: &TrainConfig,
        git_revision: &str,
        path: &Path,
    ) -> Checkpoint {
        let last = trained.logs.last().cloned().unwrap_or_default();
        let d = &scenario.config().decision;
        let sidecar = Sidecar {
            format: FORMAT.into(),
            architecture: trained.arch,
            rb_levels: d.rb_levels.clone(),
            cu_levels: d.cu_levels.clone(),
            hyperparameters: cfg.clone(),
            observation_stats: trained.normalizer.clone(),
            scenario: ScenarioInfo { name: scenario.name().to_string(), hash: scenario.config_hash() },
            git_revision: git_revision.to_string(),
            training: TrainingInfo { updates: last.update, env_steps: last.env_steps, wall_s: last.wall_s },
        };
        Checkpoint { path: path.to_path_buf(), sidecar, weights: trained.weights.clone() }
    }
    pub fn save(&self) -> std::io::Result<()> {
        save(&self.path, &self.weights, &self.sidecar)
    }
}
