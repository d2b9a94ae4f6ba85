//! One simulated cluster running one client strategy.
//!
//! A turmoil host is a cluster *node*; a pod is a group of tasks with its own
//! ports on a node. (turmoil's per-step cost grows with the cube of the host
//! count, so pods must not be hosts.) Placement is deterministic: StockWeb
//! pod `j` on node `j mod nodes`, StockData pod `i` on node `(i + 1) mod
//! nodes`, so with the default three nodes the app and the replicas are on
//! different nodes and every call crosses the network.
//!
//! A node agent per node runs the pods the [`kubelet::PodTable`] places there;
//! the driver steps the simulation and applies the scenario's timeline
//! ([`actions`]) between steps. A simulated browser on its own host
//! (`ingress`) drives the workload ([`browser`], an adapter over the
//! `loadgen` crate).

pub(crate) mod actions;
pub mod browser;
pub(crate) mod fabric;
pub(crate) mod kubelet;
pub(crate) mod pods;

use crate::cluster::Cluster;
use crate::proxy::metrics::ProxyMetrics;
use crate::scenario::Scenario;
use crate::strategy::Strategy;
use actions::{ActionQueue, World};
use fabric::{Fabric, SimFabric};
use kubelet::{PodTable, SimNet};
use pods::{PodFactory, PodKind, WebMode};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

/// turmoil's TCP capacity: in-flight segments per direction and the accept
/// backlog. Its default (64) panics under a 100-call fan-out.
pub const TCP_CAPACITY: usize = 1 << 16;
// The cluster's names and limits live in `topology` (the scenario checks
// names against them too); re-exported here for the world's submodules.
pub use crate::topology::{
    INGRESS, MAX_PODS_PER_SERVICE, SIDECAR_OUTBOUND_PORT_BASE, STOCKDATA, STOCKDATA_POD_PORT_BASE,
    STOCKDATA_SERVICE_PORT, STOCKWEB, STOCKWEB_POD_PORT_BASE, node_name,
};

/// Everything one strategy's run produced.
#[derive(Debug, Clone)]
pub struct StrategyRun {
    /// The strategy.
    pub strategy: Strategy,
    /// Every workload request, in issue order.
    pub requests: Vec<browser::RequestRecord>,
    /// Requests due before this are left out of latency results.
    pub warmup: Duration,
    /// `page` or `get`.
    pub target: crate::scenario::Target,
    /// Every StockData pod that existed, in name order.
    pub stockdata_pods: Vec<String>,
    /// Simulated time when the browser finished.
    pub sim_time: Duration,
    /// Calls StockWeb's pods issued, counted in the app as they are made
    /// (those of failed or unfinished page loads included).
    pub app_calls: u64,
    /// Every sidecar's metrics, merged (sidecar strategies only).
    pub proxy: Option<ProxyMetrics>,
    /// The sidecar's resolved settings (sidecar strategies only).
    pub settings: BTreeMap<String, String>,
    /// Timeline events as applied: (time, description).
    pub events: Vec<(Duration, String)>,
    /// What each StockData pod's worker slots did, by pod name.
    pub replicas: BTreeMap<String, stockdata::ReplicaTimes>,
    /// The HTTP/2 stream limits on the way to a replica.
    pub streams: StreamLimits,
}

/// The HTTP/2 stream limits a strategy's requests meet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamLimits {
    /// The app's peer: `the sidecar` or `a replica`.
    pub app_peer: &'static str,
    /// What the app's peer advertises (`None`: no limit).
    pub app: Option<u32>,
    /// What the replicas advertise to the sidecar (sidecar strategies).
    pub endpoints: Option<Option<u32>>,
}

/// The simulation itself failed (not a request in it).
#[derive(Debug, thiserror::Error)]
#[error("simulation failed: {0}")]
pub struct WorldError(pub String);

/// Derives an independent seed for one component from the run's seed, so
/// components draw from separate streams and adding one does not shift the
/// others.
pub fn derive_seed(seed: u64, component: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_le_bytes());
    hasher.update(component.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}

/// Runs `strategy` in a fresh simulated cluster built from `scenario`.
pub fn run_strategy(
    scenario: &Scenario,
    strategy: Strategy,
    seed: u64,
) -> Result<StrategyRun, WorldError> {
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(derive_seed(seed, "turmoil"))
        // turmoil's default epoch is the wall clock; pin it.
        .epoch(UNIX_EPOCH)
        .tick_duration(scenario.tick.0)
        .simulation_duration(scenario.time_limit.0)
        .tcp_capacity(TCP_CAPACITY)
        // min == max (no jitter): a fixed latency, no per-segment draw.
        .min_message_latency(scenario.cluster.latency.0)
        .max_message_latency(scenario.cluster.latency.0 + scenario.cluster.jitter.0);
    let mut sim = builder.build();

    // Loss draws live in the sockets; they find this simulation's faults
    // through the thread that steps it.
    let faults = std::sync::Arc::new(crate::net::NetFaults::new(
        scenario.cluster.loss,
        derive_seed(seed, "network/loss"),
    ));
    crate::net::install_faults(Some(faults.clone()));
    let result = run_installed(scenario, strategy, seed, &mut sim, &faults);
    crate::net::install_faults(None);
    result
}

fn run_installed(
    scenario: &Scenario,
    strategy: Strategy,
    seed: u64,
    sim: &mut turmoil::Sim<'_>,
    faults: &crate::net::NetFaults,
) -> Result<StrategyRun, WorldError> {
    let cluster = Cluster::new();
    let table = PodTable::new();
    let factory = PodFactory::new(scenario, strategy, seed);
    for n in 0..scenario.cluster.nodes.get() as usize {
        let (table, cluster) = (table.clone(), cluster.clone());
        sim.host(node_name(n).as_str(), move || {
            let agent = kubelet::node_agent(n, table.clone(), cluster.clone(), SimNet);
            async move { agent.await.map_err(|e| e.to_string().into()) }
        });
    }
    let initial = (0..scenario.stockweb.replicas.get())
        .map(|j| factory.stockweb(j))
        .chain((0..scenario.stockdata.replicas.get()).map(|i| factory.stockdata(i)));
    for spec in initial {
        let addr = SimFabric { sim, faults }.endpoint_addr(&spec);
        cluster.add_endpoint(spec.service, &spec.name, addr);
        // Initial pods are ready as soon as they listen.
        table.insert(spec, Duration::ZERO);
    }

    let plan = browser::Plan::of(scenario, seed);
    let (warmup, target) = (plan.warmup, plan.target);
    let records = browser::start(sim, plan, &cluster);

    let mut queue = ActionQueue::default();
    actions::expand(scenario, &mut queue);
    let mut events = Vec::new();
    // One step: the timeline's due actions, then the simulation's tick;
    // true once the workload (the browser) is done.
    let mut step = |sim: &mut turmoil::Sim<'_>,
                    events: &mut Vec<(Duration, String)>|
     -> Result<bool, WorldError> {
        let now = sim.elapsed();
        let mut fabric = SimFabric {
            sim: &mut *sim,
            faults,
        };
        let mut world = World {
            fabric: &mut fabric,
            table: &table,
            cluster: &cluster,
            factory: &factory,
            scenario,
        };
        actions::apply_due(&mut queue, now, &mut world, events)?;
        if let Some(failure) = table.failures().first() {
            return Err(WorldError(format!("pod failed: {failure}")));
        }
        sim.step().map_err(|e| WorldError(e.to_string()))
    };
    while !step(sim, &mut events)? {}
    let sim_time = sim.elapsed();
    // The workload is over, but servers may still be working on calls
    // their callers gave up on (`honor_cancellation = false`): let them
    // finish, so that work is in the ledger, without moving the run's end.
    // The timeline goes on meanwhile (a pause still on is lifted on time),
    // though nothing it does now is reported.
    let mut after = Vec::new();
    while table.stockdata_busy() && sim.elapsed() < scenario.time_limit.0 {
        step(sim, &mut after)?;
    }
    let requests = records.take();
    all_pages_finished(scenario, &requests)?;
    Ok(finish(
        strategy,
        requests,
        (warmup, target),
        sim_time,
        &table,
        events,
    ))
}

/// The fixed schedule waits for every page until the time limit; one
/// still unfinished there means the run reached it, which fails the run,
/// in the simulator and in real mode alike (a workload's drain, shorter
/// than the limit, instead ends it with the rest reported as in flight).
pub(crate) fn all_pages_finished(
    scenario: &Scenario,
    requests: &[browser::RequestRecord],
) -> Result<(), WorldError> {
    if scenario.workload.is_some() {
        return Ok(());
    }
    let unfinished = requests
        .iter()
        .filter(|r| matches!(r.fate(), loadgen::Fate::InFlight))
        .count();
    if unfinished > 0 {
        return Err(WorldError(format!(
            "reached time_limit ({}) with {unfinished} of {} page loads unfinished",
            scenario.time_limit,
            requests.len()
        )));
    }
    Ok(())
}

/// What one strategy's run produced, gathered from its pods once the
/// workload is over (the simulator's and real mode's runs alike).
pub(crate) fn finish(
    strategy: Strategy,
    requests: Vec<browser::RequestRecord>,
    (warmup, target): (Duration, crate::scenario::Target),
    sim_time: Duration,
    table: &PodTable,
    events: Vec<(Duration, String)>,
) -> StrategyRun {
    let mut proxy: Option<ProxyMetrics> = None;
    let mut settings = BTreeMap::new();
    let mut stockdata_pods = Vec::new();
    let mut app_calls = 0;
    let mut replicas = BTreeMap::new();
    let mut streams = StreamLimits::default();
    for pod in table.all() {
        match &pod.spec.kind {
            PodKind::StockWeb {
                calls,
                client,
                mode,
            } => {
                app_calls += calls.get();
                streams.app = client.http2.peer_max_concurrent_streams;
                streams.app_peer = match mode {
                    WebMode::Sidecar { .. } | WebMode::Peer { .. } => "the sidecar",
                    WebMode::Dns | WebMode::KubeProxy { .. } => "a replica",
                };
                if let WebMode::Sidecar {
                    metrics, config, ..
                } = mode
                {
                    streams.endpoints = Some(config.h2.endpoint_max_concurrent_streams);
                    proxy
                        .get_or_insert_with(ProxyMetrics::default)
                        .merge(&crate::lock(metrics));
                    settings = config.settings();
                }
            }
            PodKind::StockData { control, .. } => {
                stockdata_pods.push(pod.spec.name.clone());
                replicas.insert(pod.spec.name.clone(), control.times());
            }
        }
    }
    StrategyRun {
        strategy,
        requests,
        warmup,
        target,
        stockdata_pods,
        sim_time,
        app_calls,
        proxy,
        settings,
        events,
        replicas,
        streams,
    }
}
