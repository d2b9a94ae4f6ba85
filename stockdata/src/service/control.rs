//! A replica's live controls: what a chaos tool would do to the process.

use crate::faults::Faults;
use crate::work::ReplicaTimes;
use std::sync::{Arc, Mutex};

/// Live fault controls of a replica (what a chaos tool would do to the
/// process): a service-time multiplier and a pause (SIGSTOP-like stall);
/// and what its worker slots did ([`ReplicaTimes`]). Shared by every
/// incarnation of a pod, so a restarted pod keeps them.
#[derive(Debug, Clone)]
pub struct ReplicaControl {
    slowdown: Arc<Mutex<f64>>,
    paused: Arc<tokio::sync::watch::Sender<bool>>,
    pub(super) times: Arc<Mutex<ReplicaTimes>>,
    faults: Arc<Mutex<Faults>>,
}

impl Default for ReplicaControl {
    fn default() -> Self {
        Self {
            slowdown: Arc::new(Mutex::new(1.0)),
            paused: Arc::new(tokio::sync::watch::Sender::new(false)),
            times: Arc::default(),
            faults: Arc::default(),
        }
    }
}

impl ReplicaControl {
    /// Whether requests are in the replica (queued or working).
    pub fn is_busy(&self) -> bool {
        self.times
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .in_progress
            > 0
    }

    /// A copy of what the replica's worker slots did so far.
    pub fn times(&self) -> ReplicaTimes {
        self.times.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The error faults now active.
    pub fn faults(&self) -> Faults {
        *self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the active error faults.
    pub fn update_faults(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.faults.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Sets the service-time multiplier (1.0 = normal).
    pub fn set_slowdown(&self, factor: f64) {
        *self.slowdown.lock().unwrap_or_else(|p| p.into_inner()) = factor;
    }

    /// The service-time multiplier.
    pub fn slowdown(&self) -> f64 {
        *self.slowdown.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pauses or resumes request processing. While paused, requests that
    /// hold a worker slot stop before doing their work.
    pub fn set_paused(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    pub(super) async fn wait_unpaused(&self) {
        let mut rx = self.paused.subscribe();
        // An error means the sender is gone: nothing can pause us any more.
        let _ = rx.wait_for(|paused| !*paused).await;
    }
}
