//! Latency distribution charts: the percentile spectrum on a "nines" axis
//! (how HdrHistogram plots latency, so the tail gets as much room as the
//! median) and the plain CDF.

use super::{FONT, Figure, color, err, y_max};
use crate::{Report, hist};
use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The spectrum's x axis ends at 99.99%: `-log10(1 - 0.9999) = 4`.
const NINES: f64 = 4.0;

/// One line per strategy.
pub(crate) type Lines = Vec<(String, Vec<(f64, f64)>)>;

/// Latency by percentile, x = `-log10(1 - q)`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumChart {
    /// Per strategy: (x, latency ms).
    pub lines: Lines,
}

/// Fraction of calls at or below each latency.
#[derive(Debug, Clone, PartialEq)]
pub struct CdfChart {
    /// Per strategy: (latency ms, fraction).
    pub lines: Lines,
}

/// The x position of quantile `q` on the nines axis.
pub fn nines_x(q: f64) -> f64 {
    if q >= 1.0 {
        NINES
    } else {
        (-(1.0 - q).log10()).clamp(0.0, NINES)
    }
}

/// The label of a nines-axis position: 0 → `0%`, 1 → `90%`, 3 → `99.9%`.
pub fn nines_label(x: f64) -> String {
    let pct = (1.0 - 10f64.powf(-x)) * 100.0;
    let decimals = (x.round() as i64 - 2).max(0) as usize;
    format!("{pct:.decimals$}%")
}

/// One line per strategy with a call histogram, its points made by
/// `points`; `None` when no strategy has one (a schema-1 report).
fn call_lines(
    report: &Report,
    points: impl Fn(&Histogram<u64>) -> Vec<(f64, f64)>,
) -> Option<Lines> {
    let lines: Lines = report
        .strategies
        .iter()
        .filter_map(|s| {
            let h = hist::decode(&s.histograms.calls).ok()?;
            (!h.is_empty()).then(|| (s.name.clone(), points(&h)))
        })
        .collect();
    (!lines.is_empty()).then_some(lines)
}

// === impl SpectrumChart ===

impl SpectrumChart {
    /// From each strategy's call histogram; `None` when no strategy has one.
    pub fn from_report(report: &Report) -> Option<Self> {
        let lines = call_lines(report, |h| {
            hist::percentile_rows(h)
                .into_iter()
                .map(|r| (nines_x(r.quantile), r.value_ms))
                .collect()
        })?;
        Some(Self { lines })
    }
}

impl Figure for SpectrumChart {
    fn name(&self) -> String {
        "latency-spectrum".into()
    }

    fn title(&self) -> String {
        "Call latency by percentile".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let ymax = y_max(self.lines.iter().flat_map(|(_, p)| p.iter()), 0.001);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title(), (FONT, 24))
            .margin(16)
            .margin_right(40)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..NINES, 0f64..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(NINES as usize + 1)
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_label_formatter(&|x| nines_label(*x))
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        // The median has no grid line of its own on a nines axis: mark it.
        let median = 2f64.log10();
        chart
            .draw_series(DashedLineSeries::new(
                vec![(median, 0.0), (median, ymax)],
                4,
                4,
                RGBColor(160, 160, 160).stroke_width(1),
            ))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                "50%",
                (median, ymax * 0.98),
                (FONT, 13).into_font().color(&RGBColor(120, 120, 120)),
            )))
            .map_err(err)?;
        draw_lines(&mut chart, &self.lines)?;
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

// === impl CdfChart ===

impl CdfChart {
    /// From each strategy's call histogram; `None` when no strategy has one.
    pub fn from_report(report: &Report) -> Option<Self> {
        let lines = call_lines(report, |h| {
            let total = h.len() as f64;
            let mut seen = 0u64;
            let mut points = Vec::new();
            for v in h.iter_recorded() {
                let ms = v.value_iterated_to() as f64 / hist::OUTPUT_SCALING;
                points.push((ms, seen as f64 / total));
                seen += v.count_since_last_iteration();
                points.push((ms, seen as f64 / total));
            }
            points
        })?;
        Some(Self { lines })
    }
}

impl Figure for CdfChart {
    fn name(&self) -> String {
        "latency-cdf".into()
    }

    fn title(&self) -> String {
        "Call latency CDF".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let xmax = self
            .lines
            .iter()
            .flat_map(|(_, p)| p.iter().map(|&(x, _)| x))
            .fold(0.001, f64::max)
            * 1.05;
        let mut chart = ChartBuilder::on(root)
            .caption(self.title(), (FONT, 24))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..xmax, 0f64..1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("latency (ms)")
            .y_desc("fraction of calls at or below")
            .label_style((FONT, 14))
            .draw()
            .map_err(err)?;
        draw_lines(&mut chart, &self.lines)?;
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

/// One line per strategy, coloured by index, with a legend entry.
pub(crate) fn draw_lines<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    lines: &Lines,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, (name, points)) in lines.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
            .map_err(err)?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3)));
    }
    Ok(())
}

/// The series legend, boxed, at `position`.
pub(crate) fn legend<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 15))
        .draw()
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_axis_positions_and_labels() {
        assert_eq!(nines_x(0.0), 0.0);
        assert!((nines_x(0.99) - 2.0).abs() < 1e-9);
        assert_eq!(nines_x(1.0), NINES);
        assert_eq!(nines_label(0.0), "0%");
        assert_eq!(nines_label(2f64.log10()), "50%");
        assert_eq!(nines_label(1.0), "90%");
        assert_eq!(nines_label(2.0), "99%");
        assert_eq!(nines_label(3.0), "99.9%");
        assert_eq!(nines_label(4.0), "99.99%");
    }
}
