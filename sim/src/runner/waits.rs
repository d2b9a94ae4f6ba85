//! Where requests waited before a replica worked on them: the report's
//! `waits` (per hop, at each limit) and `replicas` (each replica's queue
//! against its service time).
//!
//! A request's latency is the sum of every wait on its way. A balancer can
//! only move the replica queue; a wait at a stream or connection limit is
//! a client-side queue that no balancing policy changes. Reporting them
//! apart is what keeps a reader from crediting (or blaming) the balancer
//! for a queue it never saw.

use super::latency::report_latency;
use crate::driver::StrategyRun;
use crate::load::Answer;
use crate::proxy::metrics::ProxyMetrics;
use loadgen::{Fate, LatencyRecorder};
use reports::{HopWait, ReplicaReport, ServerWork};
use std::collections::BTreeMap;
use stockdata::transport::h2::streams_text;

/// The waits of one strategy's run, by hop. `connections` is the open
/// loop's connection cap (`None` for other workloads, which have none).
pub fn hops(run: &StrategyRun, connections: Option<usize>) -> BTreeMap<String, HopWait> {
    let mut app = LatencyRecorder::new();
    let mut browser = LatencyRecorder::new();
    for record in &run.requests {
        if record.intended < run.warmup {
            continue;
        }
        if record.sent.is_some() {
            browser.record(record.connection_wait);
        }
        let Fate::Completed { answer, .. } = record.fate() else {
            continue;
        };
        let calls = match answer {
            Answer::Page(page) => page.calls.as_slice(),
            Answer::Call(call) => std::slice::from_ref(call),
        };
        for call in calls {
            app.record_us(call.stream_wait_us);
        }
    }
    let mut hops = BTreeMap::new();
    if let Some(limit) = connections {
        hops.insert(
            "browser_connections".to_string(),
            hop(format!("{limit} connections"), &browser),
        );
    }
    hops.insert(
        "app_streams".to_string(),
        hop(
            format!(
                "{} streams per connection to {}",
                streams_text(run.streams.app),
                run.streams.app_peer
            ),
            &app,
        ),
    );
    if let Some(proxy) = run.proxy.as_ref().filter(|p| !p.ready_wait.is_empty()) {
        hops.insert(
            "sidecar_ready".to_string(),
            hop("a ready endpoint".to_string(), &proxy.ready_wait),
        );
    }
    if let (Some(proxy), Some(limit)) = (&run.proxy, run.streams.endpoints) {
        let peer = match run.inbound {
            Some(_) => "an inbound sidecar",
            None => "a replica",
        };
        hops.insert(
            "sidecar_streams".to_string(),
            hop(
                format!("{} streams per connection to {peer}", streams_text(limit)),
                &proxy.stream_wait,
            ),
        );
        hops.insert(
            "sidecar_connect".to_string(),
            hop("connection setup".to_string(), &proxy.connect_wait),
        );
    }
    if let Some(inbound) = &run.inbound {
        inbound_hops(inbound, run.streams.inbound.flatten(), &mut hops);
    }
    hops
}

/// The inbound sidecars' waits: for the app to be connected (and, in
/// Linkerd's fail-fast queue, ready), and for a stream to the app.
fn inbound_hops(inbound: &ProxyMetrics, limit: Option<u32>, hops: &mut BTreeMap<String, HopWait>) {
    if !inbound.ready_wait.is_empty() {
        hops.insert(
            "inbound_ready".to_string(),
            hop("the app ready".to_string(), &inbound.ready_wait),
        );
    }
    hops.insert(
        "inbound_connect".to_string(),
        hop("connection to the app".to_string(), &inbound.connect_wait),
    );
    hops.insert(
        "inbound_streams".to_string(),
        hop(
            format!("{} streams per connection to the app", streams_text(limit)),
            &inbound.stream_wait,
        ),
    );
}

fn hop(limit: String, waits: &LatencyRecorder) -> HopWait {
    let h = waits.histogram();
    HopWait {
        limit,
        requests: h.len(),
        waited: h.len() - h.count_at(0),
        wait_ms: report_latency(waits.summary()),
    }
}

/// Each replica's queue wait, service time and work, with the calls the
/// application saw answered by it (`client_ok`, `client_errors`: by
/// `server-id`).
pub fn replicas(
    run: &StrategyRun,
    client_ok: &BTreeMap<String, u64>,
    client_errors: &BTreeMap<String, u64>,
) -> BTreeMap<String, ReplicaReport> {
    let count = |m: &BTreeMap<String, u64>, pod: &str| m.get(pod).copied().unwrap_or(0);
    run.replicas
        .iter()
        .map(|(pod, t)| {
            (
                pod.clone(),
                ReplicaReport {
                    requests: t.service.len(),
                    queue_wait_ms: report_latency(t.queue_wait.summary()),
                    service_ms: report_latency(t.service.summary()),
                    work: ServerWork {
                        busy_ms: exact_ms(t.busy),
                        wasted_ms: exact_ms(t.wasted),
                        answered_ok: t.answered_ok,
                        answered_error: t.answered_error,
                        abandoned: t.abandoned,
                        client_ok: count(client_ok, pod),
                        client_errors: count(client_errors, pod),
                    },
                },
            )
        })
        .collect()
}

/// A duration in ms, to the nanosecond (no histogram rounding).
fn exact_ms(d: std::time::Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}
