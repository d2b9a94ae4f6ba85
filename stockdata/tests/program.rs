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

use tonic_health::pb::health_check_response::ServingStatus as Wire;

/// Checks the overall health is SERVING; returns a Watch on the Stocks
/// service, past its first answer (SERVING).
async fn health_watch(addr: SocketAddr) -> tonic::Streaming<tonic_health::pb::HealthCheckResponse> {
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect"),
    );
    let request = |service: &str| tonic_health::pb::HealthCheckRequest {
        service: service.into(),
    };
    let check = health.check(request("")).await.expect("health check");
    assert_eq!(check.into_inner().status, Wire::Serving as i32);
    let mut watch = health
        .watch(request("stockdata.v1.Stocks"))
        .await
        .expect("watch")
        .into_inner();
    let first = watch.message().await.expect("status").expect("one");
    assert_eq!(first.status, Wire::Serving as i32);
    watch
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

    // Health first: the program is up. And a watcher, which must not hold
    // up the drain: on SIGTERM it hears NOT_SERVING and its stream ends.
    let mut watch = health_watch(addr).await;

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
    let statuses = timeout(Duration::from_secs(5), async {
        let mut statuses = Vec::new();
        while let Some(message) = watch.message().await.expect("status") {
            statuses.push(message.status);
        }
        statuses
    })
    .await
    .expect("the watch ends on SIGTERM");
    assert_eq!(statuses, [Wire::NotServing as i32]);
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
        "STOCKDATA_SERVICE_TIMER",
    ] {
        assert!(help.contains(needle), "{needle} missing from {help}");
    }
}

/// An HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A connection with one `Stocks/Get` call whose `:authority` is
/// `authority`, in plain HPACK literals (RFC 7541 §6.2.2).
fn raw_call(authority: &str) -> Vec<u8> {
    let mut block = vec![0x83, 0x86]; // :method POST, :scheme http
    for (name_index, value) in [
        (&[0x04][..], "/stockdata.v1.Stocks/Get"),
        (&[0x01], authority),
        (&[0x0f, 0x10], "application/grpc"), // content-type (index 31)
        (&[0x00, 0x02, b't', b'e'], "trailers"),
    ] {
        block.extend_from_slice(name_index);
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend(frame(0x4, 0, 0, &[]));
    bytes.extend(frame(0x1, 0x4, 1, &block));
    bytes.extend(frame(0x0, 0x1, 1, &[0, 0, 0, 0, 2, 0x08, 0x02]));
    bytes
}

#[tokio::test]
async fn a_multi_address_authority_is_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let program = start(&["serve", "--listen", "127.0.0.1:0"]);
    let addr = program.ready();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // What grpcio sends for the target ipv4:127.0.0.1:5001,127.0.0.1:5002.
    tcp.write_all(&raw_call("127.0.0.1:5001,127.0.0.1:5002"))
        .await
        .expect("send");
    let mut message = 0;
    let answered = timeout(Duration::from_secs(10), async {
        loop {
            let mut head = [0u8; 9];
            tcp.read_exact(&mut head).await.expect("a frame");
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0; len];
            tcp.read_exact(&mut payload).await.expect("its payload");
            let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]);
            match (head[3], head[4], stream) {
                (0x4, 0, 0) => tcp.write_all(&frame(0x4, 0x1, 0, &[])).await.expect("ack"),
                (0x3, _, _) => panic!("RST_STREAM {payload:?}"),
                (0x7, _, _) => panic!("GOAWAY {payload:?}"),
                (0x0, _, 1) => message += len,
                // Trailers end the call.
                (0x1, flags, 1) if flags & 0x1 != 0 => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(answered.is_ok(), "an answer within 10 s");
    assert!(
        message > 5,
        "a response message, not an error: {message} bytes"
    );
}
