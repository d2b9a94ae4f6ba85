//! Pods: what runs on the nodes, and the per-node agent that runs it.
//!
//! The desired state lives in a [`PodTable`] outside the simulation (the
//! "API server"); each node runs an agent (the "kubelet") that reconciles:
//! it starts pods that should run on its node, aborts pods that should not,
//! and restarts a pod whose generation changed. A crashed node loses every
//! task; when it restarts, its agent starts its pods again.

use super::derive_seed;
use crate::cluster::Cluster;
use crate::kube_proxy::{KubeProxyConnect, VipDns};
use crate::lock;
use crate::net::{SimConnect, SimListener};
use crate::proxy::metrics::ProxyMetrics;
use crate::proxy::{Outbound, SidecarConfig, serve_outbound};
use crate::scenario::Scenario;
use crate::strategy::Strategy;
use crate::topology::{
    SIDECAR_OUTBOUND_PORT_BASE, STOCKDATA, STOCKDATA_POD_PORT_BASE, STOCKDATA_SERVICE_PORT,
    STOCKWEB, STOCKWEB_POD_PORT_BASE, node_index, pod_name,
};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stockdata::transport::{Connect, Resolve};
use stockdata::{ReplicaConfig, ReplicaControl, StockDataService};
use stockweb::{ClientConfig, Outbound as AppOutbound, StockClient, StockWeb};
use tokio::sync::watch;
use tokio::task::JoinSet;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One pod's definition.
#[derive(Debug, Clone)]
pub(crate) struct PodSpec {
    pub name: String,
    pub service: &'static str,
    pub node: usize,
    pub port: u16,
    pub kind: PodKind,
}

#[derive(Debug, Clone)]
pub(crate) enum PodKind {
    StockData {
        config: ReplicaConfig,
        control: ReplicaControl,
    },
    StockWeb {
        client: ClientConfig,
        mode: WebMode,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum WebMode {
    /// The app resolves through the cluster DNS and dials directly.
    Dns,
    /// The app dials the service VIP through kube-proxy.
    KubeProxy { seed: u64 },
    /// The app dials its sidecar.
    Sidecar {
        port: u16,
        config: Box<SidecarConfig>,
        seed: u64,
        metrics: Arc<Mutex<ProxyMetrics>>,
    },
}

/// Builds pod specs for one strategy's run.
pub(crate) struct PodFactory {
    scenario: Scenario,
    strategy: Strategy,
    seed: u64,
}

impl PodFactory {
    pub fn new(scenario: &Scenario, strategy: Strategy, seed: u64) -> Self {
        Self {
            scenario: scenario.clone(),
            strategy,
            seed,
        }
    }

    fn nodes(&self) -> usize {
        self.scenario.cluster.nodes.get() as usize
    }

    /// The pod's node: its `placement`, or `spread` (mod the node count).
    fn node_of(&self, pod: &str, spread: usize) -> usize {
        self.scenario
            .cluster
            .placement
            .get(pod)
            .and_then(|n| node_index(n))
            .unwrap_or(spread % self.nodes())
    }

    /// StockData pod `i` (on node `(i + 1) mod nodes`).
    pub fn stockdata(&self, i: u32) -> PodSpec {
        let name = pod_name(STOCKDATA, i);
        let s = &self.scenario;
        PodSpec {
            node: self.node_of(&name, i as usize + 1),
            port: STOCKDATA_POD_PORT_BASE + i as u16,
            service: STOCKDATA,
            kind: PodKind::StockData {
                config: ReplicaConfig {
                    pod: name.clone(),
                    service_time: s
                        .stockdata
                        .pod_service_time
                        .get(&name)
                        .copied()
                        .unwrap_or(s.stockdata.service_time)
                        .into(),
                    concurrency: s.stockdata.concurrency.get() as usize,
                    seed: derive_seed(self.seed, &name),
                    demand_seed: derive_seed(self.seed, "stockdata/demand"),
                    queue_bound: s.stockdata.queue_bound.map(|b| b as usize),
                    honor_cancellation: s.stockdata.honor_cancellation,
                    slowdown: s.stockdata.slowdown.get(&name).copied().unwrap_or(1.0),
                },
                control: ReplicaControl::default(),
            },
            name,
        }
    }

    /// StockWeb pod `j` (on node `j mod nodes`), wired for the strategy.
    pub fn stockweb(&self, j: u32) -> PodSpec {
        let s = &self.scenario;
        let name = pod_name(STOCKWEB, j);
        let sidecar_port = SIDECAR_OUTBOUND_PORT_BASE + j as u16;
        let direct = AppOutbound::Direct {
            service: STOCKDATA.into(),
            port: STOCKDATA_SERVICE_PORT,
        };
        let (outbound, mode) = match self.strategy {
            Strategy::CachedDns => (direct, WebMode::Dns),
            Strategy::KubeProxy => (
                direct,
                WebMode::KubeProxy {
                    seed: derive_seed(self.seed, &format!("kube-proxy/{name}")),
                },
            ),
            Strategy::ClientRr => (
                AppOutbound::ClientRoundRobin {
                    service: STOCKDATA.into(),
                    port: STOCKDATA_SERVICE_PORT,
                    refresh: s.stockweb.dns_refresh.0,
                },
                WebMode::Dns,
            ),
            Strategy::Sidecar(spec) => (
                AppOutbound::Sidecar {
                    service: STOCKDATA.into(),
                    port: STOCKDATA_SERVICE_PORT,
                    proxy: SocketAddr::from((Ipv4Addr::LOCALHOST, sidecar_port)),
                },
                WebMode::Sidecar {
                    port: sidecar_port,
                    config: Box::new(
                        s.sidecar
                            .apply_to(&spec, spec.config(s.stockdata.weights.clone())),
                    ),
                    seed: derive_seed(self.seed, &format!("sidecar/{name}")),
                    metrics: Arc::new(Mutex::new(ProxyMetrics {
                        clock: Some(turmoil::sim_elapsed),
                        ..ProxyMetrics::default()
                    })),
                },
            ),
        };
        PodSpec {
            node: self.node_of(&name, j as usize),
            port: STOCKWEB_POD_PORT_BASE + j as u16,
            service: STOCKWEB,
            kind: PodKind::StockWeb {
                client: ClientConfig {
                    outbound,
                    handler_lifetime: s.stockweb.handler_lifetime.map(|d| d.0),
                },
                mode,
            },
            name,
        }
    }
}

// === PodTable ===

#[derive(Debug, Clone)]
pub(crate) struct PodEntry {
    pub spec: PodSpec,
    /// Whether the pod should be running.
    pub desired: bool,
    /// Bumped on every (re)start; the agent restarts on change.
    pub generation: u64,
    /// From process start to ready.
    pub ready_after: Duration,
}

/// The desired state of every pod; cheap to clone.
#[derive(Clone)]
pub(crate) struct PodTable {
    pods: Arc<Mutex<BTreeMap<String, PodEntry>>>,
    version: Arc<watch::Sender<u64>>,
    failures: Arc<Mutex<Vec<String>>>,
}

impl PodTable {
    pub fn new() -> Self {
        Self {
            pods: Arc::default(),
            version: Arc::new(watch::Sender::new(0)),
            failures: Arc::default(),
        }
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Adds a pod that should run.
    pub fn insert(&self, spec: PodSpec, ready_after: Duration) {
        lock(&self.pods).insert(
            spec.name.clone(),
            PodEntry {
                spec,
                desired: true,
                generation: 1,
                ready_after,
            },
        );
        self.bump();
    }

    /// Stops a pod (its process dies).
    pub fn stop(&self, name: &str) {
        if let Some(p) = lock(&self.pods).get_mut(name) {
            p.desired = false;
        }
        self.bump();
    }

    /// (Re)starts a pod as a new process.
    pub fn start(&self, name: &str, ready_after: Duration) {
        if let Some(p) = lock(&self.pods).get_mut(name) {
            p.desired = true;
            p.generation += 1;
            p.ready_after = ready_after;
        }
        self.bump();
    }

    pub fn get(&self, name: &str) -> Option<PodEntry> {
        lock(&self.pods).get(name).cloned()
    }

    pub fn all(&self) -> Vec<PodEntry> {
        lock(&self.pods).values().cloned().collect()
    }

    fn on_node(&self, node: usize) -> Vec<PodEntry> {
        lock(&self.pods)
            .values()
            .filter(|p| p.spec.node == node)
            .cloned()
            .collect()
    }

    /// Pods that failed on their own (not killed), with the reason.
    pub fn failures(&self) -> Vec<String> {
        lock(&self.failures).clone()
    }
}

/// A node's agent: runs the pods the table places on `node`.
pub(crate) async fn node_agent(node: usize, table: PodTable, cluster: Cluster) -> turmoil::Result {
    let mut changes = table.version.subscribe();
    let mut running: BTreeMap<String, (u64, tokio::task::JoinHandle<()>)> = BTreeMap::new();
    loop {
        for entry in table.on_node(node) {
            let name = entry.spec.name.clone();
            let current = running.get(&name).map(|(g, _)| *g);
            if entry.desired {
                if current != Some(entry.generation) {
                    if let Some((_, old)) = running.remove(&name) {
                        old.abort();
                    }
                    cluster.set_ready(&name, false);
                    let (cluster, failures, pod) =
                        (cluster.clone(), table.failures.clone(), name.clone());
                    let handle = tokio::spawn(async move {
                        if let Err(e) = run_pod(entry.spec, entry.ready_after, cluster).await {
                            lock(&failures).push(format!("{pod}: {e}"));
                        }
                    });
                    running.insert(name, (entry.generation, handle));
                }
            } else if let Some((_, handle)) = running.remove(&name) {
                handle.abort();
                cluster.set_ready(&name, false);
            }
        }
        if changes.changed().await.is_err() {
            return Ok(());
        }
    }
}

/// One pod's process: bind, become ready after `ready_after`, serve.
async fn run_pod(pod: PodSpec, ready_after: Duration, cluster: Cluster) -> Result<(), BoxError> {
    let any = SocketAddr::from((Ipv4Addr::UNSPECIFIED, pod.port));
    let ready = {
        let (cluster, name) = (cluster.clone(), pod.name.clone());
        async move {
            tokio::time::sleep(ready_after).await;
            cluster.set_ready(&name, true);
        }
    };
    match pod.kind {
        PodKind::StockData { config, control } => {
            let replica = StockDataService::with_control(config, control)?;
            let listener = SimListener::bind(any).await?;
            let (served, ()) = tokio::join!(stockdata::serve(listener, replica), ready);
            served?;
        }
        PodKind::StockWeb { client, mode } => match mode {
            WebMode::Dns => {
                serve_web(&pod.name, any, client, SimConnect, cluster.dns(), ready).await?
            }
            WebMode::KubeProxy { seed } => {
                let connect = KubeProxyConnect::new(cluster.clone(), STOCKDATA, seed);
                serve_web(&pod.name, any, client, connect, VipDns, ready).await?
            }
            WebMode::Sidecar {
                port,
                config,
                seed,
                metrics,
            } => {
                // The sidecar listens on the pod's loopback only, and lives
                // as long as the pod.
                let listener =
                    SimListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
                let outbound = Outbound::new(cluster.clone(), SimConnect, *config, seed, metrics);
                let mut sidecar = JoinSet::new();
                sidecar.spawn(serve_outbound(listener, outbound));
                serve_web(&pod.name, any, client, SimConnect, cluster.dns(), ready).await?
            }
        },
    }
    Ok(())
}

async fn serve_web<C: Connect, R: Resolve>(
    pod: &str,
    addr: SocketAddr,
    client: ClientConfig,
    connect: C,
    resolve: R,
    ready: impl std::future::Future<Output = ()>,
) -> Result<(), BoxError> {
    let client = StockClient::new(client, connect, resolve);
    let app = Arc::new(StockWeb::new(pod, client));
    let listener = SimListener::bind(addr).await?;
    let (served, ()) = tokio::join!(stockweb::serve(listener, app), ready);
    served?;
    Ok(())
}
