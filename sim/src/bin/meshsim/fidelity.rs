//! `meshsim fidelity`: one scenario in the simulator and in real mode, side
//! by side.

use crate::{Failure, RunFlags, dir_name, load_scenario, progress_bar};
use clap::Args;
use reports::charts::{self, FidelityChart};
use reports::fidelity::{Fidelity, Tolerances};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const EXAMPLES: &str = "\
Output (in --out, default target/meshsim/<scenario name>/fidelity/):
  fidelity.md      the table: shares (points apart), p50/p90/p99 (real ÷ sim),
                   errors, retry amplification, a verdict per strategy, and
                   the systematic differences found, explained
  fidelity.json    the same, for scripts
  fidelity.svg/png each strategy's p50 and p99, simulator against real
  sim/, real/      both runs' full report folders

Exit status: 0 when every strategy agrees within the tolerances, 1 when one
does not (the files are written either way), 2 for bad input or a scenario
that cannot run for real.

Examples:
  meshsim fidelity scenarios/stockweb-demo.toml
  meshsim fidelity scenarios/slow-replica.toml --strategies sidecar:round-robin,linkerd
  meshsim fidelity scenarios/replica-crash.toml --json > fidelity.json";

#[derive(Args)]
pub struct FidelityArgs {
    /// Scenario file (TOML). Default: the bundled stockweb-demo.
    scenario: Option<PathBuf>,
    #[command(flatten)]
    flags: RunFlags,
}

pub fn fidelity(args: FidelityArgs) -> Result<(), Failure> {
    let mut scenario =
        load_scenario(args.scenario.as_deref()).map_err(|e| Failure::Input(e.into()))?;
    let source = args.scenario.as_ref().map_or_else(
        || "the bundled demo".to_string(),
        |p| p.display().to_string(),
    );
    args.flags.apply_strategies(&mut scenario, &source)?;
    sim::real::check(&scenario).map_err(|e| Failure::Input(anyhow::anyhow!("{source}: {e}")))?;
    let seed = args.flags.seed(&scenario);
    let out = args
        .flags
        .out(format!("{}/fidelity", dir_name(scenario.name())));
    crate::out_dir::prepare(&out)?;
    let (sim_dir, real_dir) = (out.join("sim"), out.join("real"));
    crate::out_dir::prepare(&sim_dir)?;
    crate::out_dir::prepare(&real_dir)?;

    let n = scenario.strategies.len() as u64;
    let progress = progress_bar(2 * n, "runs (simulator, then real time)");
    let step = |s: sim::Strategy| {
        progress.set_message(s.to_string());
        progress.inc(1);
    };
    let sim = sim::run(&scenario, seed, step).map_err(|e| Failure::Failed(e.into()))?;
    let real =
        sim::runner::run_real(&scenario, seed, step).map_err(|e| Failure::Failed(e.into()))?;
    progress.finish_and_clear();
    for (report, dir) in [(&sim, &sim_dir), (&real, &real_dir)] {
        reports::output::write_dir(report, dir)
            .map_err(|e| Failure::Failed(anyhow::anyhow!("writing {}: {e}", dir.display())))?;
    }
    let f =
        Fidelity::of(&sim, &real, Tolerances::default()).map_err(|e| Failure::Failed(e.into()))?;
    write(&out, &f)?;
    let mut stdout = std::io::stdout().lock();
    let printed = if args.flags.json {
        f.to_json_bytes()
            .map_err(|e| Failure::Failed(e.into()))
            .and_then(|b| stdout.write_all(&b).map_err(|e| Failure::Failed(e.into())))
    } else {
        writeln!(stdout, "{}", f.markdown()).map_err(|e| Failure::Failed(e.into()))
    };
    printed?;
    eprintln!(
        "wrote fidelity.md, fidelity.json, fidelity.svg/.png, sim/ and real/ to {}",
        out.display()
    );
    if f.agrees() {
        Ok(())
    } else {
        Err(Failure::Failed(anyhow::anyhow!(
            "{} of {} strategies outside tolerance (see {})",
            f.rows.iter().filter(|r| !r.agrees).count(),
            f.rows.len(),
            out.join("fidelity.md").display()
        )))
    }
}

fn write(out: &Path, f: &Fidelity) -> Result<(), Failure> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        Failure::Failed(anyhow::anyhow!("writing {what} in {}: {e}", out.display()))
    };
    let json = f.to_json_bytes().map_err(|e| fail("fidelity.json", &e))?;
    std::fs::write(out.join("fidelity.json"), json).map_err(|e| fail("fidelity.json", &e))?;
    std::fs::write(out.join("fidelity.md"), f.markdown()).map_err(|e| fail("fidelity.md", &e))?;
    let chart = charts::render(&FidelityChart::of(f)).map_err(|e| fail("the chart", &e))?;
    std::fs::write(out.join("fidelity.svg"), &chart.svg).map_err(|e| fail("fidelity.svg", &e))?;
    std::fs::write(out.join("fidelity.png"), &chart.png).map_err(|e| fail("fidelity.png", &e))?;
    Ok(())
}
