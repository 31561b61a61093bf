//! Error types of the world model. Every message is one line that names the
//! file (or preset) and the line or field at fault.

use std::io::Read;

use thiserror::Error;

/// Bad scenario input: the CLI maps every variant to exit code 2. Every
/// field is shown through [`one_line`]: a file name or value holding a line
/// break or other control character cannot split the message.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConfigError {
    #[error("{}: line {line}, column {col}: {}", one_line(.source_name), one_line(.message))]
    Parse { source_name: String, line: usize, col: usize, message: String },
    #[error("{}: field {}: {}", one_line(.source_name), one_line(.field), one_line(.message))]
    Field { source_name: String, field: String, message: String },
    #[error("{}: {}", one_line(.path), one_line(.message))]
    File { path: String, message: String },
    #[error("{}: line {line}: {}", one_line(.path), one_line(.message))]
    Line { path: String, line: usize, message: String },
    #[error("unknown preset `{}`; expected one of: {known} (or a path to a .toml file)", one_line(.name))]
    UnknownPreset { name: String, known: String },
}

/// `text` with every control character (line breaks, tabs, NUL, …) escaped
/// as Rust writes it (`\n`, `\u{0}`), so an error quoting outside input stays one line.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

impl ConfigError {
    pub fn field(source: &str, field: &str, message: impl Into<String>) -> Self {
        ConfigError::Field { source_name: source.into(), field: field.into(), message: message.into() }
    }
}

/// Which rule of the decision contract (spec section 4) a decision broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// One action per task of the observation.
    ActionCount,
    /// One cache set per node.
    CacheSetCount,
    /// Node index exists.
    NodeIndex,
    /// Model id exists in the catalogue.
    ModelId,
    /// The node is accessible to the task's terminal (SNR >= γ_min).
    Accessibility,
    /// Offload cut in 0..L_m-1.
    Cut,
    /// rb is an allowed level.
    RbLevel,
    /// cu is an allowed level.
    CuLevel,
    /// The model is in the node's cache set for this slot.
    CacheMembership,
    /// A model appears twice in one cache set.
    CacheDuplicate,
    /// Σ rb ≤ K_n.
    RbCapacity,
    /// Σ cu ≤ C_n.
    CuCapacity,
    /// Cache set fits S_n.
    CacheStorage,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::ActionCount => "action_count",
            Rule::CacheSetCount => "cache_set_count",
            Rule::NodeIndex => "node_index",
            Rule::ModelId => "model_id",
            Rule::Accessibility => "accessibility",
            Rule::Cut => "cut_range",
            Rule::RbLevel => "rb_level",
            Rule::CuLevel => "cu_level",
            Rule::CacheMembership => "cache_membership",
            Rule::CacheDuplicate => "cache_duplicate",
            Rule::RbCapacity => "rb_capacity",
            Rule::CuCapacity => "cu_capacity",
            Rule::CacheStorage => "cache_storage",
        }
    }
}

/// A decision the simulator refused.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("invalid decision at slot {slot}: rule `{}` violated: {detail}", rule.name())]
pub struct InvalidDecision {
    pub slot: usize,
    pub rule: Rule,
    pub detail: String,
}

/// A number as an error message shows it: in full below 1e9, in scientific
/// notation beyond (`{}` would print 1e300 as 301 digits).
pub(crate) fn shown(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e9 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// An error at a line of an input file.
pub(crate) fn line_err(path: &str, line: usize, message: impl Into<String>) -> ConfigError {
    ConfigError::Line { path: path.to_string(), line, message: message.into() }
}

/// A csv error as a one-line error naming the file and the line.
pub(crate) fn csv_error(path: &str, e: csv::Error) -> ConfigError {
    let line = e.position().map_or(1, |p| p.line() as usize);
    let what = match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!("invalid UTF-8 ({err})"),
        csv::ErrorKind::Io(e) => format!("cannot read ({e})"),
        other => format!("{other:?}").replace('\n', " "),
    };
    line_err(path, line, format!("not CSV: {what}"))
}

/// The header's column names, trimmed and lower-case, without a byte-order mark.
pub(crate) fn csv_header<R: Read>(rd: &mut csv::Reader<R>, path: &str) -> Result<Vec<String>, ConfigError> {
    Ok(rd
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .enumerate()
        .map(|(k, c)| if k == 0 { c.trim_start_matches('\u{feff}') } else { c }.trim().to_ascii_lowercase())
        .collect())
}
