/*!
meshsim's load generator: when requests are due ([`arrivals`],
[`schedule`]), how they are issued ([`generator`]: open and closed loops,
a connection cap, think time, drain), how every one is accounted for
([`ledger`]) and how latencies are recorded ([`recorder`]).

It is its own crate, free of the simulator, HTTP and the report model, so
the same generator drives StockWeb over turmoil's simulated network and
over real sockets: the caller supplies only "send one request".

```
use loadgen::{FixedInterval, Issue, Ledger, Summary, Workload};
use std::time::Duration;
# #[tokio::main(flavor = "current_thread", start_paused = true)]
# async fn main() -> Result<(), tokio::task::JoinError> {
let schedule = FixedInterval { start: Duration::from_millis(100), interval: Duration::from_millis(50), count: 3 };
let workload = Workload {
    issue: Issue::Open { arrivals: schedule.times().collect(), connections: None },
    duration: schedule.last(),
    drain: Duration::from_secs(1),
};
let ledger = Ledger::new();
loadgen::run(workload, &ledger, |req| async move {
    tokio::time::sleep(Duration::from_millis(2)).await;
    Ok::<u64, String>(req.index)
})
.await?;
let summary = Summary::of(&ledger.take(), Duration::ZERO);
assert_eq!((summary.issued, summary.completed), (3, 3));
assert_eq!(summary.corrected.summary().p50, 2.0);
# Ok(())
# }
```
*/
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod arrivals;
pub mod generator;
pub mod ledger;
pub mod recorder;
pub mod schedule;
pub mod series;

pub use arrivals::{Process, arrivals};
pub use generator::{Issue, Request, Think, Workload, run};
pub use ledger::{Fate, Ledger, RequestRecord, Summary};
pub use recorder::{LatencyRecorder, LatencySummary};
pub use schedule::FixedInterval;
pub use series::{Bucket, TimeSeries};
