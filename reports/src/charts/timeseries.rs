//! The run bucket by bucket: throughput, p99 and error rate per strategy,
//! with the scenario's timeline events as labelled vertical markers, so a
//! reviewer sees what each fault did and how long recovery took.

use super::latency::{draw_lines, legend};
use super::{FONT, Figure, WIDTH, color, err, on_axis, y_max};
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

/// Most points a strategy's line has (the plot is under 1,000 pixels
/// wide): a longer series is drawn in wider buckets, each merging
/// `k` of the report's (see [`series_buckets`]).
pub const MAX_CHART_BUCKETS: usize = 1000;

/// When a point's bucket starts, seconds (schema 2 reports: its second).
fn start_s(p: &crate::SeriesPoint) -> f64 {
    p.start_ms.map_or(p.second as f64, |ms| ms / 1000.0)
}

/// The marker label of an event: time and what happened.
pub fn event_label(at_ms: f64, event: &str) -> String {
    format!("{:.1}s {event}", at_ms / 1000.0)
}

/// One bucket as drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesBucket {
    /// Start, seconds.
    pub start_s: f64,
    /// Width, seconds.
    pub width_s: f64,
    /// Workload requests completed in it.
    pub throughput: u64,
    /// Their p99, ms (merged buckets: the largest of theirs, since
    /// percentiles do not add up).
    pub p99_ms: f64,
    /// Failed calls over calls (0..=1).
    pub error_rate: f64,
}

/// A strategy's series as drawn: its buckets as they are, or, when they
/// span more than [`MAX_CHART_BUCKETS`] bucket widths, `k` consecutive
/// widths merged into one (counts added, p99 the largest, error rate of
/// the merged calls). Empty when the bucket width is not a positive
/// number (a report that was not validated).
pub fn series_buckets(s: &crate::StrategyReport) -> Vec<SeriesBucket> {
    let width = s.series_bucket_ms / 1000.0;
    let points = s.series.iter().filter(|p| start_s(p).is_finite());
    let (first, last) = points
        .clone()
        .map(start_s)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
    if !(width.is_finite() && width > 0.0 && first <= last) {
        return Vec::new();
    }
    let k = ((last - first) / width / MAX_CHART_BUCKETS as f64)
        .floor()
        .max(0.0)
        + 1.0;
    if k == 1.0 {
        return points
            .map(|p| SeriesBucket {
                start_s: start_s(p),
                width_s: width,
                throughput: p.throughput,
                p99_ms: p.p99_ms,
                error_rate: p.error_rate,
            })
            .collect();
    }
    let k = k as u64;
    // Per merged bucket: throughput, calls, errors, p99. A point's bucket
    // is found by its index among the report's (rounded, so that float
    // error cannot move it to a neighbour; capped, so that a point half a
    // bucket off the grid cannot open one more).
    let mut merged: std::collections::BTreeMap<u64, (u64, u64, u64, f64)> = Default::default();
    for p in points {
        let index = ((start_s(p) - first) / width).round() as u64;
        let m = merged
            .entry((index / k).min(MAX_CHART_BUCKETS as u64 - 1))
            .or_default();
        m.0 = m.0.saturating_add(p.throughput);
        m.1 = m.1.saturating_add(p.calls);
        m.2 = m.2.saturating_add(p.call_errors);
        m.3 = m.3.max(p.p99_ms);
    }
    merged
        .into_iter()
        .map(|(i, (throughput, calls, errors, p99_ms))| SeriesBucket {
            start_s: first + (i * k) as f64 * width,
            width_s: k as f64 * width,
            throughput,
            p99_ms,
            error_rate: if calls == 0 {
                0.0
            } else {
                errors as f64 / calls as f64
            },
        })
        .collect()
}

impl TimeSeriesChart {
    /// From the report's series; `None` when no strategy has one.
    pub fn from_report(report: &Report) -> Option<Self> {
        if report.strategies.iter().all(|s| s.series.is_empty()) {
            return None;
        }
        let series: Vec<(String, Vec<SeriesBucket>)> = report
            .strategies
            .iter()
            .map(|s| (s.name.clone(), series_buckets(s)))
            .collect();
        // A count per bucket is shown per second, whatever the bucket's
        // width.
        let panel = |label: &str, f: &dyn Fn(&SeriesBucket) -> f64| Panel {
            label: label.into(),
            lines: series
                .iter()
                .map(|(name, b)| {
                    let pts = b
                        .iter()
                        .map(|b| (on_axis(b.start_s + b.width_s / 2.0), on_axis(f(b))));
                    (name.clone(), pts.collect())
                })
                .collect(),
        };
        let end_s = series
            .iter()
            .flat_map(|(_, b)| b.iter().map(|b| b.start_s + b.width_s))
            .chain(report.timeline.iter().map(|t| t.at_ms / 1000.0 + 0.5))
            .fold(1.0, |end: f64, x| end.max(on_axis(x)));
        Some(Self {
            panels: vec![
                panel("throughput (requests/s)", &|b| {
                    b.throughput as f64 / b.width_s
                }),
                panel("p99 latency (ms)", &|b| b.p99_ms),
                panel("call error rate (%)", &|b| b.error_rate * 100.0),
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
