//! `meshsim bench --real`: what meshsim's proxy, nginx, haproxy and Caddy cost.

use crate::{Failure, progress_bar};
use reports::charts::{self, ProxyCostChart};
use sim::backend::real::proxy_cost::{self, PathKind, Point, Timing};
use std::path::Path;
use std::time::Duration;

/// Offered rates, requests per second.
pub const RATES: [f64; 3] = [1_000.0, 5_000.0, 10_000.0];

pub fn run(out: &Path, quick: bool, json: bool) -> Result<(), Failure> {
    for proxy in [
        sim::strategy::PeerProxy::Nginx,
        sim::strategy::PeerProxy::Haproxy,
        sim::strategy::PeerProxy::Caddy,
    ] {
        if !sim::backend::real::peer::installed(proxy) {
            return Err(Failure::Input(anyhow::anyhow!(
                "bench --real compares meshsim's proxy with nginx, haproxy and Caddy; install \
                 them (apt-get install nginx haproxy caddy)"
            )));
        }
    }
    crate::out_dir::prepare(out)?;
    let meshsim = std::env::current_exe().map_err(|e| Failure::Failed(e.into()))?;
    let timing = if quick {
        Timing {
            duration: Duration::from_secs(1),
            warmup: Duration::from_millis(300),
        }
    } else {
        Timing {
            duration: Duration::from_secs(4),
            warmup: Duration::from_secs(1),
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Failed(e.into()))?;
    let progress = progress_bar(
        (PathKind::ALL.len() * (RATES.len() + 1)) as u64,
        "points (real time)",
    );
    let points = runtime
        .block_on(proxy_cost::measure(&meshsim, &RATES, timing, |p| {
            progress.set_message(format!("{} {}", p.path, offered(p)));
            progress.inc(1);
        }))
        .map_err(|e| Failure::Failed(anyhow::anyhow!("bench --real: {e}")))?;
    progress.finish_and_clear();
    let table = table(&points);
    let bytes = serde_json::to_vec_pretty(&points).map_err(|e| Failure::Failed(e.into()))?;
    std::fs::write(out.join("proxy-cost.json"), &bytes).map_err(|e| Failure::Failed(e.into()))?;
    std::fs::write(out.join("proxy-cost.md"), &table).map_err(|e| Failure::Failed(e.into()))?;
    let chart = charts::render(&chart(&points)).map_err(|e| Failure::Failed(e.into()))?;
    std::fs::write(out.join("proxy-cost.svg"), &chart.svg)
        .map_err(|e| Failure::Failed(e.into()))?;
    std::fs::write(out.join("proxy-cost.png"), &chart.png)
        .map_err(|e| Failure::Failed(e.into()))?;
    if json {
        println!("{}", String::from_utf8_lossy(&bytes));
    } else {
        print!("{table}");
    }
    eprintln!(
        "wrote proxy-cost.md, .json, .svg and .png to {}",
        out.display()
    );
    Ok(())
}

fn offered(p: &Point) -> String {
    p.offered
        .map_or_else(|| "saturation".to_string(), |r| format!("{r:.0}/s"))
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// The Markdown table: one row per path and load.
fn table(points: &[Point]) -> String {
    let mut md = String::from(
        "| path | offered | requests/s | failed | p50 ms | p99 ms | added p50 ms | added p99 ms | proxy CPU s | requests per CPU-s | peak RSS MiB |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for p in points {
        md.push_str(&format!(
            "| {} | {} | {:.0} | {} | {:.3} | {:.3} | {} | {} | {} | {} | {} |\n",
            p.path,
            offered(p),
            p.throughput,
            p.failed,
            p.p50_ms,
            p.p99_ms,
            opt(p.added_p50_ms, 3),
            opt(p.added_p99_ms, 3),
            opt(p.proxy_cpu_s, 2),
            opt(p.requests_per_cpu_s, 0),
            opt(p.peak_rss_mib, 1),
        ));
    }
    md.push_str(&format!(
        "\nSaturation: a closed loop of {} calls in flight. One run on this machine; \
         compare figures within it only.\n",
        proxy_cost::SATURATION_USERS
    ));
    md
}

fn chart(points: &[Point]) -> ProxyCostChart {
    let lines = |pick: fn(&Point) -> Option<f64>| {
        PathKind::ALL[1..]
            .iter()
            .map(|k| {
                (
                    k.name().to_string(),
                    points
                        .iter()
                        .filter(|p| p.path == k.name())
                        .filter_map(|p| Some((p.offered?, pick(p)?)))
                        .collect(),
                )
            })
            .collect()
    };
    ProxyCostChart {
        added_p50: lines(|p| p.added_p50_ms),
        added_p99: lines(|p| p.added_p99_ms),
    }
}
