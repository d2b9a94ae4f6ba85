//! One strategy's run summarised as the report's [`StrategyReport`]:
//! calls, page loads, workload accounting, time series, sidecar counters.
//! loadgen's summaries become the report's types here (see the parent
//! module for why here).

use super::latency::{ms, report_latency};
use crate::driver::StrategyRun;
use crate::load::Answer;
use crate::proxy::metrics::ProxyMetrics;
use crate::scenario::Target;
use loadgen::{Fate, LatencyRecorder, Summary, TimeSeries};
use reports::{
    EndpointReport, Histograms, PageLoad, PageSummary, ProxyReport, Requests, SeriesPoint,
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
    let mut tally = Tally::new(run, settings.bucket);
    for record in &run.requests {
        tally.request(record, run.warmup);
    }
    let workload = Summary::of(&run.requests, run.warmup).with_never_sent(run.never_sent);
    let Tally {
        per_replica,
        per_replica_latency,
        errors,
        errors_from,
        all,
        series,
        measured_ok,
        answered,
        ok,
        page_loads,
    } = tally;
    let pages = run.target == Target::Page;
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
        pages: pages.then(|| PageSummary::of(&page_loads)),
        page_loads: if settings.page_detail {
            page_loads
        } else {
            Vec::new()
        },
        measured_ms: ms(settings.window.as_micros()),
        measured_ok,
        series_bucket_ms: ms(settings.bucket.as_micros()),
        failed_page_loads: if pages { workload.failed } else { 0 },
        sim_time_ms: ms(run.sim_time.as_micros()),
        per_replica_latency_ms: per_replica_latency
            .iter()
            .map(|(k, v)| (k.clone(), report_latency(v.summary())))
            .collect(),
        workload: Some(workload_report(settings.model, run.target, &workload)),
        series: series_points(series, run, settings.bucket),
        settings: run.settings.clone(),
        proxy: run.proxy.as_ref().map(proxy_report),
        histograms: Histograms {
            calls: encode_nonempty(&all),
            workload: encode_nonempty(&workload.corrected),
        },
        waits: crate::runner::waits::hops(run, settings.connections),
        replicas: crate::runner::waits::replicas(run, &per_replica, &errors_from),
        per_replica,
    }
}

/// The calls of a run's answered requests, counted once.
struct Tally {
    /// Successful calls by the replica that served them.
    per_replica: BTreeMap<String, u64>,
    per_replica_latency: BTreeMap<String, LatencyRecorder>,
    /// Failed calls by gRPC code.
    errors: BTreeMap<String, u64>,
    /// Failed calls by the replica whose answer they carried.
    errors_from: BTreeMap<String, u64>,
    /// Every call in the measured window.
    all: LatencyRecorder,
    series: TimeSeries,
    measured_ok: u64,
    answered: u64,
    ok: u64,
    page_loads: Vec<PageLoad>,
}

impl Tally {
    fn new(run: &StrategyRun, bucket: Duration) -> Self {
        Tally {
            // Every replica has a row, served or not.
            per_replica: run.stockdata_pods.iter().map(|p| (p.clone(), 0)).collect(),
            per_replica_latency: BTreeMap::new(),
            errors: BTreeMap::new(),
            errors_from: BTreeMap::new(),
            all: LatencyRecorder::new(),
            series: TimeSeries::with_bucket(bucket),
            measured_ok: 0,
            answered: 0,
            ok: 0,
            page_loads: Vec::new(),
        }
    }

    /// One workload request: its calls, and its page if it was one.
    fn request(&mut self, record: &loadgen::RequestRecord<Answer>, warmup: Duration) {
        let in_window = record.intended >= warmup;
        let Fate::Completed { answer, done } = record.fate() else {
            return;
        };
        let bucket = self.series.bucket(done);
        bucket.completed += 1;
        bucket.latency.record(done.saturating_sub(record.intended));
        let calls: Vec<&stockweb::Call> = match answer {
            Answer::Page(page) => page.calls.iter().collect(),
            Answer::Call(call) => vec![call],
        };
        let mut page = PageTally::default();
        for call in calls {
            self.call(call, done, in_window, &mut page);
        }
        self.all.merge(&page.latency);
        if let Answer::Page(p) = answer {
            self.page_loads.push(PageLoad {
                index: record.index,
                stockweb_pod: p.stockweb_pod.clone(),
                start_ms: ms(record.intended.as_micros()),
                duration_ms: ms(u128::from(p.elapsed_us)),
                per_replica: page.replicas,
                errors: page.errors,
                latency_ms: report_latency(page.latency.summary()),
            });
        }
    }

    /// One call of a request answered at `done`.
    fn call(
        &mut self,
        call: &stockweb::Call,
        done: Duration,
        in_window: bool,
        page: &mut PageTally,
    ) {
        self.answered += 1;
        self.series.bucket(done).calls += 1;
        if in_window {
            page.latency.record_us(call.latency_us);
        }
        if call.code == "OK" {
            self.ok += 1;
            self.measured_ok += u64::from(in_window);
            let server = call.server.clone().unwrap_or_else(|| "(unknown)".into());
            *page.replicas.entry(server.clone()).or_insert(0) += 1;
            *self.per_replica.entry(server.clone()).or_insert(0) += 1;
            if in_window {
                self.per_replica_latency
                    .entry(server)
                    .or_default()
                    .record_us(call.latency_us);
            }
        } else {
            self.series.bucket(done).call_errors += 1;
            if let Some(server) = &call.server {
                *self.errors_from.entry(server.clone()).or_insert(0) += 1;
            }
            *page.errors.entry(call.code.clone()).or_insert(0) += 1;
            *self.errors.entry(call.code.clone()).or_insert(0) += 1;
        }
    }
}

/// One page's calls.
#[derive(Default)]
struct PageTally {
    replicas: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    latency: LatencyRecorder,
}

/// The time series, one point per bucket through the last completion or
/// retry (retries after the last completion are points too).
fn series_points(series: TimeSeries, run: &StrategyRun, bucket: Duration) -> Vec<SeriesPoint> {
    let mut retries: BTreeMap<u64, u64> = BTreeMap::new();
    for (ms, n) in run.proxy.iter().flat_map(|p| &p.retries_by_ms) {
        let k = series.index(Duration::from_millis(*ms));
        *retries.entry(k).or_insert(0) += n;
    }
    let last = retries.keys().next_back().copied();
    series
        .dense_through(last)
        .into_iter()
        .map(|(k, b)| {
            let l = b.latency.summary();
            let start = bucket.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX));
            SeriesPoint {
                second: start.as_secs(),
                start_ms: Some(ms(start.as_micros())),
                throughput: b.completed,
                p50_ms: l.p50,
                p99_ms: l.p99,
                calls: b.calls,
                call_errors: b.call_errors,
                error_rate: ratio(b.call_errors, b.calls),
                retries: retries.get(&k).copied().unwrap_or(0),
            }
        })
        .collect()
}

/// The workload's own accounting (coordinated omission corrected).
fn workload_report(model: &str, target: Target, w: &Summary) -> WorkloadReport {
    WorkloadReport {
        model: model.to_string(),
        target: match target {
            Target::Page => "page".into(),
            Target::Get => "get".into(),
        },
        issued: w.issued,
        completed: w.completed,
        failed: w.failed,
        in_flight_at_end: w.in_flight_at_end,
        measured: w.measured,
        latency_ms: report_latency(w.corrected.summary()),
        latency_uncorrected_ms: report_latency(w.uncorrected.summary()),
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
