//! Timeline checks that need the whole scenario: which pods and hosts
//! exist, when the run ends, and whether two fault windows overlap.
//!
//! Everything an event can get wrong on its own was rejected when it was
//! read (see the parent module); these checks run again whenever the
//! scenario is validated, e.g. after `--strategies` replaces a list.

use super::{MAX_OCCURRENCES, Peers, TimelineEvent};
use crate::scenario::{Scenario, ScenarioError, SimDuration};
use crate::topology;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The pods, hosts and end of run that events are checked against.
pub struct Known {
    pods: Vec<String>,
    hosts: Vec<String>,
    nodes: Vec<String>,
    end: Duration,
}

/// Fault windows claimed so far, by target: (start, end, event index).
#[derive(Default)]
struct Windows(BTreeMap<String, Vec<(Duration, Duration, usize)>>);

/// Two windows on one target: the target, the earlier event's index and
/// start, and the new window's start.
struct Clash {
    target: String,
    other: usize,
    other_start: Duration,
    start: Duration,
}

impl Windows {
    /// Claims `targets` from `start` to `end` for event `index`, unless
    /// another event holds one of them then.
    fn claim(
        &mut self,
        targets: Vec<String>,
        (start, end, index): (Duration, Duration, usize),
    ) -> Result<(), Clash> {
        for target in targets {
            let held = self.0.entry(target.clone()).or_default();
            if let Some(&(s, _, other)) = held.iter().find(|(s, f, _)| start < *f && *s < end) {
                return Err(Clash {
                    target,
                    other,
                    other_start: s,
                    start,
                });
            }
            held.push((start, end, index));
        }
        Ok(())
    }
}

impl Scenario {
    pub(in crate::scenario) fn validate_timeline(&self, path: &str) -> Result<(), ScenarioError> {
        let known = self.known();
        self.bound_occurrences(path)?;
        let mut windows = Windows::default();
        for (i, e) in self.timeline.iter().enumerate() {
            let name = e.kind().name();
            let at = |key: &str, message: String| {
                self.located(path, i, key, format!("{name} event: {message}"))
            };
            e.action().check(&known).map_err(|(key, m)| at(key, m))?;
            if let Some(message) = self.pod_missing_at_its_time(i, e) {
                return Err(self.located(path, i, "pod", message));
            }
            for t in e.occurrences() {
                if t >= known.end {
                    return Err(at(
                        "at",
                        format!(
                            "an occurrence at {} is not before the end of the run ({}); expected \
                             an earlier time",
                            SimDuration(t),
                            SimDuration(known.end)
                        ),
                    ));
                }
                let Some((targets, length)) = e.action().window(&known.hosts) else {
                    continue;
                };
                windows
                    .claim(targets, (t, t.saturating_add(length), i))
                    .map_err(|clash| self.overlap(path, i, clash))?;
            }
        }
        Ok(())
    }

    /// What events are checked against.
    fn known(&self) -> Known {
        let hosts = self.known_hosts();
        Known {
            pods: self.known_pods(),
            nodes: hosts
                .iter()
                .filter(|h| topology::node_index(h).is_some())
                .cloned()
                .collect(),
            hosts,
            end: self.run_end(),
        }
    }

    /// Bounds the expansion before anything is expanded.
    fn bound_occurrences(&self, path: &str) -> Result<(), ScenarioError> {
        let mut total: u64 = 0;
        for (i, e) in self.timeline.iter().enumerate() {
            total += u64::from(e.count());
            if total > u64::from(MAX_OCCURRENCES) {
                return Err(self.located(
                    path,
                    i,
                    "count",
                    format!(
                        "{} event: brings the timeline to {total} occurrences; expected at most \
                         {MAX_OCCURRENCES} in all",
                        e.kind().name()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Event `i`'s window clashes with an earlier one: the end of one
    /// would undo the other's change. The error names both events.
    fn overlap(&self, path: &str, i: usize, clash: Clash) -> ScenarioError {
        let Clash {
            target,
            other,
            other_start,
            start,
        } = clash;
        let there = match self.located(path, other, "at", String::new()) {
            ScenarioError::Parse { line, column, .. } => format!(", {path}:{line}:{column}"),
            _ => String::new(),
        };
        self.located(
            path,
            i,
            "at",
            format!(
                "{} event: its window from {} overlaps timeline[{other}]'s (from {}{there}) on the \
                 same {target}, and the end of one would undo the other; expected disjoint fault \
                 windows per link, host or pod",
                self.timeline[i].kind().name(),
                SimDuration(start),
                SimDuration(other_start),
            ),
        )
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
        let pod = e.action().pod()?;
        let index = topology::pod_index(topology::STOCKDATA, pod)?;
        let at = e.at();
        let mut pods = PodSet::new(self.stockdata.replicas.get());
        let mut earlier: Vec<(usize, &TimelineEvent)> = self
            .timeline
            .iter()
            .enumerate()
            .filter(|(j, o)| o.at() < at || (o.at() == at && *j < i))
            .collect();
        earlier.sort_by_key(|(j, o)| (o.at(), *j));
        for (j, other) in earlier {
            other.action().replay(&mut pods, j);
        }
        let PodSet {
            existing,
            running,
            next,
            removed_by,
        } = pods;
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

impl Known {
    /// `pod` is a pod of the scenario.
    pub fn pod(&self, pod: &str) -> Result<(), (&'static str, String)> {
        if self.pods.iter().any(|p| p == pod) {
            return Ok(());
        }
        Err((
            "pod",
            format!(
                "unknown pod `{pod}`; expected one of {}",
                self.pods.join(", ")
            ),
        ))
    }

    /// Node `n` is a node of the cluster.
    pub fn node(&self, n: usize) -> Result<(), (&'static str, String)> {
        let name = topology::node_name(n);
        if self.nodes.contains(&name) {
            return Ok(());
        }
        Err((
            "node",
            format!(
                "unknown node `{name}`; expected one of {}",
                self.nodes.join(", ")
            ),
        ))
    }

    /// Every host of `list` (the value of `key`) exists.
    pub fn hosts(&self, key: &'static str, list: &[String]) -> Result<(), (&'static str, String)> {
        match list.iter().find(|h| !self.hosts.contains(h)) {
            None => Ok(()),
            Some(h) => Err((
                key,
                format!(
                    "unknown node `{h}`; expected one of {}",
                    self.hosts.join(", ")
                ),
            )),
        }
    }

    /// Both sides of a link fault exist.
    pub fn sides(&self, nodes: &[String], from: &Peers) -> Result<(), (&'static str, String)> {
        self.hosts("nodes", nodes)?;
        match from {
            Peers::AllOthers => Ok(()),
            Peers::Only(list) => self.hosts("from", list),
        }
    }
}

/// StockData's pods as the timeline changes them, played along it as the
/// cluster will: which exist (not deleted), which of those run, the next
/// fresh index, and which event removed a pod.
pub struct PodSet {
    existing: BTreeSet<u32>,
    running: BTreeSet<u32>,
    next: u32,
    removed_by: BTreeMap<u32, usize>,
}

impl PodSet {
    /// The initial `replicas`, all running.
    fn new(replicas: u32) -> Self {
        let existing: BTreeSet<u32> = (0..replicas).collect();
        Self {
            running: existing.clone(),
            existing,
            next: replicas,
            removed_by: BTreeMap::new(),
        }
    }

    /// How many run.
    pub fn running(&self) -> u32 {
        self.running.len() as u32
    }

    /// A new pod with the next fresh index (names are never reused, as a
    /// Deployment's are not).
    pub fn add(&mut self) {
        self.existing.insert(self.next);
        self.running.insert(self.next);
        self.next += 1;
    }

    /// Event `by` deletes the `count` newest running pods (a scale-down).
    pub fn remove_newest(&mut self, count: usize, by: usize) {
        let newest: Vec<u32> = self.running.iter().rev().take(count).copied().collect();
        for k in newest {
            self.running.remove(&k);
            self.existing.remove(&k);
            self.removed_by.insert(k, by);
        }
    }

    /// Every running pod is replaced by a new one; the old ones leave one
    /// by one during the rollout and an event may still reach them, so
    /// they stay known.
    pub fn replace_all(&mut self) {
        let old = std::mem::take(&mut self.running);
        for _ in old {
            self.add();
        }
    }

    /// `pod` stops for good (it still exists, not running).
    pub fn stop(&mut self, pod: &str) {
        if let Some(k) = topology::pod_index(topology::STOCKDATA, pod) {
            self.running.remove(&k);
        }
    }
}

/// The links between `nodes` and `from` (every other host if `from` is
/// everything), each named once whichever way it was written (`a,b` and
/// `b,a` are one link).
pub fn links(nodes: &[String], from: &Peers, hosts: &[String]) -> Vec<String> {
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
pub fn link(a: &str, b: &str) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    format!("link {x}–{y}")
}

/// `list` with each entry prefixed by `what` (`latency on link a–b`).
pub fn prefixed(what: &str, list: Vec<String>) -> Vec<String> {
    list.into_iter().map(|l| format!("{what} {l}")).collect()
}
