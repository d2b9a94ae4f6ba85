//! Regression tests for the second hostile-input round (issue 21; one
//! fixture per reproducer in `round3/`, or the input written here when it
//! is a command line): bad input gets exit 2 and a message naming
//! file:line:col, the key or the flag; valid input gets the right result;
//! nothing panics, hangs or grows without bound.

use crate::common::{meshsim_bounded as meshsim, scratch, stderr, stdout};
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
fn n05_an_endless_report_is_refused_at_its_size_limit() {
    let base = baseline("stockweb-demo").display().to_string();
    let o = meshsim(&["compare", "/dev/zero", &base]);
    assert_input_error(&o, &["/dev/zero", "larger than 256 MiB"]);
    let dir = scratch("round3-n05-report");
    let o = meshsim(&["report", "/dev/zero", "--out", &dir.display().to_string()]);
    assert_input_error(&o, &["/dev/zero", "larger than 256 MiB"]);
}

#[test]
fn n05_an_endless_endpoints_file_is_refused_at_its_size_limit() {
    let o = meshsim(&[
        "proxy",
        "--service",
        "s",
        "--endpoints-file",
        "/dev/zero",
        "--admin",
        "127.0.0.1:0",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_input_error(&o, &["--endpoints-file /dev/zero", "larger than 1 MiB"]);
}

#[test]
fn n07_compare_refuses_to_write_its_page_over_an_input() {
    let dir = scratch("round3-n07");
    let base = dir.join("base.json");
    let cur = dir.join("cur.json");
    std::fs::copy(baseline("stockweb-demo"), &base).expect("copy");
    std::fs::copy(baseline("stockweb-demo"), &cur).expect("copy");
    let before = std::fs::read(&base).expect("read");
    let (b, c) = (base.display().to_string(), cur.display().to_string());
    for target in [&b, &c] {
        let o = meshsim(&["compare", &b, &c, "--html", target]);
        assert_input_error(
            &o,
            &["--html", "is the input report", "expected another path"],
        );
    }
    // By another name too (`dir/./base.json`).
    let other = dir.join(".").join("base.json").display().to_string();
    let o = meshsim(&["compare", &b, &c, "--html", &other]);
    assert_input_error(&o, &["is the input report"]);
    assert_eq!(std::fs::read(&base).expect("read"), before);
    assert_eq!(std::fs::read(&cur).expect("read"), before);
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

/// A two-page scenario for the command-line tests.
const TINY: &str = "strategies = [\"cached-dns\"]\n[load]\npage_loads = 2\n";

#[test]
fn n11_a_histogram_or_chart_path_that_is_a_folder_fails_before_the_run() {
    let dir = scratch("round3-n11-run");
    let tiny = write(&dir, "tiny.toml", TINY);
    for blocker in ["cached-dns.hgrm", "charts/latency-cdf.svg"] {
        let out = dir.join(blocker.replace(['/', '.'], "-"));
        std::fs::create_dir_all(out.join(blocker)).expect("blocker");
        let o = meshsim(&["run", &tiny, "--out", &out.display().to_string()]);
        assert_input_error(&o, &["--out", blocker, "is a folder"]);
        assert!(
            !out.join("report.json").exists(),
            "{blocker}: nothing written"
        );
    }
}

#[test]
fn n11_sweep_outputs_are_checked_before_any_point_runs() {
    let dir = scratch("round3-n11-sweep");
    let tiny = write(&dir, "tiny.toml", TINY);
    let out = dir.join("out");
    std::fs::create_dir_all(out.join("sweep.json")).expect("blocker");
    let o = meshsim(&[
        "sweep",
        &tiny,
        "--set",
        "replicas=1,2",
        "--out",
        &out.display().to_string(),
    ]);
    assert_input_error(&o, &["--out", "`sweep.json` in it is a folder"]);
    assert!(!out.join("replicas=1").join("report.json").exists());
    // A point whose folder name the file system cannot hold.
    let long = "d".repeat(300);
    let set = format!("description={long}a,{long}b");
    let o = meshsim(&[
        "sweep",
        &tiny,
        "--set",
        &set,
        "--out",
        &dir.join("o2").display().to_string(),
    ]);
    assert_input_error(&o, &["--set", "folder name is", "at most 255"]);
}

#[test]
fn n11_bench_checks_its_out_folder_first() {
    let (o, took) = timed(&["bench", "--only", "paths", "--quick", "--out", "/proc/x"]);
    assert_input_error(&o, &["--out /proc/x"]);
    assert!(took.as_secs() < 5, "{took:?}");
}

#[test]
fn n12_sweep_refuses_a_real_only_strategy_up_front() {
    let dir = scratch("round3-n12");
    let tiny = write(&dir, "tiny.toml", TINY);
    let out = dir.join("out").display().to_string();
    let o = meshsim(&[
        "sweep",
        &tiny,
        "--set",
        "replicas=1,2",
        "--strategies",
        "nginx",
        "--out",
        &out,
    ]);
    assert_input_error(
        &o,
        &["`nginx:round-robin` runs a real proxy process and needs real mode"],
    );
    assert!(!stderr(&o).contains("PeerSpec"), "{}", stderr(&o));
    let o = meshsim(&[
        "sweep",
        &tiny,
        "--set",
        "strategies=[\"nginx\"]",
        "--out",
        &out,
    ]);
    assert_input_error(&o, &["needs real mode"]);
}

#[test]
fn n13_a_sweep_grid_is_capped_and_refused_at_once() {
    let dir = scratch("round3-n13");
    let tiny = write(&dir, "tiny.toml", TINY);
    let values: Vec<String> = (1..=100).map(|i| i.to_string()).collect();
    let seeds = format!("seed={}", values.join(","));
    let pages = format!("load.page_loads={}", values.join(","));
    let (o, took) = timed(&[
        "sweep", &tiny, "--set", &seeds, "--set", &pages, "--out", "/proc/x",
    ]);
    assert_input_error(&o, &["10000 points", "100 × 100", "at most 1000"]);
    assert!(took.as_secs() < 5, "{took:?}");
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
fn n15_zero_bench_flags_are_refused_naming_the_flag() {
    for flag in ["--pods", "--requests", "--concurrency"] {
        let o = meshsim(&[
            "bench", "--only", "scale", "--quick", flag, "0", "--out", "/proc/x",
        ]);
        assert_input_error(&o, &[flag, "0"]);
    }
    let o = meshsim(&["loadcheck", "--duration", "0s", "--warmup", "0s"]);
    assert_input_error(&o, &["--duration", "expected a duration above 0"]);
}

#[test]
fn n17_messages_say_what_is_wrong() {
    let o = meshsim(&["demo", "--real", "--web-port", "65535", "--for", "1s"]);
    assert_input_error(&o, &["--web-port", "65535"]);
    assert!(
        !stderr(&o).contains("Address already in use"),
        "{}",
        stderr(&o)
    );
    let o = meshsim(&[
        "proxy",
        "--service",
        "s",
        "--endpoints",
        "a=127.0.0.1:1",
        "--profile",
        "nginx",
    ]);
    assert_input_error(
        &o,
        &[
            "`nginx:round-robin` is a real nginx process",
            "not a profile",
        ],
    );
    assert!(!stderr(&o).contains("client strategy"), "{}", stderr(&o));
}

#[test]
fn n10_real_mode_counts_each_pod_once() {
    let dir = scratch("round3-n10");
    let text = "strategies = [\"cached-dns\"]\n[stockdata]\nreplicas = 245\n[stockweb]\nreplicas = 6\n[load]\npage_loads = 1\n";
    let path = write(&dir, "pods.toml", text);
    let o = meshsim(&[
        "run",
        "--real",
        &path,
        "--out",
        &dir.join("out").display().to_string(),
    ]);
    // 245 + 6 = 251: one over the limit, and counted once (not 257).
    assert_input_error(&o, &["at most 250 pods", "this scenario needs 251"]);
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

#[test]
fn n20_unfinished_pages_at_time_limit_fail_a_real_run_as_a_simulated_one() {
    let name = "N20-real-unfinished-pages.toml";
    for real in [false, true] {
        let out = scratch(&format!("round3-n20-{real}"));
        let out = out.display().to_string();
        let mut args = vec!["run", "--out", &out];
        if real {
            args.push("--real");
        }
        let path = fixture(name);
        args.push(&path);
        let o = meshsim(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "real {real}: {err}");
        assert!(
            err.contains("reached time_limit (2s)"),
            "real {real}: {err}"
        );
        assert!(err.contains("page loads unfinished"), "real {real}: {err}");
    }
}
