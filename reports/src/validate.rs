//! What a `report.json` must satisfy before anything renders it.
//!
//! Every rendering divides or scales by report figures: a count per
//! bucket becomes a rate over `series_bucket_ms`, chart axes end a little
//! past the largest value. A bucket of 0 ms, or a figure near `f64::MAX`,
//! makes an infinite axis, on which the chart library never finishes. So
//! [`Report::from_json_slice`] refuses such a file with the field that is
//! wrong, and `meshsim report` and `meshsim compare` exit 2 on it.

use crate::{Latency, Report, StrategyReport};

/// The largest time or figure a report may carry, ms (about 31,700 years
/// of simulated time): far beyond any run, far below where arithmetic on
/// it stops being finite.
pub const MAX_FIGURE: f64 = 1e15;

/// The narrowest time-series bucket a report may have, ms (1 µs; the
/// simulator's are whole milliseconds).
pub const MIN_SERIES_BUCKET_MS: f64 = 0.001;

/// A report that cannot be rendered: which field, and what is wrong with
/// it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidReport {
    /// The field's path, e.g. `strategies[0].series_bucket_ms`.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

fn invalid(field: String, problem: String) -> InvalidReport {
    InvalidReport { field, problem }
}

/// A number as it is written, or in exponent notation when that is
/// shorter (`1.7976931348623157e308`, not 309 digits).
fn number(v: f64) -> String {
    let plain = v.to_string();
    let exp = format!("{v:e}");
    if exp.len() < plain.len() { exp } else { plain }
}

/// `v` is a figure between 0 and [`MAX_FIGURE`].
fn figure(field: impl FnOnce() -> String, v: f64) -> Result<(), InvalidReport> {
    if (0.0..=MAX_FIGURE).contains(&v) {
        Ok(())
    } else {
        Err(invalid(
            field(),
            format!(
                "{} is out of range: expected a number from 0 to {MAX_FIGURE:e}",
                number(v)
            ),
        ))
    }
}

fn latency(field: &str, l: &Latency) -> Result<(), InvalidReport> {
    let values = [
        ("mean", l.mean),
        ("p50", l.p50),
        ("p90", l.p90),
        ("p99", l.p99),
        ("p999", l.p999),
        ("max", l.max),
    ];
    for (name, v) in values {
        figure(|| format!("{field}.{name}"), v)?;
    }
    Ok(())
}

impl Report {
    /// Checks what rendering relies on: every time and latency a number
    /// from 0 to [`MAX_FIGURE`], every time-series bucket at least
    /// [`MIN_SERIES_BUCKET_MS`] wide, error rates within 0..=1, and no
    /// strategy with more calls accounted for (`ok + Σ errors +
    /// unanswered`) than it sent.
    pub fn validate(&self) -> Result<(), InvalidReport> {
        for (i, t) in self.timeline.iter().enumerate() {
            figure(|| format!("timeline[{i}].at_ms"), t.at_ms)?;
        }
        for (i, s) in self.strategies.iter().enumerate() {
            strategy(&format!("strategies[{i}]"), s)?;
        }
        Ok(())
    }
}

fn strategy(at: &str, s: &StrategyReport) -> Result<(), InvalidReport> {
    let bucket = s.series_bucket_ms;
    if !(MIN_SERIES_BUCKET_MS..=MAX_FIGURE).contains(&bucket) {
        return Err(invalid(
            format!("{at}.series_bucket_ms"),
            format!(
                "{} is not a bucket width: expected from {MIN_SERIES_BUCKET_MS} to \
                 {MAX_FIGURE:e} ms",
                number(bucket)
            ),
        ));
    }
    requests(at, s)?;
    figure(|| format!("{at}.measured_ms"), s.measured_ms)?;
    figure(|| format!("{at}.sim_time_ms"), s.sim_time_ms)?;
    latency(&format!("{at}.latency_ms"), &s.latency_ms)?;
    for (pod, l) in &s.per_replica_latency_ms {
        latency(&format!("{at}.per_replica_latency_ms.{pod}"), l)?;
    }
    if let Some(w) = &s.workload {
        latency(&format!("{at}.workload.latency_ms"), &w.latency_ms)?;
        latency(
            &format!("{at}.workload.latency_uncorrected_ms"),
            &w.latency_uncorrected_ms,
        )?;
    }
    for (j, p) in s.series.iter().enumerate() {
        let field = |name: &str| format!("{at}.series[{j}].{name}");
        if let Some(start) = p.start_ms {
            figure(|| field("start_ms"), start)?;
        }
        figure(|| field("p50_ms"), p.p50_ms)?;
        figure(|| field("p99_ms"), p.p99_ms)?;
        if !(0.0..=1.0).contains(&p.error_rate) {
            return Err(invalid(
                field("error_rate"),
                format!(
                    "{} is not a rate: expected from 0 to 1",
                    number(p.error_rate)
                ),
            ));
        }
    }
    for (j, p) in s.page_loads.iter().enumerate() {
        figure(|| format!("{at}.page_loads[{j}].start_ms"), p.start_ms)?;
        figure(
            || format!("{at}.page_loads[{j}].duration_ms"),
            p.duration_ms,
        )?;
        latency(&format!("{at}.page_loads[{j}].latency_ms"), &p.latency_ms)?;
    }
    measured_by_servers(at, s)
}

/// `ok + Σ errors + unanswered` must not exceed `sent` (it equals it in
/// every report meshsim writes; older ones may lack `unanswered`).
fn requests(at: &str, s: &StrategyReport) -> Result<(), InvalidReport> {
    let r = &s.requests;
    let errors = r
        .errors
        .values()
        .try_fold(0u64, |sum, &n| sum.checked_add(n));
    let accounted = errors.and_then(|e| r.ok.checked_add(e)?.checked_add(r.unanswered));
    match accounted {
        Some(n) if n <= r.sent => Ok(()),
        _ => Err(invalid(
            format!("{at}.requests"),
            format!(
                "{} ok + {} errors + {} unanswered is more than the {} calls sent",
                r.ok,
                errors.map_or_else(|| "too many".to_string(), |e| e.to_string()),
                r.unanswered,
                r.sent
            ),
        )),
    }
}

/// The replicas', the sidecars' and the waits' figures.
fn measured_by_servers(at: &str, s: &StrategyReport) -> Result<(), InvalidReport> {
    for (pod, r) in &s.replicas {
        let at = format!("{at}.replicas.{pod}");
        latency(&format!("{at}.queue_wait_ms"), &r.queue_wait_ms)?;
        latency(&format!("{at}.service_ms"), &r.service_ms)?;
        figure(|| format!("{at}.work.busy_ms"), r.work.busy_ms)?;
        figure(|| format!("{at}.work.wasted_ms"), r.work.wasted_ms)?;
    }
    if let Some(p) = &s.proxy {
        figure(
            || format!("{at}.proxy.retry_amplification"),
            p.retry_amplification,
        )?;
        for (pod, e) in &p.endpoints {
            latency(
                &format!("{at}.proxy.endpoints.{pod}.latency_ms"),
                &e.latency_ms,
            )?;
        }
    }
    for (hop, w) in &s.waits {
        latency(&format!("{at}.waits.{hop}.wait_ms"), &w.wait_ms)?;
    }
    Ok(())
}
