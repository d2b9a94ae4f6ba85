//! Retry budget: Linkerd's bound on how much load retries may add.
//!
//! Why: when a service is failing because it is overloaded, unbounded
//! retries multiply the load and keep it down (a retry storm). A budget
//! lets retries add at most `retry_ratio` of the original traffic, plus
//! `min_retries_per_second` so that low-traffic clients can still retry.
//!
//! Exact rule implemented: a retry at time `t` is allowed only if the
//! retries in the window `(t - ttl, t]`, counting this one, are at most
//! `retry_ratio × requests in that window + min_retries_per_second × ttl`.
//! Hence, for any run no longer than `ttl`, total attempts ≤ requests ×
//! (1 + retry_ratio) + min_retries_per_second × ttl (tested).
//!
//! Why not tower's `retry::budget::TpsBudget` (tower 0.5,
//! `src/retry/budget/tps_budget.rs`), which Linkerd's budget descends from:
//! it keeps the window as ten slots of `ttl / 10` that roll over by
//! generation, and converts the ratio into integer deposit and withdrawal
//! amounts, so what it allows at a given instant depends on where that
//! instant falls in a slot (up to 1 s of history at the 10 s default is
//! counted or forgotten at once). That is fine for a proxy; a simulator
//! that reports "retries added X %" and tests the bound above needs the
//! exact sliding window, which costs one deque entry per request and retry
//! in the window (bounded by the window's traffic).
//!
//! Defaults (Linkerd ServiceProfile `retryBudget`,
//! <https://linkerd.io/2.12/tasks/configuring-retries/>, and
//! `linkerd2_proxy_api::destination::RetryBudget`): retry ratio 0.2,
//! 10 retries per second, TTL 10 s.

use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// Linkerd `retryRatio` default.
pub const LINKERD_RETRY_RATIO: f64 = 0.2;
/// Linkerd `minRetriesPerSecond` default.
pub const LINKERD_MIN_RETRIES_PER_SECOND: u32 = 10;
/// Linkerd `ttl` default.
pub const LINKERD_TTL: Duration = Duration::from_secs(10);

/// Retry-budget settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetConfig {
    /// Retries allowed per original request.
    pub retry_ratio: f64,
    /// Retries always allowed per second.
    pub min_retries_per_second: u32,
    /// The window requests and retries are counted over.
    pub ttl: Duration,
}

impl Default for BudgetConfig {
    /// Linkerd's defaults.
    fn default() -> Self {
        Self {
            retry_ratio: LINKERD_RETRY_RATIO,
            min_retries_per_second: LINKERD_MIN_RETRIES_PER_SECOND,
            ttl: LINKERD_TTL,
        }
    }
}

/// A sliding-window retry budget.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    config: BudgetConfig,
    /// (instant, requests, retries), oldest first; one entry per instant.
    window: VecDeque<(Instant, u64, u64)>,
    requests: u64,
    retries: u64,
}

impl RetryBudget {
    /// An empty budget.
    pub fn new(config: BudgetConfig) -> Self {
        Self {
            config,
            window: VecDeque::new(),
            requests: 0,
            retries: 0,
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(t, req, ret)) = self.window.front() {
            if now.saturating_duration_since(t) < self.config.ttl {
                break;
            }
            self.requests -= req;
            self.retries -= ret;
            self.window.pop_front();
        }
    }

    fn slot(&mut self, now: Instant) -> &mut (Instant, u64, u64) {
        if self.window.back().is_none_or(|(t, _, _)| *t != now) {
            self.window.push_back((now, 0, 0));
        }
        // Just ensured non-empty.
        self.window.back_mut().expect("window has a slot")
    }

    /// Counts one original request.
    pub fn deposit(&mut self, now: Instant) {
        self.expire(now);
        self.requests += 1;
        self.slot(now).1 += 1;
    }

    /// Takes one retry from the budget if it allows one.
    pub fn try_withdraw(&mut self, now: Instant) -> bool {
        self.expire(now);
        let reserve = f64::from(self.config.min_retries_per_second) * self.config.ttl.as_secs_f64();
        let allowed = self.config.retry_ratio * self.requests as f64 + reserve;
        if (self.retries + 1) as f64 <= allowed {
            self.retries += 1;
            self.slot(now).2 += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_ratio_plus_reserve() {
        let t0 = Instant::now();
        let cfg = BudgetConfig::default();
        let mut b = RetryBudget::new(cfg);
        // 1000 requests, each failing and wanting 3 retries, within 5 s.
        let mut retries = 0u64;
        for i in 0..1000u64 {
            let now = t0 + Duration::from_millis(i * 5);
            b.deposit(now);
            for _ in 0..3 {
                if b.try_withdraw(now) {
                    retries += 1;
                }
            }
        }
        // 0.2 · 1000 + 10/s · 10 s = 300; the other 2,700 are refused.
        assert_eq!(retries, 300);
    }

    #[test]
    fn window_expires() {
        let t0 = Instant::now();
        let mut b = RetryBudget::new(BudgetConfig {
            retry_ratio: 0.0,
            min_retries_per_second: 1,
            ttl: Duration::from_secs(2),
        });
        assert!(b.try_withdraw(t0));
        assert!(b.try_withdraw(t0));
        assert!(!b.try_withdraw(t0), "reserve is 1/s × 2 s");
        assert!(!b.try_withdraw(t0 + Duration::from_millis(1999)));
        assert!(b.try_withdraw(t0 + Duration::from_secs(2)));
    }
}
