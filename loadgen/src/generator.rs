//! The load generator: issues a workload through a "send one request"
//! function and records every request in a [`Ledger`].
//!
//! It knows nothing about what a request is: the caller hands it a function
//! from [`Request`] to a future of `Result<A, String>`, so the same loops
//! drive StockWeb over turmoil's simulated sockets and, later, over real
//! ones. It takes time only from `tokio::time` (virtual under turmoil and
//! under tokio's paused test clock) and spawns on whatever runtime runs it.
//!
//! - **Open loop**: requests are due at times fixed in advance (a schedule or
//!   constant/Poisson arrivals), whatever the system does, as real users
//!   arrive independently of each other. With a connection cap at most that
//!   many are in flight; later ones wait for a connection, and their latency
//!   still counts from when they were due (see [`crate::ledger`]).
//! - **Closed loop**: `users` that each send, wait for the answer, think,
//!   repeat, until the issuing period ends.
//!
//! After the issuing period it waits up to `drain` for requests in flight,
//! then stops; whatever has not completed stays in the ledger as in flight
//! at the end. There is no warm-up phase in the generator: warm-up only
//! decides which requests the latency results include
//! ([`crate::Summary::of`]), so the system sees the same load throughout.
//!
//! Determinism: the order of sleeps, spawns and random draws is part of the
//! contract (meshsim's reports are byte-identical per seed), so change it
//! only knowing that every baseline moves.

use crate::arrivals::exp;
use crate::ledger::Ledger;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

/// What to issue, and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Open or closed loop.
    pub issue: Issue,
    /// The issuing period: a closed loop starts no request after it; it
    /// plus `drain` is when the run stops.
    pub duration: Duration,
    /// How long after the issuing period to wait for requests in flight.
    pub drain: Duration,
}

/// How requests are issued.
#[derive(Debug, Clone, PartialEq)]
pub enum Issue {
    /// Requests due at fixed offsets from the start.
    Open {
        /// Due times, sorted.
        arrivals: Vec<Duration>,
        /// Most requests in flight at once (`None`: no cap).
        connections: Option<usize>,
    },
    /// Users that each send, wait, think and repeat.
    Closed {
        /// One user per seed; the seed drives that user's think-time
        /// draws, so each user's pauses do not depend on the others.
        user_seeds: Vec<u64>,
        /// Pause between an answer and the user's next request.
        think: Think,
    },
}

/// A closed-loop user's pause between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Think {
    /// Always this long.
    Constant(Duration),
    /// Exponentially distributed with this mean.
    Exponential(Duration),
}

/// One request the generator asks the caller to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Issue order (the ledger's key).
    pub index: u64,
    /// Who sends it: in a closed loop the user; in an open loop every
    /// arrival is a new user, so `user == index`.
    pub user: u64,
}

/// Runs `workload`, sending each request with `send` and recording it in
/// `ledger`. Returns when every request is done or the drain deadline
/// passes, whichever is first; a request task that panicked is an error.
pub async fn run<A, F, Fut>(
    workload: Workload,
    ledger: &Ledger<A>,
    send: F,
) -> Result<(), JoinError>
where
    A: Send + 'static,
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<A, String>> + Send + 'static,
{
    let t0 = Instant::now();
    let send = Arc::new(send);
    let mut tasks = JoinSet::new();
    let deadline = t0 + workload.duration + workload.drain;
    let issuing = Issuing {
        ledger,
        send: &send,
        t0,
    };
    match workload.issue {
        Issue::Open {
            arrivals,
            connections,
        } => {
            let end = (workload.duration, deadline);
            issuing.open(&mut tasks, arrivals, connections, end).await;
        }
        Issue::Closed { user_seeds, think } => {
            issuing.closed(&mut tasks, user_seeds, think, workload.duration);
        }
    }
    drain(&mut tasks, deadline).await
}

/// Waits for what is in flight, up to the drain `deadline`, then stops
/// the rest.
async fn drain(tasks: &mut JoinSet<()>, deadline: Instant) -> Result<(), JoinError> {
    while !tasks.is_empty() {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(done)) => done?,
            Ok(None) | Err(_) => break,
        }
    }
    tasks.abort_all();
    Ok(())
}

/// What issuing requests needs: the ledger, the send function, the start.
struct Issuing<'a, A, F> {
    ledger: &'a Ledger<A>,
    send: &'a Arc<F>,
    t0: Instant,
}

impl<A, F, Fut> Issuing<'_, A, F>
where
    A: Send + 'static,
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<A, String>> + Send + 'static,
{
    /// The open loop: one request per arrival, each at its due time, at
    /// most `connections` at once; `(end, deadline)` are the end of the
    /// issuing period and of the drain.
    async fn open(
        &self,
        tasks: &mut JoinSet<()>,
        arrivals: Vec<Duration>,
        connections: Option<usize>,
        (end, deadline): (Duration, Instant),
    ) {
        let (ledger, t0) = (self.ledger, self.t0);
        // The loop takes a connection before it spawns a request, so at
        // most `connections` requests exist at once (in flight or
        // sending) whatever the rate: a request that must wait for a
        // connection waits here, as a due time, not as a task. (Spawning
        // first made a task per arrival: 10M arrivals over 4 GB.)
        let permits = connections.map(|c| Arc::new(Semaphore::new(c)));
        let mut arrivals = arrivals.into_iter().enumerate();
        for (k, at) in arrivals.by_ref() {
            tokio::time::sleep_until(t0 + at).await;
            // When it was asked for (the timer's tick at or after its due
            // time; the latency from its due time is the ledger's).
            let asked = Instant::now();
            let k = k as u64;
            ledger.issue(k, at);
            // Held until the answer: the connection is busy till then.
            let permit = match &permits {
                Some(p) => match tokio::time::timeout_at(deadline, p.clone().acquire_owned()).await
                {
                    Ok(Ok(permit)) => Some(permit),
                    // The run is over: this one and the rest were
                    // due but never got a connection.
                    _ => break,
                },
                None => None,
            };
            let waited = asked.elapsed();
            let (ledger, send) = (ledger.clone(), self.send.clone());
            tasks.spawn(async move {
                let _permit = permit;
                let request = Request { index: k, user: k };
                run_one(&ledger, &*send, request, (t0, waited)).await;
            });
        }
        // Arrivals due before the end that the loop never reached are
        // issued, never sent: in flight at the end, as before, but counted
        // rather than kept as records (10M of them took 2 GB).
        let never_sent = arrivals.take_while(|(_, at)| *at < end).count();
        ledger.issue_never_sent(never_sent as u64);
    }

    /// The closed loop: one task per user, each sending, waiting for the
    /// answer and thinking until `duration` has passed.
    fn closed(
        &self,
        tasks: &mut JoinSet<()>,
        user_seeds: Vec<u64>,
        think: Think,
        duration: Duration,
    ) {
        let t0 = self.t0;
        let next = Arc::new(AtomicU64::new(0));
        for (u, seed) in user_seeds.into_iter().enumerate() {
            let (ledger, send, next) = (self.ledger.clone(), self.send.clone(), next.clone());
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            tasks.spawn(async move {
                while t0.elapsed() < duration {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    ledger.issue(k, t0.elapsed());
                    let request = Request {
                        index: k,
                        user: u as u64,
                    };
                    run_one(&ledger, &*send, request, (t0, Duration::ZERO)).await;
                    let pause = pause(think, &mut rng);
                    // No think time means the next request at once: a
                    // zero sleep still waits for the timer's next tick
                    // (1 ms), which cost a closed loop of 8 users 13 %
                    // of its throughput against h2load.
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                }
            });
        }
    }
}

/// A user's next think time.
fn pause(think: Think, rng: &mut ChaCha8Rng) -> Duration {
    match think {
        Think::Constant(d) => d,
        Think::Exponential(mean) => {
            Duration::try_from_secs_f64(exp(rng, mean.as_secs_f64())).unwrap_or(Duration::MAX)
        }
    }
}

/// Sends one request and records when it was sent (after waiting
/// `connection_wait` for a connection) and how it ended.
async fn run_one<A, F, Fut>(
    ledger: &Ledger<A>,
    send: &F,
    request: Request,
    (t0, connection_wait): (Instant, Duration),
) where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Result<A, String>>,
{
    ledger.sent(request.index, t0.elapsed(), connection_wait);
    let outcome = send(request).await;
    ledger.done(request.index, t0.elapsed(), outcome);
}
