//! The scale point: many StockData pods behind sidecars, a million requests.
//!
//! Hosts are nodes (turmoil's step cost grows with the cube of the host
//! count), pods are tasks with their own ports on them. Every pod has an
//! inbound sidecar in front of it; client nodes each run an outbound
//! sidecar that balances across every pod's inbound sidecar.

use super::Throughput;
use super::paths::{
    INBOUND_PORT, OUTBOUND_PORT, SERVER_PORT, any, drive, driven, inbound_sidecar, local, replica,
    sidecar_config, sim, timed,
};
use crate::backend::sim::net::{SimConnect, SimListener};
use crate::control::ControlPlane;
use crate::proxy::metrics::ProxyMetrics;
use crate::proxy::{Outbound, serve_outbound};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The shape of a scale run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleConfig {
    /// StockData pods.
    pub pods: u32,
    /// Nodes the pods are spread over.
    pub server_nodes: u32,
    /// Client nodes, each with an outbound sidecar.
    pub client_nodes: u32,
    /// Concurrent requests per client node.
    pub concurrency: u32,
    /// Requests in all.
    pub requests: u64,
    /// Whether each pod has an inbound sidecar.
    pub inbound_sidecars: bool,
}

impl Default for ScaleConfig {
    /// Issue #6's scale point: 1,000 pods, 1M requests.
    fn default() -> Self {
        Self {
            pods: 1000,
            server_nodes: 20,
            client_nodes: 4,
            concurrency: 200,
            requests: 1_000_000,
            inbound_sidecars: true,
        }
    }
}

/// Inbound sidecars listen above the pods' ports, one per pod.
fn inbound_port(offset: u16) -> u16 {
    INBOUND_PORT + 2000 + offset
}

/// Runs the scale point; ops = successful requests.
pub fn run(config: ScaleConfig) -> Result<Throughput, Box<dyn std::error::Error>> {
    run_counted(config).map(|(throughput, _)| throughput)
}

/// [`run`], also returning how many requests the client sidecars sent to
/// each pod (by pod name).
pub fn run_counted(
    config: ScaleConfig,
) -> Result<(Throughput, BTreeMap<String, u64>), Box<dyn std::error::Error>> {
    let metrics: Arc<Mutex<ProxyMetrics>> = Arc::default();
    let mut sim = sim(4);
    let cluster = ControlPlane::new();
    let per_node = config.pods.div_ceil(config.server_nodes.max(1));
    server_nodes(&mut sim, config, per_node);
    // Endpoints: each pod's inbound sidecar (or the pod itself).
    let per_client = config.requests / u64::from(config.client_nodes.max(1));
    for c in 0..config.client_nodes {
        client_node(
            &mut sim,
            config,
            c,
            per_node,
            per_client,
            (&cluster, &metrics),
        );
    }
    let ops = driven(per_client, u64::from(config.concurrency)) * u64::from(config.client_nodes);
    let throughput = timed(sim, &label(config), ops);
    let per_pod = crate::sync::lock(&metrics)
        .endpoints
        .iter()
        .map(|(pod, m)| (pod.clone(), m.requests))
        .collect();
    Ok((throughput?, per_pod))
}

/// The server nodes: `per_node` StockData pods on each, every pod with
/// its inbound sidecar when the config has them.
fn server_nodes(sim: &mut turmoil::Sim<'_>, config: ScaleConfig, per_node: u32) {
    let mut pod = 0u32;
    for node in 0..config.server_nodes {
        let pods: Vec<u32> = (pod..(pod + per_node).min(config.pods)).collect();
        pod += pods.len() as u32;
        let inbound = config.inbound_sidecars;
        sim.host(format!("node-{node}"), move || {
            let pods = pods.clone();
            async move {
                for &p in &pods {
                    let offset = (p % per_node) as u16;
                    let name = format!("stockdata-{p}");
                    let listener = SimListener::bind(any(SERVER_PORT + offset)).await?;
                    let replica = replica(&name).map_err(|e| e.to_string())?;
                    tokio::spawn(stockdata::serve(listener, replica));
                    if inbound {
                        let proxy = inbound_sidecar(&name, SERVER_PORT + offset, u64::from(p));
                        let listener = SimListener::bind(any(inbound_port(offset))).await?;
                        tokio::spawn(serve_outbound(listener, proxy));
                    }
                }
                std::future::pending::<()>().await;
                Ok(())
            }
        });
    }
}

/// Client node `c`: an outbound sidecar over every pod, driven with
/// `per_client` requests. Client 0 publishes the endpoints first.
fn client_node(
    sim: &mut turmoil::Sim<'_>,
    cfg: ScaleConfig,
    c: u32,
    per_node: u32,
    per_client: u64,
    (cluster, metrics): (&ControlPlane, &Arc<Mutex<ProxyMetrics>>),
) {
    let cluster = cluster.clone();
    let metrics = metrics.clone();
    sim.client(format!("client-{c}"), async move {
        if c == 0 {
            publish_endpoints(&cluster, cfg, per_node);
        } else {
            // Let client 0 publish the endpoints first.
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let outbound = Outbound::new(
            cluster,
            SimConnect,
            sidecar_config(),
            100 + u64::from(c),
            metrics,
        );
        // Connect to every pod before the load starts (eager
        // endpoints take traffic once connected), as a sidecar that is
        // up before its app sends.
        outbound.warm("stockdata");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        tokio::spawn(serve_outbound(
            SimListener::bind(any(OUTBOUND_PORT)).await?,
            outbound,
        ));
        drive(local(OUTBOUND_PORT), per_client, u64::from(cfg.concurrency))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    });
}

/// Every pod's endpoint (its inbound sidecar, or the pod), ready.
fn publish_endpoints(cluster: &ControlPlane, cfg: ScaleConfig, per_node: u32) {
    for p in 0..cfg.pods {
        let node = p / per_node;
        let offset = (p % per_node) as u16;
        let ip = turmoil::lookup(format!("node-{node}"));
        let port = if cfg.inbound_sidecars {
            inbound_port(offset)
        } else {
            SERVER_PORT + offset
        };
        let name = format!("stockdata-{p}");
        cluster.add_endpoint("stockdata", &name, SocketAddr::new(ip, port));
        cluster.set_ready(&name, true);
    }
}

/// What the run is, for its throughput line.
fn label(config: ScaleConfig) -> String {
    format!(
        "{} pods{} on {} nodes, {} client sidecars",
        config.pods,
        if config.inbound_sidecars {
            " behind inbound sidecars"
        } else {
            ""
        },
        config.server_nodes,
        config.client_nodes
    )
}
