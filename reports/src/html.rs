//! `index.html`: one self-contained page (table, charts inlined as SVG,
//! timeline, scenario text). It fetches nothing: a Content-Security-Policy
//! of `default-src 'none'` makes sure of it in any browser.

use crate::Report;
use crate::charts::Chart;
use crate::summary;
use crate::table::{HEADERS, cells};
use std::fmt::Write;

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}\
h1{margin-bottom:.2rem}.meta{color:#666;margin-top:0}\
table{border-collapse:collapse;font-size:.9rem;margin:1rem 0}\
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:right}\
th:first-child,td:first-child,th:last-child,td:last-child{text-align:left}\
th{background:#f3f3f3}figure{margin:1.5rem 0}figure svg{max-width:100%;height:auto}\
figcaption{color:#555;font-size:.9rem}pre{background:#f7f7f7;padding:1rem;overflow:auto;font-size:.85rem}";

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The start of a self-contained page titled `title` (already escaped):
/// nothing it shows may be fetched (`default-src 'none'`), styles inline;
/// `extra_style` is appended to the shared style sheet.
pub fn page_head(title: &str, extra_style: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>meshsim: {title}</title>\n<style>{STYLE}{extra_style}</style>\n</head>\n<body>\n"
    )
}

/// A chart as an inline SVG figure whose id is `chart-<prefix><name>`.
pub fn figure(chart: &Chart, prefix: &str) -> String {
    format!(
        "<figure id=\"chart-{prefix}{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
        escape(&chart.name),
        strip_xml_prolog(&chart.svg),
        escape(&chart.title)
    )
}

/// The page.
pub fn render(report: &Report, charts: &[Chart]) -> String {
    let name = escape(&report.scenario.name);
    let mut out = page_head(&name, "");
    let _ = write!(
        out,
        "<h1>{name}</h1>\n<p class=\"meta\">seed {} · scenario hash <code>{}</code> · meshsim {} · \
         latencies are per gRPC call in the measured window, in milliseconds</p>\n",
        report.seed,
        escape(&report.scenario.hash),
        escape(&report.meshsim_version)
    );
    out.push_str("<h2>Summary</h2>\n<table id=\"summary\">\n<thead><tr>");
    for h in HEADERS {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in summary::rows(report) {
        out.push_str("<tr>");
        for cell in cells(&row) {
            let _ = write!(out, "<td>{}</td>", escape(&cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    if !charts.is_empty() {
        out.push_str("<h2>Charts</h2>\n");
    }
    for chart in charts {
        out.push_str(&figure(chart, ""));
    }
    if !report.timeline.is_empty() {
        out.push_str("<h2>Timeline</h2>\n<table id=\"timeline\">\n<thead><tr><th>at (ms)</th><th>event</th></tr></thead>\n<tbody>\n");
        for t in &report.timeline {
            let _ = writeln!(
                out,
                "<tr><td>{:.0}</td><td>{}</td></tr>",
                t.at_ms,
                escape(&t.event)
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    if !report.scenario.source.is_empty() {
        let _ = write!(
            out,
            "<h2>Scenario</h2>\n<pre id=\"scenario\">{}</pre>\n",
            escape(&report.scenario.source)
        );
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn strip_xml_prolog(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}
