//! The simulated browser: loads StockWeb's page on the scenario's schedule.

use super::{INGRESS, PageRecord, STOCKWEB};
use crate::cluster::Cluster;
use crate::net::SimConnect;
use crate::scenario::Scenario;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use stockdata::transport::Connect;
use stockweb::Page;
use tokio::task::JoinSet;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Starts the browser on the `ingress` host; returns where its page records
/// will be.
pub(crate) fn start(
    sim: &mut turmoil::Sim<'_>,
    scenario: &Scenario,
    cluster: &Cluster,
) -> Arc<Mutex<Vec<PageRecord>>> {
    let records: Arc<Mutex<Vec<PageRecord>>> = Arc::default();
    let out = records.clone();
    let schedule = scenario.schedule();
    let cluster = cluster.clone();
    sim.client(INGRESS, async move {
        let t0 = tokio::time::Instant::now();
        let webs = cluster.endpoints(STOCKWEB);
        let mut loads = JoinSet::new();
        for (k, at) in schedule.times().enumerate() {
            tokio::time::sleep_until(t0 + at).await;
            // Page loads go to the StockWeb pods in turn.
            let web = webs[k % webs.len()].clone();
            let records = records.clone();
            loads.spawn(async move {
                let outcome = fetch_page(web.addr, &format!("page-{k}"))
                    .await
                    .map_err(|e| e.to_string());
                records
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(PageRecord {
                        index: k as u64,
                        start: at,
                        outcome,
                    });
            });
        }
        while let Some(done) = loads.join_next().await {
            done?;
        }
        Ok(())
    });
    out
}

/// `GET /api/stocks` over a fresh HTTP/1.1 connection, as a browser would.
async fn fetch_page(addr: SocketAddr, request_id: &str) -> Result<Page, BoxError> {
    let io = SimConnect.connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(connection);
    let request = http::Request::get("/api/stocks")
        .header(http::header::HOST, STOCKWEB)
        .header(stockdata::REQUEST_ID_HEADER, request_id)
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    if !response.status().is_success() {
        return Err(format!("StockWeb answered HTTP {}", response.status()).into());
    }
    let body = response.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&body)?)
}
