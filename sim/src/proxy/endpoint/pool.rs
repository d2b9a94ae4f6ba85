//! On-demand mode: Envoy's connection pool, one HTTP/2 connection per host.
//!
//! Envoy keeps no per-host "connected" state the load balancer consults:
//! the balancer picks among hosts by health (outlier detection, health
//! checks, panic threshold), and the pool of the picked host connects when
//! a stream needs a connection and none is up. Streams arriving while that
//! connect is pending wait for it; if it fails (refused, or the cluster's
//! `connect_timeout`), every pending stream fails with it (Envoy
//! `source/common/conn_pool/conn_pool_base.cc`: `onConnectionEvent`,
//! `purgePendingStreams`), each a `connect-failure` (`UF`, HTTP 503) that
//! the router retries only if its retry policy says so (Istio's default
//! does; Consul's has no retries). There is no backoff between connects:
//! the next stream that needs a connection starts a new one.
//!
//! The connect runs in a task of its own, so a per-try timeout or a caller
//! giving up ends its wait without cancelling the connect.

use super::{Dial, dial};
use crate::proxy::body::Buffered;
use crate::proxy::classify::Outcome;
use crate::sync::lock;
use hyper::client::conn::http2::SendRequest;
use std::sync::Mutex;
use stockdata::transport::Connect;
use tokio::sync::watch;

type Connecting = watch::Receiver<Option<Option<SendRequest<Buffered>>>>;

enum State {
    Idle,
    Connecting(Connecting),
    Connected(SendRequest<Buffered>),
}

/// One host's connection pool.
pub struct Pool<C> {
    connect: C,
    dial: Dial,
    state: Mutex<State>,
}

impl<C: Connect> Pool<C> {
    /// A pool for `dial.addr`; nothing is dialed yet.
    pub fn new(connect: C, dial: Dial) -> Self {
        Self {
            connect,
            dial,
            state: Mutex::new(State::Idle),
        }
    }

    /// The live connection's sender, connecting (or joining a connect in
    /// progress) if there is none. A failed connect fails every request
    /// that waited for it, as `ConnectFailed`.
    pub async fn sender(&self) -> Result<SendRequest<Buffered>, Outcome> {
        let mut waiting = {
            let mut state = lock(&self.state);
            match &*state {
                State::Connected(s) if !s.is_closed() => return Ok(s.clone()),
                State::Connecting(rx) => rx.clone(),
                State::Connected(_) | State::Idle => {
                    let (tx, rx) = watch::channel(None);
                    let (connect, dial_to) = (self.connect.clone(), self.dial);
                    tokio::spawn(async move {
                        let sender = dial(&connect, dial_to).await.map(|(s, _driver)| s);
                        tx.send_replace(Some(sender));
                    });
                    *state = State::Connecting(rx.clone());
                    rx
                }
            }
        };
        let outcome = match waiting.wait_for(Option::is_some).await {
            Ok(done) => done.clone().flatten(),
            Err(_) => None,
        };
        let mut state = lock(&self.state);
        // The first waiter to wake publishes the result; a newer connect
        // (started after this one ended) is left alone.
        if let State::Connecting(rx) = &*state
            && rx.same_channel(&waiting)
        {
            *state = match &outcome {
                Some(s) => State::Connected(s.clone()),
                None => State::Idle,
            };
        }
        outcome.ok_or(Outcome::ConnectFailed)
    }
}
