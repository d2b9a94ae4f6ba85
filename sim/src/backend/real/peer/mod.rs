//! Real proxies as peers: nginx, haproxy and Caddy, from Debian's packages,
//! in the StockWeb pod where meshsim's sidecar would be.
//!
//! meshsim writes the proxy's configuration, starts it as a child process
//! listening on the pod's sidecar address, and kills it with the pod. The
//! app is unchanged (its one HTTP/2 connection goes to the peer), and the
//! split is read from the `server-id` headers as for every strategy.
//!
//! Each upstream server is a local forwarder that dials the replica through
//! the run's link emulator, so the peer's traffic crosses the same emulated
//! links (latency, loss, partitions) as meshsim's own sidecar's. Endpoint
//! changes (readiness, kills, scale) reach the running proxy as a control
//! plane would send them: nginx rewrites its configuration and reloads
//! (SIGHUP; its old workers close their connections with GOAWAY and the app
//! reconnects to a new one); haproxy gets them through its runtime API
//! (`add server`, `set server … state maint|ready` on the admin socket),
//! which changes the running worker's servers in place: no new worker, no
//! connection handed over; Caddy loads the rewritten Caddyfile through its
//! admin API (`caddy reload`), which starts the new configuration's server
//! on the same listener, but Caddy 2.6's h2c connections are not closed:
//! the app's connection keeps the configuration it was opened with (see
//! `caddy`). The proxy starts once the first replicas are ready (or after
//! the startup timeout): started empty, it failed calls. Active health
//! checks are off: the proxies only learn of a failed server from failed
//! requests (nginx's passive `max_fails=1 fail_timeout=10s`, its defaults;
//! haproxy without `check`; Caddy's passive `max_fails 1`, its default, and
//! `fail_duration 30s`, its suggested starting point, 0 turning it off).
//!
//! ## Configuration
//! - nginx: `grpc_pass` to an `upstream` (round robin, or `least_conn`),
//!   with `keepalive 64` so upstream HTTP/2 connections are reused (without
//!   it nginx opens a connection per request; ngx_http_upstream_module,
//!   `keepalive`), one worker process.
//! - haproxy: `mode http`, a `proto h2` frontend and `proto h2` servers,
//!   `balance roundrobin` or `leastconn`, one thread (`nbthread 1`).
//! - Caddy: a Caddyfile, `servers { protocols h1 h2c }` towards the app,
//!   `reverse_proxy` with `transport http { versions h2c 2 }` towards the
//!   replicas (one multiplexed HTTP/2 connection each, reused), `lb_policy
//!   round_robin` or `least_conn`, no access log (Caddy writes none unless
//!   asked), its admin endpoint on a Unix socket in the peer's folder, one
//!   OS thread running Go code (`GOMAXPROCS=1`).
//!
//! ## Files
//! - this file: starting a peer and keeping it in step with the endpoints;
//! - `process`: the child process (binary, scratch folder, spawn, wait
//!   until it listens, kill its process group);
//! - `upstream`: the forwarders in front of the replicas;
//! - `nginx`, `haproxy`, `caddy`: each proxy's configuration and how
//!   endpoint changes reach it.

mod caddy;
mod haproxy;
mod nginx;
mod process;
mod upstream;

pub(crate) use process::{Group, RemoveOnDrop, scratch_dir, spawn, wait_listening};
pub use process::{installed, package};

use crate::cluster::kubelet::PeerTask;
use crate::control::{ControlPlane, Endpoint};
use crate::strategy::{PeerProxy, PeerSpec};
use crate::topology::STOCKDATA;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use stockdata::transport::Connect;
use tokio::process::Child;
use upstream::{Upstream, ready, servers, sync};

/// After the first replica is ready, how long the peer waits for the others
/// started with it before it writes its first configuration.
const INITIAL_SETTLE: Duration = Duration::from_millis(300);

/// Starts `spec`'s proxy on `listen` for pod `pod`, balancing over
/// `cluster`'s ready StockData endpoints reached through `connect`; returns
/// once it listens. The returned future keeps its configuration in step
/// with the endpoints; dropping it (the pod stops) kills the proxy.
pub async fn start<C: Connect>(
    spec: PeerSpec,
    pod: String,
    listen: SocketAddr,
    cluster: ControlPlane,
    connect: C,
) -> io::Result<PeerTask> {
    let dir = scratch_dir(&pod)?;
    let cleanup = RemoveOnDrop(dir.clone());
    let mut endpoints = cluster.subscribe(STOCKDATA);
    let mut upstreams: BTreeMap<String, Upstream> = BTreeMap::new();
    // Start with the replicas in it: a peer started empty and updated
    // later failed calls (haproxy answered every call of one run with 503,
    // INTERNAL to the app, and pinned another run's pages to one replica).
    let _ = tokio::time::timeout(
        crate::backend::real::STARTUP_TIMEOUT,
        endpoints.wait_for(|e| e.iter().any(|e| e.ready)),
    )
    .await;
    // Replicas started together become ready within milliseconds of each
    // other: let the rest of that first set arrive.
    tokio::time::sleep(INITIAL_SETTLE).await;
    let first = ready(&endpoints.borrow_and_update());
    sync(&mut upstreams, &first, listen, &connect).await?;
    let config = write_config(spec, &dir, listen, &upstreams)?;
    if tokio::net::TcpStream::connect(listen).await.is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{listen} is already taken (a leftover proxy process?)"),
        ));
    }
    let mut child = spawn(spec.proxy, &dir, &config)?;
    let group = Group(child.id());
    wait_listening(listen, &mut child, &dir).await?;
    // The servers haproxy knows (it keeps a removed one, in maintenance).
    let mut known: BTreeSet<String> = upstreams.keys().cloned().collect();
    Ok(Box::pin(async move {
        // Dropped in reverse order: the processes go before their files.
        let _cleanup = cleanup;
        let _group = group;
        loop {
            tokio::select! {
                changed = endpoints.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now = ready(&endpoints.borrow_and_update());
                    if now.iter().map(|e| &e.pod).ne(upstreams.keys()) {
                        let peer = Running { spec, dir: &dir, listen, child: &child };
                        peer.follow(&mut upstreams, &now, &connect, &mut known).await;
                    }
                }
                // The proxy died: the app's calls now fail, which the
                // report shows.
                _ = child.wait() => return,
            }
        }
    }))
}

/// A started peer, as its endpoint updates need it.
struct Running<'a> {
    spec: PeerSpec,
    dir: &'a Path,
    listen: SocketAddr,
    child: &'a Child,
}

impl Running<'_> {
    /// Brings the peer's upstreams to `now` (the ready endpoints, which
    /// differ from them) and tells the running proxy: nginx reloads its
    /// rewritten configuration, haproxy hears it on its runtime API, Caddy
    /// loads its rewritten Caddyfile (`caddy reload`).
    async fn follow<C: Connect>(
        &self,
        upstreams: &mut BTreeMap<String, Upstream>,
        now: &[Endpoint],
        connect: &C,
        known: &mut BTreeSet<String>,
    ) {
        let before = servers(upstreams);
        if sync(upstreams, now, self.listen, connect).await.is_err() {
            return;
        }
        let Ok(config) = write_config(self.spec, self.dir, self.listen, upstreams) else {
            return;
        };
        let _ = match self.spec.proxy {
            PeerProxy::Nginx => nginx::reload(self.child).await,
            PeerProxy::Haproxy => {
                let after = servers(upstreams);
                haproxy::runtime_update(self.dir, &before, &after, known).await
            }
            PeerProxy::Caddy => {
                caddy::reload(process::binary(self.spec.proxy), self.dir, &config).await
            }
        };
    }
}

/// The configuration file of `spec` for these upstreams; returns its path.
fn write_config(
    spec: PeerSpec,
    dir: &Path,
    listen: SocketAddr,
    upstreams: &BTreeMap<String, Upstream>,
) -> io::Result<PathBuf> {
    let servers: Vec<(String, SocketAddr)> = servers(upstreams).into_iter().collect();
    write_config_for(spec, dir, listen, &servers)
}

/// The configuration file of `spec` listening on `listen` in front of
/// `servers` (name, address); returns its path.
pub(crate) fn write_config_for(
    spec: PeerSpec,
    dir: &Path,
    listen: SocketAddr,
    servers: &[(String, SocketAddr)],
) -> io::Result<PathBuf> {
    let (name, text) = match spec.proxy {
        PeerProxy::Nginx => (
            "nginx.conf",
            nginx::config(spec.policy, dir, listen, servers),
        ),
        PeerProxy::Haproxy => (
            "haproxy.cfg",
            haproxy::config(spec.policy, dir, listen, servers),
        ),
        PeerProxy::Caddy => (
            "Caddyfile",
            caddy::config(spec.policy, dir, listen, servers),
        ),
    };
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}
