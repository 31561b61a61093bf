//! DNN catalogue: weights size and partition points of each model, derived
//! from per-layer profiles (`scenarios/data/dnn_profiles.json`).
//!
//! Cut rule (spec section 2): cut 0 sends the task's own input; an
//! intermediate cut after layer `l` is kept when its output tensor, sent as
//! int8 (one byte per element = fp32 bytes / 4), is smaller than the raw input
//! tensor and every earlier layer's output; the last layer is not a cut (that
//! would be local execution). Cut `L_m` is local execution. FLOPs = 2 × MACs.

use serde::Deserialize;
use std::collections::BTreeMap;

/// The profile file shipped with the project (copied from the reference
/// profiles of the project brief: torchvision models, 224×224 input).
pub const BUILTIN_PROFILES: &str = include_str!("../data/dnn_profiles.json");

pub type ModelId = usize;

/// One partition point: the terminal has run `prefix_flops`; `sent_bytes` go
/// uplink (None for cut 0: the task's own input size).
#[derive(Debug, Clone, PartialEq)]
pub struct Cut {
    pub after_layer: String,
    pub prefix_flops: f64,
    pub sent_bytes: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DnnModel {
    pub name: String,
    /// fp32 weights, bytes (`s_m`).
    pub weights_bytes: f64,
    /// `F_m(L_m)`.
    pub total_flops: f64,
    /// Offloadable cuts `0..L_m-1` in order; cut `L_m` (= `cuts.len()`) is local.
    pub cuts: Vec<Cut>,
}

impl DnnModel {
    /// Number of offloadable cuts (`L_m`); cut index `L_m` means local.
    pub fn offload_cuts(&self) -> usize {
        self.cuts.len()
    }
    /// Bytes sent at `cut` for a task whose input is `input_bytes`.
    pub fn sent_bytes(&self, cut: usize, input_bytes: f64) -> f64 {
        self.cuts[cut].sent_bytes.unwrap_or(input_bytes)
    }
    pub fn prefix_flops(&self, cut: usize) -> f64 {
        self.cuts[cut].prefix_flops
    }
    pub fn suffix_flops(&self, cut: usize) -> f64 {
        self.total_flops - self.cuts[cut].prefix_flops
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    pub models: Vec<DnnModel>,
}

#[derive(Deserialize)]
struct ProfileFile(BTreeMap<String, Profile>);

#[derive(Deserialize)]
struct Profile {
    total_macs: f64,
    total_params: f64,
    input_bytes_fp32: f64,
    layers: Vec<Layer>,
}

#[derive(Deserialize)]
struct Layer {
    layer: String,
    cum_macs: f64,
    out_bytes_fp32: f64,
}

impl Catalogue {
    pub fn builtin(names: &[String]) -> Result<Catalogue, String> {
        Self::from_profiles_json(BUILTIN_PROFILES, "built-in catalogue", names)
    }

    /// Parse a profile file and keep `names`, in that order.
    pub fn from_profiles_json(text: &str, source: &str, names: &[String]) -> Result<Catalogue, String> {
        let file: ProfileFile = serde_json::from_str(text)
            .map_err(|e| format!("{source}: line {}: not a DNN profile file: {e}", e.line()))?;
        let mut models = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(format!("model `{name}` is listed twice"));
            }
            let p = file.0.get(name).ok_or_else(|| {
                let known: Vec<&str> = file.0.keys().map(String::as_str).collect();
                format!("unknown model `{name}`; {source} has: {}", known.join(", "))
            })?;
            models.push(model_from_profile(name, p).map_err(|e| format!("{source}: model `{name}`: {e}"))?);
        }
        Ok(Catalogue { models })
    }

    pub fn get(&self, id: ModelId) -> &DnnModel {
        &self.models[id]
    }
    pub fn len(&self) -> usize {
        self.models.len()
    }
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

fn model_from_profile(name: &str, p: &Profile) -> Result<DnnModel, String> {
    let ok = |v: f64| v.is_finite() && v > 0.0;
    if !ok(p.total_macs) || !ok(p.total_params) || !ok(p.input_bytes_fp32) || p.layers.is_empty() {
        return Err("total_macs, total_params and input_bytes_fp32 must be positive and layers non-empty".into());
    }
    let mut cuts = vec![Cut { after_layer: "input".into(), prefix_flops: 0.0, sent_bytes: None }];
    let mut smallest = p.input_bytes_fp32 / 4.0;
    let mut prev_cum = 0.0;
    for l in &p.layers[..p.layers.len() - 1] {
        if !(l.cum_macs.is_finite() && l.cum_macs >= prev_cum && l.out_bytes_fp32.is_finite() && l.out_bytes_fp32 > 0.0)
        {
            return Err(format!("layer `{}`: cum_macs must not decrease and out_bytes_fp32 must be positive", l.layer));
        }
        prev_cum = l.cum_macs;
        let int8 = l.out_bytes_fp32 / 4.0;
        if int8 < smallest {
            smallest = int8;
            cuts.push(Cut { after_layer: l.layer.clone(), prefix_flops: 2.0 * l.cum_macs, sent_bytes: Some(int8) });
        }
    }
    Ok(DnnModel { name: name.to_string(), weights_bytes: 4.0 * p.total_params, total_flops: 2.0 * p.total_macs, cuts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet18_cuts_follow_the_rule() {
        let c = Catalogue::builtin(&["ResNet-18".to_string()]).unwrap();
        let m = &c.models[0];
        let names: Vec<&str> = m.cuts.iter().map(|c| c.after_layer.as_str()).collect();
        assert_eq!(names, ["input", "layer2.0", "layer3.0", "layer4.0", "avgpool"]);
        // layer2.0 output 128x28x28 = 100352 int8 bytes; prefix = 2 x cum_macs.
        assert_eq!(m.cuts[1].sent_bytes, Some(100352.0));
        assert!((m.weights_bytes / (1 << 20) as f64 - 44.59).abs() < 0.01);
        assert!((m.total_flops / 1e9 - 3.628).abs() < 0.001);
        assert_eq!(m.sent_bytes(0, 60_000.0), 60_000.0);
        assert_eq!(m.suffix_flops(0), m.total_flops);
    }

    #[test]
    fn default_models_total_618_mib() {
        let names: Vec<String> =
            ["MobileNetV2", "ResNet-18", "ResNet-50", "ResNet-152", "AlexNet"].map(String::from).to_vec();
        let c = Catalogue::builtin(&names).unwrap();
        let total: f64 = c.models.iter().map(|m| m.weights_bytes).sum::<f64>() / (1 << 20) as f64;
        assert!((total - 618.0).abs() < 1.0, "{total}");
    }

    #[test]
    fn bad_profile_file_is_an_error() {
        let e = Catalogue::from_profiles_json("{\"X\": 3}", "f.json", &["X".into()]).unwrap_err();
        assert!(e.starts_with("f.json: line 1"), "{e}");
    }
}
