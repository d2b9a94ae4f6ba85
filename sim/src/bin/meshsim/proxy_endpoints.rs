//! `meshsim proxy`'s endpoint list: `--endpoints pod=addr,…` or an
//! `--endpoints-file` re-read when it changes, applied to the proxy's
//! [`ControlPlane`] as a control plane would push it.

use sim::control::ControlPlane;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use stockdata::program::{info, warn};

/// One endpoint: a pod name and where it listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub pod: String,
    pub addr: SocketAddr,
}

/// What an endpoint list looks like, for help and errors.
pub const FORMS: &str = "POD=IP:PORT entries (or bare IP:PORT, named after the address), \
separated by commas, spaces or newlines; `#` starts a comment";

/// Parses an endpoint list (see [`FORMS`]). Pod names must be unique.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let mut entries: Vec<Entry> = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        for item in line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            let (pod, addr) = match item.split_once('=') {
                Some((pod, addr)) => (pod.trim(), addr.trim()),
                None => (item, item),
            };
            if pod.is_empty() {
                return Err(format!(
                    "endpoint `{item}` has an empty pod name; expected {FORMS}"
                ));
            }
            let addr: SocketAddr = addr.parse().map_err(|_| {
                format!("endpoint `{item}`: `{addr}` is not IP:PORT; expected {FORMS}")
            })?;
            if entries.iter().any(|e| e.pod == pod) {
                return Err(format!("endpoint pod `{pod}` is listed twice"));
            }
            entries.push(Entry {
                pod: pod.to_string(),
                addr,
            });
        }
    }
    Ok(entries)
}

/// Reads and parses an endpoints file.
pub fn read(path: &Path) -> Result<(String, Vec<Entry>), String> {
    let bytes = sim::input::read_bounded(path, sim::input::MAX_ENDPOINTS_BYTES)
        .map_err(|e| format!("reading --endpoints-file {}: {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "reading --endpoints-file {}: byte {} is not UTF-8; expected a text file",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let entries = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((text, entries))
}

/// Makes `service`'s endpoints in `cluster` exactly `entries`, all ready:
/// endpoints that stay keep their connections; a pod whose address changed
/// is replaced.
pub fn apply(cluster: &ControlPlane, service: &str, entries: &[Entry]) {
    for current in cluster.endpoints(service) {
        let keep = entries
            .iter()
            .any(|e| e.pod == current.pod && e.addr == current.addr);
        if !keep {
            cluster.remove_endpoint(service, &current.pod);
        }
    }
    let current = cluster.endpoints(service);
    for e in entries {
        if !current.iter().any(|c| c.pod == e.pod) {
            cluster.add_endpoint(service, &e.pod, e.addr);
        }
        cluster.set_ready(&e.pod, true);
    }
}

/// `pod=addr,…` for a log line.
pub fn describe(entries: &[Entry]) -> String {
    let all: Vec<String> = entries
        .iter()
        .map(|e| format!("{}={}", e.pod, e.addr))
        .collect();
    all.join(",")
}

/// Re-reads `path` every `poll` and applies it when its text changed. A
/// file that cannot be read or parsed is reported and the last good list
/// kept (as a control plane keeps serving its last snapshot).
pub async fn watch_file(
    cluster: ControlPlane,
    service: String,
    path: PathBuf,
    mut last: String,
    poll: Duration,
) {
    let mut last_error = String::new();
    loop {
        tokio::time::sleep(poll).await;
        match read(&path) {
            Ok((text, _)) if text == last => last_error.clear(),
            Ok((text, entries)) => {
                apply(&cluster, &service, &entries);
                info(
                    "endpoints updated",
                    &[
                        ("service", &service),
                        ("count", &entries.len()),
                        ("endpoints", &describe(&entries)),
                    ],
                );
                last = text;
                last_error.clear();
            }
            Err(e) if e != last_error => {
                warn(
                    "endpoints file rejected; keeping the last list",
                    &[("error", &e)],
                );
                last_error = e;
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_apply() {
        let entries = parse("a=127.0.0.1:1, b=127.0.0.1:2\n# c=x\n127.0.0.1:3").expect("parse");
        assert_eq!(
            describe(&entries),
            "a=127.0.0.1:1,b=127.0.0.1:2,127.0.0.1:3=127.0.0.1:3"
        );
        assert!(parse("a=nowhere").is_err());
        assert!(parse("a=127.0.0.1:1,a=127.0.0.1:2").is_err());
        assert!(parse("=127.0.0.1:1").is_err());

        let cluster = ControlPlane::new();
        apply(&cluster, "svc", &entries);
        assert_eq!(cluster.ready_endpoints("svc").len(), 3);
        let moved = parse("a=127.0.0.1:9 b=127.0.0.1:2").expect("parse");
        apply(&cluster, "svc", &moved);
        let now: Vec<_> = cluster
            .ready_endpoints("svc")
            .into_iter()
            .map(|e| (e.pod, e.addr.port()))
            .collect();
        assert_eq!(now, vec![("b".into(), 2), ("a".into(), 9)]);
    }
}
