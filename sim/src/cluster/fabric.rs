//! What the timeline does to nodes and links, behind one trait so that the
//! same actions run on the simulator and on this machine.
//! `crate::backend::sim` and `crate::backend::real` implement it.

use super::pods::PodSpec;
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
