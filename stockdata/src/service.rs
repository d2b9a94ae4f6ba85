//! One StockData replica: the `stockdata.v1.Stocks` implementation.
//!
//! A replica owns a fixed number of worker slots (its concurrency limit). A
//! request waits FIFO for a slot, then holds it for a service time drawn from
//! the replica's seeded RNG, so a replica that receives more than its share
//! of traffic really queues: the very effect a balancer exists to avoid.

use crate::data;
use crate::faults::Verdict;
use crate::orca::LoadWindow;
use crate::pb::stocks_server::{Stocks, StocksServer};
use crate::pb::{GetRequest, GetResponse};
use crate::service_time::ServiceTime;
use crate::timer::ServiceTimer;
pub use crate::work::ReplicaTimes;
use crate::work::{CallerGone, Ledger};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::{Request, Response, Status};

mod config;
mod control;
pub use config::{ReplicaConfig, ReplicaError};
pub use control::ReplicaControl;

/// The response header (and error trailer) naming the serving replica.
pub const SERVER_ID_HEADER: &str = "server-id";

/// The request header carrying a request's id (as tracing systems do).
/// When present, the request's service demand is drawn from an RNG keyed by
/// it, so the same request costs the same work on any replica and in every
/// run: the "common random numbers" that make strategy comparisons fair.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Mixed into a replica's seed for its fault RNG (ASCII "faults").
const FAULT_SEED_SALT: u64 = 0x6661_756c_7473;

/// A StockData replica; cheap to clone (state is shared).
#[derive(Debug, Clone)]
pub struct StockDataService {
    inner: Arc<Inner>,
    /// What worker slots sleep on; each clone has its own choice.
    timer: ServiceTimer,
}

#[derive(Debug)]
struct Inner {
    server_id: MetadataValue<Ascii>,
    service_time: ServiceTime,
    slowdown: f64,
    seed: u64,
    control: ReplicaControl,
    slots: Semaphore,
    queue_bound: Option<usize>,
    honor_cancellation: bool,
    waiting: std::sync::atomic::AtomicUsize,
    /// Requests in the replica (queued or working), for `overload`.
    in_flight: std::sync::atomic::AtomicUsize,
    rng: Mutex<ChaCha8Rng>,
    /// Answers by second, when the replica reports its load.
    load: Option<Arc<Mutex<LoadWindow>>>,
    /// Draws of the error faults, apart from service-time draws so that
    /// turning a fault on does not change anyone's service time.
    fault_rng: Mutex<ChaCha8Rng>,
}

// === impl StockDataService ===

impl StockDataService {
    /// Builds a replica.
    pub fn new(config: ReplicaConfig) -> Result<Self, ReplicaError> {
        Self::with_control(config, ReplicaControl::default())
    }

    /// Builds a replica whose faults `control` drives.
    pub fn with_control(
        config: ReplicaConfig,
        control: ReplicaControl,
    ) -> Result<Self, ReplicaError> {
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
                seed: config.demand_seed,
                control,
                // tokio's semaphore is fair: waiters are served in FIFO order.
                slots: Semaphore::new(config.concurrency),
                queue_bound: config.queue_bound,
                honor_cancellation: config.honor_cancellation,
                waiting: std::sync::atomic::AtomicUsize::new(0),
                in_flight: std::sync::atomic::AtomicUsize::new(0),
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed)),
                load: config
                    .load_reports
                    .then(|| Arc::new(Mutex::new(LoadWindow::new(config.concurrency)))),
                fault_rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed ^ FAULT_SEED_SALT)),
            }),
            timer: ServiceTimer::Tokio,
        })
    }

    /// This replica with its service times slept on `timer` (the default,
    /// [`ServiceTimer::Tokio`], is the simulator's; real mode wants
    /// [`ServiceTimer::precise`]). Set it before serving: clones made
    /// earlier keep the timer they had.
    pub fn with_timer(mut self, timer: ServiceTimer) -> Self {
        self.timer = timer;
        self
    }

    /// The timer service times are slept on.
    pub fn timer(&self) -> &ServiceTimer {
        &self.timer
    }

    /// The tonic server for this replica.
    pub fn into_server(self) -> StocksServer<Self> {
        StocksServer::new(self)
    }

    /// The replica's load window, if it reports its load.
    pub fn load_window(&self) -> Option<Arc<Mutex<LoadWindow>>> {
        self.inner.load.clone()
    }

    /// The replica's fault controls.
    pub fn control(&self) -> &ReplicaControl {
        &self.inner.control
    }

    fn draw_service_time(&self, request_id: Option<&str>) -> std::time::Duration {
        let demand = match request_id {
            // Keyed by the request: the same request, the same demand.
            Some(id) => {
                let mut rng = ChaCha8Rng::seed_from_u64(fnv1a(self.inner.seed, id.as_bytes()));
                self.inner.service_time.sample(&mut rng)
            }
            None => {
                let mut rng = match self.inner.rng.lock() {
                    Ok(rng) => rng,
                    // A panic while holding the lock cannot leave a ChaCha
                    // state half-written in a way that matters: keep serving.
                    Err(poisoned) => poisoned.into_inner(),
                };
                self.inner.service_time.sample(&mut *rng)
            }
        };
        // Saturating: a huge factor means "never finishes", not a panic.
        crate::service_time::scale(demand, self.inner.slowdown * self.inner.control.slowdown())
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
        let request_id = request
            .metadata()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let id = request.into_inner().id;
        if id < 1 {
            // Validation is cheap and needs no worker.
            return Err(self.refuse(Status::invalid_argument(format!(
                "id must be at least 1, got {id}"
            ))));
        }
        use std::sync::atomic::Ordering;
        if let Some(bound) = self.inner.queue_bound {
            // Shed load: a request that would wait behind `bound` others is
            // refused before it costs anything.
            if self.inner.slots.available_permits() == 0
                && self.inner.waiting.load(Ordering::Relaxed) >= bound
            {
                return Err(self.refuse(Status::unavailable("overloaded: queue full")));
            }
        }
        let fail_after = match self.verdict() {
            Verdict::Serve => None,
            Verdict::FailNow(code) => {
                return Err(self.refuse(Status::new(code, "injected fault")));
            }
            Verdict::FailAfterService(code) => Some(code),
        };
        // Counted in now, not when a detached task first runs, so that a
        // burst cannot slip past `overload` before any of it is counted.
        let inside = InFlight::enter(self);
        let caller = CallerGone::default();
        let guard = caller.guard();
        let result = if self.inner.honor_cancellation {
            self.process(id, request_id, fail_after, caller, inside)
                .await
        } else {
            // Detached: dropping this handler (a cancelled call) does not
            // stop the work.
            let this = self.clone();
            tokio::spawn(async move {
                this.process(id, request_id, fail_after, caller, inside)
                    .await
            })
            .await
            .unwrap_or_else(|_| Err(Status::internal("worker task failed")))
        };
        guard.answered();
        result
    }
}

impl StockDataService {
    /// What the active error faults decide for a request arriving now.
    fn verdict(&self) -> Verdict {
        let faults = self.inner.control.faults();
        let in_flight = self
            .inner
            .in_flight
            .load(std::sync::atomic::Ordering::Relaxed);
        faults.decide(in_flight, || {
            let mut rng = self
                .inner
                .fault_rng
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            rng.random::<f64>()
        })
    }

    /// Answers `status` without taking a worker slot.
    fn refuse(&self, status: Status) -> Status {
        ReplicaTimes::refused(&self.inner.control.times);
        if let Some(load) = &self.inner.load {
            load.lock()
                .unwrap_or_else(|p| p.into_inner())
                .record(Some(false), std::time::Duration::ZERO);
        }
        self.tag_status(status)
    }

    /// Waits for a worker slot, then does the request's work (and answers
    /// `fail_after`, if set, once it is done).
    async fn process(
        &self,
        id: i32,
        request_id: Option<String>,
        fail_after: Option<tonic::Code>,
        caller: CallerGone,
        _inside: InFlight,
    ) -> Result<Response<GetResponse>, Status> {
        // Dropped last: the slot is released before the ledger reads the
        // time it was held.
        let mut ledger = Ledger::arrive(
            &self.inner.control.times,
            caller,
            self.inner.load.as_deref(),
        );
        let slot = {
            let _waiting = Waiting::enter(&self.inner.waiting);
            self.inner.slots.acquire().await
        };
        let _slot = match slot {
            Ok(slot) => slot,
            Err(_) => {
                ledger.answer(false);
                return Err(self.tag_status(Status::unavailable("replica shutting down")));
            }
        };
        ledger.acquired();
        self.inner.control.wait_unpaused().await;
        self.timer
            .sleep(self.draw_service_time(request_id.as_deref()))
            .await;
        let result = match (fail_after, data::lookup(id)) {
            (Some(code), _) => Err(self.tag_status(Status::new(code, "injected fault"))),
            (None, Some(stock)) => Ok(self.tag(Response::new(GetResponse { stock: Some(stock) }))),
            (None, None) => {
                Err(self.tag_status(Status::not_found(format!("no stock with id {id}"))))
            }
        };
        ledger.answer(result.is_ok());
        result
    }
}

/// Counts a request as in the replica (for `overload`) from its arrival
/// until it leaves, however it leaves.
struct InFlight(StockDataService);

impl InFlight {
    fn enter(replica: &StockDataService) -> Self {
        replica
            .inner
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(replica.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .inner
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Counts a request as waiting for a slot until dropped (also when the
/// wait is cancelled).
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(counter: &'a std::sync::atomic::AtomicUsize) -> Self {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// FNV-1a over `seed` then `bytes`: a stable, platform-independent hash.
fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.to_le_bytes().iter().chain(bytes) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
