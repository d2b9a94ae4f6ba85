//! The cluster a strategy runs in: nodes, the pods on them, and what the
//! scenario's timeline does to both, the same on either backend.
//!
//! A node is a turmoil host in the simulator and a task with its own
//! loopback addresses in real mode; a pod is a group of tasks with its own
//! ports on a node. (turmoil's per-step cost grows with the cube of the host
//! count, so pods must not be hosts.) Placement is deterministic: StockWeb
//! pod `j` on node `j mod nodes`, StockData pod `i` on node `(i + 1) mod
//! nodes`, so with the default three nodes the app and the replicas are on
//! different nodes and every call crosses the network.
//!
//! A node agent per node ([`kubelet`]) runs the pods the
//! [`kubelet::PodTable`] places there; [`pods`] says what each pod is for a
//! strategy; [`actions`] applies the timeline through a [`fabric::Fabric`],
//! the one thing a backend (`crate::backend`) provides for nodes and links.

pub(crate) mod actions;
pub(crate) mod fabric;
pub(crate) mod kubelet;
pub(crate) mod pods;
