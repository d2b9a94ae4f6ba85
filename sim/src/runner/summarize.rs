//! One strategy's run summarised as the report's [`StrategyReport`]:
//! calls, page loads, workload accounting, time series, sidecar counters.
//! loadgen's summaries become the report's types here (see the parent
//! module for why here).

use crate::proxy::metrics::ProxyMetrics;
use crate::scenario::Target;
use crate::world::StrategyRun;
use crate::world::browser::Answer;
use loadgen::{Fate, LatencyRecorder, LatencySummary, Summary, TimeSeries};
use reports::{
    EndpointReport, Histograms, Latency, PageLoad, PageSummary, ProxyReport, Requests, SeriesPoint,
    StrategyReport, WorkloadReport,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// How a run becomes a report, read once from the scenario.
#[derive(Debug, Clone, Copy)]
pub struct ReportSettings {
    /// The workload model's name (`schedule`, `open`, `closed`).
    pub model: &'static str,
    /// The open loop's connection cap.
    pub connections: Option<usize>,
    /// The measured window's length (throughput is over it).
    pub window: Duration,
    /// The time series' bucket.
    pub bucket: Duration,
    /// Keep every page load in the report.
    pub page_detail: bool,
}

/// Summarises one strategy's run: calls, page loads, workload accounting,
/// time series.
pub fn strategy_report(run: &StrategyRun, settings: &ReportSettings) -> StrategyReport {
    let (model, connections) = (settings.model, settings.connections);
    let mut per_replica: BTreeMap<String, u64> =
        run.stockdata_pods.iter().map(|p| (p.clone(), 0)).collect();
    let mut per_replica_latency: BTreeMap<String, LatencyRecorder> = BTreeMap::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    // Failed calls per replica whose answer they carried.
    let mut errors_from: BTreeMap<String, u64> = BTreeMap::new();
    let mut all = LatencyRecorder::new();
    let mut series = TimeSeries::with_bucket(settings.bucket);
    let mut measured_ok = 0u64;
    let (mut answered, mut ok) = (0u64, 0u64);
    let mut page_loads = Vec::new();
    let workload = Summary::of(&run.requests, run.warmup);
    for record in &run.requests {
        let in_window = record.intended >= run.warmup;
        let Fate::Completed { answer, done } = record.fate() else {
            continue;
        };
        let bucket = series.bucket(done);
        bucket.completed += 1;
        bucket.latency.record(done.saturating_sub(record.intended));
        let calls: Vec<&stockweb::Call> = match answer {
            Answer::Page(page) => page.calls.iter().collect(),
            Answer::Call(call) => vec![call],
        };
        let mut page_replicas = BTreeMap::new();
        let mut page_errors = BTreeMap::new();
        let mut latency = LatencyRecorder::new();
        for call in calls {
            answered += 1;
            let bucket = series.bucket(done);
            bucket.calls += 1;
            if in_window {
                latency.record_us(call.latency_us);
            }
            if call.code == "OK" {
                ok += 1;
                measured_ok += u64::from(in_window);
                let server = call.server.clone().unwrap_or_else(|| "(unknown)".into());
                *page_replicas.entry(server.clone()).or_insert(0) += 1;
                *per_replica.entry(server.clone()).or_insert(0) += 1;
                if in_window {
                    per_replica_latency
                        .entry(server)
                        .or_default()
                        .record_us(call.latency_us);
                }
            } else {
                series.bucket(done).call_errors += 1;
                if let Some(server) = &call.server {
                    *errors_from.entry(server.clone()).or_insert(0) += 1;
                }
                *page_errors.entry(call.code.clone()).or_insert(0) += 1;
                *errors.entry(call.code.clone()).or_insert(0) += 1;
            }
        }
        all.merge(&latency);
        if let Answer::Page(page) = answer {
            page_loads.push(PageLoad {
                index: record.index,
                stockweb_pod: page.stockweb_pod.clone(),
                start_ms: ms(record.intended.as_micros()),
                duration_ms: ms(u128::from(page.elapsed_us)),
                per_replica: page_replicas,
                errors: page_errors,
                latency_ms: report_latency(latency.summary()),
            });
        }
    }
    let mut retries: BTreeMap<u64, u64> = BTreeMap::new();
    for (ms, n) in run.proxy.iter().flat_map(|p| &p.retries_by_ms) {
        let k = series.index(Duration::from_millis(*ms));
        *retries.entry(k).or_insert(0) += n;
    }
    // Retries after the last completion are points too.
    let last = retries.keys().next_back().copied();
    let series = series
        .dense_through(last)
        .into_iter()
        .map(|(bucket, b)| {
            let l = b.latency.summary();
            let start = settings
                .bucket
                .saturating_mul(u32::try_from(bucket).unwrap_or(u32::MAX));
            SeriesPoint {
                second: start.as_secs(),
                start_ms: Some(ms(start.as_micros())),
                throughput: b.completed,
                p50_ms: l.p50,
                p99_ms: l.p99,
                calls: b.calls,
                call_errors: b.call_errors,
                error_rate: ratio(b.call_errors, b.calls),
                retries: retries.get(&bucket).copied().unwrap_or(0),
            }
        })
        .collect();
    StrategyReport {
        name: run.strategy.to_string(),
        requests: Requests {
            // Counted where the calls are made: the calls of a page that
            // never reached the browser are in no answer.
            sent: run.app_calls,
            ok,
            errors,
            unanswered: run.app_calls.saturating_sub(answered),
        },
        latency_ms: report_latency(all.summary()),
        pages: (run.target == Target::Page).then(|| PageSummary::of(&page_loads)),
        page_loads: if settings.page_detail {
            page_loads
        } else {
            Vec::new()
        },
        measured_ms: ms(settings.window.as_micros()),
        measured_ok,
        series_bucket_ms: ms(settings.bucket.as_micros()),
        failed_page_loads: if run.target == Target::Page {
            workload.failed
        } else {
            0
        },
        sim_time_ms: ms(run.sim_time.as_micros()),
        per_replica_latency_ms: per_replica_latency
            .iter()
            .map(|(k, v)| (k.clone(), report_latency(v.summary())))
            .collect(),
        workload: Some(WorkloadReport {
            model: model.to_string(),
            target: match run.target {
                Target::Page => "page".into(),
                Target::Get => "get".into(),
            },
            issued: workload.issued,
            completed: workload.completed,
            failed: workload.failed,
            in_flight_at_end: workload.in_flight_at_end,
            measured: workload.measured,
            latency_ms: report_latency(workload.corrected.summary()),
            latency_uncorrected_ms: report_latency(workload.uncorrected.summary()),
        }),
        series,
        settings: run.settings.clone(),
        proxy: run.proxy.as_ref().map(proxy_report),
        histograms: Histograms {
            calls: encode_nonempty(&all),
            workload: encode_nonempty(&workload.corrected),
        },
        waits: crate::waits::hops(run, connections),
        replicas: crate::waits::replicas(run, &per_replica, &errors_from),
        per_replica,
    }
}

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

fn encode_nonempty(rec: &LatencyRecorder) -> String {
    if rec.is_empty() {
        String::new()
    } else {
        reports::hist::encode(rec.histogram())
    }
}

fn proxy_report(m: &ProxyMetrics) -> ProxyReport {
    ProxyReport {
        requests: m.requests,
        attempts: m.attempts,
        retry_amplification: ratio(m.attempts, m.requests),
        retries_refused: m.retries_refused,
        timeouts: m.timeouts,
        no_endpoints: m.no_endpoints,
        redispatched: m.redispatched,
        endpoints: m
            .endpoints
            .iter()
            .map(|(pod, e)| {
                (
                    pod.clone(),
                    EndpointReport {
                        requests: e.requests,
                        retries: e.retries,
                        successes: e.successes,
                        failures: e.failures.clone(),
                        ejections: e.ejections,
                        latency_ms: report_latency(e.latency.summary()),
                    },
                )
            })
            .collect(),
    }
}

/// `a / b` rounded to 4 decimals (stable, readable bytes); 0 when `b` is 0.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        (a as f64 / b as f64 * 1e4).round() / 1e4
    }
}

pub(crate) fn ms(us: u128) -> f64 {
    us as f64 / 1000.0
}
