//! Unit tests of the endpoint-stack layers, each against a `tower-test`
//! mock endpoint, in paused tokio time (so every duration is exact).

mod layers;

use super::available::Available;
use super::body::Buffered;
use super::classify::{Classified, Outcome};
use http::{Request, Response};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::time::Instant;
use tower::Service;
use tower_test::mock;

/// The mock handle: the test answers each request the layer sends down.
pub type Handle<U> = mock::Handle<Request<Buffered>, U>;

/// A `tower-test` mock as an endpoint: always available, its errors
/// mapped to `Outcome::Reset`.
pub struct Mocked<U>(mock::Mock<Request<Buffered>, U>);

impl<U> Available for Mocked<U> {
    fn is_available(&self, _: Instant) -> bool {
        true
    }
}

impl<U: Send + 'static> Service<Request<Buffered>> for Mocked<U> {
    type Response = U;
    type Error = Outcome;
    type Future = Pin<Box<dyn Future<Output = Result<U, Outcome>> + Send>>;
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Outcome>> {
        self.0.poll_ready(cx).map_err(|_| Outcome::Reset)
    }
    fn call(&mut self, request: Request<Buffered>) -> Self::Future {
        let call = self.0.call(request);
        Box::pin(async move { call.await.map_err(|_| Outcome::Reset) })
    }
}

/// A mock endpoint answering raw responses, and its handle.
pub fn raw() -> (Mocked<Response<Buffered>>, Handle<Response<Buffered>>) {
    let (m, h) = mock::pair();
    (Mocked(m), h)
}

/// A mock endpoint answering classified responses, and its handle.
pub fn classified() -> (Mocked<Classified>, Handle<Classified>) {
    let (m, h) = mock::pair();
    (Mocked(m), h)
}

/// A classified response with gRPC `code`.
pub fn answer(code: tonic::Code) -> Classified {
    Classified {
        outcome: Outcome::Grpc(code),
        response: Response::new(Buffered::empty()),
    }
}

/// An empty request.
pub fn request() -> Request<Buffered> {
    Request::new(Buffered::empty())
}
