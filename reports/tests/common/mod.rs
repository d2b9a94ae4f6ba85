//! Helpers shared by the reports integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use reports::Report;
use std::path::{Path, PathBuf};

/// `scenarios/baselines/<name>.json`.
pub fn baseline_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/baselines")
        .join(format!("{name}.json"))
}

/// The checked-in baseline report of a bundled scenario (written by
/// `meshsim run`).
pub fn baseline(name: &str) -> Report {
    let path = baseline_path(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Report::from_json_slice(&bytes).expect("baseline parses")
}

/// A scratch folder unique to one test, emptied first.
pub fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch");
    dir
}

/// Decodes a PNG: (width, height, pixel bytes, colour type).
pub fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>, png::ColorType) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf, info.color_type)
}

/// `report` with `n` StockData replicas (`stockdata-0` …): the first
/// strategy's successful calls all on `stockdata-0` (a pinned client), every
/// other strategy's spread evenly, the remainder on the first pods.
pub fn with_replicas(mut report: Report, n: u64) -> Report {
    for (i, s) in report.strategies.iter_mut().enumerate() {
        let ok = s.requests.ok;
        s.per_replica = (0..n)
            .map(|pod| {
                let calls = match i {
                    0 if pod == 0 => ok,
                    0 => 0,
                    _ => ok / n + u64::from(pod < ok % n),
                };
                (format!("stockdata-{pod}"), calls)
            })
            .collect();
    }
    report
}
