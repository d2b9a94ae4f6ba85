//! The `meshsim` binary: exit codes, error locations, outputs.

use crate::common::{meshsim, scratch, stderr, stdout};
use std::path::Path;
use std::process::{Command, Output};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scenario");
    path.display().to_string()
}

/// Asserts exit code 2, a `file:line:col:` prefix and the given fragments.
fn assert_input_error(o: &Output, location: &str, fragments: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains(location), "expected `{location}` in: {err}");
    for f in fragments {
        assert!(err.contains(f), "expected `{f}` in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

const VALID: &str = r#"strategies = ["cached-dns"]
[stockdata]
replicas = 2
"#;

#[test]
fn bad_toml_names_file_line_and_column() {
    let dir = scratch("bad_toml");
    let path = write(
        &dir,
        "bad.toml",
        "strategies = [\"cached-dns\"]\n[stockdata\nreplicas = 2\n",
    );
    assert_input_error(&meshsim(&["run", &path]), &format!("{path}:2:"), &[]);
}

#[test]
fn unknown_key_is_an_error_listing_the_expected_keys() {
    let dir = scratch("unknown_key");
    let path = write(&dir, "unknown.toml", &format!("{VALID}replcias = 3\n"));
    assert_input_error(
        &meshsim(&["run", &path]),
        &format!("{path}:4:1:"),
        &["unknown field `replcias`", "replicas"],
    );
}

#[test]
fn wrong_type_names_the_expected_type() {
    let dir = scratch("wrong_type");
    let path = write(
        &dir,
        "type.toml",
        "strategies = [\"cached-dns\"]\n[load]\npage_loads = \"ten\"\n",
    );
    assert_input_error(
        &meshsim(&["run", &path]),
        &format!("{path}:3:14:"),
        &["expected u64"],
    );
}

#[test]
fn negative_or_zero_replicas_are_rejected_at_their_value() {
    let dir = scratch("negative_replicas");
    for (name, value) in [("neg.toml", "-2"), ("zero.toml", "0")] {
        let path = write(
            &dir,
            name,
            &format!("strategies = [\"cached-dns\"]\n[stockdata]\nreplicas = {value}\n"),
        );
        assert_input_error(
            &meshsim(&["run", &path]),
            &format!("{path}:3:12:"),
            &["nonzero u32"],
        );
    }
}

#[test]
fn unknown_strategy_and_bad_duration_point_at_the_value() {
    let dir = scratch("bad_values");
    let path = write(
        &dir,
        "strategy.toml",
        "strategies = [\"cached-dns\", \"envoy\"]\n",
    );
    assert_input_error(
        &meshsim(&["run", &path]),
        &format!("{path}:1:"),
        &["unknown strategy `envoy`", "cached-dns"],
    );
    let path = write(
        &dir,
        "duration.toml",
        "strategies = [\"cached-dns\"]\ntick = \"5 parsecs\"\n",
    );
    assert_input_error(
        &meshsim(&["run", &path]),
        &format!("{path}:2:8:"),
        &["unknown unit", "\"2ms\""],
    );
}

#[test]
fn semantic_errors_name_the_field() {
    let dir = scratch("semantic");
    let path = write(
        &dir,
        "dup.toml",
        "strategies = [\"sidecar\", \"sidecar:round-robin\"]\n",
    );
    let o = meshsim(&["run", &path]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`strategies`: `sidecar:round-robin` is listed twice"),
        "{}",
        stderr(&o)
    );
    let path = write(
        &dir,
        "limit.toml",
        "strategies = [\"cached-dns\"]\ntime_limit = \"1s\"\n[load]\npage_loads = 100\n",
    );
    let o = meshsim(&["run", &path]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`time_limit`"), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        meshsim(&["run", "--strategies", "bogus"]).status.code(),
        Some(2)
    );
    assert_eq!(
        meshsim(&["run", "--seed", "minus-one"]).status.code(),
        Some(2)
    );
    assert_eq!(meshsim(&["frobnicate"]).status.code(), Some(2));
    let missing = meshsim(&["run", "no/such/scenario.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no/such/scenario.toml"));
}

#[test]
fn help_explains_with_examples() {
    let top = meshsim(&["--help"]);
    assert_eq!(top.status.code(), Some(0));
    assert!(stdout(&top).contains("Examples:"));
    assert!(stdout(&top).contains("meshsim run"));
    let run = meshsim(&["run", "--help"]);
    assert_eq!(run.status.code(), Some(0));
    for needle in [
        "--seed",
        "--strategies",
        "--out",
        "--json",
        "cached-dns",
        "sidecar:round-robin",
        "Examples:",
    ] {
        assert!(
            stdout(&run).contains(needle),
            "`{needle}` missing from run --help"
        );
    }
}

#[test]
fn run_writes_report_and_prints_the_table() {
    let dir = scratch("run_writes");
    let out = dir.join("out");
    let o = meshsim(&["run", "--out", out.to_str().expect("utf-8"), "--seed", "9"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(table.contains("cached-dns"), "{table}");
    assert!(table.contains("sidecar:round-robin"), "{table}");
    // The per-replica section has one row per replica and one column per
    // strategy; round robin's column (the last) splits the 1,000 calls evenly.
    for replica in ["stockdata-0", "stockdata-1"] {
        let row = table
            .lines()
            .find(|l| l.trim_start().starts_with(replica))
            .unwrap_or_else(|| panic!("no row for {replica}: {table}"));
        assert!(row.trim_end().ends_with("500 (50%)"), "{row}\n{table}");
    }
    let report = reports::Report::from_json_slice(
        &std::fs::read(out.join("report.json")).expect("report.json"),
    )
    .expect("valid report");
    assert_eq!(report.seed, 9);
    // The report folder, nothing more or less.
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .expect("out dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "cached-dns.hgrm",
            "cached-dns.workload.hgrm",
            "charts",
            "index.html",
            "report.json",
            "sidecar_round-robin.hgrm",
            "sidecar_round-robin.workload.hgrm",
            "summary.md",
        ]
    );
}

#[test]
fn two_processes_write_identical_bytes_and_json_matches_the_file() {
    let dir = scratch("two_processes");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/stockweb-demo.toml");
    let scenario = scenario.to_str().expect("utf-8");
    let mut bytes = Vec::new();
    for i in 0..2 {
        let out = dir.join(format!("run{i}"));
        let o = meshsim(&[
            "run",
            scenario,
            "--out",
            out.to_str().expect("utf-8"),
            "--json",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let file = std::fs::read(out.join("report.json")).expect("report.json");
        assert_eq!(o.stdout, file, "--json prints exactly report.json");
        bytes.push(file);
    }
    assert!(
        bytes[0] == bytes[1],
        "two processes wrote different report.json"
    );
}

#[test]
fn seed_from_environment_and_verify_determinism() {
    let dir = scratch("env_seed");
    let out = dir.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args([
            "run",
            "--verify-determinism",
            "--json",
            "--out",
            out.to_str().expect("utf-8"),
        ])
        .env("MESHSIM_SEED", "77")
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("determinism verified"));
    let report = reports::Report::from_json_slice(&o.stdout).expect("json on stdout");
    assert_eq!(report.seed, 77);
}

#[test]
fn a_real_proxy_strategy_in_the_simulator_is_refused_before_anything_runs() {
    let dir = scratch("peer_in_sim");
    let path = write(
        &dir,
        "peer.toml",
        "name = \"peer\"\nstrategies = [\"cached-dns\", \"nginx\"]\n",
    );
    let out = dir.join("out");
    let o = meshsim(&["run", &path, "--out", &out.display().to_string()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`nginx:round-robin`") && err.contains("--real"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written before the refusal");
}
