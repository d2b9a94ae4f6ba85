//! The sidecar's Prometheus metrics, as `meshsim proxy` serves them, agree
//! with the report of the same real-mode run: parsed by a Prometheus
//! text-format parser, not by hand.

use prometheus_parse::{Scrape, Value};
use std::collections::BTreeMap;

#[test]
fn prometheus_counters_equal_the_reports_counts() {
    let scenario = sim::Scenario::parse(
        r#"
name = "real-metrics"
seed = 9
strategies = ["linkerd"]
[stockdata]
replicas = 3
service_time = { distribution = "exponential", mean = "2ms" }
[load]
page_loads = 6
interval = "100ms"
"#,
        "metrics.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let strategy = scenario.strategies[0];
    let one = crate::exclusive();
    let run = sim::backend::real::run_strategy(&scenario, strategy, scenario.seed)
        .unwrap_or_else(|e| panic!("{e}"));
    drop(one);
    let metrics = run.proxy.clone().expect("a sidecar strategy has metrics");
    let report =
        sim::runner::assemble(&scenario, scenario.seed, &[run]).unwrap_or_else(|e| panic!("{e}"));
    let proxy = report.strategies[0].proxy.as_ref().expect("proxy report");

    let text = sim::proxy::prometheus::render(&metrics);
    let scrape =
        Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text format");
    let mut by_endpoint: BTreeMap<String, u64> = BTreeMap::new();
    let mut ok: BTreeMap<String, u64> = BTreeMap::new();
    for s in scrape
        .samples
        .iter()
        .filter(|s| s.metric == "meshsim_proxy_requests_total")
    {
        let Value::Counter(v) = s.value else {
            panic!("requests_total is a counter: {s:?}")
        };
        let endpoint = s
            .labels
            .get("endpoint")
            .expect("endpoint label")
            .to_string();
        *by_endpoint.entry(endpoint.clone()).or_insert(0) += v as u64;
        if s.labels.get("code") == Some("OK") {
            *ok.entry(endpoint).or_insert(0) += v as u64;
        }
    }
    let reported: BTreeMap<String, u64> = proxy
        .endpoints
        .iter()
        .map(|(e, r)| (e.clone(), r.requests))
        .collect();
    assert_eq!(by_endpoint, reported);
    let reported_ok: BTreeMap<String, u64> = proxy
        .endpoints
        .iter()
        .map(|(e, r)| (e.clone(), r.successes))
        .collect();
    assert_eq!(ok, reported_ok);
    // 6 pages × 100 calls, all through the sidecar, spread over 3 replicas.
    assert_eq!(by_endpoint.values().sum::<u64>(), 600);
    assert_eq!(by_endpoint.len(), 3);
}
