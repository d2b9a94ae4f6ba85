//! Discovery: the proxy's view of a service's endpoints, as the control
//! plane delivers it.
//!
//! Why a delay: a real proxy learns about a new or vanished pod only after
//! the control plane has seen the change and pushed it (Kubernetes
//! EndpointSlice → destination controller or istiod → proxy). In that
//! window a proxy still sends to a pod that is gone, or ignores one that is
//! ready. [`watch_delayed`] mirrors the cluster's endpoint set and applies
//! each change `delay` after it happened; a change overtaken by a newer one
//! is never applied.
//!
//! Default delay: 100 ms, istiod's `PILOT_DEBOUNCE_AFTER` (istio/istio
//! `pilot/pkg/features/tuning.go`: "The delay added to config/registry
//! events for debouncing"); under churn pushes stretch up to
//! `PILOT_DEBOUNCE_MAX`, 10 s ([`ISTIO_DEBOUNCE_MAX`], not modelled).
//! Linkerd's destination controller streams endpoint changes without a
//! debounce (delay 0); Consul's proxycfg coalesces them for 200 ms
//! (`CONSUL_DISCOVERY_DELAY` in [`super::profile`]).
//!
//! Where endpoints come from is the [`Resolve`] trait: the proxy
//! ([`super::outbound::Outbound`], [`super::stack`]) knows only it, and the
//! simulated cluster's [`ControlPlane`] is one implementation (a
//! `meshsim proxy` endpoints list or a test's fixed set can be others).

use crate::control::{ControlPlane, Endpoint};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// istiod's `PILOT_DEBOUNCE_AFTER` default (Istio 1.24+): the minimum
/// delay of a push.
pub const ISTIO_DEBOUNCE_AFTER: Duration = Duration::from_millis(100);
/// istiod's `PILOT_DEBOUNCE_MAX` default (istio/istio
/// `pilot/pkg/features/tuning.go`): while events keep arriving less than
/// `PILOT_DEBOUNCE_AFTER` apart, a push is delayed up to this long. Not
/// modelled: meshsim applies the 100 ms minimum to every change.
pub const ISTIO_DEBOUNCE_MAX: Duration = Duration::from_secs(10);

/// A source of service endpoints: each service's current endpoint set, as
/// a watch that always holds the latest one.
///
/// Like linkerd2-proxy's `Resolve` (a target in, its endpoint updates
/// out), and deliberately not tower's [`tower::discover::Discover`]: that
/// yields keyed `Insert(key, service)` / `Remove(key)` changes of ready-made
/// services, while here the balancer builds each endpoint's stack itself
/// (seeded from its own RNG, keeping the stack of an endpoint that stays)
/// and needs the whole set at once (Envoy's panic threshold counts it).
/// A watch also coalesces a burst of changes into the latest, which is
/// what a delayed push does ([`watch_delayed`]).
pub trait Resolve: Clone + Send + Sync + 'static {
    /// The endpoint set of `service`, kept current (empty while unknown).
    fn resolve(&self, service: &str) -> watch::Receiver<Arc<Vec<Endpoint>>>;
}

/// The simulated cluster resolves from its endpoint registry.
impl Resolve for ControlPlane {
    fn resolve(&self, service: &str) -> watch::Receiver<Arc<Vec<Endpoint>>> {
        self.subscribe(service)
    }
}

/// The proxy-side endpoint watch of `service`, lagging `resolver` by
/// `delay`. Spawns a task on the current runtime (the proxy's host).
pub fn watch_delayed<R: Resolve>(
    resolver: &R,
    service: &str,
    delay: Duration,
) -> watch::Receiver<Arc<Vec<Endpoint>>> {
    let mut source = resolver.resolve(service);
    let initial = source.borrow_and_update().clone();
    if delay.is_zero() {
        return source;
    }
    let (tx, rx) = watch::channel(initial);
    let tx = Arc::new(tx);
    let latest = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        let mut version = 0u64;
        while source.changed().await.is_ok() {
            version += 1;
            latest.store(version, Ordering::Relaxed);
            let snapshot = source.borrow_and_update().clone();
            let (tx, latest) = (tx.clone(), latest.clone());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                // Apply only if no newer change has been seen since.
                if latest.load(Ordering::Relaxed) == version {
                    tx.send_replace(snapshot);
                }
            });
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    #[tokio::test(start_paused = true)]
    async fn changes_arrive_after_the_delay() {
        let cluster = ControlPlane::new();
        cluster.add_endpoint("svc", "a", SocketAddr::from(([10, 0, 0, 1], 1)));
        let mut rx = watch_delayed(&cluster, "svc", Duration::from_millis(100));
        assert_eq!(rx.borrow_and_update().len(), 1);
        assert!(!rx.borrow()[0].ready);
        let t0 = tokio::time::Instant::now();
        cluster.set_ready("a", true);
        rx.changed().await.expect("change delivered");
        assert_eq!(t0.elapsed(), Duration::from_millis(100));
        assert!(rx.borrow()[0].ready);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_delay_is_immediate() {
        let cluster = ControlPlane::new();
        cluster.add_endpoint("svc", "a", SocketAddr::from(([10, 0, 0, 1], 1)));
        let mut rx = watch_delayed(&cluster, "svc", Duration::ZERO);
        cluster.set_ready("a", true);
        assert!(rx.has_changed().expect("open"));
        assert!(rx.borrow_and_update()[0].ready);
    }
}
