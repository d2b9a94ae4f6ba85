//! Every bundled scenario runs, is deterministic, and accounts for every
//! request; and its report is byte-identical to the checked-in baseline in
//! `scenarios/baselines/` (the CI regression set, and a check that
//! determinism holds across processes, builds and machines).
//!
//! A change that alters results on purpose re-blesses the baselines:
//! `MESHSIM_BLESS=1 cargo test -p sim --test simulation scenarios`, then review the
//! diff like any other change.

use std::path::{Path, PathBuf};

fn bundled() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_bundle_is_complete() {
    let names: Vec<String> = bundled()
        .iter()
        .map(|p| p.file_stem().expect("stem").to_string_lossy().into_owned())
        .collect();
    for want in [
        "stockweb-demo",
        "replica-crash",
        "node-blackhole",
        "slow-replica",
        "latency-spike",
        "partition",
        "scale-out",
        "rolling-restart",
        "retry-storm",
        "fast-errors",
        "slow-errors",
        "all-errors",
        "one-big-spike",
        "rare-flakes",
        "black-hole",
        "drastic-slowdown",
        "two-paths",
        "load-reports",
        "fifty-replicas",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "scenarios/{want}.toml is missing"
        );
    }
}

#[test]
fn every_bundled_scenario_runs_deterministically_and_accounts_for_every_request() {
    for path in bundled() {
        let scenario = sim::Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with('#'),
            "{}: starts with a comment saying what it shows",
            path.display()
        );
        let seed = scenario.seed;
        let a =
            sim::run(&scenario, seed, |_| {}).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let b =
            sim::run(&scenario, seed, |_| {}).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (ja, jb) = (
            a.to_json_bytes().expect("json"),
            b.to_json_bytes().expect("json"),
        );
        assert!(
            ja == jb,
            "{} is not deterministic (rerun with MESHSIM_SEED={seed})",
            path.display()
        );
        check_baseline(&path, &ja);
        for s in &a.strategies {
            let w = s.workload.as_ref().expect("workload report");
            assert!(
                w.issued > 0,
                "{} {}: nothing issued",
                path.display(),
                s.name
            );
            assert_eq!(
                w.issued,
                w.completed + w.failed + w.in_flight_at_end,
                "{} {}: requests unaccounted for",
                path.display(),
                s.name
            );
            let errors: u64 = s.requests.errors.values().sum();
            assert_eq!(
                s.requests.sent,
                s.requests.ok + errors,
                "{} {}: calls unaccounted for",
                path.display(),
                s.name
            );
            assert_eq!(
                s.per_replica.values().sum::<u64>(),
                s.requests.ok,
                "{} {}",
                path.display(),
                s.name
            );
        }
        assert_eq!(
            a.timeline.len(),
            scenario
                .timeline
                .iter()
                .map(|e| e.occurrences().count())
                .sum::<usize>()
        );
    }
}

/// Compares a report with `scenarios/baselines/<name>.json` (or writes it
/// when `MESHSIM_BLESS=1`).
fn check_baseline(scenario: &Path, report: &[u8]) {
    let stem = scenario.file_stem().expect("stem").to_string_lossy();
    let baseline = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/baselines")
        .join(format!("{stem}.json"));
    if std::env::var_os("MESHSIM_BLESS").is_some() {
        std::fs::write(&baseline, report).expect("write baseline");
        return;
    }
    let want = std::fs::read(&baseline).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with MESHSIM_BLESS=1 cargo test -p sim --test simulation scenarios",
            baseline.display()
        )
    });
    if want != report {
        let got = String::from_utf8_lossy(report);
        let want = String::from_utf8_lossy(&want);
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "{} differs from {} at line {}:\n  baseline: {}\n  now:      {}\n\
             If the change is intended, re-bless with MESHSIM_BLESS=1 cargo test -p sim --test simulation scenarios",
            scenario.display(),
            baseline.display(),
            line + 1,
            want.lines().nth(line).unwrap_or("<end>"),
            got.lines().nth(line).unwrap_or("<end>"),
        );
    }
}
