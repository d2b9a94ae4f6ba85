//! The keys timeline kinds share, read from a written event and checked.

use super::{EventError, Peers, RawEvent};
use crate::scenario::defaults;
use crate::topology::{self, STOCKDATA};
use std::time::Duration;
use stockdata::faults::ErrorFault;

/// The keys kinds share, read and checked.
pub struct Fields<'a> {
    pub(super) raw: &'a RawEvent,
}

impl Fields<'_> {
    /// `key` is wrong: the message starts with the event's kind.
    pub(super) fn invalid(&self, key: &'static str, message: &str) -> EventError {
        EventError {
            key,
            message: format!("{} event: {message}", self.raw.kind.name()),
        }
    }

    pub(super) fn required(&self, key: &'static str) -> EventError {
        self.invalid(key, "is required")
    }

    pub(super) fn pod(&self) -> Result<String, EventError> {
        self.raw.pod.clone().ok_or_else(|| self.required("pod"))
    }

    /// `pod`, which must be a StockData pod.
    pub(super) fn stockdata_pod(&self) -> Result<String, EventError> {
        self.is_stockdata(self.pod()?)
    }

    pub(super) fn is_stockdata(&self, pod: String) -> Result<String, EventError> {
        if topology::is_stockdata_pod(&pod) {
            Ok(pod)
        } else {
            Err(self.invalid("pod", "only StockData pods have a service time"))
        }
    }

    pub(super) fn node(&self, name: &str) -> Result<usize, EventError> {
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
    pub(super) fn distinct(&self, key: &'static str, list: &[String]) -> Result<(), EventError> {
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

    pub(super) fn nodes(&self) -> Result<Vec<String>, EventError> {
        match &self.raw.nodes {
            Some(n) if !n.is_empty() => {
                self.distinct("nodes", n)?;
                Ok(n.clone())
            }
            _ => Err(self.required("nodes")),
        }
    }

    /// `from`: an empty list or a node on both sides would change no link.
    pub(super) fn from(&self) -> Result<Peers, EventError> {
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

    pub(super) fn duration(&self) -> Result<Duration, EventError> {
        self.raw
            .duration
            .map(|d| d.0)
            .ok_or_else(|| self.required("duration"))
    }

    pub(super) fn optional_duration(&self) -> Option<Duration> {
        self.raw.duration.map(|d| d.0)
    }

    pub(super) fn ready_after(&self) -> Duration {
        self.raw.ready_after.map_or(defaults::READY_AFTER, |d| d.0)
    }

    pub(super) fn service(&self) -> Result<(), EventError> {
        match self.raw.service.as_deref() {
            Some(STOCKDATA) => Ok(()),
            Some(other) => Err(self.invalid(
                "service",
                &format!("unknown service `{other}`; expected {STOCKDATA}"),
            )),
            None => Err(self.required("service")),
        }
    }

    pub(super) fn code(&self, default: tonic::Code) -> Result<tonic::Code, EventError> {
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

    pub(super) fn probability(&self, default: Option<f64>) -> Result<f64, EventError> {
        match self.raw.rate.or(default) {
            Some(r) if (0.0..=1.0).contains(&r) => Ok(r),
            Some(_) => Err(self.invalid("rate", "expected a probability from 0 to 1")),
            None => Err(self.required("rate")),
        }
    }

    pub(super) fn error_fault(&self, default_rate: Option<f64>) -> Result<ErrorFault, EventError> {
        Ok(ErrorFault {
            code: self.code(tonic::Code::Unavailable)?,
            rate: self.probability(default_rate)?,
            after_service: self.raw.after_service.unwrap_or(false),
        })
    }
}
