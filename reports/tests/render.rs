//! Renderings of real reports (the checked-in baselines, produced by
//! `meshsim run`): golden summary, charts, HTML, `.hgrm`.

mod common;

use common::{baseline, baseline_path, decode_png, scratch};
use reports::charts::{self, color_hex};
use reports::{TimelineEntry, hist, html, output, table};
use std::path::Path;

#[test]
fn demo_summary_matches_the_golden_file() {
    let report = baseline("stockweb-demo");
    let got = table::markdown(&report);
    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/stockweb-demo.summary.md");
    if std::env::var_os("MESHSIM_BLESS").is_some() {
        std::fs::write(&golden, &got).expect("bless");
    }
    let want = std::fs::read_to_string(&golden).expect("golden summary.md");
    assert_eq!(
        got, want,
        "summary.md changed; if intended, re-bless with MESHSIM_BLESS=1 cargo test -p reports"
    );
    // The reviewed facts the golden file holds.
    assert!(want.contains("| cached-dns | 1000 | 100.00 |"), "{want}");
    // One row per strategy: the replicas' spread, not each replica.
    assert!(want.contains("| 0.500 | 10/10 | - | 2 | 0.0% | 100.0% |\n"));
    assert!(want.contains("| 1.000 | 0/10 | - | 2 | 50.0% | 50.0% |\n"));
    // Each replica in its own table, a column per strategy.
    assert!(want.contains("| replica | cached-dns | sidecar:round-robin |\n"));
    assert!(want.contains("| stockdata-0 | 1000 (100%) | 500 (50%) |\n"));
    assert!(want.contains("| stockdata-1 | 0 (0%) | 500 (50%) |\n"));
}

#[test]
fn charts_render_as_png_and_svg_with_a_series_per_strategy() {
    let report = baseline("slow-replica");
    let rendered = charts::render_report(&report).expect("charts");
    let names: Vec<&str> = rendered.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "latency-spectrum",
            "latency-cdf",
            "replica-share",
            "server-work",
            "timeseries"
        ]
    );
    for chart in &rendered {
        let (w, h, rgb, color_type) = decode_png(&chart.png);
        assert_eq!(color_type, png::ColorType::Rgb);
        assert_eq!((w, h), chart.size, "{}", chart.name);
        // Non-empty plot area: the middle of the image is not all white,
        // and every strategy's (or replica's) colour is drawn.
        let mid: Vec<&[u8]> = rgb
            .chunks(3)
            .enumerate()
            .filter(|(i, _)| {
                let (x, y) = ((*i as u32) % w, (*i as u32) / w);
                x > w / 8 && x < w * 7 / 8 && y > h / 8 && y < h * 7 / 8
            })
            .map(|(_, px)| px)
            .collect();
        let inked = mid.iter().filter(|px| px.iter().any(|&c| c < 200)).count();
        assert!(
            inked * 100 > mid.len(),
            "{}: only {inked} of {} pixels drawn",
            chart.name,
            mid.len()
        );
        let series = match chart.name.as_str() {
            "replica-share" => report.strategies[0].per_replica.len(),
            // Useful and wasted (in the legend even when none is wasted).
            "server-work" => 2,
            _ => report.strategies.len(),
        };
        for i in 0..series {
            let hex = color_hex(i);
            let want = [
                u8::from_str_radix(&hex[1..3], 16).expect("hex"),
                u8::from_str_radix(&hex[3..5], 16).expect("hex"),
                u8::from_str_radix(&hex[5..7], 16).expect("hex"),
            ];
            assert!(
                rgb.chunks(3).any(|px| px == want),
                "{}: series {i} ({hex}) not drawn in the PNG",
                chart.name
            );
            assert!(
                chart.svg.contains(&format!("stroke=\"{hex}\""))
                    || chart.svg.contains(&format!("fill=\"{hex}\"")),
                "{}: series {i} ({hex}) not in the SVG",
                chart.name
            );
        }
        assert!(chart.svg.starts_with("<svg"), "{}", chart.name);
        assert!(
            chart.svg.contains(&format!(">\n{}\n</text>", chart.title)),
            "{}: titled",
            chart.name
        );
    }
    // One legend entry (one series) per strategy in the line charts.
    for chart in rendered
        .iter()
        .filter(|c| !["replica-share", "server-work"].contains(&c.name.as_str()))
    {
        for s in &report.strategies {
            let label = format!(">\n{}\n</text>", s.name);
            assert_eq!(
                chart.svg.matches(&label).count(),
                1,
                "{}: legend entry for {}",
                chart.name,
                s.name
            );
        }
        // Line charts: one polyline per strategy per panel, plus its legend sample.
        let panels = if chart.name == "timeseries" { 3 } else { 1 };
        for i in 0..report.strategies.len() {
            let n = chart
                .svg
                .matches(&format!("stroke=\"{}\" stroke-width=\"2\"", color_hex(i)))
                .count();
            assert_eq!(n, panels, "{}: lines of strategy {i}", chart.name);
        }
    }
    // Axis labels with units.
    assert!(rendered[0].svg.contains("latency (ms)"));
    assert!(rendered[0].svg.contains("99.9%"));
    assert!(rendered[4].svg.contains("p99 latency (ms)"));
    assert!(rendered[4].svg.contains("throughput (requests/s)"));
    // Bars: strategy names beside them, seconds on the axis.
    assert!(
        rendered[3]
            .svg
            .contains("worker-slot time on every replica (s)")
    );
    for s in &report.strategies {
        assert!(
            rendered[3].svg.contains(&format!(">\n{}\n</text>", s.name)),
            "{}",
            s.name
        );
    }
}

#[test]
fn timeseries_draws_one_labelled_marker_per_timeline_event() {
    let mut report = baseline("replica-crash");
    report.timeline.push(TimelineEntry {
        at_ms: 2500.0,
        event: "slow pod=stockdata-1 factor=10".into(),
    });
    report.timeline.push(TimelineEntry {
        at_ms: 3000.0,
        event: "heal nodes=node-1".into(),
    });
    let chart = charts::TimeSeriesChart::from_report(&report).expect("series");
    let rendered = charts::render(&chart).expect("renders");
    for t in &report.timeline {
        let label = charts::timeseries_event_label(t.at_ms, &t.event);
        assert_eq!(
            rendered
                .svg
                .matches(&format!(">\n{label}\n</text>"))
                .count(),
            1,
            "one label for {label}"
        );
    }
    // Dashed markers: every event in each of the three panels.
    let grey = "stroke=\"#5A5A5A\"";
    let dashes = rendered.svg.matches(grey).count();
    assert!(
        dashes >= report.timeline.len() * 3,
        "{dashes} dash segments"
    );
    let without = {
        let mut r = report.clone();
        r.timeline.clear();
        charts::render(&charts::TimeSeriesChart::from_report(&r).expect("series")).expect("renders")
    };
    assert_eq!(without.svg.matches(grey).count(), 0);
}

#[test]
fn charts_are_deterministic() {
    let report = baseline("scale-out");
    let a = charts::render_report(&report).expect("charts");
    let b = charts::render_report(&report).expect("charts");
    assert_eq!(a, b);
}

#[test]
fn hgrm_round_trips_to_the_reported_percentiles() {
    let report = baseline("slow-replica");
    for s in &report.strategies {
        let h = hist::decode(&s.histograms.calls).expect("histogram");
        assert_eq!(h.len(), s.latency_ms.count, "{}", s.name);
        let text = hist::write_hgrm(&h);
        let rows = hist::parse_hgrm(&text).expect("parses");
        // p50 and p90 are reporting ticks of the percentile iteration.
        assert_eq!(
            hist::hgrm_value_at(&rows, 0.5),
            Some(s.latency_ms.p50),
            "{}",
            s.name
        );
        assert_eq!(
            hist::hgrm_value_at(&rows, 0.9),
            Some(s.latency_ms.p90),
            "{}",
            s.name
        );
        assert_eq!(rows.last().map(|r| r.value_ms), Some(s.latency_ms.max));
        assert_eq!(rows.last().map(|r| r.total_count), Some(s.latency_ms.count));
        // The footer HdrHistogram's tools read.
        assert!(text.contains(&format!("Total count    = {:>12}]", s.latency_ms.count)));
    }
}

#[test]
fn html_is_self_contained_and_shows_table_and_charts() {
    let report = baseline("replica-crash");
    let rendered = charts::render_report(&report).expect("charts");
    let page = html::render(&report, &rendered);
    assert!(page.contains("default-src 'none'"), "CSP forbids fetches");
    for s in &report.strategies {
        assert!(page.contains(&format!("<td>{}</td>", html::escape(&s.name))));
    }
    assert_eq!(page.matches("<svg").count(), rendered.len());
    assert!(
        page.contains("<pre id=\"scenario\">#"),
        "scenario text shown"
    );
    // Nothing that would make a request.
    for needle in [
        "src=", "href=", "url(", "@import", "<script", "<link", "<img",
    ] {
        assert!(!page.contains(needle), "index.html contains {needle}");
    }
}

#[test]
fn write_dir_writes_every_file_and_report_rerenders_identically() {
    let report = baseline("stockweb-demo");
    let dir = scratch("write_dir");
    let written = output::write_dir(&report, &dir).expect("writes");
    let names: Vec<String> = written
        .iter()
        .map(|p| p.strip_prefix(&dir).expect("inside").display().to_string())
        .collect();
    for want in [
        "report.json",
        "summary.md",
        "index.html",
        "charts/latency-spectrum.svg",
        "charts/latency-spectrum.png",
        "charts/latency-cdf.svg",
        "charts/replica-share.png",
        "charts/timeseries.svg",
        "cached-dns.hgrm",
        "sidecar_round-robin.hgrm",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    // report.json round-trips to the same bytes as the baseline.
    let again = std::fs::read(dir.join("report.json")).expect("read");
    let original = std::fs::read(baseline_path("stockweb-demo")).expect("baseline");
    assert_eq!(again, original);
}

#[test]
fn the_server_work_chart_splits_useful_from_wasted_time() {
    let report = baseline("retry-storm");
    let chart = charts::ShareChart::server_work(&report).expect("replicas measured");
    assert_eq!(chart.pods, ["useful", "wasted (errors, abandoned)"]);
    for (s, bar) in report.strategies.iter().zip(&chart.shares) {
        let w = s.server_work();
        assert!(
            (bar[0] + bar[1] - w.busy_ms / 1000.0).abs() < 1e-9,
            "{}",
            s.name
        );
        assert!((bar[1] - w.wasted_ms / 1000.0).abs() < 1e-9, "{}", s.name);
    }
    // Istio's storm (3.2 attempts per request) wastes most of its time.
    let istio = report
        .strategies
        .iter()
        .position(|s| s.name == "istio")
        .expect("istio");
    assert!(chart.shares[istio][1] > 0.9 * (chart.shares[istio][0] + chart.shares[istio][1]));
}
