//! Per-second time series.

use crate::LatencyRecorder;
use std::collections::BTreeMap;
use std::time::Duration;

/// One second's bucket.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    /// Requests that completed in this second.
    pub completed: u64,
    /// Their latencies.
    pub latency: LatencyRecorder,
    /// Calls (gRPC) completed in this second.
    pub calls: u64,
    /// Of which failed.
    pub call_errors: u64,
}

/// Buckets by whole second of completion time.
#[derive(Debug, Clone, Default)]
pub struct TimeSeries {
    buckets: BTreeMap<u64, Bucket>,
}

impl TimeSeries {
    /// An empty series.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bucket for completion time `at`.
    pub fn bucket(&mut self, at: Duration) -> &mut Bucket {
        self.buckets.entry(at.as_secs()).or_default()
    }

    /// Buckets in time order, seconds with nothing in them included (from
    /// 0 to the last one), so plots have no gaps.
    pub fn dense(&self) -> Vec<(u64, Bucket)> {
        let last = self.buckets.keys().next_back().copied().unwrap_or(0);
        (0..=last)
            .map(|s| (s, self.buckets.get(&s).cloned().unwrap_or_default()))
            .collect()
    }
}
