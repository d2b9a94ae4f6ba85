//! The seed's demo on real sockets, to open in a browser: two StockData
//! replicas, StockWeb with a cached-DNS client, and StockWeb behind a
//! round-robin sidecar, all on loopback.
//!
//! The cached-DNS page's Server column shows one replica a hundred times;
//! the sidecar page shows both, with no change to StockWeb. The services are
//! the simulator's, on tokio sockets; service discovery is the in-process
//! cluster registry answering DNS round robin, as the simulator's does.

use crate::control::ControlPlane;
use crate::proxy::{Outbound, SidecarConfig, serve_outbound};
use crate::topology::{STOCKDATA, STOCKDATA_SERVICE_PORT, pod_name};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use stockdata::transport::TokioConnect;
use stockdata::{ReplicaConfig, ServiceTime, StockDataService};
use stockweb::{ClientConfig, StockClient, StockWeb, Upstream};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Demo settings.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The address everything listens on.
    pub ip: IpAddr,
    /// The cached-DNS page's port (0: any free one); the sidecar page
    /// takes the next one when this is not 0.
    pub web_port: u16,
    /// StockData replicas.
    pub replicas: u32,
    /// StockData's mean (exponential) service time.
    pub service_time: Duration,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            ip: IpAddr::from([127, 0, 0, 1]),
            web_port: 8080,
            replicas: 2,
            service_time: Duration::from_millis(2),
        }
    }
}

/// The running demo: its two pages' addresses, and its tasks (dropping it
/// stops everything).
pub struct Demo {
    /// The cached-DNS StockWeb.
    pub cached_dns: SocketAddr,
    /// The StockWeb behind the sidecar.
    pub sidecar: SocketAddr,
    _tasks: JoinSet<()>,
}

async fn bind(ip: IpAddr, port: u16) -> Result<TcpListener, BoxError> {
    TcpListener::bind((ip, port))
        .await
        .map_err(|e| format!("cannot listen on {ip}:{port}: {e}").into())
}

/// How long the demo waits for its sidecar to connect to every replica
/// before it serves anyway (loopback connects take well under 1 ms).
const SETTLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Starts the demo on the current tokio runtime.
pub async fn start(config: &DemoConfig) -> Result<Demo, BoxError> {
    let mut tasks = JoinSet::new();
    let cluster = ControlPlane::new();
    start_replicas(&mut tasks, &cluster, config).await?;
    let second = second_port(config.web_port)?;
    // StockWeb as the seed wrote it: resolve once, one connection.
    let direct = client_config(Upstream::Direct {
        service: STOCKDATA.into(),
        port: STOCKDATA_SERVICE_PORT,
    });
    let client = StockClient::new(direct, TokioConnect, cluster.dns());
    let cached_dns = web(&mut tasks, config.ip, config.web_port, "stockweb-0", client).await?;
    // The same StockWeb with a sidecar in its "pod".
    let proxy = start_sidecar(&mut tasks, &cluster, config.ip).await?;
    let meshed = client_config(Upstream::Sidecar {
        service: STOCKDATA.into(),
        port: STOCKDATA_SERVICE_PORT,
        proxy,
    });
    let client = StockClient::new(meshed, TokioConnect, cluster.dns());
    let sidecar = web(&mut tasks, config.ip, second, "stockweb-1", client).await?;
    Ok(Demo {
        cached_dns,
        sidecar,
        _tasks: tasks,
    })
}

/// Starts the StockData replicas on free ports, each ready in `cluster`.
async fn start_replicas(
    tasks: &mut JoinSet<()>,
    cluster: &ControlPlane,
    config: &DemoConfig,
) -> Result<(), BoxError> {
    for i in 0..config.replicas {
        let name = pod_name(STOCKDATA, i);
        let listener = bind(config.ip, 0).await?;
        let addr = listener.local_addr()?;
        let replica = StockDataService::new(ReplicaConfig {
            pod: name.clone(),
            service_time: ServiceTime::Exponential {
                mean: config.service_time,
            },
            concurrency: 8,
            seed: u64::from(i) + 1,
            demand_seed: 0,
            honor_cancellation: true,
            queue_bound: None,
            slowdown: 1.0,
            load_reports: false,
        })?;
        tasks.spawn(async move {
            let _ = stockdata::serve(listener, replica).await;
        });
        cluster.add_endpoint(STOCKDATA, &name, addr);
        cluster.set_ready(&name, true);
    }
    Ok(())
}

/// The sidecar page's port: the one after `web_port` (0: any free port).
fn second_port(web_port: u16) -> Result<u16, BoxError> {
    if web_port == 0 {
        return Ok(0);
    }
    let second = web_port.checked_add(1).ok_or_else(|| {
        format!(
            "web port {web_port}: the sidecar page takes the next port and there is none above \
             65535; expected a port up to 65534, or 0 for any free ports"
        )
    })?;
    Ok(second)
}

/// A StockWeb client of `upstream`, with no handler lifetime.
fn client_config(upstream: Upstream) -> ClientConfig {
    ClientConfig {
        upstream,
        handler_lifetime: None,
        http2: Default::default(),
    }
}

/// Starts the sidecar (round robin over `cluster`'s replicas) on a free
/// port once it has connected to them; its address.
async fn start_sidecar(
    tasks: &mut JoinSet<()>,
    cluster: &ControlPlane,
    ip: IpAddr,
) -> Result<SocketAddr, BoxError> {
    let proxy_listener = bind(ip, 0).await?;
    let proxy = proxy_listener.local_addr()?;
    let outbound = Outbound::new(
        cluster.clone(),
        TokioConnect,
        SidecarConfig::round_robin(),
        1,
        Default::default(),
    );
    // Up before its app sends, as a sidecar is (Linkerd's proxy-await):
    // the URLs are printed once its connections to the replicas are up,
    // so the first page shows the balance rather than the connect race
    // (a page sent while one replica is still connecting goes 51/49).
    outbound.warm(STOCKDATA);
    let (up, all) = outbound.settle(STOCKDATA, SETTLE_LIMIT).await;
    if up < all {
        eprintln!("warning: the sidecar reached {up} of {all} replicas within {SETTLE_LIMIT:?}");
    }
    tasks.spawn(async move {
        let _ = serve_outbound(proxy_listener, outbound).await;
    });
    Ok(proxy)
}

async fn web<R: stockdata::transport::Resolve>(
    tasks: &mut JoinSet<()>,
    ip: IpAddr,
    port: u16,
    pod: &str,
    client: StockClient<TokioConnect, R>,
) -> Result<SocketAddr, BoxError> {
    let listener = bind(ip, port).await?;
    let addr = listener.local_addr()?;
    let app = Arc::new(StockWeb::new(pod, client));
    tasks.spawn(async move {
        let _ = stockweb::serve(listener, app).await;
    });
    Ok(addr)
}
