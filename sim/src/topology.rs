//! The simulated cluster's names, ports and size limits.
//!
//! Two sides must agree on these: the scenario, which validates the pod and
//! node names a user writes (`pod = "stockdata-2"`, `nodes = ["node-1"]`)
//! and bounds the sizes, and the world, which builds exactly those pods on
//! exactly those hosts. They live here, below both, so a scenario can be
//! checked without depending on the simulator that runs it (the `world`
//! module depends on `scenario`, never the reverse), and so a name spelt in
//! one place cannot drift from the name parsed in another.

/// The StockData service name (and its pods' name prefix).
pub const STOCKDATA: &str = "stockdata";
/// The StockWeb service name (and its pods' name prefix).
pub const STOCKWEB: &str = "stockweb";
/// The browser's host name.
pub const INGRESS: &str = "ingress";

/// Prefix of node (turmoil host) names: `node-0`, `node-1`, ….
const NODE_PREFIX: &str = "node-";

/// StockData's service port (what the application asks for).
pub const STOCKDATA_SERVICE_PORT: u16 = 50051;
/// First pod port of StockData pods (pod `i` listens on base + i).
pub const STOCKDATA_POD_PORT_BASE: u16 = 50051;
/// First loopback port of StockData's app behind an inbound sidecar (the
/// pod in slot `i` on base + i; the sidecar takes the pod's own port, as
/// Linkerd's and Istio's inbound redirection does).
pub const STOCKDATA_APP_PORT_BASE: u16 = 30051;
/// First port of StockWeb pods (pod `j` on base + j).
pub const STOCKWEB_POD_PORT_BASE: u16 = 8080;
/// First loopback port of StockWeb's outbound sidecars (Linkerd's outbound
/// proxy port is 4140; pod `j` uses base + j since pods share a node's
/// loopback here).
pub const SIDECAR_OUTBOUND_PORT_BASE: u16 = 4140;
/// Most pods per service, so the port ranges above never overlap.
pub const MAX_PODS_PER_SERVICE: u32 = 1000;
/// Most StockData pods alive at once, so most StockData ports (pod port
/// base + slot): the most replicas, plus as many again for a rollout's
/// surge pods and old pods still in their grace period. A new pod takes a
/// fresh name (as a Deployment's do) but the lowest free slot, so repeated
/// rollouts never run out: the limit is on live pods, not names ever used.
pub const MAX_STOCKDATA_SLOTS: u32 = 2 * MAX_PODS_PER_SERVICE;

/// Most nodes a scenario may have: a node is a turmoil host, and turmoil's
/// per-step cost grows with the cube of the host count (measured: 100 hosts
/// cost 1.7 ms per 100 µs tick even when idle).
pub const MAX_NODES: u32 = 64;

/// The name of node `n`: `node-{n}`.
pub fn node_name(n: usize) -> String {
    format!("{NODE_PREFIX}{n}")
}

/// The index of a node name (`node-2` → 2); `None` for anything else,
/// the browser's host included.
pub fn node_index(name: &str) -> Option<usize> {
    let n = name.strip_prefix(NODE_PREFIX)?.parse().ok()?;
    // Only the canonical spelling names a host (`node-01` does not).
    (node_name(n) == name).then_some(n)
}

/// The name of pod `i` of `service`: `{service}-{i}`.
pub fn pod_name(service: &str, i: u32) -> String {
    format!("{service}-{i}")
}

/// The index of `pod` if it is a pod of `service` (`stockdata-3` → 3).
pub fn pod_index(service: &str, pod: &str) -> Option<u32> {
    pod.strip_prefix(service)?.strip_prefix('-')?.parse().ok()
}

/// Whether `pod` names a StockData pod (the only pods with a service time).
pub fn is_stockdata_pod(pod: &str) -> bool {
    pod.strip_prefix(STOCKDATA)
        .is_some_and(|rest| rest.starts_with('-'))
}

/// Most closed-loop `users` and open-loop `connections`: each holds a
/// connection from the browser host, and a turmoil host has 16,384
/// ephemeral ports (49152–65535); the rest is headroom for connections
/// still closing.
pub const MAX_IN_FLIGHT: u32 = 10_000;

/// Requests the simulated browser keeps in flight (and connections open)
/// when an open-loop workload sets no `connections`: as many as it may.
/// Later requests wait for a free connection, and their corrected latency
/// shows the wait.
pub const DEFAULT_CONNECTIONS: usize = MAX_IN_FLIGHT as usize;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_indexes_round_trip() {
        assert_eq!(node_name(3), "node-3");
        assert_eq!(node_index("node-3"), Some(3));
        assert_eq!(node_index(INGRESS), None);
        assert_eq!(node_index("node-x"), None);
        assert_eq!(pod_name(STOCKDATA, 7), "stockdata-7");
        assert_eq!(pod_index(STOCKDATA, "stockdata-7"), Some(7));
        assert_eq!(pod_index(STOCKDATA, "stockweb-7"), None);
        assert!(is_stockdata_pod("stockdata-0"));
        assert!(!is_stockdata_pod("stockweb-0"));
    }
}
