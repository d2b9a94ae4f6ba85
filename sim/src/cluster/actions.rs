//! The timeline, applied to the cluster.
//!
//! Each scenario event expands into primitive steps at run times (its
//! kind's module says which: a `slow` is "set factor" then "reset
//! factor"); a rolling restart is a sequence of pod starts and stops
//! computed here when it begins. The driver applies due steps between
//! backend steps, so in the simulator every step happens exactly on a tick
//! boundary, in a deterministic order.

use super::fabric::Fabric;
use super::kubelet::PodTable;
use super::pods::{PodFactory, PodKind};
use crate::control::ControlPlane;
use crate::scenario::Scenario;
use crate::scenario::timeline::{Expand, Links, Step, Steps};
use crate::topology::{self, MAX_STOCKDATA_SLOTS, STOCKDATA, STOCKDATA_POD_PORT_BASE};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Actions by due time; ties in insertion order.
#[derive(Default)]
pub(crate) struct ActionQueue {
    queue: BTreeMap<(Duration, u64), (Step, Option<String>)>,
    seq: u64,
}

impl ActionQueue {
    pub fn push(&mut self, at: Duration, action: Step, label: Option<String>) {
        self.queue.insert((at, self.seq), (action, label));
        self.seq += 1;
    }

    /// When the next action is due, if any is left.
    pub fn next_due(&self) -> Option<Duration> {
        self.queue.first_key_value().map(|(&(at, _), _)| at)
    }

    /// Removes and returns the next action due at or before `now`.
    pub fn pop_due(&mut self, now: Duration) -> Option<(Duration, Step, Option<String>)> {
        let (&(at, seq), _) = self.queue.first_key_value()?;
        if at > now {
            return None;
        }
        self.queue.remove(&(at, seq)).map(|(a, l)| (at, a, l))
    }
}

/// Expands the scenario's timeline: each occurrence into its kind's
/// steps (see `scenario::timeline::kinds`), the first labelled with the
/// event as written.
pub(crate) fn expand(scenario: &Scenario, queue: &mut ActionQueue) {
    let hosts = scenario.known_hosts();
    let cx = Expand {
        base_latency: scenario.cluster.latency.0,
        hosts: &hosts,
    };
    for event in &scenario.timeline {
        for t in event.occurrences() {
            let mut steps = Steps::new(t);
            event.action().steps(&cx, &mut steps);
            let mut label = Some(event.describe());
            for (at, step) in steps.into_vec() {
                queue.push(at, step, label.take());
            }
        }
    }
}

/// Applies every action of `queue` due at `now` to `world`, recording the
/// labelled ones (the timeline as applied) in `events`. The driver calls it
/// between the backend's steps.
pub(crate) fn apply_due<F: Fabric>(
    queue: &mut ActionQueue,
    now: Duration,
    world: &mut World<'_, F>,
    events: &mut Vec<(Duration, String)>,
) -> Result<(), String> {
    while let Some((at, action, label)) = queue.pop_due(now) {
        world
            .apply(now, action, queue)
            .map_err(|e| format!("timeline action at {at:?}: {e}"))?;
        if let Some(label) = label {
            events.push((at, label));
        }
    }
    Ok(())
}

pub(crate) struct World<'a, F> {
    pub fabric: &'a mut F,
    pub table: &'a PodTable,
    pub cluster: &'a ControlPlane,
    pub factory: &'a PodFactory,
    pub scenario: &'a Scenario,
}

impl<F: Fabric> World<'_, F> {
    /// Applies `action` at `now`; may queue follow-up actions.
    pub fn apply(
        &mut self,
        now: Duration,
        action: Step,
        queue: &mut ActionQueue,
    ) -> Result<(), String> {
        match action {
            Step::KillPod(pod) => self.table.stop(&pod),
            Step::DeletePod(pod) => self.table.delete(&pod),
            Step::StartPod(pod, ready_after) => self.table.start(&pod, ready_after),
            Step::SetReady(pod, ready) => self.set_ready(&pod, ready),
            Step::SetSlowdown(pod, f) => self.control(&pod)?.set_slowdown(f),
            Step::SetPaused(pod, p) => self.control(&pod)?.set_paused(p),
            Step::SetErrors(pod, f) => self.control(&pod)?.update_faults(|x| x.errors = f),
            Step::SetOverload(pod, f) => self.control(&pod)?.update_faults(|x| x.overload = f),
            Step::SetFlakes(f) => {
                for p in self.table.all() {
                    if let PodKind::StockData { control, .. } = p.spec.kind {
                        control.update_faults(|x| x.flakes = f);
                    }
                }
            }
            Step::CrashNode(n) => self.fabric.crash(n),
            Step::NodePodsUnready(n) => {
                if !self.fabric.is_running(n) {
                    for p in self.table.all().iter().filter(|p| p.spec.node == n) {
                        self.cluster.set_ready(&p.spec.name, false);
                    }
                }
            }
            Step::RestartNode(n) => self.fabric.bounce(n),
            Step::Partition(a, b) => {
                for x in &a {
                    for y in &b {
                        self.fabric.hold(x, y);
                    }
                }
            }
            Step::Heal(a, b) => {
                for x in &a {
                    for y in &b {
                        self.fabric.release(x, y);
                    }
                }
            }
            Step::SetLoss(a, b, rate) => {
                for x in &a {
                    for y in &b {
                        self.fabric.set_loss(x, y, rate);
                    }
                }
            }
            Step::SetLatency(links, latency) => {
                let pairs: Vec<(String, String)> = match links {
                    Links::Between(a, b) => vec![(a, b)],
                    Links::Host(a) => self
                        .scenario
                        .known_hosts()
                        .into_iter()
                        .filter(|h| *h != a)
                        .map(|h| (a.clone(), h))
                        .collect(),
                };
                for (a, b) in pairs {
                    self.fabric.set_latency(&a, &b, latency);
                }
            }
            Step::Scale(replicas, ready_after) => self.scale(replicas, ready_after)?,
            Step::AddPod(ready_after) => {
                self.add_stockdata_pod(ready_after)?;
            }
            Step::RollingRestart {
                surge,
                ready_after,
                grace,
            } => self.rolling_restart(now, surge, ready_after, grace, queue)?,
        }
        Ok(())
    }

    /// Back in its endpoints only if it still runs: a pod that was
    /// deleted, killed or is on a crashed node since stays out (its own
    /// start makes it ready).
    fn set_ready(&mut self, pod: &str, ready: bool) {
        let running = |w: &mut Self| {
            w.table
                .get(pod)
                .is_some_and(|p| p.desired && !p.deleted && w.fabric.is_running(p.spec.node))
        };
        if !ready || running(self) {
            self.cluster.set_ready(pod, ready);
        }
    }

    fn control(&self, pod: &str) -> Result<stockdata::ReplicaControl, String> {
        match self.table.get(pod).map(|p| p.spec.kind) {
            Some(PodKind::StockData { control, .. }) => Ok(control),
            _ => Err(format!("{pod} is not a StockData pod")),
        }
    }

    fn stockdata_pods(&self) -> Vec<(u32, bool)> {
        let mut pods: Vec<(u32, bool)> = self
            .table
            .all()
            .into_iter()
            .filter(|p| p.spec.service == STOCKDATA)
            .filter_map(|p| topology::pod_index(STOCKDATA, &p.spec.name).map(|i| (i, p.desired)))
            .collect();
        pods.sort();
        pods
    }

    /// Adds a new StockData pod: a fresh name (the next index, as a
    /// Deployment's pods get new names) on the lowest port no live pod holds.
    /// The limit is on pods alive at once, not on names ever used.
    fn add_stockdata_pod(&mut self, ready_after: Duration) -> Result<String, String> {
        let next = self
            .stockdata_pods()
            .last()
            .map(|(i, _)| i + 1)
            .unwrap_or(0);
        let held: BTreeSet<u16> = self
            .table
            .all()
            .into_iter()
            .filter(|p| p.spec.service == STOCKDATA && !p.deleted)
            .map(|p| p.spec.port)
            .collect();
        let slot = (0..MAX_STOCKDATA_SLOTS)
            .find(|s| !held.contains(&(STOCKDATA_POD_PORT_BASE + *s as u16)))
            .ok_or_else(|| {
                format!(
                    "more than {MAX_STOCKDATA_SLOTS} StockData pods alive at once (replicas, \
                     surge pods and pods in their grace period)"
                )
            })?;
        let spec = self.factory.stockdata_in_slot(next, slot);
        let addr = self.fabric.endpoint_addr(&spec);
        self.cluster.add_endpoint(STOCKDATA, &spec.name, addr);
        let name = spec.name.clone();
        self.table.insert(spec, ready_after);
        Ok(name)
    }

    fn scale(&mut self, replicas: u32, ready_after: Duration) -> Result<(), String> {
        let running: Vec<u32> = self
            .stockdata_pods()
            .into_iter()
            .filter(|(_, d)| *d)
            .map(|(i, _)| i)
            .collect();
        let have = running.len() as u32;
        for _ in have..replicas {
            self.add_stockdata_pod(ready_after)?;
        }
        // Scale down removes the newest pods first, as a ReplicaSet may.
        for i in running
            .iter()
            .rev()
            .take(have.saturating_sub(replicas) as usize)
        {
            let pod = topology::pod_name(STOCKDATA, *i);
            self.cluster.set_ready(&pod, false);
            self.table.delete(&pod);
        }
        Ok(())
    }

    /// Replaces every running StockData pod, one at a time.
    fn rolling_restart(
        &mut self,
        now: Duration,
        surge: bool,
        ready_after: Duration,
        grace: Duration,
        queue: &mut ActionQueue,
    ) -> Result<(), String> {
        let old: Vec<String> = self
            .stockdata_pods()
            .into_iter()
            .filter(|(_, d)| *d)
            .map(|(i, _)| topology::pod_name(STOCKDATA, i))
            .collect();
        let mut t = now;
        for pod in old {
            if surge {
                // maxSurge 1, maxUnavailable 0: a new pod first; the old one
                // leaves once the new one is ready.
                queue.push(t, Step::AddPod(ready_after), None);
                t += ready_after;
                queue.push(t, Step::SetReady(pod.clone(), false), None);
                queue.push(t + grace, Step::DeletePod(pod), None);
            } else {
                // maxSurge 0, maxUnavailable 1: restart in place.
                queue.push(t, Step::SetReady(pod.clone(), false), None);
                queue.push(t + grace, Step::StartPod(pod, ready_after), None);
                t += grace + ready_after;
            }
        }
        Ok(())
    }
}
