//! A written event ([`RawEvent`]) into a [`TimelineEvent`]: the keys its
//! kind takes, each checked, defaults applied. One function per kind;
//! [`Fields`] reads and checks the keys kinds share.

use super::raw::takes;
use super::{
    Action, EventError, EventKind, Links, MAX_OCCURRENCES, MAX_OVERLOAD_LIMIT, Peers, RawEvent,
    Repeat, TimelineEvent,
};
use crate::scenario::{MAX_SLOWDOWN, defaults};
use crate::topology::{self, MAX_PODS_PER_SERVICE, STOCKDATA};
use std::time::Duration;
use stockdata::faults::{ErrorFault, OverloadFault};

/// Every key a written event may carry, and whether it does.
fn present(raw: &RawEvent) -> [(&'static str, bool); 17] {
    [
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
    ]
}

impl TryFrom<RawEvent> for TimelineEvent {
    type Error = EventError;

    fn try_from(raw: RawEvent) -> Result<Self, EventError> {
        let f = Fields { raw: &raw };
        if let Some((key, _)) = present(&raw)
            .iter()
            .find(|(k, set)| *set && !takes(raw.kind, k))
        {
            return Err(f.invalid(key, "this event takes no such key"));
        }
        let action = action(&f)?;
        let repeat = repeat(&f)?;
        Ok(TimelineEvent {
            at: raw.at.0,
            repeat,
            action,
            written: raw,
        })
    }
}

/// The action of the event's kind.
fn action(f: &Fields<'_>) -> Result<Action, EventError> {
    match f.raw.kind {
        EventKind::KillPod => kill_pod(f),
        EventKind::Restart => restart(f),
        EventKind::CrashNode => crash_node(f),
        EventKind::Slow => slow(f),
        EventKind::Pause => {
            let (pod, duration) = (f.pod()?, f.duration()?);
            Ok(Action::Pause {
                pod: f.is_stockdata(pod)?,
                duration,
            })
        }
        EventKind::Latency => latency(f),
        EventKind::Partition => Ok(Action::Partition {
            nodes: f.nodes()?,
            from: f.from()?,
            duration: f.optional_duration(),
        }),
        EventKind::Heal => Ok(Action::Heal {
            nodes: f.nodes()?,
            from: f.from()?,
        }),
        EventKind::Loss => loss(f),
        EventKind::Scale => scale(f),
        EventKind::Errors => {
            let pod = f.stockdata_pod()?;
            Ok(Action::Errors {
                fault: f.error_fault(Some(1.0))?,
                duration: f.duration()?,
                pod,
            })
        }
        EventKind::Flakes => Ok(Action::Flakes {
            fault: f.error_fault(None)?,
            duration: f.duration()?,
        }),
        EventKind::Overload => overload(f),
        EventKind::RollingRestart => rolling_restart(f),
    }
}

fn kill_pod(f: &Fields<'_>) -> Result<Action, EventError> {
    if f.optional_duration().is_none() && f.raw.ready_after.is_some() {
        return Err(f.invalid(
            "ready_after",
            "has no effect without `duration`: the pod stays down to the end, so it \
             never becomes ready again; expected a `duration`, or no `ready_after`",
        ));
    }
    Ok(Action::KillPod {
        pod: f.pod()?,
        duration: f.optional_duration(),
        ready_after: f.ready_after(),
    })
}

fn restart(f: &Fields<'_>) -> Result<Action, EventError> {
    match (&f.raw.pod, &f.raw.node) {
        (Some(pod), None) => Ok(Action::RestartPod {
            pod: pod.clone(),
            ready_after: f.ready_after(),
        }),
        (None, Some(n)) => Ok(Action::RestartNode { node: f.node(n)? }),
        _ => Err(f.invalid("pod", "expected exactly one of `pod` or `node`")),
    }
}

fn crash_node(f: &Fields<'_>) -> Result<Action, EventError> {
    let name = f.raw.node.as_deref().ok_or_else(|| f.required("node"))?;
    Ok(Action::CrashNode {
        node: f.node(name)?,
        detect_after: f
            .raw
            .detect_after
            .map_or(defaults::NODE_MONITOR_GRACE_PERIOD, |d| d.0),
        duration: f.optional_duration(),
    })
}

fn slow(f: &Fields<'_>) -> Result<Action, EventError> {
    let pod = f.pod()?;
    let duration = f.duration()?;
    let factor = match f.raw.factor {
        Some(x) if x.is_finite() && x > 0.0 && x <= MAX_SLOWDOWN => x,
        Some(x) => {
            return Err(f.invalid(
                "factor",
                &format!("{x}; expected a number above 0 and at most {MAX_SLOWDOWN}"),
            ));
        }
        None => return Err(f.required("factor")),
    };
    Ok(Action::Slow {
        pod: f.is_stockdata(pod)?,
        factor,
        duration,
    })
}

fn latency(f: &Fields<'_>) -> Result<Action, EventError> {
    let nodes = f.nodes()?;
    let duration = f.duration()?;
    let add = f.raw.add.ok_or_else(|| f.required("add"))?.0;
    let links = match nodes.as_slice() {
        [a] => Links::Host(a.clone()),
        [a, b] => Links::Between(a.clone(), b.clone()),
        _ => {
            return Err(f.invalid(
                "nodes",
                "expected one node (all its links) or two (one link)",
            ));
        }
    };
    Ok(Action::Latency {
        links,
        add,
        duration,
    })
}

fn loss(f: &Fields<'_>) -> Result<Action, EventError> {
    let nodes = f.nodes()?;
    let rate = f.raw.rate.ok_or_else(|| f.required("rate"))?;
    if !(0.0..=1.0).contains(&rate) {
        return Err(f.invalid("rate", "expected a probability from 0 to 1"));
    }
    Ok(Action::Loss {
        nodes,
        from: f.from()?,
        rate,
        duration: f.optional_duration(),
    })
}

fn scale(f: &Fields<'_>) -> Result<Action, EventError> {
    let replicas = f.raw.replicas.ok_or_else(|| f.required("replicas"))?;
    if f.raw.service.is_some() {
        f.service()?;
    }
    if !(1..=MAX_PODS_PER_SERVICE).contains(&replicas) {
        return Err(f.invalid(
            "replicas",
            &format!("expected 1 to {MAX_PODS_PER_SERVICE}, got {replicas}"),
        ));
    }
    Ok(Action::Scale {
        replicas,
        ready_after: f.ready_after(),
    })
}

fn overload(f: &Fields<'_>) -> Result<Action, EventError> {
    let pod = f.stockdata_pod()?;
    let limit = match f.raw.limit {
        Some(l) if (1..=MAX_OVERLOAD_LIMIT).contains(&l) => l as usize,
        Some(l) => {
            return Err(f.invalid("limit", &format!("{l}; expected 1 to {MAX_OVERLOAD_LIMIT}")));
        }
        None => return Err(f.required("limit")),
    };
    Ok(Action::Overload {
        fault: OverloadFault {
            limit,
            code: f.code(tonic::Code::ResourceExhausted)?,
        },
        duration: f.duration()?,
        pod,
    })
}

fn rolling_restart(f: &Fields<'_>) -> Result<Action, EventError> {
    f.service()?;
    let surge = match f.raw.max_surge.unwrap_or(defaults::MAX_SURGE) {
        0 => false,
        1 => true,
        _ => return Err(f.invalid("max_surge", "expected 0 or 1")),
    };
    Ok(Action::RollingRestart {
        surge,
        ready_after: f.ready_after(),
        grace: f.raw.grace.map_or(defaults::GRACE, |g| g.0),
    })
}

/// `every` and `count`.
fn repeat(f: &Fields<'_>) -> Result<Option<Repeat>, EventError> {
    match (f.raw.every, f.raw.count) {
        (Some(every), _) if every.0.is_zero() => {
            Err(f.invalid("every", "expected a duration above 0"))
        }
        (_, Some(0)) => Err(f.invalid("count", "expected at least 1")),
        (_, Some(c)) if c > MAX_OCCURRENCES => Err(f.invalid(
            "count",
            &format!("{c}; expected at most {MAX_OCCURRENCES} (occurrences in the whole timeline)"),
        )),
        (None, Some(c)) if c > 1 => Err(f.invalid("every", "is required when count > 1")),
        (Some(every), count) => Ok(Some(Repeat {
            every: every.0,
            count: count.unwrap_or(1),
        })),
        (None, _) => Ok(None),
    }
}

/// The keys kinds share, read and checked.
struct Fields<'a> {
    raw: &'a RawEvent,
}

impl Fields<'_> {
    /// `key` is wrong: the message starts with the event's kind.
    fn invalid(&self, key: &'static str, message: &str) -> EventError {
        EventError {
            key,
            message: format!("{} event: {message}", self.raw.kind.name()),
        }
    }

    fn required(&self, key: &'static str) -> EventError {
        self.invalid(key, "is required")
    }

    fn pod(&self) -> Result<String, EventError> {
        self.raw.pod.clone().ok_or_else(|| self.required("pod"))
    }

    /// `pod`, which must be a StockData pod.
    fn stockdata_pod(&self) -> Result<String, EventError> {
        self.is_stockdata(self.pod()?)
    }

    fn is_stockdata(&self, pod: String) -> Result<String, EventError> {
        if topology::is_stockdata_pod(&pod) {
            Ok(pod)
        } else {
            Err(self.invalid("pod", "only StockData pods have a service time"))
        }
    }

    fn node(&self, name: &str) -> Result<usize, EventError> {
        topology::node_index(name).ok_or_else(|| {
            self.invalid(
                "node",
                &format!("unknown node `{name}`; expected a node name such as node-0"),
            )
        })
    }

    /// `nodes` and `from` name links: a list naming a node twice would
    /// name a link that is no link, and the event would silently change
    /// nothing there.
    fn distinct(&self, key: &'static str, list: &[String]) -> Result<(), EventError> {
        match list
            .iter()
            .enumerate()
            .find(|(i, n)| list[..*i].contains(n))
        {
            Some((_, n)) => {
                Err(self.invalid(key, &format!("names `{n}` twice; expected each node once")))
            }
            None => Ok(()),
        }
    }

    fn nodes(&self) -> Result<Vec<String>, EventError> {
        match &self.raw.nodes {
            Some(n) if !n.is_empty() => {
                self.distinct("nodes", n)?;
                Ok(n.clone())
            }
            _ => Err(self.required("nodes")),
        }
    }

    /// `from`: an empty list or a node on both sides would change no link.
    fn from(&self) -> Result<Peers, EventError> {
        let Some(f) = &self.raw.from else {
            return Ok(Peers::AllOthers);
        };
        if f.is_empty() {
            return Err(self.invalid(
                "from",
                "is empty, so the event would change no link; expected at least one node, or \
                 no `from` for every other node",
            ));
        }
        self.distinct("from", f)?;
        match f
            .iter()
            .find(|n| self.raw.nodes.as_ref().is_some_and(|ns| ns.contains(n)))
        {
            Some(n) => Err(self.invalid(
                "from",
                &format!(
                    "`{n}` is also in `nodes`, and a node has no link to itself; \
                     expected nodes on the other side only"
                ),
            )),
            None => Ok(Peers::Only(f.clone())),
        }
    }

    fn duration(&self) -> Result<Duration, EventError> {
        self.raw
            .duration
            .map(|d| d.0)
            .ok_or_else(|| self.required("duration"))
    }

    fn optional_duration(&self) -> Option<Duration> {
        self.raw.duration.map(|d| d.0)
    }

    fn ready_after(&self) -> Duration {
        self.raw.ready_after.map_or(defaults::READY_AFTER, |d| d.0)
    }

    fn service(&self) -> Result<(), EventError> {
        match self.raw.service.as_deref() {
            Some(STOCKDATA) => Ok(()),
            Some(other) => Err(self.invalid(
                "service",
                &format!("unknown service `{other}`; expected {STOCKDATA}"),
            )),
            None => Err(self.required("service")),
        }
    }

    fn code(&self, default: tonic::Code) -> Result<tonic::Code, EventError> {
        match self.raw.code.as_deref() {
            None => Ok(default),
            Some(name) => stockdata::faults::error_code(name).ok_or_else(|| {
                self.invalid(
                    "code",
                    &format!(
                        "unknown gRPC error code `{name}`; expected one of {}",
                        stockdata::faults::error_code_names().join(", ")
                    ),
                )
            }),
        }
    }

    fn probability(&self, default: Option<f64>) -> Result<f64, EventError> {
        match self.raw.rate.or(default) {
            Some(r) if (0.0..=1.0).contains(&r) => Ok(r),
            Some(_) => Err(self.invalid("rate", "expected a probability from 0 to 1")),
            None => Err(self.required("rate")),
        }
    }

    fn error_fault(&self, default_rate: Option<f64>) -> Result<ErrorFault, EventError> {
        Ok(ErrorFault {
            code: self.code(tonic::Code::Unavailable)?,
            rate: self.probability(default_rate)?,
            after_service: self.raw.after_service.unwrap_or(false),
        })
    }
}
