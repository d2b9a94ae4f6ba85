//! Regression tests for defects found by hostile-input probes (see
//! `defects/`, one fixture per reproducer): bad input gets exit 2 and a
//! message naming the setting, never a panic, an abort or a late failure.

use crate::common::{meshsim_bounded as meshsim, meshsim_bounded_in, scratch, stderr};
use std::process::Output;

/// The path of fixture `name` in `tests/cli/defects/`.
pub(crate) fn fixture(name: &str) -> String {
    format!("{}/tests/cli/defects/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs fixture `name` with a scratch `--out` folder.
pub(crate) fn run_fixture(name: &str) -> Output {
    let out = scratch(&format!("defects-{name}"));
    meshsim(&["run", &fixture(name), "--out", &out.display().to_string()])
}

/// Asserts exit code 2, no panic, and every fragment in stderr.
pub(crate) fn assert_input_error(o: &Output, fragments: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for f in fragments {
        assert!(err.contains(f), "expected `{f}` in: {err}");
    }
}

#[test]
fn d01_huge_slowdown_is_rejected_with_its_limit() {
    let o = run_fixture("D01-slowdown-huge.toml");
    assert_input_error(
        &o,
        &["`stockdata.slowdown`", "stockdata-0", "at most 1000000"],
    );
}

#[test]
fn d02_huge_slow_factor_is_rejected_with_its_limit() {
    let o = run_fixture("D02-slow-factor-huge.toml");
    assert_input_error(
        &o,
        &[
            "D02-slow-factor-huge.toml:4:1:",
            "`timeline[0].factor`",
            "at most 1000000",
        ],
    );
}

#[test]
fn d03a_huge_count_is_rejected_before_expanding() {
    let o = run_fixture("D03a-count-4e9.toml");
    assert_input_error(
        &o,
        &[
            "D03a-count-4e9.toml:4:1:",
            "`timeline[0].count`",
            "at most 10000",
        ],
    );
}

#[test]
fn d03b_large_count_is_rejected_before_expanding() {
    let o = run_fixture("D03b-count-1e8.toml");
    assert_input_error(
        &o,
        &[
            "D03b-count-1e8.toml:4:1:",
            "`timeline[0].count`",
            "at most 10000",
        ],
    );
}

#[test]
fn d03_timeline_total_occurrences_are_bounded() {
    let dir = scratch("defects-d03-total");
    let event = |pod: &str| {
        format!(
            "[[timeline]]\nat = \"100ms\"\nkind = \"pause\"\npod = \"{pod}\"\n\
             duration = \"1ms\"\nevery = \"2ms\"\ncount = 6000\n"
        )
    };
    let text = format!(
        "strategies = [\"cached-dns\"]\n[load]\npage_loads = 2\n{}{}",
        event("stockdata-0"),
        event("stockdata-1")
    );
    let path = dir.join("total.toml");
    std::fs::write(&path, text).expect("write scenario");
    let o = meshsim(&[
        "run",
        &path.display().to_string(),
        "--out",
        &dir.display().to_string(),
    ]);
    assert_input_error(
        &o,
        &["`timeline[1].count`", "12000 occurrences", "at most 10000"],
    );
}

#[test]
fn d10_tick_longer_than_time_limit_is_rejected() {
    let o = run_fixture("D10-tick-above-time-limit.toml");
    assert_input_error(
        &o,
        &[
            "`tick`",
            "3600000000s is not shorter than time_limit (600s)",
        ],
    );
}

#[test]
fn d17c_non_utf8_file_names_the_byte_and_its_place() {
    let o = run_fixture("D17c-non-utf8.toml");
    assert_input_error(&o, &["D17c-non-utf8.toml:2:9:", "byte 0xff is not UTF-8"]);
    assert!(
        !stderr(&o).contains("stream did not contain"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn d17c_unreadable_file_error_is_said_once() {
    let o = meshsim(&["run", "/nonexistent/x.toml"]);
    let err = stderr(&o);
    assert_input_error(&o, &["/nonexistent/x.toml: "]);
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

#[test]
fn d17a_crash_node_ingress_is_not_offered_as_a_node() {
    let o = run_fixture("D17a-crash-node-ingress.toml");
    assert_input_error(
        &o,
        &[
            "D17a-crash-node-ingress.toml:4:1:",
            "unknown node `ingress`",
        ],
    );
    assert!(!stderr(&o).contains(", ingress"), "{}", stderr(&o));
}

#[test]
fn d17b_zero_factor_is_out_of_range_not_missing() {
    let o = run_fixture("D17b-slow-factor-zero.toml");
    assert_input_error(&o, &["`timeline[0].factor`", "expected a number above 0"]);
    assert!(!stderr(&o).contains("is required"), "{}", stderr(&o));
}

#[test]
fn d17d_empty_name_is_rejected_before_writing_anything() {
    let out = scratch("defects-d17d").join("out");
    let path = fixture("D17d-name-empty.toml");
    let o = meshsim(&["run", &path, "--out", &out.display().to_string()]);
    assert_input_error(&o, &["`name`", "is empty"]);
    assert!(!out.exists(), "nothing is written for a rejected scenario");
}

#[test]
fn d17e_repeated_feature_is_rejected() {
    let o = run_fixture("D17e-repeated-feature.toml");
    assert_input_error(
        &o,
        &[
            "D17e-repeated-feature.toml:1:",
            "`+retry` is repeated",
            "linkerd+retry+retry",
        ],
    );
}

/// Runs `meshsim sweep` on the tiny fixture with `args` into a scratch folder.
fn sweep(test: &str, args: &[&str]) -> (Output, std::path::PathBuf) {
    let out = scratch(test).join("out");
    let tiny = fixture("D12-tiny.toml");
    let mut all = vec!["sweep", tiny.as_str()];
    all.extend_from_slice(args);
    let out_arg = out.display().to_string();
    all.extend_from_slice(&["--out", &out_arg]);
    (meshsim(&all), out)
}

#[test]
fn d12_sweeping_the_seed_runs_each_seed() {
    let (o, out) = sweep("defects-d12", &["--set", "seed=1,2,3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for seed in 1..=3 {
        let json = std::fs::read_to_string(out.join(format!("seed={seed}/report.json")))
            .expect("point report");
        assert!(
            json.contains(&format!("\"seed\": {seed},")),
            "seed={seed}: wrong seed"
        );
    }
}

#[test]
fn d12_seed_flag_and_swept_seed_conflict() {
    let (o, out) = sweep("defects-d12-flag", &["--set", "seed=1,2", "--seed", "7"]);
    assert_input_error(&o, &["--seed", "--set seed"]);
    assert!(!out.exists());
}

#[test]
fn d13_sweep_errors_name_the_value_not_a_generated_place() {
    let (o, _) = sweep("defects-d13", &["--set", "replicas=abc"]);
    assert_input_error(
        &o,
        &["--set stockdata.replicas=abc: invalid type: string \"abc\""],
    );
    let err = stderr(&o);
    assert_eq!(
        err.matches("expected a nonzero u32").count(),
        1,
        "said once: {err}"
    );
    assert!(
        !err.contains(":8:12"),
        "no place in a generated document: {err}"
    );
    let (o, _) = sweep("defects-d13-interval", &["--set", "load.interval=-5ms"]);
    assert_input_error(
        &o,
        &["--set load.interval=-5ms: `-5ms` does not start with a number"],
    );
    assert!(!stderr(&o).contains(":5:12"), "{}", stderr(&o));
}

#[test]
fn d13_duplicate_sweep_values_are_rejected() {
    let (o, out) = sweep("defects-d13-dup", &["--set", "replicas=2,2"]);
    assert_input_error(&o, &["stockdata.replicas", "value `2` is listed twice"]);
    assert!(!out.exists());
    let (o, _) = sweep(
        "defects-d13-key",
        &["--set", "replicas=2", "--set", "stockdata.replicas=3"],
    );
    assert_input_error(&o, &["stockdata.replicas", "two --set flags"]);
    let (o, _) = sweep("defects-d13-folder", &["--set", "name=a/b,a_b"]);
    assert_input_error(&o, &["same folder `name=a_b`"]);
}

/// The path of `rel` in the repository.
fn repo(rel: &str) -> String {
    format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn d14_report_without_out_leaves_a_neighbouring_report_alone() {
    let dir = scratch("defects-d14");
    std::fs::copy(
        repo("scenarios/baselines/slow-replica.json"),
        dir.join("slow-replica.json"),
    )
    .expect("copy");
    std::fs::copy(
        repo("scenarios/baselines/stockweb-demo.json"),
        dir.join("report.json"),
    )
    .expect("copy");
    let before = std::fs::read(dir.join("report.json")).expect("read");
    let o = meshsim_bounded_in(&dir, &["report", "slow-replica.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(dir.join("report.json")).expect("read"),
        before
    );
    let err = stderr(&o);
    let default = std::path::Path::new("target")
        .join("meshsim")
        .join("slow-replica");
    assert!(err.contains(&format!("to {}", default.display())), "{err}");
    assert!(dir.join(&default).join("index.html").is_file());
}

#[test]
fn d14_report_never_overwrites_its_input() {
    let dir = scratch("defects-d14-input");
    let input = dir.join("report.json");
    std::fs::copy(repo("scenarios/baselines/slow-replica.json"), &input).expect("copy");
    let o = meshsim(&[
        "report",
        &input.display().to_string(),
        "--out",
        &dir.display().to_string(),
    ]);
    assert_input_error(&o, &["would overwrite the input"]);
}

/// `meshsim run` of the tiny fixture with `--out out`: exit 2 at once, one
/// message naming `--out`, and nothing written.
fn assert_bad_out(out: &str, fragment: &str) {
    let o = meshsim(&["run", &fixture("D12-tiny.toml"), "--out", out]);
    assert_input_error(&o, &[&format!("--out {out}: "), fragment]);
    assert_eq!(stderr(&o).lines().count(), 1, "one message: {}", stderr(&o));
}

#[test]
fn d15_bad_out_paths_fail_before_the_run() {
    let dir = scratch("defects-d15");
    let file = dir.join("afile");
    std::fs::write(&file, "hi").expect("write");
    assert_bad_out(&file.display().to_string(), "is not a folder");
    assert_eq!(std::fs::read(&file).expect("read"), b"hi");
    assert_bad_out("/dev/null", "is not a folder");
    assert_bad_out("/proc/x", "cannot create the folder");
    let px = dir.join("px");
    std::fs::create_dir_all(&px).expect("mkdir");
    std::fs::write(px.join("charts"), "").expect("write");
    assert_bad_out(&px.display().to_string(), "`charts` in it is not a folder");
    let left: Vec<_> = std::fs::read_dir(&px).expect("read_dir").collect();
    assert_eq!(left.len(), 1, "no partial files: {left:?}");
}

#[test]
fn d08a_slow_on_a_pod_a_later_scale_creates_is_rejected() {
    let o = run_fixture("D08a-slow-pod-before-scale.toml");
    assert_input_error(
        &o,
        &[
            "D08a-slow-pod-before-scale.toml:4:1:",
            "`timeline[0].pod`",
            "`stockdata-3` does not exist yet at 150ms",
        ],
    );
}

#[test]
fn d08b_kill_pod_on_a_pod_a_later_scale_creates_is_rejected() {
    let o = run_fixture("D08b-kill-pod-before-scale.toml");
    assert_input_error(
        &o,
        &[
            "D08b-kill-pod-before-scale.toml:4:1:",
            "`timeline[0].pod`",
            "does not exist yet",
        ],
    );
}
