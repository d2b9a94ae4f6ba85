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

mod latency;
mod summarize;
pub mod waits;

pub use summarize::{ReportSettings, strategy_report};

use crate::backend::{Mode, run_strategy};
use crate::driver::StrategyRun;
use crate::scenario::Model;
use crate::scenario::Scenario;
use crate::strategy::Strategy;
use latency::ms;
use reports::{Report, StrategyReport};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The meshsim version written into every report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

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

/// `scenario` with each peer strategy (nginx, haproxy, Caddy) right after
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

/// Runs every strategy in `scenario` for real (`crate::backend::real`), one after
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
    crate::backend::real::check(scenario).map_err(|message| RunError {
        strategy: first,
        seed,
        message,
    })?;
    let scenario = &with_counterparts(scenario);
    let mut runs = Vec::new();
    for &strategy in &scenario.strategies {
        let run = run_strategy(Mode::Real, scenario, strategy, seed).map_err(|e| RunError {
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
    let mut report = Report::new(VERSION, seed, scenario.name(), scenario.hash(), strategies);
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
                    let result =
                        run_strategy(Mode::Simulated, scenario, strategy, seed).map_err(|e| {
                            RunError {
                                strategy,
                                seed,
                                message: e.to_string(),
                            }
                        });
                    on_done(i, strategy);
                    crate::sync::lock(&results)[i] = Some(result);
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
