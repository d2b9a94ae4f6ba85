//! A StockWeb pod: where its app's calls go (through cluster DNS,
//! kube-proxy's virtual IP, meshsim's sidecar in the pod, or a real peer
//! proxy there), and serving the app.

use super::{BoxError, Children, PodNet};
use crate::cluster::pods::WebMode;
use crate::control::ControlPlane;
use crate::kube_proxy::{KubeProxyConnect, VipDns};
use crate::proxy::metrics::ProxyMetrics;
use crate::proxy::{Outbound, SidecarConfig, serve_outbound};
use crate::strategy::PeerSpec;
use crate::sync::lock;
use crate::topology::STOCKDATA;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use stockdata::transport::{Connect, Listener, Resolve};
use stockweb::{CallCount, ClientConfig, StockClient, StockWeb, Upstream};

/// A StockWeb pod being started on `net`.
pub(super) struct WebPod<'a, N> {
    pub(super) name: &'a str,
    /// Where the app serves.
    pub(super) any: SocketAddr,
    pub(super) cluster: &'a ControlPlane,
    pub(super) net: &'a N,
    /// The pod's other tasks (its sidecar or peer's upkeep).
    pub(super) children: &'a Children,
}

impl<N: PodNet> WebPod<'_, N> {
    /// Starts what the app's calls go through, then serves the app.
    pub(super) async fn run(
        &self,
        (client, mode, calls): (ClientConfig, WebMode, CallCount),
        connect: N::Connect,
        ready: impl Future<Output = ()>,
    ) -> Result<(), BoxError> {
        // Where the app's calls go; every mode but kube-proxy resolves
        // through cluster DNS from the pod's own connector.
        let client = match mode {
            WebMode::Dns => client,
            WebMode::KubeProxy { seed } => {
                let connect = KubeProxyConnect::new(connect, self.cluster.clone(), STOCKDATA, seed);
                let listener = self.net.bind(self.any).await?;
                return serve_web(self.name, listener, (client, calls), connect, VipDns, ready)
                    .await;
            }
            WebMode::Peer { port, spec } => self.start_peer(client, port, spec, &connect).await?,
            WebMode::Sidecar {
                port,
                config,
                seed,
                metrics,
            } => {
                self.start_sidecar(client, port, (*config, seed, metrics), &connect)
                    .await?
            }
        };
        let listener = self.net.bind(self.any).await?;
        serve_web(
            self.name,
            listener,
            (client, calls),
            connect,
            self.cluster.dns(),
            ready,
        )
        .await
    }

    /// Starts a real proxy (`spec`) as the pod's sidecar on `port`; the
    /// app's client, pointed at it.
    async fn start_peer(
        &self,
        client: ClientConfig,
        port: u16,
        spec: PeerSpec,
        connect: &N::Connect,
    ) -> Result<ClientConfig, BoxError> {
        let local = self.net.sidecar_addr(self.name, port);
        // A peer that cannot start fails the pod (and the run).
        let upkeep = self
            .net
            .peer(
                (spec, self.name.to_string(), local),
                self.cluster.clone(),
                connect.clone(),
            )
            .await?;
        lock(self.children).push(tokio::spawn(upkeep));
        Ok(via(client, local))
    }

    /// Starts meshsim's sidecar in the pod on `port`; the app's client,
    /// pointed at it.
    async fn start_sidecar(
        &self,
        client: ClientConfig,
        port: u16,
        (config, seed, metrics): (SidecarConfig, u64, Arc<Mutex<ProxyMetrics>>),
        connect: &N::Connect,
    ) -> Result<ClientConfig, BoxError> {
        // The sidecar listens where only its pod reaches it, and
        // lives as long as the pod.
        let local = self.net.sidecar_addr(self.name, port);
        let listener = self.net.bind(local).await?;
        let outbound = Outbound::new(self.cluster.clone(), connect.clone(), config, seed, metrics);
        // The app's first page comes the instant its pod starts;
        // a real app's first call comes after its proxy is up
        // and has resolved it (Envoy has its clusters from xDS
        // before it listens; Linkerd's proxy-await holds the
        // app until the proxy is ready), so the sidecar
        // resolves the service now.
        if let Upstream::Sidecar { service, .. } = &client.upstream {
            outbound.warm(service);
        }
        // A task of the pod's: its agent stops it with the pod and
        // waits until its listener is closed.
        let sidecar = tokio::spawn(async move {
            let _ = serve_outbound(listener, outbound).await;
        });
        lock(self.children).push(sidecar);
        Ok(via(client, local))
    }
}

/// `client` with its sidecar at `local`, where the pod's sidecar (meshsim's
/// or a peer) listens on this network.
fn via(client: ClientConfig, local: SocketAddr) -> ClientConfig {
    ClientConfig {
        upstream: match client.upstream {
            Upstream::Sidecar { service, port, .. } => Upstream::Sidecar {
                service,
                port,
                proxy: local,
            },
            other => other,
        },
        ..client
    }
}

async fn serve_web<L: Listener, C: Connect, R: Resolve>(
    pod: &str,
    listener: L,
    (client, calls): (ClientConfig, CallCount),
    connect: C,
    resolve: R,
    ready: impl std::future::Future<Output = ()>,
) -> Result<(), BoxError> {
    let client = StockClient::new(client, connect, resolve);
    let app = Arc::new(StockWeb::counting(pod, client, calls));
    let (served, ()) = tokio::join!(stockweb::serve(listener, app), ready);
    served?;
    Ok(())
}
