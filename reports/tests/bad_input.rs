//! report.json files that parse but cannot be rendered are refused when
//! read, naming the field; and the charts stay bounded whatever a report
//! holds.

mod common;

use common::{baseline, baseline_path};
use reports::charts::{self, MAX_CHART_BUCKETS, series_buckets};
use reports::validate::{MAX_FIGURE, MIN_SERIES_BUCKET_MS};
use reports::{Report, SeriesPoint};
use serde_json::Value;
use std::sync::mpsc;
use std::time::Duration;

/// A change to a report's JSON.
type Edit = fn(&mut Value);

/// The demo baseline as JSON, changed by `edit`, read back.
fn load_edited(edit: impl FnOnce(&mut Value)) -> Result<Report, String> {
    let bytes = std::fs::read(baseline_path("stockweb-demo")).expect("baseline");
    let mut json: Value = serde_json::from_slice(&bytes).expect("json");
    edit(&mut json);
    let bytes = serde_json::to_vec(&json).expect("serialises");
    Report::from_json_slice(&bytes).map_err(|e| e.to_string())
}

#[test]
fn a_zero_series_bucket_is_refused_when_read() {
    // N06: `series_bucket_ms: 0` made `meshsim report` and `compare --html`
    // spin forever (every rate infinite, so an infinite chart axis).
    let err = load_edited(|j| {
        for s in j["strategies"].as_array_mut().expect("strategies") {
            s["series_bucket_ms"] = 0.0.into();
        }
    })
    .expect_err("refused");
    assert_eq!(
        err,
        "strategies[0].series_bucket_ms: 0 is not a bucket width: expected from 0.001 to 1e15 ms"
    );
}

#[test]
fn figures_out_of_range_are_refused_naming_the_field() {
    let cases: [(&str, Edit); 7] = [
        ("strategies[1].series_bucket_ms: -100", |j| {
            j["strategies"][1]["series_bucket_ms"] = (-100.0).into()
        }),
        (
            "strategies[0].series_bucket_ms: 1e-7 is not a bucket width",
            |j| j["strategies"][0]["series_bucket_ms"] = 1e-7.into(),
        ),
        ("strategies[0].series_bucket_ms: 1e300", |j| {
            j["strategies"][0]["series_bucket_ms"] = 1e300.into()
        }),
        (
            "strategies[1].series[2].p99_ms: 1.7976931348623157e308",
            |j| j["strategies"][1]["series"][2]["p99_ms"] = f64::MAX.into(),
        ),
        ("strategies[0].latency_ms.p50: -1", |j| {
            j["strategies"][0]["latency_ms"]["p50"] = (-1.0).into()
        }),
        ("strategies[0].series[0].error_rate: 2 is not a rate", |j| {
            j["strategies"][0]["series"][0]["error_rate"] = 2.0.into()
        }),
        (
            "strategies[0].requests: 1001 ok + 0 errors + 0 unanswered is more than the 1000",
            |j| j["strategies"][0]["requests"]["ok"] = 1001.into(),
        ),
    ];
    for (want, edit) in cases {
        let err = load_edited(edit).expect_err(want);
        assert!(err.starts_with(want), "{err}\nwanted {want}");
    }
    let err = load_edited(|j| {
        j["timeline"] = serde_json::json!([{"at_ms": 2e15, "event": "kill-pod pod=x"}]);
    })
    .expect_err("refused");
    assert!(
        err.starts_with("timeline[0].at_ms: 2e15 is out of range"),
        "{err}"
    );
}

#[test]
fn the_bounds_admit_every_checked_in_baseline_and_their_edges() {
    let dir = baseline_path("stockweb-demo");
    let dir = dir.parent().expect("baselines");
    let mut read = 0;
    for entry in std::fs::read_dir(dir).expect("baselines") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let bytes = std::fs::read(&path).expect("read");
            Report::from_json_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            read += 1;
        }
    }
    assert!(read >= 10, "{read} baselines");
    load_edited(|j| {
        j["strategies"][0]["series_bucket_ms"] = MIN_SERIES_BUCKET_MS.into();
        j["strategies"][1]["series_bucket_ms"] = MAX_FIGURE.into();
        j["strategies"][1]["latency_ms"]["max"] = MAX_FIGURE.into();
    })
    .expect("the bounds themselves are allowed");
}

/// Renders every chart of `report` on another thread; fails if that takes
/// longer than a minute (a chart library on an infinite axis never ends).
fn render_within_a_minute(report: Report) -> Vec<charts::Chart> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(charts::render_report(&report).map_err(|e| e.to_string()));
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("charts rendered within a minute")
        .expect("charts render")
}

#[test]
fn charts_of_an_unchecked_report_finish() {
    // What sim builds in memory is never read back through the check: the
    // charts guard themselves too.
    let mut report = baseline("stockweb-demo");
    report.strategies[0].series_bucket_ms = 0.0;
    report.strategies[1].series[1].p99_ms = f64::MAX;
    report.strategies[1].series[2].p99_ms = f64::NAN;
    let rendered = render_within_a_minute(report.clone());
    let series = rendered
        .iter()
        .find(|c| c.name == "timeseries")
        .expect("time series chart");
    assert!(series.svg.contains("p99 latency (ms)"));
    // The bucketless strategy has no line; the other one does.
    assert!(series_buckets(&report.strategies[0]).is_empty());
    assert_eq!(
        series_buckets(&report.strategies[1]).len(),
        report.strategies[1].series.len()
    );
}

fn point(start_ms: f64, throughput: u64, calls: u64, call_errors: u64, p99_ms: f64) -> SeriesPoint {
    SeriesPoint {
        second: (start_ms / 1000.0) as u64,
        start_ms: Some(start_ms),
        throughput,
        p50_ms: p99_ms / 2.0,
        p99_ms,
        calls,
        call_errors,
        error_rate: if calls == 0 {
            0.0
        } else {
            call_errors as f64 / calls as f64
        },
        retries: 0,
    }
}

#[test]
fn a_long_series_is_drawn_in_at_most_the_bounded_number_of_buckets() {
    let mut report = baseline("stockweb-demo");
    let s = &mut report.strategies[0];
    s.series_bucket_ms = 1.0;
    // 100,000 one-millisecond buckets: 3 requests and 10 calls each, one
    // failed call in every tenth, a p99 spike at 50 s.
    s.series = (0..100_000u64)
        .map(|i| {
            let p99 = if i == 50_000 { 900.0 } else { 20.0 };
            point(i as f64, 3, 10, u64::from(i % 10 == 0), p99)
        })
        .collect();
    let drawn = series_buckets(s);
    assert!(drawn.len() <= MAX_CHART_BUCKETS, "{}", drawn.len());
    assert_eq!(drawn.len(), MAX_CHART_BUCKETS);
    // Nothing lost: every request counted once, the rate over the wider
    // buckets, the error rate of the merged calls, the spike kept.
    assert_eq!(drawn.iter().map(|b| b.throughput).sum::<u64>(), 300_000);
    let width = drawn[0].width_s;
    assert!((width - 0.1).abs() < 1e-9, "{width}");
    assert!(drawn.iter().all(|b| (b.error_rate - 0.01).abs() < 1e-12));
    assert_eq!(drawn.iter().filter(|b| b.p99_ms == 900.0).count(), 1);
    let chart = charts::TimeSeriesChart::from_report(&report).expect("series");
    for panel in &chart.panels {
        assert!(panel.lines[0].1.len() <= MAX_CHART_BUCKETS);
    }
    assert!((chart.end_s - 100.0).abs() < 0.2, "{}", chart.end_s);

    // A sparse series over a huge span: two buckets, a year apart.
    let s = &mut report.strategies[1];
    s.series_bucket_ms = 1.0;
    s.series = vec![point(0.0, 5, 5, 0, 10.0), point(3.15e10, 7, 7, 0, 10.0)];
    let drawn = series_buckets(s);
    assert_eq!(drawn.len(), 2);
    assert_eq!(
        drawn.iter().map(|b| b.throughput).collect::<Vec<_>>(),
        [5, 7]
    );
    render_within_a_minute(report);
}
