//! `meshsim sweep`: a scenario over a grid of parameter values.

use crate::{Failure, RunFlags, dir_name, load_scenario, progress_bar};
use anyhow::Context;
use clap::Args;
use sim::scenario::{BUNDLED_DEMO, BUNDLED_DEMO_PATH};
use sim::sweep::{Param, Point, grid, run_grid};
use std::path::{Path, PathBuf};

pub const EXAMPLES: &str = "\
Parameters:
  Any scenario key, dotted (stockdata.replicas, workload.rate, cluster.latency,
  load.interval, sidecar.max_retries, ...), or a shorthand: replicas, concurrency,
  rate (or load.rate) = workload.rate, users, page_loads. Values are TOML (2, 0.5, true) or else strings (50ms).
  Several --set flags make a grid: every combination runs.

Output (in --out, default target/meshsim/<scenario>-sweep/):
  sweep.json, sweep.md, sweep.svg and sweep.png (p99 and error rate against the
  first parameter, one line per strategy), and one report folder per point.

Examples:
  meshsim sweep scenarios/slow-replica.toml --set replicas=3,6,9
  meshsim sweep scenarios/retry-storm.toml --set workload.rate=300,500,700 --strategies istio,linkerd+retry+budget
  meshsim sweep --set replicas=2,4,8 --set load.interval=25ms,100ms";

#[derive(Args)]
#[command(
    mut_arg("out", |a| a.help("Output folder")),
    mut_arg("json", |a| a.help("Print sweep.json on stdout instead of the table"))
)]
pub struct SweepArgs {
    /// Scenario file (TOML). Default: the bundled stockweb demo.
    scenario: Option<PathBuf>,
    /// A parameter and its values, e.g. `replicas=2,4,8` (repeatable).
    #[arg(long = "set", value_name = "KEY=V1,V2", required = true, value_parser = parse_param)]
    set: Vec<Param>,
    #[command(flatten)]
    flags: RunFlags,
}

fn parse_param(s: &str) -> Result<Param, String> {
    s.parse().map_err(|e: sim::sweep::SweepError| e.to_string())
}

pub fn sweep(args: SweepArgs) -> Result<(), Failure> {
    // Parse the base once for a clear file:line:col error, then build the
    // grid from its text.
    let base = load_scenario(args.scenario.as_deref()).map_err(|e| Failure::Input(e.into()))?;
    let (path, text) = base_text(&args, &base);
    if args.flags.seed.is_some() && args.set.iter().any(|p| p.key == "seed") {
        return Err(Failure::Input(anyhow::anyhow!(
            "--seed and --set seed=…: --seed would run every point with one seed; expected one of them"
        )));
    }
    let seed = args.flags.seed(&base);
    let points = points(&args, &text, &path, seed)?;
    let out = args.flags.out(format!("{}-sweep", dir_name(base.name())));
    crate::out_dir::prepare_files(&out, &["sweep.json", "sweep.md", "sweep.svg", "sweep.png"])?;
    for p in &points {
        crate::out_dir::prepare(&out.join(p.dir_name()))?;
    }
    let runs: usize = points.iter().map(|p| p.scenario.strategies.len()).sum();
    let progress = progress_bar(runs as u64, "runs");
    let reports = run_grid(&points, args.flags.seed, &|s| {
        progress.set_message(s.to_string());
        progress.inc(1);
    })
    .map_err(|e| Failure::Failed(e.into()))?;
    progress.finish_and_clear();

    let mut summary = reports::sweep::SweepReport {
        schema_version: reports::sweep::SWEEP_SCHEMA_VERSION,
        meshsim_version: sim::VERSION.to_string(),
        seed,
        scenario: base.name().to_string(),
        parameters: args.set.iter().map(|p| p.key.clone()).collect(),
        points: Vec::new(),
    };
    for (point, report) in points.iter().zip(&reports) {
        summary.points.push(write_point(&out, point, report)?);
    }
    write_summary(&summary, &out, args.flags.json)?;
    eprintln!(
        "wrote {} points ({runs} runs) to {}",
        points.len(),
        out.display()
    );
    Ok(())
}

/// The path the base scenario is reported under, and its text.
fn base_text(args: &SweepArgs, base: &sim::Scenario) -> (String, String) {
    let path = args
        .scenario
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| BUNDLED_DEMO_PATH.to_string());
    let text = if args.scenario.is_some() {
        base.source.clone()
    } else {
        BUNDLED_DEMO.to_string()
    };
    (path, text)
}

/// The grid's points, each with the flags' strategies; refuses a point
/// the simulator cannot run before any point runs.
fn points(args: &SweepArgs, text: &str, path: &str, seed: u64) -> Result<Vec<Point>, Failure> {
    let mut points = grid(text, path, &args.set).map_err(|e| Failure::Input(e.into()))?;
    for p in &mut points {
        args.flags.apply_strategies(&mut p.scenario, path)?;
        // A sweep runs the simulator only: refuse real-only strategies
        // before any point runs, as `run` does.
        sim::runner::sim_only(&p.scenario, seed).map_err(|e| {
            Failure::Input(anyhow::anyhow!(
                "sweep point {}: {}",
                p.dir_name(),
                e.message
            ))
        })?;
    }
    Ok(points)
}

/// Writes one point's report folder; its line of the sweep's summary.
fn write_point(
    out: &Path,
    point: &Point,
    report: &reports::Report,
) -> Result<reports::sweep::SweepPoint, Failure> {
    let dir = point.dir_name();
    reports::output::write_dir(report, &out.join(&dir))
        .with_context(|| format!("writing {}", out.join(&dir).display()))
        .map_err(Failure::Failed)?;
    Ok(reports::sweep::SweepPoint::new(
        point.value_map(),
        dir,
        report,
    ))
}

/// Writes sweep.json, .md, .svg and .png to `out`, and shows the summary
/// (JSON with `json`, else the Markdown table).
fn write_summary(
    summary: &reports::sweep::SweepReport,
    out: &Path,
    json: bool,
) -> Result<(), Failure> {
    let bytes = summary
        .to_json_bytes()
        .map_err(|e| Failure::Failed(e.into()))?;
    let chart = reports::charts::render(&summary.chart()).map_err(|e| Failure::Failed(e.into()))?;
    let markdown = summary.markdown();
    for (name, contents) in [
        ("sweep.json", bytes.as_slice()),
        ("sweep.md", markdown.as_bytes()),
        ("sweep.svg", chart.svg.as_bytes()),
        ("sweep.png", chart.png.as_slice()),
    ] {
        let path = out.join(name);
        std::fs::write(&path, contents)
            .with_context(|| format!("writing {}", path.display()))
            .map_err(Failure::Failed)?;
    }
    if json {
        use std::io::Write;
        std::io::stdout()
            .write_all(&bytes)
            .context("writing to stdout")
            .map_err(Failure::Failed)?;
    } else {
        print!("{markdown}");
    }
    Ok(())
}
