//! The real programs from `sim`: `meshsim proxy` as a user runs it, on
//! loopback, in front of StockData replicas served in-process (the
//! `stockdata` binary belongs to another crate, so its library serves here).
//!
//! One test binary per area: each links tonic, hyper and turmoil once.

#[path = "../support/h2_peer.rs"]
mod h2_peer;
mod interop;
mod proxy;
mod readiness;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use stockdata::pb::GetRequest;
use stockdata::pb::stocks_client::StocksClient;
use stockdata::transport::{TokioConnect, connector_to};
use stockdata::{ReplicaConfig, StockDataService};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use tonic::transport::Channel;

/// A running `meshsim` process, killed on drop; its stderr lines arrive on
/// `lines`.
pub struct Program {
    pub child: Child,
    lines: mpsc::Receiver<String>,
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `meshsim ARGS…`.
pub fn meshsim(args: &[&str]) -> Program {
    program(std::path::Path::new(env!("CARGO_BIN_EXE_meshsim")), args)
}

/// Starts the program at `bin` with `args`.
pub fn program(bin: &std::path::Path, args: &[&str]) -> Program {
    let mut child = Command::new(bin)
        .args(args)
        .env_remove("STOCKDATA_LISTEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
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

/// Starts a proxy for `stockdata` on loopback ports with extra `args`.
pub fn start_proxy(args: &[&str]) -> Program {
    let mut all = vec![
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
        "--service",
        "stockdata",
    ];
    all.extend_from_slice(args);
    meshsim(&all)
}

/// The value of `key=` in a logfmt line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

impl Program {
    /// Waits for a stderr line containing `needle`.
    pub fn wait_for(&self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(15))
                .unwrap_or_else(|_| panic!("a line with {needle:?} within 15 s"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Waits for the `ready` line: (listen, admin) addresses.
    pub fn ready(&self) -> (SocketAddr, SocketAddr) {
        let line = self.wait_for("msg=ready");
        let addr = |key| {
            field(&line, key)
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("{key} in {line}"))
        };
        (addr("listen"), addr("admin"))
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits (bounded) for the exit code; the stderr lines not yet read.
    pub async fn exit(&mut self) -> (i32, String) {
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
        let mut stderr = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            stderr.push(line);
        }
        (status.code().unwrap_or(-1), stderr.join("\n"))
    }
}

/// A StockData replica on a loopback port, served on the test's runtime.
pub async fn replica(pod: &str, service_time: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let replica =
        StockDataService::new(ReplicaConfig::constant(pod, service_time, 256)).expect("replica");
    tokio::spawn(stockdata::serve(listener, replica));
    addr
}

/// A loopback address nothing listens on.
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

/// A Stocks client whose one connection goes to `proxy`, every request
/// naming `stockdata:50051` as its :authority (as StockWeb behind a sidecar).
pub async fn client_via(proxy: SocketAddr) -> StocksClient<Channel> {
    let channel = tonic::transport::Endpoint::from_static("http://stockdata:50051")
        .connect_with_connector(connector_to(TokioConnect, proxy))
        .await
        .expect("connect to the proxy");
    StocksClient::new(channel)
}

/// One `Get` of stock `id`: the `server-id` that answered, or the code.
pub async fn get(client: &mut StocksClient<Channel>, id: i32) -> Result<String, tonic::Code> {
    match client.get(GetRequest { id }).await {
        Ok(r) => Ok(r
            .metadata()
            .get("server-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?")
            .to_string()),
        Err(status) => Err(status.code()),
    }
}

/// Sends `n` concurrent `Get`s; the `server-id` (or error code) of each.
pub async fn calls(client: &StocksClient<Channel>, n: i32) -> Vec<Result<String, tonic::Code>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let mut client = client.clone();
            tokio::spawn(async move { get(&mut client, 2 + i % 100).await })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        let result = timeout(Duration::from_secs(10), task)
            .await
            .expect("call within 10 s")
            .expect("task");
        out.push(result);
    }
    out
}

/// GET `path` over HTTP/1.1: (status, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    timeout(Duration::from_secs(10), async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    })
    .await
    .expect("answered within 10 s")
}
