//! The scenario's name, strategies, sizes, clock and `[load]`.

use super::Invalid;
use crate::scenario::{MAX_PAGE_LOADS, Scenario, ScenarioError};
use crate::topology::{MAX_NODES, MAX_PODS_PER_SERVICE};
use std::collections::BTreeSet;

/// The scenario's name, strategies and sizes, its clock and `[load]`.
pub(super) fn basics(s: &Scenario, v: &Invalid) -> Result<(), ScenarioError> {
    name_and_strategies(s, v)?;
    sizes(s, v)?;
    clock(s, v)?;
    load(s, v)?;
    if let Some(lifetime) = s.stockweb.handler_lifetime
        && lifetime.0.is_zero()
    {
        return Err(v.at(
            "stockweb.handler_lifetime",
            "expected a duration above 0".into(),
        ));
    }
    Ok(())
}

/// A visible name, and at least one strategy, none listed twice.
fn name_and_strategies(s: &Scenario, v: &Invalid) -> Result<(), ScenarioError> {
    if s.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(v.at(
            "name",
            "is empty; expected a name with at least one visible character (it names the \
             output folder, target/meshsim/<name>/)"
                .into(),
        ));
    }
    if s.strategies.is_empty() {
        return Err(v.at("strategies", "expected at least one strategy".into()));
    }
    let mut seen = BTreeSet::new();
    for s in &s.strategies {
        if !seen.insert(*s) {
            return Err(v.at("strategies", format!("`{s}` is listed twice")));
        }
    }
    Ok(())
}

/// Pods per service and nodes within what the simulator can run.
fn sizes(s: &Scenario, v: &Invalid) -> Result<(), ScenarioError> {
    let max_pods = MAX_PODS_PER_SERVICE;
    for (field, n) in [
        ("stockdata.replicas", s.stockdata.replicas.get()),
        ("stockweb.replicas", s.stockweb.replicas.get()),
    ] {
        if n > max_pods {
            return Err(v.at(field, format!("expected at most {max_pods}, got {n}")));
        }
    }
    if s.cluster.nodes.get() > MAX_NODES {
        return Err(v.at(
            "cluster.nodes",
            format!(
                "expected at most {MAX_NODES} (each node is a turmoil host; step cost grows with the cube of the host count), got {}",
                s.cluster.nodes
            ),
        ));
    }
    Ok(())
}

/// A tick of whole milliseconds, shorter than the time limit.
fn clock(s: &Scenario, v: &Invalid) -> Result<(), ScenarioError> {
    if s.tick.0.is_zero() || !s.tick.0.as_nanos().is_multiple_of(1_000_000) {
        return Err(v.at(
            "tick",
            format!(
                "{} is not a whole number of milliseconds; expected 1ms, 2ms, … (tokio timers \
                 have 1 ms resolution, so a shorter tick makes tokio's clock run ahead of the \
                 network's)",
                s.tick
            ),
        ));
    }
    if s.tick >= s.time_limit {
        return Err(v.at(
            "tick",
            format!(
                "{} is not shorter than time_limit ({}); expected a tick below the time limit \
                 (one step would pass it)",
                s.tick, s.time_limit
            ),
        ));
    }
    Ok(())
}

/// `[load]`: how many page loads, and a gap between their starts.
fn load(s: &Scenario, v: &Invalid) -> Result<(), ScenarioError> {
    if s.load.page_loads == 0 {
        return Err(v.at("load.page_loads", "expected at least 1".into()));
    }
    if s.load.page_loads > MAX_PAGE_LOADS {
        return Err(v.at(
            "load.page_loads",
            format!(
                "expected at most {MAX_PAGE_LOADS} (each page load is 100 calls kept until the \
                 report is written), got {}",
                s.load.page_loads
            ),
        ));
    }
    if s.load.interval.0.is_zero() {
        return Err(v.at("load.interval", "expected a duration above 0".into()));
    }
    Ok(())
}
