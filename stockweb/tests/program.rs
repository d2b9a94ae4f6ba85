//! The `stockweb` program as a user runs it: the built binary on loopback,
//! in front of StockData replicas served in-process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use stockdata::{ReplicaConfig, StockDataService};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

/// A running `stockweb`, killed on drop; its stderr lines arrive on `lines`.
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_stockweb"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stockweb");
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
        let mut stderr = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            stderr.push(line);
        }
        (status.code().unwrap_or(-1), stderr.join("\n"))
    }
}

/// A StockData replica on a loopback port, served on this test's runtime.
async fn replica(pod: &str, service_time: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let replica =
        StockDataService::new(ReplicaConfig::constant(pod, service_time, 128)).expect("replica");
    tokio::spawn(stockdata::serve(listener, replica));
    addr
}

/// GET `path`; (status, body).
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_pins_to_one_replica_and_sigterm_exits_zero() {
    let a = replica("stockdata-0", Duration::from_millis(1)).await;
    let url = format!("http://{a}");
    let mut web = start(&["serve", "--listen", "127.0.0.1:0", "--stockdata", &url]);
    let addr = web.ready();
    assert_eq!(get(addr, "/healthz").await.0, 200);

    let (status, body) = get(addr, "/api/stocks").await;
    assert_eq!(status, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).expect("JSON page");
    let calls = page["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 100);
    for call in calls {
        assert_eq!(call["code"], "OK", "{call}");
        assert_eq!(call["server"], "stockdata-0", "{call}");
    }
    let (status, html) = get(addr, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("NASDAQ"), "{html}");

    let pid = web.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let (code, stderr) = web.exit().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("msg=stopped"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_stockdata_is_unavailable_not_a_hang() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let web = start(&["serve", "--listen", "127.0.0.1:0", "--stockdata", &url]);
    let addr = web.ready();
    let (status, body) = get(addr, "/api/stock/2").await;
    assert_eq!(status, 200, "{body}");
    let call: serde_json::Value = serde_json::from_str(&body).expect("JSON call");
    assert_eq!(call["code"], "UNAVAILABLE", "{call}");
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
async fn bad_flags_and_a_port_in_use_exit_2_in_one_line() {
    let e = usage_error(&["serve", "--nope"]).await;
    assert!(e.contains("--nope"), "{e}");
    let e = usage_error(&["serve", "--stockdata", "ftp://stockdata:1"]).await;
    assert!(e.contains("http://"), "{e}");
    let e = usage_error(&["serve", "--sidecar", "127.0.0.1"]).await;
    assert!(e.contains("--sidecar"), "{e}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let e = usage_error(&["serve", "--listen", &addr]).await;
    assert!(e.contains("in use"), "{e}");
}
