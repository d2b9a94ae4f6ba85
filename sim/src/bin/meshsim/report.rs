//! `meshsim report` (re-render a report.json) and `meshsim compare` (the CI
//! regression gate).

use crate::Failure;
use anyhow::{Context, anyhow};
use clap::Args;
use reports::Report;
use reports::compare::{self, Thresholds};
use std::path::{Path, PathBuf};

pub const REPORT_EXAMPLES: &str = "\
Examples:
  meshsim report target/meshsim/stockweb-demo/report.json --out /tmp/demo
  meshsim report scenarios/baselines/slow-replica.json --out /tmp/slow";

#[derive(Args)]
pub struct ReportArgs {
    /// A report.json written by `meshsim run`.
    report: PathBuf,
    /// Folder for report.json, summary.md, index.html, charts/ and the
    /// .hgrm files. Default: target/meshsim/<scenario name>/ (never the
    /// folder holding the input report).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub const COMPARE_EXAMPLES: &str = "\
Exit codes:
  0  no threshold crossed      1  a regression (or any difference with --exact)
  2  unreadable input, different strategies, or a different scenario

Examples:
  meshsim compare scenarios/baselines/stockweb-demo.json target/meshsim/stockweb-demo/report.json
  meshsim compare base.json cur.json --max-p99-regression 5% --max-throughput-drop 2%
  meshsim compare base.json cur.json --exact
  meshsim compare base.json cur.json --allow-scenario-change --json";

#[derive(Args)]
pub struct CompareArgs {
    /// The baseline report.json.
    baseline: PathBuf,
    /// The report.json to check.
    current: PathBuf,
    /// Largest allowed p99 increase per strategy (percent of the baseline).
    #[arg(long, value_name = "PCT", default_value = "10%", value_parser = parse_amount)]
    max_p99_regression: f64,
    /// Largest allowed call error-rate increase, in percentage points.
    #[arg(long, value_name = "POINTS", default_value = "0.5", value_parser = parse_amount)]
    max_error_rate_increase: f64,
    /// Largest allowed drop in successful calls per second (percent).
    #[arg(long, value_name = "PCT", default_value = "5%", value_parser = parse_amount)]
    max_throughput_drop: f64,
    /// Fail on any difference at all (runs are deterministic).
    #[arg(long)]
    exact: bool,
    /// Compare even though the scenario hashes differ.
    #[arg(long)]
    allow_scenario_change: bool,
    /// Print the comparison as JSON.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML page to OUT: both runs' charts side
    /// by side and the table of changed metrics (for a pull request).
    #[arg(long, value_name = "OUT")]
    html: Option<PathBuf>,
}

/// `10%`, `10` or `0.5pts` → the number.
fn parse_amount(s: &str) -> Result<f64, String> {
    let trimmed = s
        .trim()
        .trim_end_matches("pts")
        .trim_end_matches("pt")
        .trim_end_matches('%')
        .trim();
    match trimmed.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "expected a non-negative number such as 10% or 0.5, got `{s}`"
        )),
    }
}

fn read_report(path: &Path) -> Result<(Report, Vec<u8>), Failure> {
    let bytes = sim::input::read_bounded(path, sim::input::MAX_REPORT_BYTES)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(Failure::Input)?;
    let report = Report::from_json_slice(&bytes)
        .with_context(|| format!("{} is not a meshsim report.json", path.display()))
        .map_err(Failure::Input)?;
    if report.schema_version > reports::SCHEMA_VERSION {
        return Err(Failure::Input(anyhow!(
            "{} has report schema version {}; this meshsim reads up to {}",
            path.display(),
            report.schema_version,
            reports::SCHEMA_VERSION
        )));
    }
    Ok((report, bytes))
}

pub fn report(args: ReportArgs) -> Result<(), Failure> {
    let (report, _) = read_report(&args.report)?;
    // Not the report's own folder by default: that would overwrite any
    // other report.json beside it.
    let out = args.out.unwrap_or_else(|| {
        let name = crate::dir_name(&report.scenario.name);
        let name = if name.is_empty() {
            "report".into()
        } else {
            name
        };
        Path::new("target").join("meshsim").join(name)
    });
    crate::out_dir::not_input(&out, &args.report)?;
    crate::out_dir::prepare(&out)?;
    let written = reports::output::write_dir(&report, &out)
        .with_context(|| format!("writing to {}", out.display()))
        .map_err(Failure::Failed)?;
    println!("{}", reports::table::render(&report));
    eprintln!("wrote {} files to {}", written.len(), out.display());
    Ok(())
}

/// Refuses a `--html` path that is a folder or one of the `inputs` (the
/// same file by any name: writing it would destroy the report being
/// compared), before anything is read or written.
fn html_target(out: &Path, inputs: &[&Path]) -> Result<(), Failure> {
    use std::os::unix::fs::MetadataExt;
    if out.is_dir() {
        return Err(Failure::Input(anyhow!(
            "--html {}: is a folder; expected a file path for the page",
            out.display()
        )));
    }
    let Ok(target) = std::fs::metadata(out) else {
        return Ok(()); // nothing there yet: it cannot be an input
    };
    for input in inputs {
        if let Ok(meta) = std::fs::metadata(input)
            && (meta.dev(), meta.ino()) == (target.dev(), target.ino())
        {
            return Err(Failure::Input(anyhow!(
                "--html {}: is the input report {}; writing the page there would replace \
                 it; expected another path",
                out.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// Renders both reports' charts and writes the side-by-side page.
fn write_compare_page(
    out: &std::path::Path,
    baseline: &reports::Report,
    current: &reports::Report,
    comparison: &reports::compare::Comparison,
) -> Result<(), Failure> {
    let charts = |r: &reports::Report| {
        reports::charts::render_report(r).map_err(|e| Failure::Failed(e.into()))
    };
    let page = reports::compare_html::render(
        baseline,
        current,
        comparison,
        &charts(baseline)?,
        &charts(current)?,
    );
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::Input(anyhow!("creating {}: {e}", dir.display())))?;
    }
    std::fs::write(out, page)
        .map_err(|e| Failure::Input(anyhow!("writing {}: {e}", out.display())))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

pub fn compare(args: CompareArgs) -> Result<(), Failure> {
    if let Some(out) = &args.html {
        html_target(out, &[&args.baseline, &args.current])?;
    }
    let (baseline, baseline_bytes) = read_report(&args.baseline)?;
    let (current, current_bytes) = read_report(&args.current)?;
    if args.exact && !(baseline.mode.is_sim() && current.mode.is_sim()) {
        return Err(Failure::Input(anyhow!(
            "--exact compares bytes, and a real-mode report is not deterministic: \
             compare real runs with thresholds (--max-p99-regression …)"
        )));
    }
    let thresholds = Thresholds {
        max_p99_regression_pct: args.max_p99_regression,
        max_error_rate_increase_pts: args.max_error_rate_increase,
        max_throughput_drop_pct: args.max_throughput_drop,
    };
    let comparison = compare::compare(&baseline, &current, &thresholds, args.allow_scenario_change)
        .map_err(|e| Failure::Input(e.into()))?;
    if baseline.schema_version < 3 && current.schema_version >= 3 {
        eprintln!(
            "note: the baseline is schema {}: its throughput is over the whole run, the \
             current report's over the measured window; re-bless the baseline to compare \
             like with like",
            baseline.schema_version
        );
    }
    if let Some(out) = &args.html {
        write_compare_page(out, &baseline, &current, &comparison)?;
    }
    let identical = baseline_bytes == current_bytes;
    if args.json {
        print_comparison_json(&comparison, identical)?;
    } else {
        print!("{}", comparison.render());
    }
    check_regressions(&args, &comparison, &baseline_bytes, &current_bytes)?;
    eprintln!(
        "no regression: {} metrics of {} strategies within thresholds{}",
        comparison.rows.len(),
        current.strategies.len(),
        if identical {
            " (reports identical)"
        } else {
            ""
        }
    );
    Ok(())
}

/// The comparison as JSON on stdout: each row, whether the scenario
/// changed, and whether the two files are identical.
fn print_comparison_json(
    comparison: &reports::compare::Comparison,
    identical: bool,
) -> Result<(), Failure> {
    let rows: Vec<serde_json::Value> = comparison
        .rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "strategy": r.strategy,
                "metric": r.metric,
                "baseline": r.baseline,
                "current": r.current,
                "change": r.change,
                "violation": r.violation,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "scenario_changed": comparison.scenario_changed,
        "identical": identical,
        "rows": rows,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).map_err(|e| Failure::Failed(e.into()))?
    );
    Ok(())
}

/// A failure for every threshold the current report crosses, or, with
/// `--exact`, for any byte that differs.
fn check_regressions(
    args: &CompareArgs,
    comparison: &reports::compare::Comparison,
    baseline_bytes: &[u8],
    current_bytes: &[u8],
) -> Result<(), Failure> {
    let violations: Vec<String> = comparison
        .violations()
        .map(|r| {
            format!(
                "{}: {}",
                r.strategy,
                r.violation.clone().unwrap_or_default()
            )
        })
        .collect();
    if !violations.is_empty() {
        return Err(Failure::Failed(anyhow!(
            "regression against {}:\n  {}",
            args.baseline.display(),
            violations.join("\n  ")
        )));
    }
    if args.exact && baseline_bytes != current_bytes {
        let line = first_difference(baseline_bytes, current_bytes);
        return Err(Failure::Failed(anyhow!(
            "--exact: the reports differ (first at line {line} of report.json){}",
            if comparison.any_change() {
                ""
            } else {
                "; no summary metric changed"
            }
        )));
    }
    Ok(())
}

/// 1-based line of the first difference.
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    a[..at].iter().filter(|&&c| c == b'\n').count() + 1
}
