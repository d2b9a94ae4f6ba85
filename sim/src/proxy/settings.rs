//! A sidecar's resolved settings as text, for reports: one line per
//! concern, each written by its own small function.

use super::balance::NoEndpoint;
use super::endpoint::ConnectMode;
use super::profile::SidecarConfig;
use super::retry::{Backoff, RetryConfig, UNLIMITED_RETRIES};
use std::collections::BTreeMap;
use std::time::Duration;

impl SidecarConfig {
    /// The resolved settings as `name → value` text, for reports.
    pub fn settings(&self) -> BTreeMap<String, String> {
        let h2 = &self.h2;
        [
            ("balancer", balancer(self)),
            ("discovery_delay", format!("{:?}", self.discovery_delay)),
            ("release", self.release.to_string()),
            ("fail_fast", fail_fast(self.balance.no_endpoint)),
            ("connect", connect(self)),
            ("retries", retries(&self.retry)),
            ("retry_budget", retry_budget(&self.retry)),
            ("failure_accrual", failure_accrual(self)),
            ("outlier_detection", outlier_detection(self)),
            (
                "panic_threshold",
                panic_threshold(self.balance.panic_threshold),
            ),
            ("per_try_timeout", optional(self.per_try_timeout)),
            (
                "http2_listener",
                format!(
                    "max_concurrent_streams {}, initial windows {} stream / {} connection",
                    h2.listener.streams_text(),
                    h2.listener.initial_stream_window,
                    h2.listener.initial_connection_window
                ),
            ),
            (
                "http2_endpoints",
                format!(
                    "initial windows {} stream / {} connection; endpoints advertise \
                     max_concurrent_streams {}",
                    h2.endpoints.initial_stream_window,
                    h2.endpoints.initial_connection_window,
                    stockdata::transport::h2::streams_text(h2.endpoint_max_concurrent_streams)
                ),
            ),
            ("request_timeout", optional(self.request_timeout)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

fn optional(t: Option<Duration>) -> String {
    t.map(|t| format!("{t:?}")).unwrap_or_else(|| "none".into())
}

/// The policy's own description ([`super::balance::policy::Pick::describe`]).
fn balancer(c: &SidecarConfig) -> String {
    c.balance.policy.describe(&c.load)
}

fn fail_fast(no_endpoint: NoEndpoint) -> String {
    match no_endpoint {
        NoEndpoint::Fail => "at once when no endpoint is available".into(),
        NoEndpoint::FailFast(t) => format!("wait up to {t:?} for an endpoint, then fail"),
    }
}

fn connect(c: &SidecarConfig) -> String {
    format!(
        "{}, timeout {:?}, backoff {:?}..{:?} jitter {}",
        match c.connect.mode {
            ConnectMode::Eager => "eager (ready only while connected)",
            ConnectMode::OnDemand => "on demand (no backoff)",
        },
        c.connect.timeout,
        c.connect.backoff_min,
        c.connect.backoff_max,
        c.connect.backoff_jitter
    )
}

fn retries(r: &RetryConfig) -> String {
    if r.max_retries == 0 {
        return "off".into();
    }
    format!(
        "{}, {}{}{}{}",
        if r.max_retries == UNLIMITED_RETRIES {
            "no per-request limit".to_string()
        } else {
            format!("max {} per request", r.max_retries)
        },
        if r.idempotent {
            "any server error"
        } else {
            "connect-failure/refused-stream/unavailable only"
        },
        r.backoff
            .map(|b| match b {
                Backoff::FullJitter { base, max } => format!(", backoff {base:?}..{max:?}"),
                Backoff::Exponential { min, max, jitter } => {
                    format!(", backoff {min:?}..{max:?} exponential, jitter {jitter}")
                }
            })
            .unwrap_or_default(),
        r.max_concurrent_retries
            .map(|m| format!(", max concurrent {m}"))
            .unwrap_or_default(),
        if r.avoid_previous_hosts {
            ", avoid previous hosts"
        } else {
            ""
        },
    )
}

fn retry_budget(r: &RetryConfig) -> String {
    r.budget
        .map(|b| {
            format!(
                "ratio {}, min {}/s, ttl {:?}",
                b.retry_ratio, b.min_retries_per_second, b.ttl
            )
        })
        .unwrap_or_else(|| "none".into())
}

fn failure_accrual(c: &SidecarConfig) -> String {
    c.accrual
        .map(|a| {
            format!(
                "consecutive {}, penalty {:?}..{:?}, jitter {}",
                a.max_failures, a.min_penalty, a.max_penalty, a.jitter
            )
        })
        .unwrap_or_else(|| "off".into())
}

fn outlier_detection(c: &SidecarConfig) -> String {
    let Some(o) = c.outlier else {
        return "off".into();
    };
    format!(
        "consecutive_5xx {}, interval {:?}, base_ejection {:?}, max_ejection {:?}, \
         max_ejection_percent {} ((ejected + 1) / hosts), always_eject_one_host {}, \
         success_rate {}",
        o.consecutive_5xx,
        o.interval,
        o.base_ejection_time,
        o.max_ejection_time,
        o.max_ejection_percent,
        o.always_eject_one_host,
        o.success_rate.map_or_else(
            || "off".to_string(),
            |r| format!(
                "on (minimum_hosts {}, request_volume {}, stdev_factor {})",
                r.minimum_hosts, r.request_volume, r.stdev_factor
            )
        ),
    )
}

fn panic_threshold(p: Option<f64>) -> String {
    match p {
        Some(p) if p > 0.0 => format!("{p}%"),
        Some(_) => "0% (disabled)".into(),
        None => "none (fail fast)".into(),
    }
}
