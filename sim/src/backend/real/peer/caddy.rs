//! Caddy as the peer: its Caddyfile (`reverse_proxy` over h2c on both
//! sides) and how endpoint changes reach it (the rewritten Caddyfile loaded
//! through its admin API, `caddy reload`, as Caddy's users change its
//! upstreams: every change reloads the whole configuration).
//!
//! Measured with Debian's Caddy 2.6.2 (sim/tests/real/peers.rs): a reload
//! does not reach an h2c connection that is already open. Caddy's h2c
//! handler (golang.org/x/net/http2/h2c) hijacks the connection from Go's
//! HTTP server, and `http.Server.Shutdown` "does not attempt to close nor
//! wait for hijacked connections", so stopping the old server neither
//! closes it nor sends GOAWAY; it keeps the configuration it was opened with (caddyserver/caddy
//! #6195 reports clients on an old configuration after a reload). The app
//! never uses a replica added later, and keeps calling a removed one: a
//! failure counted under the unloaded configuration is forgotten at once,
//! as the timer that would forget it after `fail_duration` ends with that
//! configuration's context (reverseproxy.go, `countFailure`). Restarting Caddy instead would drop the app's
//! connection and its calls in flight, which Caddy's users do not do to
//! change upstreams.
//!
//! Towards the replicas the `h2c` transport is golang.org/x/net's HTTP/2
//! transport, one multiplexed connection per upstream, reused; the `http`
//! transport's `keepalive*` options do not apply to it in 2.6 (they were
//! applied to h2c only later, caddyserver/caddy#6343).

use crate::strategy::PeerPolicy;
use std::fmt::Write;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use tokio::process::Command;

/// Caddy's admin endpoint, a Unix socket in the peer's folder: two Caddy
/// processes on the default `localhost:2019` would clash.
const ADMIN_SOCKET: &str = "admin.sock";

/// How long Caddy remembers a failed request to an upstream (its passive
/// health check): Caddy's suggested starting point; its default, 0, turns
/// passive health checks off (reverse_proxy directive, `fail_duration`).
const FAIL_DURATION: &str = "30s";

/// Caddy's configuration listening on `listen` in front of `upstreams`
/// (name, address), its files in `dir`.
pub(super) fn config(
    policy: PeerPolicy,
    dir: &Path,
    listen: SocketAddr,
    upstreams: &[(String, SocketAddr)],
) -> String {
    let mut to = String::new();
    for (pod, addr) in upstreams {
        let _ = writeln!(to, "\t\tto {addr} # {pod}");
    }
    let balance = match policy {
        PeerPolicy::RoundRobin => "round_robin",
        PeerPolicy::LeastRequest => "least_conn",
    };
    format!(
        "# Written by meshsim for one StockWeb pod's peer sidecar.
{{
\tadmin unix/{admin}
\tauto_https off
\tlog {{
\t\toutput stderr
\t\tlevel WARN
\t}}
\tservers {{
\t\tprotocols h1 h2c
\t}}
}}
http://:{port} {{
\tbind {ip}
\treverse_proxy {{
{to}\t\tlb_policy {balance}
\t\tfail_duration {FAIL_DURATION}
\t\tmax_fails 1
\t\ttransport http {{
\t\t\tversions h2c 2
\t\t}}
\t}}
}}
",
        admin = dir.join(ADMIN_SOCKET).display(),
        port = listen.port(),
        ip = listen.ip(),
    )
}

/// The environment Caddy runs in: its data and autosaved configuration in
/// the peer's folder, not root's.
pub(super) fn environment(dir: &Path) -> [(&'static str, &Path); 3] {
    [
        ("HOME", dir),
        ("XDG_DATA_HOME", dir),
        ("XDG_CONFIG_HOME", dir),
    ]
}

/// Loads the rewritten Caddyfile into the running Caddy through its admin
/// API (`caddy reload`): Caddy starts the new configuration's servers on
/// the same listener and stops the old ones.
pub(super) async fn reload(binary: &str, dir: &Path, config: &Path) -> io::Result<()> {
    let status = Command::new(binary)
        .arg("reload")
        .arg("--config")
        .arg(config)
        .args(["--adapter", "caddyfile", "--address"])
        .arg(format!("unix/{}", dir.join(ADMIN_SOCKET).display()))
        .envs(environment(dir))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("caddy reload: {status}")))
    }
}
