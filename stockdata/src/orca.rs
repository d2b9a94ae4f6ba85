//! ORCA-style load reports: each response carries the replica's own
//! measure of its load, for clients that weight endpoints by it (gRPC's
//! `weighted_round_robin`, Envoy's `client_side_weighted_round_robin`).
//!
//! gRPC's per-request ORCA reporting puts one binary-serialized
//! `xds.data.orca.v3.OrcaLoadReport` in the `endpoint-load-metrics-bin`
//! trailer (grpc/grpc-go `orca/internal/internal.go`,
//! `TrailerMetadataKey`). A replica here reports, over the last whole
//! second of its own clock:
//!
//! - `application_utilization`: worker-slot time used ÷ (slots × 1 s);
//! - `rps_fractional`: requests answered per second;
//! - `eps`: of which errors, per second.
//!
//! That is what an application records with gRPC's `ServerMetricRecorder`;
//! the first second reports zeros, which clients ignore (an "empty"
//! report). A trailers-only response (an error) has no trailers frame: its
//! headers are its trailers, so the report goes there.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tonic::server::NamedService;

/// The trailer that carries the report (binary metadata: base64 on the
/// wire).
pub const ORCA_TRAILER: &str = "endpoint-load-metrics-bin";

/// The fields of `xds.data.orca.v3.OrcaLoadReport` (cncf/xds
/// `xds/data/orca/v3/orca_load_report.proto`) that StockData fills; field
/// numbers as in the proto, so any ORCA reader decodes it.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct OrcaLoadReport {
    /// CPU utilisation, 0 to 1 (not reported: 0).
    #[prost(double, tag = "1")]
    pub cpu_utilization: f64,
    /// Requests per second.
    #[prost(double, tag = "6")]
    pub rps_fractional: f64,
    /// Errors per second.
    #[prost(double, tag = "7")]
    pub eps: f64,
    /// Application-defined utilisation (here: worker slots).
    #[prost(double, tag = "9")]
    pub application_utilization: f64,
}

impl OrcaLoadReport {
    /// The trailer value: base64 (unpadded, as gRPC writes `-bin` values)
    /// of the serialized message.
    pub fn to_header(&self) -> HeaderValue {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(prost::Message::encode_to_vec(self));
        // Base64's alphabet is always a valid header value.
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// Reads a report from trailers (or a trailers-only response's
    /// headers); `None` if absent or malformed. Padded and unpadded
    /// base64 are both accepted, as gRPC requires.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        use base64::Engine;
        let text = headers.get(ORCA_TRAILER)?.to_str().ok()?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text.trim_end_matches('='))
            .ok()?;
        prost::Message::decode(bytes.as_slice()).ok()
    }
}

/// One second of a replica's answers.
#[derive(Debug, Clone, Copy, Default)]
struct Second {
    index: u64,
    answered: u64,
    errors: u64,
    busy: Duration,
}

/// A replica's answers by whole second of its clock, for its reports.
#[derive(Debug)]
pub struct LoadWindow {
    start: Instant,
    slots: usize,
    current: Second,
    previous: Second,
}

impl LoadWindow {
    /// A window starting now, for a replica with `slots` worker slots.
    pub fn new(slots: usize) -> Self {
        Self {
            start: Instant::now(),
            slots: slots.max(1),
            current: Second::default(),
            previous: Second::default(),
        }
    }

    fn roll(&mut self, now: Instant) {
        let index = now.saturating_duration_since(self.start).as_secs();
        if index == self.current.index {
            return;
        }
        self.previous = if index == self.current.index + 1 {
            self.current
        } else {
            // A whole second without answers.
            Second::default()
        };
        self.current = Second {
            index,
            ..Second::default()
        };
    }

    /// Counts a request that held a worker slot for `busy` (utilisation
    /// counts every hold) and, if it was answered, its answer (`Some(ok)`;
    /// `None`: its caller had gone, so no answer reached anyone).
    pub fn record(&mut self, answer: Option<bool>, busy: Duration) {
        self.roll(Instant::now());
        if let Some(ok) = answer {
            self.current.answered += 1;
            self.current.errors += u64::from(!ok);
        }
        self.current.busy += busy;
    }

    /// The report for the last whole second.
    pub fn report(&mut self) -> OrcaLoadReport {
        self.roll(Instant::now());
        let p = self.previous;
        OrcaLoadReport {
            cpu_utilization: 0.0,
            rps_fractional: p.answered as f64,
            eps: p.errors as f64,
            application_utilization: p.busy.as_secs_f64() / self.slots as f64,
        }
    }
}

/// Adds the replica's load report to every response of the inner service.
#[derive(Debug, Clone)]
pub struct LoadReporting<S> {
    inner: S,
    window: Arc<Mutex<LoadWindow>>,
}

impl<S> LoadReporting<S> {
    /// Reports `window` on `inner`'s responses.
    pub fn new(inner: S, window: Arc<Mutex<LoadWindow>>) -> Self {
        Self { inner, window }
    }
}

impl<S: NamedService> NamedService for LoadReporting<S> {
    const NAME: &'static str = S::NAME;
}

fn report_of(window: &Mutex<LoadWindow>) -> HeaderValue {
    window
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .report()
        .to_header()
}

impl<S, B> tower::Service<http::Request<B>> for LoadReporting<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let call = self.inner.call(request);
        let window = self.window.clone();
        Box::pin(async move {
            let mut response = call.await?;
            if response.headers().contains_key("grpc-status") {
                // Trailers-only: these headers are the trailers.
                response
                    .headers_mut()
                    .insert(ORCA_TRAILER, report_of(&window));
                return Ok(response);
            }
            Ok(response.map(|inner| tonic::body::Body::new(WithReport { inner, window })))
        })
    }
}

/// A response body whose trailers gain the load report, taken when the
/// trailers are sent (after the work, so it includes this answer's
/// second).
struct WithReport {
    inner: tonic::body::Body,
    window: Arc<Mutex<LoadWindow>>,
}

impl Body for WithReport {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match polled {
            Poll::Ready(Some(Ok(frame))) => match frame.into_trailers() {
                Ok(mut trailers) => {
                    trailers.insert(ORCA_TRAILER, report_of(&self.window));
                    Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn reports_the_last_whole_second() {
        let mut w = LoadWindow::new(4);
        assert_eq!(w.report(), OrcaLoadReport::default(), "nothing yet");
        for answer in [Some(true), Some(true), Some(false), None] {
            w.record(answer, Duration::from_millis(300));
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        let r = w.report();
        assert_eq!((r.rps_fractional, r.eps), (3.0, 1.0));
        // 4 holds of 300 ms over 4 slots for 1 s, the abandoned one too.
        assert!((r.application_utilization - 0.3).abs() < 1e-9, "{r:?}");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(w.report(), OrcaLoadReport::default(), "an idle second");
    }

    #[test]
    fn the_trailer_round_trips_as_orca_binary_metadata() {
        let r = OrcaLoadReport {
            cpu_utilization: 0.0,
            rps_fractional: 120.0,
            eps: 2.0,
            application_utilization: 0.75,
        };
        let mut headers = HeaderMap::new();
        headers.insert(ORCA_TRAILER, r.to_header());
        assert_eq!(OrcaLoadReport::from_headers(&headers), Some(r));
        // Field 9 (application_utilization) is a double: tag (9 << 3) | 1.
        let bytes = prost::Message::encode_to_vec(&r);
        assert!(bytes.windows(1).any(|b| b == [0x49]), "{bytes:02x?}");
        headers.insert(ORCA_TRAILER, HeaderValue::from_static("!!"));
        assert_eq!(OrcaLoadReport::from_headers(&headers), None);
    }
}
