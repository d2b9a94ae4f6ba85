//! Sim against real: each strategy's p50 and p99 as a point (simulator on
//! x, real mode on y, both log scale) with the diagonal where they agree
//! and the tolerance band around it.

use super::latency::legend;
use super::{FONT, Figure, color, err};
use crate::fidelity::Fidelity;
use plotters::coord::Shift;
use plotters::prelude::*;

/// (simulator, real) latency in ms.
pub type SimReal = (f64, f64);

/// The fidelity scatter of one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct FidelityChart {
    /// Scenario name, for the title.
    pub scenario: String,
    /// Per strategy: (name, (sim p50, real p50), (sim p99, real p99)), ms.
    pub points: Vec<(String, SimReal, SimReal)>,
    /// The latency tolerance (a ratio), drawn as a band.
    pub ratio: f64,
}

impl FidelityChart {
    /// The chart of a comparison.
    pub fn of(f: &Fidelity) -> Self {
        Self {
            scenario: f.scenario.clone(),
            points: f
                .rows
                .iter()
                .map(|r| {
                    (
                        r.strategy.clone(),
                        (r.sim_ms[0], r.real_ms[0]),
                        (r.sim_ms[2], r.real_ms[2]),
                    )
                })
                .collect(),
            ratio: f.tolerances.latency_ratio,
        }
    }
}

impl Figure for FidelityChart {
    fn name(&self) -> String {
        "fidelity".into()
    }

    fn title(&self) -> String {
        format!(
            "{}: real mode against the simulator (● p50, ▲ p99)",
            self.scenario
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let root = root.titled(&self.title(), (FONT, 22)).map_err(err)?;
        let all = self
            .points
            .iter()
            .flat_map(|(_, a, b)| [a.0, a.1, b.0, b.1])
            .filter(|v| *v > 0.0);
        let (lo, hi) = all.fold((f64::INFINITY, 0f64), |(l, h), v| (l.min(v), h.max(v)));
        let (lo, hi) = if lo.is_finite() && hi > lo {
            (lo / 1.5, hi * 1.5)
        } else {
            (0.1, 100.0)
        };
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((lo..hi).log_scale(), (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("simulator latency (ms)")
            .y_desc("real-mode latency (ms)")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .draw()
            .map_err(err)?;
        let diagonal = [(lo, lo), (hi, hi)];
        chart
            .draw_series(LineSeries::new(diagonal, BLACK.stroke_width(1)))
            .map_err(err)?;
        for band in [self.ratio, 1.0 / self.ratio] {
            chart
                .draw_series(LineSeries::new(
                    [(lo, lo * band), (hi, hi * band)],
                    BLACK.mix(0.3).stroke_width(1),
                ))
                .map_err(err)?;
        }
        for (i, (name, p50, p99)) in self.points.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series([Circle::new(*p50, 6, c.filled())])
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 12, y), 5, c.filled()));
            chart
                .draw_series([TriangleMarker::new(*p99, 7, c.filled())])
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}
