//! `meshsim proxy`: balancing, Prometheus metrics, endpoint files, failures,
//! shutdown and usage errors.

use super::*;
use crate::h2_peer::advertised;
use prometheus_parse::{Scrape, Value};
use std::collections::BTreeMap;

fn endpoints(pods: &[(&str, SocketAddr)]) -> String {
    let all: Vec<String> = pods.iter().map(|(p, a)| format!("{p}={a}")).collect();
    all.join(",")
}

fn tally(results: &[Result<String, tonic::Code>]) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    for r in results {
        let key = match r {
            Ok(server) => server.clone(),
            Err(code) => format!("{code:?}"),
        };
        *by.entry(key).or_insert(0) += 1;
    }
    by
}

/// `/metrics`, parsed by a Prometheus text-format parser.
async fn scrape(admin: SocketAddr) -> Scrape {
    let (status, body) = http_get(admin, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text")
}

/// Sum of a counter's samples per `endpoint` label.
fn per_endpoint(scrape: &Scrape, metric: &str) -> BTreeMap<String, f64> {
    let mut by = BTreeMap::new();
    for s in scrape.samples.iter().filter(|s| s.metric == metric) {
        let value = match s.value {
            Value::Counter(v) | Value::Untyped(v) | Value::Gauge(v) => v,
            _ => panic!("{metric} is not a counter: {s:?}"),
        };
        let endpoint = s.labels.get("endpoint").unwrap_or("").to_string();
        *by.entry(endpoint).or_insert(0.0) += value;
    }
    by
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_splits_evenly_and_metrics_count_every_request() {
    let a = replica("stockdata-0", Duration::from_millis(1)).await;
    let b = replica("stockdata-1", Duration::from_millis(1)).await;
    let list = endpoints(&[("stockdata-0", a), ("stockdata-1", b)]);
    // On one thread (`bench --real` runs it so): the same answers.
    let proxy = start_proxy(&[
        "--endpoints",
        &list,
        "--profile",
        "sidecar:round-robin",
        "--threads",
        "1",
    ]);
    let (listen, admin) = proxy.ready();
    assert_eq!(http_get(admin, "/ready").await.0, 200);

    let client = client_via(listen).await;
    let split = tally(&calls(&client, 100).await);
    let want: BTreeMap<String, usize> =
        [("stockdata-0".into(), 50), ("stockdata-1".into(), 50)].into();
    assert_eq!(split, want);

    let scrape = scrape(admin).await;
    let requests = per_endpoint(&scrape, "meshsim_proxy_requests_total");
    let want: BTreeMap<String, f64> =
        [("stockdata-0".into(), 50.0), ("stockdata-1".into(), 50.0)].into();
    assert_eq!(requests, want);
    let ok: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "meshsim_proxy_requests_total")
        .map(|s| s.labels.get("code").unwrap_or(""))
        .collect();
    assert_eq!(ok, vec!["OK", "OK"]);
    let counts = per_endpoint(&scrape, "meshsim_proxy_request_duration_seconds_count");
    assert_eq!(counts, want, "histogram _count equals the request counters");
    for s in scrape
        .samples
        .iter()
        .filter(|s| s.metric == "meshsim_proxy_request_duration_seconds")
    {
        let Value::Histogram(buckets) = &s.value else {
            panic!("not a histogram: {s:?}");
        };
        let inf = buckets
            .iter()
            .find(|b| b.less_than.is_infinite())
            .expect("+Inf bucket");
        assert_eq!(inf.count, 50.0);
        assert!(
            buckets.windows(2).all(|w| w[0].count <= w[1].count),
            "cumulative"
        );
    }
    assert!(
        scrape.docs.contains_key("meshsim_proxy_requests_total"),
        "HELP lines"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_endpoint_is_unavailable_to_the_caller_in_bounded_time() {
    let dead = closed_port();
    let list = endpoints(&[("stockdata-0", dead)]);
    let proxy = start_proxy(&["--endpoints", &list, "--profile", "linkerd"]);
    let (listen, admin) = proxy.ready();
    let client = client_via(listen).await;
    let started = tokio::time::Instant::now();
    let results = calls(&client, 5).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    for r in results {
        assert_eq!(r, Err(tonic::Code::Unavailable));
    }
    // Linkerd never sends a call to an endpoint it cannot connect to: the
    // calls wait out the 3 s fail-fast timeout for a ready endpoint and
    // fail as "no endpoint" (before endpoint readiness each one tried the
    // dead endpoint itself).
    let scrape = scrape(admin).await;
    let requests = per_endpoint(&scrape, "meshsim_proxy_requests_total");
    assert_eq!(requests.get("stockdata-0").copied().unwrap_or(0.0), 0.0);
    let none = per_endpoint(&scrape, "meshsim_proxy_no_endpoints_total");
    assert_eq!(none.values().sum::<f64>(), 5.0, "{none:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_endpoints_file_adds_a_replica() {
    let dir = std::env::temp_dir().join(format!("meshsim-proxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("endpoints.txt");
    let a = replica("stockdata-0", Duration::from_millis(1)).await;
    let b = replica("stockdata-1", Duration::from_millis(1)).await;
    let c = replica("stockdata-2", Duration::from_millis(1)).await;
    std::fs::write(
        &file,
        format!("# two replicas\nstockdata-0={a}\nstockdata-1={b}\n"),
    )
    .expect("write");
    let path = file.to_string_lossy().to_string();
    let proxy = start_proxy(&[
        "--endpoints-file",
        &path,
        "--endpoints-poll",
        "100ms",
        "--profile",
        "sidecar:round-robin",
    ]);
    let (listen, _admin) = proxy.ready();
    let client = client_via(listen).await;
    // The proxy sends only to connected endpoints; it connects to both as
    // it starts, which takes a moment on a busy machine.
    timeout(Duration::from_secs(5), async {
        while tally(&calls(&client, 4).await).len() < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("both replicas connected within 5 s");
    let before = tally(&calls(&client, 20).await);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        ["stockdata-0", "stockdata-1"]
    );

    std::fs::write(
        &file,
        format!("stockdata-0={a}\nstockdata-1={b}\nstockdata-2={c}\n"),
    )
    .expect("rewrite");
    let line = proxy.wait_for("msg=\"endpoints updated\"");
    assert!(line.contains("count=3"), "{line}");
    // The profile's discovery delay (the control plane's push) passes
    // before the balancer sees the change: wait for the first call there.
    timeout(Duration::from_secs(5), async {
        while !tally(&calls(&client, 3).await).contains_key("stockdata-2") {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the new replica receives traffic within 5 s");
    let after = tally(&calls(&client, 30).await);
    let want: BTreeMap<String, usize> = [
        ("stockdata-0".into(), 10),
        ("stockdata-1".into(), 10),
        ("stockdata-2".into(), 10),
    ]
    .into();
    assert_eq!(after, want);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_then_exits_zero() {
    let a = replica("stockdata-0", Duration::from_millis(500)).await;
    let list = endpoints(&[("stockdata-0", a)]);
    let mut proxy = start_proxy(&[
        "--endpoints",
        &list,
        "--inbound",
        "--profile",
        "sidecar:round-robin",
    ]);
    let (listen, _admin) = proxy.ready();
    let client = client_via(listen).await;
    let in_flight = tokio::spawn(async move { calls(&client, 20).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    proxy.terminate();
    let results = in_flight.await.expect("calls");
    assert!(
        results.iter().all(|r| r.as_deref() == Ok("stockdata-0")),
        "{results:?}"
    );
    let (code, stderr) = proxy.exit().await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("signal=SIGTERM") && stderr.contains("msg=stopped"),
        "{stderr}"
    );
}

async fn usage_error(args: &[&str]) -> String {
    let mut program = meshsim(args);
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
async fn bad_flags_addresses_and_ports_exit_2_in_one_line() {
    let ok = "a=127.0.0.1:1";
    let e = usage_error(&["proxy", "--service", "s", "--endpoints", ok, "--bogus"]).await;
    assert!(e.contains("--bogus"), "{e}");
    let e = usage_error(&["proxy", "--service", "s"]).await;
    assert!(e.contains("--endpoints"), "{e}");
    let e = usage_error(&["proxy", "--service", "s", "--endpoints", "a=nowhere:1"]).await;
    assert!(e.contains("nowhere"), "{e}");
    let e = usage_error(&[
        "proxy",
        "--service",
        "s",
        "--endpoints",
        ok,
        "--listen",
        "1.2.3",
    ])
    .await;
    assert!(e.contains("--listen"), "{e}");
    let e = usage_error(&[
        "proxy",
        "--service",
        "s",
        "--endpoints",
        ok,
        "--profile",
        "cached-dns",
    ])
    .await;
    assert!(e.contains("not a proxy profile"), "{e}");
    for threads in ["0", "1025", "many"] {
        let e = usage_error(&[
            "proxy",
            "--service",
            "s",
            "--endpoints",
            ok,
            "--threads",
            threads,
        ])
        .await;
        assert!(e.contains("--threads"), "{e}");
    }
    let e = usage_error(&[
        "proxy",
        "--service",
        "s",
        "--endpoints-file",
        "/nonexistent/eps",
    ])
    .await;
    assert!(e.contains("/nonexistent/eps"), "{e}");
    let two = "a=127.0.0.1:1,b=127.0.0.1:2";
    let e = usage_error(&[
        "proxy",
        "--service",
        "s",
        "--endpoints",
        two,
        "--inbound",
        "--admin",
        "127.0.0.1:0",
        "--listen",
        "127.0.0.1:0",
    ])
    .await;
    assert!(e.contains("exactly one"), "{e}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let e = usage_error(&[
        "proxy",
        "--service",
        "s",
        "--endpoints",
        ok,
        "--listen",
        &addr,
        "--admin",
        "127.0.0.1:0",
    ])
    .await;
    assert!(e.contains("in use") && e.contains("--listen"), "{e}");
}

#[test]
fn help_has_examples_and_env_names() {
    let out = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(["proxy", "--help"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Examples:",
        "MESHSIM_PROXY_LISTEN",
        "--endpoints-file",
        "/metrics",
    ] {
        assert!(help.contains(needle), "{needle} missing from {help}");
    }
}

/// The program's listener advertises its profile's HTTP/2 stream limit
/// (before, every profile advertised hyper's 200), or the flag's.
#[tokio::test]
async fn the_listener_advertises_the_profiles_stream_limit_or_the_flags() {
    let a = replica("stockdata-0", Duration::from_millis(1)).await;
    let list = endpoints(&[("stockdata-0", a)]);
    for (extra, want) in [
        (&["--profile", "linkerd"][..], usize::MAX),
        (&["--profile", "istio"][..], 1024),
        (&["--profile", "sidecar:random"][..], 200),
        (
            &["--profile", "linkerd", "--max-concurrent-streams", "7"][..],
            7,
        ),
    ] {
        let mut args = vec!["--endpoints", list.as_str()];
        args.extend_from_slice(extra);
        let proxy = start_proxy(&args);
        let (listen, _) = proxy.ready();
        assert_eq!(advertised(listen).await.0, want, "{extra:?}");
    }
}

/// A peak resident set size, in bytes (`VmHWM` in `/proc/<pid>/status`).
fn vm_hwm(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb * 1024
}

/// An HTTP/2 upstream that reads every request body to its end, discarding
/// it, and answers gRPC OK with how many bytes it read.
async fn draining_upstream() -> SocketAddr {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper::service::service_fn(
                |request: http::Request<hyper::body::Incoming>| async move {
                    let mut body = request.into_body();
                    let mut read = 0usize;
                    while let Some(Ok(frame)) = body.frame().await {
                        read += frame.data_ref().map_or(0, bytes::Bytes::len);
                    }
                    let response = http::Response::builder()
                        .header("content-type", "application/grpc")
                        .header("grpc-status", "0")
                        .header("read-bytes", read.to_string())
                        .body(http_body_util::Empty::<bytes::Bytes>::new())
                        .expect("response");
                    Ok::<_, std::convert::Infallible>(response)
                },
            );
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    addr
}

/// Defect N18: `meshsim proxy` read each request body whole before sending
/// it on (four 100 MB bodies took it from 13 MB to 734 MB of RSS). Bodies
/// past the replay cap now stream: four concurrent 32 MiB bodies raise the
/// proxy's peak RSS by far less than the 128 MiB sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_request_bodies_stream_through_without_growing_the_proxy() {
    const BODY: usize = 32 << 20;
    const CHUNK: usize = 1 << 20;
    let upstream = draining_upstream().await;
    let list = endpoints(&[("stockdata-0", upstream)]);
    let proxy = start_proxy(&["--endpoints", &list, "--profile", "sidecar:round-robin"]);
    let (listen, _admin) = proxy.ready();
    let pid = proxy.child.id();

    let stream = tokio::net::TcpStream::connect(listen)
        .await
        .expect("connect");
    let (sender, conn) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .initial_stream_window_size(16 << 20)
            .initial_connection_window_size(16 << 20)
            .handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let before = vm_hwm(pid);

    let chunk = bytes::Bytes::from(vec![0u8; CHUNK]);
    let sends: Vec<_> = (0..4)
        .map(|_| {
            let mut sender = sender.clone();
            let chunk = chunk.clone();
            tokio::spawn(async move {
                let frames = (0..BODY / CHUNK).map(move |_| {
                    Ok::<_, std::convert::Infallible>(http_body::Frame::data(chunk.clone()))
                });
                let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
                let request = http::Request::post("http://stockdata:50051/stockdata.v1.Stocks/Get")
                    .header("content-type", "application/grpc")
                    .header("te", "trailers")
                    .body(body)
                    .expect("request");
                sender.ready().await.expect("ready");
                let response = sender.send_request(request).await.expect("response");
                assert_eq!(response.status(), 200);
                response
                    .headers()
                    .get("read-bytes")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<usize>().ok())
            })
        })
        .collect();
    for send in sends {
        let read = timeout(Duration::from_secs(20), send)
            .await
            .expect("sent within 20 s")
            .expect("task");
        assert_eq!(read, Some(BODY), "the upstream read the whole body");
    }
    let growth = vm_hwm(pid).saturating_sub(before);
    assert!(
        growth < 64 << 20,
        "peak RSS grew by {} MiB for 4 × {} MiB bodies",
        growth >> 20,
        BODY >> 20
    );
}
