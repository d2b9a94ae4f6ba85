//! The `meshsim` command line: `run`, `report`, `compare`, `sweep` and
//! `bench`, as a user runs them (the built binary, exit codes, files).
//!
//! One test binary per area: each links tonic, hyper and turmoil once.

mod bench;
mod cli;
mod common;
mod defects;
mod reports_cli;
mod reproducers;
mod round3;
mod runtime_defects;
