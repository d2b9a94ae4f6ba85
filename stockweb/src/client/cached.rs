//! [`StockClient`]: the cached client, which resolves the service,
//! connects, and keeps its connections until the upstream's rules say to
//! resolve again (the handler lifetime, a broken connection, a reshuffle).

use super::{ClientConfig, ClientError, ClientSet, Conn, PIN_RESHUFFLE_EVERY, Upstream};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use stockdata::pb::stocks_client::StocksClient;
use stockdata::transport::{Connect, Resolve, StreamSlots, connector_to};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tonic::transport::Endpoint;

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
