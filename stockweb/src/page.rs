//! One page load: 100 concurrent `Get` calls through the single client.

use crate::client::StockClient;
use crate::code_name;
// Escapes `&`, `<`, `>`, `"` and `'` for element content and quoted
// attributes: the one function meshsim's HTML reports use too
// (`reports::html::escape` is this function, re-exported).
use html_escape::encode_quoted_attribute as escape;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use stockdata::pb::GetRequest;
use stockdata::transport::{Connect, Resolve};
use stockdata::{REQUEST_ID_HEADER, SERVER_ID_HEADER};
use tokio::time::Instant;

/// The ids the seed's page asks for.
pub const PAGE_IDS: RangeInclusive<i32> = 2..=101;

/// The page title.
pub const TITLE: &str = "NASDAQ 100";

/// One table row: a stock and the replica that served it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// Stock id.
    pub id: i32,
    /// Ticker symbol.
    pub symbol: String,
    /// Company name.
    pub name: String,
    /// The `server-id` of the replica that answered.
    pub server: String,
}

/// One gRPC call as the application saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The id asked for.
    pub id: i32,
    /// The gRPC status code name (`OK`, `NOT_FOUND`, …).
    pub code: String,
    /// The `server-id` the answer carried, if any.
    pub server: Option<String>,
    /// From issuing the call to its outcome, in microseconds of tokio time.
    pub latency_us: u64,
    /// Of which the call waited for a stream slot on its connection (the
    /// peer's `SETTINGS_MAX_CONCURRENT_STREAMS`), µs; absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stream_wait_us: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A rendered page's data (`GET /api/stocks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Always [`TITLE`].
    pub title: String,
    /// The StockWeb pod that built the page.
    pub stockweb_pod: String,
    /// Rows sorted by symbol (calls that failed have no row).
    pub rows: Vec<Row>,
    /// Failed calls by gRPC code name.
    pub errors: BTreeMap<String, u64>,
    /// Every call, in id order.
    pub calls: Vec<Call>,
    /// The whole fan-out, in microseconds.
    pub elapsed_us: u64,
}

/// How many calls an application issued, counted as they are made (so the
/// calls of a page that never reached its browser are counted too); cheap
/// to clone, shared by every clone and by every process of one pod.
#[derive(Debug, Clone, Default)]
pub struct CallCount(Arc<AtomicU64>);

impl CallCount {
    /// Calls issued so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The StockWeb application: a pod name, its client, and the page logic.
pub struct StockWeb<C, R> {
    pod: String,
    client: StockClient<C, R>,
    calls: CallCount,
}

// === impl StockWeb ===

impl<C: Connect, R: Resolve> StockWeb<C, R> {
    /// An application for pod `pod` using `client`.
    pub fn new(pod: impl Into<String>, client: StockClient<C, R>) -> Self {
        Self::counting(pod, client, CallCount::default())
    }

    /// An application that counts every call it issues in `calls`.
    pub fn counting(pod: impl Into<String>, client: StockClient<C, R>, calls: CallCount) -> Self {
        Self {
            pod: pod.into(),
            client,
            calls,
        }
    }

    /// The pod name.
    pub fn pod(&self) -> &str {
        &self.pod
    }

    /// Loads the page: every id in [`PAGE_IDS`] concurrently through the one
    /// client. Failures are counted, never fatal. With a `request_id` (the
    /// page request's `x-request-id`), call `i` carries `{request_id}/{i}`.
    pub async fn load_page(&self, request_id: Option<&str>) -> Page {
        let start = Instant::now();
        let client = self.client.client().await;
        let calls = PAGE_IDS.map(|id| {
            let client = client.as_ref().map(|set| (set.next(), set));
            let call_id = request_id.map(|r| format!("{r}/{id}"));
            self.calls.add();
            async move { call(client, id, call_id).await }
        });
        let results = futures::future::join_all(calls).await;
        let elapsed_us = micros(start.elapsed());

        let mut rows = Vec::new();
        let mut errors = BTreeMap::new();
        let mut calls = Vec::with_capacity(results.len());
        for (call, stock) in results {
            match stock {
                Some(stock) if call.code == "OK" => rows.push(Row {
                    id: stock.id,
                    symbol: stock.symbol,
                    name: stock.name,
                    server: call.server.clone().unwrap_or_default(),
                }),
                _ => *errors.entry(call.code.clone()).or_insert(0) += 1,
            }
            calls.push(call);
        }
        rows.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Page {
            title: TITLE.to_string(),
            stockweb_pod: self.pod.clone(),
            rows,
            errors,
            calls,
            elapsed_us,
        }
    }
}

impl<C: Connect, R: Resolve> StockWeb<C, R> {
    /// One `Get` through the client (`GET /api/stock/{id}`).
    pub async fn get_one(&self, id: i32, request_id: Option<&str>) -> Call {
        let client = self.client.client().await;
        self.calls.add();
        call(
            client.as_ref().map(|set| (set.next(), set)),
            id,
            request_id.map(str::to_string),
        )
        .await
        .0
    }
}

async fn call(
    client: Result<(crate::client::Conn, &crate::ClientSet), &crate::ClientError>,
    id: i32,
    request_id: Option<String>,
) -> (Call, Option<stockdata::pb::Stock>) {
    let call_start = Instant::now();
    let mut stream_wait_us = 0;
    let (code, server, stock) = match client {
        Err(e) => (e.code_name(), None, None),
        Ok((conn, set)) => {
            let mut client = conn.client.clone();
            // Held until the call ends, as h2 holds the stream.
            let slot = conn.slots.acquire().await;
            stream_wait_us = micros(slot.waited);
            let mut request = tonic::Request::new(GetRequest { id });
            if let Some(value) = request_id.and_then(|r| r.parse().ok()) {
                request.metadata_mut().insert(REQUEST_ID_HEADER, value);
            }
            match client.get(request).await {
                Ok(resp) => {
                    let server = server_id(resp.metadata());
                    ("OK", server, resp.into_inner().stock)
                }
                Err(status) => {
                    set.on_error(&conn, &status);
                    (code_name(status.code()), server_id(status.metadata()), None)
                }
            }
        }
    };
    let latency_us = micros(call_start.elapsed());
    (
        Call {
            id,
            code: code.to_string(),
            server,
            latency_us,
            stream_wait_us,
        },
        stock,
    )
}

fn server_id(meta: &tonic::metadata::MetadataMap) -> Option<String> {
    meta.get(SERVER_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Renders the page as HTML: title, error summary, Symbol / Name / Server.
pub fn render_html(page: &Page) -> String {
    let mut html = String::with_capacity(16 * 1024);
    html.push_str("<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>");
    html.push_str(&escape(&page.title));
    html.push_str("</title></head>\n<body>\n<h1>");
    html.push_str(&escape(&page.title));
    html.push_str("</h1>\n<p>Served by ");
    html.push_str(&escape(&page.stockweb_pod));
    html.push_str(&format!(
        " in {:.3} ms.</p>\n",
        page.elapsed_us as f64 / 1000.0
    ));
    if !page.errors.is_empty() {
        html.push_str("<p class=\"errors\">Errors:");
        for (code, n) in &page.errors {
            html.push_str(&format!(" {} × {n};", escape(code)));
        }
        html.push_str("</p>\n");
    }
    html.push_str(
        "<table>\n<thead><tr><th>Symbol</th><th>Name</th><th>Server</th></tr></thead>\n<tbody>\n",
    );
    for row in &page.rows {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            escape(&row.symbol),
            escape(&row.name),
            escape(&row.server)
        ));
    }
    html.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_lists_rows() {
        let page = Page {
            title: TITLE.into(),
            stockweb_pod: "stockweb-0".into(),
            rows: vec![Row {
                id: 76,
                symbol: "ORLY".into(),
                name: "O'Reilly <Auto> & Co".into(),
                server: "stockdata-1".into(),
            }],
            errors: BTreeMap::from([("NOT_FOUND".to_string(), 2)]),
            calls: vec![],
            elapsed_us: 1500,
        };
        let html = render_html(&page);
        assert!(html.contains("<h1>NASDAQ 100</h1>"));
        assert!(html.contains("<td>O&#x27;Reilly &lt;Auto&gt; &amp; Co</td><td>stockdata-1</td>"));
        assert!(html.contains("NOT_FOUND × 2;"));
        assert!(html.contains("in 1.500 ms"));
    }
}
