//! What the comparison can name: a different ranking, and the systematic
//! differences between the simulator and real mode.

use super::{FidelityRow, Finding};
use crate::Report;

/// Pairs (a, b) where a's p99 is lower than b's by more than `separation`
/// in the simulator but not lower in real mode.
pub(super) fn discordant(rows: &[FidelityRow], separation: f64) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for a in rows {
        for b in rows {
            let (sa, sb) = (a.sim_ms[2], b.sim_ms[2]);
            if sa * separation < sb && a.real_ms[2] >= b.real_ms[2] {
                out.push((a.strategy.clone(), b.strategy.clone()));
            }
        }
    }
    out
}

/// Mean time the replicas held a worker slot per request, over every
/// strategy of a report.
fn mean_service(r: &Report) -> Option<f64> {
    let mut t = crate::ReplicaTotals::default();
    for s in &r.strategies {
        t.add(s.replica_totals());
    }
    t.mean_service_ms()
}

/// Whether real replicas took noticeably longer per request than
/// simulated ones (the same drawn demands: a timer's overshoot).
pub(super) fn service_time(sim: &Report, real: &Report) -> Option<Finding> {
    let (s, r) = (mean_service(sim)?, mean_service(real)?);
    (r > s * 1.05).then(|| Finding {
        kind: "service-time".into(),
        text: format!(
            "the replicas held a worker for {r:.2} ms per request for real against \
             {s:.2} ms simulated (+{:.0} %), for the same drawn demands. A service time is \
             a timer, and real timers fire late: tokio's wheel rounds a deadline up to its \
             next millisecond and the thread then has to be scheduled. On millisecond \
             service times that is a capacity loss the simulator does not have, and near \
             saturation it decides the outcome (a queue at ρ = 0.8 grows ~5× faster than \
             the service time).",
            (r / s - 1.0) * 100.0
        ),
    })
}

/// The systematic differences visible in `rows`.
pub(super) fn findings(rows: &[FidelityRow], cores: Option<usize>) -> Vec<Finding> {
    let mut found = Vec::new();
    let offsets: Vec<f64> = rows.iter().map(|r| r.real_ms[0] - r.sim_ms[0]).collect();
    if !offsets.is_empty() && offsets.iter().all(|&d| d > 0.0) {
        let (lo, hi) = offsets
            .iter()
            .fold((f64::INFINITY, 0f64), |(a, b), &d| (a.min(d), b.max(d)));
        found.push(Finding {
            kind: "cpu-time".into(),
            text: format!(
                "real mode is slower at p50 in every strategy, by {lo:.1}–{hi:.1} ms. The \
                 simulator charges no CPU time: HTTP/2 and gRPC cost about 15 µs of CPU per \
                 request per hop, a page's 100 concurrent calls queue for {} core(s) in \
                 real mode, and every hop adds a kernel round trip on loopback.",
                cores.map_or_else(|| "the".to_string(), |c| c.to_string())
            ),
        });
    }
    let moved: Vec<String> = rows
        .iter()
        .filter(|r| {
            r.sim_errors.contains_key("UNAVAILABLE")
                && ["UNKNOWN", "CANCELLED", "INTERNAL"]
                    .iter()
                    .any(|c| r.real_errors.contains_key(*c) && !r.sim_errors.contains_key(*c))
        })
        .map(|r| r.strategy.clone())
        .collect();
    if !moved.is_empty() {
        found.push(Finding {
            kind: "error-codes".into(),
            text: format!(
                "{}: calls in flight on a connection that breaks end as UNKNOWN, CANCELLED \
                 or INTERNAL in real mode (the kernel resets the socket mid-stream and \
                 tonic reports what h2 saw) where the simulator's broken connection \
                 reports UNAVAILABLE.",
                moved.join(", ")
            ),
        });
    }
    let tails: Vec<String> = rows
        .iter()
        .filter(|r| r.ratio[2] > 2.0 * r.ratio[0].max(1.0))
        .map(|r| format!("{} (p99 ×{:.2})", r.strategy, r.ratio[2]))
        .collect();
    if !tails.is_empty() {
        found.push(Finding {
            kind: "tail-noise".into(),
            text: format!(
                "{}: the real tail grows far more than the median. On a shared machine \
                 with {} core(s) the p99 includes the scheduler (threads of the load \
                 generator, the pods and the sidecars compete) and timer slack, which the \
                 simulator's tick-exact clock does not have.",
                tails.join(", "),
                cores.map_or_else(|| "few".to_string(), |c| c.to_string())
            ),
        });
    }
    found
}
