//! What a report keeps, and how finely: the time series' bucket (a setting,
//! with a default chosen from the run's length), throughput over the
//! measured window, and page-load detail only when asked for.

use sim::Scenario;

fn bundled(name: &str) -> Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.toml"));
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn run(scenario: &Scenario) -> reports::Report {
    sim::run(scenario, scenario.seed, |_| {})
        .unwrap_or_else(|e| panic!("seed {}: {e}", scenario.seed))
}

#[test]
fn a_short_run_gets_100_ms_buckets_so_a_one_second_fault_is_visible() {
    // replica-crash: 4 s of load, stockdata-0 down from 1 s to 2 s.
    let scenario = bundled("replica-crash");
    let report = run(&scenario);
    let pinned = &report.strategies[0];
    assert_eq!(pinned.name, "cached-dns");
    assert_eq!(pinned.series_bucket_ms, 100.0);
    let failing: Vec<u64> = pinned
        .series
        .iter()
        .filter(|p| p.call_errors > 0)
        .map(|p| (p.start_ms.expect("schema 3") / 100.0).round() as u64)
        .collect();
    // The outage shows as several points within [1 s, 2.5 s) (the pages of
    // the StockWeb pod pinned to stockdata-0, every other 100 ms).
    assert!(failing.len() >= 4, "seed {}: {failing:?}", scenario.seed);
    assert!(
        failing.iter().all(|b| (10..25).contains(b)),
        "seed {}: {failing:?}",
        scenario.seed
    );

    // One-second buckets, as set: the same calls, fewer points.
    let mut coarse = scenario.clone();
    coarse.report.series_bucket = Some("1s".parse().expect("duration"));
    let coarse = run(&coarse);
    let c = &coarse.strategies[0];
    assert_eq!(c.series_bucket_ms, 1000.0);
    assert!(c.series.len() * 5 < pinned.series.len());
    let coarse_failing = c.series.iter().filter(|p| p.call_errors > 0).count();
    assert!(
        coarse_failing <= 2,
        "seed {}: {coarse_failing}",
        scenario.seed
    );
    let calls = |s: &reports::StrategyReport| s.series.iter().map(|p| p.calls).sum::<u64>();
    assert_eq!(calls(c), calls(pinned));
}

#[test]
fn the_default_bucket_follows_the_run_length() {
    let mut s = bundled("stockweb-demo");
    assert_eq!(s.series_bucket().as_millis(), 100, "1 s of page loads");
    s.load.page_loads = 200;
    assert_eq!(s.series_bucket().as_millis(), 1000, "20 s");
    s.load.page_loads = 4000;
    assert_eq!(s.series_bucket().as_millis(), 10_000, "400 s");
}

#[test]
fn throughput_is_over_the_measured_window_not_the_drain() {
    // Ten page loads of 100 calls, 100 ms apart: 1,000 calls in 1 s,
    // whichever strategy finishes its last page sooner.
    let report = run(&bundled("stockweb-demo"));
    for s in &report.strategies {
        assert_eq!(s.measured_ms, 1000.0, "{}", s.name);
        assert_eq!(s.throughput_rps(), 1000.0, "{}", s.name);
        assert!(s.sim_time_ms > 1000.0, "{}: the drain is longer", s.name);
    }
}

#[test]
fn page_loads_are_summarised_unless_the_detail_is_asked_for() {
    let mut scenario = bundled("stockweb-demo");
    let report = run(&scenario);
    let json = String::from_utf8(report.to_json_bytes().expect("json")).expect("utf-8");
    assert!(!json.contains("\"page_loads\""), "no detail by default");
    let pinned = &report.strategies[0];
    assert!(pinned.page_loads.is_empty());
    let pages = pinned.pages.expect("summary");
    assert_eq!((pages.count, pages.pinned, pages.with_errors), (10, 10, 0));
    assert_eq!(reports::summary::row(pinned).pinned_pages, (10, 10));

    scenario.report.page_detail = true;
    let detailed = run(&scenario);
    assert_eq!(detailed.strategies[0].page_loads.len(), 10);
    assert_eq!(detailed.strategies[0].pages, Some(pages));
    let detailed = String::from_utf8(detailed.to_json_bytes().expect("json")).expect("utf-8");
    assert_eq!(detailed.matches("\"stockweb_pod\"").count(), 2 * 10);
}

#[test]
fn a_series_bucket_must_be_whole_milliseconds_and_bounded() {
    let base = "strategies = [\"cached-dns\"]\n[report]\n";
    for (bucket, want) in [
        ("0ms", "expected a whole number of milliseconds above 0"),
        ("1500us", "expected a whole number of milliseconds above 0"),
        ("1ms", "600000 buckets up to the time limit (600s)"),
    ] {
        let e = Scenario::parse(&format!("{base}series_bucket = \"{bucket}\"\n"), "b.toml")
            .expect_err(bucket)
            .to_string();
        assert!(
            e.contains("report.series_bucket") && e.contains(want),
            "{bucket}: {e}"
        );
    }
    let e = Scenario::parse(&format!("{base}bucket = \"1s\"\n"), "b.toml")
        .expect_err("unknown key")
        .to_string();
    assert!(e.contains("b.toml:3:1"), "{e}");
}
