//! What a balancer asks of an endpoint before sending it anything.
//!
//! Why not `poll_ready`: tower's balancers learn that an endpoint cannot take
//! a request by polling it (`ReadyCache`), which registers a waker per
//! endpoint and makes every pick depend on the order wakers fire. A sidecar
//! needs a plain answer *now* for the two endpoints a power-of-two pick
//! draws (O(1), not O(n) polls), and the simulator needs the answer to be a
//! pure function of time and state so that runs repeat byte for byte. So
//! every layer of the endpoint stack that can take an endpoint out of
//! service (connect backoff, failure accrual, outlier ejection) says so
//! through [`Available`], and every other layer passes the question down.
//! Load is asked the same way, through tower's own [`tower::load::Load`].

use tokio::time::Instant;

/// Something that can say whether it can take a request now.
pub trait Available {
    /// Whether a request may be sent now.
    fn is_available(&self, now: Instant) -> bool;
}

/// A layer switched off by `ServiceBuilder::option_layer` is
/// `Either::Right(inner)`: it asks the inner service.
impl<A: Available, B: Available> Available for tower::util::Either<A, B> {
    fn is_available(&self, now: Instant) -> bool {
        match self {
            tower::util::Either::Left(a) => a.is_available(now),
            tower::util::Either::Right(b) => b.is_available(now),
        }
    }
}
