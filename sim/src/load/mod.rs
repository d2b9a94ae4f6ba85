//! The browser on the `ingress` host: a thin adapter from loadgen's
//! generator to StockWeb, the same on either backend.
//!
//! The load itself (open and closed loops, the connection cap, think time,
//! drain, coordinated-omission correction, request accounting) lives in the
//! `loadgen` crate; this module resolves the scenario's workload into a
//! [`loadgen::Workload`] ([`Plan`]), and gives loadgen "send request k": an
//! HTTP/1.1 `GET` to a StockWeb pod through the backend's connector,
//! parsed into an [`Answer`].

use crate::control::ControlPlane;
use crate::scenario::{Arrival, Model, Scenario, Target, Think};
use crate::seed::derive_seed;
use crate::topology::STOCKWEB;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use loadgen::{Issue, Ledger, Request, Workload};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stockdata::transport::Connect;
use stockweb::{Call, Page};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What StockWeb answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A page (`page` target).
    Page(Page),
    /// One call (`get` target).
    Call(Call),
}

/// One workload request, from issue to outcome.
pub type RequestRecord = loadgen::RequestRecord<Answer>;

/// The resolved workload.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub target: Target,
    pub workload: Workload,
    /// Requests due before this are left out of latency results.
    pub warmup: Duration,
    pub not_found_ratio: f64,
    pub seed: u64,
}

impl Plan {
    /// The scenario's workload (`[workload]`, or `[load]`'s page schedule).
    pub fn of(scenario: &Scenario, seed: u64) -> Plan {
        let seed = derive_seed(seed, "workload");
        match &scenario.workload {
            None => {
                let arrivals: Vec<Duration> = scenario.schedule().times().collect();
                let duration = scenario.schedule().last() + scenario.tick.0;
                Plan {
                    target: Target::Page,
                    workload: Workload {
                        issue: Issue::Open {
                            arrivals,
                            connections: None,
                        },
                        duration,
                        // The fixed schedule waits for every page: the
                        // driver ends the run at `time_limit`, so the
                        // drain's own end, a tick later, never comes (and
                        // is no timer due before the end, which would
                        // keep the driver from seeing a hung run go quiet).
                        drain: (scenario.time_limit.0.saturating_add(scenario.tick.0))
                            .saturating_sub(duration),
                    },
                    warmup: Duration::ZERO,
                    not_found_ratio: 0.0,
                    seed,
                }
            }
            Some(w) => Plan {
                target: w.target,
                workload: Workload {
                    issue: match w.model {
                        Model::Open => Issue::Open {
                            arrivals: loadgen::arrivals(
                                match w.arrival {
                                    Arrival::Constant => loadgen::Process::Constant,
                                    Arrival::Poisson => loadgen::Process::Poisson,
                                },
                                w.rate.unwrap_or(1.0),
                                w.duration.0,
                                derive_seed(seed, "arrivals"),
                            ),
                            // wrk2 requires `-c`; without the key the
                            // browser still keeps no more connections open
                            // than its host has ports for.
                            connections: w.connection_cap(),
                        },
                        Model::Closed => {
                            let think_time = w.think_time.map(|t| t.0).unwrap_or_default();
                            Issue::Closed {
                                // Each user's think times from its own stream.
                                user_seeds: (0..w.users.unwrap_or(1))
                                    .map(|u| derive_seed(seed, &format!("think/{u}")))
                                    .collect(),
                                think: match w.think {
                                    Think::Constant => loadgen::Think::Constant(think_time),
                                    Think::Exponential => loadgen::Think::Exponential(think_time),
                                },
                            }
                        }
                    },
                    duration: w.duration.0,
                    drain: w.drain.0,
                },
                warmup: w.warmup.0,
                not_found_ratio: w.not_found_ratio,
                seed,
            },
        }
    }
}

/// Runs the workload against StockWeb's pods, dialing with `connect`, into
/// `ledger`; ends when loadgen's run does (issuing period plus drain).
pub(crate) async fn drive<C: Connect>(
    plan: Plan,
    cluster: ControlPlane,
    connect: C,
    ledger: Ledger<Answer>,
) -> Result<(), BoxError> {
    let browser = Arc::new(Browser {
        webs: cluster.endpoints(STOCKWEB).iter().map(|e| e.addr).collect(),
        target: plan.target,
        not_found_ratio: plan.not_found_ratio,
        seed: plan.seed,
        connect,
        pool: Pool::default(),
    });
    loadgen::run(plan.workload, &ledger, move |r| browser.send(r)).await?;
    Ok(())
}

/// What the browser needs to send one request.
struct Browser<C> {
    connect: C,
    /// Idle keep-alive connections.
    pool: Pool,
    /// StockWeb pods; a user sticks to one (its index modulo their count).
    webs: Vec<SocketAddr>,
    target: Target,
    not_found_ratio: f64,
    seed: u64,
}

impl<C: Connect> Browser<C> {
    /// Request `r.index`, from user `r.user`, to StockWeb.
    fn send(&self, r: Request) -> impl Future<Output = Result<Answer, String>> + Send + use<C> {
        let web = usize::try_from(r.user)
            .ok()
            .and_then(|u| u.checked_rem(self.webs.len()))
            .and_then(|i| self.webs.get(i).copied());
        let k = r.index;
        let target = self.target;
        let connect = self.connect.clone();
        let pool = self.pool.clone();
        let stock_id = match target {
            Target::Page => 0,
            Target::Get => self.stock_id(k),
        };
        async move {
            let web = web.ok_or("no StockWeb endpoint")?;
            let outcome = match target {
                Target::Page => fetch::<Page, C>(
                    (&connect, &pool),
                    web,
                    "/api/stocks".into(),
                    &format!("page-{k}"),
                )
                .await
                .map(Answer::Page),
                Target::Get => fetch::<Call, C>(
                    (&connect, &pool),
                    web,
                    format!("/api/stock/{stock_id}"),
                    &format!("get-{k}"),
                )
                .await
                .map(Answer::Call),
            };
            outcome.map_err(|e| e.to_string())
        }
    }

    /// The stock id request `k` asks for (`get` target): the same for every
    /// strategy. Ids above 101 do not exist.
    fn stock_id(&self, k: u64) -> i32 {
        let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(self.seed, &format!("id/{k}")));
        if rng.random::<f64>() < self.not_found_ratio {
            rng.random_range(1000..2000)
        } else {
            rng.random_range(2..=101)
        }
    }
}

/// Idle HTTP/1.1 keep-alive connections by StockWeb address. Like a load
/// generator's (wrk2's `-c`) or a browser's, a connection is reused once
/// its response has been read, so open connections never exceed the
/// requests in flight (which `connections` caps), and a steady load does
/// not open a connection per request.
#[derive(Clone, Default)]
struct Pool(Arc<Mutex<BTreeMap<SocketAddr, Vec<Sender>>>>);

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

impl Pool {
    /// An idle connection to `addr` that can take a request, if any.
    fn take(&self, addr: SocketAddr) -> Option<Sender> {
        let mut idle = crate::sync::lock(&self.0);
        let senders = idle.get_mut(&addr)?;
        while let Some(sender) = senders.pop() {
            if sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    fn put(&self, addr: SocketAddr, sender: Sender) {
        if sender.is_ready() {
            crate::sync::lock(&self.0)
                .entry(addr)
                .or_default()
                .push(sender);
        }
    }
}

/// `GET path` on a pooled keep-alive HTTP/1.1 connection, or a new one.
async fn fetch<T: serde::de::DeserializeOwned, C: Connect>(
    (connect, pool): (&C, &Pool),
    addr: SocketAddr,
    path: String,
    request_id: &str,
) -> Result<T, BoxError> {
    let mut sender = match pool.take(addr) {
        Some(sender) => sender,
        None => {
            let io = connect.connect(addr).await?;
            let (sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
            tokio::spawn(connection);
            sender
        }
    };
    let request = http::Request::get(path)
        .header(http::header::HOST, STOCKWEB)
        .header(stockdata::REQUEST_ID_HEADER, request_id)
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    if !response.status().is_success() {
        return Err(format!("StockWeb answered HTTP {}", response.status()).into());
    }
    let body = response.into_body().collect().await?.to_bytes();
    // Read to the end: the connection can take the next request (unless
    // the server closed it).
    if sender.ready().await.is_ok() {
        pool.put(addr, sender);
    }
    Ok(serde_json::from_slice(&body)?)
}
