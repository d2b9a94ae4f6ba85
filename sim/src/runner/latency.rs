//! loadgen's numbers in the report's units and types.

use loadgen::LatencySummary;
use reports::Latency;

/// loadgen's summary as the report's type (field for field).
pub(crate) fn report_latency(l: LatencySummary) -> Latency {
    Latency {
        count: l.count,
        mean: l.mean,
        p50: l.p50,
        p90: l.p90,
        p99: l.p99,
        p999: l.p999,
        max: l.max,
    }
}

/// Microseconds as milliseconds.
pub(crate) fn ms(us: u128) -> f64 {
    us as f64 / 1000.0
}
