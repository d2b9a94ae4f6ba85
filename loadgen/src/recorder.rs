//! Latency recording with HdrHistogram.
//!
//! Samples are recorded in whole microseconds with 3 significant digits, the
//! precision wrk2 and HdrHistogram's own tools use; percentiles come back in
//! milliseconds as HdrHistogram reports them (the highest value equivalent
//! to the sample within that precision).
//!
//! The summary is loadgen's own [`LatencySummary`], not the report model's
//! type: the generator must be usable without meshsim's report crate (over
//! real sockets, in a benchmark), so whoever writes a report maps the
//! summary into it.

use hdrhistogram::Histogram;
use std::time::Duration;

/// Mean and percentiles of a [`LatencyRecorder`], in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: u64,
    /// Arithmetic mean, rounded to whole microseconds.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
}

/// Highest trackable latency: one hour, in microseconds. Larger samples are
/// clamped to it (and still counted).
pub const MAX_TRACKABLE_US: u64 = 3_600_000_000;

/// Highest value a new recorder holds before growing (µs): one HdrHistogram
/// bucket at 3 significant digits.
const INITIAL_HIGHEST_US: u64 = 2_048;

/// Significant decimal digits kept.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A latency histogram.
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    hist: Histogram<u64>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    /// An empty recorder.
    ///
    /// The histogram starts small and grows to the largest sample recorded
    /// (HdrHistogram's auto-resize; the precision is the same at every
    /// size). Sized for 1 h up front it is ~190 KB, and the sidecars keep
    /// one per endpoint: at 1,000 pods that was most of the memory and a
    /// quarter of the run time spent zeroing pages.
    pub fn new() -> Self {
        let mut hist = Histogram::new_with_bounds(1, INITIAL_HIGHEST_US, SIGNIFICANT_DIGITS)
            .expect("1 µs .. 2 ms at 3 significant digits are valid constant bounds");
        hist.auto(true);
        Self { hist }
    }

    /// Records one latency.
    pub fn record(&mut self, latency: Duration) {
        self.record_us(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Records one latency given in microseconds.
    pub fn record_us(&mut self, us: u64) {
        // `record` grows the histogram (auto-resize); `saturating_record`
        // would clamp to its current top instead. Clamped to 1 h first, so
        // growing cannot fail.
        let _ = self.hist.record(us.min(MAX_TRACKABLE_US));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &LatencyRecorder) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.hist.add(&other.hist);
    }

    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    /// The underlying histogram.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.hist
    }

    /// Mean and percentiles in milliseconds (all zero when empty).
    pub fn summary(&self) -> LatencySummary {
        if self.hist.is_empty() {
            return LatencySummary::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: self.hist.len(),
            // Rounded to whole microseconds so the JSON stays short and stable.
            mean: self.hist.mean().round() / 1000.0,
            p50: ms(self.hist.value_at_quantile(0.50)),
            p90: ms(self.hist.value_at_quantile(0.90)),
            p99: ms(self.hist.value_at_quantile(0.99)),
            p999: ms(self.hist.value_at_quantile(0.999)),
            max: ms(self.hist.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_1_to_1000_ms_has_known_percentiles() {
        let mut rec = LatencyRecorder::new();
        for ms in 1..=1000u64 {
            rec.record(Duration::from_millis(ms));
        }
        let s = rec.summary();
        assert_eq!(s.count, 1000);
        // 3 significant digits: within 0.1% of the exact answer.
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 1e-9;
        assert!(close(s.p50, 500.0), "p50 {}", s.p50);
        assert!(close(s.p90, 900.0), "p90 {}", s.p90);
        assert!(close(s.p99, 990.0), "p99 {}", s.p99);
        assert!(close(s.p999, 999.0), "p999 {}", s.p999);
        assert!(close(s.max, 1000.0), "max {}", s.max);
        assert!((s.mean - 500.5).abs() < 0.5, "mean {}", s.mean);
    }

    #[test]
    fn grows_only_as_far_as_the_samples_and_clamps_at_one_hour() {
        let mut rec = LatencyRecorder::new();
        rec.record(Duration::from_millis(40));
        // Sized for ~40 ms, not for an hour (the memory that matters when a
        // sidecar keeps one recorder per endpoint).
        assert!(
            rec.histogram().high() < 200_000,
            "{}",
            rec.histogram().high()
        );
        rec.record(Duration::from_secs(7200));
        assert_eq!(rec.len(), 2);
        let max = rec.summary().max;
        assert!(
            (max - 3_600_000.0).abs() <= 3_600.0,
            "clamped to 1 h: {max}"
        );
    }

    #[test]
    fn small_values_are_exact() {
        let mut rec = LatencyRecorder::new();
        for us in [250, 250, 250, 900] {
            rec.record_us(us);
        }
        let s = rec.summary();
        assert_eq!((s.p50, s.max), (0.25, 0.9));
    }

    #[test]
    fn merge_adds_samples() {
        let mut a = LatencyRecorder::new();
        let mut b = LatencyRecorder::new();
        a.record_us(100);
        b.record_us(300);
        b.record_us(300);
        a.merge(&b);
        assert_eq!(a.len(), 3);
        assert_eq!(a.summary().p50, 0.3);
    }

    #[test]
    fn empty_summary_is_zero() {
        assert_eq!(LatencyRecorder::new().summary().count, 0);
    }
}
