//! Request paths measured in wall-clock throughput, each in its own small
//! simulation: raw turmoil TCP, tonic unary over one hop, and the full
//! meshed path (client → outbound sidecar → inbound sidecar → server).

use super::{Throughput, WallClock};
use crate::backend::sim::net::{SimConnect, SimListener};
use crate::control::ControlPlane;
use crate::proxy::{Outbound, SidecarConfig, serve_outbound};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, UNIX_EPOCH};
use stockdata::pb::GetRequest;
use stockdata::pb::stocks_client::StocksClient;
use stockdata::transport::connector_to;
use stockdata::{ReplicaConfig, ServiceTime, StockDataService};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes per raw TCP request and response.
pub const RAW_MESSAGE_BYTES: usize = 64;
/// StockData's port.
pub const SERVER_PORT: u16 = 50051;
/// Outbound sidecar port (Linkerd's outbound default).
pub const OUTBOUND_PORT: u16 = 4140;
/// Inbound sidecar port (Linkerd's inbound default).
pub const INBOUND_PORT: u16 = 4143;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// A turmoil simulation set up as the runner does: seeded, pinned epoch,
/// 1 ms ticks and a fixed 1 ms link latency.
pub fn sim<'a>(seed: u64) -> turmoil::Sim<'a> {
    turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(UNIX_EPOCH)
        .tick_duration(Duration::from_millis(1))
        .simulation_duration(Duration::from_secs(24 * 3600))
        .tcp_capacity(crate::backend::sim::TCP_CAPACITY)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .build()
}

/// `0.0.0.0:port`, where a pod listens.
pub(crate) fn any(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)
}

/// `127.0.0.1:port`, how a sidecar reaches its own pod.
pub(crate) fn local(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

/// An inbound sidecar for `pod`: the same L7 proxy with the pod on
/// `127.0.0.1:pod_port` as its only endpoint (as Linkerd's inbound proxy
/// terminates and re-originates HTTP/2).
pub(crate) fn inbound_sidecar(pod: &str, pod_port: u16, seed: u64) -> Outbound<SimConnect> {
    let cluster = ControlPlane::new();
    cluster.add_endpoint("stockdata", pod, local(pod_port));
    cluster.set_ready(pod, true);
    Outbound::new(
        cluster,
        SimConnect,
        sidecar_config(),
        seed,
        Default::default(),
    )
}

/// Requests [`drive`] completes for `requests` at `concurrency`: the same
/// whole number per task.
pub(crate) fn driven(requests: u64, concurrency: u64) -> u64 {
    requests / concurrency.max(1) * concurrency.max(1)
}

/// Runs `sim` to the end and reports `ops` against its wall and simulated
/// time.
pub(crate) fn timed(mut sim: turmoil::Sim<'_>, name: &str, ops: u64) -> BenchResult<Throughput> {
    let clock = WallClock::start();
    sim.run()?;
    Ok(Throughput::new(name, ops, clock.elapsed(), sim.elapsed()))
}

/// A StockData replica with zero service time (the path's own cost is what
/// is measured) and room for every concurrent request.
pub fn replica(pod: &str) -> BenchResult<StockDataService> {
    Ok(StockDataService::new(ReplicaConfig {
        pod: pod.into(),
        service_time: ServiceTime::Constant(Duration::ZERO),
        concurrency: 1 << 16,
        seed: 1,
        demand_seed: 0,
        honor_cancellation: true,
        queue_bound: None,
        slowdown: 1.0,
        load_reports: false,
    })?)
}

/// A plain round-robin sidecar configuration.
pub fn sidecar_config() -> SidecarConfig {
    SidecarConfig::round_robin()
}

/// Raw turmoil TCP: `connections` connections, each doing request/response
/// round trips of [`RAW_MESSAGE_BYTES`], `round_trips` in all.
pub fn raw_tcp(round_trips: u64, connections: u64) -> BenchResult<Throughput> {
    let mut sim = sim(1);
    sim.host("server", || async {
        let listener = turmoil::net::TcpListener::bind(any(9000)).await?;
        loop {
            let (mut stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let mut buf = [0u8; RAW_MESSAGE_BYTES];
                while stream.read_exact(&mut buf).await.is_ok() {
                    if stream.write_all(&buf).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let per_conn = round_trips / connections.max(1);
    sim.client("client", async move {
        let server = turmoil::lookup("server");
        let mut tasks = Vec::new();
        for _ in 0..connections {
            tasks.push(tokio::spawn(async move {
                let mut stream = turmoil::net::TcpStream::connect((server, 9000)).await?;
                let mut buf = [7u8; RAW_MESSAGE_BYTES];
                for _ in 0..per_conn {
                    stream.write_all(&buf).await?;
                    stream.read_exact(&mut buf).await?;
                }
                Ok::<_, std::io::Error>(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        Ok(())
    });
    timed(sim, "raw turmoil TCP round trips", per_conn * connections)
}

/// Sends `requests` unary `Get`s, `concurrency` at a time, on one tonic
/// channel to `target` (authority `stockdata`).
pub(crate) async fn drive(target: SocketAddr, requests: u64, concurrency: u64) -> BenchResult<()> {
    let channel = tonic::transport::Endpoint::from_static("http://stockdata:50051")
        .connect_with_connector(connector_to(SimConnect, target))
        .await?;
    let per_task = requests / concurrency.max(1);
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let mut client = StocksClient::new(channel.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                let id = ((t + i) % 100 + 2) as i32;
                client.get(GetRequest { id }).await?;
            }
            Ok::<_, tonic::Status>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// tonic unary over one turmoil hop: client host → StockData host.
pub fn grpc_direct(requests: u64, concurrency: u64) -> BenchResult<Throughput> {
    let mut sim = sim(2);
    sim.host("server", || async {
        let listener = SimListener::bind(any(SERVER_PORT)).await?;
        let replica = replica("stockdata-0").map_err(|e| e.to_string())?;
        stockdata::serve(listener, replica).await?;
        Ok(())
    });
    sim.client("client", async move {
        let server = turmoil::lookup("server");
        drive(SocketAddr::new(server, SERVER_PORT), requests, concurrency)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    });
    timed(sim, "tonic unary, one hop", driven(requests, concurrency))
}

/// The meshed path: the client's requests go to its outbound sidecar over
/// 127.0.0.1, across the network to the server node's inbound sidecar
/// ([`inbound_sidecar`]), and over 127.0.0.1 to StockData.
pub fn grpc_meshed(requests: u64, concurrency: u64) -> BenchResult<Throughput> {
    let mut sim = sim(3);
    sim.host("server", || async {
        let listener = SimListener::bind(any(SERVER_PORT)).await?;
        let replica = replica("stockdata-0").map_err(|e| e.to_string())?;
        tokio::spawn(stockdata::serve(listener, replica));
        let inbound = inbound_sidecar("stockdata-0", SERVER_PORT, 11);
        serve_outbound(SimListener::bind(any(INBOUND_PORT)).await?, inbound).await?;
        Ok(())
    });
    sim.client("client", async move {
        let server = turmoil::lookup("server");
        let cluster = ControlPlane::new();
        cluster.add_endpoint(
            "stockdata",
            "stockdata-0",
            SocketAddr::new(server, INBOUND_PORT),
        );
        cluster.set_ready("stockdata-0", true);
        let outbound = Outbound::new(
            cluster,
            SimConnect,
            sidecar_config(),
            12,
            Default::default(),
        );
        let listener = SimListener::bind(any(OUTBOUND_PORT)).await?;
        tokio::spawn(serve_outbound(listener, outbound));
        drive(local(OUTBOUND_PORT), requests, concurrency)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    });
    timed(
        sim,
        "meshed: client → outbound → inbound → server",
        driven(requests, concurrency),
    )
}

/// The floor under any L7 sidecar pair: the meshed topology with each
/// sidecar replaced by a bare hyper forwarder (one upstream HTTP/2
/// connection, bodies streamed, no balancing, retries, buffering or
/// metrics). It shows how much of the meshed path's cost is HTTP/2 itself.
pub fn grpc_bare_forwarders(requests: u64, concurrency: u64) -> BenchResult<Throughput> {
    let mut sim = sim(5);
    sim.host("server", || async {
        let listener = SimListener::bind(any(SERVER_PORT)).await?;
        let replica = replica("stockdata-0").map_err(|e| e.to_string())?;
        tokio::spawn(stockdata::serve(listener, replica));
        forward(any(INBOUND_PORT), local(SERVER_PORT)).await?;
        Ok(())
    });
    sim.client("client", async move {
        let server = turmoil::lookup("server");
        tokio::spawn(forward(
            any(OUTBOUND_PORT),
            SocketAddr::new(server, INBOUND_PORT),
        ));
        drive(local(OUTBOUND_PORT), requests, concurrency)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    });
    timed(
        sim,
        "floor: same path, bare hyper forwarders",
        driven(requests, concurrency),
    )
}

/// Accepts HTTP/2 on `listen` and forwards every request, streaming, on
/// one HTTP/2 connection to `upstream`, opened on the first request (the
/// upstream may start listening later in the same tick).
async fn forward(listen: SocketAddr, upstream: SocketAddr) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use std::sync::Arc;
    use stockdata::transport::{Connect, Listener};
    let mut listener = SimListener::bind(listen).await?;
    let sender = Arc::new(tokio::sync::OnceCell::new());
    loop {
        let (stream, _) = listener.accept().await?;
        let sender = sender.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let sender = sender.clone();
                    async move {
                        let send = sender
                            .get_or_try_init(|| async {
                                let io = SimConnect.connect(upstream).await?;
                                let (send, conn) =
                                    hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                                        .timer(TokioTimer::new())
                                        .handshake(TokioIo::new(io))
                                        .await
                                        .map_err(std::io::Error::other)?;
                                tokio::spawn(conn);
                                Ok::<_, std::io::Error>(send)
                            })
                            .await?;
                        let mut send = send.clone();
                        send.ready().await.map_err(std::io::Error::other)?;
                        send.send_request(req).await.map_err(std::io::Error::other)
                    }
                });
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .auto_date_header(false)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
