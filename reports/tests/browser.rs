//! `index.html` in a real browser (headless Chromium from Debian; `.ci/run`
//! installs it): the table and every chart render, and the page makes no
//! network request.
//!
//! Without Chromium the test says so and passes, except under CI (`CI` set),
//! where a missing browser is a failure.

mod common;

use common::{baseline, decode_png, scratch};
use reports::{charts, output};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Hosts Chromium itself calls (component updates, time, accounts,
/// dictionaries), whatever page it shows. Anything else in the net log
/// came from the page.
const BROWSER_HOSTS: [&str; 4] = ["google.com", "googleapis.com", "gvt1.com", "gstatic.com"];

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in ["/usr/bin", "/usr/local/bin"] {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("chromium is not installed; .ci/run installs it (apt-get install chromium)");
    }
    eprintln!("skipping: chromium not installed (apt-get install chromium)");
    None
}

/// Loads `page` headless; returns (DOM after load, screenshot PNG, URLs in
/// the net log that are not the browser's own).
fn load(browser: &Path, page: &Path, work: &Path) -> (String, Vec<u8>, Vec<String>) {
    let netlog = work.join("net.json");
    let shot = work.join("shot.png");
    let url = format!("file://{}", page.display());
    let common = |cmd: &mut Command| {
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.join("profile").display()
        ));
    };
    let mut dump = Command::new(browser);
    common(&mut dump);
    let dom = dump
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let mut screenshot = Command::new(browser);
    common(&mut screenshot);
    let s = screenshot
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,4200")
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    let log = std::fs::read_to_string(&netlog).unwrap_or_default();
    let mut urls: Vec<String> = log
        .split("\"url\":\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|u| !u.starts_with("file://") && !u.starts_with("data:"))
        .filter(|u| {
            let host = u
                .split("://")
                .nth(1)
                .unwrap_or("")
                .split(['/', ':', '?'])
                .next()
                .unwrap_or("");
            !BROWSER_HOSTS
                .iter()
                .any(|b| host == *b || host.ends_with(&format!(".{b}")))
        })
        .map(str::to_string)
        .collect();
    urls.sort();
    urls.dedup();
    (
        String::from_utf8_lossy(&dom.stdout).into_owned(),
        std::fs::read(&shot).expect("screenshot"),
        urls,
    )
}

#[test]
fn index_html_renders_offline_with_table_and_every_chart() {
    let Some(browser) = chromium() else { return };
    let work = scratch("browser");
    let report = baseline("replica-crash");
    let site = work.join("site");
    output::write_dir(&report, &site).expect("writes");
    let chart_count = charts::render_report(&report).expect("charts").len();

    let (dom, shot, urls) = load(&browser, &site.join("index.html"), &work);
    assert!(urls.is_empty(), "index.html made requests: {urls:?}");
    assert!(dom.contains("<table id=\"summary\">"), "{dom}");
    for s in &report.strategies {
        assert!(
            dom.contains(&format!("<td>{}</td>", s.name)),
            "row for {}",
            s.name
        );
    }
    assert_eq!(
        dom.matches("<svg").count(),
        chart_count,
        "every chart inlined"
    );
    assert_eq!(dom.matches("<figure id=\"chart-").count(), chart_count);

    // The screenshot shows the charts: the first strategy's colour is on
    // screen (SVG lines are drawn, not just present in the DOM).
    let (w, h, rgb, color_type) = decode_png(&shot);
    let n = color_type.samples();
    assert!(w >= 1000 && h >= 1000, "{w}x{h}");
    let blue = [31u8, 119, 180];
    let drawn = rgb
        .chunks(n)
        .filter(|px| px.iter().zip(blue).all(|(&a, b)| a.abs_diff(b) <= 12))
        .count();
    assert!(drawn > 500, "only {drawn} chart-coloured pixels on screen");
}

#[test]
fn the_request_check_catches_a_page_that_fetches() {
    let Some(browser) = chromium() else { return };
    let work = scratch("browser-control");
    let page = work.join("fetches.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><img src=\"http://meshsim-test.invalid/x.png\"></body></html>",
    )
    .expect("write");
    let (_, _, urls) = load(&browser, &page, &work);
    assert_eq!(urls, ["http://meshsim-test.invalid/x.png"]);
}

#[test]
fn compare_html_shows_both_runs_charts_and_names_the_changed_metrics() {
    let Some(browser) = chromium() else { return };
    let work = scratch("browser-compare");
    let base = baseline("slow-replica");
    let mut current = base.clone();
    // A regression in one strategy's tail and a change in another's errors.
    current.strategies[0].latency_ms.p99 *= 1.5;
    current.strategies[3].requests.ok -= 40;
    current.strategies[3].measured_ok -= 40;
    let comparison = reports::compare::compare(
        &base,
        &current,
        &reports::compare::Thresholds::default(),
        false,
    )
    .expect("comparable");
    let page = reports::compare_html::render(
        &base,
        &current,
        &comparison,
        &charts::render_report(&base).expect("charts"),
        &charts::render_report(&current).expect("charts"),
    );
    let path = work.join("diff.html");
    std::fs::write(&path, &page).expect("write");
    let chart_count = charts::render_report(&current).expect("charts").len();

    let (dom, shot, urls) = load(&browser, &path, &work);
    assert!(urls.is_empty(), "the page made requests: {urls:?}");
    assert_eq!(
        dom.matches("<svg").count(),
        2 * chart_count,
        "both runs' charts"
    );
    for chart in charts::render_report(&current).expect("charts") {
        for side in ["baseline", "current"] {
            assert!(
                dom.contains(&format!("<figure id=\"chart-{side}-{}\">", chart.name)),
                "{side} {}",
                chart.name
            );
        }
    }
    // Exactly the changed metrics, the regressions marked: the p99 (+50 %)
    // and the error rate (+1 point); the throughput fell 1 %, within 5 %.
    let changes = dom.split("<table id=\"changes\">").nth(1).expect("table");
    let changes = changes.split("</table>").next().expect("table end");
    let rows: Vec<&str> = changes.lines().filter(|l| l.starts_with("<tr")).collect();
    assert_eq!(rows.len(), 3, "{changes}");
    assert!(rows[0].starts_with("<tr class=\"regression\"><td>cached-dns</td><td>p99 ms</td>"));
    assert!(
        rows[1].starts_with(
            "<tr class=\"regression\"><td>sidecar:round-robin</td><td>error rate %</td>"
        )
    );
    assert!(rows[2].starts_with("<tr><td>sidecar:round-robin</td><td>throughput ok/s</td>"));
    // The screenshot has charts on it.
    let (_, _, rgb, color_type) = decode_png(&shot);
    let blue = [31u8, 119, 180];
    let drawn = rgb
        .chunks(color_type.samples())
        .filter(|px| px.iter().zip(blue).all(|(&a, b)| a.abs_diff(b) <= 12))
        .count();
    assert!(drawn > 500, "only {drawn} chart-coloured pixels on screen");
}
