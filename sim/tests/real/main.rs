//! Real mode: the same scenarios on this machine's loopback sockets, in real
//! time. Results vary run to run, so every assertion has a tolerance; each
//! run is a few seconds of wall time.

mod browser;
mod crosscheck;
mod driver;
mod fidelity;
mod metrics;
mod peers;
mod proxy_cost;

use reports::{Mode, PageLoad, Report, StrategyReport};
use sim::Scenario;
use std::collections::BTreeMap;

/// A scenario whose report keeps every page load (the tests read them).
fn scenario(text: &str) -> Scenario {
    let mut s = Scenario::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e}"));
    s.report.page_detail = true;
    s
}

/// Real-mode runs measure wall-clock time on a 2-core machine: one at a
/// time, or they would measure each other.
pub(crate) static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether the Debian programs at `paths` are installed. Without them a
/// test says so and passes, except under CI (`CI` set), where `.ci/run`
/// installs `packages` and their absence fails the test.
pub(crate) fn installed(paths: &[&str], packages: &str) -> bool {
    let there = paths.iter().all(|p| std::path::Path::new(p).exists());
    if !there {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have them (apt-get install {packages})"
        );
        eprintln!("skipping: not installed (apt-get install {packages})");
    }
    there
}

fn run(s: &Scenario) -> Report {
    let _one = exclusive();
    sim::runner::run_real(s, s.seed, |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

fn strategy<'a>(report: &'a Report, name: &str) -> &'a StrategyReport {
    report
        .strategies
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no {name} in the report"))
}

fn demo(replicas: u32) -> Scenario {
    scenario(&format!(
        r#"
name = "real-demo"
seed = 42
strategies = ["cached-dns", "sidecar"]
[cluster]
nodes = 3
latency = "1ms"
[stockdata]
replicas = {replicas}
concurrency = 8
service_time = {{ distribution = "exponential", mean = "2ms" }}
[load]
page_loads = 8
interval = "100ms"
start = "100ms"
"#
    ))
}

/// Each page's successful calls by replica.
fn shares(page: &PageLoad) -> Vec<u64> {
    page.per_replica.values().copied().collect()
}

#[test]
fn the_seeds_demo_for_real_pins_cached_dns_and_splits_through_the_sidecar() {
    for replicas in [2u32, 3] {
        let report = run(&demo(replicas));
        assert_eq!(report.mode, Mode::Real);
        assert!(report.host_cores.is_some_and(|c| c >= 1));
        let pinned = strategy(&report, "cached-dns");
        assert_eq!(pinned.page_loads.len(), 8);
        for page in &pinned.page_loads {
            assert_eq!(shares(page), vec![100], "cached-dns page {page:?}");
        }
        // Every page on the same replica: the client resolved once.
        let pods: Vec<&String> = pinned
            .page_loads
            .iter()
            .flat_map(|p| p.per_replica.keys())
            .collect();
        assert!(pods.windows(2).all(|w| w[0] == w[1]), "{pods:?}");
        let meshed = strategy(&report, "sidecar:round-robin");
        let even = 100 / u64::from(replicas);
        for page in &meshed.page_loads {
            let split = shares(page);
            assert_eq!(split.len(), replicas as usize, "{page:?}");
            assert!(
                split.iter().all(|&n| n.abs_diff(even) <= 5),
                "{replicas} replicas: {split:?}"
            );
        }
    }
}

#[test]
fn kill_pod_fails_the_pinned_client_until_the_pod_returns_and_costs_the_sidecar_little() {
    let report = run(&scenario(
        r#"
name = "real-kill"
seed = 3
strategies = ["cached-dns", "sidecar:round-robin"]
[stockdata]
replicas = 2
service_time = { distribution = "exponential", mean = "2ms" }
[load]
page_loads = 20
interval = "100ms"
[[timeline]]
at = "700ms"
kind = "kill-pod"
pod = "stockdata-0"
duration = "600ms"
ready_after = "200ms"
"#,
    ));
    let by_time = |s: &StrategyReport, from: f64, to: f64| -> (u64, BTreeMap<String, u64>) {
        let mut ok = 0;
        let mut errors = BTreeMap::new();
        for p in s
            .page_loads
            .iter()
            .filter(|p| p.start_ms >= from && p.start_ms < to)
        {
            ok += p.per_replica.values().sum::<u64>();
            for (code, n) in &p.errors {
                *errors.entry(code.clone()).or_insert(0) += n;
            }
        }
        (ok, errors)
    };
    let pinned = strategy(&report, "cached-dns");
    assert_eq!(
        pinned.page_loads[0].per_replica.keys().collect::<Vec<_>>(),
        ["stockdata-0"],
        "cached DNS pins the first answer"
    );
    // While stockdata-0 is down (0.7 s to 1.3 s) its pinned client gets
    // nothing from it: calls fail UNAVAILABLE, or wait in the client's
    // reconnect loop and succeed only once the pod is back (as in the
    // simulator). Afterwards every call succeeds.
    // Calls in flight at the kill fail as the connection breaks: the
    // simulator reports UNAVAILABLE; tonic over a real socket reset says
    // UNKNOWN or CANCELLED, depending on how far the stream got. Later ones
    // find the address refusing: UNAVAILABLE.
    let (_, errors) = by_time(pinned, 650.0, 1300.0);
    assert!(errors.values().sum::<u64>() >= 100, "{errors:?}");
    assert!(
        errors
            .keys()
            .all(|c| ["UNAVAILABLE", "UNKNOWN", "CANCELLED"].contains(&c.as_str())),
        "{errors:?}"
    );
    for p in pinned
        .page_loads
        .iter()
        // The page due at 700 ms races the kill due then (two timers of
        // 1 ms grain): some of its calls may finish first. Later ones
        // cannot.
        .filter(|p| p.start_ms >= 710.0 && p.start_ms < 1300.0 && !p.per_replica.is_empty())
    {
        assert!(
            p.start_ms + p.duration_ms >= 1290.0,
            "page {} succeeded at {} ms, before the pod returned",
            p.index,
            p.start_ms + p.duration_ms
        );
    }
    let (ok, errors) = by_time(pinned, 1600.0, 2100.0);
    assert!(ok >= 400 && errors.is_empty(), "{ok} {errors:?}");
    // The sidecar loses at most the calls in flight when the pod died (one
    // page's worth) and serves everything else.
    let meshed = strategy(&report, "sidecar:round-robin");
    let failed: u64 = meshed
        .page_loads
        .iter()
        .map(|p| p.errors.values().sum::<u64>())
        .sum();
    assert!(failed <= 100, "sidecar lost {failed} calls");
    let (ok, _) = by_time(meshed, 750.0, 1250.0);
    assert!(
        ok >= 400,
        "sidecar served {ok} calls while the pod was down"
    );
    // Every request is accounted for (run_real checks it; the counts agree).
    for s in &report.strategies {
        let w = s.workload.as_ref().expect("workload summary");
        assert_eq!(
            w.issued,
            w.completed + w.failed + w.in_flight_at_end,
            "{}",
            s.name
        );
    }
}

#[test]
fn a_latency_event_raises_the_measured_p50_by_the_round_trip_it_adds() {
    // StockWeb on node-0, StockData on node-1 (pod i on node (i + 1) mod n):
    // 50 ms more each way on node-1's links adds 100 ms to every call.
    let report = run(&scenario(
        r#"
name = "real-latency"
seed = 5
strategies = ["cached-dns"]
[cluster]
nodes = 2
latency = "1ms"
[stockdata]
replicas = 1
concurrency = 16
service_time = { distribution = "constant", value = "2ms" }
[load]
page_loads = 16
interval = "150ms"
[[timeline]]
at = "1s"
kind = "latency"
nodes = ["node-1"]
add = "50ms"
duration = "1.2s"
"#,
    ));
    let pages = &strategy(&report, "cached-dns").page_loads;
    let median = |from: f64, to: f64| -> f64 {
        let mut v: Vec<f64> = pages
            .iter()
            .filter(|p| p.start_ms >= from && p.start_ms < to)
            .map(|p| p.latency_ms.p50)
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let before = median(0.0, 950.0);
    let during = median(1100.0, 2000.0);
    let added = during - before;
    assert!(
        (added - 100.0).abs() <= 20.0,
        "p50 {before:.1} ms before, {during:.1} ms during: +{added:.1} ms, expected +100 ms ± 20 %"
    );
}

#[test]
fn a_scenario_too_big_for_this_machine_is_rejected_before_anything_runs() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-too-big");
    std::fs::create_dir_all(&dir).expect("scratch");
    let file = dir.join("big.toml");
    std::fs::write(
        &file,
        "name = \"big\"\nstrategies = [\"cached-dns\"]\n[stockdata]\nreplicas = 300\n",
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(["run", "--real"])
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .expect("meshsim runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("real mode runs at most 250 pods"),
        "{stderr}"
    );
    // 300 StockData pods and one StockWeb pod, each counted once (N10).
    assert!(stderr.contains("this scenario needs 301"), "{stderr}");
    assert!(!dir.join("out").join("report.json").exists());
}

#[test]
fn injected_errors_reach_real_sidecars_as_real_responses() {
    // The same fault on real sockets: stockdata-1 answers UNAVAILABLE for
    // a second. Istio's retries hide it from the app; without retries the
    // app sees exactly the errors the replica says it answered.
    let s = scenario(
        r#"
name = "real-errors"
seed = 5
strategies = ["sidecar:round-robin", "istio"]
[stockdata]
replicas = 3
[load]
page_loads = 20
interval = "100ms"
[[timeline]]
at = "500ms"
kind = "errors"
pod = "stockdata-1"
duration = "1s"
"#,
    );
    let report = run(&s);
    let plain = strategy(&report, "sidecar:round-robin");
    let w = plain.replicas["stockdata-1"].work;
    assert!(w.answered_error > 50, "{w:?}");
    assert_eq!(
        plain.requests.errors["UNAVAILABLE"], w.answered_error,
        "{w:?}"
    );
    assert_eq!(w.client_errors, w.answered_error, "{w:?}");
    let istio = strategy(&report, "istio");
    assert_eq!(
        istio.requests.ok, istio.requests.sent,
        "{:?}",
        istio.requests
    );
    let w = istio.replicas["stockdata-1"].work;
    assert!(w.answered_error > 50 && w.client_errors == 0, "{w:?}");
    assert!(istio.proxy.as_ref().expect("sidecar").retry_amplification > 1.0);
}

#[test]
fn abandoned_work_is_in_the_ledger_for_real_too() {
    // Every call times out at the sidecar after 20 ms; the replicas finish
    // each 50 ms of work anyway. The run waits for them (without moving
    // its end), so all of it is counted, and all of it is wasted.
    let s = scenario(
        r#"
name = "real-abandoned"
seed = 5
strategies = ["sidecar:round-robin"]
[stockdata]
replicas = 2
concurrency = 100
honor_cancellation = false
service_time = { distribution = "constant", value = "50ms" }
[sidecar]
request_timeout = "20ms"
[load]
page_loads = 2
interval = "500ms"
"#,
    );
    let report = run(&s);
    let w = report.strategies[0].server_work();
    assert_eq!(w.abandoned, 200, "{w:?}");
    assert_eq!(w.answered_ok + w.client_ok, 0, "{w:?}");
    assert_eq!(w.wasted_ms, w.busy_ms, "{w:?}");
    // Real mode's precise timer holds each 50 ms within a fraction of a
    // percent (measured 49.97 ms on average); tokio's wheel ran long.
    assert!((200.0 * 49.5..=200.0 * 55.0).contains(&w.busy_ms), "{w:?}");
}

#[test]
fn real_replicas_hold_a_slot_for_the_service_time_not_a_timer_tick_longer() {
    // tokio's 1 ms timer wheel made a 2 ms service time last 2.1-2.4 ms for
    // real (issue 24); real mode's pods now sleep on the precise timer.
    // One call at a time, mostly (200 calls a second, each 2 ms), so what
    // is measured is the timer and not 100 calls waking at once on two
    // cores.
    let s = scenario(
        r#"
name = "real-service-time"
seed = 6
strategies = ["cached-dns"]
time_limit = "20s"
[stockdata]
replicas = 1
service_time = { distribution = "constant", value = "2ms" }
[workload]
target = "get"
model = "open"
rate = 200
duration = "3s"
warmup = "500ms"
"#,
    );
    let report = run(&s);
    for (pod, r) in &report.strategies[0].replicas {
        let (p50, mean) = (r.service_ms.p50, r.service_ms.mean);
        // tokio's wheel rounds a 2 ms sleep up to the next 1 ms tick (a
        // median near 2.5 ms). The precise timer's median is within 5 % (it
        // may fire a hair early: 1.959 ms seen in CI);
        // the mean may carry a stalled thread's late wake-up now and then
        // on a shared 2-core machine (stockdata's precise_timer test holds
        // the timer itself to 2 % on a quiet one).
        assert!((1.90..=2.10).contains(&p50), "{pod}: p50 {p50} ms: {r:?}");
        assert!(
            (1.96..=2.25).contains(&mean),
            "{pod}: mean {mean} ms: {r:?}"
        );
    }
}

#[test]
fn unready_on_real_sockets_moves_the_sidecar_off_the_pod_and_leaves_the_pinned_client_on_it() {
    // The same timeline kind as the simulator's test (simulation/timeline.rs):
    // stockdata-0 fails readiness from 300 to 700 ms and keeps serving.
    let report = run(&scenario(
        r#"
name = "real-unready"
seed = 3
strategies = ["cached-dns", "sidecar:round-robin"]
[stockdata]
replicas = 2
service_time = { distribution = "exponential", mean = "2ms" }
[load]
page_loads = 10
interval = "100ms"
[[timeline]]
at = "300ms"
kind = "unready"
pod = "stockdata-0"
duration = "400ms"
"#,
    ));
    let pinned = strategy(&report, "cached-dns");
    assert_eq!(pinned.requests.errors.values().sum::<u64>(), 0);
    assert!(
        pinned
            .page_loads
            .iter()
            .all(|p| p.per_replica.get("stockdata-0") == Some(&100)),
        "the pinned client stays on stockdata-0"
    );
    let meshed = strategy(&report, "sidecar:round-robin");
    assert_eq!(meshed.requests.errors.values().sum::<u64>(), 0);
    // Pages clear of the two instants (real timers race them).
    for p in meshed
        .page_loads
        .iter()
        .filter(|p| p.start_ms >= 350.0 && p.start_ms < 650.0)
    {
        assert_eq!(
            p.per_replica.get("stockdata-1"),
            Some(&100),
            "page {} at {} ms reached the unready pod",
            p.index,
            p.start_ms
        );
    }
    let back = meshed
        .page_loads
        .iter()
        .filter(|p| p.start_ms >= 850.0)
        .map(|p| p.per_replica.get("stockdata-0").copied().unwrap_or(0))
        .sum::<u64>();
    assert!(
        back > 0,
        "stockdata-0 never came back into the sidecar's set"
    );
}
