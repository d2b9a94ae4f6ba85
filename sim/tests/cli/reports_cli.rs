//! `meshsim report`, `compare` and `sweep` end to end, as CI and users run
//! them.

use crate::common::{meshsim, scratch};
use std::path::{Path, PathBuf};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn run_then_report_rerenders_every_file_byte_for_byte_and_matches_the_baseline() {
    let dir = scratch("rerender");
    let (a, b) = (dir.join("run"), dir.join("report"));
    let run = meshsim(&["run", "--out", &a.display().to_string()]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let again = meshsim(&[
        "report",
        &a.join("report.json").display().to_string(),
        "--out",
        &b.display().to_string(),
    ]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa.len(), 17, "{fa:?}");
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(x.strip_prefix(&a).ok(), y.strip_prefix(&b).ok());
        assert!(
            std::fs::read(x).ok() == std::fs::read(y).ok(),
            "{} differs after re-rendering",
            y.display()
        );
    }
    // The documented CI recipe: a fresh run against the shipped baseline.
    let gate = meshsim(&[
        "compare",
        &repo("scenarios/baselines/stockweb-demo.json"),
        &a.join("report.json").display().to_string(),
        "--exact",
    ]);
    assert_eq!(gate.status.code(), Some(0), "{}", text(&gate.stderr));
    assert!(text(&gate.stderr).contains("reports identical"));
}

#[test]
fn compare_exits_0_1_2_as_documented() {
    let dir = scratch("compare");
    let base = repo("scenarios/baselines/stockweb-demo.json");
    let same = meshsim(&["compare", &base, &base]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stderr));
    assert!(text(&same.stdout).contains("sidecar:round-robin  p99 ms"));

    // p99 +20% on one strategy: a regression, named.
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&base).expect("baseline")).expect("json");
    let p99 = &mut doc["strategies"][1]["latency_ms"]["p99"];
    *p99 = serde_json::json!(p99.as_f64().expect("p99") * 1.2);
    let doctored = dir.join("doctored.json");
    std::fs::write(&doctored, serde_json::to_vec_pretty(&doc).expect("json")).expect("write");
    let doctored = doctored.display().to_string();
    let worse = meshsim(&["compare", &base, &doctored]);
    assert_eq!(worse.status.code(), Some(1), "{}", text(&worse.stderr));
    assert!(
        text(&worse.stderr).contains("sidecar:round-robin: p99 grew 20.0% (limit 10%)"),
        "{}",
        text(&worse.stderr)
    );
    assert!(text(&worse.stdout).contains("REGRESSION"));
    // --html writes the page and still gates.
    let page = dir.join("pr/diff.html");
    let html = meshsim(&[
        "compare",
        "--html",
        &page.display().to_string(),
        &base,
        &doctored,
    ]);
    assert_eq!(html.status.code(), Some(1), "{}", text(&html.stderr));
    let page = std::fs::read_to_string(&page).expect("page written");
    assert!(page.contains("<tr class=\"regression\"><td>sidecar:round-robin</td><td>p99 ms</td>"));
    assert_eq!(page.matches("<svg").count() % 2, 0, "charts in pairs");
    // A looser threshold lets it through; --exact does not.
    let loose = meshsim(&["compare", &base, &doctored, "--max-p99-regression", "25%"]);
    assert_eq!(loose.status.code(), Some(0), "{}", text(&loose.stderr));
    let exact = meshsim(&[
        "compare",
        &base,
        &doctored,
        "--max-p99-regression",
        "25%",
        "--exact",
    ]);
    assert_eq!(exact.status.code(), Some(1));
    assert!(text(&exact.stderr).contains("--exact: the reports differ"));

    // Error rate: +1 point of failed calls crosses the 0.5-point default.
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&base).expect("baseline")).expect("json");
    doc["strategies"][0]["requests"]["ok"] = serde_json::json!(990);
    let errors = dir.join("errors.json");
    std::fs::write(&errors, serde_json::to_vec_pretty(&doc).expect("json")).expect("write");
    let o = meshsim(&["compare", &base, &errors.display().to_string(), "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).expect("--json output");
    assert!(
        out["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .any(|r| r["metric"] == "error rate %" && r["violation"].is_string())
    );

    // Bad input: exit 2.
    let missing = meshsim(&["compare", &base, "no/such/report.json"]);
    assert_eq!(missing.status.code(), Some(2));
    let garbage = dir.join("garbage.json");
    std::fs::write(&garbage, "{ not json").expect("write");
    let o = meshsim(&["compare", &base, &garbage.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("is not a meshsim report.json"));
    let other = repo("scenarios/baselines/slow-replica.json");
    let o = meshsim(&["compare", &base, &other]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("--allow-scenario-change"));
    let o = meshsim(&["compare", &base, &other, "--allow-scenario-change"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "different strategies still mismatch"
    );
    assert!(text(&o.stderr).contains("different strategies"));
    let o = meshsim(&["compare", &base, &base, "--max-p99-regression", "lots"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn sweep_runs_the_grid_and_writes_a_report_per_point() {
    let dir = scratch("sweep");
    let args = |out: &Path| {
        vec![
            "sweep".to_string(),
            "--set".into(),
            "replicas=2,3".into(),
            "--strategies".into(),
            "cached-dns,sidecar".into(),
            "--out".into(),
            out.display().to_string(),
        ]
    };
    let run = |out: &Path| {
        let a = args(out);
        meshsim(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run(&dir.join("a"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let sweep: reports::sweep::SweepReport =
        serde_json::from_slice(&std::fs::read(dir.join("a/sweep.json")).expect("sweep.json"))
            .expect("parses");
    assert_eq!(sweep.parameters, ["stockdata.replicas"]);
    assert_eq!(sweep.points.len(), 2);
    for p in &sweep.points {
        assert_eq!(p.strategies.len(), 2);
        assert!(dir.join("a").join(&p.dir).join("report.json").is_file());
        assert!(dir.join("a").join(&p.dir).join("index.html").is_file());
    }
    for f in ["sweep.md", "sweep.svg", "sweep.png"] {
        assert!(dir.join("a").join(f).is_file(), "{f}");
    }
    // What the sweep shows: a pinned client gains nothing from a third
    // replica, a balancing sidecar does.
    let p99 = |point: usize, strategy: usize| sweep.points[point].strategies[strategy].p99_ms;
    assert_eq!(p99(0, 0), p99(1, 0), "cached-dns is pinned to one replica");
    assert!(p99(1, 1) < p99(0, 1), "sidecar p99 falls with 3 replicas");
    // Deterministic whatever the thread scheduling.
    let o = run(&dir.join("b"));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        std::fs::read(dir.join("a/sweep.json")).ok(),
        std::fs::read(dir.join("b/sweep.json")).ok()
    );
    assert_eq!(
        std::fs::read(dir.join("a/sweep.png")).ok(),
        std::fs::read(dir.join("b/sweep.png")).ok()
    );
    // Bad parameters are input errors.
    let o = meshsim(&["sweep", "--set", "replicas=0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("--set stockdata.replicas=0"),
        "{}",
        text(&o.stderr)
    );
    let o = meshsim(&["sweep", "--set", "stockdata.nonsense=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("nonsense"));
}

#[test]
fn compare_refuses_exact_on_real_mode_reports_and_uses_thresholds() {
    let dir = scratch("compare-real");
    let base = repo("scenarios/baselines/stockweb-demo.json");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&base).expect("baseline")).expect("json");
    doc["mode"] = serde_json::json!("real");
    doc["host_cores"] = serde_json::json!(2);
    let real = dir.join("real.json");
    std::fs::write(&real, serde_json::to_vec_pretty(&doc).expect("json")).expect("write");
    let real = real.display().to_string();
    let exact = meshsim(&["compare", &real, &real, "--exact"]);
    assert_eq!(exact.status.code(), Some(2), "{}", text(&exact.stderr));
    assert!(text(&exact.stderr).contains("not deterministic"));
    let thresholds = meshsim(&["compare", &base, &real]);
    assert_eq!(
        thresholds.status.code(),
        Some(0),
        "{}",
        text(&thresholds.stderr)
    );
    // The table says where a report ran.
    let shown = meshsim(&[
        "report",
        &real,
        "--out",
        &dir.join("out").display().to_string(),
    ]);
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown.stderr));
    assert!(
        text(&shown.stdout).contains("real mode on 2 cores"),
        "{}",
        text(&shown.stdout)
    );
}

#[test]
fn a_reader_that_stops_reading_is_not_a_panic() {
    // `meshsim compare --json A B | head -1`: the pipe closes before
    // meshsim writes (it is closed here before the process has read its
    // inputs). It used to panic with "failed printing to stdout: Broken
    // pipe" and a backtrace, exit 101.
    let base =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/baselines/fifty-replicas.json");
    let base = base.to_string_lossy();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(["compare", "--json", &base, &base])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("meshsim starts");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("meshsim ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}
