//! What a proxy costs, side by side: meshsim's own proxy (`meshsim proxy`,
//! as a separate process), nginx, haproxy and Caddy, each alone between a client
//! and one StockData replica on loopback, against the direct path.
//!
//! For each path and each offered rate (an open loop of Poisson `Get`s
//! through one HTTP/2 connection, corrected for coordinated omission), and
//! at saturation (a closed loop of [`SATURATION_USERS`] calls in flight):
//! throughput, p50 and p99 and what the proxy adds to them over the direct
//! path at the same rate, the proxy's CPU time (user + system of its
//! process group, from `/proc/<pid>/stat`), requests per CPU-second, and
//! its peak resident memory (`VmHWM` of its processes). Every figure of a
//! table comes from the same run; on a shared 2-core machine compare them
//! within one run only.

use super::peer::{self, Group, RemoveOnDrop};
use crate::strategy::{PeerPolicy, PeerProxy, PeerSpec};
use loadgen::{Issue, Summary, Think, Workload};
use serde::Serialize;
use std::io;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use stockdata::{ReplicaConfig, StockDataService};
use tokio::process::Child;

/// Calls in flight in the saturation run.
pub const SATURATION_USERS: u32 = 64;

/// A path requests take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PathKind {
    /// Client straight to the replica.
    Direct,
    /// Through `meshsim proxy --profile sidecar:round-robin`.
    Meshsim,
    /// Through nginx (`grpc_pass`, keepalive).
    Nginx,
    /// Through haproxy (`proto h2`).
    Haproxy,
    /// Through Caddy (`reverse_proxy`, h2c).
    Caddy,
}

impl PathKind {
    /// Every path, direct first.
    pub const ALL: [PathKind; 5] = [
        Self::Direct,
        Self::Meshsim,
        Self::Nginx,
        Self::Haproxy,
        Self::Caddy,
    ];

    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Meshsim => "meshsim proxy",
            Self::Nginx => "nginx",
            Self::Haproxy => "haproxy",
            Self::Caddy => "caddy",
        }
    }
}

/// One path at one load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// The path.
    pub path: &'static str,
    /// Offered requests per second; `None` at saturation.
    pub offered: Option<f64>,
    /// Completed per second in the measured window.
    pub throughput: f64,
    /// Failed calls.
    pub failed: u64,
    /// Latency, ms (open loop: from when each call was due).
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Over the direct path at the same load, ms.
    pub added_p50_ms: Option<f64>,
    /// Over the direct path at the same load, ms.
    pub added_p99_ms: Option<f64>,
    /// CPU time of the proxy's processes during the run, seconds.
    pub proxy_cpu_s: Option<f64>,
    /// Requests per CPU-second of the proxy.
    pub requests_per_cpu_s: Option<f64>,
    /// Peak resident memory of the proxy's processes, MiB.
    pub peak_rss_mib: Option<f64>,
}

/// How long each point runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Measured window.
    pub duration: Duration,
    /// Before it, not measured.
    pub warmup: Duration,
}

/// Measures every path at each of `rates` and at saturation.
/// `meshsim` is the `meshsim` executable (for `meshsim proxy`).
pub async fn measure(
    meshsim: &std::path::Path,
    rates: &[f64],
    timing: Timing,
    mut on_point: impl FnMut(&Point),
) -> io::Result<Vec<Point>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let replica_addr = listener.local_addr()?;
    // Far more workers than calls in flight, and no service time: what is
    // measured is the path, not a queue at the replica.
    let replica =
        StockDataService::new(ReplicaConfig::constant("stockdata-0", Duration::ZERO, 4096))
            .map_err(io::Error::other)?;
    tokio::spawn(stockdata::serve(listener, replica));
    let mut points: Vec<Point> = Vec::new();
    for kind in PathKind::ALL {
        let proxy = Proxy::start(kind, meshsim, replica_addr).await?;
        let target = proxy.as_ref().map_or(replica_addr, |p| p.listen);
        let loads: Vec<Option<f64>> = rates.iter().map(|&r| Some(r)).chain([None]).collect();
        for offered in loads {
            let cpu_before = proxy.as_ref().map(|p| p.cpu_seconds()).transpose()?;
            let summary = drive(target, offered, timing).await?;
            let cpu = match (&proxy, cpu_before) {
                (Some(p), Some(before)) => Some(p.cpu_seconds()? - before),
                _ => None,
            };
            let s = summary.corrected.summary();
            let window = timing.duration.as_secs_f64();
            let throughput = summary.measured as f64 / window;
            let direct = points
                .iter()
                .find(|p| p.path == PathKind::Direct.name() && p.offered == offered);
            let point = Point {
                path: kind.name(),
                offered,
                throughput,
                failed: summary.failed,
                p50_ms: s.p50,
                p99_ms: s.p99,
                added_p50_ms: direct
                    .filter(|_| kind != PathKind::Direct)
                    .map(|d| s.p50 - d.p50_ms),
                added_p99_ms: direct
                    .filter(|_| kind != PathKind::Direct)
                    .map(|d| s.p99 - d.p99_ms),
                proxy_cpu_s: cpu,
                // The whole run's requests (warm-up included) over the
                // whole run's CPU.
                requests_per_cpu_s: cpu
                    .filter(|c| *c > 0.0)
                    .map(|c| summary.completed as f64 / c),
                peak_rss_mib: proxy.as_ref().map(|p| p.peak_rss_mib()),
            };
            on_point(&point);
            points.push(point);
        }
    }
    Ok(points)
}

/// One load through `target`.
async fn drive(target: SocketAddr, offered: Option<f64>, timing: Timing) -> io::Result<Summary> {
    let total = timing.warmup + timing.duration;
    let issue = match offered {
        Some(rate) => Issue::Open {
            arrivals: loadgen::arrivals(loadgen::Process::Poisson, rate, total, 7),
            connections: None,
        },
        None => Issue::Closed {
            user_seeds: (0..u64::from(SATURATION_USERS)).collect(),
            think: Think::Constant(Duration::ZERO),
        },
    };
    let workload = Workload {
        issue,
        duration: total,
        drain: Duration::from_secs(2),
    };
    super::crosscheck::drive_gets(target, workload, timing.warmup).await
}

/// A running proxy process group.
struct Proxy {
    listen: SocketAddr,
    child: Child,
    _group: Group,
    _dir: RemoveOnDrop,
    clock_ticks: f64,
}

impl Proxy {
    async fn start(
        kind: PathKind,
        meshsim: &std::path::Path,
        replica: SocketAddr,
    ) -> io::Result<Option<Self>> {
        if kind == PathKind::Direct {
            // No proxy, and no scratch folder (one made here was left behind).
            return Ok(None);
        }
        let listen = free_port()?;
        let dir = peer::scratch_dir(kind.name().split(' ').next().unwrap_or("proxy"))?;
        let mut child = match kind {
            PathKind::Direct => return Ok(None),
            PathKind::Meshsim => tokio::process::Command::new(meshsim)
                .args([
                    "proxy",
                    "--service",
                    "stockdata",
                    "--profile",
                    "sidecar:round-robin",
                    // One thread, as the peers run (haproxy `nbthread 1`,
                    // nginx `worker_processes 1`): the same CPU budget.
                    "--threads",
                    "1",
                ])
                .arg("--endpoints")
                .arg(format!("stockdata-0={replica}"))
                .arg("--listen")
                .arg(listen.to_string())
                .arg("--admin")
                .arg(free_port()?.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .kill_on_drop(true)
                .spawn()?,
            PathKind::Nginx | PathKind::Haproxy | PathKind::Caddy => {
                let proxy = match kind {
                    PathKind::Nginx => PeerProxy::Nginx,
                    PathKind::Haproxy => PeerProxy::Haproxy,
                    _ => PeerProxy::Caddy,
                };
                let spec = PeerSpec {
                    proxy,
                    policy: PeerPolicy::RoundRobin,
                };
                let config = peer::write_config_for(
                    spec,
                    &dir,
                    listen,
                    &[("stockdata-0".to_string(), replica)],
                )?;
                peer::spawn(spec.proxy, &dir, &config)?
            }
        };
        let group = Group(child.id());
        peer::wait_listening(listen, &mut child, &dir).await?;
        Ok(Some(Self {
            listen,
            _group: group,
            child,
            _dir: RemoveOnDrop(dir),
            clock_ticks: clock_ticks(),
        }))
    }

    /// Pids of the proxy's process group.
    fn pids(&self) -> Vec<u32> {
        let Some(group) = self.child.id() else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                stat_fields(*pid)
                    .is_some_and(|f| f.get(2).and_then(|g| g.parse().ok()) == Some(group))
            })
            .collect()
    }

    /// User + system CPU seconds of the group so far.
    fn cpu_seconds(&self) -> io::Result<f64> {
        let ticks: u64 = self
            .pids()
            .into_iter()
            .filter_map(stat_fields)
            // After the command: state, ppid, pgrp, …; utime and stime are
            // fields 14 and 15 of the line, 11 and 12 here.
            .map(|f| {
                f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
                    + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
            })
            .sum();
        Ok(ticks as f64 / self.clock_ticks)
    }

    /// Sum of the group's processes' peak resident memory, MiB.
    fn peak_rss_mib(&self) -> f64 {
        let kib: u64 = self
            .pids()
            .into_iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
            .filter_map(|status| {
                status
                    .lines()
                    .find(|l| l.starts_with("VmHWM:"))?
                    .split_whitespace()
                    .nth(1)?
                    .parse::<u64>()
                    .ok()
            })
            .sum();
        kib as f64 / 1024.0
    }
}

/// `/proc/<pid>/stat` after the command name (which may hold spaces).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux if unknown).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

fn free_port() -> io::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    l.local_addr()
}
