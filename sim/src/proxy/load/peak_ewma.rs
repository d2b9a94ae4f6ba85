//! Peak-EWMA: an endpoint's cost is its recent round-trip time, biased
//! toward the worst recent value, times its queue.
//!
//! Why: a replica that turns slow (GC pause, noisy neighbour, gray failure)
//! keeps answering, so success-based policies never notice it. Peak-EWMA
//! jumps to any RTT above the estimate at once and decays back only
//! gradually (time constant `decay`), so traffic moves away from a slow
//! endpoint within a few requests and returns cautiously once it recovers.
//! While idle the estimate decays toward zero, so a shunned endpoint is
//! eventually tried again. This is Finagle's and Linkerd's balancer load
//! (and `tower::load::PeakEwma`'s); the cost multiplies by `pending + 1`
//! so that load, not only latency, counts.

use std::time::Duration;
use tokio::time::Instant;

/// Linkerd's initial RTT estimate for a new endpoint (optimistic, so new
/// endpoints get traffic). Linkerd stable 2.19: the policy controller sends
/// it to proxies (linkerd2 `policy-controller/grpc/src/outbound.rs`,
/// `default_balancer_config`, `PeakEwma.default_rtt`); it used to be
/// `EWMA_DEFAULT_RTT` in linkerd2-proxy `linkerd/app/outbound/src/lib.rs`.
pub const LINKERD_DEFAULT_RTT: Duration = Duration::from_millis(30);
/// Linkerd's decay time constant (Linkerd stable 2.19): linkerd2
/// `policy-controller/grpc/src/outbound.rs`, `default_balancer_config`,
/// `PeakEwma.decay`; formerly `EWMA_DECAY` in linkerd2-proxy.
pub const LINKERD_DECAY: Duration = Duration::from_secs(10);

/// The RTT estimate of one endpoint.
#[derive(Debug, Clone)]
pub struct PeakEwma {
    /// Estimate in nanoseconds.
    estimate_ns: f64,
    updated: Instant,
    decay_ns: f64,
}

impl PeakEwma {
    /// A new estimate starting at `default_rtt`.
    pub fn new(default_rtt: Duration, decay: Duration, now: Instant) -> Self {
        Self {
            estimate_ns: default_rtt.as_nanos() as f64,
            updated: now,
            decay_ns: decay.as_nanos().max(1) as f64,
        }
    }

    /// Folds in one observed round-trip time.
    pub fn observe(&mut self, rtt: Duration, now: Instant) {
        let rtt_ns = rtt.as_nanos() as f64;
        if rtt_ns > self.estimate_ns {
            // Peak-sensitive: jump straight to a worse value.
            self.estimate_ns = rtt_ns;
        } else {
            let w = self.weight(now);
            self.estimate_ns = self.estimate_ns * w + rtt_ns * (1.0 - w);
        }
        self.updated = now;
    }

    /// The estimate decayed toward zero for the time since the last sample.
    pub fn estimate(&self, now: Instant) -> Duration {
        Duration::from_nanos((self.estimate_ns * self.weight(now)) as u64)
    }

    /// The balancer cost: decayed estimate × (pending + 1), in nanoseconds.
    ///
    /// Reading the cost persists the decay (as `tower::load::PeakEwma`
    /// does), so the next sample is compared with the decayed estimate: an
    /// endpoint that was slow long ago and is fast now is judged by now.
    pub fn cost(&mut self, pending: usize, now: Instant) -> f64 {
        self.estimate_ns *= self.weight(now);
        self.updated = now;
        self.estimate_ns * (pending as f64 + 1.0)
    }

    fn weight(&self, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.updated).as_nanos() as f64;
        (-elapsed / self.decay_ns).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn jumps_to_peaks_and_decays_back_slowly() {
        let t0 = Instant::now();
        let mut e = PeakEwma::new(ms(10), ms(100), t0);
        e.observe(ms(100), t0);
        assert_eq!(e.estimate(t0), ms(100), "a peak is taken at once");
        // A fast sample 10 ms later only pulls the estimate part way:
        // w = e^(-10/100) ≈ 0.905 → 0.905·100 + 0.095·10 ≈ 91.4 ms.
        let t1 = t0 + ms(10);
        e.observe(ms(10), t1);
        let est = e.estimate(t1).as_secs_f64() * 1e3;
        assert!((est - 91.4).abs() < 0.1, "{est}");
    }

    #[test]
    fn idle_estimate_decays_toward_zero_and_cost_counts_pending() {
        let t0 = Instant::now();
        let mut e = PeakEwma::new(ms(30), ms(10_000), t0);
        assert_eq!(e.cost(0, t0), 30e6);
        assert_eq!(e.cost(3, t0), 120e6);
        let later = t0 + Duration::from_secs(10);
        let decayed = e.estimate(later).as_secs_f64() * 1e3;
        // 30 ms · e^-1 ≈ 11.04 ms.
        assert!((decayed - 11.04).abs() < 0.01, "{decayed}");
        // Once read, a sample above the decayed value is a new peak.
        e.cost(0, later);
        e.observe(ms(20), later);
        assert_eq!(e.estimate(later), ms(20));
    }
}
