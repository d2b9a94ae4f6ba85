//! What a balancing policy is, and the one table that registers them.
//!
//! A policy is one module under `balance/` whose picker implements [`Pick`]:
//! its names (as written after `sidecar:` in strategies and scenario files,
//! each with the bare sidecar it stands for), its `balancer` line in the
//! settings, whether it reads the endpoints' load, and how it picks. The
//! [`policies!`] invocation in `balance/mod.rs` registers it with one line;
//! from that line come the [`super::Policy`] enum (a policy and its
//! parameters, as configured), the balancer's per-policy state
//! ([`Picker`]), the settings text ([`super::Policy::describe`]) and the
//! name table ([`names`]) that the profiles and strategy parsing read. So a
//! new policy touches its own module and that line, nothing else.
//!
//! Why a macro and not a table of trait objects: a pick is on every
//! request's path, and round robin's costs about a hundred instructions;
//! a virtual call per pick (and per availability check of its O(1) path)
//! would be a measurable share of it (`meshsim bench --instructions`). The
//! macro writes the `match` that dispatches statically, so each policy's
//! code inlines into the balancer as the hand-written `match` did.

use super::Candidate;
use crate::proxy::load::LoadMetric;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

/// One name of a policy, and the bare sidecar it stands for.
#[derive(Debug)]
pub struct Named {
    /// The name after `sidecar:` (`round-robin`, `peak-ewma`, …).
    pub name: &'static str,
    /// The policy and the load metric the endpoints measure for it.
    pub sidecar: fn() -> (super::Policy, LoadMetric),
}

/// The balancer's endpoints as a policy's O(1) path sees them.
pub trait Endpoints {
    /// How many there are (available or not).
    fn count(&self) -> usize;
    /// Endpoint `i`'s pod name.
    fn name(&self, i: usize) -> &str;
    /// Whether endpoint `i` may take a request at `now` ([`super::Available`]).
    fn is_available(&self, i: usize, now: Instant) -> bool;
    /// Endpoint `i`'s load.
    fn load(&self, i: usize) -> f64;
    /// Endpoint `i`'s configured weight.
    fn weight(&self, i: usize) -> u32;
}

/// A policy's per-balancer state and behaviour.
pub trait Pick: Sized + Send {
    /// The names the policy is written with, in the order strategies list
    /// them.
    const NAMES: &'static [Named];

    /// Whether picks compare the endpoints' load (the balancer reads it for
    /// the candidates only then; it is 0 otherwise).
    const LOAD_AWARE: bool;

    /// The state for `policy` (this policy's own variant). Whatever it draws
    /// from `rng` shifts every later draw of the balancer, so a policy that
    /// needs no random start draws nothing.
    fn new(policy: &super::Policy, rng: &mut ChaCha8Rng) -> Self;

    /// The `balancer` line of the settings for `policy` over `load`.
    fn describe(policy: &super::Policy, load: &LoadMetric) -> String;

    /// Picks a position in `candidates` (non-empty).
    fn pick(&mut self, candidates: &[Candidate], now: Instant, rng: &mut ChaCha8Rng) -> usize;

    /// A pick over the whole endpoint list in O(1), when the policy can
    /// decide that way (the balancer asks only without a panic threshold);
    /// `None` leaves it to [`Pick::pick`] over the filtered candidates.
    fn pick_fast<E: Endpoints + ?Sized>(
        &mut self,
        _endpoints: &E,
        _avoid: &[String],
        _now: Instant,
        _rng: &mut ChaCha8Rng,
    ) -> Option<usize> {
        None
    }

    /// The endpoint list changed (discovery): a policy that precomputes
    /// something over the whole list for [`Pick::pick_fast`] rebuilds it
    /// here, once per change rather than once per pick.
    fn rebuilt<E: Endpoints + ?Sized>(&mut self, _endpoints: &E) {}
}

/// Registers the balancing policies: one line each,
/// `Variant [{ parameter: Type, … }] => module::Picker,`. Generates the
/// configured [`super::Policy`] enum, the balancer's statically dispatched
/// [`Picker`] and the [`POLICIES`] name table.
macro_rules! policies {
    ($(
        $(#[$doc:meta])*
        $variant:ident $({ $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* $(,)? })?
            => $module:ident :: $picker:ident,
    )*) => {
        /// A balancing policy and its parameters, as configured (one
        /// variant per registered policy).
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub enum Policy {
            $( $(#[$doc])* $variant $({ $( $(#[$fdoc])* $field: $ty ),* })?, )*
        }

        impl Policy {
            /// The `balancer` line of the settings over `load`.
            pub fn describe(&self, load: &$crate::proxy::load::LoadMetric) -> String {
                match self {
                    $( Policy::$variant { .. } =>
                        <$module::$picker as $crate::proxy::balance::policy::Pick>::describe(self, load), )*
                }
            }
        }

        /// Every policy's names, in registration order.
        pub const POLICIES: &[&[$crate::proxy::balance::policy::Named]] = &[
            $( <$module::$picker as $crate::proxy::balance::policy::Pick>::NAMES, )*
        ];

        /// The configured policy's state in one balancer. An explicit tag
        /// (`repr(u8)`), so telling the policy costs one byte compare on
        /// every pick rather than decoding a niche in a policy's fields.
        #[repr(u8)]
        pub(super) enum Picker {
            $( $variant($module::$picker), )*
        }

        impl Picker {
            pub(super) fn new(policy: &Policy, rng: &mut rand_chacha::ChaCha8Rng) -> Self {
                use $crate::proxy::balance::policy::Pick;
                match policy {
                    $( Policy::$variant { .. } => Picker::$variant(<$module::$picker as Pick>::new(policy, rng)), )*
                }
            }

            pub(super) fn load_aware(&self) -> bool {
                use $crate::proxy::balance::policy::Pick;
                match self {
                    $( Picker::$variant(_) => <$module::$picker>::LOAD_AWARE, )*
                }
            }

            #[inline]
            pub(super) fn pick_fast<E: $crate::proxy::balance::policy::Endpoints + ?Sized>(
                &mut self,
                endpoints: &E,
                avoid: &[String],
                now: tokio::time::Instant,
                rng: &mut rand_chacha::ChaCha8Rng,
            ) -> Option<usize> {
                use $crate::proxy::balance::policy::Pick;
                match self {
                    $( Picker::$variant(p) => Pick::pick_fast(p, endpoints, avoid, now, rng), )*
                }
            }

            pub(super) fn rebuilt<E: $crate::proxy::balance::policy::Endpoints + ?Sized>(
                &mut self,
                endpoints: &E,
            ) {
                use $crate::proxy::balance::policy::Pick;
                match self {
                    $( Picker::$variant(p) => Pick::rebuilt(p, endpoints), )*
                }
            }

            pub(super) fn pick(
                &mut self,
                candidates: &[Candidate],
                now: tokio::time::Instant,
                rng: &mut rand_chacha::ChaCha8Rng,
            ) -> usize {
                use $crate::proxy::balance::policy::Pick;
                match self {
                    $( Picker::$variant(p) => Pick::pick(p, candidates, now, rng), )*
                }
            }
        }
    };
}
pub(super) use policies;

/// Every policy name, in registration order.
pub fn names() -> impl Iterator<Item = &'static Named> {
    super::POLICIES.iter().flat_map(|names| names.iter())
}

/// The policy registered as `name`.
pub fn named(name: &str) -> Option<&'static Named> {
    names().find(|n| n.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name is registered once, and the policy its bare sidecar
    /// configures describes itself (settings) and builds a picker.
    #[test]
    fn every_registered_name_is_unique_and_resolves() {
        let all: Vec<&str> = names().map(|n| n.name).collect();
        let mut unique = all.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), all.len(), "{all:?}");
        for n in names() {
            let (policy, load) = (n.sidecar)();
            assert!(!policy.describe(&load).is_empty(), "{}", n.name);
            let mut rng = rand::SeedableRng::seed_from_u64(1);
            let _ = super::super::Picker::new(&policy, &mut rng);
        }
    }
}
