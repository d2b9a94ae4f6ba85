//! A real-time sleep precise to tens of microseconds on average.
//!
//! One driver thread per timer (one per process for [`PreciseTimer::shared`])
//! owns a heap of deadlines and serves the earliest only: it blocks on a
//! condition variable until [`SPIN`] before it (the kernel's high-resolution
//! timer, which on this machine wakes 50–150 µs late), then spins on the
//! clock to the deadline and completes the sleeper's oneshot. Spinning is
//! bounded to that one thread, whatever the number of sleepers: eight
//! worker slots on each of several replicas share it, and a 2-core machine
//! keeps a core for everything else.
//!
//! Completing a oneshot wakes a tokio task on another thread, which takes
//! tens of microseconds more. The timer learns that latency: every sleeper
//! reports how late it resumed, and the driver fires that much early (the
//! "lead", an integral controller on the mean lateness, clamped to
//! [`MAX_LEAD`]), so that on average a sleep lasts what was asked.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long before a deadline the driver stops blocking and spins: more
/// than the kernel timer's usual lateness here (50–150 µs: 50 µs of timer
/// slack plus the wake-up), so that the spin, not the kernel, decides.
const SPIN: Duration = Duration::from_micros(200);
/// Longest spin between looks at the heap (for an earlier deadline).
const SPIN_SLICE: Duration = Duration::from_micros(20);
/// Most the driver fires early.
const MAX_LEAD: Duration = Duration::from_micros(500);
/// One lateness sample moves the lead by 1/2^GAIN_SHIFT of itself.
const GAIN_SHIFT: u32 = 5;
/// Samples are clamped to ± this (ns): the lead learns the usual wake-up
/// latency (50–150 µs here), not the preemptions of a loaded machine
/// (milliseconds, now and then), which firing everyone early would only
/// trade for sleeps that are too short.
const MAX_SAMPLE: i64 = 250_000;
/// Cancelled sleeps are purged from the heap when it reaches this size (and
/// then twice its live size).
const PURGE_MIN: usize = 1024;

/// A precise sleep (see [`ServiceTimer`](super::ServiceTimer)): one driver
/// thread serves the earliest deadline, blocking until 200 µs before it and
/// spinning the rest, and fires early by the wake-up latency it has learnt
/// from its sleepers, so sleeps last what was asked on average. Cheap to
/// clone: clones share the driver thread, which ends when the last clone is
/// dropped.
#[derive(Clone)]
pub struct PreciseTimer {
    owner: Arc<Owner>,
}

/// What the timer did so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerStats {
    /// Sleeps completed by the driver.
    pub fired: u64,
    /// Time the driver spent spinning (CPU time, at most wall time).
    pub spun: Duration,
    /// How early the driver fires now (the learnt wake-up latency).
    pub lead: Duration,
}

struct Owner {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    started: Once,
    lead_ns: AtomicI64,
    fired: AtomicU64,
    spun_ns: AtomicU64,
}

struct State {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    closed: bool,
    purge_at: usize,
}

struct Entry {
    at: Instant,
    seq: u64,
    done: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl std::fmt::Debug for PreciseTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreciseTimer")
            .field("stats", &self.stats())
            .finish()
    }
}

impl PreciseTimer {
    /// A timer with a driver thread of its own (started on the first sleep).
    pub fn new() -> Self {
        let state = State {
            heap: BinaryHeap::new(),
            seq: 0,
            closed: false,
            purge_at: PURGE_MIN,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            wake: Condvar::new(),
            started: Once::new(),
            lead_ns: AtomicI64::new(0),
            fired: AtomicU64::new(0),
            spun_ns: AtomicU64::new(0),
        });
        Self {
            owner: Arc::new(Owner { shared }),
        }
    }

    /// The process-wide timer: every replica of a process shares its one
    /// driver thread.
    pub fn shared() -> Self {
        static SHARED: std::sync::OnceLock<PreciseTimer> = std::sync::OnceLock::new();
        SHARED.get_or_init(Self::new).clone()
    }

    /// Sleeps for `duration` of real time.
    pub async fn sleep(&self, duration: Duration) {
        if duration.is_zero() {
            return;
        }
        let shared = &self.owner.shared;
        let Some(at) = Instant::now().checked_add(duration) else {
            return std::future::pending().await;
        };
        let done = shared.push(at);
        if done.await.is_err() {
            // No driver (it could not start): tokio's timer will do.
            return tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        }
        let now = Instant::now();
        let late = match now.checked_duration_since(at) {
            Some(late) => nanos(late),
            None => -nanos(at - now),
        };
        shared.learn(late);
    }

    /// Deadlines in the heap (cancelled ones not yet purged included).
    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        lock(&self.owner.shared.state).heap.len()
    }

    /// What the timer did so far.
    pub fn stats(&self) -> TimerStats {
        let shared = &self.owner.shared;
        TimerStats {
            fired: shared.fired.load(Relaxed),
            spun: Duration::from_nanos(shared.spun_ns.load(Relaxed)),
            lead: shared.lead(),
        }
    }
}

impl Default for PreciseTimer {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        lock(&self.shared.state).closed = true;
        self.shared.wake.notify_one();
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn lead(&self) -> Duration {
        Duration::from_nanos(self.lead_ns.load(Relaxed).max(0) as u64)
    }

    /// Moves the lead by a fraction of how late a sleeper resumed.
    fn learn(&self, late_ns: i64) {
        let step = late_ns.clamp(-MAX_SAMPLE, MAX_SAMPLE) >> GAIN_SHIFT;
        let max = nanos(MAX_LEAD);
        let _ = self
            .lead_ns
            .fetch_update(Relaxed, Relaxed, |lead| Some((lead + step).clamp(0, max)));
    }

    /// Adds a deadline; its oneshot completes at it (or fails if the driver
    /// is gone).
    fn push(self: &Arc<Self>, at: Instant) -> oneshot::Receiver<()> {
        self.start();
        let (done, fired) = oneshot::channel();
        let mut state = lock(&self.state);
        if state.closed {
            return fired; // `done` dropped: the sleeper falls back
        }
        let earliest = state.heap.peek().map(|Reverse(e)| e.at);
        state.seq += 1;
        let seq = state.seq;
        state.heap.push(Reverse(Entry { at, seq, done }));
        if state.heap.len() >= state.purge_at {
            state.heap.retain(|Reverse(e)| !e.done.is_closed());
            state.purge_at = (2 * state.heap.len()).max(PURGE_MIN);
        }
        drop(state);
        if earliest.is_none_or(|earliest| at < earliest) {
            self.wake.notify_one();
        }
        fired
    }

    fn start(self: &Arc<Self>) {
        self.started.call_once(|| {
            let shared = Arc::clone(self);
            let spawned = std::thread::Builder::new()
                .name("precise-timer".into())
                .spawn(move || shared.drive());
            if spawned.is_err() {
                lock(&self.state).closed = true;
            }
        });
    }

    /// The driver thread: fires due deadlines, blocks until [`SPIN`] before
    /// the next one, spins the rest.
    fn drive(&self) {
        let mut due = Vec::new();
        let mut state = lock(&self.state);
        loop {
            if state.closed {
                return;
            }
            let now = Instant::now();
            let lead = self.lead();
            while let Some(Reverse(next)) = state.heap.peek() {
                if !next.done.is_closed() && next.at.saturating_duration_since(now) > lead {
                    break;
                }
                if let Some(Reverse(entry)) = state.heap.pop() {
                    due.push(entry.done);
                }
            }
            if !due.is_empty() {
                drop(state);
                // Counted first: a sleeper may read the stats once woken.
                let live = due.iter().filter(|done| !done.is_closed()).count();
                self.fired.fetch_add(live as u64, Relaxed);
                for done in due.drain(..) {
                    let _ = done.send(());
                }
                state = lock(&self.state);
                continue;
            }
            let Some(at) = state.heap.peek().map(|Reverse(e)| e.at) else {
                state = self
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            let left = at.saturating_duration_since(now).saturating_sub(lead);
            if left > SPIN {
                state = match self.wake.wait_timeout(state, left - SPIN) {
                    Ok((state, _)) => state,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            } else {
                drop(state);
                self.spin(now, left.min(SPIN_SLICE));
                state = lock(&self.state);
            }
        }
    }

    fn spin(&self, from: Instant, span: Duration) {
        let until = from + span;
        let mut now = Instant::now();
        while now < until {
            std::hint::spin_loop();
            now = Instant::now();
        }
        self.spun_ns.fetch_add(nanos(now - from) as u64, Relaxed);
    }
}
