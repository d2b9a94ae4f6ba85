//! What happened to one attempt, in the terms policies need.
//!
//! gRPC answers almost everything with HTTP 200 and puts the real status in
//! `grpc-status` (in the trailers, or in the headers of a "trailers-only"
//! response). Retries, failure accrual and outlier detection all key off this
//! classification, so it lives in one place: [`Classify`] is the layer just
//! above the connection, and every layer above it reads the [`Outcome`] it
//! attached instead of parsing `grpc-status` again.

use super::body::Buffered;
use http::{HeaderMap, Request, Response};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::Code;
use tower::{Layer, Service};

/// A response and its outcome, classified once.
#[derive(Debug)]
pub struct Classified {
    /// How the attempt went (for a response: its gRPC status).
    pub outcome: Outcome,
    /// The endpoint's response.
    pub response: Response<Buffered>,
}

/// The outcome of an attempt through the endpoint stack, answered or not.
pub fn outcome_of(result: &Result<Classified, Outcome>) -> Outcome {
    match result {
        Ok(classified) => classified.outcome,
        Err(outcome) => *outcome,
    }
}

/// Classifies each response of the inner service by its gRPC status.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassifyLayer;

impl<S> Layer<S> for ClassifyLayer {
    type Service = Classify<S>;
    fn layer(&self, inner: S) -> Classify<S> {
        Classify { inner }
    }
}

/// See [`ClassifyLayer`].
#[derive(Debug, Clone)]
pub struct Classify<S> {
    inner: S,
}

super::available::pass_available!(Classify);

impl<S> Service<Request<Buffered>> for Classify<S>
where
    S: Service<Request<Buffered>, Response = Response<Buffered>, Error = Outcome>,
    S::Future: Send + Unpin + 'static,
{
    type Response = Classified;
    type Error = Outcome;
    type Future = ClassifyFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Outcome>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        ClassifyFuture {
            call: self.inner.call(request),
        }
    }
}

/// An attempt through [`Classify`]: the inner response, classified. A
/// plain struct over an `Unpin` inner future rather than a boxed `async`
/// block.
#[derive(Debug)]
pub struct ClassifyFuture<F> {
    call: F,
}

impl<F> Future for ClassifyFuture<F>
where
    F: Future<Output = Result<Response<Buffered>, Outcome>> + Unpin,
{
    type Output = Result<Classified, Outcome>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = std::task::ready!(Pin::new(&mut self.call).poll(cx))?;
        let outcome = if response.body().is_complete() {
            Outcome::of_response(&response, response.body().trailers())
        } else {
            // Streamed (longer than the replay cap): its trailers pass
            // through unread, so only the headers classify it; a 2xx
            // without `grpc-status` is taken as OK.
            Outcome::of_headers(&response)
        };
        Poll::Ready(Ok(Classified { outcome, response }))
    }
}

/// The outcome of one attempt to one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered with this gRPC status.
    Grpc(Code),
    /// No connection could be opened: the request never left the proxy.
    ConnectFailed,
    /// The request was refused before the server saw it (HTTP/2
    /// REFUSED_STREAM, a connection that closed before sending).
    NotSent,
    /// The picked endpoint turned out not to be ready: its connection
    /// closed (GOAWAY, peer gone) before the request was written. Tower's
    /// balancer checks an endpoint's readiness just before dispatching to
    /// it and picks another when the check fails; this is that failed
    /// check, and the balancer picks again ([`super::balance::SharedBalance`]).
    Unready,
    /// The stream or connection failed after the request was sent: the
    /// server may have acted on it.
    Reset,
    /// The attempt exceeded its per-try timeout.
    Timeout,
}

impl Outcome {
    /// Classifies a buffered response by its gRPC status.
    pub fn of_response<B>(response: &Response<B>, trailers: Option<&HeaderMap>) -> Outcome {
        let status = grpc_status(response.headers()).or_else(|| trailers.and_then(grpc_status));
        match status {
            Some(code) => Outcome::Grpc(code),
            None if response.status().is_success() => Outcome::Grpc(Code::Unknown),
            None => Outcome::Grpc(http_to_grpc(response.status())),
        }
    }

    /// Classifies a streamed response by its headers alone: a
    /// `grpc-status` there (trailers-only) or its HTTP status, a 2xx
    /// without `grpc-status` counting as OK.
    pub fn of_headers<B>(response: &Response<B>) -> Outcome {
        match grpc_status(response.headers()) {
            Some(code) => Outcome::Grpc(code),
            None if response.status().is_success() => Outcome::Grpc(Code::Ok),
            None => Outcome::Grpc(http_to_grpc(response.status())),
        }
    }

    /// Whether this counts against the endpoint's health: connection
    /// failures, resets, timeouts and the server-error gRPC codes (those
    /// Envoy maps to HTTP 5xx). `NOT_FOUND` or `INVALID_ARGUMENT` are the
    /// caller's problem, not the endpoint's.
    /// An endpoint found not ready answered nothing and is not counted.
    pub fn is_failure(&self) -> bool {
        match self {
            Outcome::Grpc(code) => stockdata::is_server_error(*code),
            Outcome::Unready => false,
            _ => true,
        }
    }

    /// Whether the request may be sent again without risk of doing its work
    /// twice: it never reached the server (`ConnectFailed`, `NotSent`), or
    /// the server said `UNAVAILABLE` (gRPC's "safe to retry" status).
    /// Anything else is retried only on routes marked idempotent.
    pub fn is_safe_to_retry(&self) -> bool {
        matches!(
            self,
            Outcome::ConnectFailed
                | Outcome::NotSent
                | Outcome::Unready
                | Outcome::Grpc(Code::Unavailable)
        )
    }

    /// The gRPC code the application sees if this is the final outcome.
    pub fn code(&self) -> Code {
        match self {
            Outcome::Grpc(code) => *code,
            Outcome::ConnectFailed | Outcome::NotSent | Outcome::Unready | Outcome::Reset => {
                Code::Unavailable
            }
            Outcome::Timeout => Code::DeadlineExceeded,
        }
    }

    /// A stable name for metrics: the gRPC code name, or the proxy-side
    /// failure.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Grpc(code) => stockdata::code_name(*code),
            Outcome::ConnectFailed => "CONNECT_FAILED",
            Outcome::NotSent => "NOT_SENT",
            Outcome::Unready => "NOT_READY",
            Outcome::Reset => "RESET",
            Outcome::Timeout => "TIMEOUT",
        }
    }
}

fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    // A `HeaderName` constant: looking up by `&str` parses and checks the
    // name on every call (twice a response when the status is in the
    // trailers).
    const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
    let value = headers.get(&GRPC_STATUS)?.to_str().ok()?;
    value.trim().parse::<i32>().ok().map(Code::from)
}

/// gRPC's HTTP-to-gRPC status mapping for responses without `grpc-status`.
fn http_to_grpc(status: http::StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(headers: &[(&'static str, &'static str)], status: u16) -> Response<()> {
        let mut r = Response::builder().status(status);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.body(()).expect("response")
    }

    #[test]
    fn reads_status_from_headers_or_trailers() {
        let trailers_only = response(&[("grpc-status", "14")], 200);
        assert_eq!(
            Outcome::of_response(&trailers_only, None),
            Outcome::Grpc(Code::Unavailable)
        );
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("5"));
        let normal = response(&[], 200);
        assert_eq!(
            Outcome::of_response(&normal, Some(&trailers)),
            Outcome::Grpc(Code::NotFound)
        );
        assert_eq!(
            Outcome::of_response(&normal, None),
            Outcome::Grpc(Code::Unknown)
        );
        assert_eq!(
            Outcome::of_response(&response(&[], 503), None),
            Outcome::Grpc(Code::Unavailable)
        );
    }

    #[test]
    fn failures_and_retry_safety() {
        assert!(!Outcome::Grpc(Code::Ok).is_failure());
        assert!(!Outcome::Grpc(Code::NotFound).is_failure());
        assert!(Outcome::Grpc(Code::Unavailable).is_failure());
        assert!(Outcome::Reset.is_failure());
        assert!(Outcome::ConnectFailed.is_safe_to_retry());
        assert!(Outcome::Grpc(Code::Unavailable).is_safe_to_retry());
        assert!(!Outcome::Reset.is_safe_to_retry());
        assert!(!Outcome::Timeout.is_safe_to_retry());
        assert!(!Outcome::Grpc(Code::Internal).is_safe_to_retry());
        assert_eq!(Outcome::Timeout.code(), Code::DeadlineExceeded);
    }
}
