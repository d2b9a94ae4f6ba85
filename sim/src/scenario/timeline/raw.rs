//! A timeline event as written: one flat table of optional keys.
//!
//! TOML has no tagged unions of tables, so every `[[timeline]]` table has
//! the same shape, whatever its `kind`. This is that shape, and only that:
//! it is parsed, checked and converted into a typed [`super::TimelineEvent`]
//! once, at load, and kept beside it so the scenario's hash and the
//! report's event labels stay exactly what the file said (an omitted key
//! and one written with its default value are different text).

use crate::scenario::SimDuration;
use serde::{Deserialize, Serialize};

/// What an event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// The pod's process dies: its connections reset, its port refuses.
    KillPod,
    /// A killed pod (`pod`) or crashed node (`node`) starts again.
    Restart,
    /// The node crashes: everything on it stops and its packets are
    /// blackholed until it restarts.
    CrashNode,
    /// The pod's service times are multiplied by `factor` for `duration`.
    Slow,
    /// The pod stops processing (a stall) for `duration`.
    Pause,
    /// `add` extra one-way latency on the links of `nodes` for `duration`.
    Latency,
    /// `nodes` cannot reach `from` (default: every other host).
    Partition,
    /// Undoes a partition of `nodes` from `from`.
    Heal,
    /// Segments between `nodes` and `from` are lost with probability
    /// `rate` (each loss costs a retransmission timeout) for `duration`.
    Loss,
    /// Sets `service`'s replica count to `replicas`.
    Scale,
    /// Replaces `service`'s pods one at a time.
    RollingRestart,
    /// The pod answers `code` with probability `rate` (at once, or after
    /// its service time with `after_service`) for `duration`.
    Errors,
    /// The pod refuses requests with `code` while `limit` or more are in
    /// it (it holds at most `limit`), for `duration`.
    Overload,
    /// Every StockData pod answers `code` with probability `rate` for
    /// `duration` (rare flakes).
    Flakes,
}

impl EventKind {
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::KillPod => "kill-pod",
            EventKind::Restart => "restart",
            EventKind::CrashNode => "crash-node",
            EventKind::Slow => "slow",
            EventKind::Pause => "pause",
            EventKind::Latency => "latency",
            EventKind::Partition => "partition",
            EventKind::Heal => "heal",
            EventKind::Loss => "loss",
            EventKind::Scale => "scale",
            EventKind::RollingRestart => "rolling-restart",
            EventKind::Errors => "errors",
            EventKind::Overload => "overload",
            EventKind::Flakes => "flakes",
        }
    }
}

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

/// The keys each kind takes besides `at`, `kind`, `every` and `count`.
pub(super) fn takes(kind: EventKind, key: &str) -> bool {
    use EventKind::*;
    match key {
        "pod" => matches!(kind, KillPod | Restart | Slow | Pause | Errors | Overload),
        "node" => matches!(kind, CrashNode | Restart),
        "nodes" => matches!(kind, Latency | Partition | Heal | Loss),
        "from" => matches!(kind, Partition | Heal | Loss),
        "rate" => matches!(kind, Loss | Errors | Flakes),
        "code" => matches!(kind, Errors | Overload | Flakes),
        "after_service" => matches!(kind, Errors | Flakes),
        "limit" => kind == Overload,
        "factor" => kind == Slow,
        "add" => kind == Latency,
        "duration" => matches!(
            kind,
            Slow | Pause
                | Latency
                | Partition
                | CrashNode
                | KillPod
                | Loss
                | Errors
                | Overload
                | Flakes
        ),
        "detect_after" => kind == CrashNode,
        "ready_after" => matches!(kind, Restart | Scale | RollingRestart | KillPod | CrashNode),
        "service" => matches!(kind, Scale | RollingRestart),
        "replicas" => kind == Scale,
        "max_surge" | "grace" => kind == RollingRestart,
        _ => true,
    }
}
