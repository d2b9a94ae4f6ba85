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

use crate::summary::{self, SummaryRow};
use crate::{Mode, Report, StrategyReport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

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

    /// `fidelity.md`: the table, the ranking and the findings.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Fidelity: {}\n", self.scenario);
        let _ = writeln!(
            out,
            "Seed {}; the simulator against real mode{}. Shares are of successful calls \
             (sim → real, the largest per-replica difference in points); latency is per \
             call, real ÷ sim. Tolerances: shares {} points, p50 and p90 within ×{} either \
             way, failed calls {} points; p99 is shown, not judged.\n",
            self.seed,
            self.host_cores
                .map(|c| format!(" on {c} cores"))
                .unwrap_or_default(),
            self.tolerances.share_pts,
            self.tolerances.latency_ratio,
            self.tolerances.error_pts,
        );
        out.push_str(&table(&self.rows));
        let _ = writeln!(
            out,
            "\nRanking by p99: {}.",
            if self.same_p99_ranking {
                format!(
                    "the same in both (pairs within ×{} of each other in the simulator \
                     count as ties)",
                    self.tolerances.rank_separation
                )
            } else {
                format!(
                    "**differs**: {}",
                    self.discordant
                        .iter()
                        .map(|(a, b)| format!("{a} beats {b} in the simulator, not for real"))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            }
        );
        if !self.findings.is_empty() {
            let _ = writeln!(out, "\n## Systematic differences\n");
            for f in &self.findings {
                let _ = writeln!(out, "- **{}**: {}", f.kind, f.text);
            }
        }
        out
    }
}

/// The rows as a Markdown table (also used by `docs/fidelity.md`).
pub fn table(rows: &[FidelityRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| strategy | share diff (pts) | p50 ms sim → real (×) | p90 ms sim → real (×) | p99 ms sim → real (×) | errors sim → real | retry amp sim → real | verdict |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---|---:|---|");
    for r in rows {
        let lat = |i: usize| {
            format!(
                "{:.1} → {:.1} (×{:.2})",
                r.sim_ms[i], r.real_ms[i], r.ratio[i]
            )
        };
        let errors = |e: &BTreeMap<String, u64>| {
            if e.is_empty() {
                "0".to_string()
            } else {
                e.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let _ = writeln!(
            out,
            "| {} | {:.1} | {} | {} | {} | {} → {} | {} | {} |",
            match &r.modelled_by {
                Some(own) => format!("{} (sim: {own})", r.strategy),
                None => r.strategy.clone(),
            },
            r.share_diff_pts,
            lat(0),
            lat(1),
            lat(2),
            errors(&r.sim_errors),
            errors(&r.real_errors),
            r.retry_amplification
                .map(|(s, x)| format!("{s:.2} → {x:.2}"))
                .unwrap_or_else(|| "-".into()),
            if r.agrees {
                "agrees".to_string()
            } else {
                format!("**outside**: {}", r.outside.join("; "))
            }
        );
    }
    out
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
        pct(sim.requests.sent - sim.requests.ok, sim.requests.sent),
        pct(real.requests.sent - real.requests.ok, real.requests.sent),
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

/// Pairs (a, b) where a's p99 is lower than b's by more than `separation`
/// in the simulator but not lower in real mode.
fn discordant(rows: &[FidelityRow], separation: f64) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for a in rows {
        for b in rows {
            let (sa, sb) = (a.sim_ms[2], b.sim_ms[2]);
            if sa * separation < sb && a.real_ms[2] >= b.real_ms[2] {
                out.push((a.strategy.clone(), b.strategy.clone()));
            }
        }
    }
    out
}

/// Mean time the replicas held a worker slot per request, over every
/// strategy of a report.
fn mean_service(r: &Report) -> Option<f64> {
    let mut t = crate::ReplicaTotals::default();
    for s in &r.strategies {
        t.add(s.replica_totals());
    }
    t.mean_service_ms()
}

/// Whether real replicas took noticeably longer per request than
/// simulated ones (the same drawn demands: a timer's overshoot).
fn service_time(sim: &Report, real: &Report) -> Option<Finding> {
    let (s, r) = (mean_service(sim)?, mean_service(real)?);
    (r > s * 1.05).then(|| Finding {
        kind: "service-time".into(),
        text: format!(
            "the replicas held a worker for {r:.2} ms per request for real against \
             {s:.2} ms simulated (+{:.0} %), for the same drawn demands. A service time is \
             a timer, and real timers fire late: tokio's wheel rounds a deadline up to its \
             next millisecond and the thread then has to be scheduled. On millisecond \
             service times that is a capacity loss the simulator does not have, and near \
             saturation it decides the outcome (a queue at ρ = 0.8 grows ~5× faster than \
             the service time).",
            (r / s - 1.0) * 100.0
        ),
    })
}

/// The systematic differences visible in `rows`.
fn findings(rows: &[FidelityRow], cores: Option<usize>) -> Vec<Finding> {
    let mut found = Vec::new();
    let offsets: Vec<f64> = rows.iter().map(|r| r.real_ms[0] - r.sim_ms[0]).collect();
    if !offsets.is_empty() && offsets.iter().all(|&d| d > 0.0) {
        let (lo, hi) = offsets
            .iter()
            .fold((f64::INFINITY, 0f64), |(a, b), &d| (a.min(d), b.max(d)));
        found.push(Finding {
            kind: "cpu-time".into(),
            text: format!(
                "real mode is slower at p50 in every strategy, by {lo:.1}–{hi:.1} ms. The \
                 simulator charges no CPU time: HTTP/2 and gRPC cost about 15 µs of CPU per \
                 request per hop, a page's 100 concurrent calls queue for {} core(s) in \
                 real mode, and every hop adds a kernel round trip on loopback.",
                cores.map_or_else(|| "the".to_string(), |c| c.to_string())
            ),
        });
    }
    let moved: Vec<String> = rows
        .iter()
        .filter(|r| {
            r.sim_errors.contains_key("UNAVAILABLE")
                && ["UNKNOWN", "CANCELLED", "INTERNAL"]
                    .iter()
                    .any(|c| r.real_errors.contains_key(*c) && !r.sim_errors.contains_key(*c))
        })
        .map(|r| r.strategy.clone())
        .collect();
    if !moved.is_empty() {
        found.push(Finding {
            kind: "error-codes".into(),
            text: format!(
                "{}: calls in flight on a connection that breaks end as UNKNOWN, CANCELLED \
                 or INTERNAL in real mode (the kernel resets the socket mid-stream and \
                 tonic reports what h2 saw) where the simulator's broken connection \
                 reports UNAVAILABLE.",
                moved.join(", ")
            ),
        });
    }
    let tails: Vec<String> = rows
        .iter()
        .filter(|r| r.ratio[2] > 2.0 * r.ratio[0].max(1.0))
        .map(|r| format!("{} (p99 ×{:.2})", r.strategy, r.ratio[2]))
        .collect();
    if !tails.is_empty() {
        found.push(Finding {
            kind: "tail-noise".into(),
            text: format!(
                "{}: the real tail grows far more than the median. On a shared machine \
                 with {} core(s) the p99 includes the scheduler (threads of the load \
                 generator, the pods and the sidecars compete) and timer slack, which the \
                 simulator's tick-exact clock does not have.",
                tails.join(", "),
                cores.map_or_else(|| "few".to_string(), |c| c.to_string())
            ),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Latency, Requests};

    fn strategy(name: &str, split: (u64, u64), p50: f64, errors: &[(&str, u64)]) -> StrategyReport {
        let lat = Latency {
            count: 100,
            mean: p50,
            p50,
            p90: p50 * 2.0,
            p99: p50 * 3.0,
            p999: p50 * 3.0,
            max: p50 * 4.0,
        };
        let failed: u64 = errors.iter().map(|(_, n)| n).sum();
        StrategyReport {
            name: name.into(),
            requests: Requests {
                sent: split.0 + split.1 + failed,
                ok: split.0 + split.1,
                errors: errors.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                unanswered: 0,
            },
            per_replica: [("a".to_string(), split.0), ("b".to_string(), split.1)].into(),
            latency_ms: lat,
            page_loads: vec![],
            pages: None,
            measured_ms: 1000.0,
            measured_ok: split.0 + split.1,
            series_bucket_ms: 1000.0,
            failed_page_loads: 0,
            sim_time_ms: 1000.0,
            per_replica_latency_ms: BTreeMap::new(),
            workload: None,
            series: vec![],
            settings: BTreeMap::new(),
            proxy: None,
            histograms: Default::default(),
            waits: BTreeMap::new(),
            replicas: BTreeMap::new(),
        }
    }

    fn report(mode: Mode, strategies: Vec<StrategyReport>) -> Report {
        let mut r = Report::new("0", 1, "s", "h", strategies);
        r.mode = mode;
        r.host_cores = (mode == Mode::Real).then_some(2);
        r
    }

    #[test]
    fn shares_ratios_and_verdicts_have_known_answers() {
        let sim = report(
            Mode::Sim,
            vec![
                strategy("rr", (500, 500), 10.0, &[]),
                strategy("pinned", (1000, 0), 20.0, &[]),
            ],
        );
        let real = report(
            Mode::Real,
            vec![
                strategy("rr", (540, 460), 15.0, &[]),
                strategy("pinned", (0, 1000), 50.0, &[("UNKNOWN", 30)]),
            ],
        );
        let f = Fidelity::of(&sim, &real, Tolerances::default()).expect("comparable");
        let rr = &f.rows[0];
        assert!((rr.share_diff_pts - 4.0).abs() < 1e-9, "{rr:?}");
        assert_eq!(rr.ratio, [1.5, 1.5, 1.5]);
        assert!(rr.agrees, "{rr:?}");
        let pinned = &f.rows[1];
        assert!((pinned.share_diff_pts - 100.0).abs() < 1e-9);
        assert!(!pinned.agrees);
        assert_eq!(pinned.outside.len(), 4, "{:?}", pinned.outside);
        // 10 → 15 and 20 → 50: both slower at p50, by 5 and 30 ms.
        assert_eq!(f.findings[0].kind, "cpu-time");
        assert!(
            f.findings[0].text.contains("5.0–30.0 ms"),
            "{:?}",
            f.findings
        );
        assert!(f.same_p99_ranking);
        assert!(!f.agrees());
        assert!(f.markdown().contains("| rr | 4.0 | 10.0 → 15.0 (×1.50)"));
    }

    #[test]
    fn a_different_ranking_and_moved_error_codes_are_named() {
        let sim = report(
            Mode::Sim,
            vec![
                strategy("x", (50, 50), 10.0, &[("UNAVAILABLE", 5)]),
                strategy("y", (50, 50), 20.0, &[]),
            ],
        );
        let real = report(
            Mode::Real,
            vec![
                strategy("x", (50, 50), 30.0, &[("CANCELLED", 5)]),
                strategy("y", (50, 50), 25.0, &[]),
            ],
        );
        let f = Fidelity::of(&sim, &real, Tolerances::default()).expect("comparable");
        assert!(!f.same_p99_ranking);
        assert!(f.findings.iter().any(|x| x.kind == "error-codes"));
    }

    #[test]
    fn slower_real_replicas_are_named_with_their_service_times() {
        let replica = |service: f64| crate::ReplicaReport {
            requests: 100,
            queue_wait_ms: Latency {
                count: 100,
                mean: 0.0,
                p50: 0.0,
                p90: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
            },
            service_ms: Latency {
                count: 100,
                mean: service,
                p50: service,
                p90: service,
                p99: service,
                p999: service,
                max: service,
            },
            work: crate::ServerWork::default(),
        };
        let with = |mode, service| {
            let mut s = strategy("x", (50, 50), 10.0, &[]);
            s.replicas.insert("a".into(), replica(service));
            report(mode, vec![s])
        };
        let f = Fidelity::of(
            &with(Mode::Sim, 4.0),
            &with(Mode::Real, 5.0),
            Tolerances::default(),
        )
        .expect("comparable");
        let found = f.findings.iter().find(|x| x.kind == "service-time");
        assert!(
            found.is_some_and(|x| x.text.contains("5.00 ms") && x.text.contains("+25 %")),
            "{:?}",
            f.findings
        );
        let f = Fidelity::of(
            &with(Mode::Sim, 4.0),
            &with(Mode::Real, 4.1),
            Tolerances::default(),
        )
        .expect("comparable");
        assert!(f.findings.iter().all(|x| x.kind != "service-time"));
    }

    #[test]
    fn only_a_sim_and_a_real_report_of_one_scenario_compare() {
        let sim = report(Mode::Sim, vec![]);
        assert_eq!(
            Fidelity::of(&sim, &sim, Tolerances::default()),
            Err(FidelityError::Modes(Mode::Sim, Mode::Sim))
        );
        let mut real = report(Mode::Real, vec![]);
        real.scenario.name = "other".into();
        assert!(matches!(
            Fidelity::of(&sim, &real, Tolerances::default()),
            Err(FidelityError::Scenario(..))
        ));
    }
}
