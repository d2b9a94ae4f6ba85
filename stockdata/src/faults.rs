//! Error faults: a replica that answers with an error instead of (or after)
//! doing its work.
//!
//! Three kinds, each set and cleared live on a [`crate::ReplicaControl`] as a
//! chaos tool would flip a fault flag in a process:
//!
//! - [`ErrorFault`] (`errors` in a scenario): each request is answered with
//!   `code` with probability `rate`, either at once (a fast 503: the request
//!   costs no worker time) or after its service time (a slow error: the work
//!   is done and thrown away).
//! - [`OverloadFault`] (`overload`): load-dependent errors. While `limit`
//!   or more requests are in the replica (waiting or working), a new one is
//!   refused at once with `code`, as a server with admission control sheds:
//!   the replica holds at most `limit`.
//! - flakes: an [`ErrorFault`] set on every replica at once, usually with a
//!   small rate (rare flakes).
//!
//! Whether a request fails is drawn from the replica's own fault RNG, one
//! draw per active fault per request, so a retry of the same request is an
//! independent trial (a request-keyed draw would fail every retry that
//! lands on the same replica) and runs with no fault draw nothing.

use tonic::Code;

/// `errors`/`flakes`: answer `code` with probability `rate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorFault {
    /// The status answered.
    pub code: Code,
    /// Probability per request, 0 to 1.
    pub rate: f64,
    /// `true`: after the request's service time (a slow error, holding a
    /// worker slot); `false`: at once, before queueing.
    pub after_service: bool,
}

/// `overload`: refuse with `code` while `limit` or more requests are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverloadFault {
    /// Requests the replica holds (queued or working) before it refuses.
    pub limit: usize,
    /// The status answered.
    pub code: Code,
}

/// The error faults active on a replica.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// This replica's `errors`.
    pub errors: Option<ErrorFault>,
    /// Errors on every replica (`flakes`).
    pub flakes: Option<ErrorFault>,
    /// This replica's `overload`.
    pub overload: Option<OverloadFault>,
}

/// What a request's draw decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Serve,
    /// Answer `code` at once.
    FailNow(Code),
    /// Do the work, then answer `code`.
    FailAfterService(Code),
}

impl Faults {
    /// Decides a request's fate. `in_flight` counts the requests already in
    /// the replica (not this one); `draw` gives one uniform number in
    /// `[0, 1)` per call and is called only for active error faults.
    pub fn decide(&self, in_flight: usize, mut draw: impl FnMut() -> f64) -> Verdict {
        if let Some(o) = self.overload
            && in_flight >= o.limit
        {
            return Verdict::FailNow(o.code);
        }
        for fault in [self.errors, self.flakes].into_iter().flatten() {
            if fault.rate > 0.0 && draw() < fault.rate {
                return if fault.after_service {
                    Verdict::FailAfterService(fault.code)
                } else {
                    Verdict::FailNow(fault.code)
                };
            }
        }
        Verdict::Serve
    }
}

/// The gRPC code named `name` (`UNAVAILABLE`, as [`crate::code_name`]
/// spells them), if it is an error code (`OK` is not).
pub fn error_code(name: &str) -> Option<Code> {
    (1..=16)
        .map(Code::from_i32)
        .find(|c| crate::code_name(*c) == name)
}

/// Every error code's name, for error messages.
pub fn error_code_names() -> Vec<&'static str> {
    (1..=16)
        .map(|i| crate::code_name(Code::from_i32(i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST_503: ErrorFault = ErrorFault {
        code: Code::Unavailable,
        rate: 1.0,
        after_service: false,
    };

    #[test]
    fn overload_refuses_only_above_its_limit() {
        let f = Faults {
            overload: Some(OverloadFault {
                limit: 3,
                code: Code::ResourceExhausted,
            }),
            ..Faults::default()
        };
        let never = || panic!("no error fault is active: nothing to draw");
        assert_eq!(f.decide(2, never), Verdict::Serve);
        assert_eq!(
            f.decide(3, never),
            Verdict::FailNow(Code::ResourceExhausted)
        );
    }

    #[test]
    fn errors_fail_a_request_when_the_draw_is_below_the_rate() {
        let slow = Faults {
            errors: Some(ErrorFault {
                rate: 0.25,
                after_service: true,
                ..FAST_503
            }),
            ..Faults::default()
        };
        assert_eq!(
            slow.decide(0, || 0.2),
            Verdict::FailAfterService(Code::Unavailable)
        );
        assert_eq!(slow.decide(0, || 0.25), Verdict::Serve);
        let both = Faults {
            errors: Some(ErrorFault {
                rate: 0.0,
                ..FAST_503
            }),
            flakes: Some(FAST_503),
            ..Faults::default()
        };
        // A zero rate draws nothing; the flake draws once.
        let mut draws = 0;
        let v = both.decide(0, || {
            draws += 1;
            0.5
        });
        assert_eq!((v, draws), (Verdict::FailNow(Code::Unavailable), 1));
    }

    #[test]
    fn error_codes_are_read_by_their_canonical_names() {
        assert_eq!(error_code("UNAVAILABLE"), Some(Code::Unavailable));
        assert_eq!(
            error_code("RESOURCE_EXHAUSTED"),
            Some(Code::ResourceExhausted)
        );
        assert_eq!(error_code("OK"), None);
        assert_eq!(error_code("unavailable"), None);
        assert_eq!(error_code_names().len(), 16);
    }
}
