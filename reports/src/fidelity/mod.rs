//! Fidelity: one scenario's simulator report against its real-mode report.
//!
//! A simulator is worth its agreement with reality. [`Fidelity::of`] puts
//! the two reports of one scenario side by side, strategy by strategy:
//! where the calls went (per-replica shares, in points), how long they took
//! (real ÷ sim at p50, p90, p99), how they failed (codes), how much the
//! sidecars retried; gives each row a verdict against [`Tolerances`]; and
//! names the systematic differences it can see ([`Finding`]) instead of
//! letting a reader guess.
//!
//! Real mode is not deterministic: these are comparisons with tolerances,
//! never of bytes.

mod findings;
mod markdown;
#[cfg(test)]
mod tests;

pub use markdown::table;

use crate::summary::{self, SummaryRow};
use crate::{Mode, Report, StrategyReport};
use findings::{discordant, findings, service_time};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What "agrees" means.
///
/// ## Default values
/// - shares: 5 points per replica (the demo's must-hold: a 50/50 split
///   stays within 45–55 in real mode);
/// - latency: real p50 and p90 at most 2× the simulator's, and at least
///   half. The simulator charges no CPU time and real mode runs on a
///   shared 2-core machine, so real is expected slower; a factor of two
///   is where a difference stops being overhead and becomes a different
///   behaviour. p99 is shown, not judged: on 2 cores it is scheduling
///   noise as much as the system;
/// - errors: the share of failed calls within 2 points;
/// - ranking by p99: every pair of strategies whose simulator p99s differ
///   by more than 25 % is ordered the same way in real mode (closer pairs
///   are ties: in the bundled scenarios several strategies share a p99 to
///   the microsecond in the simulator).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tolerances {
    /// Largest per-replica share difference, percentage points.
    pub share_pts: f64,
    /// Largest real ÷ sim latency ratio (p50, p90); its inverse is the
    /// smallest.
    pub latency_ratio: f64,
    /// Largest difference in the failed-call share, percentage points.
    pub error_pts: f64,
    /// Two strategies are ranked (by p99) only when the simulator's p99s
    /// differ by more than this factor; closer ones are a tie, which noise
    /// may order either way.
    pub rank_separation: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self {
            share_pts: 5.0,
            latency_ratio: 2.0,
            error_pts: 2.0,
            rank_separation: 1.25,
        }
    }
}

/// One strategy, sim against real.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FidelityRow {
    /// The strategy (as it ran for real).
    pub strategy: String,
    /// For a real proxy run as a peer: the simulated strategy it is held
    /// against (meshsim's own policy of the same name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modelled_by: Option<String>,
    /// Per replica: (sim share %, real share %) of successful calls.
    pub shares: BTreeMap<String, (f64, f64)>,
    /// The largest per-replica difference, points.
    pub share_diff_pts: f64,
    /// Simulator call latency (p50, p90, p99), ms.
    pub sim_ms: [f64; 3],
    /// Real call latency (p50, p90, p99), ms.
    pub real_ms: [f64; 3],
    /// real ÷ sim at p50, p90, p99 (1 when the simulator's is 0).
    pub ratio: [f64; 3],
    /// Failed calls by code, in the simulator.
    pub sim_errors: BTreeMap<String, u64>,
    /// Failed calls by code, in real mode.
    pub real_errors: BTreeMap<String, u64>,
    /// Failed-call share, sim and real, %.
    pub error_pct: (f64, f64),
    /// Sidecar attempts per request, sim and real (sidecar strategies).
    pub retry_amplification: Option<(f64, f64)>,
    /// Whether every judged figure is within tolerance.
    pub agrees: bool,
    /// What is outside tolerance, if anything.
    pub outside: Vec<String>,
}

/// A systematic difference between the two runs, with its explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Short name, e.g. `cpu-time`.
    pub kind: String,
    /// What was seen and why.
    pub text: String,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fidelity {
    /// Scenario name.
    pub scenario: String,
    /// Seed of both runs.
    pub seed: u64,
    /// Cores of the machine real mode ran on.
    pub host_cores: Option<usize>,
    /// The tolerances the verdicts use.
    pub tolerances: Tolerances,
    /// One row per strategy present in both reports, in the sim's order.
    pub rows: Vec<FidelityRow>,
    /// Whether the strategies rank the same by p99 in both runs (pairs
    /// closer than [`Tolerances::rank_separation`] are ties).
    pub same_p99_ranking: bool,
    /// The pairs ranked differently: (better in the simulator, better in
    /// real mode).
    pub discordant: Vec<(String, String)>,
    /// Systematic differences found.
    pub findings: Vec<Finding>,
}

/// Why two reports cannot be compared.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FidelityError {
    /// The first report must come from the simulator, the second from real
    /// mode.
    #[error("expected a simulator report and a real-mode report, got {0:?} and {1:?}")]
    Modes(Mode, Mode),
    /// They ran different scenarios.
    #[error("the reports are of different scenarios ({0} and {1})")]
    Scenario(String, String),
}

fn pct(n: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        n as f64 * 100.0 / total as f64
    }
}

fn ratio(real: f64, sim: f64) -> f64 {
    if sim > 0.0 { real / sim } else { 1.0 }
}

// === impl Fidelity ===

impl Fidelity {
    /// Compares `sim` (a simulator report) with `real` (real mode) of the
    /// same scenario.
    pub fn of(sim: &Report, real: &Report, tolerances: Tolerances) -> Result<Self, FidelityError> {
        if sim.mode != Mode::Sim || real.mode != Mode::Real {
            return Err(FidelityError::Modes(sim.mode, real.mode));
        }
        // By name: the simulator's run may leave out strategies only real
        // mode can run (real proxies), which changes the scenario's hash.
        if sim.scenario.name != real.scenario.name {
            return Err(FidelityError::Scenario(
                sim.scenario.name.clone(),
                real.scenario.name.clone(),
            ));
        }
        let mut rows: Vec<FidelityRow> = Vec::new();
        for r in &real.strategies {
            // The same strategy in the simulator, or for a real proxy run as
            // a peer (`nginx:round-robin`), meshsim's own policy of that
            // name (`sidecar:round-robin`): the simulator's model of it.
            let own = r
                .name
                .split_once(':')
                .map(|(_, policy)| format!("sidecar:{policy}"));
            let s = sim
                .strategies
                .iter()
                .find(|s| s.name == r.name)
                .or_else(|| {
                    let own = own.as_deref()?;
                    sim.strategies.iter().find(|s| s.name == own)
                });
            if let Some(s) = s {
                let mut row = row(s, r, &tolerances);
                row.strategy = r.name.clone();
                if s.name != r.name {
                    row.modelled_by = Some(s.name.clone());
                }
                rows.push(row);
            }
        }
        let discordant = discordant(&rows, tolerances.rank_separation);
        let mut findings = findings(&rows, real.host_cores);
        findings.extend(service_time(sim, real));
        Ok(Self {
            scenario: sim.scenario.name.clone(),
            seed: sim.seed,
            host_cores: real.host_cores,
            tolerances,
            rows,
            same_p99_ranking: discordant.is_empty(),
            discordant,
            findings,
        })
    }

    /// Whether every row agrees.
    pub fn agrees(&self) -> bool {
        self.rows.iter().all(|r| r.agrees)
    }

    /// `fidelity.json`: pretty JSON and a trailing newline.
    pub fn to_json_bytes(&self) -> serde_json::Result<Vec<u8>> {
        crate::json_bytes(self)
    }
}

fn shares(s: &SummaryRow) -> BTreeMap<String, f64> {
    s.shares
        .iter()
        .map(|(pod, _, share)| (pod.clone(), share * 100.0))
        .collect()
}

fn row(sim: &StrategyReport, real: &StrategyReport, t: &Tolerances) -> FidelityRow {
    let (s, r) = (summary::row(sim), summary::row(real));
    let (ss, rs) = (shares(&s), shares(&r));
    let mut both: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (pod, v) in &ss {
        both.entry(pod.clone()).or_default().0 = *v;
    }
    for (pod, v) in &rs {
        both.entry(pod.clone()).or_default().1 = *v;
    }
    let share_diff_pts = both
        .values()
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let sim_ms = [s.p50, s.p90, s.p99];
    let real_ms = [r.p50, r.p90, r.p99];
    let ratio = [0, 1, 2].map(|i| ratio(real_ms[i], sim_ms[i]));
    let error_pct = (
        pct(
            sim.requests.sent.saturating_sub(sim.requests.ok),
            sim.requests.sent,
        ),
        pct(
            real.requests.sent.saturating_sub(real.requests.ok),
            real.requests.sent,
        ),
    );
    let mut outside = Vec::new();
    if share_diff_pts > t.share_pts {
        outside.push(format!("shares differ by {share_diff_pts:.1} points"));
    }
    for (i, name) in [(0, "p50"), (1, "p90")] {
        let x = ratio[i];
        if x > t.latency_ratio || x < 1.0 / t.latency_ratio {
            outside.push(format!("{name} ×{x:.2}"));
        }
    }
    if (error_pct.0 - error_pct.1).abs() > t.error_pts {
        outside.push(format!(
            "failed calls {:.1}% → {:.1}%",
            error_pct.0, error_pct.1
        ));
    }
    FidelityRow {
        strategy: sim.name.clone(),
        modelled_by: None,
        shares: both,
        share_diff_pts,
        sim_ms,
        real_ms,
        ratio,
        sim_errors: sim.requests.errors.clone(),
        real_errors: real.requests.errors.clone(),
        error_pct,
        retry_amplification: match (&sim.proxy, &real.proxy) {
            (Some(a), Some(b)) => Some((a.retry_amplification, b.retry_amplification)),
            _ => None,
        },
        agrees: outside.is_empty(),
        outside,
    }
}
