//! The report's request accounting, checked against counts kept where the
//! work happened, so it cannot hold by construction.
//!
//! Three independent counts meet here: the browser's (loadgen's ledger: each
//! workload request issued, completed, failed or in flight), the app's
//! (StockWeb counts each call as it makes it, in a counter that outlives
//! the pod's process), and the sidecars' (each request the proxy received
//! from its app). A call whose page load failed appears in no answer, so
//! the app's count exceeds the answered calls by at most the calls of the
//! failed and unfinished requests; and every call the app made goes
//! through its sidecar, so the sidecars' count falls short of the app's by
//! at most the unanswered calls (still on their way when the run ended).

use crate::scenario::Target;
use reports::StrategyReport;
use stockweb::PAGE_IDS;

/// Checks one strategy's report `s` (of a `target` workload); the error
/// says which count disagrees with which.
pub fn check(target: Target, s: &StrategyReport) -> Result<(), String> {
    let bug = |what: String| {
        Err(format!(
            "requests unaccounted for: {what} (a bug in meshsim)"
        ))
    };
    let r = &s.requests;
    let errors: u64 = r.errors.values().sum();
    if let Some(w) = &s.workload
        && w.issued != w.completed + w.failed + w.in_flight_at_end
    {
        return bug(format!(
            "{} issued, {} completed + {} failed + {} in flight",
            w.issued, w.completed, w.failed, w.in_flight_at_end
        ));
    }
    if r.sent != r.ok + errors + r.unanswered {
        return bug(format!(
            "the app made {} calls; {} OK + {errors} errors + {} unanswered",
            r.sent, r.ok, r.unanswered
        ));
    }
    let per_request = match target {
        Target::Page => PAGE_IDS.count() as u64,
        Target::Get => 1,
    };
    let unfinished = s
        .workload
        .as_ref()
        .map_or(0, |w| w.failed + w.in_flight_at_end);
    if r.unanswered > unfinished * per_request {
        return bug(format!(
            "{} calls without an answer, more than the {per_request} of each of {unfinished} \
             failed or unfinished requests",
            r.unanswered
        ));
    }
    // Only sidecar strategies have a proxy section. Every call the app made
    // goes to its sidecar, but one can still be on its way when the run
    // ends (waiting in the app's HTTP/2 client for a stream slot, say) or
    // die with its pod: such a call is unanswered, so the gap is bounded.
    if let Some(p) = &s.proxy
        && (p.requests > r.sent || r.sent - p.requests > r.unanswered)
    {
        return bug(format!(
            "the app made {} calls, its sidecars received {} ({} unanswered)",
            r.sent, p.requests, r.unanswered
        ));
    }
    Ok(())
}
