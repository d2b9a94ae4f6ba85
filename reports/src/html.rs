//! `index.html`: one self-contained page (table, charts inlined as SVG,
//! timeline, scenario text). It fetches nothing: a Content-Security-Policy
//! of `default-src 'none'` makes sure of it in any browser.

use crate::Report;
use crate::breakdown::{Breakdown, Line, cell_text};
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
figcaption{color:#555;font-size:.9rem}pre{background:#f7f7f7;padding:1rem;overflow:auto;font-size:.85rem}\
.wide{overflow-x:auto}#summary,#per-replica{font-size:.8rem}#summary td,#per-replica td{white-space:nowrap}\
#summary th,#summary td{padding:.25rem .3rem}\
#summary th:last-child,#summary td:last-child,#per-replica th:last-child,#per-replica td:last-child{text-align:right}\
#per-replica tr.more td{text-align:left;color:#666}";

/// Escapes text for HTML element content and quoted attribute values:
/// `&`, `<`, `>`, `"` and `'` become character references. It is
/// html-escape's `encode_quoted_attribute` itself, not a copy: StockWeb's
/// page uses the same function (neither crate depends on the other, so
/// the one implementation lives in the crate both depend on).
pub use html_escape::encode_quoted_attribute as escape;

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
    out.push_str("<h2>Summary</h2>\n<div class=\"wide\">\n<table id=\"summary\">\n<thead><tr>");
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
    out.push_str("</tbody>\n</table>\n</div>\n");
    out.push_str(&replica_section(&Breakdown::of(report)));
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

/// The per-replica breakdown as its own section: one row per replica,
/// one column per strategy (empty when no strategy reported a replica).
pub fn replica_section(b: &Breakdown) -> String {
    let mut out = String::new();
    if b.is_empty() {
        return out;
    }
    let _ = write!(
        out,
        "<h2>Per replica</h2>\n<p class=\"meta\">{}</p>\n<div class=\"wide\">\n<table id=\"per-replica\">\n<thead><tr><th>replica</th>",
        escape(&b.caption())
    );
    for s in &b.strategies {
        let _ = write!(out, "<th>{}</th>", escape(s));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for line in &b.lines {
        match line {
            Line::Replica(pod, cells) => {
                let _ = write!(out, "<tr><td>{}</td>", escape(pod));
                for &cell in cells {
                    let _ = write!(out, "<td>{}</td>", escape(&cell_text(cell)));
                }
                out.push_str("</tr>\n");
            }
            Line::More(n) => {
                let _ = writeln!(
                    out,
                    "<tr class=\"more\"><td colspan=\"{}\">{}</td></tr>",
                    b.strategies.len() + 1,
                    escape(&Breakdown::more_text(*n))
                );
            }
        }
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    out
}

fn strip_xml_prolog(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_the_five_reserved_characters_and_nothing_else() {
        assert_eq!(
            escape(r#"<a href="x">O'Reilly & Co</a>"#),
            "&lt;a href=&quot;x&quot;&gt;O&#x27;Reilly &amp; Co&lt;/a&gt;"
        );
        assert_eq!(
            escape("sidecar:peak-ewma+retry · 99.9%"),
            "sidecar:peak-ewma+retry · 99.9%"
        );
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }
}
