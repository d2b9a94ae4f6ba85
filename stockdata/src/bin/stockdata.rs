//! `stockdata serve`: one StockData replica on a real socket.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use stockdata::program::{self, DisplayOpt, bind, fail, info, shutdown_signal};
use stockdata::spec::{SERVICE_TIME_FORMS, parse_duration};
use stockdata::transport::h2::StreamLimitArg;
use stockdata::transport::{AnyAuthorityListener, Graceful, ServerH2, serve_http2_graceful};
use stockdata::{ReplicaConfig, ServiceTime, ServiceTimer, StockDataService};

const EXAMPLES: &str = "\
Examples:
  stockdata serve --listen 127.0.0.1:50051 --pod-name stockdata-0
  stockdata serve --listen 127.0.0.1:50052 --pod-name stockdata-1 --service-time exponential:50ms
  STOCKDATA_LISTEN=0.0.0.0:50051 STOCKDATA_POD_NAME=$HOSTNAME stockdata serve

Check it (grpcurl, if installed):
  grpcurl -plaintext -d '{\"id\": 2}' 127.0.0.1:50051 stockdata.v1.Stocks/Get
  grpcurl -plaintext 127.0.0.1:50051 grpc.health.v1.Health/Check

Logs are logfmt lines on stderr. SIGTERM or Ctrl-C stops accepting, ends
health Watch streams with NOT_SERVING, lets in-flight calls finish (up to
--drain-timeout), then exits 0. Bad flags, a malformed address or a port in
use exit 2. Any :authority is accepted (grpcio sends `127.0.0.1:A,127.0.0.1:B`
for a multi-address target; it is served as `127.0.0.1-A-127.0.0.1-B`).";

/// StockData: the seed's NASDAQ-100 gRPC service (stockdata.v1.Stocks/Get),
/// answering with the serving pod's name in the `server-id` header.
#[derive(Parser)]
#[command(name = "stockdata", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve stockdata.v1.Stocks and grpc.health.v1 on --listen.
    #[command(after_help = EXAMPLES)]
    Serve(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (HTTP/2, plaintext gRPC).
    #[arg(
        long,
        env = "STOCKDATA_LISTEN",
        value_name = "ADDR",
        default_value = "0.0.0.0:50051"
    )]
    listen: SocketAddr,
    /// Pod name sent in every response's `server-id` header.
    #[arg(
        long,
        env = "STOCKDATA_POD_NAME",
        value_name = "NAME",
        default_value = "stockdata-0"
    )]
    pod_name: String,
    /// Worker slots; requests beyond this wait FIFO.
    #[arg(long, env = "STOCKDATA_CONCURRENCY", value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    #[arg(long, env = "STOCKDATA_SERVICE_TIME", value_name = "SPEC",
          default_value = "exponential:2ms", value_parser = parse_service_time,
          help = service_time_help())]
    service_time: ServiceTime,
    /// Most requests waiting for a worker slot; one more is refused at once
    /// with UNAVAILABLE (load shedding). Default: unbounded.
    #[arg(long, env = "STOCKDATA_QUEUE_BOUND", value_name = "N")]
    queue_bound: Option<usize>,
    /// Attach an ORCA load report (`endpoint-load-metrics-bin`: worker-slot
    /// utilization, requests and errors per second over the last second)
    /// to every response, for clients that weight by it (gRPC
    /// weighted_round_robin).
    #[arg(long, env = "STOCKDATA_LOAD_REPORTS")]
    load_reports: bool,
    /// Seed of the service-time draws (requests carrying an `x-request-id`
    /// draw from a seed keyed by it instead, the same on every replica).
    #[arg(long, env = "STOCKDATA_SEED", value_name = "N", default_value_t = 1)]
    seed: u64,
    /// On SIGTERM, longest wait for in-flight calls before exiting.
    #[arg(long, env = "STOCKDATA_DRAIN_TIMEOUT", value_name = "DUR", default_value = "30s",
          value_parser = parse_duration)]
    drain_timeout: Duration,
    /// HTTP/2 streams a client may have open on one connection
    /// (SETTINGS_MAX_CONCURRENT_STREAMS): a number or `unlimited`. A client
    /// with more calls in flight queues the rest. Default 200, hyper's
    /// server's; Kestrel uses 100, tonic's Server and grpc-go none.
    #[arg(
        long,
        env = "STOCKDATA_MAX_CONCURRENT_STREAMS",
        value_name = "N|unlimited",
        default_value = "200"
    )]
    max_concurrent_streams: StreamLimitArg,
    /// How service times are slept: `precise` (a shared timer thread:
    /// coarse sleep, then a short spin; within 2 % of the drawn time on
    /// average) or `tokio` (tokio's 1 ms timer wheel: 7–20 % long at 1–5 ms).
    #[arg(
        long,
        env = "STOCKDATA_SERVICE_TIMER",
        value_name = "precise|tokio",
        default_value = "precise"
    )]
    service_timer: ServiceTimer,
}

fn service_time_help() -> String {
    format!(
        "Service time per request once a worker slot is held: {SERVICE_TIME_FORMS} \
         (durations like 250us, 5ms, 1.5s), e.g. constant:5ms or exponential:50ms"
    )
}

fn parse_service_time(s: &str) -> Result<ServiceTime, String> {
    s.parse()
}

fn main() -> ExitCode {
    let Cli {
        command: Command::Serve(args),
    } = program::parse_args::<Cli>();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> ExitCode {
    let replica = match StockDataService::new(ReplicaConfig {
        pod: args.pod_name.clone(),
        service_time: args.service_time,
        concurrency: args.concurrency as usize,
        seed: args.seed,
        demand_seed: 0,
        honor_cancellation: true,
        queue_bound: args.queue_bound,
        slowdown: 1.0,
        load_reports: args.load_reports,
    }) {
        Ok(replica) => replica.with_timer(args.service_timer.clone()),
        Err(e) => return fail(&format!("--pod-name: {e}")),
    };
    let listener = match bind(args.listen, "--listen").await {
        Ok(listener) => listener,
        Err(e) => return fail(&e),
    };
    let local = listener.local_addr().unwrap_or(args.listen);
    info(
        "starting",
        &[
            ("program", &"stockdata"),
            ("listen", &local),
            ("pod_name", &args.pod_name),
            ("concurrency", &args.concurrency),
            ("service_time", &args.service_time),
            ("service_timer", &args.service_timer),
            ("queue_bound", &DisplayOpt(args.queue_bound)),
            ("seed", &args.seed),
            ("max_concurrent_streams", &args.max_concurrent_streams),
            ("drain_timeout", &format!("{:?}", args.drain_timeout)),
        ],
    );
    let (routes, health) = stockdata::routes_with_health(replica).await;
    let options = Graceful {
        drain_timeout: args.drain_timeout,
        on_error: Some(Arc::new(|peer, e| {
            program::warn(
                "connection error",
                &[("peer", &DisplayOpt(peer)), ("error", &e)],
            );
        })),
        h2: ServerH2 {
            max_concurrent_streams: args.max_concurrent_streams.0,
            ..ServerH2::HYPER
        },
    };
    info(
        "ready",
        &[("listen", &local), ("health", &"grpc.health.v1")],
    );
    let shutdown = async {
        let signal = shutdown_signal().await;
        info("shutting down", &[("signal", &signal)]);
        // Health watchers hear NOT_SERVING and do not hold up the drain.
        health.drain();
    };
    let listener = AnyAuthorityListener::new(listener);
    let drained = serve_http2_graceful(listener, routes, shutdown, options).await;
    info(
        "stopped",
        &[
            ("connections", &drained.open),
            ("aborted", &drained.aborted),
        ],
    );
    ExitCode::SUCCESS
}
