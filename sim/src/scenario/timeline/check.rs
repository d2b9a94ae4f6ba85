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
        // Fault windows so far, by target: (start, end, event index).
        let mut windows: std::collections::BTreeMap<String, Vec<(Duration, Duration, usize)>> =
            std::collections::BTreeMap::new();
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
                let Some((targets, length)) = fault_window(e.action(), &cx.hosts) else {
                    continue;
                };
                let (a, b) = (t, t.saturating_add(length));
                for target in targets {
                    let on_target = windows.entry(target.clone()).or_default();
                    if let Some((s, _, other)) = on_target.iter().find(|(s, f, _)| a < *f && *s < b)
                    {
                        // The end of one window would undo the other's
                        // change: refuse, naming both events.
                        let there = self.located(path, *other, "at", String::new());
                        return Err(self.located(
                            path,
                            i,
                            "at",
                            format!(
                                "{} event: its window from {} overlaps timeline[{other}]'s (from \
                                 {}{}) on the same {target}, and the end of one would undo the \
                                 other; expected disjoint fault windows per link, host or pod",
                                e.kind().name(),
                                SimDuration(a),
                                SimDuration(*s),
                                match there {
                                    ScenarioError::Parse { line, column, .. } => {
                                        format!(", {path}:{line}:{column}")
                                    }
                                    _ => String::new(),
                                }
                            ),
                        ));
                    }
                    on_target.push((a, b, i));
                }
            }
        }
        Ok(())
    }
}

impl Scenario {
    /// For an event on StockData pod `stockdata-N`: a message if the pod
    /// does not exist when the event first happens. The pod set is played
    /// along the timeline as the cluster will: the replicas, then every
    /// earlier event (or one at the same time listed first) that adds or
    /// removes pods. Names are never reused, as a Deployment's are not: a
    /// `scale` up adds the next indices, a `scale` down removes the newest
    /// running pods, a rolling restart with `max_surge = 1` replaces every
    /// running pod with a new name.
    fn pod_missing_at_its_time(&self, i: usize, e: &TimelineEvent) -> Option<String> {
        let pod = match e.action() {
            Action::KillPod { pod, .. } | Action::RestartPod { pod, .. } => pod,
            other => other.stockdata_pod()?,
        };
        let index = topology::pod_index(topology::STOCKDATA, pod)?;
        let at = e.at();
        let replicas = self.stockdata.replicas.get();
        // Pods that exist (not deleted), the running ones among them, the
        // next fresh index, and which event removed a pod.
        let mut existing: std::collections::BTreeSet<u32> = (0..replicas).collect();
        let mut running = existing.clone();
        let mut next = replicas;
        let mut removed_by: std::collections::BTreeMap<u32, usize> = Default::default();
        let mut earlier: Vec<(usize, &TimelineEvent)> = self
            .timeline
            .iter()
            .enumerate()
            .filter(|(j, o)| o.at() < at || (o.at() == at && *j < i))
            .collect();
        earlier.sort_by_key(|(j, o)| (o.at(), *j));
        for (j, other) in earlier {
            match other.action() {
                Action::Scale { replicas, .. } => {
                    let have = running.len() as u32;
                    for _ in have..*replicas {
                        existing.insert(next);
                        running.insert(next);
                        next += 1;
                    }
                    let extra = have.saturating_sub(*replicas) as usize;
                    let newest: Vec<u32> = running.iter().rev().take(extra).copied().collect();
                    for k in newest {
                        running.remove(&k);
                        existing.remove(&k);
                        removed_by.insert(k, j);
                    }
                }
                Action::RollingRestart { surge: true, .. } => {
                    // The old pods leave one by one during the rollout: an
                    // event may still reach them, so they stay known.
                    let old: Vec<u32> = std::mem::take(&mut running).into_iter().collect();
                    for _ in old {
                        existing.insert(next);
                        running.insert(next);
                        next += 1;
                    }
                }
                Action::KillPod {
                    pod,
                    duration: None,
                    ..
                } => {
                    if let Some(k) = topology::pod_index(topology::STOCKDATA, pod) {
                        running.remove(&k);
                    }
                }
                _ => {}
            }
        }
        if existing.contains(&index) {
            return None;
        }
        let name = e.kind().name();
        let when = SimDuration(at);
        Some(match removed_by.get(&index) {
            Some(&j) => format!(
                "{name} event: `{pod}` no longer exists at {when}: the `scale` event \
                 timeline[{j}] at {} removed it (a scale-down removes the newest pods); \
                 expected a pod that is running then",
                SimDuration(self.timeline[j].at())
            ),
            None if index >= next => format!(
                "{name} event: `{pod}` does not exist yet at {when} (stockdata has {} pods \
                 then); expected a pod created by the replicas or an earlier `scale` event",
                running.len()
            ),
            None => format!(
                "{name} event: `{pod}` does not exist at {when}; expected a pod that is \
                 running then"
            ),
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

/// The links between `nodes` and `from` (every other host if `from` is
/// everything), each named once whichever way it was written (`a,b` and
/// `b,a` are one link).
fn links(nodes: &[String], from: &Peers, hosts: &[String]) -> Vec<String> {
    let others: Vec<&String> = match from {
        Peers::Only(list) => list.iter().collect(),
        Peers::AllOthers => hosts.iter().filter(|h| !nodes.contains(h)).collect(),
    };
    let mut out: Vec<String> = nodes
        .iter()
        .flat_map(|a| others.iter().map(move |b| link(a, b)))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// One link's name, its ends in order.
fn link(a: &str, b: &str) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    format!("link {x}–{y}")
}

/// What a fault with a duration holds for that long (its targets), and
/// how long; two windows on one target must not overlap. A link fault's
/// targets are its links, named the same however the event wrote them (a
/// host's latency is every link of the host), so windows written
/// differently on one link still meet.
fn fault_window(action: &Action, hosts: &[String]) -> Option<(Vec<String>, Duration)> {
    let one = |target: String, d: Duration| Some((vec![target], d));
    let prefixed = |kind: &str, list: Vec<String>| -> Vec<String> {
        list.into_iter().map(|l| format!("{kind} {l}")).collect()
    };
    match action {
        Action::Slow { pod, duration, .. } | Action::Pause { pod, duration } => {
            one(format!("pod {pod}"), *duration)
        }
        Action::KillPod {
            pod,
            duration: Some(d),
            ..
        } => one(format!("pod {pod}"), *d),
        Action::Errors { pod, duration, .. } => one(format!("errors on {pod}"), *duration),
        Action::Overload { pod, duration, .. } => one(format!("overload on {pod}"), *duration),
        Action::Flakes { duration, .. } => one("flakes".to_string(), *duration),
        Action::Latency {
            links: l, duration, ..
        } => {
            let list = match l {
                Links::Host(a) => links(std::slice::from_ref(a), &Peers::AllOthers, hosts),
                Links::Between(a, b) => vec![link(a, b)],
            };
            Some((prefixed("latency on", list), *duration))
        }
        Action::Partition {
            nodes,
            from,
            duration: Some(d),
        } => Some((prefixed("partition of", links(nodes, from, hosts)), *d)),
        Action::Loss {
            nodes,
            from,
            duration: Some(d),
            ..
        } => Some((prefixed("loss on", links(nodes, from, hosts)), *d)),
        Action::CrashNode {
            node,
            duration: Some(d),
            ..
        } => one(format!("node {}", topology::node_name(*node)), *d),
        _ => None,
    }
}
