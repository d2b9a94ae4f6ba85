//! The `stockdata` program as a user runs it: the built binary on loopback.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use stockdata::pb::GetRequest;
use stockdata::pb::stocks_client::StocksClient;
use tokio::time::timeout;

/// A running `stockdata`, killed on drop; its stderr lines arrive on `lines`.
struct Program {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Program {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stockdata"))
        .args(args)
        .env_remove("STOCKDATA_LISTEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stockdata");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Program { child, lines }
}

impl Program {
    /// Waits for the `ready` line and returns its `listen` address.
    fn ready(&self) -> SocketAddr {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(10))
                .expect("a ready line within 10 s");
            if line.contains("msg=ready") {
                let addr = line
                    .split(' ')
                    .find_map(|kv| kv.strip_prefix("listen="))
                    .expect("ready names its address");
                return addr.parse().expect("a socket address");
            }
        }
    }

    /// Waits (bounded) for the exit code; stderr collected so far.
    async fn exit(&mut self) -> (i32, String) {
        let status = timeout(Duration::from_secs(20), async {
            loop {
                if let Some(status) = self.child.try_wait().expect("try_wait") {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("exits within 20 s");
        // The reader thread ends at EOF; give it a moment to pass the tail.
        let mut stderr = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            stderr.push(line);
        }
        (status.code().unwrap_or(-1), stderr.join("\n"))
    }
}

async fn client(addr: SocketAddr) -> StocksClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    StocksClient::new(channel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_calls_then_exits_zero() {
    let mut program = start(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--pod-name",
        "stockdata-7",
        "--service-time",
        "constant:500ms",
        "--concurrency",
        "32",
    ]);
    let addr = program.ready();
    let stocks = client(addr).await;

    // Health first: the program is up.
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect"),
    );
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health check")
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let calls: Vec<_> = (0..20)
        .map(|i| {
            let mut stocks = stocks.clone();
            tokio::spawn(async move { stocks.get(GetRequest { id: 2 + i }).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let pid = program.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());

    for call in calls {
        let response = timeout(Duration::from_secs(10), call)
            .await
            .expect("call completes")
            .expect("task")
            .expect("call OK despite SIGTERM");
        let server = response.metadata().get("server-id").expect("server-id");
        assert_eq!(server, "stockdata-7");
    }
    let (code, stderr) = program.exit().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("msg=\"shutting down\" signal=SIGTERM"),
        "{stderr}"
    );
    assert!(stderr.contains("msg=stopped"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

async fn usage_error(args: &[&str]) -> String {
    let mut program = start(args);
    let (code, stderr) = program.exit().await;
    assert_eq!(code, 2, "{args:?}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line, got {stderr}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[tokio::test]
async fn bad_flags_and_addresses_exit_2_in_one_line() {
    let e = usage_error(&["serve", "--bogus"]).await;
    assert!(e.contains("--bogus"), "{e}");
    let e = usage_error(&["serve", "--listen", "localhost-ish"]).await;
    assert!(e.contains("--listen"), "{e}");
    let e = usage_error(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--service-time",
        "gaussian:1ms",
    ])
    .await;
    assert!(e.contains("gaussian"), "{e}");
    let e = usage_error(&["serve", "--listen", "127.0.0.1:0", "--concurrency", "0"]).await;
    assert!(e.contains("--concurrency"), "{e}");
    usage_error(&[]).await;
}

#[tokio::test]
async fn a_port_in_use_exits_2_in_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let e = usage_error(&["serve", "--listen", &addr]).await;
    assert!(e.contains(&addr) && e.contains("in use"), "{e}");
}

#[tokio::test]
async fn flags_come_from_the_environment_too() {
    let out = Command::new(env!("CARGO_BIN_EXE_stockdata"))
        .args(["serve"])
        .env("STOCKDATA_LISTEN", "not-an-address")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not-an-address"), "{stderr}");
}

#[test]
fn help_has_examples_and_env_names() {
    let out = Command::new(env!("CARGO_BIN_EXE_stockdata"))
        .args(["serve", "--help"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Examples:",
        "STOCKDATA_LISTEN",
        "exponential:MEAN",
        "--drain-timeout",
    ] {
        assert!(help.contains(needle), "{needle} missing from {help}");
    }
}
