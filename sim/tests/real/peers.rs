//! Real proxies no one here wrote, as the StockWeb pod's sidecar: nginx
//! and haproxy from Debian, next to meshsim's own round robin. Without
//! them installed the tests say so and pass, except under CI (`CI` set),
//! where `.ci/run` installs them.

use crate::{exclusive, installed, scenario, shares, strategy};

#[test]
fn nginx_and_haproxy_round_robin_split_each_page_like_meshsims_own() {
    if !installed(&["/usr/sbin/nginx", "/usr/sbin/haproxy"], "nginx haproxy") {
        return;
    }
    let s = scenario(
        r#"
name = "peers"
seed = 42
strategies = ["nginx", "haproxy", "haproxy:least-request"]
[cluster]
nodes = 3
[stockdata]
replicas = 2
[load]
page_loads = 8
interval = "100ms"
"#,
    );
    let report = {
        let _one = exclusive();
        sim::runner::run_real(&s, s.seed, |_| {}).unwrap_or_else(|e| panic!("{e}"))
    };
    // Each peer sits right after meshsim's own policy of the same name,
    // which is added when the scenario does not list it.
    let names: Vec<&str> = report.strategies.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "sidecar:round-robin",
            "nginx:round-robin",
            "haproxy:round-robin",
            "sidecar:least-request",
            "haproxy:least-request"
        ]
    );
    for name in [
        "sidecar:round-robin",
        "nginx:round-robin",
        "haproxy:round-robin",
    ] {
        let st = strategy(&report, name);
        assert_eq!(st.requests.ok, 800, "{name}: {:?}", st.requests);
        for page in &st.page_loads {
            let split = shares(page);
            assert_eq!(split.len(), 2, "{name}: {split:?}");
            assert!(
                split.iter().all(|&n| (45..=55).contains(&n)),
                "{name}: a page split {split:?}"
            );
        }
    }
    // haproxy's leastconn spreads too (not by turns: by connections).
    let lc = strategy(&report, "haproxy:least-request");
    assert_eq!(lc.requests.ok, 800);
    assert!(
        lc.per_replica.values().all(|&n| n > 0),
        "{:?}",
        lc.per_replica
    );
}

/// A replica added mid-run, while pages overlap (the app's one connection
/// is never idle), reaches both peers' balancing of that connection: nginx
/// reloads (its old worker sends GOAWAY), haproxy is told through its
/// runtime API.
#[test]
fn a_scaled_out_replica_is_used_by_nginx_and_haproxy_without_a_new_connection() {
    if !installed(&["/usr/sbin/nginx", "/usr/sbin/haproxy"], "nginx haproxy") {
        return;
    }
    let s = scenario(
        r#"
name = "peers-scale"
seed = 42
strategies = ["nginx", "haproxy"]
[cluster]
nodes = 3
[stockdata]
replicas = 2
[load]
page_loads = 100
interval = "10ms"
[[timeline]]
at = "400ms"
kind = "scale"
service = "stockdata"
replicas = 3
ready_after = "200ms"
"#,
    );
    let report = {
        let _one = exclusive();
        sim::runner::run_real(&s, s.seed, |_| {}).unwrap_or_else(|e| panic!("{e}"))
    };
    for name in ["nginx:round-robin", "haproxy:round-robin"] {
        let st = strategy(&report, name);
        let last = st.page_loads.last().expect("pages");
        assert_eq!(
            last.per_replica.len(),
            3,
            "{name}: the last page used {:?}",
            last.per_replica
        );
        // nginx closes a client connection after `keepalive_requests`
        // (1,000) requests and on a reload; calls in flight on it fail.
        let failed = st.requests.sent - st.requests.ok;
        assert!(failed * 50 <= st.requests.sent, "{name}: {:?}", st.requests);
    }
}

/// Caddy (Go's HTTP/2, next to nginx's and haproxy's C) splits each page
/// like meshsim's own round robin, and its `least_conn` spreads too.
#[test]
fn caddy_round_robin_splits_each_page_like_meshsims_own() {
    if !installed(&["/usr/bin/caddy"], "caddy") {
        return;
    }
    let s = scenario(
        r#"
name = "peers-caddy"
seed = 42
strategies = ["caddy", "caddy:least-request"]
[cluster]
nodes = 3
[stockdata]
replicas = 2
[load]
page_loads = 8
interval = "100ms"
"#,
    );
    let report = {
        let _one = exclusive();
        sim::runner::run_real(&s, s.seed, |_| {}).unwrap_or_else(|e| panic!("{e}"))
    };
    let names: Vec<&str> = report.strategies.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "sidecar:round-robin",
            "caddy:round-robin",
            "sidecar:least-request",
            "caddy:least-request"
        ]
    );
    for name in ["sidecar:round-robin", "caddy:round-robin"] {
        let st = strategy(&report, name);
        assert_eq!(st.requests.ok, 800, "{name}: {:?}", st.requests);
        for page in &st.page_loads {
            let split = shares(page);
            assert_eq!(split.len(), 2, "{name}: {split:?}");
            assert!(
                split.iter().all(|&n| (45..=55).contains(&n)),
                "{name}: a page split {split:?}"
            );
        }
    }
    let lc = strategy(&report, "caddy:least-request");
    assert_eq!(lc.requests.ok, 800, "{:?}", lc.requests);
    assert!(
        lc.per_replica.values().all(|&n| n > 0),
        "{:?}",
        lc.per_replica
    );
}
