//! The `meshsim` command line.
//!
//! Exit codes: 0 success, 1 a run or check failed, 2 bad usage or input.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sim::scenario::{BUNDLED_DEMO, BUNDLED_DEMO_PATH};
use sim::{Scenario, Strategy};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The simulation allocates and frees hundreds of thousands of small
/// HTTP/2 buffers per wall second; glibc's malloc spent ~20% of `meshsim
/// bench` in its own bookkeeping. Allocation never reaches results, so the
/// allocator cannot change a report's bytes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod bench_real;
mod chaos;
mod demo;
mod fidelity;
mod instructions;
mod loadcheck;
mod out_dir;
mod proxy;
mod proxy_admin;
mod proxy_endpoints;
mod report;
mod sweep;

const ABOUT: &str = "What does a service mesh actually do to my gRPC traffic?\n\n\
meshsim runs the real StockWeb and StockData services (tonic over HTTP/2) in a \
deterministic network simulator (turmoil) and compares client strategies: a \
client that resolves DNS once and keeps its connection, and a sidecar proxy that \
balances every request. Same scenario + same seed = byte-identical report.";

const EXAMPLES: &str = "\
Examples:
  meshsim run                                   Run the bundled StockWeb demo
  meshsim run scenarios/stockweb-demo.toml      Run a scenario file
  meshsim run --seed 7                          Same demo, another seed
  meshsim run --strategies cached-dns,sidecar   Choose the strategies to compare
  meshsim run --json > report.json              Print the report as JSON
  meshsim report report.json --out /tmp/r       Re-render charts and HTML from JSON
  meshsim compare base.json report.json         CI gate: exit 1 on a regression
  meshsim compare --html diff.html base.json report.json   Both runs' charts side by side
  meshsim fidelity scenarios/stockweb-demo.toml Simulator against real mode
  meshsim sweep scenarios/slow-replica.toml --set replicas=3,6 --set load.interval=50ms,100ms
  meshsim bench --quick                         How fast the simulator and the mesh run here
  meshsim proxy --service stockdata --endpoints a=127.0.0.1:50051 --profile linkerd
  MESHSIM_SEED=3 meshsim run --out /tmp/demo    Seed from the environment";

#[derive(Parser)]
#[command(name = "meshsim", version, about = ABOUT, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and compare its client strategies.
    #[command(after_help = run_help())]
    Run(RunArgs),
    /// Re-render summary.md, index.html, charts and .hgrm files from a
    /// report.json alone.
    #[command(after_help = report::REPORT_EXAMPLES)]
    Report(report::ReportArgs),
    /// Compare a report against a baseline; exit 1 on a regression (a CI
    /// gate).
    #[command(after_help = report::COMPARE_EXAMPLES)]
    Compare(report::CompareArgs),
    /// Run a scenario in the simulator and in real mode and compare them,
    /// strategy by strategy, against stated tolerances.
    #[command(after_help = fidelity::EXAMPLES)]
    Fidelity(fidelity::FidelityArgs),
    /// Cross-check meshsim's load generator against h2load (nghttp2) on a
    /// real StockData replica.
    #[command(after_help = loadcheck::EXAMPLES)]
    Loadcheck(loadcheck::LoadcheckArgs),
    /// Run a scenario over a grid of parameter values.
    #[command(after_help = sweep::EXAMPLES)]
    Sweep(sweep::SweepArgs),
    /// Measure the simulator, the gRPC path and the mesh on this machine.
    #[command(after_help = bench::EXAMPLES)]
    Bench(bench::BenchArgs),
    /// Random valid scenarios, each run twice: no panic, identical reports,
    /// every request accounted for.
    #[command(after_help = chaos::EXAMPLES)]
    Chaos(chaos::ChaosArgs),
    /// The seed's demo on this machine's sockets, to open in a browser.
    #[command(after_help = demo::EXAMPLES)]
    Demo(demo::DemoArgs),
    /// Run the sidecar proxy for real: an outbound (or --inbound) proxy on
    /// a socket, with Prometheus /metrics and /ready on an admin port.
    #[command(after_help = proxy::EXAMPLES)]
    Proxy(Box<proxy::ProxyArgs>),
    /// Run one bench operation N times (what `bench --instructions` runs
    /// under callgrind).
    #[command(hide = true)]
    BenchOp {
        /// The operation (see `sim::bench::instructions::OPS`).
        op: String,
        /// Repetitions.
        n: u64,
    },
}

/// `run --help`'s epilogue: the strategies (from their one table in
/// `sim::strategy`), then outputs and examples.
fn run_help() -> String {
    format!("{}\n{RUN_OUTPUT_AND_EXAMPLES}", sim::strategy::help())
}

const RUN_OUTPUT_AND_EXAMPLES: &str = "\
Output:
  A comparison table on stdout (or the JSON report with --json), and in --out
  (default target/meshsim/<scenario name>/): report.json, summary.md,
  index.html (self-contained), charts/*.svg and *.png, and <strategy>.hgrm
  (HdrHistogram percentile distribution) per strategy.

Examples:
  meshsim run
  meshsim run scenarios/slow-replica.toml
  meshsim run scenarios/stockweb-demo.toml --seed 7 --out /tmp/demo
  meshsim run --strategies cached-dns,kube-proxy,linkerd,istio --json
  meshsim run scenarios/fast-errors.toml --page-detail
  meshsim run --verify-determinism";

#[derive(Args)]
#[command(
    mut_arg("out", |a| a.help("Folder for report.json. Default: target/meshsim/<scenario name>/")),
    mut_arg("json", |a| a.help("Print the report JSON on stdout instead of the table"))
)]
struct RunArgs {
    /// Scenario file (TOML). Default: the bundled scenarios/stockweb-demo.toml.
    scenario: Option<PathBuf>,
    #[command(flatten)]
    flags: RunFlags,
    /// Run everything twice and fail (exit 1) unless both reports are
    /// byte-identical.
    #[arg(long, conflicts_with = "real")]
    verify_determinism: bool,
    /// Run on this machine's sockets in real time instead of the simulator:
    /// each pod on its own loopback address, links emulated in user space.
    /// Not deterministic; the report says `mode: "real"`.
    #[arg(long)]
    real: bool,
}

/// The flags of every subcommand that runs a scenario (`run`, `sweep`),
/// declared once so their names, parsing and help cannot drift apart.
#[derive(Args)]
struct RunFlags {
    /// Override the scenario's seed.
    #[arg(long, env = "MESHSIM_SEED")]
    seed: Option<u64>,
    /// Override the scenario's strategies (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_strategy)]
    strategies: Option<Vec<Strategy>>,
    /// Output folder (each subcommand names its default).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the JSON on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Keep every page load in report.json (the scenario's
    /// `report.page_detail`); by default only their summary.
    #[arg(long)]
    page_detail: bool,
}

impl RunFlags {
    /// Applies `--strategies` and `--page-detail` to `scenario` and checks
    /// the result; `path` names the scenario in errors.
    fn apply_strategies(&self, scenario: &mut Scenario, path: &str) -> Result<(), Failure> {
        scenario.report.page_detail |= self.page_detail;
        if let Some(strategies) = &self.strategies {
            scenario.strategies = strategies.clone();
            scenario
                .validate(path)
                .map_err(|e| Failure::Input(anyhow::anyhow!("--strategies: {e}")))?;
        }
        Ok(())
    }

    /// `--seed`, or else the scenario's.
    fn seed(&self, scenario: &Scenario) -> u64 {
        self.seed.unwrap_or(scenario.seed)
    }

    /// `--out`, or else `target/meshsim/<default_dir>`.
    fn out(&self, default_dir: String) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| Path::new("target").join("meshsim").join(default_dir))
    }
}

fn parse_strategy(s: &str) -> Result<Strategy, String> {
    s.parse()
}

/// An error with its exit code.
enum Failure {
    /// Bad usage or input: exit 2.
    Input(anyhow::Error),
    /// A run or a check failed: exit 1.
    Failed(anyhow::Error),
}

/// `meshsim compare … | head` closes the pipe early; `println!` then
/// panics ("failed printing to stdout: Broken pipe") with a backtrace. A
/// reader who stopped reading is not an error: exit 0 quietly, as
/// ripgrep does. (Resetting SIGPIPE would need `unsafe` and would also
/// touch the proxy's sockets.) Every other panic keeps the default hook.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::try_parse().unwrap_or_else(|e| proxy::usage_error(e));
    let result = match cli.command {
        Command::Proxy(args) => return proxy::proxy(*args),
        Command::Run(args) => run(args),
        Command::Report(args) => report::report(args),
        Command::Compare(args) => report::compare(args),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Fidelity(args) => fidelity::fidelity(args),
        Command::Loadcheck(args) => loadcheck::loadcheck(args),
        Command::Bench(args) => bench::bench(args),
        Command::Demo(args) => demo::demo(args),
        Command::Chaos(args) => chaos::chaos(args),
        Command::BenchOp { op, n } => sim::bench::instructions::run(&op, n)
            .map_err(|e| Failure::Input(anyhow::anyhow!("{e}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn load_scenario(path: Option<&Path>) -> Result<Scenario, sim::ScenarioError> {
    match path {
        Some(path) => Scenario::load(path),
        None => Scenario::parse(BUNDLED_DEMO, BUNDLED_DEMO_PATH),
    }
}

fn run(args: RunArgs) -> Result<(), Failure> {
    let mut scenario =
        load_scenario(args.scenario.as_deref()).map_err(|e| Failure::Input(e.into()))?;
    let source = args
        .scenario
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| format!("{BUNDLED_DEMO_PATH} (bundled)"));
    args.flags.apply_strategies(&mut scenario, &source)?;
    let seed = args.flags.seed(&scenario);
    if !args.real {
        sim::runner::sim_only(&scenario, seed)
            .map_err(|e| Failure::Input(anyhow::anyhow!("{}", e.message)))?;
    }
    let out = args.flags.out(dir_name(scenario.name()));
    out_dir::prepare(&out)?;

    if args.real {
        return run_real(&scenario, seed, &out, args.flags.json);
    }

    let runs = if args.verify_determinism { 2 } else { 1 };
    let progress = progress_bar((scenario.strategies.len() * runs) as u64, "strategies");
    let mut reports = Vec::new();
    for _ in 0..runs {
        let report = sim::run(&scenario, seed, |s| {
            progress.set_message(s.to_string());
            progress.inc(1);
        })
        .map_err(|e| Failure::Failed(e.into()))?;
        reports.push(
            report
                .to_json_bytes()
                .map_err(|e| Failure::Failed(e.into()))?,
        );
        if runs == 1 {
            progress.finish_and_clear();
            write_outputs(&out, &report, &reports[0], args.flags.json)?;
        }
    }
    if args.verify_determinism {
        progress.finish_and_clear();
        if reports[0] != reports[1] {
            return Err(Failure::Failed(anyhow::anyhow!(
                "two runs of {source} with seed {seed} wrote different reports \
                 (rerun with MESHSIM_SEED={seed})"
            )));
        }
        let report =
            reports::Report::from_json_slice(&reports[0]).map_err(|e| Failure::Failed(e.into()))?;
        write_outputs(&out, &report, &reports[0], args.flags.json)?;
        eprintln!(
            "determinism verified: two runs wrote identical reports ({} bytes)",
            reports[0].len()
        );
    }
    Ok(())
}

/// `meshsim run --real`: the strategies one after another, in real time.
fn run_real(scenario: &Scenario, seed: u64, out: &Path, json: bool) -> Result<(), Failure> {
    sim::backend::real::check(scenario).map_err(|e| Failure::Input(anyhow::anyhow!("{e}")))?;
    let progress = progress_bar(scenario.strategies.len() as u64, "strategies (real time)");
    let report = sim::runner::run_real(scenario, seed, |s| {
        progress.set_message(s.to_string());
        progress.inc(1);
    })
    .map_err(|e| Failure::Failed(e.into()))?;
    progress.finish_and_clear();
    let bytes = report
        .to_json_bytes()
        .map_err(|e| Failure::Failed(e.into()))?;
    write_outputs(out, &report, &bytes, json)
}

fn write_outputs(
    out: &Path,
    report: &reports::Report,
    json: &[u8],
    as_json: bool,
) -> Result<(), Failure> {
    let written = reports::output::write_dir(report, out)
        .with_context(|| format!("writing the report to {}", out.display()))
        .map_err(Failure::Failed)?;
    let mut stdout = std::io::stdout().lock();
    let printed = if as_json {
        stdout.write_all(json)
    } else {
        let style = if std::io::stdout().is_terminal() {
            reports::table::Style::Color
        } else {
            reports::table::Style::Plain
        };
        writeln!(stdout, "{}", reports::table::render_styled(report, style))
    };
    printed
        .context("writing to stdout")
        .map_err(Failure::Failed)?;
    eprintln!(
        "wrote {} files to {} (open {})",
        written.len(),
        out.display(),
        out.join("index.html").display()
    );
    Ok(())
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(&format!(
        "{{spinner}} [{{bar:30}}] {{pos}}/{{len}} {unit}  ETA {{eta}}  {{msg}}"
    )) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A scenario name made safe as a folder name.
fn dir_name(name: &str) -> String {
    reports::output::safe_name(name, &['-', '_'])
}
