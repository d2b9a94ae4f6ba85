//! Round robin: each request to the next endpoint in turn.
//!
//! The simplest per-request policy, and the one the seed's demo shows: with
//! two replicas, a page's 100 calls split 50/50 however the application
//! holds its connection. It ignores load, so a slow endpoint still gets its
//! full share (what the load-aware balancers are for).

use std::task::{Context, Poll};
use tower::Service;

/// Round robin over a fixed list of endpoint services.
#[derive(Debug, Clone)]
pub struct RoundRobin<S> {
    endpoints: Vec<S>,
    next: usize,
    /// The endpoint made ready by `poll_ready`, used by the next `call`.
    chosen: Option<usize>,
}

/// Returned when there is nothing to balance over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("round robin over no endpoints")]
pub struct NoEndpoints;

impl<S> RoundRobin<S> {
    /// A balancer starting at the first endpoint.
    pub fn new(endpoints: Vec<S>) -> Self {
        Self {
            endpoints,
            next: 0,
            chosen: None,
        }
    }

    /// The endpoints, in order.
    pub fn endpoints(&self) -> &[S] {
        &self.endpoints
    }
}

impl<S, Req> Service<Req> for RoundRobin<S>
where
    S: Service<Req>,
    S::Error: From<NoEndpoints>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.endpoints.is_empty() {
            return Poll::Ready(Err(NoEndpoints.into()));
        }
        let index = match self.chosen {
            Some(i) => i,
            None => {
                let i = self.next % self.endpoints.len();
                self.next = self.next.wrapping_add(1);
                self.chosen = Some(i);
                i
            }
        };
        self.endpoints[index].poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // tower's contract: `call` follows a successful `poll_ready`.
        let index = self
            .chosen
            .take()
            .expect("RoundRobin::call without poll_ready");
        self.endpoints[index].call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[derive(Debug, PartialEq)]
    struct Empty;
    impl From<NoEndpoints> for Empty {
        fn from(_: NoEndpoints) -> Self {
            Empty
        }
    }

    /// An endpoint that answers with its own name.
    #[derive(Clone)]
    struct Named(&'static str);
    impl Service<()> for Named {
        type Response = &'static str;
        type Error = Empty;
        type Future = std::future::Ready<Result<&'static str, Empty>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Empty>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, (): ()) -> Self::Future {
            std::future::ready(Ok(self.0))
        }
    }

    #[tokio::test]
    async fn cycles_exactly() {
        let mut rr = RoundRobin::new(vec![Named("a"), Named("b"), Named("c")]);
        let mut got = Vec::new();
        for _ in 0..7 {
            got.push(rr.ready().await.expect("ready").call(()).await.expect("ok"));
        }
        assert_eq!(got, ["a", "b", "c", "a", "b", "c", "a"]);
    }

    #[tokio::test]
    async fn empty_is_an_error() {
        let mut rr: RoundRobin<Named> = RoundRobin::new(vec![]);
        assert_eq!(rr.ready().await.err(), Some(Empty));
    }
}
