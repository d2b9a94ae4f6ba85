//! One run loop for both backends: what the driver decides (the end of a
//! run, its failures) is the same in the simulator and for real.

use sim::backend::{Mode, run_strategy};
use sim::{Scenario, Strategy};

/// Both of the replicas' nodes crash while the first pages are on their
/// way: those pages hang until `time_limit`. Real mode used to exit 0 with
/// a report (0 % ok, pages "in flight") where the simulator failed the run
/// (issue 21, N20); the end-of-run rule now lives once, in the driver.
const HUNG: &str = r#"
strategies = ["cached-dns"]
time_limit = "3s"
[load]
page_loads = 3
[[timeline]]
at = "150ms"
kind = "crash-node"
node = "node-1"
[[timeline]]
at = "151ms"
kind = "crash-node"
node = "node-2"
"#;

#[test]
fn pages_hung_at_time_limit_fail_the_run_on_both_backends_alike() {
    let _one = super::exclusive();
    let scenario = Scenario::parse(HUNG, "hung.toml").unwrap_or_else(|e| panic!("{e}"));
    for mode in [Mode::Simulated, Mode::Real] {
        let err = match run_strategy(mode, &scenario, Strategy::CachedDns, scenario.seed) {
            Ok(run) => panic!(
                "{mode:?}: the run succeeded with {} requests",
                run.requests.len()
            ),
            Err(e) => e.to_string(),
        };
        assert!(
            err.starts_with("reached time_limit (3s) with ")
                && err.ends_with(" page loads unfinished"),
            "{mode:?}: {err}"
        );
        // The first page may finish before the crash (it starts at 100ms
        // and takes ~20ms); the later ones cannot.
        let unfinished: u32 = err["reached time_limit (3s) with ".len()..]
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{mode:?}: {err}"));
        assert!((2..=3).contains(&unfinished), "{mode:?}: {err}");
    }
}
