//! kube-proxy: per-connection load balancing behind a service virtual IP.
//!
//! A ClusterIP service resolves to one virtual IP; kube-proxy (iptables
//! mode) rewrites each new *connection* to a randomly chosen ready pod, with
//! equal probability. Every request on that connection then goes to the same
//! pod, which is why a gRPC client with one long-lived HTTP/2 connection
//! stays pinned to one replica behind a perfectly good L4 balancer.
//!
//! [`VipDns`] answers the service name with its virtual IP;
//! [`KubeProxyConnect`] is the node's connection rewriting.

use crate::control::ControlPlane;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use stockdata::transport::{Connect, Resolve};

/// The virtual IP meshsim gives every ClusterIP service (the port tells
/// services apart). Never a turmoil host: only [`KubeProxyConnect`] dials it.
pub const SERVICE_VIP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 10);

/// Resolves any service name to its virtual IP.
#[derive(Debug, Clone, Copy, Default)]
pub struct VipDns;

impl Resolve for VipDns {
    fn resolve(
        &self,
        _host: &str,
        port: u16,
    ) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static {
        std::future::ready(Ok(vec![SocketAddr::from((SERVICE_VIP, port))]))
    }
}

/// Dials through kube-proxy: a connection to `SERVICE_VIP:port` of
/// `service` goes to a random ready endpoint of it.
#[derive(Debug, Clone)]
pub struct KubeProxyConnect<C> {
    inner: C,
    cluster: ControlPlane,
    service: String,
    rng: Arc<Mutex<ChaCha8Rng>>,
}

impl<C: Connect> KubeProxyConnect<C> {
    /// kube-proxy for `service` in front of `inner`, choosing with a
    /// seeded RNG.
    pub fn new(inner: C, cluster: ControlPlane, service: &str, seed: u64) -> Self {
        Self {
            inner,
            cluster,
            service: service.to_string(),
            rng: Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed))),
        }
    }
}

impl<C: Connect> Connect for KubeProxyConnect<C> {
    type Io = C::Io;
    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Io>> + Send + 'static {
        let target = if addr.ip() == SERVICE_VIP {
            let ready = self.cluster.ready_endpoints(&self.service);
            if ready.is_empty() {
                Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "no ready endpoints behind the VIP",
                ))
            } else {
                let i = crate::sync::lock(&self.rng).random_range(0..ready.len());
                Ok(ready[i].addr)
            }
        } else {
            Ok(addr)
        };
        let inner = self.inner.clone();
        async move { inner.connect(target?).await }
    }
}
