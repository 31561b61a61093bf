//! edgebench's world model: scenario config and validation, topology, DNN
//! catalogue, radio, mobility, task draws, the simulator, metrics and the
//! `Policy` trait. Pure and deterministic given (config, seed); it performs
//! no I/O beyond reading the files a scenario names.

pub mod catalogue;
pub mod config;
pub mod error;
pub mod family;
pub mod fuzz;
pub mod geo;
pub mod metrics;
pub mod mobility;
pub mod policy;
pub mod presets;
pub mod radio;
pub mod rng;
pub mod schema;
pub mod sim;
pub mod topology;
pub mod trace;
pub mod workload;
pub mod world;

pub use catalogue::{Catalogue, DnnModel, ModelId};
pub use config::Scenario;
pub use error::{ConfigError, InvalidDecision, Rule};
pub use metrics::{MetricsAccumulator, Summary};
pub use policy::{Policy, PolicyError};
pub use schema::ScenarioConfig;
pub use sim::{Action, CacheEntry, Decision, Observation, SimState, Simulator, SlotOutcome, TaskOutcome, TaskView};
pub use world::{Environment, Node, World};
