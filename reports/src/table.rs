//! The plain-text comparison table `meshsim run` prints.

use crate::Report;
use std::fmt::Write;

/// Renders one row per strategy: calls, errors, latency percentiles, each
/// replica's share of successful calls, and how many page loads were served
/// by a single replica.
pub fn render(report: &Report) -> String {
    let headers = [
        "strategy",
        "calls",
        "ok",
        "errors",
        "p50 ms",
        "p99 ms",
        "max ms",
        "pinned pages",
        "per replica (ok)",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for s in &report.strategies {
        let errors: u64 = s.requests.errors.values().sum();
        let total_ok = s.requests.ok.max(1) as f64;
        let share = s
            .per_replica
            .iter()
            .map(|(pod, n)| format!("{pod} {n} ({:.0}%)", *n as f64 * 100.0 / total_ok))
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(vec![
            s.name.clone(),
            s.requests.sent.to_string(),
            s.requests.ok.to_string(),
            errors.to_string(),
            format!("{:.3}", s.latency_ms.p50),
            format!("{:.3}", s.latency_ms.p99),
            format!("{:.3}", s.latency_ms.max),
            format!("{}/{}", s.pinned_page_loads(), s.page_loads.len()),
            share,
        ]);
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {} (seed {}, hash {})",
        report.scenario.name,
        report.seed,
        report
            .scenario
            .hash
            .get(..12)
            .unwrap_or(&report.scenario.hash)
    );
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            // Text columns left-aligned, numbers right-aligned.
            if i == 0 || i == cells.len() - 1 {
                let _ = write!(text, "{cell:<w$}  ");
            } else {
                let _ = write!(text, "{cell:>w$}  ");
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(headers.to_vec(), &mut out);
    for row in &rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    if report
        .strategies
        .iter()
        .any(|s| s.workload.as_ref().is_some_and(|w| w.model != "schedule"))
    {
        let _ = writeln!(
            out,
            "\nworkload (latency from when each request was due; uncorrected in brackets)"
        );
        for s in &report.strategies {
            if let Some(w) = &s.workload {
                let amp = s
                    .proxy
                    .as_ref()
                    .map(|p| format!(", retry amplification {:.2}", p.retry_amplification))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {:<22} {} {}: {} issued, {} completed, {} failed, {} in flight at end; p50 {:.1} ms, p99 {:.1} ms [{:.1}]{amp}",
                    s.name,
                    w.model,
                    w.target,
                    w.issued,
                    w.completed,
                    w.failed,
                    w.in_flight_at_end,
                    w.latency_ms.p50,
                    w.latency_ms.p99,
                    w.latency_uncorrected_ms.p99,
                );
            }
        }
    }
    if !report.timeline.is_empty() {
        let _ = writeln!(out, "\ntimeline");
        for t in &report.timeline {
            let _ = writeln!(out, "  {:>9.0} ms  {}", t.at_ms, t.event);
        }
    }
    out
}
