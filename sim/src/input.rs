//! Reading input files with a size limit.
//!
//! A path a user names may be anything: `/dev/zero`, a FIFO, a 50 GB log.
//! Every file meshsim reads whole goes through [`read_bounded`], which
//! stops one byte past its limit instead of reading until memory runs out.

use std::io::Read;
use std::path::Path;

/// Largest scenario file (`meshsim run`, `sweep`): 4 MiB, far above any
/// scenario the caps allow (10,000 timeline occurrences are well under
/// 1 MiB).
pub const MAX_SCENARIO_BYTES: u64 = 4 << 20;

/// Largest report.json `meshsim report` and `compare` read: 256 MiB (a
/// report of 100,000 page loads with `page_detail` is about 30 MB per
/// strategy).
pub const MAX_REPORT_BYTES: u64 = 256 << 20;

/// Largest `meshsim proxy --endpoints-file`: 1 MiB (some 30,000 entries).
pub const MAX_ENDPOINTS_BYTES: u64 = 1 << 20;

/// Reads `path` whole if it holds at most `limit` bytes; a longer file
/// (or an endless one such as `/dev/zero`) is an `InvalidData` error
/// naming the limit, after reading at most `limit + 1` bytes.
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {}; expected a file of at most that size",
                size(limit)
            ),
        ));
    }
    Ok(bytes)
}

/// `limit` in MiB or KiB, as the docs state it.
fn size(limit: u64) -> String {
    if limit >= 1 << 20 && limit.is_multiple_of(1 << 20) {
        format!("{} MiB", limit >> 20)
    } else if limit >= 1 << 10 && limit.is_multiple_of(1 << 10) {
        format!("{} KiB", limit >> 10)
    } else {
        format!("{limit} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_stops_at_the_limit() {
        let e = read_bounded(Path::new("/dev/zero"), 1 << 20).expect_err("endless");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
    }

    #[test]
    fn a_file_at_the_limit_is_read_whole() {
        let dir = std::env::temp_dir().join(format!("meshsim-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("f");
        std::fs::write(&path, [7u8; 1024]).expect("write");
        assert_eq!(read_bounded(&path, 1024).expect("fits").len(), 1024);
        assert!(read_bounded(&path, 1023).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
