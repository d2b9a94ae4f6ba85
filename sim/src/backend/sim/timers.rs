//! The tokio timers set in one simulation and when they are due: what lets
//! the driver see that nothing can happen any more.
//!
//! In a turmoil simulation only three things wake a task: a timer, a
//! segment arriving, and the driver (a timeline action). turmoil shows the
//! segments in flight; tokio shows no timers, but built with `tokio_unstable`
//! and its `tracing` feature it opens a span for every `Sleep` (every
//! `sleep`, `timeout`, `Interval`, hyper's timer, turmoil's own loopback
//! delivery), closes it when the `Sleep` is dropped, and in that span emits
//! an event with the time left whenever the `Sleep` is armed or reset
//! (`tokio/src/time/sleep.rs`). [`Timers`] is a `tracing` subscriber that
//! listens to those alone and keeps each live `Sleep`'s due time.
//!
//! A due time is a lower bound: the event gives whole milliseconds left
//! from the host's clock, which is at or after the step's start. A `Sleep`
//! not armed yet, or fired and still held, counts as due now: the answer
//! can only err towards "something may still happen".
//!
//! Every other `tracing` callsite is disabled for the simulation's thread,
//! so turmoil's and tokio's other spans and events cost what they cost
//! without a subscriber.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// The module whose span and events describe a `Sleep`.
const SLEEP_MODULE: &str = "tokio::time::sleep";

/// The span tokio opens for each `Sleep` (`Sleep::new_timeout`, the one
/// constructor every timer goes through).
fn is_sleep_span(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.name() == "runtime.resource" && meta.target() == SLEEP_MODULE
}

/// The event a `Sleep` emits when it is armed or reset: `duration` is the
/// time left in milliseconds.
fn is_sleep_armed(meta: &Metadata<'_>) -> bool {
    meta.is_event()
        && meta.target() == "runtime::resource::state_update"
        && meta.module_path() == Some(SLEEP_MODULE)
}

/// The timers set in the simulation whose thread this is the default
/// subscriber of, against a horizon (the run's end). Clones share the
/// state.
#[derive(Debug, Clone)]
pub struct Timers {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// The last span id handed out.
    last: u64,
    /// Live `Sleep`s by span id.
    live: BTreeMap<u64, Sleep>,
    /// Spans entered and not yet exited, innermost last.
    entered: Vec<u64>,
    /// Simulated time at the start of the current step, in milliseconds.
    now_ms: u64,
    /// The horizon, in simulated milliseconds.
    horizon_ms: u64,
    /// Live `Sleep`s that may fire by the horizon (unarmed, or due by it):
    /// kept as they change, so asking costs nothing per step.
    early: usize,
}

impl State {
    fn is_early(&self, due_ms: Option<u64>) -> bool {
        due_ms.is_none_or(|due| due <= self.horizon_ms)
    }
}

#[derive(Debug)]
struct Sleep {
    /// Handles to the span (a `Span` clone is one more).
    handles: u32,
    /// When it is due at the earliest, in simulated milliseconds; `None`
    /// until it is armed.
    due_ms: Option<u64>,
}

impl Timers {
    /// Timers against the horizon `end`.
    pub fn until(end: Duration) -> Self {
        Timers {
            state: Arc::new(Mutex::new(State {
                horizon_ms: millis(end),
                ..State::default()
            })),
        }
    }

    /// Moves the horizon to `end` (the load started later than the clock's
    /// zero), recounting the live timers against it.
    pub fn set_horizon(&self, end: Duration) {
        let mut state = crate::sync::lock(&self.state);
        state.horizon_ms = millis(end);
        let early = state
            .live
            .values()
            .filter(|sleep| state.is_early(sleep.due_ms))
            .count();
        state.early = early;
    }

    /// Sets the simulated time the next step starts at.
    pub fn at(&self, now: Duration) {
        crate::sync::lock(&self.state).now_ms = millis(now);
    }

    /// True when no timer can fire by the horizon: every live `Sleep` is
    /// armed and due after it.
    pub fn none_due(&self) -> bool {
        crate::sync::lock(&self.state).early == 0
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Reads an armed `Sleep` event's `duration` (milliseconds left).
struct Left(Option<u64>);

impl Visit for Left {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "duration" {
            self.0 = Some(value);
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl Subscriber for Timers {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_sleep_span(meta) || is_sleep_armed(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        is_sleep_span(meta) || is_sleep_armed(meta)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        let mut state = crate::sync::lock(&self.state);
        state.last += 1;
        let id = state.last;
        state.early += 1;
        state.live.insert(
            id,
            Sleep {
                handles: 1,
                due_ms: None,
            },
        );
        Id::from_u64(id)
    }

    fn clone_span(&self, id: &Id) -> Id {
        if let Some(s) = crate::sync::lock(&self.state).live.get_mut(&id.into_u64()) {
            s.handles += 1;
        }
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        let mut state = crate::sync::lock(&self.state);
        let key = id.into_u64();
        match state.live.get_mut(&key) {
            Some(s) if s.handles > 1 => {
                s.handles -= 1;
                false
            }
            Some(_) => {
                if let Some(s) = state.live.remove(&key)
                    && state.is_early(s.due_ms)
                {
                    state.early -= 1;
                }
                true
            }
            None => false,
        }
    }

    fn event(&self, event: &Event<'_>) {
        let mut left = Left(None);
        event.record(&mut left);
        let mut state = crate::sync::lock(&self.state);
        // Armed inside its own span (`Sleep` enters it to arm itself).
        let (Some(&id), Some(left)) = (state.entered.last(), left.0) else {
            return;
        };
        let due = Some(state.now_ms.saturating_add(left));
        let Some(was) = state.live.get(&id).map(|s| s.due_ms) else {
            return;
        };
        match (state.is_early(was), state.is_early(due)) {
            (true, false) => state.early -= 1,
            (false, true) => state.early += 1,
            _ => {}
        }
        if let Some(s) = state.live.get_mut(&id) {
            s.due_ms = due;
        }
    }

    fn enter(&self, id: &Id) {
        crate::sync::lock(&self.state).entered.push(id.into_u64());
    }

    fn exit(&self, id: &Id) {
        let mut state = crate::sync::lock(&self.state);
        if state.entered.last() == Some(&id.into_u64()) {
            state.entered.pop();
        }
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_whether_a_live_sleep_may_fire_by_the_horizon() {
        let secs = Duration::from_secs;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        let timers = Timers::until(secs(2));
        tracing::subscriber::with_default(timers.clone(), || {
            rt.block_on(async {
                assert!(timers.none_due());
                let a = tokio::time::sleep(secs(1));
                // Not armed until polled: it could be due any time.
                assert!(!timers.none_due());
                a.await;
                assert!(timers.none_due(), "fired and dropped");
                // Armed at 1 s for 2 s, but the step began at 0: due by
                // 2 s at the earliest, so it may fire by the horizon.
                let b = tokio::spawn(tokio::time::timeout(secs(2), std::future::pending::<()>()));
                tokio::task::yield_now().await;
                assert!(!timers.none_due());
                b.abort();
                let _ = b.await;
                assert!(timers.none_due());
                // Armed 3 s ahead: after the horizon, until reset.
                timers.at(secs(1));
                let mut c = Box::pin(tokio::time::sleep(secs(3)));
                tokio::select! {
                    biased;
                    () = &mut c => unreachable!(),
                    () = tokio::task::yield_now() => {}
                }
                assert!(timers.none_due());
                c.as_mut().reset(tokio::time::Instant::now() + secs(1));
                assert!(!timers.none_due());
            });
        });
        assert!(timers.none_due(), "all dropped");
    }

    #[test]
    fn an_interval_counts_while_it_lives() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        let timers = Timers::until(Duration::from_secs(60));
        tracing::subscriber::with_default(timers.clone(), || {
            rt.block_on(async {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                tick.tick().await;
                tick.tick().await;
                assert!(!timers.none_due());
            });
        });
        assert!(timers.none_due());
    }
}
