//! Report assembly refuses runs whose requests do not add up, and names
//! the strategy whose run it was.

use sim::Strategy;
use sim::driver::StrategyRun;
use sim::load::{Answer, RequestRecord};
use sim::runner::assemble;
use sim::scenario::Target;
use std::collections::BTreeMap;
use std::time::Duration;

const SCENARIO: &str = "name = \"accounting\"\nstrategies = [\"cached-dns\", \"sidecar\"]\n";

fn call() -> Answer {
    Answer::Call(stockweb::Call {
        id: 2,
        code: "OK".into(),
        server: Some("stockdata-0".into()),
        latency_us: 1_000,
        stream_wait_us: 0,
    })
}

fn run(strategy: Strategy, requests: Vec<RequestRecord>) -> StrategyRun {
    StrategyRun {
        strategy,
        app_calls: requests.len() as u64,
        requests,
        never_sent: 0,
        warmup: Duration::ZERO,
        target: Target::Get,
        stockdata_pods: vec!["stockdata-0".into()],
        sim_time: Duration::from_millis(10),
        proxy: None,
        inbound: None,
        settings: BTreeMap::new(),
        events: Vec::new(),
        replicas: BTreeMap::new(),
        streams: Default::default(),
    }
}

fn completed(index: u64, done: Option<Duration>) -> RequestRecord {
    RequestRecord {
        index,
        intended: Duration::ZERO,
        sent: Some(Duration::ZERO),
        connection_wait: Duration::ZERO,
        done,
        outcome: Some(Ok(call())),
    }
}

#[test]
fn consistent_runs_assemble() {
    let scenario = sim::Scenario::parse(SCENARIO, "accounting.toml").expect("parses");
    let ms = Some(Duration::from_millis(1));
    let runs = [
        run(scenario.strategies[0], vec![completed(0, ms)]),
        run(scenario.strategies[1], vec![completed(0, ms)]),
    ];
    let report = assemble(&scenario, 7, &runs).expect("balanced");
    assert_eq!(report.strategies.len(), 2);
}

#[test]
fn an_unaccounted_request_fails_the_run_of_its_own_strategy() {
    let scenario = sim::Scenario::parse(SCENARIO, "accounting.toml").expect("parses");
    let (first, second) = (scenario.strategies[0], scenario.strategies[1]);
    let ms = Some(Duration::from_millis(1));
    // The second run has an answer without a completion time: neither
    // completed, failed nor in flight.
    let runs = [
        run(first, vec![completed(0, ms)]),
        run(second, vec![completed(0, ms), completed(1, None)]),
    ];
    let err = assemble(&scenario, 7, &runs).expect_err("request 1 is unaccounted for");
    assert_eq!(err.strategy, second, "{err}");
    assert!(err.to_string().contains("sidecar:round-robin"), "{err}");
    assert!(err.to_string().contains("MESHSIM_SEED=7"), "{err}");
}

fn failed(index: u64) -> RequestRecord {
    RequestRecord {
        index,
        intended: Duration::ZERO,
        sent: Some(Duration::ZERO),
        connection_wait: Duration::ZERO,
        done: Some(Duration::from_millis(1)),
        outcome: Some(Err("connection reset".into())),
    }
}

#[test]
fn calls_of_a_failed_request_are_sent_but_unanswered() {
    let scenario = sim::Scenario::parse(SCENARIO, "accounting.toml").expect("parses");
    let ms = Some(Duration::from_millis(1));
    // Two `get`s, one failed: the app made both calls (D16).
    let runs = [
        run(scenario.strategies[0], vec![completed(0, ms), failed(1)]),
        run(scenario.strategies[1], vec![completed(0, ms)]),
    ];
    let report = assemble(&scenario, 7, &runs).expect("balanced");
    let r = &report.strategies[0].requests;
    assert_eq!((r.sent, r.ok, r.unanswered), (2, 1, 1));
}

#[test]
fn calls_the_app_made_but_no_request_explains_fail_the_run() {
    let scenario = sim::Scenario::parse(SCENARIO, "accounting.toml").expect("parses");
    let ms = Some(Duration::from_millis(1));
    let mut lost = run(scenario.strategies[0], vec![completed(0, ms)]);
    // Every request completed, yet the app made a call no answer holds.
    lost.app_calls = 2;
    let runs = [lost, run(scenario.strategies[1], vec![completed(0, ms)])];
    let err = assemble(&scenario, 7, &runs).expect_err("a call is in no count");
    assert!(err.to_string().contains("without an answer"), "{err}");
}

#[test]
fn the_sidecars_count_must_match_the_apps() {
    let scenario = sim::Scenario::parse(SCENARIO, "accounting.toml").expect("parses");
    let ms = Some(Duration::from_millis(1));
    let mut sidecar = run(scenario.strategies[1], vec![completed(0, ms)]);
    sidecar.proxy = Some(sim::proxy::metrics::ProxyMetrics {
        requests: 2,
        ..Default::default()
    });
    let runs = [run(scenario.strategies[0], vec![completed(0, ms)]), sidecar];
    let err = assemble(&scenario, 7, &runs).expect_err("the sidecar saw another call");
    assert!(err.to_string().contains("its sidecars received 2"), "{err}");
}
