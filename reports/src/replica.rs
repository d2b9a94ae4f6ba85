//! What the StockData replicas measured of themselves: their queue against
//! their service time, and what their work cost ([`ServerWork`]).

use crate::Latency;
use serde::{Deserialize, Serialize};

/// One StockData replica as it measured itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaReport {
    /// Requests that got a worker slot (served, or cancelled while held).
    pub requests: u64,
    /// Time waiting for a worker slot (the replica's queue), ms.
    pub queue_wait_ms: Latency,
    /// Time holding a worker slot (service time, pauses included), ms.
    pub service_ms: Latency,
    /// What the replica paid and what it answered.
    #[serde(default)]
    pub work: ServerWork,
}

/// What one replica's work cost and what came of it: the server's side of
/// a retry storm. The replica counts its own answers; the `client_*` counts
/// are the application's calls that carried this replica's `server-id`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerWork {
    /// Worker-slot time, ms: exactly the sum of every slot hold.
    pub busy_ms: f64,
    /// Of which on requests answered with an error or whose caller had
    /// gone (cancelled, timed out, a hedge that lost), ms.
    pub wasted_ms: f64,
    /// Requests the replica answered OK.
    pub answered_ok: u64,
    /// Requests it answered with an error (refusals included).
    pub answered_error: u64,
    /// Requests whose caller went away before the answer.
    pub abandoned: u64,
    /// The application's calls answered OK by this replica.
    pub client_ok: u64,
    /// The application's calls that failed with this replica's answer.
    pub client_errors: u64,
}

impl ServerWork {
    /// Adds `other`'s counts (saturating: a report's counts are not
    /// bounded) and times.
    pub fn add(&mut self, other: &ServerWork) {
        self.busy_ms += other.busy_ms;
        self.wasted_ms += other.wasted_ms;
        self.answered_ok = self.answered_ok.saturating_add(other.answered_ok);
        self.answered_error = self.answered_error.saturating_add(other.answered_error);
        self.abandoned = self.abandoned.saturating_add(other.abandoned);
        self.client_ok = self.client_ok.saturating_add(other.client_ok);
        self.client_errors = self.client_errors.saturating_add(other.client_errors);
    }

    /// Wasted share of the busy time, percent (0 when idle).
    pub fn wasted_pct(&self) -> f64 {
        if self.busy_ms > 0.0 {
            self.wasted_ms * 100.0 / self.busy_ms
        } else {
            0.0
        }
    }
}

/// The replicas of one or more strategies taken together: requests, and
/// the request-weighted sums of their mean queue wait and service time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReplicaTotals {
    /// Requests that got a worker slot.
    pub requests: u64,
    /// Σ requests × mean queue wait, ms.
    pub queue_ms: f64,
    /// Σ requests × mean service time, ms.
    pub service_ms: f64,
}

impl ReplicaTotals {
    /// Adds `other`'s replicas.
    pub fn add(&mut self, other: ReplicaTotals) {
        self.requests = self.requests.saturating_add(other.requests);
        self.queue_ms += other.queue_ms;
        self.service_ms += other.service_ms;
    }

    /// Mean queue wait per request, ms (`None` without requests).
    pub fn mean_queue_ms(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.queue_ms / self.requests as f64)
    }

    /// Mean service time per request, ms (`None` without requests).
    pub fn mean_service_ms(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.service_ms / self.requests as f64)
    }
}
