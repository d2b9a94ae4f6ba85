//! Applying a scenario's `[sidecar]` overrides to a resolved profile.
//!
//! Lives with the scenario (which depends on the proxy), not in the proxy,
//! so the proxy knows nothing of scenario files.

use super::SidecarOverrides;
use crate::proxy::SidecarConfig;
use crate::proxy::balance::Policy;
use crate::proxy::load::LoadMetric;
use crate::strategy::SidecarSpec;

impl SidecarOverrides {
    /// `config` (resolved from `spec`) with every set key applied. A
    /// `max_retries` that turns retries on from off uses the profile's own
    /// retry style: Linkerd's (budget, no backoff) on `linkerd`, Envoy's
    /// elsewhere; `choice_count` applies to least-request only.
    pub fn apply_to(&self, spec: &SidecarSpec, mut config: SidecarConfig) -> SidecarConfig {
        if let Some(t) = self.request_timeout {
            config.request_timeout = Some(t.0);
        }
        if let Some(n) = self.max_retries {
            config = config.with_max_retries(n, spec.linkerd_style_retries());
        }
        if let Some(t) = self.per_try_timeout {
            config.per_try_timeout = Some(t.0);
        }
        if let Some(i) = self.idempotent {
            config.retry.idempotent = i;
        }
        if let Some(d) = self.discovery_delay {
            config.discovery_delay = d.0;
        }
        if let Some(limit) = self.max_concurrent_streams {
            config.h2.listener.max_concurrent_streams = limit.0;
        }
        if let Some(w) = self.initial_stream_window {
            config.h2.listener.initial_stream_window = w;
            config.h2.endpoints.initial_stream_window = w;
        }
        if let Some(w) = self.initial_connection_window {
            config.h2.listener.initial_connection_window = w;
            config.h2.endpoints.initial_connection_window = w;
        }
        if let (Some(p), Some(outlier)) = (self.max_ejection_percent, config.outlier.as_mut()) {
            outlier.max_ejection_percent = p;
        }
        if let (Some(k), Policy::P2c { choice_count }, LoadMetric::PendingRequests) =
            (self.choice_count, &mut config.balance.policy, config.load)
        {
            *choice_count = k;
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::Strategy;

    fn spec(name: &str) -> SidecarSpec {
        match name.parse::<Strategy>() {
            Ok(Strategy::Sidecar(spec)) => spec,
            other => panic!("{name}: {other:?}"),
        }
    }

    /// `max_retries` on a profile whose retries are off turns on that
    /// profile's own retries: Linkerd's budgeted retries on `linkerd`
    /// (no backoff, no concurrent-retry breaker), Envoy's elsewhere.
    #[test]
    fn max_retries_turns_on_the_profiles_own_retry_style() {
        let o = SidecarOverrides {
            max_retries: Some(3),
            ..SidecarOverrides::default()
        };
        let linkerd = spec("linkerd");
        let c = o.apply_to(&linkerd, linkerd.config(Default::default()));
        assert_eq!(c.retry.max_retries, 3);
        assert!(c.retry.budget.is_some(), "Linkerd retries are budgeted");
        assert_eq!(c.retry.backoff, None, "and not backed off");
        assert_eq!(c.retry.max_concurrent_retries, None);
        let plain = spec("sidecar:round-robin");
        let c = o.apply_to(&plain, plain.config(Default::default()));
        assert_eq!(c.retry.max_retries, 3);
        assert!(c.retry.budget.is_none());
        assert!(c.retry.backoff.is_some(), "Envoy backs off");
        assert_eq!(c.retry.max_concurrent_retries, Some(3));
    }

    #[test]
    fn choice_count_applies_to_least_request_only() {
        let o = SidecarOverrides {
            choice_count: Some(5),
            ..SidecarOverrides::default()
        };
        let lr = spec("sidecar:least-request");
        let c = o.apply_to(&lr, lr.config(Default::default()));
        assert_eq!(c.balance.policy, Policy::P2c { choice_count: 5 });
        let ewma = spec("sidecar:peak-ewma");
        let c = o.apply_to(&ewma, ewma.config(Default::default()));
        assert_eq!(c.balance.policy, Policy::P2c { choice_count: 2 });
    }
}
