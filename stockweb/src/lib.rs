/*!
StockWeb: the web app of the seed's demo.

`GET /` renders the "NASDAQ 100" page (Symbol, Name, Server, sorted by
symbol); `GET /api/stocks` returns the same data as JSON, with every call's
outcome and latency; `GET /api/stock/{id}` makes one call and returns its
outcome. An `x-request-id` request header is passed on to StockData. Building a page issues 100 concurrent `Get` calls
(ids 2..=101) through ONE gRPC client, which is what makes the seed's point:
resolved once and kept on one HTTP/2 connection, that client sends all 100
calls to one StockData replica.

```no_run
# async fn demo() -> std::io::Result<()> {
use std::sync::Arc;
use stockdata::transport::{TokioConnect, TokioResolve};
use stockweb::{ClientConfig, Upstream, StockClient, StockWeb};
let client = StockClient::new(
    ClientConfig {
        upstream: Upstream::Direct { service: "stockdata".into(), port: 50051 },
        handler_lifetime: None,
        http2: Default::default(),
    },
    TokioConnect,
    TokioResolve,
);
let app = Arc::new(StockWeb::new("stockweb-0", client));
let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
stockweb::serve(listener, app).await
# }
```
*/
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod page;

pub use client::{
    ClientConfig, ClientError, ClientHttp2, ClientSet, Conn, StockClient, Upstream,
    is_connection_failure,
};
pub use page::{Call, CallCount, PAGE_IDS, Page, Row, StockWeb, TITLE, render_html};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use stockdata::transport::{Connect, Listener, Resolve, serve_http1};

pub use stockdata::code_name;

/// StockWeb's HTTP routes: `/` (HTML) and `/api/stocks` (JSON).
pub fn router<C: Connect, R: Resolve>(app: Arc<StockWeb<C, R>>) -> Router {
    Router::new()
        .route("/", get(html_page::<C, R>))
        .route("/api/stocks", get(json_page::<C, R>))
        .route("/api/stock/{id}", get(json_one::<C, R>))
        .with_state(app)
}

fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(stockdata::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
}

async fn html_page<C: Connect, R: Resolve>(
    State(app): State<Arc<StockWeb<C, R>>>,
    headers: HeaderMap,
) -> Html<String> {
    Html(render_html(&app.load_page(request_id(&headers)).await))
}

async fn json_page<C: Connect, R: Resolve>(
    State(app): State<Arc<StockWeb<C, R>>>,
    headers: HeaderMap,
) -> Json<Page> {
    Json(app.load_page(request_id(&headers)).await)
}

async fn json_one<C: Connect, R: Resolve>(
    State(app): State<Arc<StockWeb<C, R>>>,
    Path(id): Path<i32>,
    headers: HeaderMap,
) -> Json<Call> {
    Json(app.get_one(id, request_id(&headers)).await)
}

/// Serves StockWeb over HTTP/1.1 on `listener` until accepting fails.
pub async fn serve<L: Listener, C: Connect, R: Resolve>(
    listener: L,
    app: Arc<StockWeb<C, R>>,
) -> std::io::Result<()> {
    serve_http1(listener, router(app)).await
}
