//! `heal`: undoes a partition of `nodes` from `from`.

use super::super::check::Known;
use super::super::fields::Fields;
use super::super::kind::{Expand, Kind};
use super::super::steps::{Step, Steps};
use super::super::{EventError, Peers};

/// `heal`.
#[derive(Debug, Clone, PartialEq)]
pub struct Heal {
    /// One side.
    pub nodes: Vec<String>,
    /// The other side.
    pub from: Peers,
}

impl Kind for Heal {
    const KEYS: &'static [&'static str] = &["nodes", "from"];

    fn read(f: &Fields<'_>) -> Result<Self, EventError> {
        Ok(Heal {
            nodes: f.nodes()?,
            from: f.from()?,
        })
    }

    fn check(&self, known: &Known) -> Result<(), (&'static str, String)> {
        known.sides(&self.nodes, &self.from)
    }

    fn steps(&self, cx: &Expand<'_>, out: &mut Steps) {
        let (a, b) = cx.sides(&self.nodes, &self.from);
        out.now(Step::Heal(a, b));
    }
}
