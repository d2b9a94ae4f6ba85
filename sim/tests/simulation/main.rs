//! Whole simulations: the bundled scenarios against their baselines, the
//! timeline's events, the strategies, the demo, request accounting, the
//! queueing-theory oracle and scenario fuzzing.
//!
//! One test binary per area: each links tonic, hyper and turmoil once.
//! Run one area with a filter, e.g. `cargo test -p sim --test simulation
//! queueing -- --nocapture`.

mod accounting;
mod chaos;
mod demo;
mod error_faults;
mod queueing;
mod report_details;
mod scenario_fuzz;
mod scenarios;
mod strategies;
mod stream_limits;
mod timeline;
