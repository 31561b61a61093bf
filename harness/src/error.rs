//! Error kinds of the binary and their exit codes.

/// Bad input from the user (file, field, CLI value): exit code 2. Shown on
/// one line whatever the input it quotes holds.
#[derive(Debug, thiserror::Error)]
#[error("{}", scenarios::error::one_line(.0))]
pub struct BadInput(pub String);

impl From<scenarios::ConfigError> for BadInput {
    fn from(e: scenarios::ConfigError) -> Self {
        BadInput(e.to_string())
    }
}

/// A metric worse than its baseline's tolerance (`edgebench regress` only): exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Regression(pub String);

/// An error another MPI rank has printed; this rank exits with its code, silently.
#[derive(Debug, thiserror::Error)]
#[error("another rank failed (exit code {0})")]
pub struct ReportedElsewhere(pub i32);

/// Exit codes, a contract documented in `edgebench --help` and the README:
/// a CI job can tell a regression from bad input and from a crash.
pub const EXIT_OK: i32 = 0;
/// `regress` found a metric worse than its tolerance.
pub const EXIT_REGRESSION: i32 = 1;
/// Bad input: a file, field or CLI value (the message names it).
pub const EXIT_BAD_INPUT: i32 = 2;
/// Anything else: a policy error or invalid decision, an I/O error, a bound
/// above a policy's cost, a panic.
pub const EXIT_INTERNAL: i32 = 3;

/// Map an error to its exit code.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    if let Some(r) = e.chain().find_map(|c| c.downcast_ref::<ReportedElsewhere>()) {
        r.0
    } else if e
        .chain()
        .any(|c| c.downcast_ref::<BadInput>().is_some() || c.downcast_ref::<scenarios::ConfigError>().is_some())
    {
        EXIT_BAD_INPUT
    } else if e.chain().any(|c| c.downcast_ref::<Regression>().is_some()) {
        EXIT_REGRESSION
    } else {
        EXIT_INTERNAL
    }
}

/// Run a third-party reader that may panic on a malformed file (polars on a
/// corrupt Parquet footer: found by the `trace_file` fuzz target) and turn
/// its panic into an error message. The panic hook is silenced meanwhile, so
/// nothing is printed for a panic that becomes an ordinary error.
pub fn catch_reader_panic<T>(read: impl FnOnce() -> T) -> Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    std::panic::set_hook(hook);
    outcome.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the reader failed".into())
    })
}
