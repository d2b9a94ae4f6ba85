//! Error faults and what the servers paid.
//!
//! Known answers: with constant service times (a whole number of ticks)
//! and nothing retried or cancelled, a replica's busy time is exactly the
//! number of calls it served times the service time; with
//! `honor_cancellation = false` and a request timeout shorter than the
//! service time, every call is abandoned and all of its work is wasted.
//! Policies react to injected errors as to real ones: outlier detection
//! ejects after `consecutive_5xx` (5) failures in a row, Linkerd's failure
//! accrual trips after 7, and each probe after a trip costs one failure.

use reports::{Report, ServerWork, StrategyReport};
use sim::Scenario;

const SEED: u64 = 11;

/// Runs with every page load kept in the report (some tests read them).
fn run(text: &str) -> Report {
    let mut scenario = Scenario::parse(text, "faults.toml").expect("scenario parses");
    scenario.report.page_detail = true;
    sim::run(&scenario, SEED, |_| {}).unwrap_or_else(|e| panic!("seed {SEED}: {e}"))
}

fn strategy<'a>(report: &'a Report, name: &str) -> &'a StrategyReport {
    report
        .strategies
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("seed {SEED}: no strategy {name}"))
}

fn work(s: &StrategyReport, pod: &str) -> ServerWork {
    s.replicas
        .get(pod)
        .unwrap_or_else(|| panic!("seed {SEED}: {}: no replica {pod}", s.name))
        .work
}

#[test]
fn busy_time_is_the_sum_of_the_service_times_served() {
    let report = run(r#"
name = "exact-work"
strategies = ["cached-dns", "sidecar:round-robin"]
[stockdata]
replicas = 2
service_time = { distribution = "constant", value = "3ms" }
[load]
page_loads = 5
"#);
    for s in &report.strategies {
        let total = s.server_work();
        assert_eq!(total.answered_ok, 500, "seed {SEED}: {}: {total:?}", s.name);
        assert_eq!(total.busy_ms, 500.0 * 3.0, "seed {SEED}: {}", s.name);
        assert_eq!(total.wasted_ms, 0.0, "seed {SEED}: {}", s.name);
        for (pod, r) in &s.replicas {
            // The replica's own count, the calls the app saw from it, and
            // its busy time all agree.
            assert_eq!(r.work.answered_ok, s.per_replica[pod], "{}: {pod}", s.name);
            assert_eq!(r.work.client_ok, r.work.answered_ok, "{}: {pod}", s.name);
            assert_eq!(r.work.busy_ms, r.work.answered_ok as f64 * 3.0);
        }
    }
}

#[test]
fn abandoned_work_that_goes_on_is_all_wasted() {
    let text = |honor: bool| {
        format!(
            r#"
name = "abandoned"
strategies = ["sidecar:round-robin"]
[stockdata]
replicas = 2
concurrency = 100
honor_cancellation = {honor}
service_time = {{ distribution = "constant", value = "50ms" }}
[sidecar]
request_timeout = "20ms"
[load]
page_loads = 2
interval = "500ms"
"#
        )
    };
    let finished = run(&text(false));
    let s = &finished.strategies[0];
    assert_eq!(s.requests.ok, 0, "seed {SEED}: every call times out");
    let w = s.server_work();
    // Every call was abandoned, and each still held its worker for its
    // whole 50 ms: all of it wasted.
    assert_eq!(w.abandoned, 200, "seed {SEED}: {w:?}");
    assert_eq!(w.busy_ms, 200.0 * 50.0, "seed {SEED}: {w:?}");
    assert_eq!(w.wasted_ms, w.busy_ms, "seed {SEED}: {w:?}");
    assert_eq!(w.answered_ok + w.client_ok, 0, "seed {SEED}: {w:?}");

    // Honoring cancellation stops each call's work when the sidecar gives
    // up on it, at 20 ms (plus a millisecond of network each way).
    let cut = run(&text(true));
    let w = cut.strategies[0].server_work();
    assert_eq!(w.abandoned, 200, "seed {SEED}: {w:?}");
    assert_eq!(w.wasted_ms, w.busy_ms, "seed {SEED}: {w:?}");
    let per_call = w.busy_ms / 200.0;
    assert!(
        (17.0..=22.0).contains(&per_call),
        "seed {SEED}: each abandoned call worked until its cancel arrived: {per_call} ms"
    );
}

/// One user sending one `get` at a time, so an endpoint's failures arrive
/// strictly one after another and the counts are exact.
fn sequential(strategies: &str, fault: &str) -> String {
    format!(
        r#"
name = "one-at-a-time"
strategies = [{strategies}]
time_limit = "30s"
[stockdata]
replicas = 3
service_time = {{ distribution = "constant", value = "2ms" }}
[sidecar]
max_ejection_percent = 50
[workload]
target = "get"
model = "closed"
users = 1
duration = "4s"
drain = "1s"
[[timeline]]
at = "1s"
duration = "2s"
pod = "stockdata-1"
{fault}
"#
    )
}

#[test]
fn outlier_detection_ejects_after_consecutive_5xx_and_accrual_after_seven() {
    let report = run(&sequential(
        r#""sidecar:round-robin", "istio+outlier", "linkerd+accrual""#,
        r#"kind = "errors""#,
    ));
    let endpoint = |name: &str| {
        strategy(&report, name)
            .proxy
            .as_ref()
            .expect("a sidecar")
            .endpoints["stockdata-1"]
            .clone()
    };
    // Without a breaker a third of the window's calls fail on stockdata-1.
    let plain = endpoint("sidecar:round-robin");
    assert!(plain.failures["UNAVAILABLE"] > 50, "seed {SEED}: {plain:?}");
    // Envoy: ejected at its 5th consecutive failure, for base_ejection_time
    // (30 s): longer than the fault, so no further failure.
    let envoy = endpoint("istio+outlier");
    assert_eq!(envoy.ejections, 1, "seed {SEED}: {envoy:?}");
    assert_eq!(envoy.failures["UNAVAILABLE"], 5, "seed {SEED}: {envoy:?}");
    // Istio's retries hide those five from the app.
    assert_eq!(strategy(&report, "istio+outlier").requests.errors.len(), 0);
    // Linkerd: trips at 7 consecutive failures; each later probe fails once
    // and trips it again.
    let linkerd = endpoint("linkerd+accrual");
    let trips = linkerd.ejections;
    assert!(trips >= 1, "seed {SEED}: {linkerd:?}");
    assert_eq!(
        linkerd.failures["UNAVAILABLE"],
        7 + (trips - 1),
        "seed {SEED}: {linkerd:?}"
    );
}

#[test]
fn slow_errors_cost_the_server_their_service_time_and_fast_ones_nothing() {
    let fast = run(&sequential(
        r#""sidecar:round-robin""#,
        r#"kind = "errors""#,
    ));
    let slow = run(&sequential(
        r#""sidecar:round-robin""#,
        "kind = \"errors\"\nafter_service = true",
    ));
    let (f, s) = (
        work(&fast.strategies[0], "stockdata-1"),
        work(&slow.strategies[0], "stockdata-1"),
    );
    assert_eq!(f.wasted_ms, 0.0, "seed {SEED}: {f:?}");
    assert!(f.answered_error > 50, "seed {SEED}: {f:?}");
    assert_eq!(
        s.wasted_ms,
        s.answered_error as f64 * 2.0,
        "seed {SEED}: each slow error held a worker for its 2 ms: {s:?}"
    );
    assert_eq!(s.client_errors, s.answered_error, "no retries: {s:?}");
}

#[test]
fn overload_refuses_only_above_its_limit() {
    // 100 concurrent calls per page at one replica with a limit of 30:
    // the 31st and later calls of each burst are refused.
    let report = run(r#"
name = "overload"
strategies = ["cached-dns"]
[stockdata]
replicas = 1
service_time = { distribution = "constant", value = "2ms" }
[load]
page_loads = 4
interval = "200ms"
[[timeline]]
at = "0s"
kind = "overload"
pod = "stockdata-0"
limit = 30
duration = "10s"
"#);
    let s = &report.strategies[0];
    assert_eq!(s.requests.ok, 4 * 30, "seed {SEED}: {:?}", s.requests);
    assert_eq!(s.requests.errors["RESOURCE_EXHAUSTED"], 4 * 70);
    let w = work(s, "stockdata-0");
    assert_eq!((w.answered_ok, w.answered_error), (120, 280), "{w:?}");
}

#[test]
fn pin_until_error_moves_after_the_first_failure() {
    let pinned = |report: &Report| -> Vec<String> {
        report.strategies[0]
            .per_replica
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(pod, _)| pod.clone())
            .collect()
    };
    // Without faults, every call goes to one replica.
    let quiet = run(&sequential(
        r#""pin-until-error""#,
        "kind = \"slow\"\nfactor = 1.0",
    ));
    let first = pinned(&quiet);
    assert_eq!(first.len(), 1, "seed {SEED}: {first:?}");
    // That replica answers errors from 1 s: exactly one call fails (one
    // user, one call at a time), and every later call goes elsewhere.
    let text = sequential(r#""pin-until-error""#, r#"kind = "errors""#)
        .replace("pod = \"stockdata-1\"", &format!("pod = \"{}\"", first[0]));
    let report = run(&text);
    let s = &report.strategies[0];
    assert_eq!(
        s.requests.errors.values().sum::<u64>(),
        1,
        "seed {SEED}: {:?}",
        s.requests
    );
    let w = work(s, &first[0]);
    assert_eq!(w.answered_error, 1, "seed {SEED}: {w:?}");
    let now = pinned(&report);
    assert_eq!(
        now.len(),
        2,
        "seed {SEED}: moved to one other replica: {now:?}"
    );
    // A 429 does not move it: with RESOURCE_EXHAUSTED every call in the
    // window fails on the same replica.
    let limited = run(&text.replace(
        r#"kind = "errors""#,
        "kind = \"errors\"\ncode = \"RESOURCE_EXHAUSTED\"",
    ));
    let s = &limited.strategies[0];
    assert!(
        s.requests.errors["RESOURCE_EXHAUSTED"] > 50,
        "seed {SEED}: {:?}",
        s.requests
    );
    assert_eq!(pinned(&limited), first, "seed {SEED}");
}

/// Share of `pod` among the successful calls of the page loads that start
/// in `[from, to)` seconds.
fn page_share(s: &StrategyReport, pod: &str, from: f64, to: f64) -> f64 {
    let (mut on, mut all) = (0u64, 0u64);
    for p in &s.page_loads {
        if p.start_ms >= from * 1000.0 && p.start_ms < to * 1000.0 {
            on += p.per_replica.get(pod).copied().unwrap_or(0);
            all += p.per_replica.values().sum::<u64>();
        }
    }
    on as f64 / all.max(1) as f64
}

#[test]
fn orca_weighted_round_robin_shifts_traffic_off_a_busy_replica_after_its_blackout() {
    // stockdata-2 takes ten times as long per request: at a third of the
    // traffic its worker slots are ten times as busy, and its reports say
    // so. gRPC WRR's weight, qps / utilization, is then slots / service
    // time: 400/s against 4,000/s, so it should get 400 / 8,400 = 4.8 %.
    let report = run(r#"
name = "orca"
strategies = ["sidecar:round-robin", "sidecar:wrr"]
time_limit = "60s"
[stockdata]
replicas = 3
service_time = { distribution = "exponential", mean = "2ms" }
slowdown = { stockdata-2 = 10.0 }
[load]
page_loads = 200
interval = "100ms"
"#);
    let rr = strategy(&report, "sidecar:round-robin");
    let wrr = strategy(&report, "sidecar:wrr");
    for s in [rr, wrr] {
        let before = page_share(s, "stockdata-2", 0.0, 10.0);
        assert!(
            (before - 1.0 / 3.0).abs() < 0.01,
            "seed {SEED}: {}: {before}",
            s.name
        );
    }
    // After A58's 10 s blackout (plus a second of reports and a scheduler
    // update), WRR moves traffic off it; round robin never does.
    let after = page_share(wrr, "stockdata-2", 12.0, 20.1);
    assert!(
        (0.03..0.07).contains(&after),
        "seed {SEED}: WRR's share for the busy replica {after}"
    );
    let rr_after = page_share(rr, "stockdata-2", 12.0, 20.1);
    assert!(
        (rr_after - 1.0 / 3.0).abs() < 0.01,
        "seed {SEED}: {rr_after}"
    );
    assert!(wrr.latency_ms.p99 < rr.latency_ms.p99, "seed {SEED}");
}

#[test]
fn retry_storm_wastes_more_server_work_as_retries_amplify() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/retry-storm.toml");
    let scenario = Scenario::load(&path).expect("retry-storm loads");
    let report = sim::run(&scenario, scenario.seed, |_| {}).expect("runs");
    let mut rows: Vec<(f64, f64, f64)> = report
        .strategies
        .iter()
        .map(|s| {
            let w = s.server_work();
            let amp = s.proxy.as_ref().expect("sidecars").retry_amplification;
            (amp, w.busy_ms, w.wasted_pct())
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    for pair in rows.windows(2) {
        assert!(
            pair[1].1 > pair[0].1 && pair[1].2 > pair[0].2,
            "seed {}: more attempts, more server work and a larger wasted share: {rows:?}",
            scenario.seed
        );
    }
}

#[test]
fn in_fast_errors_outlier_detection_ejects_and_accrual_trips_within_the_first_page() {
    // The bundled scenario (its baseline matches a fresh run, see
    // `scenarios`): ten replicas, one page of 100 calls every 100 ms, so a
    // page puts ~10 calls on stockdata-0 at once. Both breakers must open
    // on the first page of the fault (its 5th or 7th failure), so at most
    // that page's ~10 calls fail there, plus one per Linkerd probe; without
    // a breaker about 200 do.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/baselines/fast-errors.json");
    let report = Report::from_json_slice(&std::fs::read(path).expect("baseline")).expect("report");
    let endpoint = |name: &str| {
        strategy(&report, name)
            .proxy
            .as_ref()
            .expect("a sidecar")
            .endpoints["stockdata-0"]
            .clone()
    };
    let failures = |e: &reports::EndpointReport| e.failures.values().sum::<u64>();
    assert!(failures(&endpoint("sidecar:round-robin")) >= 190);
    for name in ["istio+outlier", "consul"] {
        let e = endpoint(name);
        assert_eq!(e.ejections, 1, "{name}: {e:?}");
        assert!((5..=11).contains(&failures(&e)), "{name}: {e:?}");
    }
    let e = endpoint("linkerd+route-retry+accrual");
    assert!(e.ejections >= 1, "{e:?}");
    assert!(
        (7..=11 + e.ejections).contains(&failures(&e)),
        "trips at 7, then one failed probe per trip: {e:?}"
    );
    // Istio's default retries hide the few calls that failed before it.
    assert_eq!(strategy(&report, "istio+outlier").requests.ok, 4000);
}

#[test]
fn pin_until_error_follows_a_rolling_restart_to_the_new_addresses() {
    // Every pod is replaced: a pin that only walked its old list would
    // cycle through dead addresses (42 % of calls succeeded before it
    // re-resolved on a broken connection). Now each broken connection
    // costs the page on it, and the next page uses a fresh answer.
    let report = run(r#"
name = "pin-rollout"
seed = 19
strategies = ["pin-until-error"]
[cluster]
nodes = 4
[stockdata]
replicas = 3
service_time = { distribution = "exponential", mean = "2ms" }
[load]
page_loads = 50
interval = "100ms"
[[timeline]]
at = "1s"
kind = "rolling-restart"
service = "stockdata"
ready_after = "300ms"
grace = "500ms"
"#);
    let s = &report.strategies[0];
    let failed_pages = s.page_loads.iter().filter(|p| !p.errors.is_empty()).count();
    assert!(
        failed_pages <= 3,
        "seed 19: {failed_pages} pages failed: {:?}",
        s.requests
    );
    assert!(s.requests.ok >= 4700, "seed 19: {:?}", s.requests);
    let last = s.page_loads.last().expect("pages");
    assert!(
        last.errors.is_empty() && last.per_replica.len() == 1,
        "{last:?}"
    );
}
