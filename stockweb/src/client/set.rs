//! The connections one page's calls use: one, or one per address, and
//! what a failed call does to them (moves a pin, asks for re-resolution).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use stockdata::pb::stocks_client::StocksClient;
use stockdata::transport::StreamSlots;
use tonic::transport::Channel;

/// One connection: its client and its stream slots.
#[derive(Clone)]
pub struct Conn {
    /// The gRPC client on the connection.
    pub client: StocksClient<Channel>,
    /// The connection's stream slots.
    pub slots: StreamSlots,
    /// Its position in its [`ClientSet`].
    pub index: usize,
}

/// The client(s) to use for one page: one client, or one per address for
/// client-side round robin. Cheap to clone.
#[derive(Clone)]
pub struct ClientSet {
    pub(super) clients: Arc<Vec<Conn>>,
    pub(super) cursor: Arc<AtomicUsize>,
    pub(super) resolve_now: Arc<AtomicBool>,
    /// Pin-until-error: `next` stays on the cursor, failures move it.
    pub(super) pinned: bool,
}

impl ClientSet {
    /// Tells the client how a call made through this set failed. A
    /// connection-level UNAVAILABLE (the transport's error: a refused or
    /// broken connection, not a status the server sent) asks for
    /// re-resolution, as grpc-go's subchannel going to TRANSIENT_FAILURE or
    /// IDLE calls `ResolveNow` (grpc/grpc-go
    /// `balancer/pickfirst/pickfirstleaf/pickfirstleaf.go`). Client-side
    /// round robin and pin-until-error act on it.
    ///
    /// Pin-until-error moves its pin to the next address when a call on the
    /// pinned connection (`conn`) failed with a server error
    /// ([`stockdata::is_server_error`]: dialogue moves on 5xx, not on 429)
    /// or a broken connection; only once per pin, so
    /// late failures from an old pin do not move it again (dialogue's
    /// `compareAndSet`).
    pub fn on_error(&self, conn: &Conn, status: &tonic::Status) {
        if self.pinned && stockdata::is_server_error(status.code()) {
            let next = (conn.index + 1) % self.clients.len();
            let _ = self.cursor.compare_exchange(
                conn.index,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        if is_connection_failure(status) {
            self.resolve_now.store(true, Ordering::Relaxed);
        }
    }

    /// The connection for the next call: the pinned one, or round robin
    /// over the set.
    pub fn next(&self) -> Conn {
        let i = if self.pinned {
            self.cursor.load(Ordering::Relaxed)
        } else {
            self.cursor.fetch_add(1, Ordering::Relaxed)
        };
        self.clients[i % self.clients.len()].clone()
    }

    /// Number of clients (connections) in the set.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether the set is empty (never, once built).
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

/// Whether `status` is a connection-level UNAVAILABLE: tonic attaches the
/// transport error as the source; a status the server sent has none.
pub fn is_connection_failure(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::Unavailable && std::error::Error::source(status).is_some()
}
