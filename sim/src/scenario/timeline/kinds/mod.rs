//! Every timeline kind, registered once.
//!
//! Each kind is one module here implementing [`Kind`]: its keys, how they
//! are read and checked, what it needs of the rest of the scenario, the
//! cluster steps it expands into, and how `meshsim chaos` draws it. The
//! table below is the only list of kinds: it names each kind as scenarios
//! write it and generates [`EventKind`] (the `kind` key), [`Action`] (one
//! variant per kind, holding the kind's typed settings) and the dispatch
//! from both to the kind's module. A new kind is one module and one line
//! in the table (and its row in `scenarios/README.md`); a new key is also
//! one field in `raw.rs`.
//!
//! The order of the table is the order of [`EventKind`] (reports sort by
//! it) and of chaos's draws: add new kinds at the end.

mod crash_node;
mod errors;
mod flakes;
mod heal;
mod kill_pod;
mod latency;
mod loss;
mod overload;
mod partition;
mod pause;
mod restart;
mod rolling_restart;
mod scale;
mod slow;
mod unready;

pub use crash_node::CrashNode;
pub use errors::Errors;
pub use flakes::Flakes;
pub use heal::Heal;
pub use kill_pod::KillPod;
pub use latency::Latency;
pub use loss::Loss;
pub use overload::Overload;
pub use partition::Partition;
pub use pause::Pause;
pub use restart::Restart;
pub use rolling_restart::RollingRestart;
pub use scale::Scale;
pub use slow::Slow;
pub use unready::Unready;

use super::EventError;
use super::check::{Known, PodSet};
use super::fields::Fields;
use super::kind::{ChaosDraw, ChaosPick, Expand, Kind};
use super::steps::Steps;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Generates [`EventKind`], [`Action`] and their dispatch from the table.
macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, )*) => {
        /// What an event does: the `kind` key.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum EventKind {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        /// What an event does, typed: one variant per kind, holding
        /// exactly the settings that kind takes, defaults applied.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Action {
            $( $(#[$doc])* $variant($variant), )*
        }

        impl EventKind {
            /// Every kind, in the table's order.
            pub const ALL: &[EventKind] = &[$(EventKind::$variant),*];

            /// The name scenarios write.
            pub fn name(self) -> &'static str {
                match self { $(EventKind::$variant => $name,)* }
            }

            /// The keys it takes besides `at`, `kind`, `every`, `count`.
            pub fn keys(self) -> &'static [&'static str] {
                match self { $(EventKind::$variant => <$variant as Kind>::KEYS,)* }
            }

            /// Which chaos draw generates it.
            pub fn chaos_draw(self) -> ChaosDraw {
                match self { $(EventKind::$variant => <$variant as Kind>::CHAOS,)* }
            }

            /// Its keys as chaos writes them (see [`Kind::chaos`]).
            pub fn chaos(self, rng: &mut ChaCha8Rng, pick: &ChaosPick) -> String {
                match self { $(EventKind::$variant => <$variant as Kind>::chaos(rng, pick),)* }
            }

            /// Reads the event's keys into its action.
            pub(super) fn read(self, f: &Fields<'_>) -> Result<Action, EventError> {
                match self { $(EventKind::$variant => <$variant as Kind>::read(f).map(Action::$variant),)* }
            }
        }

        impl Action {
            /// Its kind.
            pub fn kind(&self) -> EventKind {
                match self { $(Action::$variant(_) => EventKind::$variant,)* }
            }

            /// See [`Kind::check`].
            pub(super) fn check(&self, known: &Known) -> Result<(), (&'static str, String)> {
                match self { $(Action::$variant(k) => k.check(known),)* }
            }

            /// See [`Kind::window`].
            pub(super) fn window(&self, hosts: &[String]) -> Option<(Vec<String>, Duration)> {
                match self { $(Action::$variant(k) => k.window(hosts),)* }
            }

            /// See [`Kind::pod`].
            pub fn pod(&self) -> Option<&str> {
                match self { $(Action::$variant(k) => k.pod(),)* }
            }

            /// See [`Kind::replay`].
            pub(super) fn replay(&self, pods: &mut PodSet, index: usize) {
                match self { $(Action::$variant(k) => k.replay(pods, index),)* }
            }

            /// See [`Kind::steps`].
            pub fn steps(&self, cx: &Expand<'_>, out: &mut Steps) {
                match self { $(Action::$variant(k) => k.steps(cx, out),)* }
            }
        }
    };
}

kinds! {
    /// The pod's process dies: its connections reset, its port refuses.
    KillPod = "kill-pod",
    /// A killed pod (`pod`) or crashed node (`node`) starts again.
    Restart = "restart",
    /// The node crashes: everything on it stops and its packets are
    /// blackholed until it restarts.
    CrashNode = "crash-node",
    /// The pod's service times are multiplied by `factor` for `duration`.
    Slow = "slow",
    /// The pod stops processing (a stall) for `duration`.
    Pause = "pause",
    /// `add` extra one-way latency on the links of `nodes` for `duration`.
    Latency = "latency",
    /// `nodes` cannot reach `from` (default: every other host).
    Partition = "partition",
    /// Undoes a partition of `nodes` from `from`.
    Heal = "heal",
    /// Segments between `nodes` and `from` are lost with probability
    /// `rate` (each loss costs a retransmission timeout) for `duration`.
    Loss = "loss",
    /// Sets `service`'s replica count to `replicas`.
    Scale = "scale",
    /// Replaces `service`'s pods one at a time.
    RollingRestart = "rolling-restart",
    /// The pod answers `code` with probability `rate` (at once, or after
    /// its service time with `after_service`) for `duration`.
    Errors = "errors",
    /// The pod refuses requests with `code` while `limit` or more are in
    /// it (it holds at most `limit`), for `duration`.
    Overload = "overload",
    /// Every StockData pod answers `code` with probability `rate` for
    /// `duration` (rare flakes).
    Flakes = "flakes",
    /// The pod fails its readiness probe for `duration`: out of its
    /// endpoints, still running and answering.
    Unready = "unready",
}

/// `"{n}ms"` with `n` drawn from `lo..=hi`, as chaos writes durations.
pub(super) fn chaos_ms(rng: &mut ChaCha8Rng, lo: u32, hi: u32) -> String {
    use rand::Rng;
    format!("\"{}ms\"", rng.random_range(lo..=hi))
}
