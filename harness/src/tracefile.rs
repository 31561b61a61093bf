//! Canonical trace files (Parquet: terminal, id, t_s, x_m, y_m, origin_lat,
//! origin_lon) and CSV export; `edgebench trace import|gen|info`.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use anyhow::{Context as _, Result};
use polars::prelude::*;
use rayon::prelude::*;

use scenarios::schema::{MobilityModel, ScenarioConfig};
use scenarios::trace::{self, RawRecord, RawTrace, TraceFormat};
use scenarios::ConfigError;

use crate::error::BadInput;

fn is_parquet(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"PAR1"
}

/// Load any trace: canonical Parquet, or a format `scenarios::trace` reads.
pub fn load_trace(path: &Path, format: Option<TraceFormat>, geo: bool) -> Result<RawTrace, ConfigError> {
    if format.is_none() && is_parquet(path) {
        read_parquet_trace(path)
    } else {
        trace::import(path, format, geo)
    }
}

fn bad_file(path: &Path, m: impl Into<String>) -> ConfigError {
    ConfigError::File { path: path.display().to_string(), message: m.into() }
}

pub fn read_parquet_trace(path: &Path) -> Result<RawTrace, ConfigError> {
    crate::parquet_check::check_path(path).map_err(|m| bad_file(path, format!("not a readable Parquet file: {m}")))?;
    let file = File::open(path).map_err(|e| bad_file(path, format!("cannot read trace: {e}")))?;
    parquet_trace(file, path)
}

/// [`read_parquet_trace`] of bytes held in memory; `name` names them in errors.
pub fn parquet_trace_bytes(data: &[u8], name: &Path) -> Result<RawTrace, ConfigError> {
    crate::parquet_check::check(data).map_err(|m| bad_file(name, format!("not a readable Parquet file: {m}")))?;
    parquet_trace(std::io::Cursor::new(data), name)
}

/// Reading and then taking the columns apart, both of which polars may
/// panic on for a corrupt file (found by the `trace_file` fuzz target: a
/// footer it cannot decode, columns of another length than the frame):
/// such a panic is bad input like any other unreadable file.
fn parquet_trace(reader: impl polars::io::mmap::MmapBytesReader, path: &Path) -> Result<RawTrace, ConfigError> {
    crate::error::catch_reader_panic(|| parquet_trace_columns(reader, path))
        .map_err(|m| bad_file(path, format!("not a readable Parquet file ({m})")))?
}

fn parquet_trace_columns(reader: impl polars::io::mmap::MmapBytesReader, path: &Path) -> Result<RawTrace, ConfigError> {
    let df =
        ParquetReader::new(reader).finish().map_err(|e| bad_file(path, format!("not a readable Parquet file: {e}")))?;
    let col = |name: &str, dt: &DataType| -> Result<Column, ConfigError> {
        df.column(name)
            .map_err(|_| {
                bad_file(path, format!("missing column `{name}`; a canonical trace has terminal, id, t_s, x_m, y_m"))
            })?
            .cast(dt)
            .map_err(|e| bad_file(path, format!("column `{name}`: {e}")))
    };
    let term = col("terminal", &DataType::UInt32)?;
    let ids = col("id", &DataType::String)?;
    let t = col("t_s", &DataType::Float64)?;
    let x = col("x_m", &DataType::Float64)?;
    let y = col("y_m", &DataType::Float64)?;
    let (term, ids, t, x, y) = (
        term.u32().expect("cast"),
        ids.str().expect("cast"),
        t.f64().expect("cast"),
        x.f64().expect("cast"),
        y.f64().expect("cast"),
    );
    let origin = match (df.column("origin_lat"), df.column("origin_lon")) {
        (Ok(a), Ok(b)) => {
            let a = a.cast(&DataType::Float64).ok().and_then(|c| c.f64().ok().and_then(|c| c.get(0)));
            let b = b.cast(&DataType::Float64).ok().and_then(|c| c.f64().ok().and_then(|c| c.get(0)));
            a.zip(b)
        }
        _ => None,
    };
    let mut names: Vec<String> = Vec::new();
    let mut records = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let row_err = |m: &str| ConfigError::Line {
            path: path.display().to_string(),
            line: i + 1,
            message: format!("row {}: {m}", i + 1),
        };
        let k = term.get(i).ok_or_else(|| row_err("terminal is null"))?;
        let (tt, xx, yy) = (t.get(i).unwrap_or(f64::NAN), x.get(i).unwrap_or(f64::NAN), y.get(i).unwrap_or(f64::NAN));
        if !tt.is_finite()
            || !xx.is_finite()
            || !yy.is_finite()
            || xx.abs() > trace::MAX_COORD_M
            || yy.abs() > trace::MAX_COORD_M
        {
            return Err(row_err("t_s, x_m and y_m must be finite and within ±1e7"));
        }
        if k as usize >= names.len() {
            if k as usize > names.len() {
                return Err(row_err("terminals must be numbered 0, 1, 2, ... in order"));
            }
            names.push(ids.get(i).unwrap_or("").to_string());
        }
        records.push(RawRecord { terminal: k, t: tt, x: xx, y: yy });
    }
    if records.is_empty() {
        return Err(bad_file(path, "no trace records"));
    }
    records.sort_by(|a, b| a.terminal.cmp(&b.terminal).then(a.t.total_cmp(&b.t)));
    Ok(RawTrace { ids: names, records, origin })
}

pub fn write_parquet_trace(raw: &RawTrace, path: &Path) -> Result<()> {
    let n = raw.records.len();
    let r = &raw.records;
    let (lat, lon) = raw.origin.map_or((None, None), |(a, b)| (Some(a), Some(b)));
    // Built on every core: a million-record import spends a tenth of its time here.
    type Build<'a> = &'a (dyn Fn() -> Column + Sync);
    let builds: [Build<'_>; 7] = [
        &|| Column::new("terminal".into(), r.iter().map(|r| r.terminal).collect::<Vec<_>>()),
        &|| Column::new("id".into(), r.iter().map(|r| raw.ids[r.terminal as usize].as_str()).collect::<Vec<_>>()),
        &|| Column::new("t_s".into(), r.iter().map(|r| r.t).collect::<Vec<_>>()),
        &|| Column::new("x_m".into(), r.iter().map(|r| r.x).collect::<Vec<_>>()),
        &|| Column::new("y_m".into(), r.iter().map(|r| r.y).collect::<Vec<_>>()),
        &|| Column::new("origin_lat".into(), vec![lat; n]),
        &|| Column::new("origin_lon".into(), vec![lon; n]),
    ];
    let cols: Vec<Column> = builds.par_iter().map(|build| build()).collect();
    let mut df = DataFrame::new(n, cols)?;
    crate::frames::write_parquet(&mut df, path)
}

/// CSV `t,id,x,y` (metres), or `t,id,lat,lon` for a trace with a geographic
/// origin; gzipped when `gzip`. Values with 1 µm / 1e-9° precision; ids
/// quoted as RFC 4180 asks (the `csv` crate), so any id survives the round trip.
pub fn write_csv_trace(raw: &RawTrace, path: &Path, gzip: bool) -> Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let sink: Box<dyn Write> = if gzip {
        Box::new(BufWriter::new(flate2::write::GzEncoder::new(file, flate2::Compression::default())))
    } else {
        Box::new(BufWriter::new(file))
    };
    let mut w = csv::Writer::from_writer(sink);
    let written = (|| -> csv::Result<()> {
        match raw.origin {
            None => {
                w.write_record(["t", "id", "x", "y"])?;
                for r in &raw.records {
                    let id = &raw.ids[r.terminal as usize];
                    w.write_record([&r.t.to_string(), id, &format!("{:.6}", r.x), &format!("{:.6}", r.y)])?;
                }
            }
            Some(o) => {
                w.write_record(["t", "id", "lat", "lon"])?;
                for r in &raw.records {
                    let (la, lo) = trace::unproject(r.x, r.y, o);
                    let id = &raw.ids[r.terminal as usize];
                    w.write_record([&r.t.to_string(), id, &format!("{la:.10}"), &format!("{lo:.10}")])?;
                }
            }
        }
        w.flush()?;
        Ok(())
    })();
    written.with_context(|| format!("writing {}", path.display()))?;
    // The gzip stream ends when the writer is dropped; flush it first so a failure is reported.
    let mut sink = w.into_inner().map_err(|e| anyhow::anyhow!("writing {}: {}", path.display(), e.error()))?;
    sink.flush().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Write by extension: `.parquet` canonical, `.csv` / `.csv.gz` CSV.
pub fn write_trace(raw: &RawTrace, out: &Path) -> Result<()> {
    let name = out.to_string_lossy();
    // Write next to the target, then rename: no half-written trace under the final name.
    let tmp = out.with_file_name(format!(
        ".{}.tmp-{}",
        out.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
        std::process::id()
    ));
    let res = if name.ends_with(".parquet") {
        write_parquet_trace(raw, &tmp)
    } else if name.ends_with(".csv") || name.ends_with(".csv.gz") {
        write_csv_trace(raw, &tmp, name.ends_with(".gz"))
    } else {
        return Err(BadInput(format!("-o {name}: expected a name ending in .parquet, .csv or .csv.gz")).into());
    };
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, out).with_context(|| format!("renaming into {}", out.display()))?;
    Ok(())
}

/// Summary statistics of a trace (`edgebench trace info`).
pub struct TraceInfo {
    pub terminals: usize,
    pub records: usize,
    pub duration_s: f64,
    pub bbox: [f64; 4],
    pub speed_mean: f64,
    pub speed_p95: f64,
    pub present_share: f64,
    pub slots: usize,
}

pub fn info(raw: &RawTrace, slot_s: f64) -> TraceInfo {
    let mut speeds = Vec::new();
    for recs in raw.by_terminal() {
        for w in recs.windows(2) {
            let dt = w[1].t - w[0].t;
            if dt > 0.0 {
                speeds.push(((w[1].x - w[0].x).powi(2) + (w[1].y - w[0].y).powi(2)).sqrt() / dt);
            }
        }
    }
    let (t0, t1) = raw.time_span();
    // Counted, not resampled: a two-record file spanning 10⁹ s must not
    // allocate a 10⁹-slot grid. A terminal is present at the slot times
    // t0 + k·slot_s between its first and last record (as `resample` has it).
    let slots = ((t1 - t0) / slot_s + 1e-9).floor() as usize + 1;
    let present: f64 = raw
        .by_terminal()
        .iter()
        .filter(|recs| !recs.is_empty())
        .map(|recs| {
            let first = ((recs[0].t - t0) / slot_s - 1e-9).ceil().max(0.0);
            let last = ((recs[recs.len() - 1].t - t0) / slot_s + 1e-9).floor().min((slots - 1) as f64);
            (last - first + 1.0).max(0.0)
        })
        .sum();
    TraceInfo {
        terminals: raw.ids.len(),
        records: raw.records.len(),
        duration_s: t1 - t0,
        bbox: raw.bbox(),
        speed_mean: if speeds.is_empty() { f64::NAN } else { speeds.iter().sum::<f64>() / speeds.len() as f64 },
        speed_p95: scenarios::metrics::percentile(&speeds, 0.95),
        present_share: present / (slots * raw.ids.len()).max(1) as f64,
        slots,
    }
}

/// Parameters of `edgebench trace gen`.
pub struct GenArgs {
    pub model: MobilityModel,
    pub terminals: usize,
    pub slots: usize,
    pub slot_s: f64,
    pub seed: u64,
    pub area: [f64; 2],
    pub speed: Option<[f64; 2]>,
    pub pause: Option<[f64; 2]>,
    pub alpha: Option<f64>,
    pub block: Option<f64>,
    pub turn_prob: Option<f64>,
}

/// Generate a trace with a built-in model; parameters are checked like a scenario's.
pub fn generate(a: &GenArgs) -> Result<RawTrace, BadInput> {
    let mut c = ScenarioConfig::default();
    c.mobility.model = a.model;
    c.terminals.count = a.terminals;
    c.slots = a.slots;
    c.slot_s = a.slot_s;
    c.area_m = a.area;
    if let Some(v) = a.speed {
        c.mobility.speed_mps = v;
    }
    if let Some(v) = a.pause {
        c.mobility.pause_s = v;
    }
    if let Some(v) = a.alpha {
        c.mobility.gm_alpha = v;
    }
    if let Some(v) = a.block {
        c.mobility.block_m = v;
    }
    if let Some(v) = a.turn_prob {
        c.mobility.turn_prob = v;
    }
    let s = c.validate("trace gen", None)?;
    let t = scenarios::mobility::generate(
        &mut scenarios::rng::stream(a.seed, "mobility"),
        &s.config().mobility,
        s.area(),
        a.terminals,
        a.slots,
        a.slot_s,
    );
    Ok(RawTrace::from_trace(&t, a.slot_s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, rng_seed: proptest::test_runner::RngSeed::Fixed(0xc5f1), failure_persistence: None, ..ProptestConfig::default() })]

        /// `info` counts the slots and the terminals' presence without
        /// resampling: the same figures as the resampled grid.
        #[test]
        fn info_counts_what_resampling_would_give(
            spans in proptest::collection::vec((0u32..40, 0u32..40), 1..5),
            slot_s in prop_oneof![Just(0.5), Just(1.0), Just(0.3), Just(2.0)],
        ) {
            let records: Vec<RawRecord> = spans
                .iter()
                .enumerate()
                .flat_map(|(u, &(a, len))| {
                    [a, a + len / 2, a + len].into_iter().map(move |t| RawRecord { terminal: u as u32, t: t as f64 * 0.25, x: 1.0, y: 2.0 })
                })
                .collect();
            let raw = RawTrace { ids: (0..spans.len()).map(|u| format!("t{u}")).collect(), records, origin: None };
            let grid = raw.resample(slot_s, None);
            let i = info(&raw, slot_s);
            prop_assert_eq!(i.slots, grid.slots);
            let present = grid.present.iter().filter(|&&p| p).count() as f64 / grid.present.len() as f64;
            prop_assert!((i.present_share - present).abs() < 1e-12, "{} vs {}", i.present_share, present);
        }

        /// Any id (commas, quotes, non-ASCII; ids are trimmed, so none
        /// starts or ends with a space) survives CSV → import, positions to
        /// the written 1 µm, times exactly.
        #[test]
        fn csv_traces_round_trip_whatever_the_ids(
            ids in proptest::collection::btree_set("[a-zA-Z0-9é北\",;'](?:[a-zA-Z0-9é北\",;' ]{0,6}[a-zA-Z0-9é北\",;'])?", 1..6),
            steps in 1usize..4,
            gzip in any::<bool>(),
        ) {
            let ids: Vec<String> = ids.into_iter().collect();
            let records: Vec<RawRecord> = (0..ids.len() as u32)
                .flat_map(|u| (0..steps).map(move |k| RawRecord { terminal: u, t: k as f64 * 0.5, x: 1.25 * u as f64 - 3.0, y: k as f64 / 3.0 }))
                .collect();
            let raw = RawTrace { ids: ids.clone(), records, origin: None };
            let d = tempfile::tempdir().unwrap();
            let path = d.path().join(if gzip { "t.csv.gz" } else { "t.csv" });
            write_csv_trace(&raw, &path, gzip).unwrap();
            let back = load_trace(&path, None, false).unwrap();
            prop_assert_eq!(&back.ids, &ids);
            prop_assert_eq!(back.records.len(), raw.records.len());
            for (a, b) in back.records.iter().zip(&raw.records) {
                prop_assert_eq!(a.terminal, b.terminal);
                prop_assert_eq!(a.t, b.t);
                prop_assert!((a.x - b.x).abs() <= 1e-6 && (a.y - b.y).abs() <= 1e-6, "{:?} vs {:?}", (a.x, a.y), (b.x, b.y));
            }
        }
    }
}
