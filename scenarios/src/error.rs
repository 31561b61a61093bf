//! Error types of the world model. Every message is one line that names the
//! file (or preset) and the line or field at fault.

use thiserror::Error;

/// Bad scenario input: the CLI maps every variant to exit code 2.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConfigError {
    #[error("{source_name}: line {line}, column {col}: {message}")]
    Parse { source_name: String, line: usize, col: usize, message: String },
    #[error("{source_name}: field {field}: {message}")]
    Field { source_name: String, field: String, message: String },
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{path}: line {line}: {message}")]
    Line { path: String, line: usize, message: String },
    #[error("unknown preset `{name}`; expected one of: {known} (or a path to a .toml file)")]
    UnknownPreset { name: String, known: String },
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
