//! A link emulator in user space: latency, jitter, loss and partitions
//! between the hosts of a real-mode run.
//!
//! Why here: this kernel has no `sch_netem`, and nothing in meshsim may need
//! root. So the emulation sits in the [`Connect`] impl: a pod's connection
//! to another host is a real loopback TCP connection with a pump in each
//! direction. The pump reads what one side wrote, stamps it with the time it
//! may arrive (now + the link's one-way latency + jitter, + a 200 ms
//! retransmission timeout with the link's loss probability, never before
//! the previous chunk), and writes it to the other side at that time, unless
//! the link is partitioned: then it holds everything, end of stream
//! included, until the partition heals (as the simulator does, standing in
//! for TCP retransmission). Dialing costs a round trip.
//!
//! Traffic inside a host (a pod and its sidecar) is not delayed, as in the
//! simulator.

use crate::sync::lock;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stockdata::transport::Connect;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// TCP's minimum retransmission timeout (RFC 6298 §2.4 rounds it up to 1 s;
/// Linux uses 200 ms, `TCP_RTO_MIN`): the delay a lost segment costs. The
/// simulator uses the same figure (`crate::net`).
pub const RTO: Duration = Duration::from_millis(200);
/// Bytes one pump reads at a time.
const CHUNK: usize = 16 * 1024;
/// The in-process buffer between the application and its pump.
const DUPLEX_BUFFER: usize = 256 * 1024;

/// The links between a run's hosts.
#[derive(Debug)]
pub struct Links {
    state: Mutex<State>,
    /// Bumped on every change, so held pumps wake up.
    changed: watch::Sender<u64>,
}

#[derive(Debug)]
struct State {
    /// Which host an address belongs to.
    hosts: BTreeMap<IpAddr, String>,
    latency: Duration,
    jitter: Duration,
    loss: f64,
    latency_of: BTreeMap<(String, String), Duration>,
    loss_of: BTreeMap<(String, String), f64>,
    held: BTreeSet<(String, String)>,
    rng: ChaCha8Rng,
}

/// How one chunk travels from `from` to `to` now.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Delivery {
    delay: Duration,
    held: bool,
}

impl Links {
    /// Links with one-way `latency` plus up to `jitter`, and packet `loss`,
    /// between every pair of hosts; jitter and loss draws from `seed`.
    pub fn new(latency: Duration, jitter: Duration, loss: f64, seed: u64) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                hosts: BTreeMap::new(),
                latency,
                jitter,
                loss,
                latency_of: BTreeMap::new(),
                loss_of: BTreeMap::new(),
                held: BTreeSet::new(),
                rng: ChaCha8Rng::seed_from_u64(seed),
            }),
            changed: watch::Sender::new(0),
        })
    }

    fn change(&self, f: impl FnOnce(&mut State)) {
        f(&mut lock(&self.state));
        self.changed.send_modify(|v| *v += 1);
    }

    /// Addresses on `ip` belong to `host`.
    pub fn place(&self, ip: IpAddr, host: &str) {
        self.change(|s| {
            s.hosts.insert(ip, host.to_string());
        });
    }

    /// The host `ip` belongs to.
    pub fn host_of(&self, ip: IpAddr) -> Option<String> {
        lock(&self.state).hosts.get(&ip).cloned()
    }

    /// One-way latency from `a` to `b` (and back).
    pub fn set_latency(&self, a: &str, b: &str, latency: Duration) {
        self.change(|s| {
            s.latency_of.insert(pair(a, b), latency);
            s.latency_of.insert(pair(b, a), latency);
        });
    }

    /// Loss between `a` and `b` (`None`: the default).
    pub fn set_loss(&self, a: &str, b: &str, rate: Option<f64>) {
        self.change(|s| match rate {
            Some(r) => {
                s.loss_of.insert(pair(a, b), r);
                s.loss_of.insert(pair(b, a), r);
            }
            None => {
                s.loss_of.remove(&pair(a, b));
                s.loss_of.remove(&pair(b, a));
            }
        });
    }

    /// Holds traffic from `a` to `b`, and from `b` to `a`.
    pub fn hold(&self, a: &str, b: &str) {
        self.change(|s| {
            s.held.insert(pair(a, b));
            s.held.insert(pair(b, a));
        });
    }

    /// Lets held traffic between `a` and `b` flow.
    pub fn release(&self, a: &str, b: &str) {
        self.change(|s| {
            s.held.remove(&pair(a, b));
            s.held.remove(&pair(b, a));
        });
    }

    /// Holds or releases every link between `host` and `others` (a
    /// crashed node: its peers hear nothing more from it).
    pub fn isolate(&self, host: &str, others: &[String], isolated: bool) {
        self.change(|s| {
            for o in others.iter().filter(|o| *o != host) {
                for p in [pair(host, o), pair(o, host)] {
                    if isolated {
                        s.held.insert(p);
                    } else {
                        s.held.remove(&p);
                    }
                }
            }
        });
    }

    fn delivery(&self, from: &str, to: &str) -> Delivery {
        if from == to {
            return Delivery {
                delay: Duration::ZERO,
                held: false,
            };
        }
        let mut s = lock(&self.state);
        let key = pair(from, to);
        let base = s.latency_of.get(&key).copied().unwrap_or(s.latency);
        let loss = s.loss_of.get(&key).copied().unwrap_or(s.loss);
        let jitter = s.jitter;
        let extra = if jitter.is_zero() {
            Duration::ZERO
        } else {
            jitter.mul_f64(s.rng.random::<f64>())
        };
        let lost = loss > 0.0 && s.rng.random::<f64>() < loss;
        Delivery {
            delay: base + extra + if lost { RTO } else { Duration::ZERO },
            held: s.held.contains(&key),
        }
    }

    /// Waits until traffic from `from` to `to` is not held.
    async fn unheld(&self, from: &str, to: &str) {
        let mut changes = self.changed.subscribe();
        while lock(&self.state).held.contains(&pair(from, to)) {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

/// Dials from host `from` through [`Links`].
#[derive(Debug, Clone)]
pub struct LinkConnect {
    from: String,
    links: Arc<Links>,
}

impl LinkConnect {
    /// Connections from `from`.
    pub fn new(from: &str, links: Arc<Links>) -> Self {
        Self {
            from: from.to_string(),
            links,
        }
    }
}

impl Connect for LinkConnect {
    type Io = DuplexStream;

    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<DuplexStream>> + Send + 'static {
        let from = self.from.clone();
        let links = self.links.clone();
        async move {
            let to = links.host_of(addr.ip()).unwrap_or_else(|| from.clone());
            // The handshake: a round trip, after any partition heals.
            for (a, b) in [(&from, &to), (&to, &from)] {
                links.unheld(a, b).await;
                tokio::time::sleep(links.delivery(a, b).delay).await;
            }
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let (app, far) = tokio::io::duplex(DUPLEX_BUFFER);
            let (far_read, far_write) = tokio::io::split(far);
            let (tcp_read, tcp_write) = tcp.into_split();
            tokio::spawn(pump(
                far_read,
                tcp_write,
                links.clone(),
                from.clone(),
                to.clone(),
            ));
            tokio::spawn(pump(tcp_read, far_write, links, to, from));
            Ok(app)
        }
    }
}

/// Carries bytes from `read` (sent by host `from`) to `write` (at host
/// `to`), each chunk after its link's delay, in order; holds them while the
/// link is partitioned. The end of the stream travels the same way.
async fn pump<R, W>(mut read: R, mut write: W, links: Arc<Links>, from: String, to: String)
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Option<Vec<u8>>)>();
    let reader = {
        let (links, from, to) = (links.clone(), from.clone(), to.clone());
        async move {
            let mut last = Instant::now();
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = read.read(&mut buf).await.unwrap_or(0);
                let due = (Instant::now() + links.delivery(&from, &to).delay).max(last);
                last = due;
                let chunk = (n > 0).then(|| buf[..n].to_vec());
                let end = chunk.is_none();
                if tx.send((due, chunk)).is_err() || end {
                    return;
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            // tokio's timer rounds up to its next 1 ms tick: a chunk that is
            // already due (a link without latency) must not wait for it.
            if due > Instant::now() {
                tokio::time::sleep_until(due).await;
            }
            links.unheld(&from, &to).await;
            match chunk {
                Some(bytes) => {
                    if write.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = write.shutdown().await;
                    return;
                }
            }
        }
    };
    // The writer ends the pump; the reader may stop first (end of stream).
    let reader = tokio::spawn(reader);
    writer.await;
    reader.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_only_between_hosts_and_holds_partitioned_links() {
        let links = Links::new(Duration::from_millis(5), Duration::ZERO, 0.0, 1);
        assert_eq!(links.delivery("a", "a").delay, Duration::ZERO);
        assert_eq!(links.delivery("a", "b").delay, Duration::from_millis(5));
        links.set_latency("a", "b", Duration::from_millis(50));
        assert_eq!(links.delivery("b", "a").delay, Duration::from_millis(50));
        links.hold("a", "b");
        assert!(links.delivery("a", "b").held && links.delivery("b", "a").held);
        links.release("a", "b");
        assert!(!links.delivery("a", "b").held);
    }

    #[test]
    fn jitter_stays_in_range_and_loss_costs_a_retransmission() {
        let links = Links::new(Duration::from_millis(2), Duration::from_millis(3), 0.0, 7);
        for _ in 0..1000 {
            let d = links.delivery("a", "b").delay;
            assert!(
                d >= Duration::from_millis(2) && d < Duration::from_millis(5),
                "{d:?}"
            );
        }
        links.set_loss("a", "b", Some(1.0));
        assert!(links.delivery("a", "b").delay >= RTO);
    }
}
