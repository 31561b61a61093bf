//! The DPPO agent (issue 5): one policy shared by every terminal, trained by
//! distributed PPO. Features and decoding are plain Rust; the network,
//! training and checkpoints use tch (feature `dppo`).
//!
//! - [`features`]: rows the network sees (option, cut, cache, value rows);
//! - [`decode`]: logits → a decision that passes the simulator's validation;
//! - `net`, `agent`, `checkpoint`, `policy`: the tch parts inference needs;
//!   `ppo` (training) and `hyper` (its settings, which a checkpoint records)
//!   on top. Nothing inference needs imports `ppo`.

pub mod decode;
pub mod features;

#[cfg(feature = "dppo")]
pub mod agent;
#[cfg(feature = "dppo")]
mod alloc;
#[cfg(feature = "dppo")]
pub mod checkpoint;
#[cfg(feature = "dppo")]
pub mod hyper;
#[cfg(feature = "dppo")]
pub mod net;
#[cfg(feature = "dppo")]
mod policy;
#[cfg(feature = "dppo")]
pub mod ppo;
#[cfg(feature = "dppo")]
pub use policy::{shipped_checkpoint, shipped_named, shipped_names, CheckpointSource, Dppo, Shipped};

/// Errors of the agent. `BadCheckpoint` and `Config` are bad input (exit 2),
/// shown on one line whatever they quote from the file.
#[derive(Debug, thiserror::Error)]
pub enum DppoError {
    #[error("checkpoint {}", scenarios::error::one_line(.0))]
    BadCheckpoint(String),
    #[error("training settings: {}", scenarios::error::one_line(.0))]
    Config(String),
    #[error("dppo: {0}")]
    Internal(String),
}
