//! The one run loop: a strategy's run in a fresh cluster, the same code on
//! either backend.
//!
//! A run starts the cluster's nodes and initial pods, waits until they are
//! ready, starts the workload, then alternates the timeline's due actions
//! with one [`Backend::step`] until the workload is done, fails, or reaches
//! the scenario's `time_limit`. Servers still working on calls their
//! callers gave up on are then let finish, so that work is in their
//! ledgers (the run's end is not moved). What differs between the
//! simulator and this machine's sockets is only the [`Backend`]: how time
//! passes, how nodes and links change, how the load reaches StockWeb.
//! (Before this module the loop existed twice and drifted: real mode once
//! lacked the simulator's end-of-run drain.)

mod run;

pub use run::{StrategyRun, StreamLimits};

use crate::cluster::actions::{self, ActionQueue, World};
use crate::cluster::fabric::Fabric;
use crate::cluster::kubelet::PodTable;
use crate::cluster::pods::PodFactory;
use crate::control::ControlPlane;
use crate::load::{Answer, Plan};
use crate::scenario::Scenario;
use crate::strategy::Strategy;
use std::time::Duration;

/// A strategy's run itself failed (not a request in it).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DriveError(pub String);

/// Where a run happens: turmoil's simulated network (`backend::sim`) or
/// this machine's sockets in real time (`backend::real`). A backend is also
/// the timeline's [`Fabric`]: it crashes nodes and changes links.
pub(crate) trait Backend: Fabric {
    /// Starts every node's agent; an agent runs the pods `table` places on
    /// its node.
    fn start_nodes(&mut self, nodes: usize, table: &PodTable, control: &ControlPlane);
    /// Returns once the first `count` pods are ready and `settle` has
    /// passed since (so every proxy's view of them is current); returns
    /// the reading of the proxies' metric clock at which the load starts.
    fn started(
        &mut self,
        control: &ControlPlane,
        table: &PodTable,
        count: usize,
        settle: Duration,
    ) -> Result<Duration, DriveError>;
    /// Starts the workload from the `ingress` host; its records go to the
    /// returned ledger.
    fn start_load(&mut self, plan: Plan, control: &ControlPlane) -> loadgen::Ledger<Answer>;
    /// Time since the workload started.
    fn now(&self) -> Duration;
    /// Lets the run go on for one step, ending no later than `next` (run
    /// time of the next timeline action, so it is applied on time); true
    /// once the workload is done.
    fn step(&mut self, next: Option<Duration>) -> Result<bool, DriveError>;
    /// Lets time pass for one step once the workload is done.
    fn idle(&mut self, next: Option<Duration>) -> Result<(), DriveError>;
    /// True when nothing but the driver could wake any task before the
    /// run's `time_limit`: no timer due by then, nothing in flight. Then
    /// stepping on to the limit would change nothing. Real sockets never
    /// say so.
    fn quiet(&mut self) -> bool {
        false
    }
}

/// Runs `strategy` of `scenario` on `backend`.
pub(crate) fn drive<B: Backend>(
    scenario: &Scenario,
    strategy: Strategy,
    seed: u64,
    backend: &mut B,
) -> Result<StrategyRun, DriveError> {
    let control = ControlPlane::new();
    let table = PodTable::new();
    let factory = PodFactory::new(scenario, strategy, seed);
    backend.start_nodes(scenario.cluster.nodes.get() as usize, &table, &control);
    let initial: Vec<_> = (0..scenario.stockweb.replicas.get())
        .map(|j| factory.stockweb(j))
        .chain((0..scenario.stockdata.replicas.get()).map(|i| factory.stockdata(i)))
        .collect();
    let count = initial.len();
    for spec in initial {
        let addr = backend.endpoint_addr(&spec);
        control.add_endpoint(spec.service, &spec.name, addr);
        // Initial pods are ready as soon as they listen.
        table.insert(spec, Duration::ZERO);
    }
    // The load starts on a settled cluster: a proxy that learns of
    // endpoints `discovery_delay` late (Istio's debounce) would otherwise
    // see only the replicas that happened to be ready when its pod
    // started, and send the first 100 ms of calls to them alone.
    let origin = backend.started(&control, &table, count, factory.discovery_delay())?;

    let plan = Plan::of(scenario, seed);
    let (warmup, target) = (plan.warmup, plan.target);
    let ledger = backend.start_load(plan, &control);
    let mut queue = ActionQueue::default();
    actions::expand(scenario, &mut queue);
    let mut timeline = Timeline {
        scenario,
        queue,
        table: &table,
        control: &control,
        factory: &factory,
    };
    let mut events = Vec::new();
    loop {
        timeline.apply_due(backend, &mut events)?;
        if backend.now() >= scenario.time_limit.0 {
            // Pages still loading: the same error whoever stopped them.
            all_pages_finished(scenario, &ledger.take())?;
            return Err(DriveError(format!(
                "the workload did not finish within time_limit ({})",
                scenario.time_limit
            )));
        }
        if backend.step(timeline.queue.next_due())? {
            break;
        }
        if timeline.queue.next_due().is_none() && backend.quiet() {
            // The rest of the run to `time_limit` is known: nothing.
            let never_sent = ledger.never_sent();
            return Err(went_quiet(
                scenario,
                backend.now(),
                (&ledger.take(), never_sent),
            ));
        }
    }
    let elapsed = backend.now();
    // The workload is over, but servers may still be working on calls
    // their callers gave up on (`honor_cancellation = false`): let them
    // finish, so that work is in the ledger, without moving the run's end.
    // The timeline goes on meanwhile (a pause still on is lifted on time),
    // though nothing it does now is reported.
    let mut after = Vec::new();
    while table.stockdata_busy() && backend.now() < scenario.time_limit.0 {
        timeline.apply_due(backend, &mut after)?;
        backend.idle(timeline.queue.next_due())?;
    }
    let never_sent = ledger.never_sent();
    let requests = ledger.take();
    all_pages_finished(scenario, &requests)?;
    Ok(run::finish(
        strategy,
        (requests, never_sent),
        (warmup, target),
        elapsed,
        &table,
        events,
        origin,
    ))
}

/// The fixed schedule waits for every page until the time limit; one
/// still unfinished there means the run reached it, which fails the run
/// (a workload's drain, shorter than the limit, instead ends it with the
/// rest reported as in flight).
fn all_pages_finished(
    scenario: &Scenario,
    requests: &[crate::load::RequestRecord],
) -> Result<(), DriveError> {
    if scenario.workload.is_some() {
        return Ok(());
    }
    let unfinished = requests
        .iter()
        .filter(|r| matches!(r.fate(), loadgen::Fate::InFlight))
        .count();
    if unfinished > 0 {
        return Err(DriveError(format!(
            "reached time_limit ({}) with {unfinished} of {} page loads unfinished",
            scenario.time_limit,
            requests.len()
        )));
    }
    Ok(())
}

/// The run's error when it went quiet at `now` with the workload unfinished:
/// it would have reached `time_limit` in that state, so it fails as it
/// would have there, and says which page loads hang.
fn went_quiet(
    scenario: &Scenario,
    now: Duration,
    (requests, never_sent): (&[crate::load::RequestRecord], u64),
) -> DriveError {
    let hung: Vec<u64> = requests
        .iter()
        .filter(|r| matches!(r.fate(), loadgen::Fate::InFlight))
        .map(|r| r.index + 1)
        .collect();
    let what = if scenario.workload.is_some() {
        "requests"
    } else {
        "page loads"
    };
    let listed: Vec<String> = hung.iter().take(10).map(u64::to_string).collect();
    let more = if hung.len() > 10 { ", ..." } else { "" };
    DriveError(format!(
        "nothing could happen any more after {} (no timer due, nothing in flight, no timeline \
         event left), so the run stopped there instead of at time_limit ({}): {} of {} {what} \
         unfinished ({what} {}{more})",
        crate::scenario::SimDuration(now),
        scenario.time_limit,
        hung.len() as u64 + never_sent,
        requests.len() as u64 + never_sent,
        listed.join(", "),
    ))
}

/// The scenario's timeline as the run applies it.
struct Timeline<'a> {
    scenario: &'a Scenario,
    queue: ActionQueue,
    table: &'a PodTable,
    control: &'a ControlPlane,
    factory: &'a PodFactory,
}

impl Timeline<'_> {
    /// Applies the actions due now, then fails the run if a pod failed.
    fn apply_due<B: Backend>(
        &mut self,
        backend: &mut B,
        events: &mut Vec<(Duration, String)>,
    ) -> Result<(), DriveError> {
        let now = backend.now();
        let mut world = World {
            fabric: backend,
            table: self.table,
            cluster: self.control,
            factory: self.factory,
            scenario: self.scenario,
        };
        actions::apply_due(&mut self.queue, now, &mut world, events).map_err(DriveError)?;
        match self.table.failures().first() {
            Some(failure) => Err(DriveError(format!("pod failed: {failure}"))),
            None => Ok(()),
        }
    }
}
