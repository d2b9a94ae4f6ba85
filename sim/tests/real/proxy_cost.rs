//! `meshsim bench --real`'s measurements (`sim::backend::real::proxy_cost`), short:
//! every path at one rate and at saturation, each proxy's CPU and memory
//! read from /proc. Skipped without nginx, haproxy and caddy, except under CI.

use crate::{exclusive, installed};
use sim::backend::real::proxy_cost::{self, Timing};
use std::time::Duration;

#[test]
fn each_proxy_is_measured_against_the_direct_path_in_one_run() {
    if !installed(
        &["/usr/sbin/nginx", "/usr/sbin/haproxy", "/usr/bin/caddy"],
        "nginx haproxy caddy",
    ) {
        return;
    }
    let _one = exclusive();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let timing = Timing {
        duration: Duration::from_secs(1),
        warmup: Duration::from_millis(300),
    };
    let meshsim = std::path::Path::new(env!("CARGO_BIN_EXE_meshsim"));
    let points = runtime
        .block_on(proxy_cost::measure(meshsim, &[1000.0], timing, |_| {}))
        .expect("measured");
    let paths: Vec<&str> = points.iter().map(|p| p.path).collect();
    assert_eq!(
        paths,
        [
            "direct",
            "direct",
            "meshsim proxy",
            "meshsim proxy",
            "nginx",
            "nginx",
            "haproxy",
            "haproxy",
            "caddy",
            "caddy"
        ]
    );
    for p in &points {
        let what = format!("{p:?}");
        match p.offered {
            // The open loop delivers what it offers.
            Some(rate) => assert!((p.throughput - rate).abs() <= 0.1 * rate, "{what}"),
            None => assert!(p.throughput > 1000.0, "{what}"),
        }
        if p.path == "direct" {
            assert!(
                p.added_p50_ms.is_none() && p.proxy_cpu_s.is_none(),
                "{what}"
            );
        } else {
            assert!(
                p.added_p50_ms.is_some() && p.added_p99_ms.is_some(),
                "{what}"
            );
            assert!(p.proxy_cpu_s.is_some_and(|c| c > 0.0), "{what}");
            assert!(p.requests_per_cpu_s.is_some_and(|r| r > 1000.0), "{what}");
            assert!(p.peak_rss_mib.is_some_and(|m| m > 1.0), "{what}");
        }
    }
}
