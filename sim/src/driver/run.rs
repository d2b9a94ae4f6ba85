//! What a strategy's run produced, gathered from its pods once the
//! workload is over.

use crate::cluster::kubelet::PodTable;
use crate::cluster::pods::{PodKind, WebMode};
use crate::load::RequestRecord;
use crate::proxy::metrics::ProxyMetrics;
use crate::strategy::Strategy;
use std::collections::BTreeMap;
use std::time::Duration;

/// Everything one strategy's run produced.
#[derive(Debug, Clone)]
pub struct StrategyRun {
    /// The strategy.
    pub strategy: Strategy,
    /// Every workload request that was sent, and any the open loop issued
    /// after that without sending, in issue order.
    pub requests: Vec<RequestRecord>,
    /// Requests the open loop issued and never sent (no connection came
    /// before the end): counted, not in `requests`; in flight at the end.
    pub never_sent: u64,
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
    /// Every inbound sidecar's metrics, merged (meshed StockData pods).
    pub inbound: Option<ProxyMetrics>,
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
    /// What the sidecar's endpoints advertise to it (sidecar strategies):
    /// the replicas, or their inbound sidecars.
    pub endpoints: Option<Option<u32>>,
    /// What the replicas advertise to their inbound sidecars (meshed).
    pub inbound: Option<Option<u32>>,
}

/// What one strategy's run produced, gathered from its pods once the
/// workload is over .
pub(crate) fn finish(
    strategy: Strategy,
    (requests, never_sent): (Vec<RequestRecord>, u64),
    (warmup, target): (Duration, crate::scenario::Target),
    sim_time: Duration,
    table: &PodTable,
    events: Vec<(Duration, String)>,
    origin: Duration,
) -> StrategyRun {
    let mut proxy: Option<ProxyMetrics> = None;
    let mut inbound_metrics: Option<ProxyMetrics> = None;
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
                        .merge(&crate::sync::lock(metrics).since(origin));
                    settings = config.settings();
                }
            }
            PodKind::StockData {
                control, inbound, ..
            } => {
                if let Some(sidecar) = inbound {
                    streams.inbound = Some(sidecar.config.h2.endpoint_max_concurrent_streams);
                    inbound_metrics
                        .get_or_insert_with(ProxyMetrics::default)
                        .merge(&crate::sync::lock(&sidecar.metrics));
                }
                stockdata_pods.push(pod.spec.name.clone());
                replicas.insert(pod.spec.name.clone(), control.times());
            }
        }
    }
    StrategyRun {
        strategy,
        requests,
        never_sent,
        warmup,
        target,
        stockdata_pods,
        sim_time,
        app_calls,
        proxy,
        inbound: inbound_metrics,
        settings,
        events,
        replicas,
        streams,
    }
}
