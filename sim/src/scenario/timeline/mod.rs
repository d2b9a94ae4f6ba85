//! Timeline events: faults and operations at simulated times.
//!
//! Every event is one TOML table in `[[timeline]]` with `at` and `kind`;
//! which other keys it takes depends on the kind (see `scenarios/README.md`).
//! Events may repeat with `every` and `count`.
//!
//! The file's flat form ([`RawEvent`], every key optional) is converted
//! once, while the scenario is parsed, into a [`TimelineEvent`] whose
//! [`Action`] carries exactly the fields its kind uses, defaults applied.
//! Each kind is one module under `kinds/`, registered by one line there.
//! So a kind/key mismatch or a missing key is an error with the file, line
//! and column of the event, and the simulator matches on the action rather
//! than second-guessing optional keys. Checks that need the rest of the
//! scenario (does the pod exist, does the run last that long) are in
//! `check`.

mod action;
mod check;
mod convert;
mod fields;
mod kind;
pub mod kinds;
mod raw;
pub mod steps;

pub use action::{Links, Peers};
pub use check::{Known, PodSet};
pub use kind::{ChaosDraw, ChaosPick, Expand, Kind};
pub use kinds::{Action, EventKind};
pub use raw::RawEvent;
pub use steps::{Step, Steps};

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
