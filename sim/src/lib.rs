/*!
meshsim's simulator: a turmoil cluster running the real StockData and
StockWeb services, the sidecar proxy data plane, and the scenario runner.

```no_run
let scenario = sim::Scenario::parse(sim::scenario::BUNDLED_DEMO, "stockweb-demo.toml")?;
let report = sim::run(&scenario, scenario.seed, |_| {})?;
println!("{}", reports::table::render(&report));
# Ok::<(), Box<dyn std::error::Error>>(())
```
*/
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accounting;
pub mod bench;
pub mod chaos;
pub mod cluster;
pub mod input;
pub mod kube_proxy;
pub mod net;
pub mod proxy;
pub mod real;
pub mod runner;
pub mod scenario;
pub mod strategy;
pub mod sweep;
pub mod topology;
pub mod waits;
pub mod world;

pub use runner::{RunError, run};
pub use scenario::{Scenario, ScenarioError};
pub use strategy::Strategy;

/// Locks a mutex, recovering from poisoning: every mutex in meshsim guards
/// plain data that a panicking holder cannot leave half-updated in a way
/// that matters, and a simulation must not cascade one panic into many.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The meshsim version written into every report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
