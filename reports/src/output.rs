//! Writes a report folder: `report.json`, `summary.md`, `index.html`, the
//! charts (SVG and PNG) and one `.hgrm` per strategy.

use crate::{Report, charts, hist, html, table};
use std::io;
use std::path::{Path, PathBuf};

/// Writing the folder failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file could not be written.
    #[error("writing {path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// Why (in the message, not a `source()`, so an error chain does
        /// not print it twice).
        error: io::Error,
    },
    /// A chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
    /// The report could not be serialised.
    #[error("serialising the report: {0}")]
    Json(#[from] serde_json::Error),
}

/// `name` with every character that is not an ASCII letter, digit or one
/// of `keep` replaced by `_`: safe as a file or folder name everywhere.
pub fn safe_name(name: &str, keep: &[char]) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || keep.contains(&c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A strategy name as a file stem: `sidecar:peak-ewma+retry` →
/// `sidecar_peak-ewma+retry` (`:` is not allowed in Windows file names).
pub fn file_stem(strategy: &str) -> String {
    safe_name(strategy, &['-', '+', '.', '_'])
}

/// Writes every rendering of `report` into `dir` (created if needed) and
/// returns the paths written, in a fixed order.
pub fn write_dir(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, OutputError> {
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<(), OutputError> {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| OutputError::Io {
                path: parent.display().to_string(),
                error,
            })?;
        }
        std::fs::write(&path, bytes).map_err(|error| OutputError::Io {
            path: path.display().to_string(),
            error,
        })?;
        written.push(path);
        Ok(())
    };
    put("report.json", &report.to_json_bytes()?)?;
    put("summary.md", table::markdown(report).as_bytes())?;
    let charts = charts::render_report(report)?;
    for chart in &charts {
        put(&format!("charts/{}.svg", chart.name), chart.svg.as_bytes())?;
        put(&format!("charts/{}.png", chart.name), &chart.png)?;
    }
    put("index.html", html::render(report, &charts).as_bytes())?;
    for s in &report.strategies {
        let stem = file_stem(&s.name);
        if let Ok(h) = hist::decode(&s.histograms.calls) {
            put(&format!("{stem}.hgrm"), hist::write_hgrm(&h).as_bytes())?;
        }
        if let Ok(h) = hist::decode(&s.histograms.workload) {
            put(
                &format!("{stem}.workload.hgrm"),
                hist::write_hgrm(&h).as_bytes(),
            )?;
        }
    }
    Ok(written)
}
