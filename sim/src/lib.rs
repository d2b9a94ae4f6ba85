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

pub mod cluster;
pub mod kube_proxy;
pub mod net;
pub mod proxy;
pub mod runner;
pub mod scenario;
pub mod strategy;
pub mod world;

pub use runner::{RunError, run};
pub use scenario::{Scenario, ScenarioError};
pub use strategy::Strategy;

/// The meshsim version written into every report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
