//! Every fuzz target of edgebench, by name: each a `fn(&[u8])` that feeds the
//! bytes to a parser of outside input as the CLI does and panics if the input
//! contract breaks (a panic inside, or an error that is not one line naming
//! the input). The world model's parsers are in [`scenarios::fuzz`]; this
//! module adds the binary's (Parquet traces, regression baselines, CLI
//! values, checkpoints). `fuzz/` (cargo-fuzz) explores them; the corpus it
//! keeps is replayed by `harness/tests/fuzz_corpus.rs` on every `cargo test`.

use std::path::Path;

use scenarios::fuzz::{check_error, check_error_naming, INPUT};

/// A fuzz target: bytes in, a panic when the input contract breaks.
pub type Target = fn(&[u8]);

/// (name, target); the name is the folder of its corpus under `fuzz/corpus/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("scenario_toml", scenarios::fuzz::scenario_toml),
    ("sumo_fcd", scenarios::fuzz::sumo_fcd),
    ("bonnmotion", scenarios::fuzz::bonnmotion),
    ("trace_csv", scenarios::fuzz::trace_csv),
    ("site_csv", scenarios::fuzz::site_csv),
    ("trace_file", trace_file),
    ("regress_baseline", regress_baseline),
    ("cli_values", cli_values),
    #[cfg(feature = "dppo")]
    ("checkpoint_weights", checkpoint_weights),
    #[cfg(feature = "dppo")]
    ("checkpoint_sidecar", checkpoint_sidecar),
];

/// The target of a name.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|t| t.1)
}

/// Any trace file as `trace import` / `trace info` take it: canonical Parquet,
/// or a format the world model reads (gzip or not, format guessed); then its
/// summary, as `trace info` prints it.
pub fn trace_file(data: &[u8]) {
    let raw = if data.starts_with(b"PAR1") {
        crate::tracefile::parquet_trace_bytes(data, Path::new(INPUT))
    } else {
        scenarios::trace::import_bytes(data, INPUT, None, false)
    };
    match raw {
        Ok(raw) => {
            let info = crate::tracefile::info(&raw, 1.0);
            assert_eq!(info.terminals, raw.ids.len());
            let t = raw.resample(1.0, Some(16));
            assert_eq!(t.pos.len(), 16 * raw.ids.len());
        }
        Err(e) => check_error(&e),
    }
}

/// A regression baseline (`regress --baseline FILE`).
pub fn regress_baseline(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = crate::regress::parse_baseline(text, Path::new(INPUT)) {
        check_error(&e);
    }
}

/// CLI values parsed by edgebench itself: `--vary` (first line), `--shard`
/// (second line); clap parses the rest. Errors are one line naming the flag.
pub fn cli_values(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\n');
    if let Some(vary) = parts.next() {
        match crate::sweep::parse_axis(vary) {
            Ok(axis) => {
                assert!(!axis.values.is_empty() && axis.values.iter().all(|v| v.is_finite() && *v > 0.0));
                // Four such axes at most: the sweep's cells stay bounded.
                let cells = crate::sweep::check_cells(&[axis.clone(), axis]).map(|n| n <= crate::sweep::MAX_CELLS);
                assert!(cells.unwrap_or(true));
            }
            Err(e) => check_error_naming(&e, "--vary"),
        }
    }
    if let Some(shard) = parts.next() {
        match crate::sweep::parse_shard(shard) {
            Ok(s) => assert!(s.index < s.count),
            Err(e) => check_error_naming(&e, "--shard"),
        }
    }
}

#[cfg(feature = "dppo")]
fn shipped() -> &'static solvers::dppo::Shipped {
    solvers::dppo::shipped_checkpoint("default")
}

/// A checkpoint's weights (safetensors), with the shipped sidecar, checked
/// against the `default` scenario's levels.
#[cfg(feature = "dppo")]
pub fn checkpoint_weights(data: &[u8]) {
    checkpoint(data, shipped().sidecar);
}

/// A checkpoint's JSON sidecar, with the shipped weights.
#[cfg(feature = "dppo")]
pub fn checkpoint_sidecar(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    checkpoint(shipped().weights, text);
}

#[cfg(feature = "dppo")]
fn checkpoint(weights: &[u8], sidecar: &str) {
    let scenario = scenarios::presets::resolve("default").expect("the default preset");
    let d = &scenario.config().decision;
    let path = Path::new(INPUT).with_extension("safetensors");
    match solvers::dppo::checkpoint::load_bytes(&path, weights, sidecar, &d.rb_levels, &d.cu_levels) {
        Ok(ck) => assert_eq!(ck.weights.len(), ck.sidecar.architecture.tensor_shapes().len()),
        Err(e) => check_error(&e),
    }
}
