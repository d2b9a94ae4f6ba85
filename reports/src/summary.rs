//! The numbers every rendering shows: one [`SummaryRow`] per strategy.
//!
//! The terminal table, `summary.md`, `index.html` and `meshsim compare` all
//! read these, so a figure means the same thing everywhere.

use crate::{Report, StrategyReport};

/// One strategy's headline figures.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Strategy name.
    pub strategy: String,
    /// Calls the application made.
    pub calls: u64,
    /// Calls answered `OK`.
    pub ok: u64,
    /// `ok / calls` in percent (100 when no calls).
    pub ok_pct: f64,
    /// Call latency percentiles and max, ms (measured window).
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// 99.9th percentile, ms.
    pub p999: f64,
    /// Largest, ms.
    pub max: f64,
    /// Sidecar attempts per request; `None` without a sidecar.
    pub retry_amplification: Option<f64>,
    /// Each StockData pod's successful calls and share of them (0..=1).
    pub shares: Vec<(String, u64, f64)>,
    /// Jain's fairness index of the per-replica counts.
    pub fairness: f64,
    /// Page loads served by a single replica, and page loads.
    pub pinned_pages: (usize, usize),
    /// Successful calls per second over the measured window (the drain
    /// after it left out).
    pub throughput_rps: f64,
    /// Limits at which requests waited: (hop, % of requests that waited,
    /// p99 wait in ms), in hop order. Connection setup is not a limit and
    /// is not listed.
    pub waited_at: Vec<(String, f64, f64)>,
    /// Worker-slot time on every replica, seconds; `None` when the report
    /// has no replica measurements (older reports, real peers' replicas
    /// are measured too).
    pub server_work_s: Option<f64>,
    /// Share of it spent on answers nobody used (errors, abandoned calls),
    /// percent.
    pub wasted_pct: Option<f64>,
}

/// Short names of the hops in [`crate::StrategyReport::waits`], in the
/// order a request meets them.
pub const HOPS: [(&str, &str); 8] = [
    ("browser_connections", "browser connections"),
    ("app_streams", "app streams"),
    ("sidecar_ready", "a ready endpoint"),
    ("sidecar_connect", "sidecar connect"),
    ("sidecar_streams", "sidecar streams"),
    ("inbound_ready", "inbound: app ready"),
    ("inbound_connect", "inbound connect"),
    ("inbound_streams", "inbound streams"),
];

/// Rows in the report's strategy order.
pub fn rows(report: &Report) -> Vec<SummaryRow> {
    report.strategies.iter().map(row).collect()
}

/// The row of one strategy.
pub fn row(s: &StrategyReport) -> SummaryRow {
    let total_ok = s.requests.ok;
    let counts: Vec<u64> = s.per_replica.values().copied().collect();
    let work = (!s.replicas.is_empty()).then(|| s.server_work());
    SummaryRow {
        strategy: s.name.clone(),
        calls: s.requests.sent,
        ok: s.requests.ok,
        ok_pct: if s.requests.sent == 0 {
            100.0
        } else {
            s.requests.ok as f64 * 100.0 / s.requests.sent as f64
        },
        p50: s.latency_ms.p50,
        p90: s.latency_ms.p90,
        p99: s.latency_ms.p99,
        p999: s.latency_ms.p999,
        max: s.latency_ms.max,
        retry_amplification: s.proxy.as_ref().map(|p| p.retry_amplification),
        shares: s
            .per_replica
            .iter()
            .map(|(pod, &n)| {
                let share = if total_ok == 0 {
                    0.0
                } else {
                    n as f64 / total_ok as f64
                };
                (pod.clone(), n, share)
            })
            .collect(),
        fairness: jain_index(&counts),
        pinned_pages: (s.pinned_page_loads(), s.page_load_count()),
        throughput_rps: s.throughput_rps(),
        waited_at: HOPS
            .iter()
            .filter(|(key, _)| *key != "sidecar_connect")
            .filter_map(|(key, name)| {
                let w = s.waits.get(*key)?;
                (w.waited > 0).then(|| (name.to_string(), w.waited_pct(), w.wait_ms.p99))
            })
            .collect(),
        server_work_s: work.map(|w| w.busy_ms / 1000.0),
        wasted_pct: work.map(|w| w.wasted_pct()),
    }
}

/// Jain's fairness index, `(Σx)² / (n · Σx²)`: 1 when every replica got the
/// same, `1/n` when one got everything. 1 for an empty or all-zero list
/// (nothing was unfair).
pub fn jain_index(counts: &[u64]) -> f64 {
    let sum: f64 = counts.iter().map(|&c| c as f64).sum();
    let squares: f64 = counts.iter().map(|&c| (c as f64) * (c as f64)).sum();
    if counts.is_empty() || squares == 0.0 {
        return 1.0;
    }
    sum * sum / (counts.len() as f64 * squares)
}

// === impl SummaryRow ===

impl SummaryRow {
    /// Failed calls in percentage points of all calls.
    pub fn error_rate_pct(&self) -> f64 {
        100.0 - self.ok_pct
    }

    /// `stockdata-0 500 (50%), stockdata-1 500 (50%)`.
    pub fn shares_text(&self) -> String {
        self.shares
            .iter()
            .map(|(pod, n, share)| format!("{pod} {n} ({:.0}%)", share * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Replicas in the breakdown (every StockData pod that existed).
    pub fn replica_count(&self) -> usize {
        self.shares.len()
    }

    /// The smallest and the largest replica's share of the successful
    /// calls (0..=1); `None` without replicas.
    pub fn share_range(&self) -> Option<(f64, f64)> {
        let mut shares = self.shares.iter().map(|&(_, _, share)| share);
        let first = shares.next()?;
        Some(shares.fold((first, first), |(lo, hi), s| (lo.min(s), hi.max(s))))
    }

    /// The smallest replica share as text, e.g. `0.0%` (`-` without
    /// replicas).
    pub fn min_share_text(&self) -> String {
        self.share_range()
            .map(|(lo, _)| format!("{:.1}%", lo * 100.0))
            .unwrap_or_else(|| "-".into())
    }

    /// The largest replica share as text, e.g. `100.0%` (`-` without
    /// replicas).
    pub fn max_share_text(&self) -> String {
        self.share_range()
            .map(|(_, hi)| format!("{:.1}%", hi * 100.0))
            .unwrap_or_else(|| "-".into())
    }

    /// Retry amplification as text (`-` without a sidecar).
    pub fn amplification_text(&self) -> String {
        self.retry_amplification
            .map(|a| format!("{a:.2}"))
            .unwrap_or_else(|| "-".into())
    }

    /// Where requests waited at a limit, e.g. `app streams 61% (p99 412 ms)`
    /// (`-` when nowhere).
    pub fn waited_text(&self) -> String {
        if self.waited_at.is_empty() {
            return "-".into();
        }
        self.waited_at
            .iter()
            .map(|(hop, pct, p99)| format!("{hop} {pct:.0}% (p99 {p99:.1} ms)"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Server work in seconds (`-` without replica measurements).
    pub fn server_work_text(&self) -> String {
        self.server_work_s
            .map(|s| format!("{s:.3}"))
            .unwrap_or_else(|| "-".into())
    }

    /// Wasted share of the server work (`-` without replica measurements).
    pub fn wasted_text(&self) -> String {
        self.wasted_pct
            .map(|p| format!("{p:.1}"))
            .unwrap_or_else(|| "-".into())
    }

    /// Pinned page loads as `n/m` (`-` without page loads).
    pub fn pinned_text(&self) -> String {
        match self.pinned_pages {
            (_, 0) => "-".into(),
            (p, n) => format!("{p}/{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jain_index_known_answers() {
        assert_eq!(jain_index(&[500, 500]), 1.0);
        assert_eq!(jain_index(&[1000, 0]), 0.5);
        assert!((jain_index(&[1000, 0, 0, 0, 0]) - 0.2).abs() < 1e-12);
        // (1+2+3)² / (3 · 14) = 36/42
        assert!((jain_index(&[1, 2, 3]) - 36.0 / 42.0).abs() < 1e-12);
        assert_eq!(jain_index(&[]), 1.0);
        assert_eq!(jain_index(&[0, 0]), 1.0);
    }
}
