//! What a replica's worker slots did, and what that work was worth.
//!
//! A retry storm's cost is paid by the servers: every attempt a proxy
//! retries or gives up on may have held a worker slot for its whole service
//! time. So each replica keeps its own ledger ([`ReplicaTimes`]), written
//! once per request when the request leaves the replica ([`Ledger`]'s
//! drop), whether it was answered, refused or abandoned by its caller:
//!
//! - **busy**: worker-slot time, exactly the sum of every slot hold;
//! - **wasted**: slot time spent on requests whose answer nobody used: the
//!   caller had gone (a cancelled call, a per-try timeout, a hedge that lost)
//!   or the answer was an error (what a client retries or fails with);
//! - the replica's own count of answers (OK or error) and abandoned calls,
//!   to hold against what the clients saw.

use crate::orca::LoadWindow;
use loadgen::LatencyRecorder;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Where a replica's requests spent their time and how they ended. Shared
/// by every incarnation of a pod.
#[derive(Debug, Clone, Default)]
pub struct ReplicaTimes {
    /// Time each request waited for its worker slot.
    pub queue_wait: LatencyRecorder,
    /// Time each request held its worker slot.
    pub service: LatencyRecorder,
    /// Total worker-slot time (the exact sum behind `service`).
    pub busy: Duration,
    /// Worker-slot time spent on requests answered with an error or whose
    /// caller had gone.
    pub wasted: Duration,
    /// Requests answered OK.
    pub answered_ok: u64,
    /// Requests answered with an error status (refused ones included).
    pub answered_error: u64,
    /// Requests whose caller went away before the answer.
    pub abandoned: u64,
    /// Requests in the replica now (queued or working), not yet in the
    /// counts above.
    pub in_progress: u64,
}

impl ReplicaTimes {
    /// Counts an error answered without taking a worker slot.
    pub(crate) fn refused(times: &Mutex<ReplicaTimes>) {
        lock(times).answered_error += 1;
    }
}

fn lock(times: &Mutex<ReplicaTimes>) -> std::sync::MutexGuard<'_, ReplicaTimes> {
    times.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether a request's caller is still there. The handler holds a
/// [`Caller`] guard; when honoring cancellation is off, the work goes on in
/// a task of its own after the handler is dropped, and reads this flag to
/// learn its answer went nowhere.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallerGone(Arc<AtomicBool>);

impl CallerGone {
    /// A guard that marks the caller gone when dropped before
    /// [`Caller::answered`].
    pub(crate) fn guard(&self) -> Caller {
        Caller {
            gone: self.clone(),
            armed: true,
        }
    }

    fn is_gone(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// See [`CallerGone::guard`].
pub(crate) struct Caller {
    gone: CallerGone,
    armed: bool,
}

impl Caller {
    /// The answer reached the handler: the caller did not leave first.
    pub(crate) fn answered(mut self) {
        self.armed = false;
    }
}

impl Drop for Caller {
    fn drop(&mut self) {
        if self.armed {
            self.gone.0.store(true, Ordering::Relaxed);
        }
    }
}

/// One request's entry in the ledger, written when it is dropped.
pub(crate) struct Ledger<'a> {
    times: &'a Mutex<ReplicaTimes>,
    load: Option<&'a Mutex<LoadWindow>>,
    caller: CallerGone,
    arrived: Instant,
    acquired: Option<Instant>,
    ok: Option<bool>,
}

impl<'a> Ledger<'a> {
    /// A request arrives (before waiting for a slot).
    pub(crate) fn arrive(
        times: &'a Mutex<ReplicaTimes>,
        caller: CallerGone,
        load: Option<&'a Mutex<LoadWindow>>,
    ) -> Self {
        lock(times).in_progress += 1;
        Self {
            times,
            load,
            caller,
            arrived: Instant::now(),
            acquired: None,
            ok: None,
        }
    }

    /// It got its worker slot.
    pub(crate) fn acquired(&mut self) {
        self.acquired = Some(Instant::now());
    }

    /// It is answered, OK or not.
    pub(crate) fn answer(&mut self, ok: bool) {
        self.ok = Some(ok);
    }
}

impl Drop for Ledger<'_> {
    fn drop(&mut self) {
        let mut t = lock(self.times);
        t.in_progress -= 1;
        let held = match self.acquired {
            Some(acquired) => {
                let held = acquired.elapsed();
                t.queue_wait.record(acquired - self.arrived);
                t.service.record(held);
                t.busy += held;
                held
            }
            None => Duration::ZERO,
        };
        // `None`: the caller had gone (or the handler was cancelled).
        let answer = self.ok.filter(|_| !self.caller.is_gone());
        match answer {
            None => t.abandoned += 1,
            Some(true) => t.answered_ok += 1,
            Some(false) => t.answered_error += 1,
        }
        if answer != Some(true) {
            t.wasted += held;
        }
        drop(t);
        // The load report: every hold's time, and the answers sent.
        if let Some(load) = self.load {
            load.lock()
                .unwrap_or_else(|p| p.into_inner())
                .record(answer, held);
        }
    }
}
