//! Helpers shared by the integration tests that drive the `meshsim` binary.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `meshsim` with `args` (and no `MESHSIM_SEED` from the caller).
pub fn meshsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .env_remove("MESHSIM_SEED")
        .output()
        .expect("meshsim runs")
}

/// A process's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A process's stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A scratch folder unique to one test, emptied first.
pub fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Most address space a reproducer's run may take (`prlimit --as`): 4 GiB.
/// An allocation past it fails, and Rust aborts (exit 134), so a run that
/// grows without bound fails its test instead of the machine.
pub const MEMORY_LIMIT_BYTES: u64 = 4 << 30;

/// Longest a reproducer's run may take, in wall-clock seconds.
pub const TIME_LIMIT_SECS: u64 = 60;

/// Runs `meshsim` with `args` as [`meshsim`] does, under
/// [`MEMORY_LIMIT_BYTES`] and [`TIME_LIMIT_SECS`] (util-linux `prlimit`,
/// coreutils `timeout`), and asserts it ended on its own: no panic (101),
/// no abort (134, or death by SIGABRT), no timeout (124, 137).
pub fn meshsim_bounded(args: &[&str]) -> Output {
    meshsim_bounded_in(Path::new("."), args)
}

/// [`meshsim_bounded`] with `dir` as the working folder.
pub fn meshsim_bounded_in(dir: &Path, args: &[&str]) -> Output {
    use std::os::unix::process::ExitStatusExt;
    let o = Command::new("prlimit")
        .arg(format!("--as={MEMORY_LIMIT_BYTES}"))
        .args(["--", "timeout", "--kill-after=5s"])
        .arg(format!("{TIME_LIMIT_SECS}s"))
        .arg(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .current_dir(dir)
        .env_remove("MESHSIM_SEED")
        .output()
        .expect("prlimit (util-linux) and timeout (coreutils) run meshsim");
    let code = o.status.code();
    let what = match (code, o.status.signal()) {
        (Some(101), _) => Some("panicked (exit 101)"),
        (Some(134), _) | (_, Some(6)) => Some("aborted (exit 134), e.g. out of memory at 4 GiB"),
        (Some(124 | 137), _) | (_, Some(9)) => Some("ran past 60 s and was stopped"),
        (None, Some(_)) => Some("was killed by a signal"),
        _ => None,
    };
    if let Some(what) = what {
        panic!(
            "meshsim {} {what}: status {:?}\nstderr: {}",
            args.join(" "),
            o.status,
            stderr(&o)
        );
    }
    o
}
