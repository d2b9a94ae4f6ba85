//! Pods: what runs on the nodes. A [`PodSpec`] says what one pod is; the
//! [`PodFactory`] builds them for a scenario and a strategy. The agent that
//! runs them on a node is in [`super::kubelet`].

use crate::proxy::SidecarConfig;
use crate::proxy::metrics::ProxyMetrics;
use crate::scenario::Scenario;
use crate::seed::derive_seed;
use crate::strategy::{PeerSpec, SidecarSpec, Strategy};
use crate::topology::{
    SIDECAR_OUTBOUND_PORT_BASE, STOCKDATA, STOCKDATA_APP_PORT_BASE, STOCKDATA_POD_PORT_BASE,
    STOCKDATA_SERVICE_PORT, STOCKWEB, STOCKWEB_POD_PORT_BASE, node_index, pod_name,
};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use stockdata::transport::ServerH2;
use stockdata::{ReplicaConfig, ReplicaControl};
use stockweb::{CallCount, ClientConfig, ClientHttp2, Upstream};

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
        /// What the replica's HTTP/2 server advertises.
        h2: ServerH2,
        /// The mesh's inbound sidecar in front of the app, if meshed.
        inbound: Option<Inbound>,
    },
    StockWeb {
        client: ClientConfig,
        mode: WebMode,
        /// Calls the app issued, over every process of the pod.
        calls: CallCount,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum WebMode {
    /// The app resolves through the cluster DNS and dials directly.
    Dns,
    /// The app dials the service VIP through kube-proxy.
    KubeProxy { seed: u64 },
    /// The app dials a real proxy (nginx, haproxy, Caddy) in its pod: real mode.
    Peer { port: u16, spec: PeerSpec },
    /// The app dials its sidecar.
    Sidecar {
        port: u16,
        config: Box<SidecarConfig>,
        seed: u64,
        metrics: Arc<Mutex<ProxyMetrics>>,
    },
}

/// A server pod's inbound sidecar: it takes the pod's port and forwards to
/// the app on the pod's loopback, port `app_port`.
#[derive(Debug, Clone)]
pub(crate) struct Inbound {
    pub app_port: u16,
    pub config: Box<SidecarConfig>,
    pub seed: u64,
    pub metrics: Arc<Mutex<ProxyMetrics>>,
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

    /// StockData pod `i` (on node `(i + 1) mod nodes`, port slot `i`).
    pub fn stockdata(&self, i: u32) -> PodSpec {
        self.stockdata_in_slot(i, i)
    }

    /// StockData pod `i` listening on port slot `slot` (a pod that replaces
    /// a deleted one reuses its port, not its name).
    pub fn stockdata_in_slot(&self, i: u32, slot: u32) -> PodSpec {
        let name = pod_name(STOCKDATA, i);
        let s = &self.scenario;
        PodSpec {
            node: self.node_of(&name, i as usize + 1),
            port: STOCKDATA_POD_PORT_BASE + slot as u16,
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
                    // Replicas report their load when the client reads it.
                    load_reports: self.strategy.reads_load_reports(),
                },
                control: ReplicaControl::default(),
                h2: s.stockdata.server_h2(),
                inbound: self.inbound(&name, slot),
            },
            name,
        }
    }

    /// The inbound sidecar of StockData pod `name` in `slot`, if meshed.
    /// Its listener is the outbound's (the scenario's HTTP/2 overrides
    /// apply to both sidecars).
    fn inbound(&self, name: &str, slot: u32) -> Option<Inbound> {
        let Strategy::Sidecar(spec) = self.strategy else {
            return None;
        };
        if !self.meshed() {
            return None;
        }
        let mut config = self.outbound_config(&spec).inbound();
        config.h2.endpoint_max_concurrent_streams =
            self.scenario.stockdata.max_concurrent_streams.0;
        Some(Inbound {
            app_port: STOCKDATA_APP_PORT_BASE + slot as u16,
            config: Box::new(config),
            seed: derive_seed(self.seed, &format!("inbound/{name}")),
            metrics: Arc::new(Mutex::new(ProxyMetrics::default())),
        })
    }

    /// How late the strategy's sidecars learn of an endpoint change
    /// (`discovery_delay`; zero without meshsim's sidecar).
    pub fn discovery_delay(&self) -> std::time::Duration {
        match self.strategy {
            Strategy::Sidecar(spec) => self.sidecar_config(&spec).discovery_delay,
            _ => std::time::Duration::ZERO,
        }
    }

    /// The sidecar configuration of `spec`: its profile, the scenario's
    /// `[sidecar]` overrides, and the stream limit the replicas advertise.
    pub fn sidecar_config(&self, spec: &SidecarSpec) -> SidecarConfig {
        let s = &self.scenario;
        let mut config = self.outbound_config(spec);
        // Its endpoints are the replicas' inbound sidecars (the same
        // mesh's listener) when the pods are meshed, else the replicas.
        config.h2.endpoint_max_concurrent_streams = if self.meshed() {
            config.h2.listener.max_concurrent_streams
        } else {
            s.stockdata.max_concurrent_streams.0
        };
        config
    }

    /// Whether StockData pods get an inbound sidecar: with every meshsim
    /// sidecar strategy unless the scenario says client side only
    /// (`[sidecar] inbound = false`).
    fn meshed(&self) -> bool {
        matches!(self.strategy, Strategy::Sidecar(_))
            && self.scenario.sidecar.inbound.unwrap_or(true)
    }

    /// The outbound profile of `spec` with the scenario's overrides.
    fn outbound_config(&self, spec: &SidecarSpec) -> SidecarConfig {
        let s = &self.scenario;
        s.sidecar
            .apply_to(spec, spec.config(s.stockdata.weights.clone()))
    }

    /// StockWeb pod `j` (on node `j mod nodes`), wired for the strategy.
    pub fn stockweb(&self, j: u32) -> PodSpec {
        let name = pod_name(STOCKWEB, j);
        let (outbound, mode) = self.stockweb_wiring(&name, j);
        PodSpec {
            node: self.node_of(&name, j as usize),
            port: STOCKWEB_POD_PORT_BASE + j as u16,
            service: STOCKWEB,
            kind: PodKind::StockWeb {
                client: self.stockweb_client(outbound, &mode),
                mode,
                calls: CallCount::default(),
            },
            name,
        }
    }

    /// Where StockWeb pod `j` (`name`)'s calls go under the strategy: its
    /// client's upstream, and what the kubelet starts for it.
    fn stockweb_wiring(&self, name: &str, j: u32) -> (Upstream, WebMode) {
        let s = &self.scenario;
        let sidecar_port = SIDECAR_OUTBOUND_PORT_BASE + j as u16;
        let direct = Upstream::Direct {
            service: STOCKDATA.into(),
            port: STOCKDATA_SERVICE_PORT,
        };
        // Where the kubelet puts the pod's sidecar (meshsim's or a peer);
        // requests still name the service.
        let via_sidecar = Upstream::Sidecar {
            service: STOCKDATA.into(),
            port: STOCKDATA_SERVICE_PORT,
            proxy: SocketAddr::from((Ipv4Addr::LOCALHOST, sidecar_port)),
        };
        match self.strategy {
            Strategy::CachedDns => (direct, WebMode::Dns),
            Strategy::KubeProxy => (
                direct,
                WebMode::KubeProxy {
                    seed: derive_seed(self.seed, &format!("kube-proxy/{name}")),
                },
            ),
            Strategy::ClientRr => (
                Upstream::ClientRoundRobin {
                    service: STOCKDATA.into(),
                    port: STOCKDATA_SERVICE_PORT,
                    min_interval: s.stockweb.dns_refresh.0,
                },
                WebMode::Dns,
            ),
            Strategy::PinUntilError => (
                Upstream::PinUntilError {
                    service: STOCKDATA.into(),
                    port: STOCKDATA_SERVICE_PORT,
                    seed: derive_seed(self.seed, &format!("pin-until-error/{name}")),
                },
                WebMode::Dns,
            ),
            Strategy::Peer(spec) => (
                via_sidecar,
                WebMode::Peer {
                    port: sidecar_port,
                    spec,
                },
            ),
            Strategy::Sidecar(spec) => (
                via_sidecar,
                WebMode::Sidecar {
                    port: sidecar_port,
                    config: Box::new(self.sidecar_config(&spec)),
                    seed: derive_seed(self.seed, &format!("sidecar/{name}")),
                    metrics: Arc::new(Mutex::new(ProxyMetrics {
                        clock: Some(turmoil::sim_elapsed),
                        ..ProxyMetrics::default()
                    })),
                },
            ),
        }
    }

    /// The app's client for `upstream`, its HTTP/2 settings matching its
    /// peer (`mode`'s sidecar, or a replica).
    fn stockweb_client(&self, upstream: Upstream, mode: &WebMode) -> ClientConfig {
        let s = &self.scenario;
        ClientConfig {
            upstream,
            handler_lifetime: s.stockweb.handler_lifetime.map(|d| d.0),
            http2: ClientHttp2 {
                windows: s.stockweb.client_h2(),
                // The app's peer: its sidecar's listener, or a replica.
                peer_max_concurrent_streams: match mode {
                    WebMode::Sidecar { config, .. } => config.h2.listener.max_concurrent_streams,
                    WebMode::Peer { spec, .. } => Some(spec.proxy.max_concurrent_streams()),
                    _ => s.stockdata.max_concurrent_streams.0,
                },
            },
        }
    }
}
