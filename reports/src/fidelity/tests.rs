//! Known answers of the comparison.

use super::*;
use crate::{Latency, Requests};

fn strategy(name: &str, split: (u64, u64), p50: f64, errors: &[(&str, u64)]) -> StrategyReport {
    let lat = Latency {
        count: 100,
        mean: p50,
        p50,
        p90: p50 * 2.0,
        p99: p50 * 3.0,
        p999: p50 * 3.0,
        max: p50 * 4.0,
    };
    let failed: u64 = errors.iter().map(|(_, n)| n).sum();
    StrategyReport {
        name: name.into(),
        requests: Requests {
            sent: split.0 + split.1 + failed,
            ok: split.0 + split.1,
            errors: errors.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            unanswered: 0,
        },
        per_replica: [("a".to_string(), split.0), ("b".to_string(), split.1)].into(),
        latency_ms: lat,
        page_loads: vec![],
        pages: None,
        measured_ms: 1000.0,
        measured_ok: split.0 + split.1,
        series_bucket_ms: 1000.0,
        failed_page_loads: 0,
        sim_time_ms: 1000.0,
        per_replica_latency_ms: BTreeMap::new(),
        workload: None,
        series: vec![],
        settings: BTreeMap::new(),
        proxy: None,
        histograms: Default::default(),
        waits: BTreeMap::new(),
        replicas: BTreeMap::new(),
    }
}

fn report(mode: Mode, strategies: Vec<StrategyReport>) -> Report {
    let mut r = Report::new("0", 1, "s", "h", strategies);
    r.mode = mode;
    r.host_cores = (mode == Mode::Real).then_some(2);
    r
}

#[test]
fn shares_ratios_and_verdicts_have_known_answers() {
    let sim = report(
        Mode::Sim,
        vec![
            strategy("rr", (500, 500), 10.0, &[]),
            strategy("pinned", (1000, 0), 20.0, &[]),
        ],
    );
    let real = report(
        Mode::Real,
        vec![
            strategy("rr", (540, 460), 15.0, &[]),
            strategy("pinned", (0, 1000), 50.0, &[("UNKNOWN", 30)]),
        ],
    );
    let f = Fidelity::of(&sim, &real, Tolerances::default()).expect("comparable");
    let rr = &f.rows[0];
    assert!((rr.share_diff_pts - 4.0).abs() < 1e-9, "{rr:?}");
    assert_eq!(rr.ratio, [1.5, 1.5, 1.5]);
    assert!(rr.agrees, "{rr:?}");
    let pinned = &f.rows[1];
    assert!((pinned.share_diff_pts - 100.0).abs() < 1e-9);
    assert!(!pinned.agrees);
    assert_eq!(pinned.outside.len(), 4, "{:?}", pinned.outside);
    // 10 → 15 and 20 → 50: both slower at p50, by 5 and 30 ms.
    assert_eq!(f.findings[0].kind, "cpu-time");
    assert!(
        f.findings[0].text.contains("5.0–30.0 ms"),
        "{:?}",
        f.findings
    );
    assert!(f.same_p99_ranking);
    assert!(!f.agrees());
    assert!(f.markdown().contains("| rr | 4.0 | 10.0 → 15.0 (×1.50)"));
}

#[test]
fn a_different_ranking_and_moved_error_codes_are_named() {
    let sim = report(
        Mode::Sim,
        vec![
            strategy("x", (50, 50), 10.0, &[("UNAVAILABLE", 5)]),
            strategy("y", (50, 50), 20.0, &[]),
        ],
    );
    let real = report(
        Mode::Real,
        vec![
            strategy("x", (50, 50), 30.0, &[("CANCELLED", 5)]),
            strategy("y", (50, 50), 25.0, &[]),
        ],
    );
    let f = Fidelity::of(&sim, &real, Tolerances::default()).expect("comparable");
    assert!(!f.same_p99_ranking);
    assert!(f.findings.iter().any(|x| x.kind == "error-codes"));
}

#[test]
fn slower_real_replicas_are_named_with_their_service_times() {
    let replica = |service: f64| crate::ReplicaReport {
        requests: 100,
        queue_wait_ms: Latency {
            count: 100,
            mean: 0.0,
            p50: 0.0,
            p90: 0.0,
            p99: 0.0,
            p999: 0.0,
            max: 0.0,
        },
        service_ms: Latency {
            count: 100,
            mean: service,
            p50: service,
            p90: service,
            p99: service,
            p999: service,
            max: service,
        },
        work: crate::ServerWork::default(),
    };
    let with = |mode, service| {
        let mut s = strategy("x", (50, 50), 10.0, &[]);
        s.replicas.insert("a".into(), replica(service));
        report(mode, vec![s])
    };
    let f = Fidelity::of(
        &with(Mode::Sim, 4.0),
        &with(Mode::Real, 5.0),
        Tolerances::default(),
    )
    .expect("comparable");
    let found = f.findings.iter().find(|x| x.kind == "service-time");
    assert!(
        found.is_some_and(|x| x.text.contains("5.00 ms") && x.text.contains("+25 %")),
        "{:?}",
        f.findings
    );
    let f = Fidelity::of(
        &with(Mode::Sim, 4.0),
        &with(Mode::Real, 4.1),
        Tolerances::default(),
    )
    .expect("comparable");
    assert!(f.findings.iter().all(|x| x.kind != "service-time"));
}

#[test]
fn only_a_sim_and_a_real_report_of_one_scenario_compare() {
    let sim = report(Mode::Sim, vec![]);
    assert_eq!(
        Fidelity::of(&sim, &sim, Tolerances::default()),
        Err(FidelityError::Modes(Mode::Sim, Mode::Sim))
    );
    let mut real = report(Mode::Real, vec![]);
    real.scenario.name = "other".into();
    assert!(matches!(
        Fidelity::of(&sim, &real, Tolerances::default()),
        Err(FidelityError::Scenario(..))
    ));
}
