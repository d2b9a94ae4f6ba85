//! Regression tests for defects found by hostile-input probes (see
//! `defects/`, one fixture per reproducer): bad input gets exit 2 and a
//! message naming the setting, never a panic, an abort or a late failure.

use crate::common::{meshsim, scratch, stderr};
use std::process::Output;

/// The path of fixture `name` in `tests/cli/defects/`.
fn fixture(name: &str) -> String {
    format!("{}/tests/cli/defects/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs fixture `name` with a scratch `--out` folder.
fn run_fixture(name: &str) -> Output {
    let out = scratch(&format!("defects-{name}"));
    meshsim(&["run", &fixture(name), "--out", &out.display().to_string()])
}

/// Asserts exit code 2, no panic, and every fragment in stderr.
fn assert_input_error(o: &Output, fragments: &[&str]) {
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
