//! Timeline events: faults and operations at simulated times.
//!
//! Every event is one TOML table in `[[timeline]]` with `at` and `kind`;
//! which other keys it takes depends on the kind (see `scenarios/README.md`).
//! Events may repeat with `every` and `count`.
//!
//! The file's flat form ([`RawEvent`], every key optional) is converted
//! once, while the scenario is parsed, into a [`TimelineEvent`] whose
//! [`Action`] carries exactly the fields its kind uses, defaults applied.
//! So a kind/key mismatch or a missing key is an error with the file, line
//! and column of the event, and the simulator matches on the action rather
//! than second-guessing optional keys. Checks that need the rest of the
//! scenario (does the pod exist, does the run last that long) are in
//! `check`.

mod action;
mod check;
mod raw;

pub use action::{Action, Links, Peers};
pub use raw::{EventKind, RawEvent};

use raw::takes;

use super::{MAX_SLOWDOWN, defaults};
use crate::topology::{self, MAX_PODS_PER_SERVICE, STOCKDATA};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// One timeline event: when, how often, and what.
///
/// Made only from its written form (by `TryFrom<RawEvent>`), which it keeps
/// for the scenario's hash and the report's label: the fields are read
/// through methods so the two cannot disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineEvent {
    at: Duration,
    repeat: Option<Repeat>,
    action: Action,
    written: RawEvent,
}

/// Most occurrences a whole timeline may expand to (every event's `count`
/// added up); each is a queued action and is checked against every other
/// fault window, so the limit keeps validation and memory small.
pub const MAX_OCCURRENCES: u32 = 10_000;

/// Largest `limit` of an `overload` event (more requests than any
/// scenario can have in flight at one pod).
pub const MAX_OVERLOAD_LIMIT: u32 = 1_000_000;

/// `every` and `count`: further occurrences of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat {
    /// Time between two occurrences' starts (above 0).
    pub every: Duration,
    /// Number of occurrences, the first included (at least 1).
    pub count: u32,
}

/// Why a written event is not a valid one: the key at fault and a message
/// that starts with the event's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// The key at fault (`at` when the event as a whole is).
    pub key: &'static str,
    /// What was wrong and what was expected.
    pub message: String,
}

impl TimelineEvent {
    /// When the first occurrence starts, from the start of the run.
    pub fn at(&self) -> Duration {
        self.at
    }

    /// Further occurrences, if any.
    pub fn repeat(&self) -> Option<Repeat> {
        self.repeat
    }

    /// What the event does.
    pub fn action(&self) -> &Action {
        &self.action
    }

    /// What the event does, by name.
    pub fn kind(&self) -> EventKind {
        self.written.kind
    }

    /// The event as written in the scenario.
    pub fn written(&self) -> &RawEvent {
        &self.written
    }

    /// Number of occurrences (`count`, or 1).
    pub fn count(&self) -> u32 {
        self.repeat.map_or(1, |r| r.count)
    }

    /// Start times of every occurrence, computed as they are read (a
    /// timeline is bounded at validation, see [`MAX_OCCURRENCES`]).
    pub fn occurrences(&self) -> impl Iterator<Item = Duration> + '_ {
        let every = self.repeat.map_or(Duration::ZERO, |r| r.every);
        (0..self.count()).map(move |k| self.at.saturating_add(every.saturating_mul(k)))
    }

    /// A one-line description for reports (kind and target, as written).
    pub fn describe(&self) -> String {
        self.written.describe()
    }
}

impl Serialize for TimelineEvent {
    /// As written, so the scenario hash covers exactly the file's text.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.written.serialize(s)
    }
}

impl TryFrom<RawEvent> for TimelineEvent {
    type Error = EventError;

    fn try_from(raw: RawEvent) -> Result<Self, EventError> {
        let kind = raw.kind;
        let invalid = |key: &'static str, message: &str| EventError {
            key,
            message: format!("{} event: {message}", kind.name()),
        };
        let present = [
            ("pod", raw.pod.is_some()),
            ("node", raw.node.is_some()),
            ("nodes", raw.nodes.is_some()),
            ("from", raw.from.is_some()),
            ("factor", raw.factor.is_some()),
            ("rate", raw.rate.is_some()),
            ("add", raw.add.is_some()),
            ("duration", raw.duration.is_some()),
            ("detect_after", raw.detect_after.is_some()),
            ("ready_after", raw.ready_after.is_some()),
            ("service", raw.service.is_some()),
            ("replicas", raw.replicas.is_some()),
            ("max_surge", raw.max_surge.is_some()),
            ("grace", raw.grace.is_some()),
            ("code", raw.code.is_some()),
            ("limit", raw.limit.is_some()),
            ("after_service", raw.after_service.is_some()),
        ];
        if let Some((key, _)) = present.iter().find(|(k, set)| *set && !takes(kind, k)) {
            return Err(invalid(key, "this event takes no such key"));
        }
        let required = |key: &'static str| invalid(key, "is required");
        let pod = || raw.pod.clone().ok_or_else(|| required("pod"));
        let stockdata_pod = |pod: String| {
            if topology::is_stockdata_pod(&pod) {
                Ok(pod)
            } else {
                Err(invalid("pod", "only StockData pods have a service time"))
            }
        };
        let node = |name: &str| {
            topology::node_index(name).ok_or_else(|| {
                invalid(
                    "node",
                    &format!("unknown node `{name}`; expected a node name such as node-0"),
                )
            })
        };
        // `nodes` and `from` name links: a list naming a node twice, an
        // empty `from` or a node on both sides would name a link that is
        // no link, and the event would silently change nothing there.
        let distinct = |key: &'static str, list: &[String]| match list
            .iter()
            .enumerate()
            .find(|(i, n)| list[..*i].contains(n))
        {
            Some((_, n)) => Err(invalid(
                key,
                &format!("names `{n}` twice; expected each node once"),
            )),
            None => Ok(()),
        };
        let nodes = || match &raw.nodes {
            Some(n) if !n.is_empty() => {
                distinct("nodes", n)?;
                Ok(n.clone())
            }
            _ => Err(required("nodes")),
        };
        let from = || match &raw.from {
            Some(f) if f.is_empty() => Err(invalid(
                "from",
                "is empty, so the event would change no link; expected at least one node, or \
                 no `from` for every other node",
            )),
            Some(f) => {
                distinct("from", f)?;
                match f
                    .iter()
                    .find(|n| raw.nodes.as_ref().is_some_and(|ns| ns.contains(n)))
                {
                    Some(n) => Err(invalid(
                        "from",
                        &format!(
                            "`{n}` is also in `nodes`, and a node has no link to itself; \
                             expected nodes on the other side only"
                        ),
                    )),
                    None => Ok(Peers::Only(f.clone())),
                }
            }
            None => Ok(Peers::AllOthers),
        };
        let duration = || {
            raw.duration
                .map(|d| d.0)
                .ok_or_else(|| required("duration"))
        };
        let optional_duration = raw.duration.map(|d| d.0);
        let ready_after = raw.ready_after.map_or(defaults::READY_AFTER, |d| d.0);
        let service = || match raw.service.as_deref() {
            Some(STOCKDATA) => Ok(()),
            Some(other) => Err(invalid(
                "service",
                &format!("unknown service `{other}`; expected {STOCKDATA}"),
            )),
            None => Err(required("service")),
        };

        let code = |default: tonic::Code| match raw.code.as_deref() {
            None => Ok(default),
            Some(name) => stockdata::faults::error_code(name).ok_or_else(|| {
                invalid(
                    "code",
                    &format!(
                        "unknown gRPC error code `{name}`; expected one of {}",
                        stockdata::faults::error_code_names().join(", ")
                    ),
                )
            }),
        };
        let probability = |default: Option<f64>| match raw.rate.or(default) {
            Some(r) if (0.0..=1.0).contains(&r) => Ok(r),
            Some(_) => Err(invalid("rate", "expected a probability from 0 to 1")),
            None => Err(required("rate")),
        };
        let error_fault = |default_rate: Option<f64>| {
            Ok(stockdata::faults::ErrorFault {
                code: code(tonic::Code::Unavailable)?,
                rate: probability(default_rate)?,
                after_service: raw.after_service.unwrap_or(false),
            })
        };

        let action = match kind {
            EventKind::KillPod if optional_duration.is_none() && raw.ready_after.is_some() => {
                return Err(invalid(
                    "ready_after",
                    "has no effect without `duration`: the pod stays down to the end, so it \
                     never becomes ready again; expected a `duration`, or no `ready_after`",
                ));
            }
            EventKind::KillPod => Action::KillPod {
                pod: pod()?,
                duration: optional_duration,
                ready_after,
            },
            EventKind::Restart => match (&raw.pod, &raw.node) {
                (Some(pod), None) => Action::RestartPod {
                    pod: pod.clone(),
                    ready_after,
                },
                (None, Some(n)) => Action::RestartNode { node: node(n)? },
                _ => return Err(invalid("pod", "expected exactly one of `pod` or `node`")),
            },
            EventKind::CrashNode => Action::CrashNode {
                node: node(raw.node.as_deref().ok_or_else(|| required("node"))?)?,
                detect_after: raw
                    .detect_after
                    .map_or(defaults::NODE_MONITOR_GRACE_PERIOD, |d| d.0),
                duration: optional_duration,
            },
            EventKind::Slow => {
                let pod = pod()?;
                let duration = duration()?;
                let factor = match raw.factor {
                    Some(f) if f.is_finite() && f > 0.0 && f <= MAX_SLOWDOWN => f,
                    Some(f) => {
                        return Err(invalid(
                            "factor",
                            &format!("{f}; expected a number above 0 and at most {MAX_SLOWDOWN}"),
                        ));
                    }
                    None => return Err(required("factor")),
                };
                Action::Slow {
                    pod: stockdata_pod(pod)?,
                    factor,
                    duration,
                }
            }
            EventKind::Pause => {
                let pod = pod()?;
                let duration = duration()?;
                Action::Pause {
                    pod: stockdata_pod(pod)?,
                    duration,
                }
            }
            EventKind::Latency => {
                let nodes = nodes()?;
                let duration = duration()?;
                let add = raw.add.ok_or_else(|| required("add"))?.0;
                let links = match nodes.as_slice() {
                    [a] => Links::Host(a.clone()),
                    [a, b] => Links::Between(a.clone(), b.clone()),
                    _ => {
                        return Err(invalid(
                            "nodes",
                            "expected one node (all its links) or two (one link)",
                        ));
                    }
                };
                Action::Latency {
                    links,
                    add,
                    duration,
                }
            }
            EventKind::Partition => Action::Partition {
                nodes: nodes()?,
                from: from()?,
                duration: optional_duration,
            },
            EventKind::Heal => Action::Heal {
                nodes: nodes()?,
                from: from()?,
            },
            EventKind::Loss => {
                let nodes = nodes()?;
                let rate = raw.rate.ok_or_else(|| required("rate"))?;
                if !(0.0..=1.0).contains(&rate) {
                    return Err(invalid("rate", "expected a probability from 0 to 1"));
                }
                Action::Loss {
                    nodes,
                    from: from()?,
                    rate,
                    duration: optional_duration,
                }
            }
            EventKind::Scale => {
                let replicas = raw.replicas.ok_or_else(|| required("replicas"))?;
                if raw.service.is_some() {
                    service()?;
                }
                if !(1..=MAX_PODS_PER_SERVICE).contains(&replicas) {
                    return Err(invalid(
                        "replicas",
                        &format!("expected 1 to {MAX_PODS_PER_SERVICE}, got {replicas}"),
                    ));
                }
                Action::Scale {
                    replicas,
                    ready_after,
                }
            }
            EventKind::Errors => {
                let pod = stockdata_pod(pod()?)?;
                Action::Errors {
                    fault: error_fault(Some(1.0))?,
                    duration: duration()?,
                    pod,
                }
            }
            EventKind::Flakes => Action::Flakes {
                fault: error_fault(None)?,
                duration: duration()?,
            },
            EventKind::Overload => {
                let pod = stockdata_pod(pod()?)?;
                let limit = match raw.limit {
                    Some(l) if (1..=MAX_OVERLOAD_LIMIT).contains(&l) => l as usize,
                    Some(l) => {
                        return Err(invalid(
                            "limit",
                            &format!("{l}; expected 1 to {MAX_OVERLOAD_LIMIT}"),
                        ));
                    }
                    None => return Err(required("limit")),
                };
                Action::Overload {
                    fault: stockdata::faults::OverloadFault {
                        limit,
                        code: code(tonic::Code::ResourceExhausted)?,
                    },
                    duration: duration()?,
                    pod,
                }
            }
            EventKind::RollingRestart => {
                service()?;
                let surge = match raw.max_surge.unwrap_or(defaults::MAX_SURGE) {
                    0 => false,
                    1 => true,
                    _ => return Err(invalid("max_surge", "expected 0 or 1")),
                };
                Action::RollingRestart {
                    surge,
                    ready_after,
                    grace: raw.grace.map_or(defaults::GRACE, |g| g.0),
                }
            }
        };
        let repeat = match (raw.every, raw.count) {
            (Some(every), _) if every.0.is_zero() => {
                return Err(invalid("every", "expected a duration above 0"));
            }
            (_, Some(0)) => return Err(invalid("count", "expected at least 1")),
            (_, Some(c)) if c > MAX_OCCURRENCES => {
                return Err(invalid(
                    "count",
                    &format!(
                        "{c}; expected at most {MAX_OCCURRENCES} (occurrences in the whole timeline)"
                    ),
                ));
            }
            (None, Some(c)) if c > 1 => {
                return Err(invalid("every", "is required when count > 1"));
            }
            (Some(every), count) => Some(Repeat {
                every: every.0,
                count: count.unwrap_or(1),
            }),
            (None, _) => None,
        };
        Ok(TimelineEvent {
            at: raw.at.0,
            repeat,
            action,
            written: raw,
        })
    }
}

/// Deserializes `[[timeline]]`, converting each event as it is read, so an
/// invalid event's error carries its line and column as well as its index
/// (`x.toml:12:1: `timeline[1].factor`: slow event: is required`).
pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TimelineEvent>, D::Error> {
    struct Events;
    impl<'de> Visitor<'de> for Events {
        type Value = Vec<TimelineEvent>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of timeline events ([[timeline]] tables)")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut events = Vec::new();
            while let Some(e) = seq.next_element_seed(Indexed(events.len()))? {
                events.push(e);
            }
            Ok(events)
        }
    }
    d.deserialize_seq(Events)
}

/// Event number `.0` of the timeline.
struct Indexed(usize);

impl<'de> DeserializeSeed<'de> for Indexed {
    type Value = TimelineEvent;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TimelineEvent, D::Error> {
        // Converting inside the table's own visitor lets the TOML
        // deserializer attach the table's position to a conversion error.
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Indexed {
    type Value = TimelineEvent;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a timeline event: a table with `at` and `kind`")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TimelineEvent, A::Error> {
        let raw = RawEvent::deserialize(de::value::MapAccessDeserializer::new(map))?;
        TimelineEvent::try_from(raw).map_err(|e| {
            de::Error::custom(format_args!(
                "`timeline[{}].{}`: {}",
                self.0, e.key, e.message
            ))
        })
    }
}
