//! The solvers' integration tests, one binary with a module per area and
//! the shared helpers in `common`: exactness of the MILPs and the bound
//! against brute force, the heuristics' rules, DPPO's decoder and training.

mod common;

mod bound;
mod dppo;
mod dppo_decode;
mod milp;
mod policies;
