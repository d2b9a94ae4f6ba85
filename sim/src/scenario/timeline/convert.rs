//! A written event ([`RawEvent`]) into a [`TimelineEvent`]: the keys its
//! kind takes, each checked, defaults applied. One function per kind;
//! [`Fields`] (in `fields.rs`) reads and checks the keys kinds share.

use super::fields::Fields;
use super::raw::takes;
use super::{
    Action, EventError, EventKind, Links, MAX_OCCURRENCES, MAX_OVERLOAD_LIMIT, RawEvent, Repeat,
    TimelineEvent,
};
use crate::scenario::{MAX_SLOWDOWN, defaults};
use crate::topology::MAX_PODS_PER_SERVICE;
use stockdata::faults::OverloadFault;

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
