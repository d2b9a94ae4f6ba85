//! What every timeline kind answers: the one trait a kind's module
//! implements. The table in [`super::kinds`] registers each kind once and
//! dispatches to these methods; nothing else matches on kinds.
//!
//! A kind is read from its written keys once, when the scenario is parsed
//! ([`Kind::read`]), checked against the rest of the scenario whenever it
//! is validated ([`Kind::check`], [`Kind::window`], [`Kind::pod`],
//! [`Kind::replay`]), expanded into the cluster's primitive [`Step`]s when
//! a run starts ([`Kind::steps`]), and drawn at random by `meshsim chaos`
//! ([`Kind::chaos`]).

use super::check::{Known, PodSet};
use super::fields::Fields;
use super::steps::Steps;
use super::{EventError, Peers};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

#[cfg(doc)]
use super::steps::Step;

/// Which of `meshsim chaos`'s two event draws takes a kind (each draw's
/// kinds in registration order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChaosDraw {
    /// Not drawn.
    Never,
    /// A fault on the cluster: a pod, node or link.
    Cluster,
    /// An error fault on StockData (drawn from a stream of its own).
    Errors,
    /// Kinds added after chaos's seeds were fixed: drawn from a stream of
    /// their own, on top of a valid scenario, so that adding a kind here
    /// changes no existing seed's scenario except by what it adds.
    Later,
}

/// What chaos drew before it picked the kind.
pub struct ChaosPick {
    /// A StockData pod of the initial replicas.
    pub pod: String,
    /// A node.
    pub node: String,
    /// An error status name (error faults).
    pub code: &'static str,
}

/// What expanding an event needs of the scenario.
pub struct Expand<'a> {
    /// The cluster's one-way link latency.
    pub base_latency: Duration,
    /// Every host (nodes and the browser's host).
    pub hosts: &'a [String],
}

impl Expand<'_> {
    /// Both sides of a link fault: `nodes`, and `from` or every other host.
    pub fn sides(&self, nodes: &[String], from: &Peers) -> (Vec<String>, Vec<String>) {
        let b = match from {
            Peers::Only(hosts) => hosts.clone(),
            Peers::AllOthers => self
                .hosts
                .iter()
                .filter(|h| !nodes.contains(h))
                .cloned()
                .collect(),
        };
        (nodes.to_vec(), b)
    }
}

/// A timeline kind: its keys, its checks, its steps, its chaos draw.
pub trait Kind: Sized {
    /// The keys it takes besides `at`, `kind`, `every` and `count`; any
    /// other key written on it is an error.
    const KEYS: &'static [&'static str];

    /// Which chaos draw generates it.
    const CHAOS: ChaosDraw = ChaosDraw::Never;

    /// Reads and checks its keys, applying defaults.
    fn read(f: &Fields<'_>) -> Result<Self, EventError>;

    /// Its pods and hosts exist: `Err((key, message))` if not.
    fn check(&self, known: &Known) -> Result<(), (&'static str, String)>;

    /// What it holds for a while (its targets) and how long: two windows
    /// on one target must not overlap, or the end of one would undo the
    /// other.
    fn window(&self, _hosts: &[String]) -> Option<(Vec<String>, Duration)> {
        None
    }

    /// The pod that must exist when it happens, if it hits one.
    fn pod(&self) -> Option<&str> {
        None
    }

    /// How it changes which StockData pods exist, for later events'
    /// [`Kind::pod`] checks.
    fn replay(&self, _pods: &mut PodSet, _index: usize) {}

    /// The cluster's primitive steps for one occurrence.
    fn steps(&self, cx: &Expand<'_>, out: &mut Steps);

    /// Its keys as chaos writes them, one per line, after `at` and `kind`
    /// (and, for [`ChaosDraw::Errors`], `duration`), drawing from `rng`.
    fn chaos(_rng: &mut ChaCha8Rng, _pick: &ChaosPick) -> String {
        String::new()
    }
}
