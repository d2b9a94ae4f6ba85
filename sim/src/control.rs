//! The cluster's control plane as the simulation sees it: which pods back
//! which service, whether they are ready, and the cluster DNS.
//!
//! It lives in-process, outside turmoil's network: a DNS query or an endpoint
//! read costs no simulated time. (turmoil's own `lookup` silently invents an
//! address for an unknown name, so cluster names never go through it.)
//!
//! Kubernetes DNS for a service with several pods answers every address and
//! rotates the order on each query; a client that takes the first answer
//! therefore lands on replica `k mod n` for the k-th query. [`ClusterDns`]
//! reproduces that: the seed's "each client pins to whichever replica DNS
//! named first".

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use stockdata::transport::Resolve;
use tokio::sync::watch;

/// One pod backing a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Pod name, e.g. `stockdata-0`.
    pub pod: String,
    /// Where the pod listens (node address, pod port).
    pub addr: SocketAddr,
    /// Whether the pod is serving.
    pub ready: bool,
}

/// Shared cluster state; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ControlPlane {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// Service name → endpoints in registration order.
    services: BTreeMap<String, Vec<Endpoint>>,
    /// Service name → DNS queries answered so far.
    queries: BTreeMap<String, usize>,
    /// Service name → watchers of its endpoint set.
    watchers: BTreeMap<String, watch::Sender<Arc<Vec<Endpoint>>>>,
}

impl State {
    fn publish(&mut self, service: &str) {
        if let Some(tx) = self.watchers.get(service) {
            let endpoints = Arc::new(self.services.get(service).cloned().unwrap_or_default());
            tx.send_replace(endpoints);
        }
    }
}

// === impl ControlPlane ===

impl ControlPlane {
    /// An empty cluster.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is plain data; a panic elsewhere cannot corrupt it.
        crate::sync::lock(&self.inner)
    }

    /// Registers a pod of `service` at `addr`, not yet ready.
    pub fn add_endpoint(&self, service: &str, pod: &str, addr: SocketAddr) {
        let mut state = self.state();
        state
            .services
            .entry(service.to_string())
            .or_default()
            .push(Endpoint {
                pod: pod.to_string(),
                addr,
                ready: false,
            });
        state.publish(service);
    }

    /// Removes `pod` from `service` (a pod deleted, or an entry gone from
    /// `meshsim proxy --endpoints-file`); whether it was there.
    pub fn remove_endpoint(&self, service: &str, pod: &str) -> bool {
        let mut state = self.state();
        let Some(endpoints) = state.services.get_mut(service) else {
            return false;
        };
        let before = endpoints.len();
        endpoints.retain(|e| e.pod != pod);
        let removed = endpoints.len() != before;
        if removed {
            state.publish(service);
        }
        removed
    }

    /// Marks a pod ready or not ready, whichever service it backs.
    pub fn set_ready(&self, pod: &str, ready: bool) {
        let mut state = self.state();
        let mut changed = Vec::new();
        for (service, endpoints) in state.services.iter_mut() {
            for endpoint in endpoints.iter_mut().filter(|e| e.pod == pod) {
                if endpoint.ready != ready {
                    endpoint.ready = ready;
                    changed.push(service.clone());
                }
            }
        }
        for service in changed {
            state.publish(&service);
        }
    }

    /// Watches `service`'s endpoint set (every endpoint, ready or not); the
    /// receiver sees the current set at once and every change after.
    pub fn subscribe(&self, service: &str) -> watch::Receiver<Arc<Vec<Endpoint>>> {
        let mut state = self.state();
        let current = Arc::new(state.services.get(service).cloned().unwrap_or_default());
        state
            .watchers
            .entry(service.to_string())
            .or_insert_with(|| watch::channel(current).0)
            .subscribe()
    }

    /// Every endpoint of `service`, ready or not, in registration order.
    pub fn endpoints(&self, service: &str) -> Vec<Endpoint> {
        self.state()
            .services
            .get(service)
            .cloned()
            .unwrap_or_default()
    }

    /// The ready endpoints of `service`, in registration order.
    pub fn ready_endpoints(&self, service: &str) -> Vec<Endpoint> {
        let mut endpoints = self.endpoints(service);
        endpoints.retain(|e| e.ready);
        endpoints
    }

    /// The cluster DNS.
    pub fn dns(&self) -> ClusterDns {
        ClusterDns {
            cluster: self.clone(),
        }
    }

    /// One DNS answer: ready endpoints, rotated by the number of earlier
    /// queries for the name.
    fn answer(&self, service: &str) -> Vec<SocketAddr> {
        let mut state = self.state();
        let ready: Vec<SocketAddr> = state
            .services
            .get(service)
            .map(|eps| eps.iter().filter(|e| e.ready).map(|e| e.addr).collect())
            .unwrap_or_default();
        let count = state.queries.entry(service.to_string()).or_insert(0);
        let k = *count;
        *count += 1;
        if ready.is_empty() {
            return ready;
        }
        let shift = k % ready.len();
        ready[shift..]
            .iter()
            .chain(&ready[..shift])
            .copied()
            .collect()
    }
}

/// The cluster DNS: a [`Resolve`] over [`ControlPlane`].
///
/// Answers carry each pod's own port (pods share a node's address), so the
/// port asked for is ignored, as an SRV lookup would.
#[derive(Debug, Clone)]
pub struct ClusterDns {
    cluster: ControlPlane,
}

impl Resolve for ClusterDns {
    fn resolve(
        &self,
        host: &str,
        _port: u16,
    ) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static {
        // Strip a trailing cluster domain, as a search path would.
        let name = host.split('.').next().unwrap_or(host).to_string();
        let answer = self.cluster.answer(&name);
        async move {
            if answer.is_empty() {
                Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("NXDOMAIN or no ready endpoints: {name}"),
                ))
            } else {
                Ok(answer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    #[tokio::test]
    async fn dns_rotates_ready_endpoints_per_query() {
        let cluster = ControlPlane::new();
        for i in 0..3u16 {
            cluster.add_endpoint("stockdata", &format!("stockdata-{i}"), addr(5000 + i));
            cluster.set_ready(&format!("stockdata-{i}"), true);
        }
        let dns = cluster.dns();
        let mut firsts = Vec::new();
        for _ in 0..6 {
            let answer = dns.resolve("stockdata", 0).await.expect("answer");
            assert_eq!(answer.len(), 3);
            firsts.push(answer[0].port());
        }
        assert_eq!(firsts, vec![5000, 5001, 5002, 5000, 5001, 5002]);
    }

    #[tokio::test]
    async fn not_ready_pods_are_not_answered() {
        let cluster = ControlPlane::new();
        cluster.add_endpoint("stockdata", "stockdata-0", addr(1));
        assert!(cluster.dns().resolve("stockdata", 0).await.is_err());
        cluster.set_ready("stockdata-0", true);
        let answer = cluster
            .dns()
            .resolve("stockdata.default.svc", 0)
            .await
            .expect("ready");
        assert_eq!(answer, vec![addr(1)]);
        assert!(cluster.dns().resolve("nope", 0).await.is_err());
    }
}
