//! `meshsim proxy`: the sidecar data plane on real sockets.
//!
//! The same [`sim::proxy::Outbound`] the simulator runs, on tokio sockets:
//! endpoints come from flags or a file instead of the simulated control
//! plane, and an admin port serves `/metrics` (Prometheus text) and `/ready`.

use crate::proxy_admin::{self, AdminState};
use crate::proxy_endpoints::{self as endpoints, Entry};
use clap::{ArgGroup, Args};
use sim::Strategy;
use sim::control::ControlPlane;
use sim::proxy::metrics::ProxyMetrics;
use sim::proxy::{Outbound, SidecarConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stockdata::program::{self, DisplayOpt, bind, fail, info, shutdown_signal};
use stockdata::spec::parse_duration;
use stockdata::transport::h2::StreamLimitArg;
use stockdata::transport::{Drained, Graceful, ServerH2, TokioConnect, serve_http2_graceful};

pub const EXAMPLES: &str = "\
Examples:
  # An outbound sidecar for StockWeb, balancing each request over two replicas.
  meshsim proxy --listen 127.0.0.1:4140 --service stockdata \\
      --endpoints stockdata-0=127.0.0.1:50051,stockdata-1=127.0.0.1:50052 \\
      --profile sidecar:round-robin --admin 127.0.0.1:4191
  stockweb serve --stockdata http://stockdata:50051 --sidecar 127.0.0.1:4140

  # Linkerd's defaults, endpoints from a file re-read when it changes.
  meshsim proxy --service stockdata --endpoints-file endpoints.txt --profile linkerd+retry

  # The server-side (inbound) sidecar in front of one local replica.
  meshsim proxy --inbound --listen 0.0.0.0:4143 --service stockdata \\
      --endpoints stockdata-0=127.0.0.1:50051 --admin 127.0.0.1:4192

  curl -s 127.0.0.1:4191/metrics      Prometheus text: meshsim_proxy_requests_total{endpoint,code}, ...
  curl -s 127.0.0.1:4191/ready        200 once listening with at least one endpoint

Requests are routed by :authority: `stockdata:50051` or `stockdata.ns.svc` reach
--service stockdata. Logs are logfmt lines on stderr. SIGTERM or Ctrl-C stops
accepting, lets in-flight requests finish (up to --drain-timeout), then exits 0.
Bad flags, a malformed address or a port in use exit 2. An endpoint that cannot
be reached answers the caller UNAVAILABLE.";

#[derive(Args)]
#[command(group(ArgGroup::new("source").required(true).args(["endpoints", "endpoints_file"])))]
pub struct ProxyArgs {
    /// Address the application (or, with --inbound, the peer proxies)
    /// connects to (HTTP/2, plaintext gRPC).
    #[arg(
        long,
        env = "MESHSIM_PROXY_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:4140"
    )]
    listen: SocketAddr,
    /// The service the endpoints back, matched against each request's
    /// :authority host (up to its first dot).
    #[arg(long, env = "MESHSIM_PROXY_SERVICE", value_name = "NAME")]
    service: String,
    /// The service's endpoints: POD=IP:PORT, comma-separated.
    #[arg(long, env = "MESHSIM_PROXY_ENDPOINTS", value_name = "LIST", value_parser = parse_list)]
    endpoints: Option<EndpointList>,
    /// A file of endpoints (POD=IP:PORT per line, `#` comments), re-read
    /// when it changes.
    #[arg(
        long,
        env = "MESHSIM_PROXY_ENDPOINTS_FILE",
        value_name = "FILE",
        conflicts_with = "inbound"
    )]
    endpoints_file: Option<PathBuf>,
    /// How often --endpoints-file is checked for changes.
    #[arg(long, env = "MESHSIM_PROXY_ENDPOINTS_POLL", value_name = "DUR", default_value = "1s",
          value_parser = parse_duration)]
    endpoints_poll: Duration,
    /// linkerd, istio, consul, or sidecar:<policy> (round-robin, random,
    /// least-request, peak-ewma, weighted), with optional +retry,
    /// +profile-retry, +route-retry, +budget, +accrual, +outlier: the same
    /// names as `meshsim run --strategies`.
    #[arg(long, env = "MESHSIM_PROXY_PROFILE", value_name = "PROFILE", default_value = "linkerd",
          value_parser = parse_profile)]
    profile: Profile,
    /// Run as the server-side sidecar: exactly one (local) endpoint.
    #[arg(long, env = "MESHSIM_PROXY_INBOUND")]
    inbound: bool,
    /// Worker threads (1-1024); 1 runs everything on one thread, without
    /// cross-thread wake-ups. Default: this machine's cores, as
    /// linkerd2-proxy sizes its runtime (`linkerd2-proxy/src/rt.rs`:
    /// `LINKERD2_PROXY_CORES`, else the host's or cgroup's CPUs; one core
    /// gets the single-threaded runtime).
    #[arg(long, env = "MESHSIM_PROXY_THREADS", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    /// Admin address: GET /metrics (Prometheus text) and /ready.
    #[arg(
        long,
        env = "MESHSIM_PROXY_ADMIN",
        value_name = "ADDR",
        default_value = "127.0.0.1:4191"
    )]
    admin: SocketAddr,
    /// Seed of the proxy's random choices (balancer, jitter).
    #[arg(
        long,
        env = "MESHSIM_PROXY_SEED",
        value_name = "N",
        default_value_t = 1
    )]
    seed: u64,
    /// On SIGTERM, longest wait for in-flight requests before exiting.
    #[arg(long, env = "MESHSIM_PROXY_DRAIN_TIMEOUT", value_name = "DUR", default_value = "30s",
          value_parser = parse_duration)]
    drain_timeout: Duration,
    /// HTTP/2 streams the listener allows per connection (a number or
    /// `unlimited`). Default: the profile's (linkerd unlimited, istio 1024,
    /// consul 2147483647, sidecar:* 200).
    #[arg(
        long,
        env = "MESHSIM_PROXY_MAX_CONCURRENT_STREAMS",
        value_name = "N|unlimited"
    )]
    max_concurrent_streams: Option<StreamLimitArg>,
    /// HTTP/2 streams the endpoints allow per connection (what they
    /// advertise): requests beyond it wait, and the wait is timed.
    #[arg(
        long,
        env = "MESHSIM_PROXY_ENDPOINT_MAX_CONCURRENT_STREAMS",
        value_name = "N|unlimited",
        default_value = "200"
    )]
    endpoint_max_concurrent_streams: StreamLimitArg,
}

/// `--endpoints`, parsed (a newtype: clap would take a `Vec` as many values).
#[derive(Clone)]
pub struct EndpointList(Vec<Entry>);

fn parse_list(s: &str) -> Result<EndpointList, String> {
    endpoints::parse(s).map(EndpointList)
}

/// A profile name and the configuration it stands for.
#[derive(Clone)]
pub struct Profile {
    name: String,
    config: SidecarConfig,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    let strategy = s.parse::<Strategy>()?;
    match strategy {
        Strategy::Sidecar(spec) => Ok(Profile {
            name: strategy.to_string(),
            config: spec.config(Default::default()),
        }),
        Strategy::Peer(_) => Err(format!(
            "`{strategy}` is a real {} process that `meshsim run --real` starts in the \
             sidecar's place, not a profile of meshsim's proxy; expected linkerd, istio, consul \
             or sidecar:<policy>[+features]",
            s.split(':').next().unwrap_or(s)
        )),
        other => Err(format!(
            "`{other}` is a client strategy (no proxy), not a proxy profile; expected linkerd, \
             istio, consul or sidecar:<policy>[+features]"
        )),
    }
}

/// A command-line error: for `meshsim proxy`, one line and exit 2 (as the
/// other real programs); other subcommands keep clap's usual report.
pub fn usage_error(e: clap::Error) -> ! {
    let is_proxy = std::env::args().nth(1).as_deref() == Some("proxy");
    if !is_proxy || !e.use_stderr() {
        e.exit()
    }
    fail(&format!(
        "{} (see meshsim proxy --help)",
        program::usage_line(&e)
    ));
    std::process::exit(i32::from(program::USAGE_EXIT))
}

pub fn proxy(args: ProxyArgs) -> ExitCode {
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    );
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(run(args)),
        Err(e) => fail(&format!("cannot start the runtime: {e}")),
    }
}

async fn run(args: ProxyArgs) -> ExitCode {
    let (initial, file_text) = match initial_endpoints(&args) {
        Ok(found) => found,
        Err(e) => return fail(&e),
    };
    if args.inbound && initial.len() != 1 {
        return fail("--inbound takes exactly one endpoint (the local application)");
    }
    let admin = match bind(args.admin, "--admin").await {
        Ok(listener) => listener,
        Err(e) => return fail(&e),
    };
    let listener = match bind(args.listen, "--listen").await {
        Ok(listener) => listener,
        Err(e) => return fail(&e),
    };
    let local = listener.local_addr().unwrap_or(args.listen);
    let admin_local = admin.local_addr().unwrap_or(args.admin);
    log_start(&args, local, admin_local, &initial);

    let cluster = ControlPlane::new();
    endpoints::apply(&cluster, &args.service, &initial);
    if let (Some(path), Some(text)) = (args.endpoints_file.clone(), file_text) {
        let watch = endpoints::watch_file(
            cluster.clone(),
            args.service.clone(),
            path,
            text,
            args.endpoints_poll,
        );
        tokio::spawn(watch);
    }
    let metrics = Arc::new(Mutex::new(ProxyMetrics::default()));
    let config = sidecar_config(&args);
    let listener_h2 = config.h2.listener;
    let outbound = Outbound::new(
        cluster.clone(),
        TokioConnect,
        config,
        args.seed,
        metrics.clone(),
    );
    // Resolve the one service now: eager endpoints connect before the
    // first call, not at it.
    outbound.warm(&args.service);

    let serving = Arc::new(AtomicBool::new(true));
    let admin = proxy_admin::serve(
        admin,
        AdminState {
            cluster,
            service: args.service.clone(),
            serving: serving.clone(),
            metrics,
        },
    );
    info("ready", &[("listen", &local), ("admin", &admin_local)]);
    let drained = serve(
        listener,
        outbound,
        &serving,
        args.drain_timeout,
        listener_h2,
    )
    .await;
    admin.stop().await;
    info(
        "stopped",
        &[
            ("connections", &drained.open),
            ("aborted", &drained.aborted),
        ],
    );
    ExitCode::SUCCESS
}

/// The endpoints to start with, and the text of `--endpoints-file` when
/// they come from it (to watch it for changes).
fn initial_endpoints(args: &ProxyArgs) -> Result<(Vec<Entry>, Option<String>), String> {
    match (&args.endpoints, &args.endpoints_file) {
        (Some(list), _) => Ok((list.0.clone(), None)),
        (None, Some(path)) => {
            let (text, entries) = endpoints::read(path)?;
            Ok((entries, Some(text)))
        }
        (None, None) => Err("give --endpoints or --endpoints-file".to_string()),
    }
}

/// The `starting` log line: every setting the proxy runs with.
fn log_start(args: &ProxyArgs, local: SocketAddr, admin_local: SocketAddr, initial: &[Entry]) {
    info(
        "starting",
        &[
            ("program", &"meshsim proxy"),
            ("mode", &if args.inbound { "inbound" } else { "outbound" }),
            ("listen", &local),
            ("admin", &admin_local),
            ("service", &args.service),
            ("profile", &args.profile.name),
            ("endpoints", &endpoints::describe(initial)),
            (
                "endpoints_file",
                &DisplayOpt(args.endpoints_file.as_ref().map(|p| p.display())),
            ),
            ("seed", &args.seed),
            ("drain_timeout", &format!("{:?}", args.drain_timeout)),
            (
                "max_concurrent_streams",
                &args
                    .max_concurrent_streams
                    .map_or_else(|| "profile".to_string(), |l| l.to_string()),
            ),
        ],
    );
}

/// The profile's sidecar configuration with the flags that override it.
fn sidecar_config(args: &ProxyArgs) -> SidecarConfig {
    // The mesh's inbound stack (no retries or balancing choice; Linkerd's
    // 1 s fail-fast and 100 ms connect timeout) is the simulator's.
    let mut config = if args.inbound {
        args.profile.config.inbound()
    } else {
        args.profile.config.clone()
    };
    if let Some(limit) = args.max_concurrent_streams {
        config.h2.listener.max_concurrent_streams = limit.0;
    }
    config.h2.endpoint_max_concurrent_streams = args.endpoint_max_concurrent_streams.0;
    config
}

/// Serves `outbound` on `listener` until SIGTERM or Ctrl-C (clearing
/// `serving` then), then drains for up to `drain_timeout`.
async fn serve(
    listener: tokio::net::TcpListener,
    outbound: Outbound<TokioConnect>,
    serving: &AtomicBool,
    drain_timeout: Duration,
    h2: ServerH2,
) -> Drained {
    let shutdown = async {
        let signal = shutdown_signal().await;
        serving.store(false, Ordering::Relaxed);
        info("shutting down", &[("signal", &signal)]);
    };
    let options = Graceful {
        drain_timeout,
        on_error: Some(Arc::new(|peer, e| {
            program::warn(
                "connection error",
                &[("peer", &DisplayOpt(peer)), ("error", &e)],
            );
        })),
        h2,
    };
    // Any `:authority` a gRPC client sends, as a gRPC proxy must take.
    let listener = stockdata::transport::AnyAuthorityListener::new(listener);
    serve_http2_graceful(listener, outbound, shutdown, options).await
}
