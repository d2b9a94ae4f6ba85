//! StockWeb's one gRPC client, and how it finds StockData.
//!
//! This reproduces the seed's `HttpClient` behaviour: the client resolves the
//! service name once, opens one HTTP/2 connection to the first address DNS
//! answered, and keeps it for the handler's lifetime (forever unless
//! `handler_lifetime` is set). Every call multiplexes onto that connection, so
//! every call lands on one replica: the problem a mesh solves.
//!
//! With [`Upstream::Sidecar`] the application is unchanged except that its
//! connection goes to the pod-local proxy (as iptables redirection does in a
//! real mesh); the `:authority` of each request still names the service, and
//! the proxy balances every request on its own.

use crate::code_name;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use stockdata::pb::stocks_client::StocksClient;
use stockdata::transport::{ClientH2, Connect, Resolve, ServerH2, StreamSlots, connector_to};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

/// Where StockWeb's client sends its calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// Resolve `service` through DNS and connect to the first answer.
    Direct {
        /// The service's DNS name, e.g. `stockdata`.
        service: String,
        /// The service port.
        port: u16,
    },
    /// gRPC client-side round robin: resolve `service` (a headless service:
    /// every ready pod), keep one connection per address, and send each call
    /// to the next one. Like grpc-go's DNS resolver, it does not poll: a call
    /// that fails on its connection asks for re-resolution (`ResolveNow`),
    /// which happens at the next call at least `min_interval` after the
    /// previous resolution.
    ClientRoundRobin {
        /// The service's DNS name.
        service: String,
        /// The service port.
        port: u16,
        /// The minimum gap between two resolutions (grpc-go's
        /// `MinResolutionInterval`, 30 s), not a period.
        min_interval: Duration,
    },
    /// Pin until error (Palantir dialogue's `PIN_UNTIL_ERROR`, what most
    /// HTTP clients do on a broken connection): resolve `service` (every
    /// ready pod), shuffle the answer once, and send every call to one
    /// address until a call fails there with a server error or a broken
    /// connection; then move on to the next address. `RESOURCE_EXHAUSTED`
    /// (HTTP 429) does not move the pin: dialogue deliberately keeps
    /// rate-limited clients where they are. The list is resolved and
    /// reshuffled again every [`PIN_RESHUFFLE_EVERY`], and after a broken
    /// connection (the next call starts from a fresh answer).
    PinUntilError {
        /// The service's DNS name.
        service: String,
        /// The service port.
        port: u16,
        /// Seed of the shuffles.
        seed: u64,
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

/// How often pin-until-error resolves and reshuffles its list: palantir/
/// dialogue `PinUntilErrorNodeSelectionStrategyChannel.RESHUFFLE_EVERY`
/// (10 minutes; dialogue adds ±30 s of jitter, not modelled here).
pub const PIN_RESHUFFLE_EVERY: Duration = Duration::from_secs(600);

/// Client set-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Where calls go.
    pub upstream: Upstream,
    /// Re-resolve and reconnect once the cached client is this old
    /// (`HttpClientFactory`'s handler lifetime). `None`: never. (Client-side
    /// round robin re-resolves on connection failure instead.)
    pub handler_lifetime: Option<Duration>,
    /// HTTP/2 settings of the client's connections.
    pub http2: ClientHttp2,
}

/// The HTTP/2 side of the client: its receive windows, and the stream limit
/// its peer (StockData, or the sidecar) advertises, which each connection's
/// [`StreamSlots`] mirror so that a call waiting for a stream is timed
/// ([`crate::Call::stream_wait_us`]) instead of queueing unseen inside h2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHttp2 {
    /// Receive windows (tonic's `Endpoint` defaults are hyper's).
    pub windows: ClientH2,
    /// The peer's `SETTINGS_MAX_CONCURRENT_STREAMS` (`None`: no limit).
    pub peer_max_concurrent_streams: Option<u32>,
}

impl Default for ClientHttp2 {
    /// hyper's client windows, a hyper server as the peer (200 streams).
    fn default() -> Self {
        Self {
            windows: ClientH2::HYPER,
            peer_max_concurrent_streams: ServerH2::HYPER.max_concurrent_streams,
        }
    }
}

/// One connection: its client and its stream slots.
#[derive(Clone)]
pub struct Conn {
    /// The gRPC client on the connection.
    pub client: StocksClient<Channel>,
    /// The connection's stream slots.
    pub slots: StreamSlots,
    /// Its position in its [`ClientSet`].
    pub index: usize,
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

/// The client(s) to use for one page: one client, or one per address for
/// client-side round robin. Cheap to clone.
#[derive(Clone)]
pub struct ClientSet {
    clients: Arc<Vec<Conn>>,
    cursor: Arc<AtomicUsize>,
    resolve_now: Arc<AtomicBool>,
    /// Pin-until-error: `next` stays on the cursor, failures move it.
    pinned: bool,
}

impl ClientSet {
    /// Tells the client how a call made through this set failed. A
    /// connection-level UNAVAILABLE (the transport's error: a refused or
    /// broken connection, not a status the server sent) asks for
    /// re-resolution, as grpc-go's subchannel going to TRANSIENT_FAILURE or
    /// IDLE calls `ResolveNow` (grpc/grpc-go
    /// `balancer/pickfirst/pickfirstleaf/pickfirstleaf.go`). Client-side
    /// round robin and pin-until-error act on it.
    ///
    /// Pin-until-error moves its pin to the next address when a call on the
    /// pinned connection (`conn`) failed with a server error
    /// ([`stockdata::is_server_error`]: dialogue moves on 5xx, not on 429)
    /// or a broken connection; only once per pin, so
    /// late failures from an old pin do not move it again (dialogue's
    /// `compareAndSet`).
    pub fn on_error(&self, conn: &Conn, status: &tonic::Status) {
        if self.pinned && stockdata::is_server_error(status.code()) {
            let next = (conn.index + 1) % self.clients.len();
            let _ = self.cursor.compare_exchange(
                conn.index,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        if is_connection_failure(status) {
            self.resolve_now.store(true, Ordering::Relaxed);
        }
    }

    /// The connection for the next call: the pinned one, or round robin
    /// over the set.
    pub fn next(&self) -> Conn {
        let i = if self.pinned {
            self.cursor.load(Ordering::Relaxed)
        } else {
            self.cursor.fetch_add(1, Ordering::Relaxed)
        };
        self.clients[i % self.clients.len()].clone()
    }

    /// Number of clients (connections) in the set.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether the set is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

/// Whether `status` is a connection-level UNAVAILABLE: tonic attaches the
/// transport error as the source; a status the server sent has none.
pub fn is_connection_failure(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::Unavailable && std::error::Error::source(status).is_some()
}

struct Cached {
    set: ClientSet,
    by_addr: BTreeMap<SocketAddr, Conn>,
    created: Instant,
}

/// The cached client with its connection and lifetime.
pub struct StockClient<C, R> {
    config: ClientConfig,
    connect: C,
    resolve: R,
    cached: Mutex<Option<Cached>>,
    /// Set by a connection failure, cleared by a resolution.
    resolve_now: Arc<AtomicBool>,
    /// Resolutions so far (each pin-until-error list is shuffled afresh).
    resolutions: AtomicUsize,
}

fn single_set(set: ClientSet, created: Instant) -> Cached {
    Cached {
        set,
        by_addr: BTreeMap::new(),
        created,
    }
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
            resolve_now: Arc::new(AtomicBool::new(false)),
            resolutions: AtomicUsize::new(0),
        }
    }

    /// The client to use now: the cached one, or a new one (one DNS query,
    /// one connection) if there is none or it outlived the handler lifetime.
    /// Client-side round robin re-resolves only when a connection failure
    /// asked for it and `min_interval` has passed since the last resolution
    /// (grpc/grpc-go `internal/resolver/dns/dns_resolver.go`, `watcher`:
    /// "wait for the next ResolveNow. However, also wait 30 seconds at the
    /// very least"). A request made within the gap is kept, not dropped.
    pub async fn client(&self) -> Result<ClientSet, ClientError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            let age = c.created.elapsed();
            let fresh = match &self.config.upstream {
                Upstream::ClientRoundRobin { min_interval, .. } => {
                    !self.resolve_now.load(Ordering::Relaxed) || age < *min_interval
                }
                // A broken connection also re-resolves (and reshuffles):
                // the addresses may be gone (a rollout, a kill), as an HTTP
                // client resolves again for its next connection.
                Upstream::PinUntilError { .. } => {
                    !self.resolve_now.load(Ordering::Relaxed) && age < PIN_RESHUFFLE_EVERY
                }
                _ => self.config.handler_lifetime.is_none_or(|l| age < l),
            };
            if fresh {
                return Ok(c.set.clone());
            }
        }
        self.resolve_now.store(false, Ordering::Relaxed);
        let previous = cached.take().map(|c| c.by_addr).unwrap_or_default();
        let fresh = self.make_clients(previous).await?;
        let set = fresh.set.clone();
        *cached = Some(fresh);
        Ok(set)
    }

    async fn resolve(&self, service: &str, port: u16) -> Result<Vec<SocketAddr>, ClientError> {
        let answers = self
            .resolve
            .resolve(service, port)
            .await
            .map_err(|source| ClientError::Resolve {
                name: service.to_string(),
                source,
            })?;
        if answers.is_empty() {
            return Err(ClientError::NoEndpoints(service.to_string()));
        }
        Ok(answers)
    }

    fn set(&self, clients: Vec<Conn>) -> ClientSet {
        ClientSet {
            clients: Arc::new(clients),
            cursor: Arc::new(AtomicUsize::new(0)),
            resolve_now: self.resolve_now.clone(),
            pinned: matches!(self.config.upstream, Upstream::PinUntilError { .. }),
        }
    }

    fn channel(
        &self,
        service: &str,
        port: u16,
        target: SocketAddr,
        index: usize,
    ) -> Result<Conn, ClientError> {
        let windows = self.config.http2.windows;
        let endpoint = Endpoint::from_shared(format!("http://{service}:{port}"))
            .map_err(|_| ClientError::InvalidName(service.to_string()))?
            .initial_stream_window_size(windows.initial_stream_window)
            .initial_connection_window_size(windows.initial_connection_window);
        let channel =
            endpoint.connect_with_connector_lazy(connector_to(self.connect.clone(), target));
        Ok(Conn {
            client: StocksClient::new(channel),
            slots: StreamSlots::new(self.config.http2.peer_max_concurrent_streams),
            index,
        })
    }

    /// New clients; for round robin, connections to addresses still in the
    /// answer are kept (as gRPC keeps its subchannels).
    async fn make_clients(
        &self,
        mut previous: BTreeMap<SocketAddr, Conn>,
    ) -> Result<Cached, ClientError> {
        let created = Instant::now();
        let single = |client: Conn| single_set(self.set(vec![client]), created);
        match &self.config.upstream {
            Upstream::Direct { service, port } => {
                let first = self.resolve(service, *port).await?[0];
                Ok(single(self.channel(service, *port, first, 0)?))
            }
            Upstream::Sidecar {
                service,
                port,
                proxy,
            } => Ok(single(self.channel(service, *port, *proxy, 0)?)),
            Upstream::PinUntilError {
                service,
                port,
                seed,
            } => {
                let mut answers = self.resolve(service, *port).await?;
                answers.sort();
                answers.dedup();
                // A fresh shuffle per resolution, so clients across a fleet
                // (and successive reshuffles) walk the list in different
                // orders. Channels are lazy: only the pinned one connects.
                let round = self.resolutions.fetch_add(1, Ordering::Relaxed) as u64;
                let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(round));
                answers.shuffle(&mut rng);
                let clients = answers
                    .into_iter()
                    .enumerate()
                    .map(|(i, addr)| self.channel(service, *port, addr, i))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(single_set(self.set(clients), created))
            }
            Upstream::ClientRoundRobin { service, port, .. } => {
                let answers = self.resolve(service, *port).await?;
                let mut by_addr = BTreeMap::new();
                let mut clients = Vec::with_capacity(answers.len());
                // Keep the resolver's order (deduplicated), as grpc does.
                for addr in answers {
                    if by_addr.contains_key(&addr) {
                        continue;
                    }
                    let client = match previous.remove(&addr) {
                        Some(client) => Conn {
                            index: clients.len(),
                            ..client
                        },
                        None => self.channel(service, *port, addr, clients.len())?,
                    };
                    clients.push(client.clone());
                    by_addr.insert(addr, client);
                }
                Ok(Cached {
                    set: self.set(clients),
                    by_addr,
                    created,
                })
            }
        }
    }
}
