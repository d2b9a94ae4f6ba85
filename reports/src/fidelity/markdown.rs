//! `fidelity.md` and the Markdown table of rows.

use super::{Fidelity, FidelityRow};
use std::collections::BTreeMap;
use std::fmt::Write;

impl Fidelity {
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
