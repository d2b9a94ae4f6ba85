//! Time series in fixed buckets of completion time.

use crate::LatencyRecorder;
use std::collections::BTreeMap;
use std::time::Duration;

/// One bucket.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    /// Requests that completed in this bucket.
    pub completed: u64,
    /// Their latencies.
    pub latency: LatencyRecorder,
    /// Calls (gRPC) completed in this bucket.
    pub calls: u64,
    /// Of which failed.
    pub call_errors: u64,
}

/// Buckets of `width` by completion time: bucket `k` holds `[k·width,
/// (k+1)·width)`.
#[derive(Debug, Clone)]
pub struct TimeSeries {
    width: Duration,
    buckets: BTreeMap<u64, Bucket>,
}

impl Default for TimeSeries {
    /// One-second buckets.
    fn default() -> Self {
        Self::with_bucket(Duration::from_secs(1))
    }
}

impl TimeSeries {
    /// An empty series of one-second buckets.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty series of `width` buckets (at least 1 µs).
    pub fn with_bucket(width: Duration) -> Self {
        Self {
            width: width.max(Duration::from_micros(1)),
            buckets: BTreeMap::new(),
        }
    }

    /// The index of the bucket holding time `at`.
    pub fn index(&self, at: Duration) -> u64 {
        u64::try_from(at.as_nanos() / self.width.as_nanos()).unwrap_or(u64::MAX)
    }

    /// The bucket for completion time `at`.
    pub fn bucket(&mut self, at: Duration) -> &mut Bucket {
        let k = self.index(at);
        self.buckets.entry(k).or_default()
    }

    /// Buckets in time order, empty ones included (from 0 to the last one),
    /// so plots have no gaps.
    pub fn dense(&self) -> Vec<(u64, Bucket)> {
        self.dense_through(None)
    }

    /// [`TimeSeries::dense`], through bucket `at_least` if that is later.
    pub fn dense_through(&self, at_least: Option<u64>) -> Vec<(u64, Bucket)> {
        let last = self
            .buckets
            .keys()
            .next_back()
            .copied()
            .max(at_least)
            .unwrap_or(0);
        (0..=last)
            .map(|s| (s, self.buckets.get(&s).cloned().unwrap_or_default()))
            .collect()
    }
}
