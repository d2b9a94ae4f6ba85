//! The peer proxy as a child process: where Debian installs its binary,
//! the scratch folder it runs in, starting it, waiting until it listens,
//! and killing its whole process group with the pod.

use crate::strategy::PeerProxy;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// How long a peer may take to accept connections after it starts.
const STARTUP: Duration = Duration::from_secs(5);

/// The binary of `proxy`, as Debian installs it.
pub(super) fn binary(proxy: PeerProxy) -> &'static str {
    match proxy {
        PeerProxy::Nginx => "/usr/sbin/nginx",
        PeerProxy::Haproxy => "/usr/sbin/haproxy",
        PeerProxy::Caddy => "/usr/bin/caddy",
    }
}

/// Debian's package that installs it.
pub fn package(proxy: PeerProxy) -> &'static str {
    match proxy {
        PeerProxy::Nginx => "nginx",
        PeerProxy::Haproxy => "haproxy",
        PeerProxy::Caddy => "caddy",
    }
}

/// Whether the peer's binary is installed.
pub fn installed(proxy: PeerProxy) -> bool {
    Path::new(binary(proxy)).exists()
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
        // One OS thread running Go code at a time, as nginx runs one worker
        // and haproxy one thread.
        PeerProxy::Caddy => cmd
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(["--adapter", "caddyfile"])
            .envs(super::caddy::environment(dir))
            .env("GOMAXPROCS", "1"),
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
