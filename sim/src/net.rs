//! turmoil's simulated sockets behind the services' transport traits.
//!
//! The orphan rule keeps `stockdata::transport::Listener` from being
//! implemented on `turmoil::net::TcpListener` directly, hence the newtypes.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use stockdata::transport::{Connect, Listener};

/// A turmoil TCP listener.
pub struct SimListener(pub turmoil::net::TcpListener);

impl SimListener {
    /// Binds on the current host.
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        turmoil::net::TcpListener::bind(addr).await.map(SimListener)
    }
}

impl Listener for SimListener {
    type Io = turmoil::net::TcpStream;
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send {
        self.0.accept()
    }
}

/// Dials turmoil TCP connections from the current host.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimConnect;

impl Connect for SimConnect {
    type Io = turmoil::net::TcpStream;
    fn connect(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::Io>> + Send + 'static {
        turmoil::net::TcpStream::connect(addr)
    }
}
