//! What the timeline does to nodes and links, behind one trait so that the
//! same actions run on the simulator and on this machine.
//!
//! [`SimFabric`] is turmoil's: a node is a host, a partition holds segments
//! until it heals, latency is a link setting. The real-mode fabric lives in
//! `crate::real`.

use super::pods::PodSpec;
use crate::net::NetFaults;
use crate::topology::node_name;
use std::net::SocketAddr;
use std::time::Duration;

/// Nodes, links and pod addresses, as the timeline changes them.
pub(crate) trait Fabric {
    /// The node's machine dies: every task on it stops, its peers hear
    /// nothing more from it.
    fn crash(&mut self, node: usize);
    /// Whether the node is up.
    fn is_running(&mut self, node: usize) -> bool;
    /// The node comes back (its agent starts its pods again).
    fn bounce(&mut self, node: usize);
    /// Traffic from `a` to `b` is held until released.
    fn hold(&mut self, a: &str, b: &str);
    /// Held traffic from `a` to `b` flows again.
    fn release(&mut self, a: &str, b: &str);
    /// Packet loss between `a` and `b` (`None`: back to the default).
    fn set_loss(&mut self, a: &str, b: &str, rate: Option<f64>);
    /// One-way latency between `a` and `b`.
    fn set_latency(&mut self, a: &str, b: &str, latency: Duration);
    /// The address other pods reach `pod` at.
    fn endpoint_addr(&mut self, pod: &PodSpec) -> SocketAddr;
}

/// turmoil's network.
pub(crate) struct SimFabric<'a, 'b> {
    pub sim: &'a mut turmoil::Sim<'b>,
    pub faults: &'a NetFaults,
}

impl Fabric for SimFabric<'_, '_> {
    fn crash(&mut self, node: usize) {
        self.sim.crash(node_name(node).as_str());
    }
    fn is_running(&mut self, node: usize) -> bool {
        self.sim.is_host_running(node_name(node).as_str())
    }
    fn bounce(&mut self, node: usize) {
        self.sim.bounce(node_name(node).as_str());
    }
    // turmoil's TCP never retransmits, so a partition that dropped segments
    // would wedge connections for ever. Holding them and delivering them at
    // the heal stands in for TCP retransmission: the connection stalls,
    // then resumes.
    fn hold(&mut self, a: &str, b: &str) {
        self.sim.hold(a, b);
    }
    fn release(&mut self, a: &str, b: &str) {
        self.sim.release(a, b);
    }
    fn set_loss(&mut self, a: &str, b: &str, rate: Option<f64>) {
        let (a, b) = (self.sim.lookup(a), self.sim.lookup(b));
        self.faults.set(a, b, rate);
    }
    fn set_latency(&mut self, a: &str, b: &str, latency: Duration) {
        self.sim.set_link_latency(a, b, latency);
    }
    fn endpoint_addr(&mut self, pod: &PodSpec) -> SocketAddr {
        let ip = self.sim.lookup(node_name(pod.node).as_str());
        SocketAddr::from((ip, pod.port))
    }
}
