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
