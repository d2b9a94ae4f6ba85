//! A few chaos seeds in every test run (`meshsim chaos --seeds 1-200` runs
//! hundreds): random valid scenarios must not panic, must write the same
//! report twice, and must account for every request.

#[test]
fn chaos_scenarios_run_deterministically_and_account_for_every_request() {
    // 125: calls still queued in the app's client at the end (a past false
    // alarm of the app = sidecar accounting check).
    for seed in [3, 11, 17, 125] {
        let (text, scenario) =
            sim::chaos::scenario(seed).unwrap_or_else(|| panic!("seed {seed}: no scenario"));
        if let Err(e) = sim::chaos::check(&scenario) {
            panic!("chaos seed {seed}: {e}\n{text}");
        }
    }
}

#[test]
fn chaos_overlapping_windows_on_one_link_are_refused_naming_both() {
    // Parsing only: the validator's answer to each drawn overlap.
    let mut drawn = 0;
    for seed in 0..60 {
        let (text, scenario) =
            sim::chaos::scenario(seed).unwrap_or_else(|| panic!("seed {seed}: no scenario"));
        let Some(bad) = sim::chaos::overlapping(seed, &text, scenario.cluster.nodes.get()) else {
            continue;
        };
        drawn += 1;
        if let Err(e) = sim::chaos::refused(seed, &bad) {
            panic!("chaos seed {seed}: {e}\n{bad}");
        }
    }
    assert!(drawn >= 15, "{drawn} of 60 seeds drew an overlap");
}
