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
    /// Scenario files (TOML). Default: the bundled stockweb-demo. With
    /// several, each gets a folder in --out (default
    /// target/meshsim/fidelity/) and fidelity.md there sums them up.
    scenarios: Vec<PathBuf>,
    #[command(flatten)]
    flags: RunFlags,
}

pub fn fidelity(args: FidelityArgs) -> Result<(), Failure> {
    if args.scenarios.len() <= 1 {
        let out = |name: &str| args.flags.out(format!("{}/fidelity", dir_name(name)));
        let f = one(
            args.scenarios.first().map(PathBuf::as_path),
            &args.flags,
            out,
        )?;
        print(&f, args.flags.json)?;
        return verdict(&[f]);
    }
    // Every file is checked before anything runs.
    for path in &args.scenarios {
        let mut s = load_scenario(Some(path)).map_err(|e| Failure::Input(e.into()))?;
        args.flags
            .apply_strategies(&mut s, &path.display().to_string())?;
        sim::backend::real::check(&s)
            .map_err(|e| Failure::Input(anyhow::anyhow!("{}: {e}", path.display())))?;
    }
    let root = args.flags.out("fidelity".into());
    crate::out_dir::prepare(&root)?;
    let mut all = Vec::new();
    for path in &args.scenarios {
        all.push(one(Some(path), &args.flags, |name| {
            root.join(dir_name(name))
        })?);
    }
    let md = summary(&all);
    std::fs::write(root.join("fidelity.md"), &md)
        .map_err(|e| Failure::Failed(anyhow::anyhow!("writing fidelity.md: {e}")))?;
    let mut stdout = std::io::stdout().lock();
    if args.flags.json {
        let bytes = serde_json::to_vec_pretty(&all).map_err(|e| Failure::Failed(e.into()))?;
        stdout.write_all(&bytes)
    } else {
        stdout.write_all(md.as_bytes())
    }
    .map_err(|e| Failure::Failed(e.into()))?;
    eprintln!("wrote {}", root.join("fidelity.md").display());
    verdict(&all)
}

/// One scenario, both ways: its folder written, its comparison returned.
fn one(
    path: Option<&Path>,
    flags: &RunFlags,
    out_of: impl Fn(&str) -> PathBuf,
) -> Result<Fidelity, Failure> {
    let mut scenario = load_scenario(path).map_err(|e| Failure::Input(e.into()))?;
    let source = path.map_or_else(
        || "the bundled demo".to_string(),
        |p| p.display().to_string(),
    );
    flags.apply_strategies(&mut scenario, &source)?;
    sim::backend::real::check(&scenario)
        .map_err(|e| Failure::Input(anyhow::anyhow!("{source}: {e}")))?;
    let seed = flags.seed(&scenario);
    let out = out_of(scenario.name());
    crate::out_dir::prepare(&out)?;
    let (sim_dir, real_dir) = (out.join("sim"), out.join("real"));
    crate::out_dir::prepare(&sim_dir)?;
    crate::out_dir::prepare(&real_dir)?;

    let n = scenario.strategies.len() as u64;
    let progress = progress_bar(
        2 * n,
        &format!("runs of {} (simulator, then real time)", scenario.name()),
    );
    let step = |s: sim::Strategy| {
        progress.set_message(s.to_string());
        progress.inc(1);
    };
    // Real proxies (nginx, haproxy, Caddy) run for real only, next to meshsim's
    // own policy of the same name, which is what the simulator runs.
    let scenario = sim::runner::with_counterparts(&scenario);
    let mut simulated = scenario.clone();
    simulated.strategies.retain(|s| !s.is_real_only());
    let sim = sim::run(&simulated, seed, step).map_err(|e| Failure::Failed(e.into()))?;
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
    eprintln!(
        "wrote fidelity.md, fidelity.json, fidelity.svg/.png, sim/ and real/ to {}",
        out.display()
    );
    Ok(f)
}

fn print(f: &Fidelity, json: bool) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    if json {
        let bytes = f.to_json_bytes().map_err(|e| Failure::Failed(e.into()))?;
        stdout.write_all(&bytes)
    } else {
        writeln!(stdout, "{}", f.markdown())
    }
    .map_err(|e| Failure::Failed(e.into()))
}

/// Exit 1 naming what is outside tolerance, if anything is.
fn verdict(all: &[Fidelity]) -> Result<(), Failure> {
    let outside: Vec<String> = all
        .iter()
        .flat_map(|f| {
            f.rows
                .iter()
                .filter(|r| !r.agrees)
                .map(|r| format!("{}/{}", f.scenario, r.strategy))
        })
        .collect();
    if outside.is_empty() {
        Ok(())
    } else {
        Err(Failure::Failed(anyhow::anyhow!(
            "outside tolerance: {}",
            outside.join(", ")
        )))
    }
}

/// Several scenarios' comparisons: an overview, then each in full, its
/// headings one level down.
fn summary(all: &[Fidelity]) -> String {
    let mut md = String::from(
        "| scenario | strategies that agree | ranking by p99 | systematic differences |\n\
         |---|---:|---|---|\n",
    );
    for f in all {
        md.push_str(&format!(
            "| {} | {} of {} | {} | {} |\n",
            f.scenario,
            f.rows.iter().filter(|r| r.agrees).count(),
            f.rows.len(),
            if f.same_p99_ranking {
                "same"
            } else {
                "differs"
            },
            f.findings
                .iter()
                .map(|x| x.kind.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for f in all {
        md.push('\n');
        md.push_str(
            &f.markdown()
                .replacen("# ", "## ", 1)
                .replace("\n## Systematic", "\n### Systematic"),
        );
    }
    md
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
