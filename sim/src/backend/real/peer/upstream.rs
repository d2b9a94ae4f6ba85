//! The peer's upstream servers: one local forwarder per ready StockData
//! replica, dialling it through the run's link emulator, so the peer's
//! traffic crosses the same emulated links as meshsim's own sidecar's.

use crate::control::Endpoint;
use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use stockdata::transport::Connect;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One upstream server: the replica's name and the forwarder in front of it.
pub(super) struct Upstream {
    pub(super) listen: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The ready endpoints of `endpoints`, in name order.
pub(super) fn ready(endpoints: &[Endpoint]) -> Vec<Endpoint> {
    let mut ready: Vec<Endpoint> = endpoints.iter().filter(|e| e.ready).cloned().collect();
    ready.sort_by(|a, b| a.pod.cmp(&b.pod));
    ready
}

/// Makes `upstreams` one forwarder per endpoint in `ready` (in name order).
pub(super) async fn sync<C: Connect>(
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

/// Each upstream's name and its forwarder's address.
pub(super) fn servers(upstreams: &BTreeMap<String, Upstream>) -> BTreeMap<String, SocketAddr> {
    upstreams
        .iter()
        .map(|(pod, u)| (pod.clone(), u.listen))
        .collect()
}
