//! How a replica is set up.

use crate::service_time::ServiceTime;

/// How a replica is set up.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// The pod name reported in [`SERVER_ID_HEADER`](super::SERVER_ID_HEADER).
    pub pod: String,
    /// Service time per request, once a worker slot is held.
    pub service_time: ServiceTime,
    /// Worker slots; requests beyond this wait FIFO.
    pub concurrency: usize,
    /// Seed of the replica's own RNG (draws for requests without an id).
    pub seed: u64,
    /// Seed of the request-keyed draws; give every replica of a service the
    /// same one, so a request's demand does not depend on who serves it.
    pub demand_seed: u64,
    /// Whether a request the client cancels (HTTP/2 RST_STREAM, a timeout)
    /// stops being worked on. `false` models the many servers that finish
    /// abandoned work anyway: it keeps its worker slot to the end.
    pub honor_cancellation: bool,
    /// Most requests waiting for a worker slot; one more is refused at once
    /// with `UNAVAILABLE` (load shedding). `None`: unbounded.
    pub queue_bound: Option<usize>,
    /// Multiplier on every service time (1.0 = normal; 10.0 models a gray
    /// failure: a replica that still answers, ten times slower). Draws are
    /// the same either way, so a slow replica sees the same random stream.
    pub slowdown: f64,
    /// Attach an ORCA load report to every response ([`crate::orca`]), as
    /// a service does that runs gRPC's ORCA interceptor for clients that
    /// weight by it.
    pub load_reports: bool,
}

impl ReplicaConfig {
    /// A replica with a constant service time and a seed of 0.
    pub fn constant(pod: &str, service_time: std::time::Duration, concurrency: usize) -> Self {
        Self {
            pod: pod.to_string(),
            service_time: ServiceTime::Constant(service_time),
            concurrency,
            seed: 0,
            demand_seed: 0,
            honor_cancellation: true,
            queue_bound: None,
            slowdown: 1.0,
            load_reports: false,
        }
    }
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
