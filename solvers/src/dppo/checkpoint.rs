//! Checkpoints: the weights as safetensors (F32, little-endian) and a JSON
//! sidecar with architecture, levels, hyperparameters, observation
//! statistics, scenario and git revision. Both are read and checked in full
//! before anything runs; every mismatch is a one-line [`DppoError::BadCheckpoint`].

use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use super::features::{
    CACHE_DIM, CACHE_STAKE, CUT_DIM, OPTION_STAKE, ROW_DIM, VALUE_COVERED, VALUE_COVERED_READY, VALUE_DIM, VALUE_STAKE,
};
use super::hyper::TrainConfig;
use super::net::{Arch, NamedWeights, Normalizer, RunningStats};
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
    /// The checkpoint this training started from (`train --init`); absent for a fresh start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tuned_from: Option<FineTuneInfo>,
}

/// The starting checkpoint of a fine-tuning: its training scenario and length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FineTuneInfo {
    pub scenario: ScenarioInfo,
    pub env_steps: u64,
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

/// Serialise named F32 tensors as safetensors (the `safetensors` crate: tensors
/// ordered by name, header padded to 8 bytes).
pub fn safetensors_bytes(weights: &[(String, Vec<i64>, Vec<f32>)]) -> Vec<u8> {
    let bytes: Vec<(&str, Vec<usize>, Vec<u8>)> = weights
        .iter()
        .map(|(name, shape, data)| {
            let shape = shape.iter().map(|&d| usize::try_from(d).expect("tensor dims are non-negative")).collect();
            (name.as_str(), shape, data.iter().flat_map(|v| v.to_le_bytes()).collect())
        })
        .collect();
    let views = bytes.iter().map(|(name, shape, data)| {
        (*name, TensorView::new(Dtype::F32, shape.clone(), data).expect("shape matches the data"))
    });
    safetensors::serialize(views, &None).expect("F32 tensors serialise")
}

/// What a safetensors error means, in words (the crate's `Display` is its `Debug`).
fn safetensors_reason(e: &SafeTensorError) -> String {
    use SafeTensorError as E;
    match e {
        E::HeaderTooSmall => "not a safetensors file (shorter than its 8-byte header length)".into(),
        E::HeaderTooLarge | E::InvalidHeaderLength => {
            "not a safetensors file (its header length is beyond the file or above 100 MB)".into()
        }
        E::InvalidHeader | E::InvalidHeaderStart | E::InvalidHeaderDeserialization | E::JsonError(_) => {
            "not a safetensors file (its header is not a JSON table of tensors)".into()
        }
        E::InvalidOffset(name) => format!("tensor {name:?}: its data offsets do not follow the previous tensor's"),
        E::TensorInvalidInfo | E::InvalidTensorView(..) => {
            "a tensor's data offsets do not match its shape and dtype".into()
        }
        E::MetadataIncompleteBuffer => {
            "the tensors' data offsets do not cover the file exactly (truncated or padded?)".into()
        }
        E::ValidationOverflow => "a tensor's shape overflows".into(),
        E::TensorNotFound(name) => format!("tensor {name:?} is missing"),
        E::IoError(e) => format!("cannot read ({e})"),
    }
}

/// Parse safetensors bytes and check them against the network `arch`
/// describes: every tensor present under its name, F32, with its shape and
/// finite values; nothing else. Each mismatch names the tensor.
pub fn parse_safetensors(path: &Path, bytes: &[u8], arch: &Arch) -> Result<NamedWeights, DppoError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| bad(path, safetensors_reason(&e)))?;
    let expected = arch.tensor_shapes();
    let mut names: Vec<String> = file.names().into_iter().cloned().collect();
    names.sort();
    if let Some(extra) = names.iter().find(|n| !expected.contains_key(*n)) {
        return Err(bad(path, format!("tensor {extra:?} is not part of the network the sidecar describes")));
    }
    let mut out = Vec::with_capacity(expected.len());
    for (name, shape) in &expected {
        let view = file.tensor(name).map_err(|_| bad(path, format!("tensor {name:?} is missing")))?;
        if view.dtype() != Dtype::F32 {
            return Err(bad(path, format!("tensor {name:?} is {:?}, expected F32", view.dtype())));
        }
        let got: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        if &got != shape {
            return Err(bad(path, format!("tensor {name:?} has shape {got:?}, the network expects {shape:?}")));
        }
        let values: Vec<f32> =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(bad(path, format!("tensor {name:?} holds a non-finite value")));
        }
        out.push((name.clone(), shape.clone(), values));
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
    let mut sidecar: Sidecar =
        serde_json::from_str(side_text).map_err(|e| bad(&side_path, format!("not a DPPO checkpoint sidecar: {e}")))?;
    if sidecar.format != FORMAT {
        return Err(bad(&side_path, format!("format {:?}, this build reads {FORMAT:?}", sidecar.format)));
    }
    // The weights are laid out as the sidecar says; a checkpoint from
    // before an added column is widened below, one addition after another.
    let stored = sidecar.architecture;
    let mut added: Vec<&Added> = Vec::new();
    for a in &ADDED {
        if a.missing_from(&sidecar.architecture) {
            a.widen_arch(&mut sidecar.architecture);
            a.widen_stats(&mut sidecar.observation_stats);
            added.push(a);
        }
    }
    // Either activation runs, with or without the top-up, the rescue, the
    // demand fetch and the demand share (older checkpoints keep working and
    // deciding as before).
    let expected = Arch {
        activation: sidecar.architecture.activation,
        top_up: sidecar.architecture.top_up,
        rescue: sidecar.architecture.rescue,
        demand_fetch: sidecar.architecture.demand_fetch,
        demand_share: sidecar.architecture.demand_share,
        stake_order: sidecar.architecture.stake_order,
        hold_downloads: sidecar.architecture.hold_downloads,
        guard_evictions: sidecar.architecture.guard_evictions,
        fetch_claims: sidecar.architecture.fetch_claims,
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
    let mut weights = parse_safetensors(path, bytes, &stored)?;
    for a in &added {
        a.widen_weights(&mut weights);
    }
    Ok(Checkpoint { path: path.to_path_buf(), sidecar, weights })
}

/// An input column added after checkpoints without it were shipped, in
/// one row type or two (the second reads the first's mean, or starts with
/// the first). Such a checkpoint gets it with zero weights in every net that
/// reads it: the network's outputs do not change, so it decides exactly as
/// it did (the critic's columns do not touch a decision at all), and
/// fine-tuning it can learn the column.
struct Added(&'static [Column]);

/// Where one row type has the added column.
struct Column {
    /// The row's width in [`Arch`], and its width with the column.
    width: fn(&mut Arch) -> &mut usize,
    dim: usize,
    /// The column's index.
    at: usize,
    /// The input tensors of the net that reads the row.
    tensors: [&'static str; 2],
    stats: fn(&mut Normalizer) -> &mut RunningStats,
}

/// The critic's row gaining one column at `at`, `dim` wide with it.
const fn value_column(dim: usize, at: usize) -> Column {
    Column {
        width: |a| &mut a.value_dim,
        dim,
        at,
        tensors: ["value.l1.weight", "value.skip.weight"],
        stats: |n| &mut n.value,
    }
}

/// In the order they were added: the stake columns, the cache rows' (and
/// its mean in the critic's row), then the option rows' (and so the cut
/// rows', which start with it); then the critic's covered stake, two
/// columns.
const ADDED: [Added; 4] = [
    Added(&[
        Column {
            width: |a| &mut a.cache_dim,
            dim: CACHE_DIM,
            at: CACHE_STAKE,
            tensors: ["cache.l1.weight", "cache.skip.weight"],
            stats: |n| &mut n.cache,
        },
        value_column(VALUE_COVERED, VALUE_STAKE),
    ]),
    Added(&[
        Column {
            width: |a| &mut a.row_dim,
            dim: ROW_DIM,
            at: OPTION_STAKE,
            tensors: ["option.l1.weight", "option.skip.weight"],
            stats: |n| &mut n.option,
        },
        Column {
            width: |a| &mut a.cut_dim,
            dim: CUT_DIM,
            at: OPTION_STAKE,
            tensors: ["cut.l1.weight", "cut.skip.weight"],
            stats: |n| &mut n.cut,
        },
    ]),
    Added(&[value_column(VALUE_COVERED_READY, VALUE_COVERED)]),
    Added(&[value_column(VALUE_DIM, VALUE_COVERED_READY)]),
];

impl Added {
    /// The architecture is one column short in every row type of the addition.
    fn missing_from(&self, arch: &Arch) -> bool {
        let mut arch = *arch;
        self.0.iter().all(|c| *(c.width)(&mut arch) + 1 == c.dim)
    }
    fn widen_arch(&self, arch: &mut Arch) {
        for c in self.0 {
            *(c.width)(arch) = c.dim;
        }
    }
    /// A zero weight for the column in every tensor that reads it.
    fn widen_weights(&self, weights: &mut NamedWeights) {
        for c in self.0 {
            for (_, shape, values) in weights.iter_mut().filter(|(name, ..)| c.tensors.contains(&name.as_str())) {
                let cols = shape[1] as usize;
                let mut wide = Vec::with_capacity(values.len() / cols * (cols + 1));
                for row in values.chunks_exact(cols) {
                    wide.extend_from_slice(&row[..c.at]);
                    wide.push(0.0);
                    wide.extend_from_slice(&row[c.at..]);
                }
                *values = wide;
                shape[1] += 1;
            }
        }
    }
    /// Unit statistics (mean 0, variance 1 over the recorded count) for the
    /// column, so that it enters unscaled and later rollouts barely move its
    /// normalisation. Left as they are when their widths are not the older
    /// ones (refused after).
    fn widen_stats(&self, stats: &mut Normalizer) {
        for c in self.0 {
            let s = (c.stats)(stats);
            if s.sum.len() + 1 == c.dim && s.sum_sq.len() + 1 == c.dim {
                s.sum.insert(c.at, 0.0);
                s.sum_sq.insert(c.at, s.count);
            }
        }
    }
}

impl Checkpoint {
    pub fn save(&self) -> std::io::Result<()> {
        save(&self.path, &self.weights, &self.sidecar)
    }
}
