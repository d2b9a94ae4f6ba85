//! `meshsim bench --instructions`: per-operation instruction counts under
//! callgrind, compared against a committed baseline.
//!
//! See `sim::bench::instructions` for why instructions and how one
//! operation's cost is isolated (two runs, `N` and `2N`, subtracted).

use crate::{Failure, progress_bar};
use anyhow::{Context, anyhow};
use serde::{Deserialize, Serialize};
use sim::bench::instructions::{OPS, Op};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Default baseline file, relative to the workspace root.
pub const DEFAULT_BASELINE: &str = "sim/benches/instructions.json";
/// A count more than this share above its baseline is a regression.
pub const TOLERANCE_PCT: f64 = 2.0;

/// One operation's measured cost.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OpCost {
    /// What one repetition is (request, pick, run).
    pub unit: String,
    /// Instructions per repetition.
    pub instructions: u64,
}

/// The counts of one measurement, as written to `instructions.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    /// How they were taken.
    pub method: String,
    /// Per operation.
    pub ops: BTreeMap<String, OpCost>,
}

/// Settings of the instruction bench.
pub struct InstructionArgs<'a> {
    /// Only these operations (all when empty).
    pub ops: &'a [String],
    /// The baseline to compare with or bless.
    pub baseline: &'a Path,
    /// Overwrite the baseline with this measurement.
    pub bless: bool,
    /// Exit 1 when an operation costs more than the tolerance above its
    /// baseline.
    pub check: bool,
    /// Where to write instructions.json.
    pub out: &'a Path,
    /// Print JSON instead of the table.
    pub json: bool,
}

pub fn run(args: InstructionArgs<'_>) -> Result<(), Failure> {
    let valgrind = Command::new("valgrind").arg("--version").output();
    if !valgrind.is_ok_and(|o| o.status.success()) {
        return Err(Failure::Input(anyhow!(
            "valgrind is not installed; `apt-get install valgrind` (callgrind counts the instructions)"
        )));
    }
    let exe = std::env::current_exe()
        .context("locating the meshsim binary")
        .map_err(Failure::Failed)?;
    let selected = selected(args.ops)?;
    let counts = measure(&exe, &selected)?;
    let json = serde_json::to_string_pretty(&counts).map_err(|e| Failure::Failed(e.into()))? + "\n";
    write(&args.out.join("instructions.json"), &json)?;
    let baseline = if args.bless {
        None
    } else {
        read_baseline(args.baseline)?
    };
    if args.json {
        print!("{json}");
    } else {
        print!("{}", render(&counts, baseline.as_ref()));
    }
    if args.bless {
        write(args.baseline, &json)?;
        eprintln!("blessed {}", args.baseline.display());
        return Ok(());
    }
    if args.check {
        check(&counts, baseline, args.baseline)?;
    }
    Ok(())
}

/// The operations named in `ops` (all when it is empty); an unknown name
/// is an error.
fn selected(ops: &[String]) -> Result<Vec<&'static Op>, Failure> {
    for name in ops {
        if !OPS.iter().any(|op| op.name == name) {
            return Err(Failure::Input(anyhow!(
                "unknown operation {name:?}; expected one of {}",
                OPS.iter().map(|o| o.name).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(OPS
        .iter()
        .filter(|op| ops.is_empty() || ops.iter().any(|n| n == op.name))
        .collect())
}

/// Each operation's instructions per repetition: callgrind runs at `N`
/// and `2N`, subtracted, divided by `N`.
fn measure(exe: &Path, selected: &[&Op]) -> Result<Counts, Failure> {
    let progress = progress_bar(selected.len() as u64 * 2, "callgrind runs");
    let mut counts = Counts {
        method: format!(
            "valgrind --tool=callgrind, (instructions at 2N − at N) ÷ N; meshsim {}",
            sim::VERSION
        ),
        ops: BTreeMap::new(),
    };
    for op in selected {
        progress.set_message(op.name);
        let small = collected(exe, op.name, op.n)?;
        progress.inc(1);
        let large = collected(exe, op.name, op.n * 2)?;
        progress.inc(1);
        counts.ops.insert(
            op.name.to_string(),
            OpCost {
                unit: op.unit.to_string(),
                instructions: large.saturating_sub(small) / op.n.max(1),
            },
        );
    }
    progress.finish_and_clear();
    Ok(counts)
}

/// `--check`: a failure when there is no baseline at `path` or an
/// operation costs more than the tolerance above it.
fn check(counts: &Counts, baseline: Option<Counts>, path: &Path) -> Result<(), Failure> {
    let Some(baseline) = baseline else {
        return Err(Failure::Input(anyhow!(
            "no baseline at {}; run with --bless first",
            path.display()
        )));
    };
    let worse = regressions(counts, &baseline);
    if !worse.is_empty() {
        return Err(Failure::Failed(anyhow!(
            "{} operation(s) cost more than {TOLERANCE_PCT}% above {}: {}",
            worse.len(),
            path.display(),
            worse.join(", ")
        )));
    }
    Ok(())
}

/// Instructions callgrind counted for `meshsim bench-op NAME N`.
fn collected(exe: &Path, name: &str, n: u64) -> Result<u64, Failure> {
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .args(["bench-op", name, &n.to_string()])
        .output()
        .context("starting valgrind")
        .map_err(Failure::Failed)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(Failure::Failed(anyhow!(
            "bench-op {name} {n} failed under callgrind:\n{stderr}"
        )));
    }
    parse_collected(&stderr).ok_or_else(|| {
        Failure::Failed(anyhow!(
            "no `Collected :` line in callgrind's output for {name}:\n{stderr}"
        ))
    })
}

/// The total from callgrind's `==PID== Collected : N` summary line.
pub fn parse_collected(stderr: &str) -> Option<u64> {
    stderr.lines().find_map(|line| {
        let (_, rest) = line.split_once("Collected :")?;
        rest.trim().parse().ok()
    })
}

fn read_baseline(path: &Path) -> Result<Option<Counts>, Failure> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("{} is not an instruction baseline", path.display()))
            .map(Some)
            .map_err(Failure::Input),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::Input(
            anyhow::Error::new(e).context(format!("reading {}", path.display())),
        )),
    }
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating {}", dir.display()))
            .map_err(Failure::Failed)?;
    }
    std::fs::write(path, text)
        .with_context(|| format!("writing {}", path.display()))
        .map_err(Failure::Failed)
}

fn change_pct(now: u64, base: u64) -> f64 {
    if base == 0 {
        0.0
    } else {
        (now as f64 - base as f64) * 100.0 / base as f64
    }
}

/// Operations costing more than [`TOLERANCE_PCT`] above the baseline.
pub fn regressions(now: &Counts, baseline: &Counts) -> Vec<String> {
    now.ops
        .iter()
        .filter_map(|(name, cost)| {
            let base = baseline.ops.get(name)?;
            let pct = change_pct(cost.instructions, base.instructions);
            (pct > TOLERANCE_PCT).then(|| format!("{name} {pct:+.1}%"))
        })
        .collect()
}

fn render(counts: &Counts, baseline: Option<&Counts>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<20} {:>14} {:>8} {:>14} {:>8}",
        "operation", "instructions", "per", "baseline", "change"
    );
    for (name, cost) in &counts.ops {
        let base = baseline.and_then(|b| b.ops.get(name));
        let _ = writeln!(
            out,
            "{:<20} {:>14} {:>8} {:>14} {:>8}",
            name,
            cost.instructions,
            cost.unit,
            base.map_or("-".into(), |b| b.instructions.to_string()),
            base.map_or("-".into(), |b| format!(
                "{:+.2}%",
                change_pct(cost.instructions, b.instructions)
            )),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_callgrinds_summary_line() {
        let stderr = "==41== Callgrind, a call-graph generating cache profiler\n\
                      ==41== Events    : Ir\n==41== Collected : 1234567\n==41==\n";
        assert_eq!(parse_collected(stderr), Some(1_234_567));
        assert_eq!(parse_collected("no summary"), None);
    }

    #[test]
    fn flags_only_rises_beyond_the_tolerance() {
        let counts = |v: &[(&str, u64)]| Counts {
            method: String::new(),
            ops: v
                .iter()
                .map(|(k, n)| {
                    (
                        k.to_string(),
                        OpCost {
                            unit: "request".into(),
                            instructions: *n,
                        },
                    )
                })
                .collect(),
        };
        let base = counts(&[("a", 1000), ("b", 1000), ("c", 1000)]);
        let now = counts(&[("a", 1020), ("b", 1021), ("c", 500), ("new", 9)]);
        assert_eq!(regressions(&now, &base), vec!["b +2.1%".to_string()]);
    }
}
