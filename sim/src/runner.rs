//! Runs every strategy of a scenario and builds the report.
//!
//! Each strategy runs in its own simulation from the same seed, so all of
//! them see the same page-load times and the same per-replica service-time
//! streams; the only difference between rows is the strategy. Strategies run
//! on worker threads (up to the number of cores) and results are put back in
//! scenario order, so the report's bytes never depend on scheduling.
//!
//! loadgen's summaries become the report's types here, not in `reports`:
//! `reports` is the model of `report.json` that readers (`meshsim report`,
//! `compare`, the HTML) use without running anything, and `loadgen` must
//! stay free of the report model to drive real sockets. The crate that
//! composes a run into a report is the one place that knows both.

use crate::proxy::metrics::ProxyMetrics;
use crate::scenario::Scenario;
use crate::scenario::{Model, Target};
use crate::strategy::Strategy;
use crate::world::browser::Answer;
use crate::world::{StrategyRun, run_strategy};
use loadgen::{Fate, LatencyRecorder, LatencySummary, Summary, TimeSeries};
use reports::{
    EndpointReport, Histograms, Latency, PageLoad, PageSummary, ProxyReport, Report, Requests,
    SeriesPoint, StrategyReport, WorkloadReport,
};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A strategy's simulation failed.
#[derive(Debug, thiserror::Error)]
#[error("strategy {strategy}: {message} (rerun with MESHSIM_SEED={seed})")]
pub struct RunError {
    /// The strategy whose run failed.
    pub strategy: Strategy,
    /// The seed of the run.
    pub seed: u64,
    /// What went wrong.
    pub message: String,
}

/// Runs every strategy in `scenario` with `seed` and returns the report.
/// `on_done` is called as each strategy finishes (for progress display).
pub fn run(
    scenario: &Scenario,
    seed: u64,
    on_done: impl Fn(Strategy) + Sync,
) -> Result<Report, RunError> {
    sim_only(scenario, seed)?;
    let runs = run_all(scenario, seed, &on_done)?;
    assemble(scenario, seed, &runs)
}

/// `scenario` with each peer strategy (nginx, haproxy) right after
/// meshsim's own policy of the same name, which is added if missing, so a
/// report always shows the two side by side.
pub fn with_counterparts(scenario: &Scenario) -> Scenario {
    let mut ordered: Vec<Strategy> = Vec::new();
    for &strategy in &scenario.strategies {
        if ordered.contains(&strategy) {
            continue;
        }
        let Some(own) = strategy.own_counterpart() else {
            ordered.push(strategy);
            continue;
        };
        match ordered.iter().position(|x| *x == own) {
            Some(i) => {
                // After its own policy and the peers already beside it.
                let mut j = i + 1;
                while ordered
                    .get(j)
                    .is_some_and(|x| x.own_counterpart() == Some(own))
                {
                    j += 1;
                }
                ordered.insert(j, strategy);
            }
            None => ordered.extend([own, strategy]),
        }
    }
    let mut s = scenario.clone();
    s.strategies = ordered;
    s
}

/// Refuses strategies the simulator cannot run (real proxies as peers).
pub fn sim_only(scenario: &Scenario, seed: u64) -> Result<(), RunError> {
    match scenario.strategies.iter().find(|s| s.is_real_only()) {
        Some(&strategy) => Err(RunError {
            strategy,
            seed,
            message: format!(
                "`{strategy}` runs a real proxy process and needs real mode \
                 (meshsim run --real, or meshsim fidelity, which runs it for real next to \
                 meshsim's own policy)"
            ),
        }),
        None => Ok(()),
    }
}

/// Runs every strategy in `scenario` for real (`crate::real`), one after
/// another so they do not compete for the machine, and returns the report
/// (`mode: "real"`, with the host's cores). The scenario is checked for
/// what real mode cannot run before anything starts.
pub fn run_real(
    scenario: &Scenario,
    seed: u64,
    on_done: impl Fn(Strategy),
) -> Result<Report, RunError> {
    let first = scenario
        .strategies
        .first()
        .copied()
        .unwrap_or(Strategy::CachedDns);
    crate::real::check(scenario).map_err(|message| RunError {
        strategy: first,
        seed,
        message,
    })?;
    let scenario = &with_counterparts(scenario);
    let mut runs = Vec::new();
    for &strategy in &scenario.strategies {
        let run = crate::real::run_strategy(scenario, strategy, seed).map_err(|e| RunError {
            strategy,
            seed,
            message: e.to_string(),
        })?;
        on_done(strategy);
        runs.push(run);
    }
    let mut report = assemble(scenario, seed, &runs)?;
    report.mode = reports::Mode::Real;
    report.host_cores = Some(std::thread::available_parallelism().map_or(1, |n| n.get()));
    Ok(report)
}

/// Builds the report of one scenario from its strategies' runs (in
/// scenario order), checking that every request is accounted for.
pub fn assemble(scenario: &Scenario, seed: u64, runs: &[StrategyRun]) -> Result<Report, RunError> {
    let model = match scenario.workload.as_ref().map(|w| w.model) {
        None => "schedule",
        Some(Model::Open) => "open",
        Some(Model::Closed) => "closed",
    };
    let settings = ReportSettings {
        model,
        // The open loop's connection cap (the other workloads have none).
        connections: scenario.workload.as_ref().and_then(|w| w.connection_cap()),
        window: scenario.measured_window(),
        bucket: scenario.series_bucket(),
        page_detail: scenario.report.page_detail,
    };
    let strategies: Vec<StrategyReport> =
        runs.iter().map(|r| strategy_report(r, &settings)).collect();
    for (run, s) in runs.iter().zip(&strategies) {
        crate::accounting::check(run.target, s).map_err(|message| RunError {
            strategy: run.strategy,
            seed,
            message,
        })?;
    }
    let mut report = Report::new(
        crate::VERSION,
        seed,
        scenario.name(),
        scenario.hash(),
        strategies,
    );
    report.scenario.source = scenario.source.clone();
    report.timeline = runs
        .first()
        .map(|r| {
            r.events
                .iter()
                .map(|(at, event)| reports::TimelineEntry {
                    at_ms: ms(at.as_micros()),
                    event: event.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(report)
}

/// Runs every strategy and returns the raw runs in scenario order.
pub fn run_all(
    scenario: &Scenario,
    seed: u64,
    on_done: &(impl Fn(Strategy) + Sync),
) -> Result<Vec<StrategyRun>, RunError> {
    let jobs: Vec<(&Scenario, Strategy, u64)> = scenario
        .strategies
        .iter()
        .map(|&s| (scenario, s, seed))
        .collect();
    run_jobs(&jobs, &|_, s| on_done(s)).into_iter().collect()
}

/// Runs `(scenario, strategy, seed)` jobs on worker threads (up to the number of
/// cores) and returns their results in job order, so what is built from
/// them never depends on scheduling. `on_done(job index, strategy)` is
/// called as each finishes.
pub fn run_jobs(
    jobs: &[(&Scenario, Strategy, u64)],
    on_done: &(impl Fn(usize, Strategy) + Sync),
) -> Vec<Result<StrategyRun, RunError>> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(jobs.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<StrategyRun, RunError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(scenario, strategy, seed)) = jobs.get(i) else {
                        break;
                    };
                    let result = run_strategy(scenario, strategy, seed).map_err(|e| RunError {
                        strategy,
                        seed,
                        message: e.to_string(),
                    });
                    on_done(i, strategy);
                    crate::lock(&results)[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .zip(jobs)
        .map(|(r, &(_, strategy, seed))| {
            r.unwrap_or_else(|| {
                Err(RunError {
                    strategy,
                    seed,
                    message: "worker thread panicked".into(),
                })
            })
        })
        .collect()
}

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
    let series = series
        .dense()
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

fn ms(us: u128) -> f64 {
    us as f64 / 1000.0
}
