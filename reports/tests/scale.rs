//! Reports with many replicas: every table stays one line per strategy, and
//! each replica is listed in the per-replica breakdown (up to its bound).

mod common;

use common::{baseline, scratch, with_replicas};
use reports::breakdown::{ENDS, MAX_ROWS, WRAP};
use reports::table::{self, HEADERS};
use reports::{html, output};

/// The summary table of the terminal rendering: the lines after the
/// `scenario …` heading up to the first blank line.
fn summary_lines(text: &str) -> Vec<&str> {
    text.lines().skip(1).take_while(|l| !l.is_empty()).collect()
}

/// The lines of the terminal's per-replica section, heading excluded.
fn breakdown_lines(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| !l.starts_with("per replica"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect()
}

#[test]
fn a_3000_replica_report_renders_everywhere_with_bounded_lines() {
    // N00c: a report.json with 3,000 pods in per_replica, one call each,
    // made the terminal table panic (a format width over 65,535).
    let mut report = baseline("stockweb-demo");
    for s in &mut report.strategies {
        s.per_replica = (0..3000).map(|i| (format!("stockdata-{i}"), 1)).collect();
    }
    let text = table::render(&report);
    let summary = summary_lines(&text);
    assert_eq!(summary.len(), 1 + report.strategies.len(), "{text}");
    for line in &summary {
        assert!(line.chars().count() < 200, "{line}");
    }
    assert!(
        summary[1].ends_with(" 3000       0.1%       0.1%"),
        "{text}"
    );
    // The 10 busiest, a line for the rest, the 10 idlest: with equal
    // counts, the first and the last by name.
    let replicas = breakdown_lines(&text);
    assert_eq!(replicas.len(), 2 * ENDS + 2, "{text}");
    assert!(replicas[1].starts_with("  stockdata-0 "), "{text}");
    assert!(replicas[ENDS].starts_with("  stockdata-9 "), "{text}");
    assert_eq!(
        replicas[ENDS + 1],
        "  … 2980 more replicas (report.json lists every one)"
    );
    assert!(replicas[2 * ENDS + 1].starts_with("  stockdata-2999 "));
    assert!(text.contains("the 10 busiest and the 10 idlest of 3000 replicas"));
    // summary.md, index.html and the charts too.
    let dir = scratch("scale-3000");
    output::write_dir(&report, &dir).expect("writes");
    let page = std::fs::read_to_string(dir.join("index.html")).expect("index.html");
    let per_replica = page
        .split("<table id=\"per-replica\">")
        .nth(1)
        .expect("section");
    let per_replica = per_replica.split("</table>").next().expect("table end");
    assert_eq!(per_replica.matches("<tr>").count(), 1 + 2 * ENDS);
    assert!(per_replica.contains("<tr class=\"more\"><td colspan=\"3\">… 2980 more"));
}

#[test]
fn fifty_replicas_keep_one_summary_line_per_strategy_of_one_width() {
    let report = with_replicas(baseline("slow-replica"), 50);
    let text = table::render(&report);
    let summary = summary_lines(&text);
    assert_eq!(summary.len(), 1 + report.strategies.len(), "{text}");
    let width = summary[0].chars().count();
    // The stated bound (reports/README.md): at most 250 columns, whatever
    // the replica count; the "waited at limit" cell is the widest part
    // (slow-replica's Istio waits at the inbound connect).
    assert!(width <= 250, "{width}: {}", summary[0]);
    for line in &summary {
        assert_eq!(line.chars().count(), width, "{line}");
    }
    // cached-dns pinned to one of 50, client-rr even: 80 or 81 calls each.
    assert!(
        summary[1].ends_with("  50       0.0%     100.0%"),
        "{}",
        summary[1]
    );
    assert!(
        summary[3].ends_with("  50       2.0%       2.0%"),
        "{}",
        summary[3]
    );
    // Every replica listed, in numeric order, one line each.
    let replicas = breakdown_lines(&text);
    assert_eq!(replicas.len(), 1 + 50, "{text}");
    assert!(replicas[0].trim_start().starts_with("replica "));
    for (i, line) in replicas[1..].iter().enumerate() {
        assert!(
            line.starts_with(&format!("  stockdata-{i} ")),
            "line {i}: {line}"
        );
        assert!(line.chars().count() < 200, "{line}");
    }
    assert!(replicas[1].contains("4000 (100%)"), "{}", replicas[1]);
    assert!(replicas[2].contains("   0   (0%)"), "{}", replicas[2]);
}

/// Widest summary line of the bundled scenarios (all-errors', where a
/// strategy waited at two limits): a line's width comes from the strategy
/// names and the `waited at limit` text, never from the replicas.
const SUMMARY_WIDTH: usize = 250;

#[test]
fn the_fifty_replica_scenario_has_one_summary_line_per_strategy() {
    // A real run (scenarios/fifty-replicas.toml; its baseline matches a
    // fresh run byte for byte, sim/tests/simulation/scenarios.rs).
    let report = baseline("fifty-replicas");
    assert!(report.strategies.iter().all(|s| s.per_replica.len() == 50));
    let text = table::render(&report);
    let summary = summary_lines(&text);
    assert_eq!(summary.len(), 1 + report.strategies.len(), "{text}");
    for line in &summary {
        assert!(line.chars().count() <= SUMMARY_WIDTH, "{line}");
    }
    // As wide as the same report with three replicas: nothing in a line
    // grows with them.
    let three = table::render(&with_replicas(report.clone(), 3));
    let widths = |text: &str| -> Vec<usize> {
        summary_lines(text)
            .iter()
            .map(|l| l.chars().count())
            .collect()
    };
    assert_eq!(widths(&text), widths(&three), "{text}\n{three}");
    // Cached DNS: each of two StockWeb pods on one replica of 50.
    assert!(
        summary[1].starts_with("cached-dns ") && summary[1].ends_with("  50       0.0%      50.0%"),
        "{}",
        summary[1]
    );
    assert!(summary[1].contains(" 0.040 "), "{}", summary[1]);
    // Every replica in the breakdown, one line each, in numeric order.
    let replicas = breakdown_lines(&text);
    assert_eq!(replicas.len(), 1 + 50, "{text}");
    for (i, line) in replicas[1..].iter().enumerate() {
        assert!(line.starts_with(&format!("  stockdata-{i} ")), "{line}");
        assert!(line.chars().count() <= WRAP, "{line}");
    }
}

#[test]
fn every_bundled_baseline_keeps_its_lines_within_the_stated_widths() {
    let dir = common::baseline_path("stockweb-demo");
    let dir = dir.parent().expect("baselines/");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("baselines/")
        .filter_map(|e| {
            let p = e.expect("entry").path();
            if p.extension()? != "json" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    assert!(names.len() >= 19, "{names:?}");
    for name in &names {
        let report = baseline(name);
        let text = table::render(&report);
        let summary = summary_lines(&text);
        assert_eq!(summary.len(), 1 + report.strategies.len(), "{name}");
        for line in &summary {
            assert!(line.chars().count() <= SUMMARY_WIDTH, "{name}: {line}");
        }
        let section = text
            .lines()
            .skip_while(|l| !l.starts_with("per replica"))
            .skip(1)
            .take_while(|l| {
                !["timeline", "workload", "waits"]
                    .iter()
                    .any(|h| l.starts_with(h))
            });
        for line in section {
            assert!(line.chars().count() <= WRAP, "{name}: {line}");
        }
    }
}

#[test]
fn a_breakdown_wider_than_the_wrap_continues_in_blocks_of_the_same_rows() {
    // fast-errors: 12 strategies over 10 replicas, ~250 columns in one
    // block.
    let report = baseline("fast-errors");
    let text = table::render(&report);
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("per replica"))
        .skip(1)
        .take_while(|l| !l.starts_with("timeline") && !l.starts_with("waits"))
        .collect();
    let blocks: Vec<&[&str]> = section
        .split(|l| l.is_empty())
        .filter(|b| !b.is_empty())
        .collect();
    assert!(blocks.len() >= 2, "{text}");
    let mut headed = Vec::new();
    for block in &blocks {
        assert_eq!(block.len(), 1 + 10, "{block:?}");
        let mut head = block[0].split_whitespace();
        assert_eq!(head.next(), Some("replica"));
        headed.extend(head);
        for (i, line) in block[1..].iter().enumerate() {
            assert!(line.starts_with(&format!("  stockdata-{i} ")), "{line}");
        }
        for line in *block {
            assert!(
                line.chars().count() <= WRAP,
                "{} columns: {line}",
                line.chars().count()
            );
        }
    }
    // Every strategy once, in the report's order.
    let names: Vec<&str> = report.strategies.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(headed, names);
    // stockdata-0's row across the blocks: cached-dns was pinned to it.
    assert!(blocks[0][1].contains("2000 (100%)"), "{}", blocks[0][1]);
}

#[test]
fn the_breakdown_lists_every_replica_up_to_its_bound() {
    let all = table::render(&with_replicas(baseline("stockweb-demo"), MAX_ROWS as u64));
    assert_eq!(breakdown_lines(&all).len(), 1 + MAX_ROWS);
    assert!(!all.contains("more replicas"));
    let more = table::render(&with_replicas(
        baseline("stockweb-demo"),
        MAX_ROWS as u64 + 1,
    ));
    assert_eq!(breakdown_lines(&more).len(), 2 + 2 * ENDS);
    assert!(more.contains(&format!("… {} more replicas", MAX_ROWS + 1 - 2 * ENDS)));
}

#[test]
fn markdown_and_html_summaries_have_one_row_per_strategy_of_bounded_cells() {
    let report = with_replicas(baseline("slow-replica"), 50);
    let md = table::markdown(&report);
    let rows: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with("| strategy |"))
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert_eq!(rows.len(), 2 + report.strategies.len(), "{md}");
    for row in rows.iter().filter(|r| !r.starts_with("|---")) {
        assert_eq!(row.matches(" | ").count(), HEADERS.len() - 1, "{row}");
        assert!(row.chars().count() < 200, "{row}");
    }
    assert!(md.contains("\n## Per replica\n"), "{md}");
    assert!(md.contains("| stockdata-49 | 0 (0%) | 80 (2%) |"), "{md}");

    let page = html::render(&report, &[]);
    let summary = page
        .split("<table id=\"summary\">")
        .nth(1)
        .expect("summary");
    let summary = summary.split("</table>").next().expect("end");
    assert_eq!(summary.matches("<th>").count(), HEADERS.len(), "{summary}");
    let rows: Vec<&str> = summary.lines().filter(|l| l.starts_with("<tr>")).collect();
    assert_eq!(rows.len(), report.strategies.len(), "{summary}");
    for row in &rows {
        assert_eq!(row.matches("<td>").count(), HEADERS.len(), "{row}");
        assert!(row.len() < 400, "{row}");
    }
    let per_replica = page
        .split("<table id=\"per-replica\">")
        .nth(1)
        .expect("section");
    assert_eq!(
        per_replica
            .split("</table>")
            .next()
            .expect("end")
            .matches("<tr>")
            .count(),
        1 + 50
    );
}

#[test]
fn colour_adds_escape_codes_and_nothing_else() {
    let report = with_replicas(baseline("slow-replica"), 60);
    let coloured = table::render_styled(&report, table::Style::Color);
    assert!(
        coloured.contains("\x1b[1mreplica "),
        "bold breakdown heading"
    );
    let mut plain = String::new();
    let mut rest = coloured.as_str();
    while let Some(at) = rest.find("\x1b[") {
        plain.push_str(&rest[..at]);
        let end = rest[at..].find('m').expect("SGR end");
        rest = &rest[at + end + 1..];
    }
    plain.push_str(rest);
    assert_eq!(plain, table::render(&report));
}

#[test]
fn the_share_chart_draws_the_busiest_replicas_and_one_segment_for_the_rest() {
    let report = with_replicas(baseline("slow-replica"), 50);
    let chart = reports::charts::ShareChart::from_report(&report);
    assert_eq!(chart.pods.len(), reports::charts::MAX_SEGMENTS);
    // stockdata-0 has the pinned strategy's calls too; then 1..=8 by name.
    let want: Vec<String> = (0..9).map(|i| format!("stockdata-{i}")).collect();
    assert_eq!(chart.pods[..9], want[..]);
    assert_eq!(chart.pods[9], "41 other replicas");
    for (s, bar) in report.strategies.iter().zip(&chart.shares) {
        assert_eq!(bar.len(), 10, "{}", s.name);
        assert!((bar.iter().sum::<f64>() - 100.0).abs() < 1e-9, "{}", s.name);
    }
    // The pinned strategy: all on stockdata-0, nothing in the rest.
    assert_eq!(chart.shares[0][0], 100.0);
    assert_eq!(chart.shares[0][9], 0.0);
    // Round robin: 41 of 50 replicas' 80 calls each.
    assert!(
        (chart.shares[3][9] - 82.0).abs() < 1e-9,
        "{}",
        chart.shares[3][9]
    );
    reports::charts::render(&chart).expect("renders");
    // Ten replicas or fewer: one segment each, as before.
    let ten =
        reports::charts::ShareChart::from_report(&with_replicas(baseline("slow-replica"), 10));
    assert_eq!(ten.pods.len(), 10);
    assert_eq!(ten.pods[9], "stockdata-9");
}
