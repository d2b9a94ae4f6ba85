//! The targets link faults name: shared by the `latency`, `partition`,
//! `heal` and `loss` kinds.

/// The links a `latency` event changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Links {
    /// Every link of one host.
    Host(String),
    /// The one link between two hosts.
    Between(String, String),
}

/// The far side of a `partition`, `heal` or `loss`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peers {
    /// Every host not on the near side (`from` omitted).
    AllOthers,
    /// These hosts.
    Only(Vec<String>),
}
