/*!
The load side of meshsim: when requests start ([`schedule`]) and how their
latencies are recorded ([`recorder`]).

It does not depend on meshsim's report model: its summaries are its own
types, and whoever writes a report maps them into it.

```
use loadgen::{FixedInterval, LatencyRecorder};
use std::time::Duration;
let schedule = FixedInterval { start: Duration::from_millis(100), interval: Duration::from_millis(50), count: 3 };
assert_eq!(schedule.times().collect::<Vec<_>>(),
           [100, 150, 200].map(Duration::from_millis));
let mut rec = LatencyRecorder::new();
rec.record(Duration::from_millis(2));
assert_eq!(rec.summary().p50, 2.0);
```
*/
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod arrivals;
pub mod recorder;
pub mod schedule;
pub mod series;

pub use arrivals::{Process, arrivals};
pub use recorder::{LatencyRecorder, LatencySummary};
pub use schedule::FixedInterval;
pub use series::{Bucket, TimeSeries};
