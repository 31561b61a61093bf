//! The harness's integration tests, one binary (one link of the workspace's
//! heavy dependencies) with a module per area and the shared helpers in
//! `common`. Most run the `edgebench` binary as a user would.

mod common;

mod cli;
mod fuzz_corpus;
mod mpi;
mod regress;
mod report;
mod sweep;
mod traces;
