//! Horizontal stacked bars, one per strategy: who served the calls (split
//! by StockData pod, the seed demo's "Server" column as a picture), and
//! what the servers paid (useful vs wasted worker time).

use super::{FONT, Figure, HEIGHT, WIDTH, color, err};
use crate::Report;
use crate::breakdown::pod_order;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;

/// Most segments a bar has: one per colour of the palette, so that each
/// colour names one thing.
pub const MAX_SEGMENTS: usize = 10;

/// One stacked bar per strategy, split into segments.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareChart {
    /// File stem.
    pub name: &'static str,
    /// Title.
    pub title: &'static str,
    /// The x axis' description.
    pub x_desc: &'static str,
    /// The x axis' end.
    pub x_max: f64,
    /// Segment labels are drawn as `{value:.decimals$}{unit}`.
    pub unit: &'static str,
    /// Decimals of segment labels.
    pub decimals: usize,
    /// Strategy names, top to bottom.
    pub strategies: Vec<String>,
    /// The segments (legend entries), e.g. every pod in name order.
    pub pods: Vec<String>,
    /// `shares[strategy][segment]`, in x-axis units.
    pub shares: Vec<Vec<f64>>,
}

impl ShareChart {
    /// What the servers paid: each strategy's worker time on every replica,
    /// split into useful work and work wasted on answers nobody used
    /// (errors, abandoned calls). `None` when no strategy has replica
    /// measurements.
    pub fn server_work(report: &Report) -> Option<Self> {
        if report.strategies.iter().all(|s| s.replicas.is_empty()) {
            return None;
        }
        let shares: Vec<Vec<f64>> = report
            .strategies
            .iter()
            .map(|s| {
                let w = s.server_work();
                vec![(w.busy_ms - w.wasted_ms) / 1000.0, w.wasted_ms / 1000.0]
            })
            .collect();
        let most = shares
            .iter()
            .map(|v| v.iter().sum::<f64>())
            .fold(0.0, f64::max);
        Some(Self {
            name: "server-work",
            title: "What the servers paid: worker time, useful vs wasted",
            x_desc: "worker-slot time on every replica (s)",
            x_max: if most > 0.0 { most * 1.05 } else { 1.0 },
            unit: " s",
            decimals: 2,
            strategies: report.strategies.iter().map(|s| s.name.clone()).collect(),
            pods: vec!["useful".into(), "wasted (errors, abandoned)".into()],
            shares,
        })
    }

    /// Who served the calls, from the report's per-replica counts: a
    /// segment per pod, in name order; beyond [`MAX_SEGMENTS`] pods, the
    /// busiest (by successful calls over every strategy) and one segment
    /// for the others.
    pub fn from_report(report: &Report) -> Self {
        let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
        for s in &report.strategies {
            for (pod, &n) in &s.per_replica {
                let t = totals.entry(pod).or_default();
                *t = t.saturating_add(n);
            }
        }
        let mut pods: Vec<&str> = totals.keys().copied().collect();
        let others = pods.len().saturating_sub(MAX_SEGMENTS - 1);
        if pods.len() > MAX_SEGMENTS {
            pods.sort_by(|a, b| totals[b].cmp(&totals[a]).then(pod_order(a, b)));
            pods.truncate(MAX_SEGMENTS - 1);
        }
        pods.sort_by(|a, b| pod_order(a, b));
        let shares = report
            .strategies
            .iter()
            .map(|s| {
                let ok = s
                    .per_replica
                    .values()
                    .fold(0u64, |sum, &n| sum.saturating_add(n));
                let pct = |n: u64| {
                    if ok == 0 {
                        0.0
                    } else {
                        n as f64 * 100.0 / ok as f64
                    }
                };
                let mut bar: Vec<f64> = pods
                    .iter()
                    .map(|p| pct(s.per_replica.get(*p).copied().unwrap_or(0)))
                    .collect();
                if pods.len() < totals.len() {
                    bar.push((100.0 - bar.iter().sum::<f64>()).max(0.0));
                }
                bar
            })
            .collect();
        let mut pods: Vec<String> = pods.into_iter().map(String::from).collect();
        if pods.len() < totals.len() {
            pods.push(format!("{others} other replicas"));
        }
        Self {
            name: "replica-share",
            title: "Share of successful calls per StockData replica",
            x_desc: "share of successful calls (%)",
            x_max: 100.0,
            unit: "%",
            decimals: 0,
            strategies: report.strategies.iter().map(|s| s.name.clone()).collect(),
            pods,
            shares,
        }
    }
}

impl ShareChart {
    /// The first strategy's bar is at the top.
    fn band(&self, i: usize) -> f64 {
        (self.strategies.len() - 1 - i) as f64
    }

    /// Legend entries' (x pixel, row), wrapping at the chart width.
    fn legend_layout(&self) -> Vec<(i32, usize)> {
        let (mut x, mut row) = (100i32, 0usize);
        self.pods
            .iter()
            .map(|pod| {
                let w = 40 + 9 * pod.chars().count() as i32;
                if x + w > WIDTH as i32 - 20 && x > 100 {
                    x = 100;
                    row += 1;
                }
                let at = (x, row);
                x += w;
                at
            })
            .collect()
    }

    /// The legend runs along the top, above the bars it explains.
    fn draw_legend<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        for ((x, row), (p, pod)) in self
            .legend_layout()
            .into_iter()
            .zip(self.pods.iter().enumerate())
        {
            let y = 16 + 24 * row as i32;
            root.draw(&Rectangle::new(
                [(x, y - 7), (x + 14, y + 7)],
                color(p).filled(),
            ))
            .map_err(err)?;
            root.draw(&Text::new(
                pod.clone(),
                (x + 20, y),
                (FONT, 15)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(err)?;
        }
        Ok(())
    }
}

impl Figure for ShareChart {
    fn name(&self) -> String {
        self.name.into()
    }

    fn title(&self) -> String {
        self.title.into()
    }

    fn size(&self) -> (u32, u32) {
        let legend_rows = self.legend_layout().last().map_or(0, |&(_, row)| row + 1);
        let h = 170 + 24 * legend_rows as u32 + 56 * self.strategies.len() as u32;
        (WIDTH, h.clamp(300, HEIGHT * 2))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let n = self.strategies.len().max(1) as f64;
        let longest = self.strategies.iter().map(|s| s.len()).max().unwrap_or(8) as u32;
        let root = &root.titled(&self.title(), (FONT, 24)).map_err(err)?;
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .margin_top(
                16 + 24 * (self.legend_layout().last().map_or(0, |&(_, row)| row + 1) as u32),
            )
            .x_label_area_size(44)
            .y_label_area_size((longest * 9 + 16).clamp(80, 320))
            .build_cartesian_2d(0f64..self.x_max, 0f64..n)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc(self.x_desc)
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        // Strategy names left of their bars (the y axis is categorical).
        for (i, name) in self.strategies.iter().enumerate() {
            // backend_coord is in whole-image pixels; `root` (below the
            // title) draws relative to its own corner.
            let (px, py) = chart.backend_coord(&(0.0, self.band(i) + 0.5));
            let (bx, by) = root.get_base_pixel();
            let (px, py) = (px - bx, py - by);
            root.draw(&Text::new(
                name.clone(),
                (px - 8, py),
                (FONT, 15)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(err)?;
        }
        for (p, _) in self.pods.iter().enumerate() {
            let c = color(p);
            let bars = self.shares.iter().enumerate().map(|(i, shares)| {
                let x0: f64 = shares[..p].iter().sum();
                let x1 = x0 + shares[p];
                let y = self.band(i);
                Rectangle::new([(x0, y + 0.2), (x1, y + 0.8)], c.filled())
            });
            chart.draw_series(bars).map_err(err)?;
        }
        self.draw_legend(root)?;
        // Percentages inside segments wide enough to hold them.
        let labels = self.shares.iter().enumerate().flat_map(|(i, shares)| {
            let mut x0 = 0.0;
            shares
                .iter()
                .filter_map(move |&s| {
                    let mid = x0 + s / 2.0;
                    x0 += s;
                    (s >= 0.08 * self.x_max).then(|| {
                        Text::new(
                            format!("{s:.d$}{}", self.unit, d = self.decimals),
                            (mid, self.band(i) + 0.5),
                            (FONT, 14)
                                .into_font()
                                .color(&WHITE)
                                .pos(Pos::new(HPos::Center, VPos::Center)),
                        )
                    })
                })
                .collect::<Vec<_>>()
        });
        chart.draw_series(labels).map_err(err)?;
        Ok(())
    }
}
