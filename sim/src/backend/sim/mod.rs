//! The simulator: turmoil's deterministic network, stepped one tick at a
//! time. A node is a turmoil host; a pod listens on its node's address and
//! its sidecar on the node's loopback. Same scenario and seed, same bytes.

pub mod net;
mod timers;

use crate::cluster::fabric::Fabric;
use crate::cluster::kubelet::{self, PeerTask, PodNet, PodTable};
use crate::cluster::pods::{PodFactory, PodSpec};
use crate::control::ControlPlane;
use crate::driver::{self, Backend, DriveError, StrategyRun};
use crate::load::{self, Answer, Plan};
use crate::scenario::Scenario;
use crate::seed::derive_seed;
use crate::strategy::{PeerSpec, Strategy};
use crate::topology::{INGRESS, node_name};
use loadgen::Ledger;
use net::{NetFaults, SimConnect, SimListener};
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use timers::Timers;

/// turmoil's TCP capacity: in-flight segments per direction and the accept
/// backlog. Its default (64) panics under a 100-call fan-out.
pub const TCP_CAPACITY: usize = 1 << 16;

/// Runs `strategy` in a fresh simulated cluster built from `scenario`.
pub fn run_strategy(
    scenario: &Scenario,
    strategy: Strategy,
    seed: u64,
) -> Result<StrategyRun, DriveError> {
    // The load starts once the pods are ready and the proxies have seen
    // them (at most STARTUP_LIMIT and the discovery delay in), and the
    // run ends `time_limit` after that.
    let latest_end = scenario.time_limit.0
        + STARTUP_LIMIT
        + PodFactory::new(scenario, strategy, seed).discovery_delay();
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(derive_seed(seed, "turmoil"))
        // turmoil's default epoch is the wall clock; pin it.
        .epoch(UNIX_EPOCH)
        .tick_duration(scenario.tick.0)
        // The driver ends the run at `time_limit` after the load's start
        // (which may wait for the pods and the proxies' discovery);
        // turmoil's own limit, a tick later, is the backstop.
        .simulation_duration(latest_end + scenario.tick.0)
        .tcp_capacity(TCP_CAPACITY)
        // min == max (no jitter): a fixed latency, no per-segment draw.
        .min_message_latency(scenario.cluster.latency.0)
        .max_message_latency(scenario.cluster.latency.0 + scenario.cluster.jitter.0);
    // Loss draws live in the sockets; they find this simulation's faults
    // through the thread that steps it.
    let faults = Arc::new(NetFaults::new(
        scenario.cluster.loss,
        derive_seed(seed, "network/loss"),
    ));
    net::install_faults(Some(faults.clone()));
    // Against the run's end; moved when the load starts later than the
    // clock's zero (`started`).
    let timers = Timers::until(scenario.time_limit.0);
    let mut backend = SimBackend {
        sim: builder.build(),
        faults,
        origin: Duration::ZERO,
        timers: timers.clone(),
        time_limit: scenario.time_limit.0,
    };
    // Every timer the simulation's tasks set is counted (they all run on
    // this thread), so the driver can see when nothing is left to happen.
    let result = tracing::subscriber::with_default(timers, || {
        driver::drive(scenario, strategy, seed, &mut backend)
    });
    net::install_faults(None);
    result
}

/// How long the initial pods may take to become ready, in simulated time,
/// when a strategy's proxies must see them before the load starts.
const STARTUP_LIMIT: Duration = Duration::from_secs(10);

/// turmoil's simulation as a run's backend.
struct SimBackend {
    sim: turmoil::Sim<'static>,
    faults: Arc<NetFaults>,
    /// Simulated time at which the workload started: the run's zero.
    origin: Duration,
    timers: Timers,
    /// The scenario's `time_limit`, counted from `origin`.
    time_limit: Duration,
}

impl Backend for SimBackend {
    fn start_nodes(&mut self, nodes: usize, table: &PodTable, control: &ControlPlane) {
        for n in 0..nodes {
            let (table, control) = (table.clone(), control.clone());
            self.sim.host(node_name(n).as_str(), move || {
                let agent = kubelet::node_agent(n, table.clone(), control.clone(), SimNet);
                async move { agent.await.map_err(|e| e.to_string().into()) }
            });
        }
    }

    fn started(
        &mut self,
        control: &ControlPlane,
        table: &PodTable,
        count: usize,
        settle: Duration,
    ) -> Result<Duration, DriveError> {
        // A simulated pod is ready as soon as it listens, before the
        // browser's first request can reach it: with nothing to settle
        // the load starts at once.
        if settle.is_zero() {
            return Ok(Duration::ZERO);
        }
        let deadline = self.sim.elapsed() + STARTUP_LIMIT;
        while super::ready_pods(control) < count {
            super::pod_failure(table)?;
            if self.sim.elapsed() >= deadline {
                return Err(DriveError(format!(
                    "{} of {count} pods ready after {STARTUP_LIMIT:?} of simulated time",
                    super::ready_pods(control)
                )));
            }
            self.step(None)?;
        }
        let settled = self.sim.elapsed() + settle;
        while self.sim.elapsed() < settled {
            self.step(None)?;
        }
        self.origin = self.sim.elapsed();
        self.timers.set_horizon(self.origin + self.time_limit);
        Ok(self.origin)
    }

    fn start_load(&mut self, plan: Plan, control: &ControlPlane) -> Ledger<Answer> {
        let ledger = Ledger::new();
        let browse = load::drive(plan, control.clone(), SimConnect, ledger.clone());
        self.sim.client(INGRESS, async move {
            browse.await.map_err(|e| e.to_string().into())
        });
        ledger
    }

    fn now(&self) -> Duration {
        self.sim.elapsed().saturating_sub(self.origin)
    }

    /// One turmoil tick: actions fall on tick boundaries already.
    fn step(&mut self, _next: Option<Duration>) -> Result<bool, DriveError> {
        self.timers.at(self.sim.elapsed());
        self.sim.step().map_err(|e| DriveError(e.to_string()))
    }

    fn idle(&mut self, next: Option<Duration>) -> Result<(), DriveError> {
        self.step(next).map(|_| ())
    }

    /// No timer due on any host by the run's end and no segment on any
    /// link: only the driver could wake a task before then. (Segments held
    /// by a partition count as in flight.)
    fn quiet(&mut self) -> bool {
        if !self.timers.none_due() {
            return false;
        }
        let mut in_flight = false;
        self.sim.links(|links| {
            in_flight = links.into_iter().any(|mut link| link.next().is_some());
        });
        !in_flight
    }
}

impl Fabric for SimBackend {
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

/// The simulator's network for pods: a pod listens on its node's address
/// and its sidecar on the node's loopback.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SimNet;

impl PodNet for SimNet {
    type Listener = SimListener;
    type Connect = SimConnect;
    fn service_addr(&self, _name: &str, port: u16) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))
    }
    fn sidecar_addr(&self, _name: &str, port: u16) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }
    fn bind(&self, addr: SocketAddr) -> impl Future<Output = io::Result<SimListener>> + Send {
        SimListener::bind(addr)
    }
    fn connect_from(&self, _node: usize) -> SimConnect {
        SimConnect
    }
    fn peer(
        &self,
        (spec, _pod, _listen): (PeerSpec, String, SocketAddr),
        _control: ControlPlane,
        _connect: SimConnect,
    ) -> impl Future<Output = io::Result<PeerTask>> + Send + 'static {
        // The runner refuses peers before a simulation starts; this is the
        // backstop.
        std::future::ready(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{spec:?} runs only in real mode"),
        )))
    }
}
