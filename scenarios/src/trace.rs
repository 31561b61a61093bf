//! Mobility-trace import: SUMO FCD XML, BonnMotion `.movements(.gz)`, CSV of
//! `t,id,x,y` or `t,id,lat,lon`; all into one canonical [`RawTrace`]
//! (terminal, time, x, y in metres), and resampling onto the slot grid.
//!
//! Parsers stream their input: memory grows with the records kept, not with
//! the file. Every error names the file and the line.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use quick_xml::events::Event;

use crate::error::{csv_error, csv_header, line_err, ConfigError};
use crate::geo::{project, EARTH_RADIUS_M};

/// Positions on the slot grid. `present[t·U + u]` is false where a terminal is
/// absent from the trace (it is then inactive in that slot).
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub slots: usize,
    pub terminals: usize,
    pub pos: Vec<[f64; 2]>,
    pub present: Vec<bool>,
}

impl Trace {
    /// The terminals `keep` (indices, in the order given) of this trace.
    pub fn subset(&self, keep: &[usize]) -> Trace {
        let u_n = self.terminals;
        let rows = 0..self.slots;
        Trace {
            slots: self.slots,
            terminals: keep.len(),
            pos: rows.clone().flat_map(|k| keep.iter().map(move |&u| self.pos[k * u_n + u])).collect(),
            present: rows.flat_map(|k| keep.iter().map(move |&u| self.present[k * u_n + u])).collect(),
        }
    }

    /// Whether terminal `u` is present in any slot.
    pub fn ever_present(&self, u: usize) -> bool {
        (0..self.slots).any(|k| self.is_present(k, u))
    }

    pub fn position(&self, slot: usize, terminal: usize) -> [f64; 2] {
        self.pos[slot * self.terminals + terminal]
    }
    pub fn is_present(&self, slot: usize, terminal: usize) -> bool {
        self.present[slot * self.terminals + terminal]
    }
    /// Velocity seen at the start of `slot`: displacement over the previous slot
    /// (zero at slot 0 or after an absence).
    pub fn velocity(&self, slot: usize, terminal: usize, slot_s: f64) -> [f64; 2] {
        if slot == 0 || !self.is_present(slot - 1, terminal) {
            return [0.0, 0.0];
        }
        let a = self.position(slot - 1, terminal);
        let b = self.position(slot, terminal);
        [(b[0] - a[0]) / slot_s, (b[1] - a[1]) / slot_s]
    }
}

/// Largest coordinate accepted, metres (the local plane is a city or a region, not a planet).
pub const MAX_COORD_M: f64 = 1e7;
/// Largest time accepted, seconds.
pub const MAX_TIME_S: f64 = 1e9;

/// A trace file's format. Its names ([`TraceFormat::name`], and nowhere
/// else) are the CLI's `--format` / `--trace-format` values (through
/// `clap::ValueEnum`) and a scenario file's `mobility.trace_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    SumoFcd,
    BonnMotion,
    Csv,
}

impl TraceFormat {
    pub const ALL: [TraceFormat; 3] = [TraceFormat::SumoFcd, TraceFormat::BonnMotion, TraceFormat::Csv];
    pub fn parse(s: &str) -> Option<TraceFormat> {
        TraceFormat::ALL.into_iter().find(|f| f.name() == s)
    }
    pub fn name(self) -> &'static str {
        match self {
            TraceFormat::SumoFcd => "sumo-fcd",
            TraceFormat::BonnMotion => "bonnmotion",
            TraceFormat::Csv => "csv",
        }
    }
    /// Every name, for messages: "sumo-fcd, bonnmotion, csv".
    pub fn names() -> String {
        TraceFormat::ALL.map(TraceFormat::name).join(", ")
    }
}

impl clap::ValueEnum for TraceFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &TraceFormat::ALL
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()))
    }
}

/// `mobility.trace_format` in a scenario file: a format's name, or "" (the
/// default) to guess it from the content; serialised the same way, so that a
/// scenario's TOML (and its hash) is what it was when the field was a string.
pub mod format_or_guess {
    use super::TraceFormat;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(f: &Option<TraceFormat>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(f.map_or("", TraceFormat::name))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TraceFormat>, D::Error> {
        let name = String::deserialize(d)?;
        if name.is_empty() {
            return Ok(None);
        }
        TraceFormat::parse(&name).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown trace format `{name}`: expected {}, or \"\" to guess",
                TraceFormat::names()
            ))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawRecord {
    pub terminal: u32,
    pub t: f64,
    pub x: f64,
    pub y: f64,
}

/// The canonical trace: records sorted by (terminal, time), positions in
/// metres. `origin` is the (lat, lon) the plane is projected about, for traces
/// that came in geographic coordinates (so real sites can be projected onto
/// the same plane).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawTrace {
    pub ids: Vec<String>,
    pub records: Vec<RawRecord>,
    pub origin: Option<(f64, f64)>,
}

fn file_err(path: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::File { path: path.to_string(), message: message.into() }
}

/// Open a file, transparently un-gzipping it (gzip magic bytes).
pub fn open_maybe_gz(path: &Path) -> Result<Box<dyn BufRead>, ConfigError> {
    let name = path.display().to_string();
    let f = File::open(path).map_err(|e| file_err(&name, format!("cannot read trace: {e}")))?;
    maybe_gz(f, &name)
}

/// `input`, un-gzipped when it starts with gzip's magic bytes (peeked through the buffer).
fn maybe_gz<'a>(input: impl Read + 'a, name: &str) -> Result<Box<dyn BufRead + 'a>, ConfigError> {
    let mut r = BufReader::with_capacity(1 << 16, input);
    let gz = is_gzip(r.fill_buf().map_err(|e| file_err(name, format!("cannot read trace: {e}")))?);
    Ok(unzipped(r, gz))
}

fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

fn unzipped<'a>(r: impl BufRead + 'a, gz: bool) -> Box<dyn BufRead + 'a> {
    if gz {
        Box::new(BufReader::with_capacity(1 << 16, flate2::read::MultiGzDecoder::new(r)))
    } else {
        Box::new(r)
    }
}

/// Guess a format from the first kilobytes of (decompressed) content.
pub fn guess_format(head: &[u8]) -> Option<TraceFormat> {
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('<') {
        return (t.contains("<fcd-export") || t.contains("<timestep")).then_some(TraceFormat::SumoFcd);
    }
    let first = t.lines().next().unwrap_or("");
    if first.contains(',') && first.chars().any(|c| c.is_ascii_alphabetic()) {
        return Some(TraceFormat::Csv);
    }
    let numeric = |l: &str| l.split_whitespace().all(|w| w.parse::<f64>().is_ok()) && l.split_whitespace().count() >= 3;
    if !first.is_empty() && numeric(first) {
        return Some(TraceFormat::BonnMotion);
    }
    None
}

/// Import a trace file. `format` None guesses it from the content. An
/// uncompressed SUMO FCD file is read whole and parsed on every core.
pub fn import(path: &Path, format: Option<TraceFormat>, geo: bool) -> Result<RawTrace, ConfigError> {
    let name = path.display().to_string();
    let cannot_read = |e: std::io::Error| file_err(&name, format!("cannot read trace: {e}"));
    let mut r = BufReader::with_capacity(1 << 16, File::open(path).map_err(cannot_read)?);
    let head = r.fill_buf().map_err(cannot_read)?;
    let gz = is_gzip(head);
    let fcd = Some(TraceFormat::SumoFcd);
    if gz || head.is_empty() || format.or_else(|| guess_format(head)) != fcd {
        return import_reader(unzipped(r, gz), &name, format, geo);
    }
    let mapped = map_file(r.get_ref());
    let mut read = Vec::new();
    let data: &[u8] = match &mapped {
        Some(map) => map,
        // Not mappable (a pipe): read it.
        None => {
            r.read_to_end(&mut read).map_err(cannot_read)?;
            &read
        }
    };
    let parts =
        if data.len() < PARALLEL_FCD_BYTES { 1 } else { std::thread::available_parallelism().map_or(1, |n| n.get()) };
    with_records(parse_sumo_fcd_in_parts(data, &name, geo, parts)?, &name, TraceFormat::SumoFcd)
}

/// The file mapped into memory and its pages read ahead, or `None` where it
/// cannot be (a pipe). Mapping a large FCD file instead of reading it saves
/// copying it and faulting in a buffer as large (about 0.1 s per 170 MB here).
#[allow(unsafe_code)]
fn map_file(file: &File) -> Option<memmap2::Mmap> {
    // SAFETY: the map is only read. A file truncated by another process
    // while it is parsed makes the reads past its new end fault (SIGBUS), as
    // polars' own mapped reads of Parquet files do; edgebench does not
    // write its inputs.
    unsafe { memmap2::MmapOptions::new().populate().map(file) }.ok()
}

/// A trace that has records, or the error that says it has none.
fn with_records(trace: RawTrace, name: &str, format: TraceFormat) -> Result<RawTrace, ConfigError> {
    if trace.records.is_empty() {
        return Err(line_err(name, 1, format!("no trace records (read as {})", format.name())));
    }
    Ok(trace)
}

/// [`import`] of a file's bytes held in memory; `name` names it in errors.
pub fn import_bytes(data: &[u8], name: &str, format: Option<TraceFormat>, geo: bool) -> Result<RawTrace, ConfigError> {
    import_reader(maybe_gz(data, name)?, name, format, geo)
}

fn import_reader(
    mut reader: Box<dyn BufRead + '_>,
    name: &str,
    format: Option<TraceFormat>,
    geo: bool,
) -> Result<RawTrace, ConfigError> {
    let format = match format {
        Some(f) => f,
        None => {
            let head = reader.fill_buf().map_err(|e| file_err(name, format!("cannot read trace: {e}")))?.to_vec();
            if head.is_empty() {
                return Err(line_err(name, 1, "empty file: no trace records"));
            }
            guess_format(&head).ok_or_else(|| {
                line_err(name, 1, "not a trace in a known format (SUMO FCD XML, BonnMotion, CSV with a t,id,x,y header); pass --format to force one")
            })?
        }
    };
    let trace = match format {
        TraceFormat::SumoFcd => parse_sumo_fcd(reader, name, geo),
        TraceFormat::BonnMotion => parse_bonnmotion(reader, name),
        TraceFormat::Csv => parse_csv(reader, name),
    }?;
    with_records(trace, name, format)
}

/// Collects records, maps ids to terminal numbers in order of first appearance,
/// and checks every value.
struct Builder {
    ids: Vec<String>,
    index: HashMap<String, u32>,
    records: Vec<RawRecord>,
    /// Records in degrees (lat, lon) waiting for projection.
    geo: bool,
}

impl Builder {
    fn new(geo: bool) -> Self {
        Builder { ids: Vec::new(), index: HashMap::new(), records: Vec::new(), geo }
    }

    fn terminal(&mut self, id: &str) -> u32 {
        if let Some(&k) = self.index.get(id) {
            return k;
        }
        let k = self.ids.len() as u32;
        self.ids.push(id.to_string());
        self.index.insert(id.to_string(), k);
        k
    }

    /// `a`, `b`: x and y in metres, or lat and lon in degrees when geographic.
    fn push(&mut self, path: &str, line: usize, id: &str, t: f64, a: f64, b: f64) -> Result<(), ConfigError> {
        if !t.is_finite() || t.abs() > MAX_TIME_S {
            return Err(line_err(
                path,
                line,
                format!("time {} is not a finite number of seconds within ±1e9", crate::error::shown(t)),
            ));
        }
        if self.geo {
            if !a.is_finite() || a.abs() > 90.0 || !b.is_finite() || b.abs() > 180.0 {
                return Err(line_err(
                    path,
                    line,
                    format!(
                        "latitude/longitude ({}, {}) outside [-90, 90] × [-180, 180]",
                        crate::error::shown(a),
                        crate::error::shown(b)
                    ),
                ));
            }
        } else if !a.is_finite() || !b.is_finite() || a.abs() > MAX_COORD_M || b.abs() > MAX_COORD_M {
            return Err(line_err(
                path,
                line,
                format!(
                    "coordinate ({}, {}) is not finite or outside ±1e7 m",
                    crate::error::shown(a),
                    crate::error::shown(b)
                ),
            ));
        }
        let terminal = self.terminal(id);
        self.records.push(RawRecord { terminal, t, x: a, y: b });
        Ok(())
    }

    /// Append the records of a builder that read the input after this one's
    /// (the same as pushing them here: ids keep their first appearance).
    fn absorb(&mut self, other: Builder) {
        let map: Vec<u32> = other.ids.iter().map(|id| self.terminal(id)).collect();
        self.records.extend(other.records.into_iter().map(|r| RawRecord { terminal: map[r.terminal as usize], ..r }));
    }

    fn finish(mut self) -> RawTrace {
        let origin = if self.geo && !self.records.is_empty() {
            let n = self.records.len() as f64;
            let lat0 = self.records.iter().map(|r| r.x).sum::<f64>() / n;
            let lon0 = self.records.iter().map(|r| r.y).sum::<f64>() / n;
            for r in &mut self.records {
                let p = project(r.x, r.y, (lat0, lon0));
                r.x = p[0];
                r.y = p[1];
            }
            Some((lat0, lon0))
        } else {
            None
        };
        // Stable sort: records of equal time keep file order (the last one wins in resampling).
        self.records.sort_by(|a, b| a.terminal.cmp(&b.terminal).then(a.t.total_cmp(&b.t)));
        RawTrace { ids: self.ids, records: self.records, origin }
    }
}

fn parse_f64(raw: &str, what: &str, path: &str, line: usize) -> Result<f64, ConfigError> {
    raw.trim().parse::<f64>().map_err(|_| line_err(path, line, format!("{what} `{}` is not a number", raw.trim())))
}

/// A reader that counts the line breaks it has handed out, so that a parse
/// error names its line without reading the input again (which may be a pipe
/// or bytes in memory).
struct LineCounter<R> {
    inner: R,
    newlines: usize,
    /// Off where no error will name a line (a piece of a parallel parse).
    counting: bool,
}

impl<R> LineCounter<R> {
    /// The 1-based line of the next byte to be read.
    fn line(&self) -> usize {
        self.newlines + 1
    }
}

impl<R: BufRead> Read for LineCounter<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        if self.counting {
            self.newlines += out[..n].iter().filter(|&&c| c == b'\n').count();
        }
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if amt > 0 && self.counting {
            if let Ok(buf) = self.inner.fill_buf() {
                self.newlines += buf[..amt.min(buf.len())].iter().filter(|&&c| c == b'\n').count();
            }
        }
        self.inner.consume(amt);
    }
}

/// SUMO FCD XML: `<timestep time>` holding `<vehicle>`, `<person>` and
/// `<container>` elements with `x`, `y` (metres), or `lon`, `lat` attributes
/// (or `x`, `y` holding lon/lat when `geo`, as `--fcd-output.geo` writes).
pub fn parse_sumo_fcd(reader: impl BufRead, path: &str, geo: bool) -> Result<RawTrace, ConfigError> {
    let mut st = FcdState::default();
    fcd_events(reader, path, geo, &mut st, true, true)?;
    Ok(st.b.unwrap_or_else(|| Builder::new(false)).finish())
}

/// Where an FCD event stream stands: the current timestep's time, the
/// records so far, whether the root was seen, the element depth.
#[derive(Default)]
struct FcdState {
    time: Option<f64>,
    b: Option<Builder>,
    saw_root: bool,
    depth: usize,
    /// The name of the element open at depth 1 (the root), when one is.
    root: Vec<u8>,
}

/// Read FCD events from `reader` into `st` until the input ends; `at_end`:
/// the input is the end of the document (checked: a root, nothing left open);
/// `lines`: count lines for error messages (else they name line 1).
fn fcd_events(
    reader: impl BufRead,
    path: &str,
    geo: bool,
    st: &mut FcdState,
    at_end: bool,
    lines: bool,
) -> Result<(), ConfigError> {
    let mut xml = quick_xml::Reader::from_reader(LineCounter { inner: reader, newlines: 0, counting: lines });
    let mut buf = Vec::with_capacity(1024);
    let FcdState { time, b, saw_root, depth, root } = st;
    let err_at = |line: usize, m: String| line_err(path, line, m);
    loop {
        // The line an event starts on (whitespace before an element is an event of its own).
        let pos = xml.get_ref().line();
        let ev =
            xml.read_event_into(&mut buf).map_err(|e| err_at(xml.get_ref().line(), format!("malformed XML: {e}")))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_start = matches!(ev, Event::Start(_));
                let name = e.name();
                match name.as_ref() {
                    b"fcd-export" => *saw_root = true,
                    b"timestep" => {
                        let mut t = None;
                        for a in e.attributes() {
                            let a = a.map_err(|e| err_at(pos, format!("malformed attribute: {e}")))?;
                            if a.key.as_ref() == b"time" {
                                let v =
                                    a.unescape_value().map_err(|e| err_at(pos, format!("malformed attribute: {e}")))?;
                                t = Some(
                                    parse_f64(&v, "timestep time", path, 0)
                                        .map_err(|_| err_at(pos, format!("timestep time `{v}` is not a number")))?,
                                );
                            }
                        }
                        *time = Some(t.ok_or_else(|| err_at(pos, "timestep without a time attribute".into()))?);
                    }
                    b"vehicle" | b"person" | b"container" => {
                        let t = time.ok_or_else(|| err_at(pos, "vehicle or person outside a timestep".into()))?;
                        // Hot path (a million records a second): attribute
                        // values are read in place, unescaped only when they
                        // hold an entity; unknown attributes are skipped
                        // unread; duplicates are not looked for (the last wins).
                        let (mut id, mut x, mut y, mut lon, mut lat) = (None, None, None, None, None);
                        for a in e.attributes().with_checks(false) {
                            let a = a.map_err(|e| err_at(pos, format!("malformed attribute: {e}")))?;
                            let slot = match a.key.as_ref() {
                                b"id" => &mut id,
                                b"x" => &mut x,
                                b"y" => &mut y,
                                b"lon" => &mut lon,
                                b"lat" => &mut lat,
                                _ => continue,
                            };
                            *slot = Some(a.value);
                        }
                        let id_raw = id.ok_or_else(|| err_at(pos, "element without an id".into()))?;
                        let id: Cow<'_, str> = match std::str::from_utf8(&id_raw) {
                            Ok(raw) if !raw.contains('&') => Cow::Borrowed(raw),
                            Ok(raw) => quick_xml::escape::unescape(raw)
                                .map(|c| Cow::Owned(c.into_owned()))
                                .map_err(|e| err_at(pos, format!("malformed attribute: {e}")))?,
                            Err(_) => return Err(err_at(pos, "element id is not UTF-8".into())),
                        };
                        let num = |v: Option<Cow<'_, [u8]>>, what: &str| -> Result<f64, ConfigError> {
                            let v = v.ok_or_else(|| err_at(pos, format!("element `{id}` has no {what}")))?;
                            let parsed = std::str::from_utf8(&v).ok().and_then(|s| s.trim().parse::<f64>().ok());
                            parsed.ok_or_else(|| {
                                err_at(pos, format!("{what} `{}` is not a number", String::from_utf8_lossy(&v)))
                            })
                        };
                        let (is_geo, a1, a2) = if lon.is_some() && lat.is_some() {
                            (true, num(lat, "lat")?, num(lon, "lon")?)
                        } else if geo {
                            (true, num(y, "y (latitude)")?, num(x, "x (longitude)")?)
                        } else {
                            (false, num(x, "x")?, num(y, "y")?)
                        };
                        let builder = b.get_or_insert_with(|| Builder::new(is_geo));
                        if builder.geo != is_geo {
                            return Err(err_at(pos, "mixes geographic and metric coordinates".into()));
                        }
                        builder.push(path, 0, &id, t, a1, a2).map_err(|e| match e {
                            ConfigError::Line { message, .. } => err_at(pos, message),
                            other => other,
                        })?;
                    }
                    _ => {}
                }
                if is_start {
                    *depth += 1;
                    if *depth == 1 {
                        *root = name.as_ref().to_vec();
                    }
                }
            }
            Event::End(_) => *depth = depth.saturating_sub(1),
            Event::Eof => {
                if !at_end {
                    break;
                }
                if !*saw_root {
                    return Err(line_err(path, 1, "not a SUMO FCD file: no <fcd-export> element"));
                }
                if *depth > 0 {
                    return Err(line_err(path, pos, "truncated XML: the file ends inside an element"));
                }
                break;
            }
            _ => {}
        }
        buf.clear();
    }
    Ok(())
}

/// Below this size an FCD file is parsed in one piece (threads cost more than they save).
const PARALLEL_FCD_BYTES: usize = 4 << 20;

/// [`parse_sumo_fcd`] of a whole file in memory, split into `parts` pieces
/// parsed on as many threads: the same trace, or the same error, as the
/// sequential parse (tested, and checked by the `sumo_fcd` fuzz target).
///
/// The cuts are at `<timestep` element starts, between timesteps; a piece
/// after the first is parsed inside a `<fcd-export>` of its own, so it
/// starts where the sequential parse stands there. Whenever that cannot be
/// known for sure (comments, CDATA or processing instructions past the
/// first timestep, a piece that does not end between timesteps, mixed
/// coordinate kinds) or any piece fails, the whole input is parsed
/// sequentially instead, which also gives the exact error and line.
pub fn parse_sumo_fcd_in_parts(data: &[u8], path: &str, geo: bool, parts: usize) -> Result<RawTrace, ConfigError> {
    let sequential = || parse_sumo_fcd(data, path, geo);
    if parts < 2 {
        return sequential();
    }
    let Some(first) = memchr::memmem::find(data, b"<timestep") else { return sequential() };
    if memchr::memmem::find(&data[first..], b"<!").is_some() || memchr::memmem::find(&data[first..], b"<?").is_some() {
        return sequential();
    }
    let mut cuts = vec![0];
    for k in 1..parts {
        let from = (data.len() * k / parts).max(first + 1).max(cuts[cuts.len() - 1] + 1);
        if from >= data.len() {
            break;
        }
        match memchr::memmem::find(&data[from..], b"<timestep") {
            Some(at) => cuts.push(from + at),
            None => break,
        }
    }
    cuts.push(data.len());
    let pieces: Vec<&[u8]> = cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect();
    let last = pieces.len() - 1;
    let states: Vec<Option<FcdState>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pieces
            .iter()
            .enumerate()
            .map(|(k, piece)| {
                scope.spawn(move || {
                    let mut st = FcdState::default();
                    // No lines counted: a piece's error is never shown (the
                    // whole input is then parsed sequentially).
                    let ok = if k == 0 {
                        fcd_events(*piece, path, geo, &mut st, k == last, false)
                    } else {
                        let rooted = std::io::Read::chain(&b"<fcd-export>"[..], *piece);
                        fcd_events(rooted, path, geo, &mut st, k == last, false)
                    };
                    // Every piece but the last must end between timesteps,
                    // inside an `fcd-export` root (the one the next piece is given).
                    let inside_root = st.depth == 1 && st.root == b"fcd-export";
                    (ok.is_ok() && (k == last || inside_root)).then_some(st)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(None)).collect()
    });
    let mut merged: Option<Builder> = None;
    for st in states {
        let Some(st) = st else { return sequential() };
        match (merged.as_mut(), st.b) {
            (_, None) => {}
            (None, Some(b)) => merged = Some(b),
            (Some(m), Some(b)) => {
                if m.geo != b.geo {
                    return sequential();
                }
                m.absorb(b);
            }
        }
    }
    Ok(merged.unwrap_or_else(|| Builder::new(false)).finish())
}

/// BonnMotion `.movements`: one line per node, `t1 x1 y1 t2 x2 y2 ...`.
pub fn parse_bonnmotion(reader: impl BufRead, path: &str) -> Result<RawTrace, ConfigError> {
    let mut b = Builder::new(false);
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| line_err(path, i + 1, format!("cannot read: {e}")))?;
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        if !words.len().is_multiple_of(3) {
            return Err(line_err(path, i + 1, format!("expected triples `t x y`, got {} numbers", words.len())));
        }
        let id = format!("node{i}");
        let mut last_t = f64::NEG_INFINITY;
        for w in words.chunks(3) {
            let t = parse_f64(w[0], "time", path, i + 1)?;
            if t < last_t {
                return Err(line_err(path, i + 1, format!("time {t} goes back (after {last_t})")));
            }
            last_t = t;
            b.push(path, i + 1, &id, t, parse_f64(w[1], "x", path, i + 1)?, parse_f64(w[2], "y", path, i + 1)?)?;
        }
    }
    Ok(b.finish())
}

/// CSV with a header: `t,id,x,y` (metres) or `t,id,lat,lon` (degrees), any
/// column order (`time` for `t` also accepted). RFC 4180 quoting (the `csv`
/// crate): an id may hold commas, quotes and line breaks.
pub fn parse_csv(reader: impl BufRead, path: &str) -> Result<RawTrace, ConfigError> {
    let mut rd = csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(reader);
    let csv_err = |e: csv::Error| csv_error(path, e);
    let header = csv_header(&mut rd, path)?;
    let shown = header.join(",");
    if header.iter().all(|c| c.is_empty()) {
        return Err(line_err(path, 1, "empty file: expected a CSV header t,id,x,y or t,id,lat,lon"));
    }
    let find = |names: &[&str]| header.iter().position(|c| names.contains(&c.as_str()));
    let (it, iid) = match (find(&["t", "time"]), find(&["id"])) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err(line_err(path, 1, format!("expected columns t and id in the header, got `{shown}`"))),
    };
    let (ia, ib, geo) = match (find(&["x"]), find(&["y"]), find(&["lat", "latitude"]), find(&["lon", "longitude"])) {
        (Some(x), Some(y), _, _) => (x, y, false),
        (_, _, Some(la), Some(lo)) => (la, lo, true),
        _ => return Err(line_err(path, 1, format!("expected columns x,y or lat,lon in the header, got `{shown}`"))),
    };
    let mut b = Builder::new(geo);
    let need = it.max(iid).max(ia).max(ib) + 1;
    let mut record = csv::StringRecord::new();
    loop {
        match rd.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(e)),
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        if record.len() < need {
            return Err(line_err(path, line, format!("expected {} fields, got {}", header.len(), record.len())));
        }
        let (wa, wb) = if geo { ("lat", "lon") } else { ("x", "y") };
        let t = parse_f64(&record[it], "t", path, line)?;
        let a = parse_f64(&record[ia], wa, path, line)?;
        let bb = parse_f64(&record[ib], wb, path, line)?;
        b.push(path, line, &record[iid], t, a, bb)?;
    }
    Ok(b.finish())
}

impl RawTrace {
    /// (min x, min y, max x, max y).
    pub fn bbox(&self) -> [f64; 4] {
        let mut bb = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
        for r in &self.records {
            bb = [bb[0].min(r.x), bb[1].min(r.y), bb[2].max(r.x), bb[3].max(r.y)];
        }
        bb
    }

    pub fn time_span(&self) -> (f64, f64) {
        self.records.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), r| (a.min(r.t), b.max(r.t)))
    }

    /// Shift every position by `(dx, dy)`.
    pub fn translate(&mut self, dx: f64, dy: f64) {
        for r in &mut self.records {
            r.x += dx;
            r.y += dy;
        }
    }

    /// Records of each terminal (the records are sorted by terminal).
    pub fn by_terminal(&self) -> Vec<&[RawRecord]> {
        let mut out = vec![&self.records[0..0]; self.ids.len()];
        let mut start = 0;
        while start < self.records.len() {
            let k = self.records[start].terminal;
            let end = start + self.records[start..].iter().take_while(|r| r.terminal == k).count();
            out[k as usize] = &self.records[start..end];
            start = end;
        }
        out
    }

    /// Resample onto the slot grid `t0 + k·slot_s`, k < `slots` (`t0` = the
    /// earliest record) by linear interpolation; a terminal is present at a
    /// slot only between its first and last record.
    pub fn resample(&self, slot_s: f64, slots: Option<usize>) -> Trace {
        self.resample_from(0.0, slot_s, slots)
    }

    /// [`Self::resample`] on the grid `t0 + offset_s + k·slot_s`: the trace replayed from `offset_s` on.
    pub fn resample_from(&self, offset_s: f64, slot_s: f64, slots: Option<usize>) -> Trace {
        let (first, t1) = self.time_span();
        let t0 = first + offset_s;
        let n_slots = slots.unwrap_or(((t1 - t0) / slot_s + 1e-9).floor() as usize + 1);
        let u_n = self.ids.len();
        let mut pos = vec![[0.0; 2]; n_slots * u_n];
        let mut present = vec![false; n_slots * u_n];
        for (u, recs) in self.by_terminal().into_iter().enumerate() {
            if recs.is_empty() {
                continue;
            }
            let mut j = 0;
            for k in 0..n_slots {
                let t = t0 + k as f64 * slot_s;
                if t < recs[0].t - 1e-9 {
                    continue;
                }
                if t > recs[recs.len() - 1].t + 1e-9 {
                    break;
                }
                // Advance to the last record at or before t.
                while j + 1 < recs.len() && recs[j + 1].t <= t + 1e-9 {
                    j += 1;
                }
                let a = recs[j];
                let p = if j + 1 < recs.len() && recs[j + 1].t > a.t && t > a.t {
                    let b = recs[j + 1];
                    let f = ((t - a.t) / (b.t - a.t)).clamp(0.0, 1.0);
                    [a.x + (b.x - a.x) * f, a.y + (b.y - a.y) * f]
                } else {
                    [a.x, a.y]
                };
                pos[k * u_n + u] = p;
                present[k * u_n + u] = true;
            }
        }
        Trace { slots: n_slots, terminals: u_n, pos, present }
    }

    /// A generated trace as canonical records at the slot times `k·slot_s`.
    pub fn from_trace(trace: &Trace, slot_s: f64) -> RawTrace {
        let mut records = Vec::with_capacity(trace.pos.len());
        for u in 0..trace.terminals {
            for k in 0..trace.slots {
                if trace.is_present(k, u) {
                    let p = trace.position(k, u);
                    records.push(RawRecord { terminal: u as u32, t: k as f64 * slot_s, x: p[0], y: p[1] });
                }
            }
        }
        RawTrace { ids: (0..trace.terminals).map(|u| format!("t{u}")).collect(), records, origin: None }
    }
}

/// Traces shipped with the project (`builtin:NAME`), made by `make traces`
/// with SUMO (see `scripts/make-traces.sh`) and stored as gzipped CSV.
const BUILTIN_TRACES: &[(&str, &[u8])] = &[
    ("vehicular", include_bytes!("../data/traces/vehicular.csv.gz")),
    ("pedestrian", include_bytes!("../data/traces/pedestrian.csv.gz")),
];

pub fn builtin_names() -> Vec<String> {
    BUILTIN_TRACES.iter().map(|(n, _)| format!("builtin:{n}")).collect()
}

/// A shipped trace by name; None when there is none of that name.
pub fn builtin(name: &str) -> Option<Result<RawTrace, ConfigError>> {
    let (_, bytes) = BUILTIN_TRACES.iter().find(|(n, _)| *n == name)?;
    let reader = BufReader::new(flate2::read::GzDecoder::new(*bytes));
    Some(parse_csv(reader, &format!("builtin:{name}")))
}

/// Inverse of the local projection (for CSV export in degrees).
pub fn unproject(x: f64, y: f64, origin: (f64, f64)) -> (f64, f64) {
    let (lat0, lon0) = origin;
    let lat = lat0 + (y / EARTH_RADIUS_M).to_degrees();
    let lon = lon0 + (x / (EARTH_RADIUS_M * lat0.to_radians().cos())).to_degrees();
    (lat, lon)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<RawTrace, ConfigError> {
        parse_csv(text.as_bytes(), "t.csv")
    }

    #[test]
    fn csv_metres_and_resampling() {
        let t = csv("t,id,x,y\n0,a,0,0\n2,a,20,10\n1,b,5,5\n").unwrap();
        assert_eq!(t.ids, ["a", "b"]);
        let r = t.resample(1.0, None);
        assert_eq!(r.slots, 3);
        assert_eq!(r.position(1, 0), [10.0, 5.0]);
        assert!(r.is_present(0, 0) && !r.is_present(0, 1) && r.is_present(1, 1) && !r.is_present(2, 1));
    }

    #[test]
    fn csv_lat_lon_is_projected_about_the_centroid() {
        let t = csv("time,id,lat,lon\n0,a,-37.81,144.96\n1,a,-37.82,144.96\n").unwrap();
        let (lat0, lon0) = t.origin.unwrap();
        assert!((lat0 + 37.815).abs() < 1e-12 && (lon0 - 144.96).abs() < 1e-12);
        assert!((t.records[0].y - 555.97).abs() < 0.1, "{:?}", t.records);
        let (la, lo) = unproject(t.records[1].x, t.records[1].y, (lat0, lon0));
        assert!((la + 37.82).abs() < 1e-9 && (lo - 144.96).abs() < 1e-9);
    }

    #[test]
    fn csv_errors_name_the_line() {
        for (text, line, word) in [
            ("t,id,x,y\n0,a,1,2\n1,a,nan,2\n", 3, "not finite"),
            ("t,id,x,y\n0,a,1,2\nabc,a,1,2\n", 3, "`abc`"),
            ("t,id,x,y\n0,a,1e12,2\n", 2, "±1e7"),
            ("t,id,x,y\n0,a,1\n", 2, "fields"),
            ("a,b,c\n1,2,3\n", 1, "header"),
        ] {
            let e = csv(text).unwrap_err().to_string();
            assert!(e.starts_with(&format!("t.csv: line {line}:")) && e.contains(word), "{e}");
        }
    }

    #[test]
    fn bonnmotion_lines_are_nodes() {
        let t = parse_bonnmotion("0 0 0 10 100 0\n0 5 5 10 5 5\n".as_bytes(), "m").unwrap();
        assert_eq!(t.ids.len(), 2);
        let r = t.resample(1.0, None);
        assert_eq!(r.slots, 11);
        assert_eq!(r.position(3, 0), [30.0, 0.0]);
        let e = parse_bonnmotion("0 0 0 10 1\n".as_bytes(), "m").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn sumo_fcd_vehicles_and_persons() {
        let xml = r#"<?xml version="1.0"?>
<fcd-export>
  <timestep time="0.00">
    <vehicle id="v0" x="10.5" y="20.0" angle="0" type="car" speed="0"/>
    <person id="p0" x="1.0" y="2.0"/>
  </timestep>
  <timestep time="1.00">
    <vehicle id="v0" x="20.5" y="20.0"/>
  </timestep>
</fcd-export>
"#;
        let t = parse_sumo_fcd(xml.as_bytes(), "f.xml", false).unwrap();
        assert_eq!(t.ids, ["v0", "p0"]);
        assert_eq!(t.records.len(), 3);
        assert_eq!(t.records[1], RawRecord { terminal: 0, t: 1.0, x: 20.5, y: 20.0 });
    }

    /// Errors name the line the element starts on, for bytes in memory as
    /// for files, and quote a value's control characters escaped (found by
    /// the `sumo_fcd` fuzz target: a `\r` split the message, the line was 0).
    #[test]
    fn sumo_fcd_errors_name_the_line_and_stay_one_line() {
        let xml = "<fcd-export>\n<timestep time=\"0\">\n<vehicle id=\"a\" x=\"1\" y=\"2\"/>\n\
                   <vehicle id=\"b\" x=\"1\r\0.5\" y=\"2\"/>\n</timestep>\n</fcd-export>\n";
        let e = parse_sumo_fcd(xml.as_bytes(), "f.xml", false).unwrap_err().to_string();
        assert_eq!(e, "f.xml: line 4: x `1\\r\\u{0}.5` is not a number");
        let e = import_bytes(b"<fcd-export>\n<timestep time=\"0\">\n<vehicle x=\"1\"/>", "g.xml", None, false);
        assert_eq!(e.unwrap_err().to_string(), "g.xml: line 3: element without an id");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, rng_seed: proptest::test_runner::RngSeed::Fixed(0xfcd), failure_persistence: None, ..Default::default() })]

        /// An FCD document parsed in pieces gives what one parse gives: the
        /// same trace, or the same error at the same line (well-formed
        /// documents, documents cut short, comments, coordinate kinds mixed).
        #[test]
        fn fcd_in_pieces_equals_fcd_in_one(
            steps in proptest::collection::vec(proptest::collection::vec((0u8..6, -50i32..50, -50i32..50, 0u8..20), 0..5), 1..12),
            cut in proptest::option::of(0usize..2000),
            parts in 2usize..5,
        ) {
            let mut xml = String::from("<?xml version=\"1.0\"?>\n<!-- generated -->\n<fcd-export>\n");
            for (k, step) in steps.iter().enumerate() {
                xml += &format!("  <timestep time=\"{k}.00\">\n");
                for &(id, x, y, kind) in step {
                    xml += &match kind {
                        0 => format!("    <vehicle id=\"v{id}\" x=\"{}\" y=\"{}\" lon=\"144.9\" lat=\"-37.8\"/>\n", x, y),
                        1 => format!("    <!-- <timestep time=\"9\"> -->\n    <vehicle id=\"v{id}\" x=\"{x}\" y=\"{y}\"/>\n"),
                        2 => format!("    <vehicle id=\"v{id}\" x=\"{x}.5.5\" y=\"{y}\"/>\n"),
                        3 => format!("    <person id=\"p&amp;{id}\" x=\"{x}\" y=\"{y}\" angle=\"0\" speed=\"1.2\"/>\n"),
                        _ => format!("    <vehicle id=\"v{id}\" x=\"{x}\" y=\"{y}\" angle=\"90\" type=\"car\" speed=\"3\" pos=\"1\" lane=\"a_0\" slope=\"0\"/>\n"),
                    };
                }
                xml += "  </timestep>\n";
            }
            xml += "</fcd-export>\n";
            let data = match cut { Some(c) if c < xml.len() => &xml.as_bytes()[..c], _ => xml.as_bytes() };
            let one = parse_sumo_fcd(data, "f.xml", false).map_err(|e| e.to_string());
            let pieces = parse_sumo_fcd_in_parts(data, "f.xml", false, parts).map_err(|e| e.to_string());
            proptest::prop_assert_eq!(pieces, one);
        }
    }

    #[test]
    fn format_guessing() {
        assert_eq!(guess_format(b"<?xml version='1.0'?>\n<fcd-export>"), Some(TraceFormat::SumoFcd));
        assert_eq!(guess_format(b"t,id,x,y\n"), Some(TraceFormat::Csv));
        assert_eq!(guess_format(b"0.0 1.0 2.0 3.0 4.0 5.0\n"), Some(TraceFormat::BonnMotion));
        assert_eq!(guess_format(b"hello world\n"), None);
        assert_eq!(guess_format(b"<html></html>"), None);
    }
}
