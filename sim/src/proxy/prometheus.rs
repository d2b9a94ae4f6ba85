//! [`ProxyMetrics`] in the Prometheus text exposition format (0.0.4), as
//! `meshsim proxy` serves it on its admin port's `/metrics`.
//!
//! Names follow Prometheus conventions: a `meshsim_proxy_` prefix, counters
//! end in `_total`, durations are `_seconds` histograms with cumulative `le`
//! buckets, every family has `# HELP` and `# TYPE` lines. Per endpoint (label
//! `endpoint`, the pod name):
//!
//! - `meshsim_proxy_requests_total{endpoint,code}`: attempts sent to the
//!   endpoint (first tries and retries), by how they ended: a gRPC code
//!   (`OK`, `NOT_FOUND`, …) or a proxy-side outcome (`CONNECT_FAILED`, …).
//!   Summed over `code`, the endpoint's requests.
//! - `meshsim_proxy_request_duration_seconds{endpoint}`: attempt latency.
//! - `meshsim_proxy_retries_total{endpoint}`, `meshsim_proxy_ejections_total{endpoint}`.
//!
//! Per proxy: `meshsim_proxy_route_requests_total` (requests the application
//! sent), `_route_attempts_total`, `_retries_refused_total`,
//! `_request_timeouts_total`, `_no_endpoints_total`, `_redispatched_total`.
//!
//! Latency is kept in an HdrHistogram (3 significant digits), so a bucket's
//! count is exact up to that precision at its bound; `_sum` is the
//! histogram's mean times its count.

use super::metrics::{EndpointMetrics, ProxyMetrics};
use std::fmt::Write as _;

/// Prefix of every metric name.
pub const PREFIX: &str = "meshsim_proxy_";

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the latency buckets: 0.5 ms to 10 s, a 1-2.5-5
/// progression like Prometheus client libraries' defaults, extended down for
/// sub-millisecond loopback hops.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Renders `metrics`.
pub fn render(metrics: &ProxyMetrics) -> String {
    render_with_labels(metrics, &[])
}

/// Renders `metrics` with `labels` (name, value) added to every sample, e.g.
/// `[("strategy", "linkerd"), ("pod", "web-0")]` when one process
/// exports several proxies.
pub fn render_with_labels(metrics: &ProxyMetrics, labels: &[(&str, &str)]) -> String {
    let mut out = String::new();
    endpoint_families(&mut out, labels, &metrics.endpoints);
    route_totals(&mut out, &label_set(labels, &[]), metrics);
    out
}

/// Reads one counter of an endpoint.
type Count = fn(&EndpointMetrics) -> u64;

/// The per-endpoint families: attempts by outcome, latency, retries and
/// ejections.
fn endpoint_families(
    out: &mut String,
    labels: &[(&str, &str)],
    eps: &std::collections::BTreeMap<String, EndpointMetrics>,
) {
    family(
        out,
        "requests_total",
        "counter",
        "Attempts sent to an endpoint (first tries and retries), by outcome: a gRPC code or a proxy-side failure.",
    );
    for (pod, e) in eps {
        for (code, n) in outcomes(e) {
            sample(
                out,
                "requests_total",
                &label_set(labels, &[("endpoint", pod), ("code", code)]),
                n,
            );
        }
    }

    family(
        out,
        "request_duration_seconds",
        "histogram",
        "Attempt latency per endpoint, from sending the request to its end.",
    );
    for (pod, e) in eps {
        histogram(out, labels, pod, e);
    }
    let counters: [(&str, &str, Count); 2] = [
        (
            "retries_total",
            "Attempts to an endpoint that were retries.",
            |e| e.retries,
        ),
        (
            "ejections_total",
            "Times failure accrual or outlier detection took an endpoint out of service.",
            |e| e.ejections,
        ),
    ];
    for (name, help, value) in counters {
        family(out, name, "counter", help);
        for (pod, e) in eps {
            sample(
                out,
                name,
                &label_set(labels, &[("endpoint", pod)]),
                value(e),
            );
        }
    }
}

/// The sidecar-wide counters, labelled `base`.
fn route_totals(out: &mut String, base: &str, metrics: &ProxyMetrics) {
    let totals: [(&str, &str, u64); 6] = [
        (
            "route_requests_total",
            "Requests the application sent through the proxy.",
            metrics.requests,
        ),
        (
            "route_attempts_total",
            "Attempts made for them (requests plus retries).",
            metrics.attempts,
        ),
        (
            "retries_refused_total",
            "Retries refused by the retry budget or retry circuit breaker.",
            metrics.retries_refused,
        ),
        (
            "request_timeouts_total",
            "Requests that hit the whole-request timeout.",
            metrics.timeouts,
        ),
        (
            "no_endpoints_total",
            "Requests failed because no endpoint was available.",
            metrics.no_endpoints,
        ),
        (
            "redispatched_total",
            "Never-sent requests sent to another endpoint (not retries).",
            metrics.redispatched,
        ),
    ];
    for (name, help, value) in totals {
        family(out, name, "counter", help);
        sample(out, name, base, value);
    }
}

/// An endpoint's attempts by outcome name, `OK` first.
fn outcomes(e: &EndpointMetrics) -> Vec<(&str, u64)> {
    let mut v = vec![("OK", e.successes)];
    v.extend(e.failures.iter().map(|(code, n)| (code.as_str(), *n)));
    v.retain(|(code, n)| *n > 0 || *code == "OK");
    v
}

fn histogram(out: &mut String, labels: &[(&str, &str)], pod: &str, e: &EndpointMetrics) {
    let name = "request_duration_seconds";
    let hist = e.latency.histogram();
    let count = e.latency.len();
    for bound in LATENCY_BUCKETS {
        let bound_us = (bound * 1e6).round() as u64;
        let n = if count == 0 {
            0
        } else {
            hist.count_between(0, bound_us).min(count)
        };
        let le = format_float(*bound);
        let set = label_set(labels, &[("endpoint", pod), ("le", &le)]);
        sample(out, &format!("{name}_bucket"), &set, n);
    }
    let set = label_set(labels, &[("endpoint", pod), ("le", "+Inf")]);
    sample(out, &format!("{name}_bucket"), &set, count);
    let plain = label_set(labels, &[("endpoint", pod)]);
    let sum = if count == 0 {
        0.0
    } else {
        hist.mean() * count as f64 / 1e6
    };
    let _ = writeln!(out, "{PREFIX}{name}_sum{plain} {}", format_float(sum));
    sample(out, &format!("{name}_count"), &plain, count);
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {PREFIX}{name} {help}");
    let _ = writeln!(out, "# TYPE {PREFIX}{name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: u64) {
    let _ = writeln!(out, "{PREFIX}{name}{labels} {value}");
}

/// `{a="x",b="y"}` (empty when there are no labels), values escaped.
fn label_set(constant: &[(&str, &str)], own: &[(&str, &str)]) -> String {
    let all: Vec<String> = constant
        .iter()
        .chain(own)
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if all.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", all.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A float as Prometheus writes one: shortest round-trip form.
fn format_float(x: f64) -> String {
    format!("{x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let mut m = ProxyMetrics {
            requests: 3,
            attempts: 4,
            ..Default::default()
        };
        let e = m.endpoints.entry("stockdata-0".into()).or_default();
        e.requests = 4;
        e.successes = 3;
        e.retries = 1;
        e.failures.insert("UNAVAILABLE".into(), 1);
        for ms in [1, 2, 30, 700] {
            e.latency.record(Duration::from_millis(ms));
        }
        let text = render_with_labels(&m, &[("pod", "web\"0")]);
        for line in [
            "# TYPE meshsim_proxy_requests_total counter",
            "meshsim_proxy_requests_total{pod=\"web\\\"0\",endpoint=\"stockdata-0\",code=\"OK\"} 3",
            "meshsim_proxy_requests_total{pod=\"web\\\"0\",endpoint=\"stockdata-0\",code=\"UNAVAILABLE\"} 1",
            "# TYPE meshsim_proxy_request_duration_seconds histogram",
            "meshsim_proxy_request_duration_seconds_bucket{pod=\"web\\\"0\",endpoint=\"stockdata-0\",le=\"0.0005\"} 0",
            "meshsim_proxy_request_duration_seconds_bucket{pod=\"web\\\"0\",endpoint=\"stockdata-0\",le=\"0.001\"} 1",
            "meshsim_proxy_request_duration_seconds_bucket{pod=\"web\\\"0\",endpoint=\"stockdata-0\",le=\"0.05\"} 3",
            "meshsim_proxy_request_duration_seconds_bucket{pod=\"web\\\"0\",endpoint=\"stockdata-0\",le=\"0.5\"} 3",
            "meshsim_proxy_request_duration_seconds_bucket{pod=\"web\\\"0\",endpoint=\"stockdata-0\",le=\"1\"} 4",
            "meshsim_proxy_request_duration_seconds_bucket{pod=\"web\\\"0\",endpoint=\"stockdata-0\",le=\"+Inf\"} 4",
            "meshsim_proxy_request_duration_seconds_count{pod=\"web\\\"0\",endpoint=\"stockdata-0\"} 4",
            "meshsim_proxy_retries_total{pod=\"web\\\"0\",endpoint=\"stockdata-0\"} 1",
            "meshsim_proxy_route_requests_total{pod=\"web\\\"0\"} 3",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn empty_metrics_still_declare_every_family() {
        let text = render(&ProxyMetrics::default());
        assert!(text.contains("# TYPE meshsim_proxy_requests_total counter"));
        assert!(
            text.lines()
                .any(|l| l == "meshsim_proxy_no_endpoints_total 0")
        );
    }
}
