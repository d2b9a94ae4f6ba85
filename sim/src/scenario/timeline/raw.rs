//! A timeline event as written: one flat table of optional keys.
//!
//! TOML has no tagged unions of tables, so every `[[timeline]]` table has
//! the same shape, whatever its `kind`. This is that shape, and only that:
//! it is parsed, checked and converted into a typed [`super::TimelineEvent`]
//! once, at load, and kept beside it so the scenario's hash and the
//! report's event labels stay exactly what the file said (an omitted key
//! and one written with its default value are different text).

use super::EventKind;
use crate::scenario::SimDuration;
use serde::{Deserialize, Serialize};

/// One `[[timeline]]` entry, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    /// When, from the start of the run.
    pub at: SimDuration,
    /// What.
    pub kind: EventKind,
    /// Target pod (`kill-pod`, `restart`, `slow`, `pause`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Target node (`crash-node`, `restart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Target nodes (`latency`, `partition`, `heal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<String>>,
    /// The other side of a partition (default: every other host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<String>>,
    /// Error status (`errors`, `flakes`: default `UNAVAILABLE`;
    /// `overload`: default `RESOURCE_EXHAUSTED`), as gRPC names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `overload`: requests the pod holds (queued or working) before it
    /// refuses more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `errors`, `flakes`: answer after the service time (a slow error)
    /// instead of at once. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_service: Option<bool>,
    /// Probability, 0 to 1: of losing a segment (`loss`), of an error per
    /// request (`errors`, default 1; `flakes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Service-time multiplier (`slow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    /// Extra one-way latency (`latency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add: Option<SimDuration>,
    /// How long the fault lasts (`slow`, `pause`, `latency`; optional for
    /// `partition` (heals after) and `crash-node`/`kill-pod` (restarts after)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<SimDuration>,
    /// For `crash-node`: when the control plane notices and marks the
    /// node's pods not ready. Default 40s (kube-controller-manager
    /// `--node-monitor-grace-period`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_after: Option<SimDuration>,
    /// For `restart`, `scale`, `rolling-restart`: from process start to
    /// ready. Default 1s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_after: Option<SimDuration>,
    /// Target service (`scale`, `rolling-restart`): `stockdata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// New replica count (`scale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// `rolling-restart`: extra pods during the rollout (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<u32>,
    /// `rolling-restart`: time between a pod's endpoint removal and its
    /// kill, for in-flight requests to finish. Default 1s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace: Option<SimDuration>,
    /// Repeat period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<SimDuration>,
    /// Number of occurrences with `every` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

impl RawEvent {
    /// Every key a written event may carry besides `at`, `kind`, `every`
    /// and `count`, and whether it does.
    pub(super) fn keys_written(&self) -> [(&'static str, bool); 17] {
        [
            ("pod", self.pod.is_some()),
            ("node", self.node.is_some()),
            ("nodes", self.nodes.is_some()),
            ("from", self.from.is_some()),
            ("factor", self.factor.is_some()),
            ("rate", self.rate.is_some()),
            ("add", self.add.is_some()),
            ("duration", self.duration.is_some()),
            ("detect_after", self.detect_after.is_some()),
            ("ready_after", self.ready_after.is_some()),
            ("service", self.service.is_some()),
            ("replicas", self.replicas.is_some()),
            ("max_surge", self.max_surge.is_some()),
            ("grace", self.grace.is_some()),
            ("code", self.code.is_some()),
            ("limit", self.limit.is_some()),
            ("after_service", self.after_service.is_some()),
        ]
    }

    /// A one-line description for reports: the kind and the keys that
    /// say what is hit, as written.
    pub fn describe(&self) -> String {
        let mut parts = vec![self.kind.name().to_string()];
        for (k, v) in [
            ("pod", self.pod.clone()),
            ("node", self.node.clone()),
            ("nodes", self.nodes.as_ref().map(|n| n.join(","))),
            ("from", self.from.as_ref().map(|n| n.join(","))),
            ("service", self.service.clone()),
            ("replicas", self.replicas.map(|r| r.to_string())),
            ("code", self.code.clone()),
            ("limit", self.limit.map(|l| l.to_string())),
            (
                "after_service",
                self.after_service.filter(|a| *a).map(|a| a.to_string()),
            ),
            ("factor", self.factor.map(|f| f.to_string())),
            ("rate", self.rate.map(|r| r.to_string())),
            ("add", self.add.map(|d| d.to_string())),
            ("duration", self.duration.map(|d| d.to_string())),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        parts.join(" ")
    }
}
