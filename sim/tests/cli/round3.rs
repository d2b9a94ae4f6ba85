//! Regression tests for the second hostile-input round (issue 21; one
//! fixture per reproducer in `round3/`, or the input written here when it
//! is a command line): bad input gets exit 2 and a message naming
//! file:line:col, the key or the flag; valid input gets the right result;
//! nothing panics, hangs or grows without bound.

use crate::common::{meshsim, scratch, stderr, stdout};
use crate::defects::assert_input_error;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Runs `meshsim` with `args`; returns its output and how long it took
/// in wall-clock time (what a user waits for: the child process runs in
/// real time, not in the simulator's).
#[allow(clippy::disallowed_types)]
fn timed(args: &[&str]) -> (Output, std::time::Duration) {
    let started = std::time::Instant::now();
    let o = meshsim(args);
    (o, started.elapsed())
}

/// The path of fixture `name` in `tests/cli/round3/`.
fn fixture(name: &str) -> String {
    format!("{}/tests/cli/round3/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A bundled baseline report (`scenarios/baselines/<name>.json`).
fn baseline(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/baselines")
        .join(format!("{name}.json"))
}

/// Runs fixture `name` with a scratch `--out` folder.
fn run_fixture(name: &str) -> Output {
    let out = scratch(&format!("round3-{name}"));
    meshsim(&["run", &fixture(name), "--out", &out.display().to_string()])
}

/// Writes `text` as `name` in `dir` and returns its path as a string.
fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write input");
    path.display().to_string()
}

/// The stockweb-demo baseline with `edit` applied to each strategy,
/// written as `name` in `dir`.
fn edited_report(dir: &Path, name: &str, edit: impl Fn(&mut serde_json::Value)) -> String {
    let text = std::fs::read_to_string(baseline("stockweb-demo")).expect("baseline");
    let mut report: serde_json::Value = serde_json::from_str(&text).expect("baseline json");
    for s in report["strategies"].as_array_mut().expect("strategies") {
        edit(s);
    }
    write(dir, name, &report.to_string())
}

#[test]
fn n00_a_report_with_3000_replicas_renders_without_a_panic() {
    let dir = scratch("round3-n00");
    let input = edited_report(&dir, "wide.json", |s| {
        s["per_replica"] = (0..3000)
            .map(|i| (format!("stockdata-{i}"), serde_json::json!(1)))
            .collect::<serde_json::Map<_, _>>()
            .into();
    });
    let o = meshsim(&[
        "report",
        &input,
        "--out",
        &dir.join("out").display().to_string(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // The table names the count and the idlest replicas, not 3,000 columns.
    let table = stdout(&o);
    assert!(table.contains("of 3000 replicas"), "{table}");
    assert!(table.contains("stockdata-2999"), "{table}");
}

#[test]
fn n06_a_zero_series_bucket_is_refused_not_spun_on() {
    let dir = scratch("round3-n06");
    let input = edited_report(&dir, "zero-bucket.json", |s| {
        s["series_bucket_ms"] = serde_json::json!(0.0);
    });
    let o = meshsim(&[
        "report",
        &input,
        "--out",
        &dir.join("out").display().to_string(),
    ]);
    assert_input_error(&o, &["series_bucket_ms", "expected from 0.001"]);
    let base = baseline("stockweb-demo").display().to_string();
    let html = dir.join("cmp.html");
    let o = meshsim(&[
        "compare",
        &base,
        &input,
        "--html",
        &html.display().to_string(),
    ]);
    assert_input_error(&o, &["series_bucket_ms", "expected from 0.001"]);
    assert!(!html.exists());
}

#[test]
fn n01_a_schedule_past_duration_max_is_refused_not_overflowed() {
    let o = run_fixture("N01-page-schedule-overflow-panic.toml");
    assert_input_error(&o, &["`load.page_loads`", "at most 100000"]);
}

#[test]
fn n02_page_loads_near_i64_max_is_refused_at_once() {
    let out = scratch("round3-n02");
    let (o, took) = timed(&[
        "run",
        &fixture("N02-page-loads-huge-hang.toml"),
        "--out",
        &out.display().to_string(),
    ]);
    assert_input_error(
        &o,
        &["`load.page_loads`", "at most 100000", "9223372036854775807"],
    );
    assert!(took.as_secs() < 10, "{took:?}");
}

#[test]
fn n03_a_million_page_loads_are_refused_with_the_cap() {
    let o = run_fixture("N03-page-loads-1e6-memory.toml");
    assert_input_error(&o, &["`load.page_loads`", "at most 100000", "got 1000000"]);
}

#[test]
fn n01_the_last_page_of_a_huge_interval_is_found_without_overflow() {
    let dir = scratch("round3-n01b");
    let path = write(
        &dir,
        "far.toml",
        "strategies = [\"cached-dns\"]\n[load]\npage_loads = 100000\ninterval = \"5000000h\"\n",
    );
    let o = meshsim(&[
        "run",
        &path,
        "--out",
        &dir.join("out").display().to_string(),
    ]);
    assert_input_error(&o, &["`time_limit`", "the last page load starts at"]);
}

#[test]
fn n05_an_endless_scenario_file_is_refused_at_its_size_limit() {
    let dir = scratch("round3-n05-run");
    let o = meshsim(&["run", "/dev/zero", "--out", &dir.display().to_string()]);
    assert_input_error(&o, &["/dev/zero", "larger than 4 MiB"]);
}

#[test]
fn n21_constant_arrivals_are_exactly_rate_times_duration() {
    let out = scratch("round3-n21");
    let o = meshsim(&[
        "run",
        &fixture("N21-constant-arrivals-off-by-one.toml"),
        "--out",
        &out.display().to_string(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("report json");
    let w = &report["strategies"][0]["workload"];
    assert_eq!(w["issued"], 51, "{w:#}");
}

#[test]
fn n14a_keys_of_the_other_loop_are_refused() {
    let o = run_fixture("N14a-open-loop-with-users.toml");
    assert_input_error(&o, &["`workload.users`", "has no effect in an open loop"]);
    let dir = scratch("round3-n14a");
    for key in ["rate = 10", "connections = 4"] {
        let text = format!(
            "strategies = [\"cached-dns\"]\n[workload]\nmodel = \"closed\"\nusers = 2\n{key}\nduration = \"1s\"\n"
        );
        let path = write(&dir, "closed.toml", &text);
        let o = meshsim(&[
            "run",
            &path,
            "--out",
            &dir.join("out").display().to_string(),
        ]);
        let name = key.split(' ').next().unwrap_or_default();
        assert_input_error(
            &o,
            &[
                &format!("`workload.{name}`"),
                "has no effect in a closed loop",
            ],
        );
    }
}

#[test]
fn n14b_links_that_are_no_links_are_refused_with_their_place() {
    let o = run_fixture("N14b-partition-from-nobody.toml");
    assert_input_error(
        &o,
        &["N14b-partition-from-nobody.toml:", "`from`", "is empty"],
    );
    let dir = scratch("round3-n14b");
    for (event, fragment) in [
        (
            "kind = \"partition\"\nnodes = [\"node-1\"]\nfrom = [\"node-1\"]",
            "is also in `nodes`",
        ),
        (
            "kind = \"latency\"\nnodes = [\"node-0\", \"node-0\"]\nadd = \"5ms\"",
            "names `node-0` twice",
        ),
    ] {
        let text = format!(
            "strategies = [\"cached-dns\"]\n[load]\npage_loads = 2\n[[timeline]]\nat = \"100ms\"\n{event}\nduration = \"50ms\"\n"
        );
        let path = write(&dir, "links.toml", &text);
        let o = meshsim(&[
            "run",
            &path,
            "--out",
            &dir.join("out").display().to_string(),
        ]);
        assert_input_error(&o, &["links.toml:", fragment]);
    }
}

#[test]
fn n14c_ready_after_without_duration_is_refused() {
    let o = run_fixture("N14c-ready-after-without-duration.toml");
    assert_input_error(
        &o,
        &[
            "N14c-ready-after-without-duration.toml:",
            "`ready_after`",
            "has no effect without `duration`",
        ],
    );
}

#[test]
fn n08_overlapping_windows_on_one_link_are_refused_however_written() {
    for (name, target) in [
        (
            "N08a-latency-windows-cancel.toml",
            "latency on link node-0–node-1",
        ),
        (
            "N08c-partition-windows-cancel.toml",
            "partition of link node-0–node-1",
        ),
        (
            "N08d-host-and-link-windows-cancel.toml",
            "latency on link node-0–node-1",
        ),
    ] {
        let o = run_fixture(name);
        // Both places: this event's line and the other's.
        let text = std::fs::read_to_string(fixture(name)).expect("fixture");
        let headers: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == "[[timeline]]")
            .map(|(i, _)| i + 1)
            .collect();
        assert_input_error(
            &o,
            &[
                &format!("{name}:{}:1: `timeline[1].at`", headers[1]),
                "overlaps timeline[0]'s",
                &format!("{name}:{}:1", headers[0]),
                target,
            ],
        );
    }
}

#[test]
fn n08_disjoint_windows_on_one_link_still_run() {
    let dir = scratch("round3-n08-disjoint");
    let text = "strategies = [\"cached-dns\"]\n[load]\npage_loads = 3\n\
        [[timeline]]\nat = \"100ms\"\nkind = \"latency\"\nnodes = [\"node-0\", \"node-1\"]\nadd = \"5ms\"\nduration = \"50ms\"\n\
        [[timeline]]\nat = \"150ms\"\nkind = \"latency\"\nnodes = [\"node-1\", \"node-0\"]\nadd = \"5ms\"\nduration = \"50ms\"\n";
    let path = write(&dir, "disjoint.toml", text);
    let o = meshsim(&[
        "run",
        &path,
        "--out",
        &dir.join("out").display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn n09_an_event_on_a_pod_a_scale_down_removed_is_refused() {
    let o = run_fixture("N09-event-on-scaled-down-pod.toml");
    assert_input_error(
        &o,
        &[
            "N09-event-on-scaled-down-pod.toml:",
            "`timeline[1].pod`",
            "`stockdata-1` no longer exists at 150ms",
            "timeline[0] at 100ms removed it",
        ],
    );
    // Scaled back up, the pod has a new name: stockdata-2, not stockdata-1.
    let dir = scratch("round3-n09");
    let scale = |at: &str, n: u32| {
        format!(
            "[[timeline]]\nat = \"{at}\"\nkind = \"scale\"\nservice = \"stockdata\"\nreplicas = {n}\n"
        )
    };
    let errors = |pod: &str| {
        format!(
            "[[timeline]]\nat = \"300ms\"\nkind = \"errors\"\npod = \"{pod}\"\nduration = \"50ms\"\n"
        )
    };
    let head = "strategies = [\"cached-dns\"]\n[load]\npage_loads = 4\n";
    let text = format!(
        "{head}{}{}{}",
        scale("100ms", 1),
        scale("200ms", 2),
        errors("stockdata-1")
    );
    let path = write(&dir, "again.toml", &text);
    let o = meshsim(&["run", &path, "--out", &dir.join("o1").display().to_string()]);
    assert_input_error(&o, &["`stockdata-1` no longer exists at 300ms"]);
    let text = format!(
        "{head}{}{}{}",
        scale("100ms", 1),
        scale("200ms", 3),
        errors("stockdata-2")
    );
    let path = write(&dir, "renamed.toml", &text);
    let o = meshsim(&["run", &path, "--out", &dir.join("o2").display().to_string()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
