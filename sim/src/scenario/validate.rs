//! Scenario checks the types alone cannot make.
//!
//! serde rejects wrong types and unknown keys with a line and column; what
//! remains are ranges and rules across fields (a pod name must exist, a
//! workload must not be combined with `[load]`). Each error names the
//! dotted field it is about and what was expected.

use super::config::{LoadConfig, Model};
use super::service_time::ServiceTimeConfig;
use super::{
    MAX_IN_FLIGHT, MAX_PAGE_LOADS, MAX_REQUESTS, MAX_SLOWDOWN, Scenario, ScenarioError, SimDuration,
};
use crate::topology::{self, MAX_NODES, MAX_PODS_PER_SERVICE, STOCKDATA};
use std::collections::BTreeSet;
use stockdata::transport::h2::{MAX_WINDOW, MIN_WINDOW};

/// Most time-series buckets a run may have (up to its time limit): each
/// is a point in report.json and in the chart.
pub const MAX_SERIES_BUCKETS: u128 = 100_000;

impl Scenario {
    /// Checks what the types alone cannot.
    pub fn validate(&self, path: &str) -> Result<(), ScenarioError> {
        let invalid = |field: &str, message: String| ScenarioError::Invalid {
            path: path.to_string(),
            field: field.to_string(),
            message,
        };
        if self.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(invalid(
                "name",
                "is empty; expected a name with at least one visible character (it names the \
                 output folder, target/meshsim/<name>/)"
                    .into(),
            ));
        }
        if self.strategies.is_empty() {
            return Err(invalid(
                "strategies",
                "expected at least one strategy".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        for s in &self.strategies {
            if !seen.insert(*s) {
                return Err(invalid("strategies", format!("`{s}` is listed twice")));
            }
        }
        let max_pods = MAX_PODS_PER_SERVICE;
        for (field, n) in [
            ("stockdata.replicas", self.stockdata.replicas.get()),
            ("stockweb.replicas", self.stockweb.replicas.get()),
        ] {
            if n > max_pods {
                return Err(invalid(
                    field,
                    format!("expected at most {max_pods}, got {n}"),
                ));
            }
        }
        if self.cluster.nodes.get() > MAX_NODES {
            return Err(invalid(
                "cluster.nodes",
                format!(
                    "expected at most {MAX_NODES} (each node is a turmoil host; step cost grows with the cube of the host count), got {}",
                    self.cluster.nodes
                ),
            ));
        }
        if self.tick.0.is_zero() || !self.tick.0.as_nanos().is_multiple_of(1_000_000) {
            return Err(invalid(
                "tick",
                format!(
                    "{} is not a whole number of milliseconds; expected 1ms, 2ms, … (tokio timers \
                     have 1 ms resolution, so a shorter tick makes tokio's clock run ahead of the \
                     network's)",
                    self.tick
                ),
            ));
        }
        if self.tick >= self.time_limit {
            return Err(invalid(
                "tick",
                format!(
                    "{} is not shorter than time_limit ({}); expected a tick below the time limit \
                     (one step would pass it)",
                    self.tick, self.time_limit
                ),
            ));
        }
        if self.load.page_loads == 0 {
            return Err(invalid("load.page_loads", "expected at least 1".into()));
        }
        if self.load.page_loads > MAX_PAGE_LOADS {
            return Err(invalid(
                "load.page_loads",
                format!(
                    "expected at most {MAX_PAGE_LOADS} (each page load is 100 calls kept until the \
                     report is written), got {}",
                    self.load.page_loads
                ),
            ));
        }
        if self.load.interval.0.is_zero() {
            return Err(invalid(
                "load.interval",
                "expected a duration above 0".into(),
            ));
        }
        if let Some(lifetime) = self.stockweb.handler_lifetime
            && lifetime.0.is_zero()
        {
            return Err(invalid(
                "stockweb.handler_lifetime",
                "expected a duration above 0".into(),
            ));
        }
        let models = std::iter::once((
            "stockdata.service_time".to_string(),
            self.stockdata.service_time,
        ))
        .chain(
            self.stockdata
                .pod_service_time
                .iter()
                .map(|(pod, m)| (format!("stockdata.pod_service_time.{pod}"), *m)),
        );
        for (field, model) in models {
            let field = field.as_str();
            match model {
                ServiceTimeConfig::Exponential { mean } if mean.0.is_zero() => {
                    return Err(invalid(field, "mean: expected a duration above 0".into()));
                }
                ServiceTimeConfig::Lognormal { sigma, .. }
                    if !(sigma.is_finite() && sigma > 0.0) =>
                {
                    return Err(invalid(
                        field,
                        format!("sigma = {sigma}; expected a number above 0"),
                    ));
                }
                ServiceTimeConfig::Pareto { alpha, .. } if !(alpha.is_finite() && alpha > 0.0) => {
                    return Err(invalid(
                        field,
                        format!("alpha = {alpha}; expected a number above 0"),
                    ));
                }
                ServiceTimeConfig::Bimodal { p_slow, .. } if !(0.0..=1.0).contains(&p_slow) => {
                    return Err(invalid(
                        field,
                        format!("p_slow = {p_slow}; expected a probability from 0 to 1"),
                    ));
                }
                _ => {}
            }
        }
        let pods: Vec<String> = (0..self.stockdata.replicas.get())
            .map(|i| topology::pod_name(STOCKDATA, i))
            .collect();
        for (pod, factor) in &self.stockdata.slowdown {
            if !pods.contains(pod) {
                return Err(invalid(
                    "stockdata.slowdown",
                    format!("unknown pod `{pod}`; expected one of {}", pods.join(", ")),
                ));
            }
            if !(factor.is_finite() && *factor > 0.0 && *factor <= MAX_SLOWDOWN) {
                return Err(invalid(
                    "stockdata.slowdown",
                    format!(
                        "`{pod}` = {factor}; expected a number above 0 and at most {MAX_SLOWDOWN}"
                    ),
                ));
            }
        }
        if let Some(pod) = self
            .stockdata
            .pod_service_time
            .keys()
            .find(|p| !pods.contains(p))
        {
            return Err(invalid(
                "stockdata.pod_service_time",
                format!("unknown pod `{pod}`; expected one of {}", pods.join(", ")),
            ));
        }
        if let Some(pod) = self.stockdata.weights.keys().find(|p| !pods.contains(p)) {
            return Err(invalid(
                "stockdata.weights",
                format!("unknown pod `{pod}`; expected one of {}", pods.join(", ")),
            ));
        }
        let known = self.known_pods();
        let nodes: Vec<String> = (0..self.cluster.nodes.get())
            .map(|n| topology::node_name(n as usize))
            .collect();
        for (pod, node) in &self.cluster.placement {
            if !known.contains(pod) {
                return Err(invalid(
                    "cluster.placement",
                    format!("unknown pod `{pod}`; expected one of {}", known.join(", ")),
                ));
            }
            if !nodes.contains(node) {
                return Err(invalid(
                    "cluster.placement",
                    format!(
                        "`{pod}` on unknown node `{node}`; expected one of {}",
                        nodes.join(", ")
                    ),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.cluster.loss) {
            return Err(invalid(
                "cluster.loss",
                "expected a probability from 0 to 1".into(),
            ));
        }
        for (field, window) in [
            (
                "stockdata.initial_stream_window",
                Some(self.stockdata.initial_stream_window),
            ),
            (
                "stockdata.initial_connection_window",
                Some(self.stockdata.initial_connection_window),
            ),
            (
                "stockweb.initial_stream_window",
                Some(self.stockweb.initial_stream_window),
            ),
            (
                "stockweb.initial_connection_window",
                Some(self.stockweb.initial_connection_window),
            ),
            (
                "sidecar.initial_stream_window",
                self.sidecar.initial_stream_window,
            ),
            (
                "sidecar.initial_connection_window",
                self.sidecar.initial_connection_window,
            ),
        ] {
            if let Some(w) = window.filter(|w| !(MIN_WINDOW..=MAX_WINDOW).contains(w)) {
                return Err(invalid(
                    field,
                    format!(
                        "expected a window in bytes from {MIN_WINDOW} (HTTP/2's initial \
                         window) to {MAX_WINDOW} (the largest HTTP/2 allows), got {w}"
                    ),
                ));
            }
        }
        if let Some(b) = self.report.series_bucket {
            let ms = b.0.as_millis();
            if b.0.is_zero() || b.0 != std::time::Duration::from_millis(ms as u64) {
                return Err(invalid(
                    "report.series_bucket",
                    format!("expected a whole number of milliseconds above 0, got {b}"),
                ));
            }
            let buckets = self.time_limit.0.as_nanos() / b.0.as_nanos();
            if buckets > MAX_SERIES_BUCKETS {
                return Err(invalid(
                    "report.series_bucket",
                    format!(
                        "{b} makes {buckets} buckets up to the time limit ({}); expected at most \
                         {MAX_SERIES_BUCKETS}: a wider bucket or a shorter time_limit",
                        self.time_limit
                    ),
                ));
            }
        }
        if let Some(p) = self.sidecar.max_ejection_percent
            && p > 100
        {
            return Err(invalid(
                "sidecar.max_ejection_percent",
                format!("expected a percentage from 0 to 100, got {p}"),
            ));
        }
        if self.sidecar.choice_count == Some(0) {
            return Err(invalid(
                "sidecar.choice_count",
                "expected at least 1".into(),
            ));
        }
        if self.sidecar.request_timeout.is_some_and(|t| t.0.is_zero()) {
            return Err(invalid(
                "sidecar.request_timeout",
                "expected a duration above 0".into(),
            ));
        }
        if self.sidecar.per_try_timeout.is_some_and(|t| t.0.is_zero()) {
            return Err(invalid(
                "sidecar.per_try_timeout",
                "expected a duration above 0".into(),
            ));
        }
        if self.stockweb.dns_refresh.0.is_zero() {
            return Err(invalid(
                "stockweb.dns_refresh",
                "expected a duration above 0".into(),
            ));
        }
        if let Some(w) = &self.workload {
            let invalid = |field: &str, message: String| ScenarioError::Invalid {
                path: path.to_string(),
                field: format!("workload.{field}"),
                message,
            };
            if self.load != LoadConfig::default() {
                return Err(ScenarioError::Invalid {
                    path: path.to_string(),
                    field: "load".into(),
                    message: "use either [load] (a fixed page schedule) or [workload], not both"
                        .into(),
                });
            }
            match w.model {
                Model::Open => match w.rate {
                    Some(r) if r.is_finite() && r > 0.0 => {}
                    Some(r) => {
                        return Err(invalid("rate", format!("{r}; expected a rate above 0")));
                    }
                    None => return Err(invalid("rate", "is required for an open loop".into())),
                },
                Model::Closed => match w.users {
                    Some(u) if u > MAX_IN_FLIGHT => {
                        return Err(invalid(
                            "users",
                            format!(
                                "{u}; expected at most {MAX_IN_FLIGHT} (each user holds a \
                                 connection from the browser host, which has 16,384 ports)"
                            ),
                        ));
                    }
                    Some(u) if u >= 1 => {}
                    Some(_) => return Err(invalid("users", "expected at least 1".into())),
                    None => return Err(invalid("users", "is required for a closed loop".into())),
                },
            }
            // A key of the other loop would be read by nothing: refuse it
            // rather than run something else than the file says.
            let ignored: &[(&str, bool)] = match w.model {
                Model::Open => &[
                    ("users", w.users.is_some()),
                    ("think_time", w.think_time.is_some()),
                    ("think", w.think != Default::default()),
                ],
                Model::Closed => &[
                    ("rate", w.rate.is_some()),
                    ("connections", w.connections.is_some()),
                    ("arrival", w.arrival != Default::default()),
                ],
            };
            if let Some((key, _)) = ignored.iter().find(|(_, set)| *set) {
                let (model, other, drives) = match w.model {
                    Model::Open => ("an open", "closed", "arrivals come at `rate`"),
                    Model::Closed => ("a closed", "open", "`users` send one request at a time"),
                };
                return Err(invalid(
                    key,
                    format!(
                        "has no effect in {model} loop ({drives}); expected it only with \
                         model = \"{other}\", or remove it"
                    ),
                ));
            }
            if let Some(rate) = w.rate {
                let requests = rate * w.duration.0.as_secs_f64();
                if requests > MAX_REQUESTS as f64 {
                    return Err(invalid(
                        "rate",
                        format!(
                            "{rate}/s for {} is {requests:.0} requests; expected at most {MAX_REQUESTS}",
                            w.duration
                        ),
                    ));
                }
            }
            if w.duration.0.is_zero() {
                return Err(invalid("duration", "expected a duration above 0".into()));
            }
            if w.warmup >= w.duration {
                return Err(invalid("warmup", "expected less than the duration".into()));
            }
            match w.connections {
                Some(0) => return Err(invalid("connections", "expected at least 1".into())),
                Some(c) if c > MAX_IN_FLIGHT => {
                    return Err(invalid(
                        "connections",
                        format!(
                            "{c}; expected at most {MAX_IN_FLIGHT} (each connection holds a \
                             port on the browser host, which has 16,384)"
                        ),
                    ));
                }
                _ => {}
            }
            if !(0.0..=1.0).contains(&w.not_found_ratio) {
                return Err(invalid(
                    "not_found_ratio",
                    "expected a share from 0 to 1".into(),
                ));
            }
            if w.duration.0 + w.drain.0 >= self.time_limit.0 {
                return Err(invalid(
                    "duration",
                    format!(
                        "duration + drain ({}) must be less than time_limit ({})",
                        SimDuration(w.duration.0 + w.drain.0),
                        self.time_limit
                    ),
                ));
            }
        }
        self.validate_timeline(path)?;
        let last_start = self.schedule().last();
        if last_start >= self.time_limit.0 {
            return Err(invalid(
                "time_limit",
                format!(
                    "the last page load starts at {}, not before the time limit {}; expected a larger time_limit",
                    SimDuration(last_start),
                    self.time_limit
                ),
            ));
        }
        Ok(())
    }
}
