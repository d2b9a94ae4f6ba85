//! nginx as the peer: its configuration (`grpc_pass` to an `upstream`) and
//! how endpoint changes reach it (a rewritten configuration and SIGHUP).

use crate::strategy::PeerPolicy;
use std::fmt::Write;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use tokio::process::{Child, Command};

/// nginx's configuration listening on `listen` in front of `upstreams`
/// (name, address), its files in `dir`.
pub(super) fn config(
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

/// Asks nginx to re-read its configuration (SIGHUP to the master: new
/// workers; the old ones close their connections with GOAWAY).
pub(super) async fn reload(child: &Child) -> io::Result<()> {
    let Some(pid) = child.id() else {
        return Ok(());
    };
    Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .await?;
    Ok(())
}
