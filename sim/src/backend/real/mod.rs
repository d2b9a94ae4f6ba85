//! Real mode: the same scenario, services, proxy, timeline and load on this
//! machine's sockets, in real time.
//!
//! Nothing here is a second implementation of a service or a policy: the
//! run loop is [`crate::driver`]'s, the pods are the simulator's pods
//! (`cluster::kubelet` runs them, generic over the network), the timeline
//! is applied through this backend as a [`Fabric`], and the load is
//! loadgen's generator. What differs is only the network and the clock:
//! - every pod gets its own loopback address (`127.x.y.z`, as a pod gets its
//!   own IP in Kubernetes), so a killed pod's address refuses connections;
//! - a pod's sidecar listens on its pod's address;
//! - links between hosts (nodes and the load generator's `ingress`) go
//!   through the user-space emulator in [`link`] (latency, jitter, loss,
//!   partitions), since this kernel has no `sch_netem` and nothing may need
//!   root;
//! - a node agent is a task per node; a crashed node's agent and pods are
//!   aborted and its links held until it comes back.
//!
//! Real mode is not deterministic: compare its reports with thresholds,
//! never bytes.

pub mod crosscheck;
pub mod demo;
pub mod link;
pub mod peer;
pub mod proxy_cost;

use crate::cluster::fabric::Fabric;
use crate::cluster::kubelet::{self, PodNet, PodTable};
use crate::cluster::pods::PodSpec;
use crate::control::ControlPlane;
use crate::driver::{self, Backend, DriveError, StrategyRun};
use crate::load::{self, Answer, Plan};
use crate::scenario::Scenario;
use crate::seed::derive_seed;
use crate::strategy::Strategy;
use crate::sync::lock;
use crate::topology::{INGRESS, node_name};
use link::{LinkConnect, Links};
use loadgen::Ledger;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The most pods one real-mode run may start: each needs a loopback
/// address and a few sockets and tasks on this machine.
pub const MAX_REAL_PODS: u32 = 250;
/// How long the initial pods may take to become ready.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the driver looks at the clock between timeline events.
const DRIVER_TICK: Duration = Duration::from_millis(5);

/// Why a scenario cannot run for real, if it cannot; checked before any
/// strategy starts.
pub fn check(scenario: &Scenario) -> Result<(), String> {
    // `known_pods` lists the StockWeb pods too.
    let pods = scenario.known_pods().len() as u32;
    if pods > MAX_REAL_PODS {
        return Err(format!(
            "real mode runs at most {MAX_REAL_PODS} pods (StockData replicas, including \
             those a `scale` event adds, plus StockWeb replicas); this scenario needs {pods}"
        ));
    }
    for s in &scenario.strategies {
        if let Strategy::Peer(p) = s
            && !peer::installed(p.proxy)
        {
            let package = peer::package(p.proxy);
            return Err(format!(
                "`{s}` runs Debian's {package} as the sidecar, and it is not installed \
                 (apt-get install {package})"
            ));
        }
    }
    Ok(())
}

/// Runs one strategy of `scenario` for real.
pub fn run_strategy(
    scenario: &Scenario,
    strategy: Strategy,
    seed: u64,
) -> Result<StrategyRun, DriveError> {
    check(scenario).map_err(DriveError)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| DriveError(format!("starting the runtime: {e}")))?;
    let run = {
        // Pods and the load are spawned from the driver's thread.
        let _entered = runtime.enter();
        let c = &scenario.cluster;
        let links = Links::new(
            c.latency.0,
            c.jitter.0,
            c.loss,
            derive_seed(seed, "network/real"),
        );
        let mut backend = RealBackend {
            runtime: runtime.handle().clone(),
            net: RealNet::new(links),
            pods: None,
            hosts: scenario.known_hosts(),
            agents: BTreeMap::new(),
            down: BTreeSet::new(),
            load: None,
            start: Instant::now(),
        };
        driver::drive(scenario, strategy, seed, &mut backend)
    };
    // Pods, sidecars and pumps end with the runtime.
    runtime.shutdown_timeout(Duration::from_secs(1));
    run
}

/// This machine as a run's backend: nodes are agent tasks, links the
/// emulator's, time the wall clock (the driver looks at it every
/// [`DRIVER_TICK`]).
struct RealBackend {
    runtime: tokio::runtime::Handle,
    net: RealNet,
    /// What node agents run, once started.
    pods: Option<(PodTable, ControlPlane)>,
    hosts: Vec<String>,
    agents: BTreeMap<usize, Agent>,
    down: BTreeSet<usize>,
    /// The load generator's task, until it is done.
    load: Option<tokio::task::JoinHandle<Result<(), BoxError>>>,
    /// When the workload started.
    start: Instant,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Backend for RealBackend {
    fn start_nodes(&mut self, nodes: usize, table: &PodTable, control: &ControlPlane) {
        self.pods = Some((table.clone(), control.clone()));
        for n in 0..nodes {
            self.start_agent(n);
        }
    }

    fn started(
        &mut self,
        control: &ControlPlane,
        table: &PodTable,
        count: usize,
        settle: Duration,
    ) -> Result<Duration, DriveError> {
        self.runtime.block_on(async {
            started(control, table, count).await?;
            tokio::time::sleep(settle).await;
            // Real proxies keep no metric clock.
            Ok(Duration::ZERO)
        })
    }

    fn start_load(&mut self, plan: Plan, control: &ControlPlane) -> Ledger<Answer> {
        let ledger = Ledger::new();
        let connect = LinkConnect::new(INGRESS, self.net.links.clone());
        let browse = load::drive(plan, control.clone(), connect, ledger.clone());
        self.load = Some(self.runtime.spawn(browse));
        self.start = Instant::now();
        ledger
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn step(&mut self, next: Option<Duration>) -> Result<bool, DriveError> {
        let tick = self.tick(next);
        let Some(load) = self.load.as_mut() else {
            return Ok(true);
        };
        let done = self.runtime.block_on(async {
            tokio::select! {
                done = load => Some(done),
                () = tokio::time::sleep(tick) => None,
            }
        });
        match done {
            None => Ok(false),
            Some(done) => {
                self.load = None;
                match done {
                    Ok(Ok(())) => Ok(true),
                    Ok(Err(e)) => Err(DriveError(format!("load generator: {e}"))),
                    Err(e) => Err(DriveError(format!("load generator: {e}"))),
                }
            }
        }
    }

    fn idle(&mut self, next: Option<Duration>) -> Result<(), DriveError> {
        let tick = self.tick(next);
        self.runtime.block_on(tokio::time::sleep(tick));
        Ok(())
    }
}

impl RealBackend {
    /// How long the driver sleeps: [`DRIVER_TICK`], or less when the next
    /// timeline action is due sooner (a kill at 700 ms is applied at
    /// 700 ms, within tokio's 1 ms timer, not up to a tick late).
    fn tick(&self, next: Option<Duration>) -> Duration {
        next.map_or(DRIVER_TICK, |at| {
            at.saturating_sub(self.now()).min(DRIVER_TICK)
        })
    }
}

impl Drop for RealBackend {
    fn drop(&mut self) {
        // A run that failed leaves its load generator behind.
        if let Some(load) = self.load.take() {
            load.abort();
        }
    }
}

/// Waits until the first `count` pods are ready.
async fn started(control: &ControlPlane, table: &PodTable, count: usize) -> Result<(), DriveError> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let ready = super::ready_pods(control);
        if ready >= count {
            return Ok(());
        }
        super::pod_failure(table)?;
        if Instant::now() >= deadline {
            return Err(DriveError(format!(
                "{ready} of {count} pods ready after {STARTUP_TIMEOUT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

// === the network ===

/// This machine's network for pods: an address per pod, links emulated.
#[derive(Debug, Clone)]
pub(crate) struct RealNet {
    ips: Arc<Mutex<BTreeMap<String, Ipv4Addr>>>,
    links: Arc<Links>,
    block: u32,
}

/// Loopback address blocks handed out in this process, so that runs side
/// by side (tests) never share a pod address.
static BLOCKS: AtomicU32 = AtomicU32::new(0);
/// Addresses per block: more than [`MAX_REAL_PODS`].
const BLOCK_SIZE: u32 = 512;

impl RealNet {
    fn new(links: Arc<Links>) -> Self {
        // Blocks start at 127.1.0.0, staggered by process so that two
        // meshsim processes are unlikely to meet.
        let per_process = 64;
        let process = std::process::id() % 300;
        let block = process * per_process + BLOCKS.fetch_add(1, Ordering::Relaxed) % per_process;
        Self {
            ips: Arc::default(),
            links,
            block,
        }
    }

    /// The address of pod `name`, given on first use.
    fn ip_of(&self, name: &str) -> Ipv4Addr {
        let mut ips = lock(&self.ips);
        if let Some(ip) = ips.get(name) {
            return *ip;
        }
        let k = ips.len() as u32;
        // Skip host parts 0 and 255: 254 usable per /24.
        let offset = (1 << 16) + self.block * BLOCK_SIZE + k / 254 * 256 + k % 254 + 1;
        let ip = Ipv4Addr::from((127u32 << 24) | (offset & 0x00ff_ffff));
        ips.insert(name.to_string(), ip);
        ip
    }
}

impl PodNet for RealNet {
    type Listener = tokio::net::TcpListener;
    type Connect = LinkConnect;
    fn peer(
        &self,
        (spec, pod, listen): (crate::strategy::PeerSpec, String, SocketAddr),
        cluster: ControlPlane,
        connect: LinkConnect,
    ) -> impl Future<Output = io::Result<kubelet::PeerTask>> + Send + 'static {
        peer::start(spec, pod, listen, cluster, connect)
    }
    fn service_addr(&self, name: &str, port: u16) -> SocketAddr {
        SocketAddr::from((self.ip_of(name), port))
    }
    fn sidecar_addr(&self, name: &str, port: u16) -> SocketAddr {
        SocketAddr::from((self.ip_of(name), port))
    }
    fn bind(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<tokio::net::TcpListener>> + Send {
        tokio::net::TcpListener::bind(addr)
    }
    fn connect_from(&self, node: usize) -> LinkConnect {
        LinkConnect::new(&node_name(node), self.links.clone())
    }
    fn service_timer(&self) -> stockdata::ServiceTimer {
        stockdata::ServiceTimer::precise()
    }
}

/// A node agent's task, aborted (with the pods it owns) when dropped.
struct Agent(tokio::task::JoinHandle<()>);

impl Drop for Agent {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl RealBackend {
    fn start_agent(&mut self, node: usize) {
        let Some((table, control)) = self.pods.clone() else {
            return;
        };
        let agent = kubelet::node_agent(node, table.clone(), control, self.net.clone());
        let handle = self.runtime.spawn(async move {
            if let Err(e) = agent.await {
                table.fail(&format!("node agent {node}: {e}"));
            }
        });
        self.agents.insert(node, Agent(handle));
    }
}

impl Fabric for RealBackend {
    fn crash(&mut self, node: usize) {
        self.agents.remove(&node);
        self.down.insert(node);
        self.net.links.isolate(&node_name(node), &self.hosts, true);
    }
    fn is_running(&mut self, node: usize) -> bool {
        !self.down.contains(&node)
    }
    fn bounce(&mut self, node: usize) {
        self.net.links.isolate(&node_name(node), &self.hosts, false);
        self.down.remove(&node);
        self.agents.remove(&node);
        self.start_agent(node);
    }
    fn hold(&mut self, a: &str, b: &str) {
        self.net.links.hold(a, b);
    }
    fn release(&mut self, a: &str, b: &str) {
        self.net.links.release(a, b);
    }
    fn set_loss(&mut self, a: &str, b: &str, rate: Option<f64>) {
        self.net.links.set_loss(a, b, rate);
    }
    fn set_latency(&mut self, a: &str, b: &str, latency: Duration) {
        self.net.links.set_latency(a, b, latency);
    }
    fn endpoint_addr(&mut self, pod: &PodSpec) -> SocketAddr {
        let ip = self.net.ip_of(&pod.name);
        self.net.links.place(ip.into(), &node_name(pod.node));
        SocketAddr::from((ip, pod.port))
    }
}

#[cfg(test)]
mod pod_count_tests {
    use super::*;

    fn scenario(stockdata: u32, stockweb: u32) -> Scenario {
        let text = format!(
            "strategies = [\"cached-dns\"]\n[stockdata]\nreplicas = {stockdata}\n\
             [stockweb]\nreplicas = {stockweb}\n[load]\npage_loads = 1\n"
        );
        Scenario::parse(&text, "pods.toml").expect("valid")
    }

    #[test]
    fn stockweb_pods_count_once() {
        assert_eq!(check(&scenario(240, 6)), Ok(()));
        assert_eq!(check(&scenario(244, 6)), Ok(()));
        let e = check(&scenario(245, 6)).expect_err("251 pods");
        assert!(e.contains("needs 251"), "{e}");
    }
}
