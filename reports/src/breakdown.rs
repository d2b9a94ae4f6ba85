//! The per-replica breakdown: each StockData pod's successful calls and
//! their share, one row per replica and one column per strategy.
//!
//! The summary table keeps one line per strategy whatever the number of
//! replicas: it shows their spread (`replicas`, `min share`, `max share`,
//! `fairness`). This is where each pod is named. Up to [`MAX_ROWS`]
//! replicas are listed, in name order; beyond that, the [`ENDS`] busiest
//! and the [`ENDS`] idlest (by successful calls over every strategy) and a
//! line for the rest, which `report.json` lists in full.

use crate::Report;
use crate::summary;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Widest terminal line of the breakdown, in columns, unless one
/// strategy's column alone is wider: strategies beyond it go to another
/// block of the same rows.
pub const WRAP: usize = 160;
/// Most replicas listed one by one.
pub const MAX_ROWS: usize = 50;
/// Beyond [`MAX_ROWS`] replicas: how many of the busiest, and of the
/// idlest, are listed.
pub const ENDS: usize = 10;

// The busiest and the idlest never overlap.
const _: () = assert!(2 * ENDS < MAX_ROWS);

/// A successful-call count and its share of the strategy's successful
/// calls (0..=1).
pub type Cell = Option<(u64, f64)>;

/// One line of the breakdown.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A replica: its name and one cell per strategy, in the report's
    /// order (`None` where that strategy's run had no such pod).
    Replica(String, Vec<Cell>),
    /// This many replicas are left out here.
    More(usize),
}

/// The breakdown of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    /// Strategy names, the columns.
    pub strategies: Vec<String>,
    /// The lines shown, top to bottom.
    pub lines: Vec<Line>,
    /// Replicas in the report (in any strategy's run).
    pub replicas: usize,
}

/// `stockdata-2` before `stockdata-10`: names compared with their trailing
/// numbers as numbers (then as text, so the order is total).
pub fn pod_order(a: &str, b: &str) -> Ordering {
    fn split(s: &str) -> (&str, &str) {
        s.split_at(s.trim_end_matches(|c: char| c.is_ascii_digit()).len())
    }
    let ((pa, na), (pb, nb)) = (split(a), split(b));
    let (na, nb) = (na.trim_start_matches('0'), nb.trim_start_matches('0'));
    pa.cmp(pb)
        .then(na.len().cmp(&nb.len()))
        .then(na.cmp(nb))
        .then(a.cmp(b))
}

/// `500 (50%)`, or `-` for a pod the strategy's run did not have.
pub fn cell_text(cell: Cell) -> String {
    match cell {
        Some((n, share)) => format!("{n} ({:.0}%)", share * 100.0),
        None => "-".into(),
    }
}

impl Breakdown {
    /// The breakdown of every strategy's `per_replica`.
    pub fn of(report: &Report) -> Self {
        let rows = summary::rows(report);
        let mut pods: BTreeMap<&str, Vec<Cell>> = BTreeMap::new();
        for (i, row) in rows.iter().enumerate() {
            for (pod, n, share) in &row.shares {
                pods.entry(pod).or_insert_with(|| vec![None; rows.len()])[i] = Some((*n, *share));
            }
        }
        let replicas = pods.len();
        let mut pods: Vec<(&str, Vec<Cell>)> = pods.into_iter().collect();
        let lines = if replicas <= MAX_ROWS {
            pods.sort_by(|a, b| pod_order(a.0, b.0));
            pods.into_iter()
                .map(|(pod, cells)| Line::Replica(pod.to_string(), cells))
                .collect()
        } else {
            let total = |cells: &[Cell]| {
                cells
                    .iter()
                    .flatten()
                    .fold(0u64, |sum, &(n, _)| sum.saturating_add(n))
            };
            pods.sort_by(|a, b| total(&b.1).cmp(&total(&a.1)).then(pod_order(a.0, b.0)));
            let line =
                |(pod, cells): &(&str, Vec<Cell>)| Line::Replica(pod.to_string(), cells.clone());
            let mut lines: Vec<Line> = pods[..ENDS].iter().map(line).collect();
            lines.push(Line::More(replicas - 2 * ENDS));
            lines.extend(pods[replicas - ENDS..].iter().map(line));
            lines
        };
        Self {
            strategies: rows.into_iter().map(|r| r.strategy).collect(),
            lines,
            replicas,
        }
    }

    /// Whether no strategy reported a replica.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// What the breakdown shows, as a sentence.
    pub fn caption(&self) -> String {
        match self.selection() {
            Some(which) => {
                format!("Successful calls per replica and their share of the strategy's: {which}.")
            }
            None => "Successful calls per replica and their share of the strategy's.".into(),
        }
    }

    /// Which replicas are listed, when not all of them are.
    fn selection(&self) -> Option<String> {
        self.lines
            .iter()
            .any(|l| matches!(l, Line::More(_)))
            .then(|| {
                format!(
                    "the {ENDS} busiest and the {ENDS} idlest of {} replicas, by successful calls \
                 over every strategy",
                    self.replicas
                )
            })
    }

    /// The text of a [`Line::More`].
    pub fn more_text(hidden: usize) -> String {
        format!("… {hidden} more replicas (report.json lists every one)")
    }

    /// The terminal rendering: a heading, then one aligned line per
    /// replica, indented; `bold` styles the column headings. Lines stay
    /// within [`WRAP`] columns where they can: strategies that do not fit
    /// continue in another block below (a blank line, then the replica
    /// column again), so each block is one line per replica.
    pub fn text(&self, bold: &dyn Fn(String) -> String) -> String {
        let mut out = String::new();
        if self.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "\nper replica (successful calls and share){}",
            self.selection()
                .map(|which| format!(": {which}"))
                .unwrap_or_default()
        );
        let name_w = self
            .replica_lines()
            .map(|(pod, _)| pod.chars().count())
            .fold("replica".len(), usize::max);
        let widths = self.column_widths();
        let mut blocks = Vec::new();
        let mut block: Vec<usize> = Vec::new();
        let mut used = 2 + name_w;
        for (i, &(_, _, w)) in widths.iter().enumerate() {
            if !block.is_empty() && used + 2 + w > WRAP {
                blocks.push(std::mem::take(&mut block));
                used = 2 + name_w;
            }
            block.push(i);
            used += 2 + w;
        }
        blocks.push(block);
        for (b, block) in blocks.iter().enumerate() {
            if b > 0 {
                out.push('\n');
            }
            self.block_text(block, name_w, &widths, bold, &mut out);
        }
        out
    }

    /// The replicas listed, with their cells.
    fn replica_lines(&self) -> impl Iterator<Item = (&String, &Vec<Cell>)> {
        self.lines.iter().filter_map(|l| match l {
            Line::Replica(pod, cells) => Some((pod, cells)),
            Line::More(_) => None,
        })
    }

    /// Per strategy: the widths of the count and of the `(share)`, so
    /// that both line up, and of the whole column.
    fn column_widths(&self) -> Vec<(usize, usize, usize)> {
        let mut widths = Vec::new();
        for (i, name) in self.strategies.iter().enumerate() {
            let cells = || self.replica_lines().filter_map(move |(_, cells)| cells[i]);
            let count_w = cells()
                .map(|(n, _)| n.to_string().len())
                .fold(1, usize::max);
            let share_w = cells()
                .map(|(_, s)| format!("({:.0}%)", s * 100.0).len())
                .fold(0, usize::max);
            let column_w = (count_w + 1 + share_w).max(name.chars().count());
            widths.push((count_w, share_w, column_w));
        }
        widths
    }

    /// One block of the terminal rendering: the heading line and a line
    /// per replica, with the strategies (columns) in `block`.
    fn block_text(
        &self,
        block: &[usize],
        name_w: usize,
        widths: &[(usize, usize, usize)],
        bold: &dyn Fn(String) -> String,
        out: &mut String,
    ) {
        let mut head = format!("{:<name_w$}", "replica");
        for &i in block {
            let w = widths[i].2;
            let _ = write!(head, "  {:>w$}", self.strategies[i]);
        }
        let _ = writeln!(out, "  {}", bold(head));
        for line in &self.lines {
            let (pod, cells) = match line {
                Line::Replica(pod, cells) => (pod, cells),
                Line::More(n) => {
                    let _ = writeln!(out, "  {}", Self::more_text(*n));
                    continue;
                }
            };
            let mut text = format!("{pod:<name_w$}");
            for &i in block {
                let (cw, sw, w) = widths[i];
                let cell = match cells[i] {
                    Some((n, s)) => format!("{n:>cw$} {:>sw$}", format!("({:.0}%)", s * 100.0)),
                    None => "-".into(),
                };
                let _ = write!(text, "  {cell:>w$}");
            }
            let _ = writeln!(out, "  {}", text.trim_end());
        }
    }

    /// The Markdown rendering: a heading, the caption and a table.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        if self.is_empty() {
            return out;
        }
        let esc = |s: &str| s.replace('|', "\\|");
        let _ = writeln!(out, "\n## Per replica\n\n{}\n", self.caption());
        let names: Vec<String> = self.strategies.iter().map(|s| esc(s)).collect();
        let _ = writeln!(out, "| replica | {} |", names.join(" | "));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(names.len()));
        for line in &self.lines {
            match line {
                Line::Replica(pod, cells) => {
                    let cells: Vec<String> = cells.iter().map(|&c| cell_text(c)).collect();
                    let _ = writeln!(out, "| {} | {} |", esc(pod), cells.join(" | "));
                }
                Line::More(n) => {
                    let _ = writeln!(
                        out,
                        "| {} |{}",
                        Self::more_text(*n),
                        " |".repeat(names.len())
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_sort_by_their_numbers() {
        let mut pods = vec!["stockdata-10", "stockdata-2", "b", "stockdata-01", "a-1"];
        pods.sort_by(|a, b| pod_order(a, b));
        assert_eq!(
            pods,
            ["a-1", "b", "stockdata-01", "stockdata-2", "stockdata-10"]
        );
    }

    #[test]
    fn cells_show_count_and_share() {
        assert_eq!(cell_text(Some((500, 0.5))), "500 (50%)");
        assert_eq!(cell_text(None), "-");
    }
}
