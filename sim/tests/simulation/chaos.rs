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
