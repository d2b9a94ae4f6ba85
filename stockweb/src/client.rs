//! StockWeb's one gRPC client, and how it finds StockData.
//!
//! This reproduces the seed's `HttpClient` behaviour: the client resolves the
//! service name once, opens one HTTP/2 connection to the first address DNS
//! answered, and keeps it for the handler's lifetime (forever unless
//! `handler_lifetime` is set). Every call multiplexes onto that connection, so
//! every call lands on one replica: the problem a mesh solves.
//!
//! With [`Outbound::Sidecar`] the application is unchanged except that its
//! connection goes to the pod-local proxy (as iptables redirection does in a
//! real mesh); the `:authority` of each request still names the service, and
//! the proxy balances every request on its own.

use crate::code_name;
use std::net::SocketAddr;
use std::time::Duration;
use stockdata::pb::stocks_client::StocksClient;
use stockdata::transport::{Connect, Resolve, connector_to};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

/// Where StockWeb's client sends its calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// Resolve `service` through DNS and connect to the first answer.
    Direct {
        /// The service's DNS name, e.g. `stockdata`.
        service: String,
        /// The service port.
        port: u16,
    },
    /// Connect to the pod's outbound sidecar; requests still name `service`.
    Sidecar {
        /// The service's DNS name, sent as `:authority`.
        service: String,
        /// The service port, sent as part of `:authority`.
        port: u16,
        /// The sidecar's outbound listener (on the pod's loopback).
        proxy: SocketAddr,
    },
}

/// Client set-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Where calls go.
    pub outbound: Outbound,
    /// Re-resolve and reconnect once the cached client is this old
    /// (`HttpClientFactory`'s handler lifetime). `None`: never.
    pub handler_lifetime: Option<Duration>,
}

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The DNS query failed.
    #[error("resolving {name}: {source}")]
    Resolve {
        /// The name looked up.
        name: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// DNS answered with no address.
    #[error("{0} has no ready endpoints")]
    NoEndpoints(String),
    /// The service name does not form a valid URI.
    #[error("invalid service name {0:?}")]
    InvalidName(String),
}

impl ClientError {
    /// The gRPC code a call reports when it had no client.
    pub fn code_name(&self) -> &'static str {
        code_name(tonic::Code::Unavailable)
    }
}

struct Cached {
    client: StocksClient<Channel>,
    created: Instant,
}

/// The cached client with its connection and lifetime.
pub struct StockClient<C, R> {
    config: ClientConfig,
    connect: C,
    resolve: R,
    cached: Mutex<Option<Cached>>,
}

// === impl StockClient ===

impl<C: Connect, R: Resolve> StockClient<C, R> {
    /// A client that connects lazily, on first use.
    pub fn new(config: ClientConfig, connect: C, resolve: R) -> Self {
        Self {
            config,
            connect,
            resolve,
            cached: Mutex::new(None),
        }
    }

    /// The client to use now: the cached one, or a new one (one DNS query,
    /// one connection) if there is none or it outlived the handler lifetime.
    pub async fn client(&self) -> Result<StocksClient<Channel>, ClientError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let fresh = self
                .config
                .handler_lifetime
                .is_none_or(|lifetime| c.created.elapsed() < lifetime);
            if fresh {
                return Ok(c.client.clone());
            }
        }
        let client = self.make_client().await?;
        *cached = Some(Cached {
            client: client.clone(),
            created: Instant::now(),
        });
        Ok(client)
    }

    async fn make_client(&self) -> Result<StocksClient<Channel>, ClientError> {
        let (service, port, target) = match &self.config.outbound {
            Outbound::Direct { service, port } => {
                let answers = self
                    .resolve
                    .resolve(service, *port)
                    .await
                    .map_err(|source| ClientError::Resolve {
                        name: service.clone(),
                        source,
                    })?;
                let first = *answers
                    .first()
                    .ok_or_else(|| ClientError::NoEndpoints(service.clone()))?;
                (service, *port, first)
            }
            Outbound::Sidecar {
                service,
                port,
                proxy,
            } => (service, *port, *proxy),
        };
        let endpoint = Endpoint::from_shared(format!("http://{service}:{port}"))
            .map_err(|_| ClientError::InvalidName(service.clone()))?;
        let channel =
            endpoint.connect_with_connector_lazy(connector_to(self.connect.clone(), target));
        Ok(StocksClient::new(channel))
    }
}
