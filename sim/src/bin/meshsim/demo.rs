//! `meshsim demo --real`: the seed's demo on this machine, for a browser.

use crate::Failure;
use anyhow::anyhow;
use clap::Args;
use sim::backend::real::demo::{self, DemoConfig};
use std::net::IpAddr;
use std::time::Duration;
use stockdata::spec::parse_duration;

pub const EXAMPLES: &str = "\
Starts two StockData replicas, StockWeb with a cached-DNS client (the seed's
HttpClient), and the same StockWeb behind a round-robin sidecar, then prints
both pages' URLs. Open them: the first page's Server column shows one replica
100 times, the second shows both. Ctrl-C (or SIGTERM) stops it.

Examples:
  meshsim demo --real
  meshsim demo --real --web-port 9000 --replicas 3
  meshsim demo --real --for 30s          Stop by itself after 30 s";

#[derive(Args)]
pub struct DemoArgs {
    /// Run on this machine's sockets (the only mode; the simulated demo is
    /// `meshsim run`).
    #[arg(long)]
    real: bool,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "MESHSIM_DEMO_IP")]
    ip: IpAddr,
    /// The cached-DNS page's port, 0 to 65534; the sidecar page takes the
    /// next (0: any free ports).
    #[arg(long, default_value_t = 8080, env = "MESHSIM_DEMO_PORT",
          value_parser = clap::value_parser!(u16).range(0..=65534))]
    web_port: u16,
    /// StockData replicas (1 to 16).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=16))]
    replicas: u32,
    /// Stop after this long (e.g. 30s, 5m); default: until Ctrl-C or SIGTERM.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    run_for: Option<Duration>,
}

pub fn demo(args: DemoArgs) -> Result<(), Failure> {
    if !args.real {
        return Err(Failure::Input(anyhow!(
            "`meshsim demo` needs --real (the simulated demo is `meshsim run`)"
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Failed(e.into()))?;
    runtime.block_on(async {
        let config = DemoConfig {
            ip: args.ip,
            web_port: args.web_port,
            replicas: args.replicas,
            ..DemoConfig::default()
        };
        let running = demo::start(&config)
            .await
            .map_err(|e| Failure::Input(anyhow!("{e}")))?;
        println!("cached-dns: http://{}/", running.cached_dns);
        println!("sidecar:    http://{}/", running.sidecar);
        eprintln!("serving the demo; Ctrl-C or SIGTERM stops it");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Failure::Failed(e.into()))?;
        let stop_after = async {
            match args.run_for {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            () = stop_after => {}
        }
        eprintln!("demo stopped");
        Ok(())
    })
}
