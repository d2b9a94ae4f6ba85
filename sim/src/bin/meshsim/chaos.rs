//! `meshsim chaos`: random valid scenarios, each run twice.

use crate::{Failure, progress_bar};
use anyhow::anyhow;
use clap::Args;
use std::path::PathBuf;

pub const EXAMPLES: &str = "\
Each seed becomes a random valid scenario (cluster, strategies, workload of any
model, timeline of any event kinds). Each runs twice: it must not panic, both
reports must be byte-identical, and every request must be accounted for. About
half the seeds also add two overlapping fault windows on one link or host to
their scenario, which the validator must refuse naming both events. The
scenario file of every seed that breaks a rule is written to --out, to rerun
with `meshsim run`.

Examples:
  meshsim chaos --seeds 1-200            Hundreds of scenarios (minutes)
  meshsim chaos --seeds 3 --print        Show seed 3's scenario, run nothing";

#[derive(Args)]
pub struct ChaosArgs {
    /// Seeds: `7`, `1-200` or `1,4,9`.
    #[arg(long, default_value = "1-20", value_parser = sim::chaos::parse_seeds)]
    seeds: std::vec::Vec<u64>,
    /// Print the scenarios instead of running them.
    #[arg(long)]
    print: bool,
    /// Where failing scenarios are written.
    #[arg(long, default_value = "target/meshsim/chaos", value_name = "DIR")]
    out: PathBuf,
}

pub fn chaos(args: ChaosArgs) -> Result<(), Failure> {
    let seeds = args.seeds;
    if args.print {
        for &seed in &seeds {
            match sim::chaos::scenario(seed) {
                Some((text, _)) => println!("{text}"),
                None => eprintln!("seed {seed}: no valid scenario drawn"),
            }
        }
        return Ok(());
    }
    let progress = progress_bar(seeds.len() as u64, "chaos scenarios");
    let mut failed = Vec::new();
    for &seed in &seeds {
        progress.set_message(format!("seed {seed}"));
        let Some((text, scenario)) = sim::chaos::scenario(seed) else {
            failed.push(format!("seed {seed}: no valid scenario drawn"));
            continue;
        };
        // A panic is a finding too: catch it, keep going, report it.
        let outcome = std::panic::catch_unwind(|| sim::chaos::check(&scenario))
            .unwrap_or_else(|_| Err("panicked".into()));
        if let Err(e) = outcome {
            let file = args.out.join(format!("chaos-{seed:02}.toml"));
            let _ = std::fs::create_dir_all(&args.out).and_then(|()| std::fs::write(&file, &text));
            failed.push(format!("seed {seed}: {e} ({})", file.display()));
        }
        let nodes = scenario.cluster.nodes.get();
        if let Some(bad) = sim::chaos::overlapping(seed, &text, nodes)
            && let Err(e) = sim::chaos::refused(seed, &bad)
        {
            let file = args.out.join(format!("chaos-{seed:02}-overlap.toml"));
            let _ = std::fs::create_dir_all(&args.out).and_then(|()| std::fs::write(&file, &bad));
            failed.push(format!("seed {seed}: {e} ({})", file.display()));
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    if failed.is_empty() {
        eprintln!(
            "{} chaos scenarios: all ran twice identically, every request accounted for",
            seeds.len()
        );
        Ok(())
    } else {
        Err(Failure::Failed(anyhow!(
            "{} of {} chaos scenarios broke a rule:\n  {}",
            failed.len(),
            seeds.len(),
            failed.join("\n  ")
        )))
    }
}
