//! Regression tests for defects that showed up while a run was going (see
//! `defects/`): pod restarts within one tick, rollouts past 1,000 pod
//! names, a hung page at the time limit, calls of failed page loads, and
//! more users than the browser host has ports.

use crate::common::{meshsim_bounded as meshsim, scratch, stderr};
use crate::defects::{assert_input_error, fixture};
use std::process::Output;

/// Runs fixture `name`; returns its output and its report (if written).
fn run(name: &str) -> (Output, Option<serde_json::Value>) {
    let out = scratch(&format!("runtime-{name}"));
    let o = meshsim(&["run", &fixture(name), "--out", &out.display().to_string()]);
    let report = std::fs::read_to_string(out.join("report.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    (o, report)
}

/// Asserts exit 0 and every page load of every strategy completed.
fn assert_all_pages_complete(name: &str) {
    let (o, report) = run(name);
    assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
    let report = report.expect("report.json");
    for s in report["strategies"].as_array().expect("strategies") {
        let w = &s["workload"];
        assert_eq!(w["completed"], w["issued"], "{name}: {s:#}");
    }
}

#[test]
fn d07a_stockweb_killed_for_0ms_restarts_with_its_sidecar() {
    assert_all_pages_complete("D07a-kill-stockweb-0ms.toml");
}

#[test]
fn d07b_stockweb_killed_and_restarted_in_one_tick_restarts() {
    assert_all_pages_complete("D07b-kill-restart-stockweb-same-tick.toml");
}

#[test]
fn d07c_restart_of_a_running_stockweb_rebinds_its_sidecar_port() {
    assert_all_pages_complete("D07c-restart-running-stockweb.toml");
}

#[test]
fn d09a_a_rollout_at_1000_replicas_reuses_freed_ports() {
    assert_all_pages_complete("D09a-rollout-at-1000-replicas.toml");
}

#[test]
fn d09b_repeated_rollouts_give_fresh_names_past_1000() {
    let (o, report) = run("D09b-repeated-rollouts.toml");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = report.expect("report.json");
    let pods = report["strategies"][0]["per_replica"]
        .as_object()
        .expect("per_replica");
    // Every replacement pod got a fresh name, as a Deployment's do.
    assert!(pods.contains_key("stockdata-1001"), "{pods:?}");
}

#[test]
fn d11_a_page_still_hung_at_time_limit_fails_the_run() {
    // The crashed node's restart (40.15 s) is still to come at the 5 s
    // limit: the run steps to the limit.
    let (o, _) = run("D11-hung-page-time-limit-5s.toml");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("reached time_limit (5s)"), "{err}");
    assert!(err.contains("2 of 3 page loads unfinished"), "{err}");
}

#[test]
fn d11_a_hung_page_with_nothing_left_to_happen_fails_when_the_run_goes_quiet() {
    // The node comes back at 40.15 s (crash-node's default 40 s); after
    // that no timer is due before the 1 h limit and nothing is in flight,
    // so the run stops there (it used to step idle to 1 h: 15.8 s of wall
    // time).
    let (o, _) = run("D11-hung-page-time-limit-1h.toml");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("nothing could happen any more after 40151ms"),
        "{err}"
    );
    assert!(err.contains("instead of at time_limit (3600s)"), "{err}");
    assert!(
        err.contains("2 of 3 page loads unfinished (page loads 2, 3)"),
        "{err}"
    );
}

#[test]
fn d16_calls_of_a_failed_page_load_are_counted_by_app_and_proxy_alike() {
    let (o, report) = run("D16-chaos-03-failed-page-calls.toml");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = report.expect("report.json");
    for s in report["strategies"].as_array().expect("strategies") {
        let r = &s["requests"];
        // One page load failed in the node crash; its 100 calls were made.
        assert_eq!(s["workload"]["failed"], 1, "{s:#}");
        assert_eq!(r["sent"], 2000, "{}: {r}", s["name"]);
        assert_eq!(r["unanswered"], 100, "{}: {r}", s["name"]);
        if let Some(proxy) = s.get("proxy").filter(|p| !p.is_null()) {
            assert_eq!(proxy["requests"], r["sent"], "{}", s["name"]);
        }
    }
}

#[test]
fn d05a_more_users_than_ports_is_rejected_with_its_limit() {
    let (o, _) = run("D05a-closed-users-16385.toml");
    assert_input_error(&o, &["`workload.users`", "16385", "at most 10000"]);
}

#[test]
fn d05b_fifty_million_users_are_rejected_before_any_memory_is_used() {
    let (o, _) = run("D05b-closed-users-50M.toml");
    assert_input_error(&o, &["`workload.users`", "at most 10000"]);
}
