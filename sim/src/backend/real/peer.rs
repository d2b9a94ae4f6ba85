//! Real proxies as peers: nginx and haproxy, from Debian's packages, in
//! the StockWeb pod where meshsim's sidecar would be.
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
//! connection handed over. The proxy starts once the first replicas are
//! ready (or after the startup timeout): started empty, it failed calls. Health checks are off: both proxies only learn of a
//! failed server from failed requests (nginx's passive `max_fails=1
//! fail_timeout=10s`, its defaults; haproxy without `check`).
//!
//! ## Configuration
//! - nginx: `grpc_pass` to an `upstream` (round robin, or `least_conn`),
//!   with `keepalive 64` so upstream HTTP/2 connections are reused (without
//!   it nginx opens a connection per request; ngx_http_upstream_module,
//!   `keepalive`), one worker process.
//! - haproxy: `mode http`, a `proto h2` frontend and `proto h2` servers,
//!   `balance roundrobin` or `leastconn`, one thread (`nbthread 1`).

use crate::cluster::kubelet::PeerTask;
use crate::control::{ControlPlane, Endpoint};
use crate::strategy::{PeerPolicy, PeerProxy, PeerSpec};
use crate::topology::STOCKDATA;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use stockdata::transport::Connect;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// After the first replica is ready, how long the peer waits for the others
/// started with it before it writes its first configuration.
const INITIAL_SETTLE: Duration = Duration::from_millis(300);

/// How long a peer may take to accept connections after it starts.
const STARTUP: Duration = Duration::from_secs(5);

/// The binary of `proxy`, as Debian installs it.
fn binary(proxy: PeerProxy) -> &'static str {
    match proxy {
        PeerProxy::Nginx => "/usr/sbin/nginx",
        PeerProxy::Haproxy => "/usr/sbin/haproxy",
    }
}

/// Debian's package that installs it.
pub fn package(proxy: PeerProxy) -> &'static str {
    match proxy {
        PeerProxy::Nginx => "nginx",
        PeerProxy::Haproxy => "haproxy",
    }
}

/// Whether the peer's binary is installed.
pub fn installed(proxy: PeerProxy) -> bool {
    Path::new(binary(proxy)).exists()
}

/// One upstream server: the replica's name and the forwarder in front of it.
struct Upstream {
    listen: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn ready(endpoints: &[Endpoint]) -> Vec<Endpoint> {
    let mut ready: Vec<Endpoint> = endpoints.iter().filter(|e| e.ready).cloned().collect();
    ready.sort_by(|a, b| a.pod.cmp(&b.pod));
    ready
}

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
    let mut known: std::collections::BTreeSet<String> = upstreams.keys().cloned().collect();
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
                        let before = servers(&upstreams);
                        let updated = sync(&mut upstreams, &now, listen, &connect).await.is_ok()
                            && write_config(spec, &dir, listen, &upstreams).is_ok();
                        if updated {
                            let _ = match spec.proxy {
                                PeerProxy::Nginx => reload(&child).await,
                                PeerProxy::Haproxy => {
                                    let after = servers(&upstreams);
                                    runtime_update(&dir, &before, &after, &mut known).await
                                }
                            };
                        }
                    }
                }
                // The proxy died: the app's calls now fail, which the
                // report shows.
                _ = child.wait() => return,
            }
        }
    }))
}

/// Makes `upstreams` one forwarder per endpoint in `ready` (in name order).
async fn sync<C: Connect>(
    upstreams: &mut BTreeMap<String, Upstream>,
    ready: &[Endpoint],
    listen: SocketAddr,
    connect: &C,
) -> io::Result<()> {
    upstreams.retain(|pod, _| ready.iter().any(|e| &e.pod == pod));
    for e in ready {
        if upstreams.contains_key(&e.pod) {
            continue;
        }
        let listener = TcpListener::bind((listen.ip(), 0)).await?;
        let local = listener.local_addr()?;
        let (connect, target) = (connect.clone(), e.addr);
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let _ = inbound.set_nodelay(true);
                let connect = connect.clone();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = connect.connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        upstreams.insert(
            e.pod.clone(),
            Upstream {
                listen: local,
                task,
            },
        );
    }
    Ok(())
}

pub(crate) fn scratch_dir(pod: &str) -> io::Result<PathBuf> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("meshsim-peer-{}-{pod}-{n}", std::process::id()));
    std::fs::create_dir_all(dir.join("tmp"))?;
    Ok(dir)
}

/// The proxy's process group (its master and workers), killed on drop: a
/// killed nginx master leaves its workers running, still listening.
pub(crate) struct Group(pub(crate) Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub(crate) struct RemoveOnDrop(pub(crate) PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The configuration file of `spec` for these upstreams; returns its path.
fn write_config(
    spec: PeerSpec,
    dir: &Path,
    listen: SocketAddr,
    upstreams: &BTreeMap<String, Upstream>,
) -> io::Result<PathBuf> {
    let servers: Vec<(String, SocketAddr)> = upstreams
        .iter()
        .map(|(pod, u)| (pod.clone(), u.listen))
        .collect();
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
            nginx_config(spec.policy, dir, listen, servers),
        ),
        PeerProxy::Haproxy => (
            "haproxy.cfg",
            haproxy_config(spec.policy, dir, listen, servers),
        ),
    };
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

fn nginx_config(
    policy: PeerPolicy,
    dir: &Path,
    listen: SocketAddr,
    upstreams: &[(String, SocketAddr)],
) -> String {
    let d = dir.display();
    let mut servers = String::new();
    for (pod, addr) in upstreams {
        let _ = writeln!(servers, "        server {addr}; # {pod}");
    }
    if upstreams.is_empty() {
        // nginx needs a server; this one is never tried.
        servers.push_str("        server 127.0.0.1:9 down;\n");
    }
    let balance = match policy {
        PeerPolicy::RoundRobin => "",
        PeerPolicy::LeastRequest => "        least_conn;\n",
    };
    format!(
        "# Written by meshsim for one StockWeb pod's peer sidecar.
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/peer.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    upstream stockdata {{
{balance}{servers}        keepalive 64;
    }}
    server {{
        listen {listen} http2;
        # nginx closes a client connection after `keepalive_requests`
        # (default 1000, ngx_http_core_module; it applies to HTTP/2 since
        # 1.19.7) and the app's calls in flight on it fail. A sidecar's
        # connection from its app lives as long as the pod: raised, as a
        # mesh would configure it.
        keepalive_requests 4294967295;
        location / {{
            grpc_pass grpc://stockdata;
        }}
    }}
}}
"
    )
}

fn haproxy_config(
    policy: PeerPolicy,
    dir: &Path,
    listen: SocketAddr,
    upstreams: &[(String, SocketAddr)],
) -> String {
    let mut servers = String::new();
    for (pod, addr) in upstreams {
        let _ = writeln!(servers, "    server {pod} {addr} proto h2");
    }
    let balance = match policy {
        PeerPolicy::RoundRobin => "roundrobin",
        PeerPolicy::LeastRequest => "leastconn",
    };
    format!(
        "# Written by meshsim for one StockWeb pod's peer sidecar.
global
    nbthread 1
    maxconn 4096
    pidfile {d}/haproxy.pid
    stats socket {d}/{ADMIN_SOCKET} mode 600 level admin
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend app
    bind {listen} proto h2
    default_backend stockdata
backend stockdata
    balance {balance}
{servers}",
        d = dir.display()
    )
}

pub(crate) fn spawn(proxy: PeerProxy, dir: &Path, config: &Path) -> io::Result<Child> {
    let mut cmd = Command::new(binary(proxy));
    match proxy {
        PeerProxy::Nginx => cmd
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(config)
            .args(["-g", "daemon off; master_process on;"]),
        PeerProxy::Haproxy => cmd.args(["-W", "-db", "-f"]).arg(config),
    };
    let log = std::fs::File::create(dir.join("peer.stderr"))?;
    cmd.stdin(Stdio::null())
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "starting {}: {e} (install Debian's {} package)",
                    binary(proxy),
                    package(proxy)
                ),
            )
        })
}

pub(crate) async fn wait_listening(
    listen: SocketAddr,
    child: &mut Child,
    dir: &Path,
) -> io::Result<()> {
    let deadline = tokio::time::Instant::now() + STARTUP;
    loop {
        if tokio::net::TcpStream::connect(listen).await.is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(io::Error::other(format!(
                "the peer proxy exited at start ({status}): {}",
                log_tail(dir)
            )));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(io::Error::other(format!(
                "the peer proxy did not listen on {listen} within {STARTUP:?}: {}",
                log_tail(dir)
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asks nginx to re-read its configuration (SIGHUP to the master: new
/// workers; the old ones close their connections with GOAWAY).
async fn reload(child: &Child) -> io::Result<()> {
    let Some(pid) = child.id() else {
        return Ok(());
    };
    Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .await?;
    Ok(())
}

fn servers(upstreams: &BTreeMap<String, Upstream>) -> BTreeMap<String, SocketAddr> {
    upstreams
        .iter()
        .map(|(pod, u)| (pod.clone(), u.listen))
        .collect()
}

/// Brings the running haproxy's servers from `before` to `after` through
/// its runtime API (the admin socket), as a control plane does, instead of
/// a reload (which starts a new worker and leaves the old one to finish
/// its connections). A removed server goes into maintenance; an added one
/// is added (or re-addressed, if haproxy knows its name) and enabled.
async fn runtime_update(
    dir: &Path,
    before: &BTreeMap<String, SocketAddr>,
    after: &BTreeMap<String, SocketAddr>,
    known: &mut std::collections::BTreeSet<String>,
) -> io::Result<()> {
    let mut commands = Vec::new();
    for pod in before.keys().filter(|p| !after.contains_key(*p)) {
        commands.push(format!("set server stockdata/{pod} state maint"));
    }
    for (pod, addr) in after.iter().filter(|(p, _)| !before.contains_key(*p)) {
        if known.insert(pod.clone()) {
            commands.push(format!("add server stockdata/{pod} {addr} proto h2"));
        } else {
            commands.push(format!(
                "set server stockdata/{pod} addr {} port {}",
                addr.ip(),
                addr.port()
            ));
        }
        commands.push(format!("set server stockdata/{pod} state ready"));
    }
    for command in commands {
        admin(dir, &command).await?;
    }
    Ok(())
}

/// One command on haproxy's admin socket; its answer.
async fn admin(dir: &Path, command: &str) -> io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::UnixStream::connect(dir.join(ADMIN_SOCKET)).await?;
    socket.write_all(format!("{command}\n").as_bytes()).await?;
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await?;
    Ok(answer)
}

/// haproxy's admin socket, in the peer's folder.
const ADMIN_SOCKET: &str = "admin.sock";

fn log_tail(dir: &Path) -> String {
    let mut text = String::new();
    for name in ["peer.stderr", "peer.log"] {
        if let Ok(t) = std::fs::read_to_string(dir.join(name)) {
            text.push_str(&t);
        }
    }
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}
