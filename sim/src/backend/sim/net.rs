//! turmoil's simulated sockets behind the services' transport traits, with
//! packet loss modelled as retransmission delay.
//!
//! The orphan rule keeps `stockdata::transport::Listener` from being
//! implemented on `turmoil::net::TcpListener` directly, hence the newtypes.
//!
//! turmoil's TCP never retransmits: a dropped segment wedges its connection
//! for ever. Real TCP retransmits a lost segment after the retransmission
//! timeout, and everything behind it on the connection waits (head-of-line
//! blocking). So loss here is a delay: each write on a lossy link is, with
//! the link's loss probability, held back for [`TCP_RTO_MIN`] before it is
//! sent, and later writes on the connection queue behind it. (A write may be
//! several segments; treating it as one is the approximation.)

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use stockdata::transport::{Connect, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Linux's minimum retransmission timeout (`TCP_RTO_MIN`, 200 ms): the
/// delay a lost segment costs on a connection with a short RTT.
pub const TCP_RTO_MIN: Duration = Duration::from_millis(200);

/// Loss probabilities between hosts, for one simulation.
#[derive(Debug, Default)]
pub struct NetFaults {
    default_rate: f64,
    rates: Mutex<BTreeMap<(IpAddr, IpAddr), f64>>,
    seed: u64,
}

impl NetFaults {
    /// Loss `default_rate` on every link; `seed` drives the draws.
    pub fn new(default_rate: f64, seed: u64) -> Self {
        Self {
            default_rate,
            rates: Mutex::default(),
            seed,
        }
    }

    fn key(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
        if a <= b { (a, b) } else { (b, a) }
    }

    /// Sets the loss probability of the link between `a` and `b` (both
    /// directions); `None` returns it to the default.
    pub fn set(&self, a: IpAddr, b: IpAddr, rate: Option<f64>) {
        let mut rates = crate::sync::lock(&self.rates);
        match rate {
            Some(r) => rates.insert(Self::key(a, b), r),
            None => rates.remove(&Self::key(a, b)),
        };
    }

    fn rate(&self, a: IpAddr, b: IpAddr) -> f64 {
        crate::sync::lock(&self.rates)
            .get(&Self::key(a, b))
            .copied()
            .unwrap_or(self.default_rate)
    }
}

thread_local! {
    /// The faults of the simulation running on this thread (turmoil runs
    /// every host of a simulation on the thread that steps it).
    static FAULTS: RefCell<Option<Arc<NetFaults>>> = const { RefCell::new(None) };
}

/// Installs `faults` for simulations stepped on this thread.
pub fn install_faults(faults: Option<Arc<NetFaults>>) {
    FAULTS.with(|f| *f.borrow_mut() = faults);
}

fn current_faults() -> Option<Arc<NetFaults>> {
    FAULTS.with(|f| f.borrow().clone())
}

/// A turmoil TCP stream whose writes may be delayed as if retransmitted.
pub struct SimStream {
    inner: turmoil::net::TcpStream,
    local: IpAddr,
    peer: IpAddr,
    faults: Option<Arc<NetFaults>>,
    rng: ChaCha8Rng,
    /// A write held back by a "lost" segment.
    delay: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The held-back write has served its delay: send it.
    released: bool,
}

impl SimStream {
    fn new(inner: turmoil::net::TcpStream) -> Self {
        let local = inner
            .local_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let peer_addr = inner.peer_addr().ok();
        let peer = peer_addr
            .map(|a| a.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let faults = current_faults();
        let mut seed = faults.as_ref().map(|f| f.seed).unwrap_or(0);
        for b in format!("{:?}{:?}", inner.local_addr().ok(), peer_addr).bytes() {
            seed = seed.rotate_left(5) ^ u64::from(b);
            seed = seed.wrapping_mul(0x0100_0000_01b3);
        }
        Self {
            inner,
            local,
            peer,
            faults,
            rng: ChaCha8Rng::seed_from_u64(seed),
            delay: None,
            released: false,
        }
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(delay) = this.delay.as_mut() {
            if delay.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.delay = None;
            this.released = true;
        }
        if !this.released {
            let rate = this
                .faults
                .as_ref()
                .map(|f| f.rate(this.local, this.peer))
                .unwrap_or(0.0);
            if rate > 0.0 && this.rng.random::<f64>() < rate {
                let mut delay = Box::pin(tokio::time::sleep(TCP_RTO_MIN));
                if delay.as_mut().poll(cx).is_pending() {
                    this.delay = Some(delay);
                    return Poll::Pending;
                }
            }
        }
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        if written.is_ready() {
            this.released = false;
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A turmoil TCP listener.
pub struct SimListener(pub turmoil::net::TcpListener);

impl SimListener {
    /// Binds on the current host.
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        turmoil::net::TcpListener::bind(addr).await.map(SimListener)
    }
}

impl Listener for SimListener {
    type Io = SimStream;
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send {
        let accept = self.0.accept();
        async move {
            let (stream, peer) = accept.await?;
            Ok((SimStream::new(stream), peer))
        }
    }
}

/// Dials turmoil TCP connections from the current host.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimConnect;

impl Connect for SimConnect {
    type Io = SimStream;
    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Io>> + Send + 'static {
        connect_sim(addr)
    }
}

async fn connect_sim(addr: SocketAddr) -> io::Result<SimStream> {
    turmoil::net::TcpStream::connect(addr)
        .await
        .map(SimStream::new)
}
