//! `[cluster]` placement and loss, and every HTTP/2 window.

use super::Invalid;
use crate::scenario::{Scenario, ScenarioError};
use crate::topology;
use stockdata::transport::h2::{MAX_WINDOW, MIN_WINDOW};

/// Placement, loss and the HTTP/2 windows.
pub(super) fn network(s: &Scenario, v: &Invalid) -> Result<(), ScenarioError> {
    let invalid = |field: &str, message: String| v.at(field, message);
    let known = s.known_pods();
    let nodes: Vec<String> = (0..s.cluster.nodes.get())
        .map(|n| topology::node_name(n as usize))
        .collect();
    for (pod, node) in &s.cluster.placement {
        if !known.contains(pod) {
            return Err(invalid(
                "cluster.placement",
                format!("unknown pod `{pod}`; expected one of {}", known.join(", ")),
            ));
        }
        if !nodes.contains(node) {
            return Err(invalid(
                "cluster.placement",
                format!(
                    "`{pod}` on unknown node `{node}`; expected one of {}",
                    nodes.join(", ")
                ),
            ));
        }
    }
    if !(0.0..=1.0).contains(&s.cluster.loss) {
        return Err(invalid(
            "cluster.loss",
            "expected a probability from 0 to 1".into(),
        ));
    }
    for (field, window) in [
        (
            "stockdata.initial_stream_window",
            Some(s.stockdata.initial_stream_window),
        ),
        (
            "stockdata.initial_connection_window",
            Some(s.stockdata.initial_connection_window),
        ),
        (
            "stockweb.initial_stream_window",
            Some(s.stockweb.initial_stream_window),
        ),
        (
            "stockweb.initial_connection_window",
            Some(s.stockweb.initial_connection_window),
        ),
        (
            "sidecar.initial_stream_window",
            s.sidecar.initial_stream_window,
        ),
        (
            "sidecar.initial_connection_window",
            s.sidecar.initial_connection_window,
        ),
    ] {
        if let Some(w) = window.filter(|w| !(MIN_WINDOW..=MAX_WINDOW).contains(w)) {
            return Err(invalid(
                field,
                format!(
                    "expected a window in bytes from {MIN_WINDOW} (HTTP/2's initial \
                     window) to {MAX_WINDOW} (the largest HTTP/2 allows), got {w}"
                ),
            ));
        }
    }
    Ok(())
}
