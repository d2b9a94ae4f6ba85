//! `stockweb serve`: the StockWeb page on a real socket.

use axum::routing::get;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use stockdata::program::{self, DisplayOpt, bind, fail, info, shutdown_signal};
use stockdata::spec::parse_duration;
use stockdata::transport::h2::StreamLimitArg;
use stockdata::transport::{
    ConnectTimeout, Graceful, TokioConnect, TokioResolve, serve_http1_graceful,
};
use stockweb::{ClientConfig, ClientHttp2, StockClient, StockWeb, Upstream};

const EXAMPLES: &str = "\
Examples:
  # The seed's behaviour: resolve once, one cached HTTP/2 connection, so all
  # 100 calls of a page land on one replica.
  stockweb serve --listen 127.0.0.1:8080 --stockdata http://127.0.0.1:50051

  # Through a local sidecar (meshsim proxy): the connection goes to the
  # sidecar, each request names the service (:authority stockdata:50051).
  stockweb serve --listen 127.0.0.1:8081 --stockdata http://stockdata:50051 \\
      --sidecar 127.0.0.1:4140

  # gRPC client-side round robin over every address the name resolves to.
  stockweb serve --stockdata http://stockdata.default.svc:50051 --client round-robin

  # Pin until error: one address at a time, the next after a server error.
  stockweb serve --stockdata http://stockdata.default.svc:50051 --client pin-until-error

  STOCKWEB_LISTEN=0.0.0.0:8080 STOCKWEB_STOCKDATA=http://stockdata:50051 stockweb serve

Then open http://127.0.0.1:8080/ (the NASDAQ 100 page), /api/stocks (JSON with
every call's outcome), /api/stock/2, /healthz.

Logs are logfmt lines on stderr. SIGTERM or Ctrl-C stops accepting, lets
in-flight page loads finish (up to --drain-timeout), then exits 0. Bad flags,
a malformed address or a port in use exit 2.";

/// StockWeb: the seed's web app. Each page load makes 100 concurrent
/// StockData calls through ONE gRPC client.
#[derive(Parser)]
#[command(name = "stockweb", version, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the page (/, /api/stocks, /api/stock/{id}, /healthz) on --listen.
    #[command(after_help = EXAMPLES)]
    Serve(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (HTTP/1.1).
    #[arg(
        long,
        env = "STOCKWEB_LISTEN",
        value_name = "ADDR",
        default_value = "0.0.0.0:8080"
    )]
    listen: SocketAddr,
    /// StockData's URL, http://HOST:PORT. HOST is resolved with the
    /// system resolver (without --sidecar) and is the :authority of every
    /// call.
    #[arg(long, env = "STOCKWEB_STOCKDATA", value_name = "URL",
          default_value = "http://stockdata:50051", value_parser = parse_target)]
    stockdata: Target,
    /// Send every call through the local sidecar listening here (the
    /// connection goes to ADDR; requests still name HOST:PORT).
    #[arg(long, env = "STOCKWEB_SIDECAR", value_name = "ADDR")]
    sidecar: Option<SocketAddr>,
    /// How the client picks addresses (without --sidecar).
    #[arg(long, env = "STOCKWEB_CLIENT", value_enum, default_value_t = ClientKind::CachedDns)]
    client: ClientKind,
    /// Re-resolve and reconnect once the cached client is this old
    /// (HttpClientFactory's handler lifetime; round robin: the minimum gap
    /// between re-resolutions, which happen only after a connection failure,
    /// default 30s as grpc-go's). Default: never (the seed's behaviour).
    #[arg(long, env = "STOCKWEB_HANDLER_LIFETIME", value_name = "DUR", value_parser = parse_duration)]
    handler_lifetime: Option<Duration>,
    /// Pod name shown on the page.
    #[arg(
        long,
        env = "STOCKWEB_POD_NAME",
        value_name = "NAME",
        default_value = "stockweb-0"
    )]
    pod_name: String,
    /// Give up a connection attempt to StockData (or the sidecar) after
    /// this long: the calls fail with UNAVAILABLE instead of hanging.
    #[arg(long, env = "STOCKWEB_CONNECT_TIMEOUT", value_name = "DUR", default_value = "1s",
          value_parser = parse_duration)]
    connect_timeout: Duration,
    /// On SIGTERM, longest wait for in-flight page loads before exiting.
    #[arg(long, env = "STOCKWEB_DRAIN_TIMEOUT", value_name = "DUR", default_value = "30s",
          value_parser = parse_duration)]
    drain_timeout: Duration,
    /// HTTP/2 streams the peer (StockData, or the sidecar) allows per
    /// connection, a number or `unlimited`: calls beyond it wait for a
    /// stream, and each call's wait is on the page (`stream_wait_us`).
    /// Default 200, hyper's server's (StockData's, meshsim's sidecar:*).
    #[arg(
        long,
        env = "STOCKWEB_PEER_MAX_CONCURRENT_STREAMS",
        value_name = "N|unlimited",
        default_value = "200"
    )]
    peer_max_concurrent_streams: StreamLimitArg,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ClientKind {
    /// Resolve once, connect to the first answer, keep the connection.
    CachedDns,
    /// One connection per resolved address; calls rotate over them.
    RoundRobin,
    /// One address at a time, moving to the next after a server error or
    /// a broken connection (Palantir dialogue's PIN_UNTIL_ERROR).
    PinUntilError,
}

/// `http://HOST:PORT`, split.
#[derive(Clone, Debug)]
struct Target {
    host: String,
    port: u16,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}:{}", self.host, self.port)
    }
}

fn parse_target(s: &str) -> Result<Target, String> {
    let uri: http::Uri = s
        .parse()
        .map_err(|e| format!("`{s}` is not a URL ({e}); expected http://HOST:PORT"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("`{s}`: only http:// (plaintext gRPC) is supported"));
    }
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("`{s}` names no host; expected http://HOST:PORT"))?;
    if uri.path() != "/" && !uri.path().is_empty() {
        return Err(format!(
            "`{s}`: a path is not allowed; expected http://HOST:PORT"
        ));
    }
    Ok(Target {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port: uri.port_u16().unwrap_or(80),
    })
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

fn outbound(args: &ServeArgs) -> Upstream {
    let (service, port) = (args.stockdata.host.clone(), args.stockdata.port);
    match (args.sidecar, args.client) {
        (Some(proxy), _) => Upstream::Sidecar {
            service,
            port,
            proxy,
        },
        (None, ClientKind::CachedDns) => Upstream::Direct { service, port },
        (None, ClientKind::RoundRobin) => Upstream::ClientRoundRobin {
            service,
            port,
            min_interval: args.handler_lifetime.unwrap_or(Duration::from_secs(30)),
        },
        (None, ClientKind::PinUntilError) => Upstream::PinUntilError {
            service,
            port,
            // Each process its own order, as dialogue shuffles per client.
            seed: u64::from(std::process::id()),
        },
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    let listener = match bind(args.listen, "--listen").await {
        Ok(listener) => listener,
        Err(e) => return fail(&e),
    };
    let local = listener.local_addr().unwrap_or(args.listen);
    let outbound = outbound(&args);
    let mode = match &outbound {
        Upstream::Direct { .. } => "cached-dns",
        Upstream::ClientRoundRobin { .. } => "client-round-robin",
        Upstream::PinUntilError { .. } => "pin-until-error",
        Upstream::Sidecar { .. } => "sidecar",
    };
    info(
        "starting",
        &[
            ("program", &"stockweb"),
            ("listen", &local),
            ("stockdata", &args.stockdata),
            ("client", &mode),
            ("sidecar", &DisplayOpt(args.sidecar)),
            ("pod_name", &args.pod_name),
            ("connect_timeout", &format!("{:?}", args.connect_timeout)),
            ("drain_timeout", &format!("{:?}", args.drain_timeout)),
            (
                "peer_max_concurrent_streams",
                &args.peer_max_concurrent_streams,
            ),
        ],
    );
    let client = StockClient::new(
        ClientConfig {
            upstream: outbound,
            handler_lifetime: args.handler_lifetime,
            http2: ClientHttp2 {
                peer_max_concurrent_streams: args.peer_max_concurrent_streams.0,
                ..ClientHttp2::default()
            },
        },
        ConnectTimeout::new(TokioConnect, args.connect_timeout),
        TokioResolve,
    );
    let app = Arc::new(StockWeb::new(args.pod_name.clone(), client));
    let routes = stockweb::router(app)
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/ready", get(|| async { "ok\n" }));
    let options = Graceful {
        drain_timeout: args.drain_timeout,
        on_error: Some(Arc::new(|peer, e| {
            program::warn(
                "connection error",
                &[("peer", &DisplayOpt(peer)), ("error", &e)],
            );
        })),
        ..Graceful::default()
    };
    info("ready", &[("listen", &local), ("health", &"/healthz")]);
    let shutdown = async {
        let signal = shutdown_signal().await;
        info("shutting down", &[("signal", &signal)]);
    };
    let drained = serve_http1_graceful(listener, routes, shutdown, options).await;
    info(
        "stopped",
        &[
            ("connections", &drained.open),
            ("aborted", &drained.aborted),
        ],
    );
    ExitCode::SUCCESS
}
