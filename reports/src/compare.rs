//! `meshsim compare`: a baseline report against a current one, metric by
//! metric, with thresholds that make it a CI gate.
//!
//! Runs are deterministic, so any difference is caused by a change (code,
//! scenario or dependency), never by noise; the thresholds decide which
//! changes are big enough to fail a build, and `--exact` fails on any.

use crate::Report;
use crate::summary::{self, SummaryRow};
use std::fmt::Write;

/// Default: fail when a strategy's p99 grows by more than 10%.
pub const DEFAULT_MAX_P99_REGRESSION_PCT: f64 = 10.0;
/// Default: fail when a strategy's call error rate grows by more than half a
/// percentage point.
pub const DEFAULT_MAX_ERROR_RATE_INCREASE_PTS: f64 = 0.5;
/// Default: fail when a strategy's throughput drops by more than 5%.
pub const DEFAULT_MAX_THROUGHPUT_DROP_PCT: f64 = 5.0;

/// When a change counts as a regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Largest allowed p99 increase, percent of the baseline.
    pub max_p99_regression_pct: f64,
    /// Largest allowed error-rate increase, percentage points.
    pub max_error_rate_increase_pts: f64,
    /// Largest allowed throughput decrease, percent of the baseline.
    pub max_throughput_drop_pct: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_p99_regression_pct: DEFAULT_MAX_P99_REGRESSION_PCT,
            max_error_rate_increase_pts: DEFAULT_MAX_ERROR_RATE_INCREASE_PTS,
            max_throughput_drop_pct: DEFAULT_MAX_THROUGHPUT_DROP_PCT,
        }
    }
}

/// The two reports cannot be compared.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    /// Different scenario hashes (allowed with `--allow-scenario-change`).
    #[error(
        "the reports are of different scenarios: baseline {baseline_name} (hash {baseline}) vs current {current_name} (hash {current}); pass --allow-scenario-change if that is intended"
    )]
    ScenarioChanged {
        /// Baseline scenario name.
        baseline_name: String,
        /// Baseline hash.
        baseline: String,
        /// Current scenario name.
        current_name: String,
        /// Current hash.
        current: String,
    },
    /// The strategy lists differ.
    #[error("the reports compare different strategies: baseline [{baseline}], current [{current}]")]
    Strategies {
        /// Baseline strategies.
        baseline: String,
        /// Current strategies.
        current: String,
    },
}

/// One metric of one strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricChange {
    /// Strategy name.
    pub strategy: String,
    /// Metric name, e.g. `p99 ms`.
    pub metric: &'static str,
    /// Baseline value.
    pub baseline: f64,
    /// Current value.
    pub current: f64,
    /// The change as shown, e.g. `+12.0%` or `+0.70 pts`.
    pub change: String,
    /// The threshold it crossed, when it did.
    pub violation: Option<String>,
}

/// Every metric of every strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Rows in strategy order, metrics in a fixed order.
    pub rows: Vec<MetricChange>,
    /// Whether the scenario hashes differed (and that was allowed).
    pub scenario_changed: bool,
}

/// Compares `current` against `baseline`.
pub fn compare(
    baseline: &Report,
    current: &Report,
    thresholds: &Thresholds,
    allow_scenario_change: bool,
) -> Result<Comparison, CompareError> {
    let scenario_changed = baseline.scenario.hash != current.scenario.hash;
    if scenario_changed && !allow_scenario_change {
        return Err(CompareError::ScenarioChanged {
            baseline_name: baseline.scenario.name.clone(),
            baseline: baseline.scenario.hash.clone(),
            current_name: current.scenario.name.clone(),
            current: current.scenario.hash.clone(),
        });
    }
    let names = |r: &Report| {
        r.strategies
            .iter()
            .map(|s| s.name.clone())
            .collect::<Vec<_>>()
    };
    if names(baseline) != names(current) {
        return Err(CompareError::Strategies {
            baseline: names(baseline).join(", "),
            current: names(current).join(", "),
        });
    }
    let mut rows = Vec::new();
    for (b, c) in summary::rows(baseline)
        .iter()
        .zip(summary::rows(current).iter())
    {
        rows.extend(strategy_changes(b, c, thresholds));
    }
    Ok(Comparison {
        rows,
        scenario_changed,
    })
}

fn pct_change(base: f64, cur: f64) -> Option<f64> {
    (base > 0.0).then(|| (cur - base) / base * 100.0)
}

fn strategy_changes(b: &SummaryRow, c: &SummaryRow, t: &Thresholds) -> Vec<MetricChange> {
    let row =
        |metric, base: f64, cur: f64, change: String, violation: Option<String>| MetricChange {
            strategy: b.strategy.clone(),
            metric,
            baseline: base,
            current: cur,
            change,
            violation,
        };
    let relative = |base: f64, cur: f64| match pct_change(base, cur) {
        Some(p) => format!("{p:+.1}%"),
        None if cur == base => "+0.0%".into(),
        None => "new".into(),
    };
    let p99_violation = match pct_change(b.p99, c.p99) {
        Some(p) if p > t.max_p99_regression_pct => Some(format!(
            "p99 grew {p:.1}% (limit {}%)",
            t.max_p99_regression_pct
        )),
        None if c.p99 > b.p99 => Some("p99 grew from 0".into()),
        _ => None,
    };
    let err_delta = c.error_rate_pct() - b.error_rate_pct();
    let err_violation = (err_delta > t.max_error_rate_increase_pts + 1e-9).then(|| {
        format!(
            "error rate grew {err_delta:.2} points (limit {} points)",
            t.max_error_rate_increase_pts
        )
    });
    let tp_violation = match pct_change(b.throughput_rps, c.throughput_rps) {
        Some(p) if -p > t.max_throughput_drop_pct => Some(format!(
            "throughput fell {:.1}% (limit {}%)",
            -p, t.max_throughput_drop_pct
        )),
        _ => None,
    };
    vec![
        row("p50 ms", b.p50, c.p50, relative(b.p50, c.p50), None),
        row(
            "p99 ms",
            b.p99,
            c.p99,
            relative(b.p99, c.p99),
            p99_violation,
        ),
        row("p99.9 ms", b.p999, c.p999, relative(b.p999, c.p999), None),
        row(
            "error rate %",
            b.error_rate_pct(),
            c.error_rate_pct(),
            format!("{err_delta:+.2} pts"),
            err_violation,
        ),
        row(
            "throughput ok/s",
            b.throughput_rps,
            c.throughput_rps,
            relative(b.throughput_rps, c.throughput_rps),
            tp_violation,
        ),
        row(
            "retry amp",
            b.retry_amplification.unwrap_or(1.0),
            c.retry_amplification.unwrap_or(1.0),
            relative(
                b.retry_amplification.unwrap_or(1.0),
                c.retry_amplification.unwrap_or(1.0),
            ),
            None,
        ),
    ]
}

// === impl Comparison ===

impl Comparison {
    /// Rows that crossed a threshold.
    pub fn violations(&self) -> impl Iterator<Item = &MetricChange> {
        self.rows.iter().filter(|r| r.violation.is_some())
    }

    /// Whether any metric changed at all.
    pub fn any_change(&self) -> bool {
        self.rows.iter().any(|r| r.baseline != r.current)
    }

    /// The side-by-side table.
    pub fn render(&self) -> String {
        let headers = ["strategy", "metric", "baseline", "current", "change", ""];
        let table: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.strategy.clone(),
                    r.metric.to_string(),
                    format!("{:.3}", r.baseline),
                    format!("{:.3}", r.current),
                    r.change.clone(),
                    r.violation
                        .as_ref()
                        .map(|v| format!("REGRESSION: {v}"))
                        .unwrap_or_default(),
                ]
            })
            .collect();
        let mut widths = headers.map(|h| h.len());
        for row in &table {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: [&str; 6]| {
            let mut text = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i < 2 || i == 5 {
                    let _ = write!(text, "{cell:<w$}  ");
                } else {
                    let _ = write!(text, "{cell:>w$}  ");
                }
            }
            let _ = writeln!(out, "{}", text.trim_end());
        };
        line(headers);
        for row in &table {
            line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let t = Thresholds::default();
        assert_eq!(t.max_p99_regression_pct, 10.0);
        assert_eq!(t.max_error_rate_increase_pts, 0.5);
        assert_eq!(t.max_throughput_drop_pct, 5.0);
    }

    #[test]
    fn percent_change_of_zero_baseline_is_none() {
        assert_eq!(pct_change(0.0, 5.0), None);
        assert_eq!(pct_change(10.0, 12.0), Some(20.0));
    }
}
