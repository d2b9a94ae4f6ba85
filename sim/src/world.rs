//! One simulated cluster running one client strategy.
//!
//! A turmoil host is a cluster *node*; a pod is a group of tasks with its own
//! ports on a node. (turmoil's per-step cost grows with the cube of the host
//! count, so pods must not be hosts.) Placement is deterministic: StockWeb
//! pod `j` on node `j mod nodes`, StockData pod `i` on node `(i + 1) mod
//! nodes`, so with the default three nodes the app and the replicas are on
//! different nodes and every call crosses the network.
//!
//! A simulated browser on its own host (`ingress`) loads StockWeb's page over
//! HTTP on the scenario's schedule, handing page loads to the StockWeb pods
//! in turn, and keeps what each page reports.

use crate::cluster::Cluster;
use crate::kube_proxy::{KubeProxyConnect, VipDns};
use crate::net::{SimConnect, SimListener};
use crate::proxy::metrics::ProxyMetrics;
use crate::proxy::{Outbound, SidecarConfig, serve_outbound};
use crate::scenario::Scenario;
use crate::strategy::Strategy;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};
use stockdata::transport::{Connect, Resolve};
use stockdata::{ReplicaConfig, StockDataService};
use stockweb::{ClientConfig, Outbound as AppOutbound, Page, StockClient, StockWeb};
use tokio::task::JoinSet;

/// StockData's service port (what the application asks for).
pub const STOCKDATA_SERVICE_PORT: u16 = 50051;
/// First pod port of StockData pods on a node (pod `i` listens on base + i).
pub const STOCKDATA_POD_PORT_BASE: u16 = 50051;
/// First port of StockWeb pods (pod `j` on base + j).
pub const STOCKWEB_POD_PORT_BASE: u16 = 8080;
/// First loopback port of StockWeb's outbound sidecars (Linkerd's outbound
/// proxy port is 4140; pod `j` uses base + j since pods share a node's
/// loopback here).
pub const SIDECAR_OUTBOUND_PORT_BASE: u16 = 4140;
/// Most pods per service, so the port ranges above never overlap.
pub const MAX_PODS_PER_SERVICE: u32 = 1000;
/// turmoil's TCP capacity: in-flight segments per direction and the accept
/// backlog. Its default (64) panics under a 100-call fan-out.
pub const TCP_CAPACITY: usize = 1 << 16;
/// The service names in the cluster.
pub const STOCKDATA: &str = "stockdata";
/// The StockWeb service name.
pub const STOCKWEB: &str = "stockweb";
/// The browser's host name.
pub const INGRESS: &str = "ingress";

/// One page load as the browser saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRecord {
    /// Index in the schedule.
    pub index: u64,
    /// Scheduled start (simulated time since the run began).
    pub start: Duration,
    /// What StockWeb answered, or why the page request failed.
    pub outcome: Result<Page, String>,
}

/// Everything one strategy's run produced.
#[derive(Debug, Clone)]
pub struct StrategyRun {
    /// The strategy.
    pub strategy: Strategy,
    /// Page loads in schedule order.
    pub pages: Vec<PageRecord>,
    /// StockData pod names, in order.
    pub stockdata_pods: Vec<String>,
    /// Simulated time when the browser finished.
    pub sim_time: Duration,
    /// Every sidecar's metrics, merged (sidecar strategies only).
    pub proxy: Option<ProxyMetrics>,
    /// The sidecar's resolved settings (sidecar strategies only).
    pub settings: BTreeMap<String, String>,
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

#[derive(Debug, Clone)]
struct PodSpec {
    name: String,
    node: usize,
    port: u16,
    kind: PodKind,
}

#[derive(Debug, Clone)]
enum PodKind {
    StockData(ReplicaConfig),
    StockWeb { client: ClientConfig, mode: WebMode },
}

#[derive(Debug, Clone)]
enum WebMode {
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

fn node_name(n: usize) -> String {
    format!("node-{n}")
}

fn pods(scenario: &Scenario, strategy: Strategy, seed: u64) -> Vec<PodSpec> {
    let nodes = scenario.cluster.nodes.get() as usize;
    let mut pods = Vec::new();
    let direct = AppOutbound::Direct {
        service: STOCKDATA.into(),
        port: STOCKDATA_SERVICE_PORT,
    };
    for j in 0..scenario.stockweb.replicas.get() {
        let j16 = j as u16; // bounded by MAX_PODS_PER_SERVICE
        let name = format!("{STOCKWEB}-{j}");
        let sidecar_port = SIDECAR_OUTBOUND_PORT_BASE + j16;
        let (outbound, mode) = match strategy {
            Strategy::CachedDns => (direct.clone(), WebMode::Dns),
            Strategy::KubeProxy => (
                direct.clone(),
                WebMode::KubeProxy {
                    seed: derive_seed(seed, &format!("kube-proxy/{name}")),
                },
            ),
            Strategy::ClientRr => (
                AppOutbound::ClientRoundRobin {
                    service: STOCKDATA.into(),
                    port: STOCKDATA_SERVICE_PORT,
                    refresh: scenario.stockweb.dns_refresh.0,
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
                        SidecarConfig::resolve(spec, scenario.stockdata.weights.clone())
                            .with_overrides(&scenario.sidecar),
                    ),
                    seed: derive_seed(seed, &format!("sidecar/{name}")),
                    metrics: Arc::default(),
                },
            ),
        };
        pods.push(PodSpec {
            name,
            node: j as usize % nodes,
            port: STOCKWEB_POD_PORT_BASE + j16,
            kind: PodKind::StockWeb {
                client: ClientConfig {
                    outbound,
                    handler_lifetime: scenario.stockweb.handler_lifetime.map(|d| d.0),
                },
                mode,
            },
        });
    }
    for i in 0..scenario.stockdata.replicas.get() {
        let name = format!("{STOCKDATA}-{i}");
        pods.push(PodSpec {
            node: (i as usize + 1) % nodes,
            port: STOCKDATA_POD_PORT_BASE + i as u16,
            kind: PodKind::StockData(ReplicaConfig {
                pod: name.clone(),
                service_time: scenario.stockdata.service_time.into(),
                concurrency: scenario.stockdata.concurrency.get() as usize,
                seed: derive_seed(seed, &name),
                demand_seed: derive_seed(seed, "stockdata/demand"),
                slowdown: scenario
                    .stockdata
                    .slowdown
                    .get(&name)
                    .copied()
                    .unwrap_or(1.0),
            }),
            name,
        });
    }
    pods
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn run_pod(pod: PodSpec, cluster: Cluster) -> Result<(), BoxError> {
    let any = SocketAddr::from((Ipv4Addr::UNSPECIFIED, pod.port));
    match pod.kind {
        PodKind::StockData(config) => {
            let replica = StockDataService::new(config)?;
            let listener = SimListener::bind(any).await?;
            cluster.set_ready(&pod.name, true);
            stockdata::serve(listener, replica).await?;
        }
        PodKind::StockWeb { client, mode } => match mode {
            WebMode::Dns => {
                serve_web(&pod.name, any, client, SimConnect, cluster.dns(), &cluster).await?
            }
            WebMode::KubeProxy { seed } => {
                let connect = KubeProxyConnect::new(cluster.clone(), STOCKDATA, seed);
                serve_web(&pod.name, any, client, connect, VipDns, &cluster).await?
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
                serve_web(&pod.name, any, client, SimConnect, cluster.dns(), &cluster).await?
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
    cluster: &Cluster,
) -> Result<(), BoxError> {
    let client = StockClient::new(client, connect, resolve);
    let app = Arc::new(StockWeb::new(pod, client));
    let listener = SimListener::bind(addr).await?;
    cluster.set_ready(pod, true);
    stockweb::serve(listener, app).await?;
    Ok(())
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
        // min == max: a fixed latency, no per-segment draw.
        .min_message_latency(scenario.cluster.latency.0)
        .max_message_latency(scenario.cluster.latency.0);
    let mut sim = builder.build();

    let cluster = Cluster::new();
    let pods = pods(scenario, strategy, seed);
    let nodes = scenario.cluster.nodes.get() as usize;
    for n in 0..nodes {
        let on_node: Vec<PodSpec> = pods.iter().filter(|p| p.node == n).cloned().collect();
        let cluster = cluster.clone();
        sim.host(node_name(n).as_str(), move || {
            let on_node = on_node.clone();
            let cluster = cluster.clone();
            async move {
                let mut tasks = JoinSet::new();
                for pod in on_node {
                    tasks.spawn(run_pod(pod, cluster.clone()));
                }
                while let Some(result) = tasks.join_next().await {
                    // A pod that stops (its listener failed) fails the node.
                    result?.map_err(|e| e as Box<dyn std::error::Error>)?;
                }
                Ok(())
            }
        });
    }
    for pod in &pods {
        let ip: IpAddr = sim.lookup(node_name(pod.node).as_str());
        let service = match pod.kind {
            PodKind::StockData(_) => STOCKDATA,
            PodKind::StockWeb { .. } => STOCKWEB,
        };
        cluster.add_endpoint(service, &pod.name, SocketAddr::from((ip, pod.port)));
    }

    let records: Arc<Mutex<Vec<PageRecord>>> = Arc::default();
    let browser_records = records.clone();
    let schedule = scenario.schedule();
    let browser_cluster = cluster.clone();
    sim.client(INGRESS, async move {
        let t0 = tokio::time::Instant::now();
        let webs = browser_cluster.endpoints(STOCKWEB);
        let mut loads = JoinSet::new();
        for (k, at) in schedule.times().enumerate() {
            tokio::time::sleep_until(t0 + at).await;
            let web = webs[k % webs.len()].clone();
            let cluster = browser_cluster.clone();
            let records = browser_records.clone();
            loads.spawn(async move {
                while !cluster
                    .endpoints(STOCKWEB)
                    .iter()
                    .any(|e| e.pod == web.pod && e.ready)
                {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let outcome = fetch_page(web.addr, &format!("page-{k}")).await.map_err(|e| e.to_string());
                let record = PageRecord {
                    index: k as u64,
                    start: at,
                    outcome,
                };
                records
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(record);
            });
        }
        while let Some(done) = loads.join_next().await {
            done?;
        }
        Ok(())
    });

    sim.run().map_err(|e| WorldError(e.to_string()))?;
    let sim_time = sim.elapsed();
    let mut pages = std::mem::take(&mut *records.lock().unwrap_or_else(|p| p.into_inner()));
    pages.sort_by_key(|p| p.index);
    let mut proxy: Option<ProxyMetrics> = None;
    let mut settings = BTreeMap::new();
    for pod in &pods {
        if let PodKind::StockWeb {
            mode: WebMode::Sidecar {
                metrics, config, ..
            },
            ..
        } = &pod.kind
        {
            proxy
                .get_or_insert_with(ProxyMetrics::default)
                .merge(&metrics.lock().unwrap_or_else(|p| p.into_inner()));
            settings = config.settings();
        }
    }
    Ok(StrategyRun {
        strategy,
        pages,
        stockdata_pods: pods
            .iter()
            .filter(|p| matches!(p.kind, PodKind::StockData(_)))
            .map(|p| p.name.clone())
            .collect(),
        sim_time,
        proxy,
        settings,
    })
}

/// `GET /api/stocks` over a fresh HTTP/1.1 connection, as a browser would.
async fn fetch_page(addr: SocketAddr, request_id: &str) -> Result<Page, BoxError> {
    let io = SimConnect.connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(connection);
    let request = http::Request::get("/api/stocks")
        .header(http::header::HOST, STOCKWEB)
        .header(stockdata::REQUEST_ID_HEADER, request_id)
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    if !response.status().is_success() {
        return Err(format!("StockWeb answered HTTP {}", response.status()).into());
    }
    let body = response.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&body)?)
}
