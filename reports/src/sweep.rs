//! `sweep.json` and `sweep.md`: one scenario over a grid of parameter
//! values, every strategy at every point.

use crate::Report;
use crate::charts::{SweepChart, SweepLine};
use crate::summary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Version of the `sweep.json` schema.
pub const SWEEP_SCHEMA_VERSION: u32 = 1;

/// A whole sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// [`SWEEP_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// meshsim version that ran it.
    pub meshsim_version: String,
    /// Seed of every run.
    pub seed: u64,
    /// Base scenario name.
    pub scenario: String,
    /// Swept parameters (dotted scenario keys), in `--set` order.
    pub parameters: Vec<String>,
    /// Grid points, first parameter outermost.
    pub points: Vec<SweepPoint>,
}

/// One grid point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Parameter → value as given on the command line.
    pub values: BTreeMap<String, String>,
    /// The folder (relative to the sweep's) holding this point's report.
    pub dir: String,
    /// Hash of the point's resolved scenario.
    pub scenario_hash: String,
    /// Headline figures per strategy.
    pub strategies: Vec<SweepResult>,
}

/// One strategy at one point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    /// Strategy name.
    pub name: String,
    /// Calls made.
    pub calls: u64,
    /// Median call latency, ms.
    pub p50_ms: f64,
    /// p99 call latency, ms.
    pub p99_ms: f64,
    /// Failed calls, percent.
    pub error_rate_pct: f64,
    /// Successful calls per simulated second.
    pub throughput_rps: f64,
    /// Sidecar attempts per request (1 without a sidecar).
    pub retry_amplification: f64,
}

/// Rounds to 4 decimals so the JSON stays short and stable.
fn r4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

impl SweepPoint {
    /// A point from its values, folder and report.
    pub fn new(values: BTreeMap<String, String>, dir: String, report: &Report) -> Self {
        Self {
            values,
            dir,
            scenario_hash: report.scenario.hash.clone(),
            strategies: summary::rows(report)
                .into_iter()
                .map(|r| SweepResult {
                    name: r.strategy.clone(),
                    calls: r.calls,
                    p50_ms: r.p50,
                    p99_ms: r.p99,
                    error_rate_pct: r4(r.error_rate_pct()),
                    throughput_rps: r4(r.throughput_rps),
                    retry_amplification: r.retry_amplification.unwrap_or(1.0),
                })
                .collect(),
        }
    }
}

impl SweepReport {
    /// Pretty JSON with a trailing newline.
    pub fn to_json_bytes(&self) -> serde_json::Result<Vec<u8>> {
        crate::json_bytes(self)
    }

    /// `sweep.md`: one row per point and strategy.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Sweep of {}\n", self.scenario);
        let _ = writeln!(
            out,
            "Seed {} · meshsim {} · swept: {}\n",
            self.seed,
            self.meshsim_version,
            self.parameters.join(", ")
        );
        let mut headers: Vec<&str> = self.parameters.iter().map(String::as_str).collect();
        headers.extend([
            "strategy",
            "calls",
            "p50 ms",
            "p99 ms",
            "error %",
            "ok/s",
            "retry amp",
        ]);
        let _ = writeln!(out, "| {} |", headers.join(" | "));
        let _ = writeln!(out, "|{}|", vec!["---"; headers.len()].join("|"));
        for p in &self.points {
            for s in &p.strategies {
                let mut cells: Vec<String> = self
                    .parameters
                    .iter()
                    .map(|k| p.values.get(k).cloned().unwrap_or_default())
                    .collect();
                cells.extend([
                    s.name.clone(),
                    s.calls.to_string(),
                    format!("{:.3}", s.p50_ms),
                    format!("{:.3}", s.p99_ms),
                    format!("{:.2}", s.error_rate_pct),
                    format!("{:.1}", s.throughput_rps),
                    format!("{:.2}", s.retry_amplification),
                ]);
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
        }
        out
    }

    /// The summary chart: p99 and error rate against the first parameter;
    /// one line per strategy and combination of the other parameters.
    /// Values that are not plain numbers (`50ms`) are plotted by their
    /// leading number, or by position when they have none.
    pub fn chart(&self) -> SweepChart {
        let Some(first) = self.parameters.first() else {
            return SweepChart {
                parameter: String::new(),
                lines: Vec::new(),
            };
        };
        let firsts: Vec<String> = self
            .points
            .iter()
            .filter_map(|p| p.values.get(first).cloned())
            .fold(Vec::new(), |mut acc, v| {
                if !acc.contains(&v) {
                    acc.push(v);
                }
                acc
            });
        let numeric = firsts.iter().all(|v| leading_number(v).is_some());
        let x_of = |v: &str| {
            if numeric {
                leading_number(v).unwrap_or(0.0)
            } else {
                firsts.iter().position(|f| f == v).unwrap_or(0) as f64
            }
        };
        let mut lines: Vec<SweepLine> = Vec::new();
        for p in &self.points {
            let x = x_of(p.values.get(first).map(String::as_str).unwrap_or(""));
            let others: Vec<String> = self.parameters[1..]
                .iter()
                .map(|k| format!("{k}={}", p.values.get(k).cloned().unwrap_or_default()))
                .collect();
            for s in &p.strategies {
                let label = if others.is_empty() {
                    s.name.clone()
                } else {
                    format!("{} {}", s.name, others.join(" "))
                };
                let line = match lines.iter().position(|l| l.label == label) {
                    Some(i) => &mut lines[i],
                    None => {
                        lines.push(SweepLine {
                            label,
                            p99_ms: Vec::new(),
                            error_pct: Vec::new(),
                        });
                        let last = lines.len() - 1;
                        &mut lines[last]
                    }
                };
                line.p99_ms.push((x, s.p99_ms));
                line.error_pct.push((x, s.error_rate_pct));
            }
        }
        SweepChart {
            parameter: if numeric {
                first.clone()
            } else {
                format!("{first} (point {})", firsts.join(", "))
            },
            lines,
        }
    }
}

/// `100` → 100, `50ms` → 50, `0.5` → 0.5, `fast` → None.
fn leading_number(v: &str) -> Option<f64> {
    let end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(v.len());
    v[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_numbers() {
        assert_eq!(leading_number("100"), Some(100.0));
        assert_eq!(leading_number("50ms"), Some(50.0));
        assert_eq!(leading_number("0.5"), Some(0.5));
        assert_eq!(leading_number("fast"), None);
    }
}
