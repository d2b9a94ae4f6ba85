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
pub mod backend;
pub mod bench;
pub mod chaos;
pub mod cluster;
pub mod control;
pub mod driver;
pub mod input;
pub mod kube_proxy;
pub mod load;
pub mod proxy;
pub mod runner;
pub mod scenario;
pub mod seed;
pub mod strategy;
pub mod sweep;
pub mod sync;
pub mod topology;

pub use runner::{RunError, VERSION, run};
pub use scenario::{Scenario, ScenarioError};
pub use strategy::Strategy;
