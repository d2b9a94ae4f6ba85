/*!
Comparison charts, each drawn once per backend: SVG (for `index.html` and
reviews) and PNG (for slides and issue comments).

Every chart is a [`Figure`]: a small value type holding exactly the data it
plots, with one `draw` that is generic over plotters' `DrawingBackend`, so
the SVG and the PNG can never disagree. Text is laid out with a font
compiled into the binary (Ubuntu Light, from `epaint_default_fonts`), so a
machine without system fonts draws the same pixels; the SVG names
`sans-serif` and lets the viewer's browser pick.

Charts are deterministic: same report, same bytes.
*/

mod fidelity;
mod latency;
mod proxy_cost;
mod share;
mod sweep;
mod timeseries;

pub use fidelity::FidelityChart;
pub use latency::{CdfChart, SpectrumChart};
pub use proxy_cost::ProxyCostChart;
pub use share::{MAX_SEGMENTS, ShareChart};
pub use sweep::{SweepChart, SweepLine};
pub use timeseries::{
    MAX_CHART_BUCKETS, SeriesBucket, TimeSeriesChart, event_label as timeseries_event_label,
    series_buckets,
};

use crate::Report;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::sync::Once;

/// Default chart width in pixels.
pub const WIDTH: u32 = 960;
/// Default chart height in pixels.
pub const HEIGHT: u32 = 540;
/// The font family every chart uses.
pub const FONT: &str = "sans-serif";

/// Tableau 10, the categorical palette most charting tools default to:
/// distinguishable, and stable by index.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The colour of series `i`.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// `#RRGGBB`, as plotters writes colours into SVG.
pub fn color_hex(i: usize) -> String {
    let RGBColor(r, g, b) = color(i);
    format!("#{r:02X}{g:02X}{b:02X}")
}

/// A chart could not be drawn or encoded.
#[derive(Debug, thiserror::Error)]
#[error("chart {chart}: {message}")]
pub struct ChartError {
    /// Which chart.
    pub chart: String,
    /// What went wrong.
    pub message: String,
}

/// A rendered chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// File stem, e.g. `latency-spectrum` (written as `.svg` and `.png`).
    pub name: String,
    /// Its title.
    pub title: String,
    /// The SVG document.
    pub svg: String,
    /// The PNG file's bytes.
    pub png: Vec<u8>,
    /// Pixel size.
    pub size: (u32, u32),
}

/// Something that can draw itself on any plotters backend.
pub trait Figure {
    /// File stem.
    fn name(&self) -> String;
    /// Title drawn on the chart.
    fn title(&self) -> String;
    /// Pixel size.
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }
    /// Draws on `root` (already white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Renders a figure as SVG and PNG.
pub fn render<F: Figure>(figure: &F) -> Result<Chart, ChartError> {
    register_font();
    let name = figure.name();
    let fail = |message: String| ChartError {
        chart: name.clone(),
        message,
    };
    let (w, h) = figure.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        figure.draw(&root).map_err(&fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        figure.draw(&root).map_err(&fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let png = encode_png(&rgb, w, h).map_err(|e| fail(e.to_string()))?;
    Ok(Chart {
        name,
        title: figure.title(),
        svg,
        png,
        size: (w, h),
    })
}

/// Every chart a report supports, in the order `index.html` shows them.
/// Charts whose data is missing (a schema-1 report has no histograms; a
/// run without a time series has no time series chart) are left out.
pub fn render_report(report: &Report) -> Result<Vec<Chart>, ChartError> {
    let mut charts = Vec::new();
    if let Some(spectrum) = SpectrumChart::from_report(report) {
        charts.push(render(&spectrum)?);
    }
    if let Some(cdf) = CdfChart::from_report(report) {
        charts.push(render(&cdf)?);
    }
    charts.push(render(&ShareChart::from_report(report))?);
    if let Some(work) = ShareChart::server_work(report) {
        charts.push(render(&work)?);
    }
    if let Some(series) = TimeSeriesChart::from_report(report) {
        charts.push(render(&series)?);
    }
    Ok(charts)
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // A TTF compiled into the binary: parsing it cannot fail at run
            // time unless the crate shipped a broken file, which the chart
            // tests would catch.
            let _ = plotters::style::register_font(FONT, style, epaint_default_fonts::UBUNTU_LIGHT);
        }
    });
}

/// plotters errors as text.
pub(crate) fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The largest value an axis reaches. plotters lays out an infinite axis
/// forever, and draws a point far off the axis as a line across billions
/// of pixels; so every axis end and every plotted value stays within this.
pub const AXIS_LIMIT: f64 = 1e300;

/// `v` within `±AXIS_LIMIT` (NaN, which no axis has, becomes 0).
pub(crate) fn on_axis(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(-AXIS_LIMIT, AXIS_LIMIT)
    }
}

/// The largest `y` of some point lists, padded by 5% (and at least
/// `floor`), at most [`AXIS_LIMIT`].
pub(crate) fn y_max<'a>(points: impl Iterator<Item = &'a (f64, f64)>, floor: f64) -> f64 {
    on_axis(points.map(|&(_, y)| on_axis(y)).fold(floor, f64::max) * 1.05)
}
