//! Timeline checks that need the whole scenario: which pods and nodes
//! exist, when the run ends, and whether two fault windows overlap.

use super::super::{Scenario, ScenarioError, SimDuration};
use super::EventKind;
use crate::topology::{self, MAX_PODS_PER_SERVICE, STOCKDATA};
use std::time::Duration;

impl Scenario {
    pub(in crate::scenario) fn validate_timeline(&self, path: &str) -> Result<(), ScenarioError> {
        let pods = self.known_pods();
        let hosts = self.known_hosts();
        let end = self.run_end();
        let mut windows: Vec<(String, Duration, Duration, usize)> = Vec::new();
        for (i, e) in self.timeline.iter().enumerate() {
            let invalid = |key: &str, message: String| ScenarioError::Invalid {
                path: path.to_string(),
                field: format!("timeline[{i}].{key}"),
                message: format!("{} event: {message}", e.kind.name()),
            };
            use EventKind::*;
            let uses = |key: &str| -> bool {
                match key {
                    "pod" => matches!(e.kind, KillPod | Restart | Slow | Pause),
                    "node" => matches!(e.kind, CrashNode | Restart),
                    "nodes" => matches!(e.kind, Latency | Partition | Heal | Loss),
                    "from" => matches!(e.kind, Partition | Heal | Loss),
                    "rate" => e.kind == Loss,
                    "factor" => e.kind == Slow,
                    "add" => e.kind == Latency,
                    "duration" => matches!(
                        e.kind,
                        Slow | Pause | Latency | Partition | CrashNode | KillPod | Loss
                    ),
                    "detect_after" => e.kind == CrashNode,
                    "ready_after" => matches!(
                        e.kind,
                        Restart | Scale | RollingRestart | KillPod | CrashNode
                    ),
                    "service" | "replicas" => {
                        e.kind == Scale || (key == "service" && e.kind == RollingRestart)
                    }
                    "max_surge" | "grace" => e.kind == RollingRestart,
                    _ => true,
                }
            };
            let present = [
                ("pod", e.pod.is_some()),
                ("node", e.node.is_some()),
                ("nodes", e.nodes.is_some()),
                ("from", e.from.is_some()),
                ("factor", e.factor.is_some()),
                ("rate", e.rate.is_some()),
                ("add", e.add.is_some()),
                ("duration", e.duration.is_some()),
                ("detect_after", e.detect_after.is_some()),
                ("ready_after", e.ready_after.is_some()),
                ("service", e.service.is_some()),
                ("replicas", e.replicas.is_some()),
                ("max_surge", e.max_surge.is_some()),
                ("grace", e.grace.is_some()),
            ];
            for (key, is_set) in present {
                if is_set && !uses(key) {
                    return Err(invalid(key, "this event takes no such key".into()));
                }
            }
            let need = |key: &str, ok: bool| {
                if ok {
                    Ok(())
                } else {
                    Err(invalid(key, "is required".into()))
                }
            };
            match e.kind {
                KillPod | Slow | Pause => need("pod", e.pod.is_some())?,
                CrashNode => need("node", e.node.is_some())?,
                Restart => {
                    if e.pod.is_some() == e.node.is_some() {
                        return Err(invalid(
                            "pod",
                            "expected exactly one of `pod` or `node`".into(),
                        ));
                    }
                }
                Latency | Partition | Heal | Loss => {
                    need("nodes", e.nodes.as_ref().is_some_and(|n| !n.is_empty()))?
                }
                Scale => need("replicas", e.replicas.is_some())?,
                RollingRestart => {}
            }
            if matches!(e.kind, Slow | Pause | Latency) {
                need("duration", e.duration.is_some())?;
            }
            if e.kind == Slow {
                need("factor", e.factor.is_some_and(|f| f.is_finite() && f > 0.0))?;
            }
            if e.kind == Loss {
                need("rate", e.rate.is_some())?;
                if e.rate.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
                    return Err(invalid("rate", "expected a probability from 0 to 1".into()));
                }
            }
            if e.kind == Latency {
                need("add", e.add.is_some())?;
                if e.nodes.as_ref().is_some_and(|n| n.len() > 2) {
                    return Err(invalid(
                        "nodes",
                        "expected one node (all its links) or two (one link)".into(),
                    ));
                }
            }
            if let Some(pod) = &e.pod {
                if !pods.contains(pod) {
                    return Err(invalid(
                        "pod",
                        format!("unknown pod `{pod}`; expected one of {}", pods.join(", ")),
                    ));
                }
                if matches!(e.kind, Slow | Pause) && !topology::is_stockdata_pod(pod) {
                    return Err(invalid(
                        "pod",
                        "only StockData pods have a service time".into(),
                    ));
                }
            }
            for (key, list) in [
                ("node", e.node.iter().cloned().collect::<Vec<_>>()),
                ("nodes", e.nodes.clone().unwrap_or_default()),
                ("from", e.from.clone().unwrap_or_default()),
            ] {
                for n in list {
                    let nodes_only = key == "node";
                    let valid = if nodes_only {
                        topology::node_index(&n).is_some() && hosts.contains(&n)
                    } else {
                        hosts.contains(&n)
                    };
                    if !valid {
                        return Err(invalid(
                            key,
                            format!("unknown node `{n}`; expected one of {}", hosts.join(", ")),
                        ));
                    }
                }
            }
            if let Some(service) = &e.service
                && service != STOCKDATA
            {
                return Err(invalid(
                    "service",
                    format!("unknown service `{service}`; expected stockdata"),
                ));
            }
            if e.kind == RollingRestart && e.service.is_none() {
                return Err(invalid("service", "is required".into()));
            }
            if let Some(r) = e.replicas
                && (!(1..=MAX_PODS_PER_SERVICE).contains(&r))
            {
                return Err(invalid(
                    "replicas",
                    format!("expected 1 to {MAX_PODS_PER_SERVICE}, got {r}"),
                ));
            }
            if e.max_surge.is_some_and(|s| s > 1) {
                return Err(invalid("max_surge", "expected 0 or 1".into()));
            }
            if e.factor.is_some_and(|f| !(f.is_finite() && f > 0.0)) {
                return Err(invalid("factor", "expected a number above 0".into()));
            }
            match (e.every, e.count) {
                (Some(every), _) if every.0.is_zero() => {
                    return Err(invalid("every", "expected a duration above 0".into()));
                }
                (_, Some(0)) => return Err(invalid("count", "expected at least 1".into())),
                (None, Some(c)) if c > 1 => {
                    return Err(invalid("every", "is required when count > 1".into()));
                }
                _ => {}
            }
            for t in e.occurrences() {
                if t >= end {
                    return Err(invalid(
                        "at",
                        format!(
                            "an occurrence at {} is not before the end of the run ({}); expected an earlier time",
                            SimDuration(t),
                            SimDuration(end)
                        ),
                    ));
                }
                if let Some((a, b)) = e.window(t) {
                    let target = match e.kind {
                        Slow | Pause => format!("pod {}", e.pod.clone().unwrap_or_default()),
                        Latency => {
                            format!("latency {}", e.nodes.clone().unwrap_or_default().join(","))
                        }
                        Partition => format!(
                            "partition {}",
                            e.nodes.clone().unwrap_or_default().join(",")
                        ),
                        Loss => format!("loss {}", e.nodes.clone().unwrap_or_default().join(",")),
                        CrashNode => format!("node {}", e.node.clone().unwrap_or_default()),
                        KillPod => format!("pod {}", e.pod.clone().unwrap_or_default()),
                        _ => continue,
                    };
                    if let Some((_, _, _, other)) = windows
                        .iter()
                        .find(|(k, s, f, _)| *k == target && a < *f && *s < b)
                    {
                        return Err(invalid(
                            "at",
                            format!(
                                "overlaps timeline[{other}] on the same {target}; expected disjoint fault windows"
                            ),
                        ));
                    }
                    windows.push((target, a, b, i));
                }
            }
        }
        Ok(())
    }
}
