//! Eager mode: a task per endpoint that keeps one connection up.
//!
//! linkerd2-proxy wraps each endpoint's client in `linkerd/reconnect`
//! (`linkerd/reconnect/src/service.rs`): the service connects as soon as the
//! balancer polls it, which it does on discovery; while the connect is
//! pending, failed and backing off, or re-establishing after the
//! connection was lost, `poll_ready` is not ready, so tower's balancer
//! (`linkerd/proxy/balance`, a `ReadyCache` under p2c) does not pick it. A
//! failed connect backs off (`ExponentialBackoff`,
//! `linkerd/exp-backoff/src/lib.rs`); a lost connection recovers with a
//! fresh backoff (one `min` step, plus jitter, then connect). A successful
//! connect resets it.
//!
//! The keeper is this state machine as a task: it owns the connect and the
//! backoff; the endpoint reads only "is there a live sender", so the answer
//! the balancer gets is a pure function of state (deterministic under the
//! simulator). Every connect wakes the route's readiness [`Notify`], so
//! requests waiting in the balancer's fail-fast queue go at once.
//!
//! The keeper ends when the endpoint's last handle is dropped (discovery
//! removed it); a connection it made lives on until its streams are done.

use super::{ConnectConfig, Dial};
use crate::proxy::body::Buffered;
use crate::sync::lock;
use hyper::client::conn::http2::SendRequest;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};
use stockdata::transport::Connect;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// An endpoint's keeper: the live sender it publishes, and its task.
pub struct Keeper {
    sender: Arc<Mutex<Option<SendRequest<Buffered>>>>,
    task: AbortHandle,
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Keeper {
    /// Starts keeping a connection to `dial.addr` with `config`'s backoff
    /// (jitter drawn from `seed`), waking `ready` on every connect.
    pub fn spawn<C: Connect>(
        connect: C,
        dial: Dial,
        config: ConnectConfig,
        seed: u64,
        ready: Arc<Notify>,
    ) -> Self {
        let sender: Arc<Mutex<Option<SendRequest<Buffered>>>> = Arc::default();
        let published = sender.clone();
        let task = tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            // Failed connects since the last success; `None` before the
            // first attempt (connect at once).
            let mut failures: Option<u32> = None;
            loop {
                if let Some(n) = failures {
                    let delay = crate::proxy::backoff::exponential(
                        config.backoff_min,
                        config.backoff_max,
                        n,
                        config.backoff_jitter,
                        &mut rng,
                    );
                    tokio::time::sleep(delay).await;
                }
                match super::dial(&connect, dial).await {
                    Some((live, driver)) => {
                        *lock(&published) = Some(live);
                        ready.notify_waiters();
                        let _ = driver.await;
                        *lock(&published) = None;
                        // Lost: recover with a fresh backoff.
                        failures = Some(0);
                    }
                    None => {
                        failures = Some(failures.map_or(0, |n| n.saturating_add(1)));
                    }
                }
            }
        });
        Self {
            sender,
            task: task.abort_handle(),
        }
    }

    /// Whether a live connection is up.
    pub fn is_connected(&self) -> bool {
        lock(&self.sender).as_ref().is_some_and(|s| !s.is_closed())
    }

    /// The live connection's sender, if there is one.
    pub fn sender(&self) -> Option<SendRequest<Buffered>> {
        lock(&self.sender)
            .as_ref()
            .filter(|s| !s.is_closed())
            .cloned()
    }
}
