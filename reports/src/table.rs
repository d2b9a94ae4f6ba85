//! The comparison table: aligned text for the terminal, and the same table
//! as Markdown for `summary.md`.

use crate::Report;
use crate::breakdown::Breakdown;
use crate::summary::{self, SummaryRow};
use std::fmt::Write;

/// Column headings, shared by the terminal, Markdown and HTML tables.
/// Every cell's width is bounded whatever the number of replicas: their
/// spread is in the last three columns (and `fairness`), each replica in
/// the per-replica breakdown ([`crate::breakdown`]).
pub const HEADERS: [&str; 17] = [
    "strategy",
    "calls",
    "ok %",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "p99.9 ms",
    "max ms",
    "retry amp",
    "server s",
    "wasted %",
    "fairness",
    "pinned pages",
    "waited at limit",
    "replicas",
    "min share",
    "max share",
];

/// Index of the `ok %` column.
const OK_PCT: usize = 2;
/// Index of the `fairness` column.
const FAIRNESS: usize = 11;
/// Index of the `waited at limit` column.
const WAITED: usize = 13;

/// The cells of one row, formatted.
pub fn cells(r: &SummaryRow) -> Vec<String> {
    vec![
        r.strategy.clone(),
        r.calls.to_string(),
        format!("{:.2}", r.ok_pct),
        format!("{:.3}", r.p50),
        format!("{:.3}", r.p90),
        format!("{:.3}", r.p99),
        format!("{:.3}", r.p999),
        format!("{:.3}", r.max),
        r.amplification_text(),
        r.server_work_text(),
        r.wasted_text(),
        format!("{:.3}", r.fairness),
        r.pinned_text(),
        r.waited_text(),
        r.replica_count().to_string(),
        r.min_share_text(),
        r.max_share_text(),
    ]
}

/// ANSI styling for a TTY; [`Style::Plain`] everywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// No escape codes (files, pipes).
    Plain,
    /// Bold headings, problems in red or yellow.
    Color,
}

impl Style {
    /// `text` in the SGR `code` (`1` bold, `31` red, `33` yellow), or as
    /// it is when plain or without a code.
    fn paint(self, text: String, code: &str) -> String {
        match self {
            Style::Color if !code.is_empty() => format!("\x1b[{code}m{text}\x1b[0m"),
            _ => text,
        }
    }
}

/// The terminal rendering without colour (what `summary.md`'s readers and
/// piped output see).
pub fn render(report: &Report) -> String {
    render_styled(report, Style::Plain)
}

/// The terminal rendering: heading line, aligned table (one line per
/// strategy), the per-replica breakdown, workload summary and timeline.
pub fn render_styled(report: &Report, style: Style) -> String {
    let rows = summary::rows(report);
    let table: Vec<Vec<String>> = rows.iter().map(cells).collect();
    let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = heading(report);
    let headers: Vec<String> = HEADERS.iter().map(|h| h.to_string()).collect();
    out.push_str(&aligned(&headers, &widths, &["1"; HEADERS.len()], style));
    for (row, r) in table.iter().zip(&rows) {
        let mut codes = [""; HEADERS.len()];
        codes[OK_PCT] = match r.ok_pct {
            p if p >= 100.0 => "",
            p if p >= 99.0 => "33",
            _ => "31",
        };
        if r.fairness < 0.75 {
            codes[FAIRNESS] = "33";
        }
        if !r.waited_at.is_empty() {
            codes[WAITED] = "33";
        }
        out.push_str(&aligned(row, &widths, &codes, style));
    }
    out.push_str(&Breakdown::of(report).text(&|h| style.paint(h, "1")));
    workload_lines(report, &mut out);
    wait_lines(report, &mut out);
    timeline_lines(report, &mut out);
    out
}

/// `scenario NAME (seed S, hash H)`, and the mode when real.
fn heading(report: &Report) -> String {
    format!(
        "scenario {} (seed {}, hash {}){}\n",
        report.scenario.name,
        report.seed,
        report
            .scenario
            .hash
            .get(..12)
            .unwrap_or(&report.scenario.hash),
        match (report.mode, report.host_cores) {
            (crate::Mode::Sim, _) => String::new(),
            (crate::Mode::Real, Some(cores)) => format!(", real mode on {cores} cores"),
            (crate::Mode::Real, None) => ", real mode".to_string(),
        }
    )
}

/// One table line: the strategy left-aligned, the figures right-aligned,
/// each cell painted with its code (after padding, so that escape codes do
/// not upset the alignment).
fn aligned(cells: &[String], widths: &[usize], codes: &[&str], style: Style) -> String {
    let mut text = String::new();
    for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
        let padded = if i == 0 {
            format!("{cell:<w$}")
        } else {
            format!("{cell:>w$}")
        };
        let code = codes.get(i).copied().unwrap_or("");
        let _ = write!(text, "{}  ", style.paint(padded, code));
    }
    format!("{}\n", text.trim_end())
}

/// `summary.md`: heading, the table as Markdown, the per-replica
/// breakdown, workload and timeline.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", report.scenario.name);
    let _ = writeln!(
        out,
        "Seed {} · scenario hash `{}` · meshsim {} · latencies are per gRPC call, \
         measured window, in milliseconds.\n",
        report.seed, report.scenario.hash, report.meshsim_version
    );
    let _ = writeln!(out, "| {} |", HEADERS.join(" | "));
    let align: Vec<&str> = (0..HEADERS.len())
        .map(|i| if i == 0 { "---" } else { "---:" })
        .collect();
    let _ = writeln!(out, "|{}|", align.join("|"));
    for r in summary::rows(report) {
        let cells: Vec<String> = cells(&r)
            .into_iter()
            .map(|c| c.replace('|', "\\|"))
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push_str(&Breakdown::of(report).markdown());
    let mut rest = String::new();
    workload_lines(report, &mut rest);
    wait_lines(report, &mut rest);
    timeline_lines(report, &mut rest);
    if !rest.is_empty() {
        let _ = writeln!(out, "\n```text{rest}```");
    }
    out
}

fn workload_lines(report: &Report, out: &mut String) {
    if !report
        .strategies
        .iter()
        .any(|s| s.workload.as_ref().is_some_and(|w| w.model != "schedule"))
    {
        return;
    }
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

/// Where requests waited, per strategy and hop, and each replica's queue
/// against its service time: printed when some strategy's requests waited
/// at a limit, so that a client-side queue is never read as the
/// balancer's doing.
fn wait_lines(report: &Report, out: &mut String) {
    let rows = summary::rows(report);
    if rows.iter().all(|r| r.waited_at.is_empty()) {
        return;
    }
    let _ = writeln!(
        out,
        "\nwaits (before a replica: at each limit; at the replicas: queue vs service, mean over replicas)"
    );
    for s in &report.strategies {
        let mut parts = Vec::new();
        for (key, name) in summary::HOPS {
            if let Some(w) = s.waits.get(key) {
                parts.push(format!(
                    "{name} [{}] {:.1}% waited, p50 {:.1} ms, p99 {:.1} ms",
                    w.limit,
                    w.waited_pct(),
                    w.wait_ms.p50,
                    w.wait_ms.p99
                ));
            }
        }
        let _ = writeln!(out, "  {:<22} {}", s.name, parts.join("; "));
        let t = s.replica_totals();
        if let (Some(queue), Some(service)) = (t.mean_queue_ms(), t.mean_service_ms()) {
            let _ = writeln!(
                out,
                "  {:<22} replicas: queue wait mean {queue:.1} ms, service mean {service:.1} ms",
                ""
            );
        }
    }
}

fn timeline_lines(report: &Report, out: &mut String) {
    if report.timeline.is_empty() {
        return;
    }
    let _ = writeln!(out, "\ntimeline");
    for t in &report.timeline {
        let _ = writeln!(out, "  {:>9.0} ms  {}", t.at_ms, t.event);
    }
}
