//! `meshsim proxy`'s admin port: `/metrics` (Prometheus text), `/ready`
//! and `/live`, served over HTTP/1 until the proxy has drained.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use sim::control::ControlPlane;
use sim::proxy::metrics::ProxyMetrics;
use sim::proxy::prometheus;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stockdata::transport::{Drained, Graceful, serve_http1_graceful};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the admin port answers from.
#[derive(Clone)]
pub struct AdminState {
    pub cluster: ControlPlane,
    pub service: String,
    /// False once the proxy is shutting down (`/ready` answers 503).
    pub serving: Arc<AtomicBool>,
    pub metrics: Arc<Mutex<ProxyMetrics>>,
}

/// The running admin server.
pub struct Admin {
    stop: watch::Sender<bool>,
    task: JoinHandle<Drained>,
}

/// Serves `state` on `listener` until [`Admin::stop`].
pub fn serve(listener: TcpListener, state: AdminState) -> Admin {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve_http1_graceful(
        listener,
        tower::service_fn(move |req| {
            let response = state.answer(&req);
            async move { Ok::<_, Infallible>(response) }
        }),
        async move {
            let mut stopped = stopped;
            let _ = stopped.wait_for(|s| *s).await;
        },
        Graceful {
            drain_timeout: Duration::from_secs(1),
            ..Graceful::default()
        },
    ));
    Admin { stop, task }
}

impl Admin {
    /// Stops the admin server and waits for it to finish.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

const PLAIN: &str = "text/plain; charset=utf-8";

/// A response of `status` with `body` as `content_type`.
fn text(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

impl AdminState {
    fn answer<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        match req.uri().path() {
            "/metrics" => self.metrics(),
            "/ready" => self.ready(),
            "/live" => text(StatusCode::OK, PLAIN, "live\n".into()),
            _ => text(
                StatusCode::NOT_FOUND,
                PLAIN,
                "not found: try /metrics or /ready\n".into(),
            ),
        }
    }

    /// `/metrics`: the proxy's metrics, Prometheus text.
    fn metrics(&self) -> Response<Full<Bytes>> {
        let metrics = self
            .metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        text(
            StatusCode::OK,
            prometheus::CONTENT_TYPE,
            prometheus::render(&metrics),
        )
    }

    /// `/ready`: 200 while serving with at least one endpoint.
    fn ready(&self) -> Response<Full<Bytes>> {
        let endpoints = self.cluster.ready_endpoints(&self.service).len();
        if !self.serving.load(Ordering::Relaxed) {
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                PLAIN,
                "shutting down\n".into(),
            )
        } else if endpoints == 0 {
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                PLAIN,
                format!("no endpoints for {}\n", self.service),
            )
        } else {
            text(StatusCode::OK, PLAIN, "ready\n".into())
        }
    }
}
