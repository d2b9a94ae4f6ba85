//! Checking an output folder before any work: a run that cannot write its
//! report should fail in a moment with one clear message, not after the
//! whole simulation with half a folder written.

use crate::Failure;
use std::path::Path;

/// Entries of a report folder that must be folders, and files that must
/// not be (`write_dir` creates the former and writes the latter).
const SUBFOLDERS: &[&str] = &["charts"];
const FILES: &[&str] = &["report.json", "summary.md", "index.html"];

/// Makes sure `out` is a folder meshsim can write a report into (creating
/// it if needed): exit 2 naming `--out` if not, or if a file the report
/// writes (report.json, a strategy's `.hgrm`, a chart) is a folder there.
pub fn prepare(out: &Path) -> Result<(), Failure> {
    prepare_files(out, FILES)?;
    let shown = out.display();
    let bad = |why: String| Failure::Input(anyhow::anyhow!("--out {shown}: {why}"));
    for name in SUBFOLDERS {
        let p = out.join(name);
        if p.exists() && !p.is_dir() {
            return Err(bad(format!(
                "`{name}` in it is not a folder; expected a folder (or nothing) there"
            )));
        }
    }
    // The per-strategy histograms and the charts: meshsim writes every
    // file with these extensions there, so a folder by such a name would
    // fail the write after the whole run.
    for (dir, extensions) in [
        (out.to_path_buf(), &["hgrm"][..]),
        (out.join("charts"), &["svg", "png"][..]),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let written = path
                .extension()
                .is_some_and(|e| extensions.iter().any(|x| e == *x));
            if written && path.is_dir() {
                let name = path
                    .strip_prefix(out)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                return Err(bad(format!(
                    "`{name}` in it is a folder; meshsim writes a file there; expected a file \
                     (or nothing)"
                )));
            }
        }
    }
    Ok(())
}

/// Makes sure `out` is a folder meshsim can write into (creating it if
/// needed) and none of `files` in it is a folder: exit 2 naming `--out`
/// if not.
pub fn prepare_files(out: &Path, files: &[&str]) -> Result<(), Failure> {
    let shown = out.display();
    let bad = |why: String| Failure::Input(anyhow::anyhow!("--out {shown}: {why}"));
    if out.exists() && !out.is_dir() {
        return Err(bad(
            "is not a folder (a file or device is there); expected a folder path".into(),
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| bad(format!("cannot create the folder ({e})")))?;
    for name in files {
        if out.join(name).is_dir() {
            return Err(bad(format!(
                "`{name}` in it is a folder; expected a file (or nothing) there"
            )));
        }
    }
    let probe = out.join(".meshsim-write-check");
    std::fs::write(&probe, b"").map_err(|e| bad(format!("cannot write into the folder ({e})")))?;
    // The probe was just written; failing to remove it leaves an empty
    // file, which is harmless.
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Refuses an output folder whose `report.json` is `input` itself: writing
/// the folder would overwrite the file being read.
pub fn not_input(out: &Path, input: &Path) -> Result<(), Failure> {
    let target = out.join("report.json");
    let same = match (std::fs::canonicalize(&target), std::fs::canonicalize(input)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(Failure::Input(anyhow::anyhow!(
            "--out {}: writing there would overwrite the input {}; expected another folder",
            out.display(),
            input.display()
        )));
    }
    Ok(())
}
