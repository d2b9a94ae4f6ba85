//! `meshsim bench`: the simulator's and the mesh's speed on this machine.

#[path = "bench_table.rs"]
mod table;

use crate::{Failure, progress_bar};
use anyhow::{Context, anyhow};
use clap::Args;
use indicatif::ProgressBar;
use serde::Serialize;
use sim::bench::{self, Throughput, WallClock, paths, scale};
use std::path::PathBuf;

pub const EXAMPLES: &str = "\
Measures, in one process (release build recommended):
  1. raw turmoil TCP round trips per wall second
  2. tonic unary over one turmoil hop, requests per wall second
  3. the meshed path (client → outbound sidecar → inbound sidecar → server)
  4. every bundled scenario: wall time, simulated time, ratio, peak RSS
  5. the scale point: 1,000 StockData pods behind sidecars, 1M requests
and checks the targets: (3) ÷ (2) ≥ 0.4, scale point < 60 s and < 2 GiB,
each scenario < 10 s.

Examples:
  cargo run --release -p sim --bin meshsim -- bench
  meshsim bench --quick                  Smaller sizes (seconds, for a smoke test)
  meshsim bench --skip-scale --json      Skip the 1M-request point, print JSON
  meshsim bench --check                  Exit 1 when a target is missed
  meshsim bench --only scale --quick     One part only (e.g. under perf)
  meshsim bench --real                   meshsim's proxy, nginx, haproxy, caddy on real sockets

Instruction counts (valgrind's callgrind; repeatable to ~0.01%, unlike wall time):
  meshsim bench --instructions           Per request / pick / run, against the baseline
  meshsim bench --instructions --check   Exit 1 when one costs > 2% above sim/benches/instructions.json
  meshsim bench --instructions --bless   Record the current counts as the baseline
  meshsim bench --instructions --ops meshed,pick-peak-ewma";

#[derive(Args)]
pub struct BenchArgs {
    /// Run smaller sizes (a smoke test; numbers are noisier).
    #[arg(long)]
    quick: bool,
    /// Skip the 1,000-pod scale point.
    #[arg(long)]
    skip_scale: bool,
    /// Scale point: StockData pods (default 1000; 100 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pods: Option<u32>,
    /// Scale point: requests (default 1,000,000; 20,000 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    requests: Option<u64>,
    /// Scale point: concurrent requests per client node (default 200).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: Option<u32>,
    /// Scale point: no inbound sidecars (client sidecars straight to pods).
    #[arg(long)]
    no_inbound: bool,
    /// Run only these parts (comma-separated; for profiling one of them).
    #[arg(long, value_delimiter = ',', value_enum)]
    only: Vec<Part>,
    /// Folder of scenarios to time.
    #[arg(long, default_value = "scenarios", value_name = "DIR")]
    scenarios: PathBuf,
    /// Where to write bench.json.
    #[arg(long, default_value = "target/meshsim/bench", value_name = "DIR")]
    out: PathBuf,
    /// Print bench.json on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Exit 1 when a target is missed (with --instructions: when an
    /// operation costs more than 2% above its baseline).
    #[arg(long)]
    check: bool,
    /// Count instructions per operation under callgrind instead of timing.
    #[arg(long)]
    instructions: bool,
    /// Real sockets instead: what meshsim's proxy, nginx, haproxy and Caddy add
    /// over the direct path at 1k, 5k and 10k requests/s and at
    /// saturation, their CPU per request and peak RSS (proxy-cost.md,
    /// .json, .svg, .png in --out).
    #[arg(long, conflicts_with = "instructions")]
    real: bool,
    /// With --instructions: only these operations (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        requires = "instructions",
        value_name = "OP"
    )]
    ops: Vec<String>,
    /// With --instructions: the baseline file.
    #[arg(long, default_value = crate::instructions::DEFAULT_BASELINE, value_name = "FILE")]
    baseline: PathBuf,
    /// With --instructions: overwrite the baseline with this measurement.
    #[arg(long, requires = "instructions")]
    bless: bool,
}

/// Target: the meshed path at least this share of the one-hop rate.
pub const MIN_MESHED_OVER_DIRECT: f64 = 0.4;
/// Target: the scale point's wall time, seconds.
pub const MAX_SCALE_WALL_S: f64 = 60.0;
/// Target: the scale point's peak RSS, MiB.
pub const MAX_SCALE_RSS_MIB: f64 = 2048.0;
/// Target: each bundled scenario's wall time, seconds.
pub const MAX_SCENARIO_WALL_S: f64 = 10.0;

/// A part of the bench.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// The three request paths.
    Paths,
    /// The bundled scenarios.
    Scenarios,
    /// The scale point.
    Scale,
}

#[derive(Serialize)]
struct ScenarioBench {
    scenario: String,
    strategies: usize,
    /// The scenario's tick (simulated time resolution), ms.
    tick_ms: f64,
    /// Cluster nodes, i.e. turmoil hosts besides the load generator.
    nodes: u32,
    wall_s: f64,
    /// Simulated time summed over the strategies' simulations.
    sim_s: f64,
    sim_per_wall: f64,
    peak_rss_mib: Option<f64>,
}

#[derive(Serialize)]
struct Target {
    what: String,
    value: f64,
    limit: String,
    met: bool,
}

#[derive(Serialize)]
struct BenchReport {
    meshsim_version: String,
    cores: usize,
    quick: bool,
    paths: Vec<Throughput>,
    direct_over_raw: f64,
    meshed_over_direct: f64,
    /// The same path through bare hyper forwarders ÷ one hop: the ceiling
    /// for any HTTP/2 sidecar pair on this simulator.
    floor_over_direct: f64,
    scenarios: Vec<ScenarioBench>,
    scale: Option<Throughput>,
    targets: Vec<Target>,
}

fn bench_err(e: Box<dyn std::error::Error>) -> Failure {
    Failure::Failed(anyhow!("{e}"))
}

pub fn bench(args: BenchArgs) -> Result<(), Failure> {
    if args.real {
        return crate::bench_real::run(&args.out, args.quick, args.json);
    }
    if args.instructions {
        return crate::instructions::run(crate::instructions::InstructionArgs {
            ops: &args.ops,
            baseline: &args.baseline,
            bless: args.bless,
            check: args.check,
            out: &args.out,
            json: args.json,
        });
    }
    // Before the work: a bench that cannot write bench.json should fail in
    // a moment, not after minutes of measurements.
    crate::out_dir::prepare_files(&args.out, &["bench.json"])?;
    let runs = |part: Part| args.only.is_empty() || args.only.contains(&part);
    let progress = progress_bar(4, "measurements");
    let paths_measured = if runs(Part::Paths) {
        measure_paths(args.quick, &progress)?
    } else {
        Vec::new()
    };
    progress.set_position(3);
    progress.set_message("scenarios");
    let scenarios = if runs(Part::Scenarios) {
        bench_scenarios(&args)?
    } else {
        Vec::new()
    };
    progress.inc(1);
    progress.finish_and_clear();
    let scale = if args.skip_scale || !runs(Part::Scale) {
        None
    } else {
        Some(measure_scale(&args)?)
    };
    let report = BenchReport::new(args.quick, paths_measured, scenarios, scale);
    write_report(&args, &report)?;
    check_targets(&report, args.check)
}

/// The request paths: raw TCP, tonic over one hop, the meshed path, and
/// the meshed path through bare forwarders, in that order.
fn measure_paths(quick: bool, progress: &ProgressBar) -> Result<Vec<Throughput>, Failure> {
    let (raw_n, grpc_n) = if quick {
        (20_000, 5_000)
    } else {
        (500_000, 100_000)
    };
    let mut measured = Vec::new();
    progress.set_message("raw TCP");
    measured.push(bench::with_peak_rss(|| paths::raw_tcp(raw_n, 100)).map_err(bench_err)?);
    progress.inc(1);
    progress.set_message("tonic one hop");
    measured.push(bench::with_peak_rss(|| paths::grpc_direct(grpc_n, 100)).map_err(bench_err)?);
    progress.inc(1);
    progress.set_message("meshed path");
    measured.push(bench::with_peak_rss(|| paths::grpc_meshed(grpc_n, 100)).map_err(bench_err)?);
    progress.set_message("bare forwarders");
    measured.push(
        bench::with_peak_rss(|| paths::grpc_bare_forwarders(grpc_n, 100)).map_err(bench_err)?,
    );
    Ok(measured)
}

/// The scale point, sized by the flags.
fn measure_scale(args: &BenchArgs) -> Result<Throughput, Failure> {
    let mut config = scale::ScaleConfig::default();
    if args.quick {
        config.pods = 100;
        config.server_nodes = 10;
        config.requests = 20_000;
    }
    if let Some(pods) = args.pods {
        config.pods = pods;
    }
    if let Some(requests) = args.requests {
        config.requests = requests;
    }
    if let Some(c) = args.concurrency {
        config.concurrency = c;
    }
    config.inbound_sidecars = !args.no_inbound;
    eprintln!(
        "scale point: {} pods, {} requests (this takes a while)…",
        config.pods, config.requests
    );
    bench::with_peak_rss(|| scale::run(config)).map_err(bench_err)
}

impl BenchReport {
    /// The report of these measurements, with their ratios and targets.
    fn new(
        quick: bool,
        paths: Vec<Throughput>,
        scenarios: Vec<ScenarioBench>,
        scale: Option<Throughput>,
    ) -> Self {
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let rate = |i: usize| paths.get(i).map_or(0.0, |p| p.per_wall_second);
        let mut report = BenchReport {
            meshsim_version: sim::VERSION.into(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            quick,
            direct_over_raw: ratio(rate(1), rate(0)),
            meshed_over_direct: ratio(rate(2), rate(1)),
            floor_over_direct: ratio(rate(3), rate(1)),
            paths,
            scenarios,
            scale,
            targets: Vec::new(),
        };
        report.targets = targets(&report);
        report
    }
}

/// Writes bench.json to `--out` and shows the report (JSON or the table).
fn write_report(args: &BenchArgs, report: &BenchReport) -> Result<(), Failure> {
    let json = serde_json::to_vec_pretty(report).map_err(|e| Failure::Failed(e.into()))?;
    std::fs::create_dir_all(&args.out)
        .and_then(|()| std::fs::write(args.out.join("bench.json"), &json))
        .with_context(|| format!("writing {}", args.out.join("bench.json").display()))
        .map_err(Failure::Failed)?;
    if args.json {
        println!("{}", String::from_utf8_lossy(&json));
    } else {
        print!("{}", table::render(report));
    }
    eprintln!("wrote {}", args.out.join("bench.json").display());
    Ok(())
}

/// With `--check`, a failure naming every missed target.
fn check_targets(report: &BenchReport, check: bool) -> Result<(), Failure> {
    let missed: Vec<&Target> = report.targets.iter().filter(|t| !t.met).collect();
    if check && !missed.is_empty() {
        return Err(Failure::Failed(anyhow!(
            "{} target(s) missed: {}",
            missed.len(),
            missed
                .iter()
                .map(|t| t.what.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

fn bench_scenarios(args: &BenchArgs) -> Result<Vec<ScenarioBench>, Failure> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.scenarios)
        .with_context(|| format!("reading {}", args.scenarios.display()))
        .map_err(Failure::Input)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let scenario = sim::Scenario::load(&path).map_err(|e| Failure::Input(e.into()))?;
        bench::reset_peak_rss();
        let clock = WallClock::start();
        let report =
            sim::run(&scenario, scenario.seed, |_| {}).map_err(|e| Failure::Failed(e.into()))?;
        let wall_s = clock.elapsed().as_secs_f64();
        let sim_s: f64 = report
            .strategies
            .iter()
            .map(|s| s.sim_time_ms / 1000.0)
            .sum();
        out.push(ScenarioBench {
            scenario: scenario.name().to_string(),
            strategies: report.strategies.len(),
            tick_ms: scenario.tick.0.as_secs_f64() * 1000.0,
            nodes: scenario.cluster.nodes.get(),
            wall_s,
            sim_s,
            sim_per_wall: if wall_s > 0.0 { sim_s / wall_s } else { 0.0 },
            peak_rss_mib: bench::peak_rss_mib(),
        });
    }
    Ok(out)
}

fn targets(r: &BenchReport) -> Vec<Target> {
    let mut t = Vec::new();
    if !r.paths.is_empty() {
        t.push(Target {
            what: "meshed ÷ one hop".into(),
            value: r.meshed_over_direct,
            limit: format!("≥ {MIN_MESHED_OVER_DIRECT}"),
            met: r.meshed_over_direct >= MIN_MESHED_OVER_DIRECT,
        });
    }
    for s in &r.scenarios {
        t.push(Target {
            what: format!("{} wall s", s.scenario),
            value: s.wall_s,
            limit: format!("< {MAX_SCENARIO_WALL_S}"),
            met: s.wall_s < MAX_SCENARIO_WALL_S,
        });
    }
    if let Some(s) = &r.scale {
        t.push(Target {
            what: "scale point wall s".into(),
            value: s.wall_s,
            limit: format!("< {MAX_SCALE_WALL_S}"),
            met: s.wall_s < MAX_SCALE_WALL_S,
        });
        let rss = s.peak_rss_mib.unwrap_or(f64::NAN);
        t.push(Target {
            what: "scale point peak RSS MiB".into(),
            value: rss,
            limit: format!("< {MAX_SCALE_RSS_MIB}"),
            met: rss < MAX_SCALE_RSS_MIB,
        });
    }
    t
}
