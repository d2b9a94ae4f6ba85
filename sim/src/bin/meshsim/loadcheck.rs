//! `meshsim loadcheck`: loadgen against h2load on one StockData replica.

use crate::Failure;
use clap::Args;
use sim::backend::real::crosscheck::{self, Load, Measured};
use std::time::Duration;
use stockdata::spec::parse_duration;
use stockdata::{ReplicaConfig, ServiceTime, StockDataService};

pub const EXAMPLES: &str = "\
Both generators drive the same in-process StockData replica's Get over one
HTTP/2 connection, with --concurrency requests in flight (a closed loop), for
--duration after --warmup; h2load sends a pre-encoded gRPC message. They
should agree on throughput within 10 % and on the median within 20 % (exit 1
otherwise). Needs h2load (apt-get install nghttp2-client).

Examples:
  meshsim loadcheck
  meshsim loadcheck --concurrency 64 --service-time exponential:2ms --workers 16";

#[derive(Args)]
pub struct LoadcheckArgs {
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    concurrency: u32,
    /// Measured time.
    #[arg(long, default_value = "5s", value_parser = parse_positive_duration)]
    duration: Duration,
    /// Unmeasured time before it.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    warmup: Duration,
    /// The replica's service time (constant:5ms, exponential:2ms, …).
    #[arg(long, default_value = "constant:5ms", value_parser = parse_service_time)]
    service_time: ServiceTime,
    /// The replica's worker slots.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    workers: u32,
}

fn parse_service_time(s: &str) -> Result<ServiceTime, String> {
    s.parse()
}

pub fn loadcheck(args: LoadcheckArgs) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Failed(e.into()))?;
    let (h2, lg) = runtime
        .block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let mut config =
                ReplicaConfig::constant("stockdata-0", Duration::ZERO, args.workers as usize);
            config.service_time = args.service_time;
            let replica = StockDataService::new(config).map_err(std::io::Error::other)?;
            tokio::spawn(stockdata::serve(listener, replica));
            let load = Load {
                concurrency: args.concurrency,
                duration: args.duration,
                warmup: args.warmup,
            };
            let scratch =
                std::env::temp_dir().join(format!("meshsim-loadcheck-{}", std::process::id()));
            std::fs::create_dir_all(&scratch)?;
            let h2 = crosscheck::h2load(addr, load, &scratch).await;
            let _ = std::fs::remove_dir_all(&scratch);
            let lg = crosscheck::loadgen(addr, load).await?;
            Ok::<(Measured, Measured), std::io::Error>((h2?, lg))
        })
        .map_err(|e| Failure::Failed(e.into()))?;
    println!("generator  requests  failed  requests/s  p50 ms  p99 ms");
    for (name, m) in [("h2load", &h2), ("loadgen", &lg)] {
        println!(
            "{name:<9}  {:>8}  {:>6}  {:>10.1}  {:>6.3}  {:>6.3}",
            m.requests, m.failed, m.throughput, m.p50_ms, m.p99_ms
        );
    }
    let throughput = (lg.throughput / h2.throughput - 1.0) * 100.0;
    let p50 = (lg.p50_ms / h2.p50_ms - 1.0) * 100.0;
    println!("loadgen vs h2load: throughput {throughput:+.1} %, p50 {p50:+.1} %");
    if throughput.abs() <= 10.0 && p50.abs() <= 20.0 {
        Ok(())
    } else {
        Err(Failure::Failed(anyhow::anyhow!(
            "loadgen and h2load disagree beyond 10 % (throughput) or 20 % (p50)"
        )))
    }
}

/// A duration above zero: a zero-length measurement has no rate (it
/// divides by zero).
fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("expected a duration above 0, e.g. 5s".into()),
        d => Ok(d),
    }
}
