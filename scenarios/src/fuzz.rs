//! Fuzz targets of the world model's parsers of outside input: each a
//! `fn(&[u8])` that feeds the bytes to the parser the CLI uses and panics if
//! the input contract breaks (a panic in the parser, or an error that is not
//! one line naming the input). The fuzzers (`fuzz/`, cargo-fuzz) and the
//! corpus replay test (`harness/tests/fuzz_corpus.rs`) call these.

use std::io::Cursor;

use crate::trace::{self, RawTrace};
use crate::{ConfigError, ScenarioConfig};

/// The name the inputs go by in error messages.
pub const INPUT: &str = "fuzz-input";

/// An error must be one line and name the input.
pub fn check_error(e: &dyn std::fmt::Display) {
    check_error_naming(e, INPUT);
}

/// An error must be one line and name `what` (the input, or a CLI flag).
pub fn check_error_naming(e: &dyn std::fmt::Display, what: &str) {
    let m = e.to_string();
    assert!(!m.contains('\n') && !m.contains('\r'), "error message spans lines: {m:?}");
    assert!(m.contains(what), "error message does not name {what}: {m:?}");
}

/// What a parsed trace goes through next on a run: resampled onto a slot grid.
fn use_trace(raw: &RawTrace) {
    assert!(raw.records.iter().all(|r| (r.terminal as usize) < raw.ids.len()));
    let t = raw.resample(1.0, Some(16));
    assert_eq!(t.pos.len(), 16 * raw.ids.len());
}

fn trace_result(r: Result<RawTrace, ConfigError>) {
    match r {
        Ok(raw) => use_trace(&raw),
        Err(e) => check_error(&e),
    }
}

/// A scenario file: TOML parsed and validated (trace files are not read).
pub fn scenario_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let no_traces: &crate::config::TraceLoader<'_> = &|_, _, _| {
        Err(ConfigError::File { path: INPUT.into(), message: "trace files are not read while fuzzing".into() })
    };
    match ScenarioConfig::from_toml_str(text, INPUT).and_then(|c| c.validate_with(INPUT, None, no_traces)) {
        Ok(s) => {
            // A valid scenario serialises and reads back to the same config.
            let again = ScenarioConfig::from_toml_str(&s.to_toml(), INPUT).expect("a resolved scenario reads back");
            assert_eq!(&again, s.config());
        }
        Err(e) => check_error(&e),
    }
}

/// SUMO FCD XML (x/y and, as `--geo`, lon/lat); parsed in 2 and 3 pieces
/// too, which must give what the sequential parse gives.
pub fn sumo_fcd(data: &[u8]) {
    for geo in [false, true] {
        let whole = trace::parse_sumo_fcd(Cursor::new(data), INPUT, geo);
        for parts in [2, 3] {
            let split = trace::parse_sumo_fcd_in_parts(data, INPUT, geo, parts);
            assert_eq!(
                split.as_ref().map_err(|e| e.to_string()),
                whole.as_ref().map_err(|e| e.to_string()),
                "{parts} pieces differ from the sequential parse"
            );
        }
        trace_result(whole);
    }
}

/// BonnMotion `.movements`.
pub fn bonnmotion(data: &[u8]) {
    trace_result(trace::parse_bonnmotion(Cursor::new(data), INPUT));
}

/// Trace CSV (`t,id,x,y` or `t,id,lat,lon`).
pub fn trace_csv(data: &[u8]) {
    trace_result(trace::parse_csv(Cursor::new(data), INPUT));
}

/// A site file (EUA-style CSV with LATITUDE, LONGITUDE).
pub fn site_csv(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match crate::geo::parse_sites_csv(text, INPUT) {
        Ok(sites) => assert!(sites.iter().all(|&(la, lo)| la.abs() <= 90.0 && lo.abs() <= 180.0)),
        Err(e) => check_error(&e),
    }
}
