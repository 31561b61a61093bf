//! Error kinds of the binary and their exit codes.

/// Bad input from the user (file, field, CLI value): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

impl From<scenarios::ConfigError> for BadInput {
    fn from(e: scenarios::ConfigError) -> Self {
        BadInput(e.to_string())
    }
}

/// Exit codes documented in `edgebench --help` and the README.
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;

/// Map an error to its exit code.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    if e.chain().any(|c| c.downcast_ref::<BadInput>().is_some() || c.downcast_ref::<scenarios::ConfigError>().is_some())
    {
        EXIT_BAD_INPUT
    } else {
        EXIT_FAILURE
    }
}
