//! One StockData replica: the `stockdata.v1.Stocks` implementation.
//!
//! A replica owns a fixed number of worker slots (its concurrency limit). A
//! request waits FIFO for a slot, then holds it for a service time drawn from
//! the replica's seeded RNG, so a replica that receives more than its share
//! of traffic really queues: the very effect a balancer exists to avoid.

use crate::data;
use crate::pb::stocks_server::{Stocks, StocksServer};
use crate::pb::{GetRequest, GetResponse};
use crate::service_time::ServiceTime;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::{Request, Response, Status};

/// The response header (and error trailer) naming the serving replica.
pub const SERVER_ID_HEADER: &str = "server-id";

/// How a replica is set up.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// The pod name reported in [`SERVER_ID_HEADER`].
    pub pod: String,
    /// Service time per request, once a worker slot is held.
    pub service_time: ServiceTime,
    /// Worker slots; requests beyond this wait FIFO.
    pub concurrency: usize,
    /// Seed of the replica's own RNG (service-time draws).
    pub seed: u64,
    /// Multiplier on every service time (1.0 = normal; 10.0 models a gray
    /// failure: a replica that still answers, ten times slower). Draws are
    /// the same either way, so a slow replica sees the same random stream.
    pub slowdown: f64,
}

/// Errors building a replica.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// The pod name cannot be sent as a header value.
    #[error("pod name {0:?} is not a valid header value")]
    InvalidPodName(String),
    /// A replica needs at least one worker slot.
    #[error("concurrency must be at least 1")]
    ZeroConcurrency,
}

/// A StockData replica; cheap to clone (state is shared).
#[derive(Debug, Clone)]
pub struct StockDataService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    server_id: MetadataValue<Ascii>,
    service_time: ServiceTime,
    slowdown: f64,
    slots: Semaphore,
    rng: Mutex<ChaCha8Rng>,
}

// === impl StockDataService ===

impl StockDataService {
    /// Builds a replica.
    pub fn new(config: ReplicaConfig) -> Result<Self, ReplicaError> {
        if config.concurrency == 0 {
            return Err(ReplicaError::ZeroConcurrency);
        }
        let server_id = MetadataValue::try_from(config.pod.as_str())
            .map_err(|_| ReplicaError::InvalidPodName(config.pod.clone()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                server_id,
                service_time: config.service_time,
                slowdown: if config.slowdown.is_finite() && config.slowdown > 0.0 {
                    config.slowdown
                } else {
                    1.0
                },
                // tokio's semaphore is fair: waiters are served in FIFO order.
                slots: Semaphore::new(config.concurrency),
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed)),
            }),
        })
    }

    /// The tonic server for this replica.
    pub fn into_server(self) -> StocksServer<Self> {
        StocksServer::new(self)
    }

    fn draw_service_time(&self) -> std::time::Duration {
        let mut rng = match self.inner.rng.lock() {
            Ok(rng) => rng,
            // A panic while holding the lock cannot leave a ChaCha state
            // half-written in a way that matters here: keep serving.
            Err(poisoned) => poisoned.into_inner(),
        };
        self.inner
            .service_time
            .sample(&mut *rng)
            .mul_f64(self.inner.slowdown)
    }

    fn tag<T>(&self, mut response: Response<T>) -> Response<T> {
        response
            .metadata_mut()
            .insert(SERVER_ID_HEADER, self.inner.server_id.clone());
        response
    }

    fn tag_status(&self, mut status: Status) -> Status {
        status
            .metadata_mut()
            .insert(SERVER_ID_HEADER, self.inner.server_id.clone());
        status
    }
}

#[tonic::async_trait]
impl Stocks for StockDataService {
    async fn get(&self, request: Request<GetRequest>) -> Result<Response<GetResponse>, Status> {
        let id = request.into_inner().id;
        if id < 1 {
            // Validation is cheap and needs no worker.
            return Err(self.tag_status(Status::invalid_argument(format!(
                "id must be at least 1, got {id}"
            ))));
        }
        let _slot = self
            .inner
            .slots
            .acquire()
            .await
            .map_err(|_| self.tag_status(Status::unavailable("replica shutting down")))?;
        tokio::time::sleep(self.draw_service_time()).await;
        match data::lookup(id) {
            Some(stock) => Ok(self.tag(Response::new(GetResponse { stock: Some(stock) }))),
            None => Err(self.tag_status(Status::not_found(format!("no stock with id {id}")))),
        }
    }
}
