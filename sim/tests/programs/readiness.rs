//! Endpoint readiness through `meshsim proxy`, with real StockData
//! processes: a replica stopped with SIGTERM costs no call; one killed with
//! SIGKILL costs only the calls in flight on it, and gets traffic again
//! soon after it restarts (issue 22).
//!
//! The replicas are the `stockdata` binary (another crate's, so this test
//! builds it with the same cargo, target directory and profile).

use super::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::time::Instant;

/// The `stockdata` binary next to `meshsim`, built (or brought up to
/// date) once per test run.
fn stockdata_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let meshsim = Path::new(env!("CARGO_BIN_EXE_meshsim"));
        let profile_dir = meshsim.parent().expect("target/<profile>");
        let target_dir = profile_dir.parent().expect("target dir");
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--quiet", "-p", "stockdata", "--bin", "stockdata"]);
        cargo.arg("--target-dir").arg(target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("run cargo");
        assert!(status.success(), "cargo build -p stockdata");
        meshsim.with_file_name("stockdata")
    })
}

/// A `stockdata serve` process for `pod` on `addr`.
fn stockdata(pod: &str, addr: SocketAddr) -> Program {
    let listen = addr.to_string();
    let p = program(
        stockdata_bin(),
        &[
            "serve",
            "--listen",
            &listen,
            "--pod-name",
            pod,
            "--service-time",
            "constant:2ms",
            "--concurrency",
            "64",
        ],
    );
    p.wait_for("msg=ready");
    p
}

fn signal(p: &Program, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &p.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// One call's record: when it started and ended (since the run began), and
/// the replica that answered or the error.
#[derive(Debug, Clone)]
struct Call {
    start: Duration,
    end: Duration,
    result: Result<String, tonic::Code>,
}

/// 64 callers calling `Get` back to back through `client` until `stop`.
fn callers(
    client: &StocksClient<Channel>,
    t0: Instant,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Call>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..64)
        .map(|i| {
            let (mut client, stop, log) = (client.clone(), stop.clone(), log.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let start = t0.elapsed();
                    let result = get(&mut client, 2 + i % 100).await;
                    let end = t0.elapsed();
                    log.lock().expect("lock").push(Call { start, end, result });
                }
            })
        })
        .collect()
}

struct Run {
    calls: Vec<Call>,
    /// When the replica was signalled, since the run began.
    signalled: Duration,
    /// When it was ready again, if restarted.
    restarted: Option<Duration>,
}

/// Two replicas behind `meshsim proxy --profile profile`, 64 callers;
/// after 1 s stockdata-1 gets `sig`; with `restart`, it is started again
/// on the same address 1 s later; the callers stop 2 s after that.
async fn run(profile: &str, sig: &str, restart: bool) -> Run {
    let (a, b) = (closed_port(), closed_port());
    let _r0 = stockdata("stockdata-0", a);
    let mut r1 = stockdata("stockdata-1", b);
    let list = format!("stockdata-0={a},stockdata-1={b}");
    let proxy = start_proxy(&["--endpoints", &list, "--profile", profile]);
    let (listen, _admin) = proxy.ready();
    let client = client_via(listen).await;
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Vec::new()));
    let tasks = callers(&client, t0, stop.clone(), log.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let signalled = t0.elapsed();
    signal(&r1, sig);
    let (code, _) = r1.exit().await;
    if sig == "-TERM" {
        assert_eq!(code, 0, "stockdata drains and exits 0 on SIGTERM");
    }
    let mut restarted = None;
    let _again = if restart {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let again = stockdata("stockdata-1", b);
        restarted = Some(t0.elapsed());
        Some(again)
    } else {
        None
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        timeout(Duration::from_secs(10), task)
            .await
            .expect("callers stop")
            .expect("caller");
    }
    let calls = log.lock().expect("lock").clone();
    if calls.iter().any(|c| c.result.is_err()) {
        let (_, body) = http_get(_admin, "/metrics").await;
        let lines: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with("meshsim_proxy_requests_total"))
            .collect();
        eprintln!("{profile} {sig}: {lines:?}");
    }
    Run {
        calls,
        signalled,
        restarted,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_of_a_replica_fails_no_call() {
    for profile in ["linkerd", "sidecar:round-robin"] {
        let mut runs_with_failures = 0;
        for i in 0..10 {
            let run = run(profile, "-TERM", false).await;
            let failed: Vec<&Call> = run.calls.iter().filter(|c| c.result.is_err()).collect();
            eprintln!(
                "{profile} run {i}: {} calls, {} failed",
                run.calls.len(),
                failed.len()
            );
            // A known race, seen once in 20 runs on a loaded 2-core machine
            // (26 calls of one run, all sent within 1 ms after the signal
            // and reset when the replica exited 7 ms later): calls that
            // reach the replica between its first GOAWAY and its exit.
            // Before readiness every run failed 6-7 calls, spread over the
            // following seconds. So: at most one run in ten may fail, and
            // only calls sent within 20 ms of the signal.
            if !failed.is_empty() {
                runs_with_failures += 1;
                assert!(runs_with_failures <= 1, "{profile} run {i}: {failed:?}");
                assert!(
                    failed
                        .iter()
                        .all(|c| c.start <= run.signalled + Duration::from_millis(20)),
                    "{profile} run {i}: {failed:?}"
                );
            }
            // Afterwards everything goes to the survivor.
            let late = run
                .calls
                .iter()
                .filter(|c| c.start > run.signalled + Duration::from_millis(100));
            assert!(late.clone().count() > 100);
            assert!(
                late.into_iter()
                    .all(|c| c.result.as_deref() == Ok("stockdata-0"))
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_a_replica_fails_only_calls_in_flight_and_it_returns_after_restart() {
    for profile in ["linkerd", "sidecar:round-robin"] {
        let run = run(profile, "-KILL", true).await;
        let kill = run.signalled;
        let in_flight = run
            .calls
            .iter()
            .filter(|c| c.start <= kill && c.end >= kill)
            .count();
        let failed: Vec<&Call> = run.calls.iter().filter(|c| c.result.is_err()).collect();
        eprintln!(
            "{profile}: {} calls, {in_flight} in flight at the kill, {} failed",
            run.calls.len(),
            failed.len()
        );
        // Only calls in flight at the kill fail (the signal is sent when
        // `signalled` was read; allow the few ms the kernel takes to
        // deliver it and close the sockets).
        for c in &failed {
            assert!(
                c.start <= kill + Duration::from_millis(20),
                "{profile}: {c:?}"
            );
        }
        assert!(failed.len() <= in_flight, "{profile}");
        // Within 2 s every call goes to the survivor ...
        let restarted = run.restarted.expect("restarted");
        let settled = run
            .calls
            .iter()
            .filter(|c| c.start > kill + Duration::from_millis(100) && c.end < restarted);
        assert!(
            settled
                .into_iter()
                .all(|c| c.result.as_deref() == Ok("stockdata-0")),
            "{profile}"
        );
        // ... and the restarted replica serves again within 2 s.
        let back = run
            .calls
            .iter()
            .filter(|c| c.result.as_deref() == Ok("stockdata-1") && c.start > restarted)
            .map(|c| c.start)
            .min();
        eprintln!("{profile}: restarted replica's first call {back:?} after {restarted:?}");
        assert!(
            back.is_some_and(|t| t < restarted + Duration::from_secs(2)),
            "{profile}: {back:?}"
        );
    }
}
