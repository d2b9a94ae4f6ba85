//! A sweep's summary: p99 and error rate against the swept parameter, one
//! line per strategy (and per value of any other swept parameter).

use super::latency::{Lines, draw_lines, legend};
use super::{FONT, Figure, WIDTH, color, err, y_max};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One line: a strategy (with the other parameters' values in its label).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepLine {
    /// Legend label.
    pub label: String,
    /// (parameter value, p99 ms).
    pub p99_ms: Vec<(f64, f64)>,
    /// (parameter value, error rate %).
    pub error_pct: Vec<(f64, f64)>,
}

/// p99 and error rate against a parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepChart {
    /// The swept parameter, e.g. `stockdata.replicas`.
    pub parameter: String,
    /// One per line.
    pub lines: Vec<SweepLine>,
}

impl Figure for SweepChart {
    fn name(&self) -> String {
        "sweep".into()
    }

    fn title(&self) -> String {
        format!("p99 latency and error rate by {}", self.parameter)
    }

    fn size(&self) -> (u32, u32) {
        (WIDTH, 760)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let panels: [(&str, Lines); 2] = [
            (
                "p99 latency (ms)",
                self.lines
                    .iter()
                    .map(|l| (l.label.clone(), l.p99_ms.clone()))
                    .collect(),
            ),
            (
                "call error rate (%)",
                self.lines
                    .iter()
                    .map(|l| (l.label.clone(), l.error_pct.clone()))
                    .collect(),
            ),
        ];
        draw_panels(root, &self.title(), &self.parameter, &panels)
    }
}

/// Two panels over one x axis (a parameter), a line with dots per series,
/// the legend in the first: a sweep's summary, a proxy's cost by load.
pub(crate) fn draw_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    panels: &[(&str, Lines); 2],
) -> Result<(), String> {
    let root = root.titled(title, (FONT, 24)).map_err(err)?;
    let (xmin, xmax) = panels[0]
        .1
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(x, _)| x))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    let (xmin, xmax) = if xmin.is_finite() && xmax > xmin {
        (xmin, xmax)
    } else {
        (xmin.min(0.0).min(xmax), xmax.max(1.0) + 1.0)
    };
    let pad = (xmax - xmin) * 0.05;
    let areas = root.split_evenly((2, 1));
    for (k, (area, (label, lines))) in areas.iter().zip(panels.iter()).enumerate() {
        let ymax = y_max(lines.iter().flat_map(|(_, p)| p.iter()), 1.0);
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d((xmin - pad)..(xmax + pad), 0f64..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(*label)
            .label_style((FONT, 13))
            .draw()
            .map_err(err)?;
        if k == 0 {
            draw_lines(&mut chart, lines)?;
            legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        } else {
            for (i, (_, points)) in lines.iter().enumerate() {
                chart
                    .draw_series(LineSeries::new(
                        points.iter().copied(),
                        color(i).stroke_width(2),
                    ))
                    .map_err(err)?;
            }
        }
        for (i, (_, points)) in lines.iter().enumerate() {
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 4, color(i).filled())))
                .map_err(err)?;
        }
    }
    Ok(())
}
