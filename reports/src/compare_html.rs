//! `meshsim compare --html`: one self-contained page for a pull request,
//! the baseline's and the current run's charts side by side, chart by
//! chart, under the table of metrics that changed. Like `index.html` it
//! fetches nothing, so a CI job can attach the one file.

use crate::Report;
use crate::charts::Chart;
use crate::compare::Comparison;
use crate::html::{escape, figure, page_head};
use std::fmt::Write;

const STYLE: &str = "\
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem;align-items:start}\
.pair h3{margin:.2rem 0;font-size:1rem;color:#444}\
tr.regression td{background:#fde2e2}td.none{color:#666}";

/// The page: which reports, the changed metrics (regressions marked), and
/// every chart either report has, baseline left, current right.
pub fn render(
    baseline: &Report,
    current: &Report,
    comparison: &Comparison,
    baseline_charts: &[Chart],
    current_charts: &[Chart],
) -> String {
    let name = escape(&current.scenario.name);
    let mut out = page_head(&format!("compare {name}"), STYLE);
    let _ = write!(
        out,
        "<h1>{name}: baseline vs current</h1>\n<p class=\"meta\">baseline: seed {} · hash <code>{}</code> · \
         meshsim {}<br>current: seed {} · hash <code>{}</code> · meshsim {}{}</p>\n",
        baseline.seed,
        escape(&baseline.scenario.hash),
        escape(&baseline.meshsim_version),
        current.seed,
        escape(&current.scenario.hash),
        escape(&current.meshsim_version),
        if comparison.scenario_changed {
            " · <strong>the scenario changed</strong>"
        } else {
            ""
        }
    );
    out.push_str(&changes_table(comparison));
    out.push_str("<h2>Charts</h2>\n");
    // Every chart name, in the current run's order, then any only the
    // baseline has.
    let mut names: Vec<&str> = current_charts.iter().map(|c| c.name.as_str()).collect();
    for c in baseline_charts {
        if !names.contains(&c.name.as_str()) {
            names.push(&c.name);
        }
    }
    for chart_name in names {
        let side = |charts: &[Chart], prefix: &str, label: &str| {
            let body = match charts.iter().find(|c| c.name == chart_name) {
                Some(c) => figure(c, prefix),
                None => "<p class=\"meta\">(not in this report)</p>\n".to_string(),
            };
            format!("<div><h3>{label}</h3>\n{body}</div>\n")
        };
        let _ = write!(
            out,
            "<section class=\"pair\" id=\"pair-{}\">\n{}{}</section>\n",
            escape(chart_name),
            side(baseline_charts, "baseline-", "baseline"),
            side(current_charts, "current-", "current")
        );
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The metrics that changed, regressions marked.
fn changes_table(comparison: &Comparison) -> String {
    let mut out = String::from(
        "<h2>Changed metrics</h2>\n<table id=\"changes\">\n<thead><tr><th>strategy</th><th>metric</th><th>baseline</th><th>current</th><th>change</th><th>regression</th></tr></thead>\n<tbody>\n",
    );
    let changed: Vec<_> = comparison
        .rows
        .iter()
        .filter(|r| r.baseline != r.current || r.violation.is_some())
        .collect();
    if changed.is_empty() {
        out.push_str("<tr><td class=\"none\" colspan=\"6\">no metric changed</td></tr>\n");
    }
    for r in changed {
        let _ = writeln!(
            out,
            "<tr{}><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td><td>{}</td></tr>",
            if r.violation.is_some() {
                " class=\"regression\""
            } else {
                ""
            },
            escape(&r.strategy),
            escape(r.metric),
            r.baseline,
            r.current,
            escape(&r.change),
            escape(r.violation.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</tbody>\n</table>\n");
    out
}
