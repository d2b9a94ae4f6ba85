//! The run bucket by bucket: throughput, p99 and error rate per strategy,
//! with the scenario's timeline events as labelled vertical markers, so a
//! reviewer sees what each fault did and how long recovery took.

use super::latency::{draw_lines, legend};
use super::{FONT, Figure, WIDTH, color, err, y_max};
use crate::Report;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Grey of the event markers.
const MARKER: RGBColor = RGBColor(90, 90, 90);

/// One metric's panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Axis label, with unit.
    pub label: String,
    /// Per strategy: (second, value).
    pub lines: Vec<(String, Vec<(f64, f64)>)>,
}

/// Three stacked panels sharing the time axis.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSeriesChart {
    /// Throughput, p99, error rate.
    pub panels: Vec<Panel>,
    /// Timeline events: (seconds, label).
    pub events: Vec<(f64, String)>,
    /// End of the time axis, seconds.
    pub end_s: f64,
}

/// When a point's bucket starts, seconds (schema 2 reports: its second).
fn start_s(p: &crate::SeriesPoint) -> f64 {
    p.start_ms.map_or(p.second as f64, |ms| ms / 1000.0)
}

/// The marker label of an event: time and what happened.
pub fn event_label(at_ms: f64, event: &str) -> String {
    format!("{:.1}s {event}", at_ms / 1000.0)
}

impl TimeSeriesChart {
    /// From the report's per-second series; `None` when no strategy has one.
    pub fn from_report(report: &Report) -> Option<Self> {
        if report.strategies.iter().all(|s| s.series.is_empty()) {
            return None;
        }
        // A count per bucket is shown per second (`rate`), whatever the
        // bucket's width.
        let panel = |label: &str, rate: bool, f: &dyn Fn(&crate::SeriesPoint) -> f64| Panel {
            label: label.into(),
            lines: report
                .strategies
                .iter()
                .map(|s| {
                    let width = s.series_bucket_ms / 1000.0;
                    let pts = s
                        .series
                        .iter()
                        .map(|p| {
                            let v = f(p);
                            (start_s(p) + width / 2.0, if rate { v / width } else { v })
                        })
                        .collect();
                    (s.name.clone(), pts)
                })
                .collect(),
        };
        let end_s = report
            .strategies
            .iter()
            .flat_map(|s| {
                let width = s.series_bucket_ms / 1000.0;
                s.series.last().map(|p| start_s(p) + width)
            })
            .chain(report.timeline.iter().map(|t| t.at_ms / 1000.0 + 0.5))
            .fold(1.0, f64::max);
        Some(Self {
            panels: vec![
                panel("throughput (requests/s)", true, &|p| p.throughput as f64),
                panel("p99 latency (ms)", false, &|p| p.p99_ms),
                panel("call error rate (%)", false, &|p| p.error_rate * 100.0),
            ],
            events: report
                .timeline
                .iter()
                .map(|t| (t.at_ms / 1000.0, event_label(t.at_ms, &t.event)))
                .collect(),
            end_s,
        })
    }
}

impl Figure for TimeSeriesChart {
    fn name(&self) -> String {
        "timeseries".into()
    }

    fn title(&self) -> String {
        "Per second: throughput, p99 latency, error rate".into()
    }

    fn size(&self) -> (u32, u32) {
        (WIDTH, 300 * self.panels.len() as u32 + 60)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let root = root.titled(&self.title(), (FONT, 24)).map_err(err)?;
        let areas = root.split_evenly((self.panels.len(), 1));
        for (k, (area, panel)) in areas.iter().zip(&self.panels).enumerate() {
            let ymax = y_max(panel.lines.iter().flat_map(|(_, p)| p.iter()), 1.0);
            let mut chart = ChartBuilder::on(area)
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(70)
                .build_cartesian_2d(0f64..self.end_s, 0f64..ymax)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("simulated time (s)")
                .y_desc(panel.label.as_str())
                .label_style((FONT, 13))
                .draw()
                .map_err(err)?;
            for (i, &(x, _)) in self.events.iter().enumerate() {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(x, 0.0), (x, ymax)],
                        6,
                        4,
                        MARKER.stroke_width(1),
                    ))
                    .map_err(err)?;
                // Labels once, in the top panel, staggered so neighbours
                // do not overwrite each other.
                if k == 0 {
                    let y = ymax * (0.97 - 0.09 * (i % 5) as f64);
                    chart
                        .draw_series(std::iter::once(Text::new(
                            self.events[i].1.clone(),
                            (x, y),
                            (FONT, 12).into_font().color(&MARKER),
                        )))
                        .map_err(err)?;
                }
            }
            if k == 0 {
                draw_lines(&mut chart, &panel.lines)?;
                legend(&mut chart, SeriesLabelPosition::UpperRight)?;
            } else {
                for (i, (_, points)) in panel.lines.iter().enumerate() {
                    chart
                        .draw_series(LineSeries::new(
                            points.iter().copied(),
                            color(i).stroke_width(2),
                        ))
                        .map_err(err)?;
                }
            }
        }
        Ok(())
    }
}
