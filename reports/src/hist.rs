/*!
Whole latency distributions: carried in `report.json`, exported as `.hgrm`.

Percentile summaries are not enough to draw a CDF or a percentile spectrum,
or to hand the data to HdrHistogram's own tools, so each strategy's report
carries its histograms in HdrHistogram's standard compressed encoding (V2 +
DEFLATE, base64: the same `HISTF…` strings `.hlog` interval logs hold).
Recording is in microseconds; everything shown is in milliseconds.

[`write_hgrm`] writes the "percentile distribution" text HdrHistogram's
`outputPercentileDistribution` prints (and its online plotter reads), and
[`parse_hgrm`] reads it back.
*/

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use std::fmt::Write;

/// Values are recorded in µs and shown in ms.
pub const OUTPUT_SCALING: f64 = 1000.0;

/// Reporting points per halving of the distance to 100%, HdrHistogram's
/// default for `outputPercentileDistribution`.
pub const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// A histogram could not be decoded or parsed.
#[derive(Debug, thiserror::Error)]
pub enum HistError {
    /// Not base64.
    #[error("histogram is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Not an HdrHistogram encoding.
    #[error("histogram does not decode: {0:?}")]
    Decode(hdrhistogram::serialization::DeserializeError),
    /// Not `.hgrm` text.
    #[error(".hgrm line {line}: {message}")]
    Hgrm {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
}

/// Encodes a histogram as base64 of HdrHistogram's V2 DEFLATE encoding.
pub fn encode(hist: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    // Serialising into a Vec fails only for histograms larger than the
    // encoding allows (i32 lengths); ours are bounded at 1 µs .. 1 h.
    if V2DeflateSerializer::new()
        .serialize(hist, &mut bytes)
        .is_err()
    {
        return String::new();
    }
    STANDARD.encode(bytes)
}

/// Decodes what [`encode`] wrote.
pub fn decode(text: &str) -> Result<Histogram<u64>, HistError> {
    let bytes = STANDARD.decode(text.trim())?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(HistError::Decode)
}

/// One row of a percentile distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HgrmRow {
    /// Value in ms.
    pub value_ms: f64,
    /// Quantile, 0..=1.
    pub quantile: f64,
    /// Samples at or below the value.
    pub total_count: u64,
}

/// The rows [`write_hgrm`] prints, unformatted.
pub fn percentile_rows(hist: &Histogram<u64>) -> Vec<HgrmRow> {
    if hist.is_empty() {
        return Vec::new();
    }
    let mut total = 0u64;
    hist.iter_quantiles(TICKS_PER_HALF_DISTANCE)
        .map(|v| {
            total += v.count_since_last_iteration();
            HgrmRow {
                value_ms: v.value_iterated_to() as f64 / OUTPUT_SCALING,
                quantile: v.quantile_iterated_to(),
                total_count: total,
            }
        })
        .collect()
}

/// HdrHistogram's percentile distribution text (`.hgrm`), values in ms.
pub fn write_hgrm(hist: &Histogram<u64>) -> String {
    let digits = usize::from(hist.sigfig());
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    for row in percentile_rows(hist) {
        if row.quantile < 1.0 {
            let _ = writeln!(
                out,
                "{:>12.digits$} {:>2.12} {:>10} {:>14.2}",
                row.value_ms,
                row.quantile,
                row.total_count,
                1.0 / (1.0 - row.quantile)
            );
        } else {
            let _ = writeln!(
                out,
                "{:>12.digits$} {:>2.12} {:>10}",
                row.value_ms, row.quantile, row.total_count
            );
        }
    }
    let (mean, stdev, max) = if hist.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (
            hist.mean() / OUTPUT_SCALING,
            hist.stdev() / OUTPUT_SCALING,
            hist.max() as f64 / OUTPUT_SCALING,
        )
    };
    let _ = writeln!(
        out,
        "#[Mean    = {mean:>12.digits$}, StdDeviation   = {stdev:>12.digits$}]"
    );
    let _ = writeln!(
        out,
        "#[Max     = {max:>12.digits$}, Total count    = {:>12}]",
        hist.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        hist.buckets(),
        sub_bucket_count(hist.sigfig())
    );
    out
}

/// HdrHistogram's sub-bucket count for a precision: the smallest power of
/// two at least `2 × 10^digits`.
fn sub_bucket_count(digits: u8) -> u64 {
    (2 * 10u64.pow(u32::from(digits))).next_power_of_two()
}

/// Parses `.hgrm` text back into its rows (header and `#[…]` footer lines
/// are skipped).
pub fn parse_hgrm(text: &str) -> Result<Vec<HgrmRow>, HistError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("Value") {
            continue;
        }
        let err = |message: &str| HistError::Hgrm {
            line: i + 1,
            message: message.to_string(),
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 {
            return Err(err("expected: value percentile total-count [1/(1-p)]"));
        }
        rows.push(HgrmRow {
            value_ms: fields[0]
                .parse()
                .map_err(|_| err("value is not a number"))?,
            quantile: fields[1]
                .parse()
                .map_err(|_| err("percentile is not a number"))?,
            total_count: fields[2]
                .parse()
                .map_err(|_| err("total count is not an integer"))?,
        });
    }
    Ok(rows)
}

/// The value (ms) at quantile `q` of parsed `.hgrm` rows: the first row
/// whose quantile reaches `q`, as HdrHistogram's percentile iteration does.
pub fn hgrm_value_at(rows: &[HgrmRow], q: f64) -> Option<f64> {
    rows.iter()
        .find(|r| r.quantile >= q)
        .or(rows.last())
        .map(|r| r.value_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("bounds");
        for us in 1..=10_000u64 {
            h.record(us * 7 % 50_000 + 100).expect("in range");
        }
        h.record(2_000_000).expect("in range");
        h
    }

    #[test]
    fn encoding_round_trips() {
        let h = sample();
        let text = encode(&h);
        assert!(text.starts_with("HISTF"), "{}", &text[..10]);
        let back = decode(&text).expect("decodes");
        assert_eq!(back.len(), h.len());
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(back.value_at_quantile(q), h.value_at_quantile(q));
        }
        assert!(decode("not base64!").is_err());
        assert!(decode("aGVsbG8=").is_err());
    }

    #[test]
    fn hgrm_has_hdrhistogram_layout_and_round_trips() {
        let h = sample();
        let text = write_hgrm(&h);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("       Value     Percentile TotalCount 1/(1-Percentile)")
        );
        assert_eq!(lines.next(), Some(""));
        assert!(text.contains("#[Buckets = "), "{text}");
        assert!(text.contains("SubBuckets     =         2048]"), "{text}");
        let rows = parse_hgrm(&text).expect("parses");
        assert_eq!(rows.last().map(|r| r.total_count), Some(h.len()));
        assert_eq!(rows.last().map(|r| r.quantile), Some(1.0));
        // Values print with 3 decimals of ms: exact for µs recordings.
        // Percentiles print with 12 decimals.
        let written = percentile_rows(&h);
        assert_eq!(rows.len(), written.len());
        for (r, w) in rows.iter().zip(&written) {
            assert_eq!((r.value_ms, r.total_count), (w.value_ms, w.total_count));
            assert!((r.quantile - w.quantile).abs() < 1e-12, "{r:?} vs {w:?}");
        }
        // 50% and 90% are reporting ticks: the same answer as the histogram.
        for q in [0.5, 0.9] {
            let want = h.value_at_quantile(q) as f64 / OUTPUT_SCALING;
            assert_eq!(hgrm_value_at(&rows, q), Some(want), "q {q}");
        }
        assert!(parse_hgrm("1.0 x 3").is_err());
    }
}
