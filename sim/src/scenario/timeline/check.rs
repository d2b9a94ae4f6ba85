//! Timeline checks that need the whole scenario: which pods and hosts
//! exist, when the run ends, and whether two fault windows overlap.
//!
//! Everything an event can get wrong on its own was rejected when it was
//! read (see the parent module); these checks run again whenever the
//! scenario is validated, e.g. after `--strategies` replaces a list.

use super::{Action, Links, MAX_OCCURRENCES, Peers, TimelineEvent};
use crate::scenario::{Scenario, ScenarioError, SimDuration};
use crate::topology;
use std::time::Duration;

/// The pods, hosts and end of run that events are checked against.
struct Context {
    pods: Vec<String>,
    hosts: Vec<String>,
    nodes: Vec<String>,
    end: Duration,
}

impl Scenario {
    pub(in crate::scenario) fn validate_timeline(&self, path: &str) -> Result<(), ScenarioError> {
        let hosts = self.known_hosts();
        let cx = Context {
            pods: self.known_pods(),
            nodes: hosts
                .iter()
                .filter(|h| topology::node_index(h).is_some())
                .cloned()
                .collect(),
            hosts,
            end: self.run_end(),
        };
        // Bound the expansion before expanding anything.
        let mut total: u64 = 0;
        for (i, e) in self.timeline.iter().enumerate() {
            total += u64::from(e.count());
            if total > u64::from(MAX_OCCURRENCES) {
                return Err(ScenarioError::Invalid {
                    path: path.to_string(),
                    field: format!("timeline[{i}].count"),
                    message: format!(
                        "{} event: brings the timeline to {total} occurrences; expected at most {MAX_OCCURRENCES} in all",
                        e.kind().name()
                    ),
                });
            }
        }
        // Fault windows so far: (target, start, end, event index).
        let mut windows: Vec<(String, Duration, Duration, usize)> = Vec::new();
        for (i, e) in self.timeline.iter().enumerate() {
            let invalid = |key: &str, message: String| ScenarioError::Invalid {
                path: path.to_string(),
                field: format!("timeline[{i}].{key}"),
                message: format!("{} event: {message}", e.kind().name()),
            };
            cx.check(e)
                .map_err(|(key, message)| invalid(key, message))?;
            if let Some(message) = self.pod_missing_at_its_time(i, e) {
                return Err(self.located(path, i, "pod", message));
            }
            for t in e.occurrences() {
                if t >= cx.end {
                    return Err(invalid(
                        "at",
                        format!(
                            "an occurrence at {} is not before the end of the run ({}); expected an earlier time",
                            SimDuration(t),
                            SimDuration(cx.end)
                        ),
                    ));
                }
                let Some((target, length)) = fault_window(e.action()) else {
                    continue;
                };
                let (a, b) = (t, t + length);
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
        Ok(())
    }
}

impl Scenario {
    /// For an event on StockData pod `stockdata-N`: a message if the pod
    /// does not exist yet when the event first happens, i.e. neither the
    /// replicas nor a `scale` event before it (earlier, or at the same time
    /// and listed first) created it.
    fn pod_missing_at_its_time(&self, i: usize, e: &TimelineEvent) -> Option<String> {
        let pod = match e.action() {
            Action::KillPod { pod, .. } | Action::RestartPod { pod, .. } => pod,
            other => other.stockdata_pod()?,
        };
        let index = topology::pod_index(topology::STOCKDATA, pod)?;
        let at = e.at();
        let mut created = self.stockdata.replicas.get();
        for (j, other) in self.timeline.iter().enumerate() {
            if let Action::Scale { replicas, .. } = other.action()
                && (other.at() < at || (other.at() == at && j < i))
            {
                created = created.max(*replicas);
            }
        }
        (index >= created).then(|| {
            format!(
                "{} event: `{pod}` does not exist yet at {} (stockdata has {created} pods then); \
                 expected a pod created by the replicas or an earlier `scale` event",
                e.kind().name(),
                SimDuration(at)
            )
        })
    }

    /// An error about `timeline[i].key` at the line and column of that
    /// event's `[[timeline]]` header when the source has one.
    fn located(&self, path: &str, i: usize, key: &str, message: String) -> ScenarioError {
        let is_header = |l: &str| {
            let code = l.split('#').next().unwrap_or_default();
            code.split_whitespace().collect::<String>() == "[[timeline]]"
        };
        let header = self
            .source
            .lines()
            .enumerate()
            .filter(|(_, l)| is_header(l))
            .nth(i);
        match header {
            Some((line, text)) => ScenarioError::Parse {
                path: path.to_string(),
                line: line + 1,
                column: text.len() - text.trim_start().len() + 1,
                message: format!("`timeline[{i}].{key}`: {message}"),
            },
            None => ScenarioError::Invalid {
                path: path.to_string(),
                field: format!("timeline[{i}].{key}"),
                message,
            },
        }
    }
}

impl Context {
    /// The event's pods and hosts exist: `Err((key, message))` if not.
    fn check(&self, e: &TimelineEvent) -> Result<(), (&'static str, String)> {
        let pod = |pod: &String| {
            if self.pods.contains(pod) {
                Ok(())
            } else {
                Err((
                    "pod",
                    format!(
                        "unknown pod `{pod}`; expected one of {}",
                        self.pods.join(", ")
                    ),
                ))
            }
        };
        let node = |n: usize| {
            let name = topology::node_name(n);
            if self.nodes.contains(&name) {
                Ok(())
            } else {
                Err((
                    "node",
                    format!(
                        "unknown node `{name}`; expected one of {}",
                        self.nodes.join(", ")
                    ),
                ))
            }
        };
        let hosts = |key: &'static str, list: &[String]| match list
            .iter()
            .find(|h| !self.hosts.contains(h))
        {
            None => Ok(()),
            Some(h) => Err((
                key,
                format!(
                    "unknown node `{h}`; expected one of {}",
                    self.hosts.join(", ")
                ),
            )),
        };
        let sides = |nodes: &[String], from: &Peers| {
            hosts("nodes", nodes)?;
            match from {
                Peers::AllOthers => Ok(()),
                Peers::Only(list) => hosts("from", list),
            }
        };
        match e.action() {
            Action::KillPod { pod: p, .. }
            | Action::RestartPod { pod: p, .. }
            | Action::Slow { pod: p, .. }
            | Action::Pause { pod: p, .. }
            | Action::Errors { pod: p, .. }
            | Action::Overload { pod: p, .. } => pod(p),
            Action::Flakes { .. } => Ok(()),
            Action::RestartNode { node: n } | Action::CrashNode { node: n, .. } => node(*n),
            Action::Latency { links, .. } => match links {
                Links::Host(a) => hosts("nodes", std::slice::from_ref(a)),
                Links::Between(a, b) => hosts("nodes", &[a.clone(), b.clone()]),
            },
            Action::Partition { nodes, from, .. }
            | Action::Heal { nodes, from }
            | Action::Loss { nodes, from, .. } => sides(nodes, from),
            Action::Scale { .. } | Action::RollingRestart { .. } => Ok(()),
        }
    }
}

/// What a fault with a duration holds for that long, and how long; two
/// windows on the same target must not overlap.
fn fault_window(action: &Action) -> Option<(String, Duration)> {
    match action {
        Action::Slow { pod, duration, .. } | Action::Pause { pod, duration } => {
            Some((format!("pod {pod}"), *duration))
        }
        Action::KillPod {
            pod,
            duration: Some(d),
            ..
        } => Some((format!("pod {pod}"), *d)),
        Action::Errors { pod, duration, .. } => Some((format!("errors on {pod}"), *duration)),
        Action::Overload { pod, duration, .. } => Some((format!("overload on {pod}"), *duration)),
        Action::Flakes { duration, .. } => Some(("flakes".to_string(), *duration)),
        Action::Latency {
            links, duration, ..
        } => {
            let nodes = match links {
                Links::Host(a) => a.clone(),
                Links::Between(a, b) => format!("{a},{b}"),
            };
            Some((format!("latency {nodes}"), *duration))
        }
        Action::Partition {
            nodes,
            duration: Some(d),
            ..
        } => Some((format!("partition {}", nodes.join(",")), *d)),
        Action::Loss {
            nodes,
            duration: Some(d),
            ..
        } => Some((format!("loss {}", nodes.join(",")), *d)),
        Action::CrashNode {
            node,
            duration: Some(d),
            ..
        } => Some((format!("node {}", topology::node_name(*node)), *d)),
        _ => None,
    }
}
