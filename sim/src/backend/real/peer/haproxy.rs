//! haproxy as the peer: its configuration (`mode http`, HTTP/2 on both
//! sides) and how endpoint changes reach it (its runtime API on the admin
//! socket, which changes the running worker's servers in place).

use crate::strategy::PeerPolicy;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::io;
use std::net::SocketAddr;
use std::path::Path;

/// haproxy's admin socket, in the peer's folder.
const ADMIN_SOCKET: &str = "admin.sock";

/// haproxy's configuration listening on `listen` in front of `upstreams`
/// (name, address), its files in `dir`.
pub(super) fn config(
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

/// Brings the running haproxy's servers from `before` to `after` through
/// its runtime API (the admin socket), as a control plane does, instead of
/// a reload (which starts a new worker and leaves the old one to finish
/// its connections). A removed server goes into maintenance; an added one
/// is added (or re-addressed, if haproxy knows its name) and enabled.
pub(super) async fn runtime_update(
    dir: &Path,
    before: &BTreeMap<String, SocketAddr>,
    after: &BTreeMap<String, SocketAddr>,
    known: &mut BTreeSet<String>,
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
