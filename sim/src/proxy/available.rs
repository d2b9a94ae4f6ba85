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

/// `impl Available for $layer<S>` by asking its `inner` service: for the
/// layers that never take an endpoint out of service themselves (timeouts,
/// classification, load measurement, metrics), and only pass the question
/// down.
///
/// Why a macro: each such layer repeated the same five lines, and the one
/// line `pass_available!(Layer);` beside the layer's type says what they
/// said. A blanket impl over an "I have an inner service" trait would
/// instead claim every layer with an inner service, the ones that do answer
/// (failure accrual, outlier detection) among them; the macro keeps that
/// choice per layer.
macro_rules! pass_available {
    ($layer:ident) => {
        impl<S: $crate::proxy::available::Available> $crate::proxy::available::Available
            for $layer<S>
        {
            #[inline]
            fn is_available(&self, now: tokio::time::Instant) -> bool {
                self.inner.is_available(now)
            }
        }
    };
}
pub(crate) use pass_available;
