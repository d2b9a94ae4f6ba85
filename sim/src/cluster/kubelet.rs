//! The node agent (the "kubelet"), and the desired state it reconciles.
//!
//! The desired state lives in a [`PodTable`] outside the network (the "API
//! server"); each node runs an agent that reconciles: it starts pods that
//! should run on its node, aborts pods that should not, and restarts a pod
//! whose generation changed. A crashed node loses every task (its agent and
//! the pods it owns); when it restarts, its agent starts its pods again.
//!
//! The agent and the pods it runs are generic over [`PodNet`]: the
//! simulator's network (`crate::backend::sim`) or this machine's
//! (`crate::backend::real`), so a pod is the same code in both.
//!
//! This file holds the agent, the pod table and a pod's process; `web`
//! holds what a StockWeb pod starts besides its app (meshsim's sidecar, a
//! peer proxy, kube-proxy's connector) and serving the app.

mod web;

use super::pods::{Inbound, PodKind, PodSpec};
use crate::control::ControlPlane;
use crate::proxy::{Outbound, serve_outbound};
use crate::sync::lock;
use crate::topology::STOCKDATA;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stockdata::StockDataService;
use stockdata::transport::{Connect, Listener};
use tokio::sync::watch;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How pods reach the network.
pub(crate) trait PodNet: Clone + Send + Sync + 'static {
    /// What a pod accepts on.
    type Listener: Listener;
    /// What a pod dials with.
    type Connect: Connect;
    /// Where pod `name` serves `port`.
    fn service_addr(&self, name: &str, port: u16) -> SocketAddr;
    /// Where pod `name`'s sidecar listens on `port`: reachable from the pod.
    fn sidecar_addr(&self, name: &str, port: u16) -> SocketAddr;
    /// Binds a listener.
    fn bind(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send;
    /// Dials out from `node`.
    fn connect_from(&self, node: usize) -> Self::Connect;
    /// What a replica's worker slots sleep on for a service time: tokio's
    /// clock (virtual under turmoil) or, on the real clock, the precise
    /// timer (tokio's 1 ms timer wheel makes a 1-5 ms service time run
    /// 7-20 % long: issue 24).
    fn service_timer(&self) -> stockdata::ServiceTimer {
        stockdata::ServiceTimer::Tokio
    }
    /// Starts a real proxy (`spec`) as pod `pod`'s sidecar on `listen`,
    /// balancing over `cluster`'s StockData endpoints through `connect`;
    /// once it listens, the future it returns keeps it in step with the
    /// endpoints until dropped. Real mode only.
    fn peer(
        &self,
        peer: (crate::strategy::PeerSpec, String, SocketAddr),
        cluster: ControlPlane,
        connect: Self::Connect,
    ) -> impl Future<Output = io::Result<PeerTask>> + Send + 'static;
}

/// A started peer proxy's upkeep (see [`PodNet::peer`]).
pub(crate) type PeerTask = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

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
    /// Deleted (by a rollout or a scale-down): it never runs again, and its
    /// port is free for a new pod.
    pub deleted: bool,
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
                deleted: false,
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

    /// Deletes a pod: it stops for good (a Deployment's replacement pods
    /// get new names), and its port may be reused.
    pub fn delete(&self, name: &str) {
        if let Some(p) = lock(&self.pods).get_mut(name) {
            p.desired = false;
            p.deleted = true;
        }
        self.bump();
    }

    /// (Re)starts a pod as a new process (not a deleted one).
    pub fn start(&self, name: &str, ready_after: Duration) {
        if let Some(p) = lock(&self.pods).get_mut(name).filter(|p| !p.deleted) {
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

    /// Whether any StockData pod still has requests in it.
    pub fn stockdata_busy(&self) -> bool {
        lock(&self.pods).values().any(|p| match &p.spec.kind {
            super::pods::PodKind::StockData { control, .. } => control.is_busy(),
            _ => false,
        })
    }

    fn on_node(&self, node: usize) -> Vec<PodEntry> {
        lock(&self.pods)
            .values()
            .filter(|p| p.spec.node == node)
            .cloned()
            .collect()
    }

    /// Records that something failed on its own (a pod, a node agent).
    pub fn fail(&self, reason: &str) {
        lock(&self.failures).push(reason.to_string());
    }

    /// Pods that failed on their own (not killed), with the reason.
    pub fn failures(&self) -> Vec<String> {
        lock(&self.failures).clone()
    }
}

/// Tasks a pod spawned that live exactly as long as it does (its sidecar).
type Children = Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>;

/// A running pod's task and its children, aborted when dropped: a node
/// agent that dies (a crashed node) takes its pods with it.
struct PodTask {
    main: tokio::task::JoinHandle<()>,
    children: Children,
}

impl PodTask {
    /// Kills the pod and waits until its process is gone: every socket it
    /// and its sidecar held is closed, so a new generation can bind the
    /// same ports (an aborted task is only dropped when the runtime next
    /// polls it).
    async fn stop(mut self) {
        self.main.abort();
        // Cancelled (or finished): either way the task's future is dropped.
        let _ = (&mut self.main).await;
        let children = std::mem::take(&mut *lock(&self.children));
        for mut child in children {
            child.abort();
            let _ = (&mut child).await;
        }
    }
}

impl Drop for PodTask {
    fn drop(&mut self) {
        self.main.abort();
        for child in lock(&self.children).iter() {
            child.abort();
        }
    }
}

/// A node's agent: runs the pods the table places on `node`.
pub(crate) async fn node_agent<N: PodNet>(
    node: usize,
    table: PodTable,
    cluster: ControlPlane,
    net: N,
) -> Result<(), BoxError> {
    let mut changes = table.version.subscribe();
    let mut running: BTreeMap<String, (u64, PodTask)> = BTreeMap::new();
    loop {
        let pods = table.on_node(node);
        // Stop first, and wait until each stopped pod is gone, so a pod that
        // takes over a port (a restart, a replacement) can bind it.
        for entry in &pods {
            let stale = running
                .get(&entry.spec.name)
                .is_some_and(|(g, _)| !entry.desired || *g != entry.generation);
            if let Some((_, task)) = stale.then(|| running.remove(&entry.spec.name)).flatten() {
                cluster.set_ready(&entry.spec.name, false);
                task.stop().await;
            }
        }
        for entry in pods {
            let name = entry.spec.name.clone();
            if entry.desired && !running.contains_key(&name) {
                cluster.set_ready(&name, false);
                let (cluster, failures, pod, net) = (
                    cluster.clone(),
                    table.failures.clone(),
                    name.clone(),
                    net.clone(),
                );
                let children = Children::default();
                let kids = children.clone();
                let main = tokio::spawn(async move {
                    let pod_spec = (entry.spec, entry.ready_after);
                    if let Err(e) = run_pod(pod_spec, cluster, net, kids).await {
                        lock(&failures).push(format!("{pod}: {e}"));
                    }
                });
                running.insert(name, (entry.generation, PodTask { main, children }));
            }
        }
        if changes.changed().await.is_err() {
            return Ok(());
        }
    }
}

/// A server pod's inbound sidecar, forwarding to its app at `app` (a
/// cluster of its own with that one endpoint, always there: the app is
/// in the same pod), its route resolved before it listens.
fn inbound_sidecar<C: Connect>(inbound: Inbound, app: SocketAddr, connect: C) -> Outbound<C> {
    let local = ControlPlane::new();
    local.add_endpoint(STOCKDATA, "app", app);
    local.set_ready("app", true);
    let sidecar = Outbound::new(
        local,
        connect,
        *inbound.config,
        inbound.seed,
        inbound.metrics,
    );
    sidecar.warm(STOCKDATA);
    sidecar
}

/// One pod's process: bind, become ready after `ready_after`, serve.
async fn run_pod<N: PodNet>(
    (pod, ready_after): (PodSpec, Duration),
    cluster: ControlPlane,
    net: N,
    children: Children,
) -> Result<(), BoxError> {
    let any = net.service_addr(&pod.name, pod.port);
    let connect = net.connect_from(pod.node);
    let ready = {
        let (cluster, name) = (cluster.clone(), pod.name.clone());
        async move {
            tokio::time::sleep(ready_after).await;
            cluster.set_ready(&name, true);
        }
    };
    match pod.kind {
        PodKind::StockData {
            config,
            control,
            h2,
            inbound,
        } => {
            let replica =
                StockDataService::with_control(config, control)?.with_timer(net.service_timer());
            // Behind an inbound sidecar the app listens on the pod's
            // loopback and the sidecar takes the pod's port.
            let app = match &inbound {
                Some(inbound) => net.sidecar_addr(&pod.name, inbound.app_port),
                None => any,
            };
            let listener = net.bind(app).await?;
            if let Some(inbound) = inbound {
                let sidecar = inbound_sidecar(inbound, app, connect);
                let listener = net.bind(any).await?;
                lock(&children).push(tokio::spawn(async move {
                    let _ = serve_outbound(listener, sidecar).await;
                }));
            }
            let (served, ()) = tokio::join!(stockdata::serve_with(listener, replica, h2), ready);
            served?;
        }
        PodKind::StockWeb {
            client,
            mode,
            calls,
        } => {
            let web = web::WebPod {
                name: &pod.name,
                any,
                cluster: &cluster,
                net: &net,
                children: &children,
            };
            web.run((client, mode, calls), connect, ready).await?;
        }
    }
    Ok(())
}
