//! The simulated browser / load generator on the `ingress` host.
//!
//! It issues the scenario's workload against StockWeb over HTTP/1.1:
//! - open loop: requests due at times fixed in advance (the `[load]` page
//!   schedule, or constant/Poisson arrivals); at most `connections` in
//!   flight, later ones wait, and latency counts from when a request was
//!   *due*, so a stall shows up in every request it delayed (coordinated
//!   omission corrected, as wrk2 does); the uncorrected latency (from when
//!   it was sent) is kept too;
//! - closed loop: `users` that each send, wait, think, repeat.
//!
//! After the issuing period it waits `drain` for requests in flight, then
//! records the rest as in flight at the end: every request issued is
//! accounted for.

use super::{INGRESS, STOCKWEB, derive_seed};
use crate::cluster::Cluster;
use crate::lock;
use crate::net::SimConnect;
use crate::scenario::{Arrival, Model, Scenario, Target, Think};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stockdata::transport::Connect;
use stockweb::{Call, Page};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

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
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Issue order.
    pub index: u64,
    /// When it was due (open loop) or sent (closed loop).
    pub intended: Duration,
    /// When it was sent (after waiting for a connection), if it was.
    pub sent: Option<Duration>,
    /// When it completed, if it did before the end.
    pub done: Option<Duration>,
    /// StockWeb's answer, or why the HTTP request failed; `None` while in
    /// flight.
    pub outcome: Option<Result<Answer, String>>,
}

/// How the workload issues requests.
#[derive(Debug, Clone)]
pub(crate) enum Issue {
    Open {
        arrivals: Vec<Duration>,
        connections: Option<usize>,
    },
    Closed {
        users: u32,
        think: Think,
        think_time: Duration,
    },
}

/// The resolved workload.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub target: Target,
    pub issue: Issue,
    pub duration: Duration,
    pub warmup: Duration,
    pub drain: Duration,
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
                    issue: Issue::Open {
                        arrivals,
                        connections: None,
                    },
                    duration,
                    warmup: Duration::ZERO,
                    // The fixed schedule waits for every page.
                    drain: scenario
                        .time_limit
                        .0
                        .saturating_sub(duration + scenario.tick.0),
                    not_found_ratio: 0.0,
                    seed,
                }
            }
            Some(w) => Plan {
                target: w.target,
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
                        connections: w.connections.map(|c| c as usize),
                    },
                    Model::Closed => Issue::Closed {
                        users: w.users.unwrap_or(1),
                        think: w.think,
                        think_time: w.think_time.map(|t| t.0).unwrap_or_default(),
                    },
                },
                duration: w.duration.0,
                warmup: w.warmup.0,
                drain: w.drain.0,
                not_found_ratio: w.not_found_ratio,
                seed,
            },
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

type Records = Arc<Mutex<BTreeMap<u64, RequestRecord>>>;

/// Starts the browser on the `ingress` host; returns where its records go.
pub(crate) fn start(sim: &mut turmoil::Sim<'_>, plan: Plan, cluster: &Cluster) -> Records {
    let records: Records = Arc::default();
    let out = records.clone();
    let cluster = cluster.clone();
    sim.client(INGRESS, async move {
        let t0 = Instant::now();
        let webs: Vec<SocketAddr> = cluster.endpoints(STOCKWEB).iter().map(|e| e.addr).collect();
        let plan = Arc::new(plan);
        let mut tasks = JoinSet::new();
        match plan.issue.clone() {
            Issue::Open {
                arrivals,
                connections,
            } => {
                let permits = connections.map(|c| Arc::new(Semaphore::new(c)));
                for (k, at) in arrivals.into_iter().enumerate() {
                    tokio::time::sleep_until(t0 + at).await;
                    let k = k as u64;
                    issue(&records, k, at);
                    let (records, plan, permits) = (records.clone(), plan.clone(), permits.clone());
                    let web = webs[k as usize % webs.len()];
                    tasks.spawn(async move {
                        let _permit = match &permits {
                            Some(p) => p.clone().acquire_owned().await.ok(),
                            None => None,
                        };
                        run_one(&records, &plan, k, web, t0).await;
                    });
                }
            }
            Issue::Closed {
                users,
                think,
                think_time,
            } => {
                let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
                for u in 0..users {
                    let (records, plan, next) = (records.clone(), plan.clone(), next.clone());
                    let web = webs[u as usize % webs.len()];
                    let mut rng =
                        ChaCha8Rng::seed_from_u64(derive_seed(plan.seed, &format!("think/{u}")));
                    tasks.spawn(async move {
                        while t0.elapsed() < plan.duration {
                            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            issue(&records, k, t0.elapsed());
                            run_one(&records, &plan, k, web, t0).await;
                            let pause = match think {
                                Think::Constant => think_time,
                                Think::Exponential => Duration::from_secs_f64(
                                    loadgen::arrivals::exp(&mut rng, think_time.as_secs_f64()),
                                ),
                            };
                            tokio::time::sleep(pause).await;
                        }
                    });
                }
            }
        }
        // Wait for what is in flight, up to the drain deadline.
        let deadline = t0 + plan.duration + plan.drain;
        while !tasks.is_empty() {
            match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(Some(done)) => done?,
                Ok(None) => break,
                Err(_) => break,
            }
        }
        tasks.abort_all();
        Ok(())
    });
    out
}

fn issue(records: &Records, k: u64, intended: Duration) {
    lock(records).insert(
        k,
        RequestRecord {
            index: k,
            intended,
            sent: None,
            done: None,
            outcome: None,
        },
    );
}

async fn run_one(records: &Records, plan: &Plan, k: u64, web: SocketAddr, t0: Instant) {
    let sent = t0.elapsed();
    if let Some(r) = lock(records).get_mut(&k) {
        r.sent = Some(sent);
    }
    let outcome = match plan.target {
        Target::Page => fetch::<Page>(web, "/api/stocks".into(), &format!("page-{k}"))
            .await
            .map(Answer::Page),
        Target::Get => fetch::<Call>(
            web,
            format!("/api/stock/{}", plan.stock_id(k)),
            &format!("get-{k}"),
        )
        .await
        .map(Answer::Call),
    };
    let done = t0.elapsed();
    if let Some(r) = lock(records).get_mut(&k) {
        r.done = Some(done);
        r.outcome = Some(outcome.map_err(|e| e.to_string()));
    }
}

/// `GET path` over a fresh HTTP/1.1 connection, as a browser would.
async fn fetch<T: serde::de::DeserializeOwned>(
    addr: SocketAddr,
    path: String,
    request_id: &str,
) -> Result<T, BoxError> {
    let io = SimConnect.connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header(http::header::HOST, STOCKWEB)
        .header(stockdata::REQUEST_ID_HEADER, request_id)
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    if !response.status().is_success() {
        return Err(format!("StockWeb answered HTTP {}", response.status()).into());
    }
    let body = response.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&body)?)
}
