//! How a replica waits out a service time.
//!
//! In the simulator a service time is a `tokio::time::sleep`: virtual time,
//! exact to the tick, and the reports' bytes depend on it staying exactly
//! that. On a real clock, tokio's timer has a 1 ms wheel and fires on the
//! first tick at or after the deadline, so a 1–5 ms service time runs about
//! half a millisecond (plus wake-up latency) long: 7–20 % too long for the
//! service times meshsim uses. Real mode uses a [`PreciseTimer`] instead.

use std::time::Duration;

// Real time by design (`std::time::Instant`): only real mode uses this
// timer; the simulator keeps tokio's virtual clock (`ServiceTimer::Tokio`).
#[allow(clippy::disallowed_types)]
mod precise;
pub use precise::{PreciseTimer, TimerStats};

/// The timer a replica's worker slots sleep on.
#[derive(Debug, Clone, Default)]
pub enum ServiceTimer {
    /// `tokio::time::sleep`: virtual time under turmoil. The simulator's,
    /// and the default.
    #[default]
    Tokio,
    /// Real time, precise to tens of microseconds on average (real mode).
    Precise(PreciseTimer),
}

impl ServiceTimer {
    /// The process-wide precise timer ([`PreciseTimer::shared`]).
    pub fn precise() -> Self {
        Self::Precise(PreciseTimer::shared())
    }

    /// Whether this is the precise timer.
    pub fn is_precise(&self) -> bool {
        matches!(self, Self::Precise(_))
    }

    /// Sleeps for `duration`.
    pub async fn sleep(&self, duration: Duration) {
        match self {
            Self::Tokio => tokio::time::sleep(duration).await,
            Self::Precise(timer) => timer.sleep(duration).await,
        }
    }
}

/// The timer's name as flags and logs spell it.
impl std::fmt::Display for ServiceTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tokio => "tokio",
            Self::Precise(_) => "precise",
        })
    }
}

/// Parses `tokio` or `precise` (the process-wide precise timer).
impl std::str::FromStr for ServiceTimer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tokio" => Ok(Self::Tokio),
            "precise" => Ok(Self::precise()),
            _ => Err(format!("expected tokio or precise, got {s:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn timers_parse_and_print_by_name() {
        for name in ["tokio", "precise"] {
            let timer: ServiceTimer = name.parse().expect("a timer");
            assert_eq!(timer.to_string(), name);
            assert_eq!(timer.is_precise(), name == "precise");
        }
        assert!("wheel".parse::<ServiceTimer>().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn the_tokio_timer_is_tokio_sleep() {
        for us in [0, 1, 999, 2_000, 2_345, 7_500] {
            let d = Duration::from_micros(us);
            let start = tokio::time::Instant::now();
            ServiceTimer::Tokio.sleep(d).await;
            let ours = start.elapsed();
            let start = tokio::time::Instant::now();
            tokio::time::sleep(d).await;
            assert_eq!(ours, start.elapsed(), "{d:?}");
        }
    }

    // Real time from here on: only bounds no loaded machine breaks.
    #[allow(clippy::disallowed_types)]
    #[tokio::test]
    async fn an_earlier_deadline_is_served_before_a_later_one() {
        let timer = PreciseTimer::new();
        let long = tokio::spawn({
            let timer = timer.clone();
            async move { timer.sleep(Duration::from_secs(10)).await }
        });
        tokio::task::yield_now().await;
        let start = std::time::Instant::now();
        timer.sleep(Duration::from_millis(2)).await;
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(1), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        timer.sleep(Duration::ZERO).await;
        long.abort();
        assert_eq!(timer.stats().fired, 1);
    }

    #[tokio::test]
    async fn cancelled_sleeps_do_not_pile_up() {
        let timer = PreciseTimer::new();
        for _ in 0..3_000 {
            // Polled once (registered), then dropped (cancelled).
            assert!(
                timer
                    .sleep(Duration::from_secs(60))
                    .now_or_never()
                    .is_none()
            );
        }
        assert!(timer.queued() <= 1_024, "{}", timer.queued());
        timer.sleep(Duration::from_micros(100)).await;
        assert_eq!(timer.stats().fired, 1);
    }
}
