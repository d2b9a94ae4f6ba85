//! Arrival schedules: when each page load (or request) is due.
//!
//! A schedule is a pure function of its parameters, so every strategy of a
//! comparison sees exactly the same arrival times.

use std::time::Duration;

/// `count` arrivals, the first at `start`, then one every `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedInterval {
    /// Offset of the first arrival from the start of the run.
    pub start: Duration,
    /// Gap between consecutive arrivals.
    pub interval: Duration,
    /// Number of arrivals.
    pub count: u64,
}

impl FixedInterval {
    /// Arrival offsets from the start of the run, in order. Offsets past
    /// `Duration::MAX` saturate there (validation refuses such schedules
    /// anyway; nothing here may overflow on the way).
    pub fn times(&self) -> impl Iterator<Item = Duration> + '_ {
        (0..self.count).map(move |k| self.at(k))
    }

    /// The offset of arrival `k` (0-based), saturating at `Duration::MAX`.
    pub fn at(&self, k: u64) -> Duration {
        saturating_mul(self.interval, k)
            .checked_add(self.start)
            .unwrap_or(Duration::MAX)
    }

    /// The offset of the last arrival (`start` if there are none), in
    /// constant time whatever `count` is.
    pub fn last(&self) -> Duration {
        self.count.checked_sub(1).map_or(self.start, |k| self.at(k))
    }
}

/// `d × k`, saturating at `Duration::MAX` (k may exceed `u32`).
fn saturating_mul(d: Duration, k: u64) -> Duration {
    let nanos = d.as_nanos().saturating_mul(u128::from(k));
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or_default();
    if secs == u64::MAX {
        return Duration::MAX;
    }
    Duration::new(secs, sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evenly_spaced_from_start() {
        let s = FixedInterval {
            start: Duration::from_millis(10),
            interval: Duration::from_millis(25),
            count: 4,
        };
        let ms: Vec<u128> = s.times().map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![10, 35, 60, 85]);
        assert_eq!(s.last(), Duration::from_millis(85));
    }

    #[test]
    fn huge_schedules_saturate_in_constant_time() {
        let s = FixedInterval {
            start: Duration::from_millis(10),
            interval: Duration::from_secs(5_000_000 * 3600),
            count: 2_000_000_000,
        };
        assert_eq!(s.last(), Duration::MAX);
        let s = FixedInterval {
            start: Duration::from_millis(1),
            interval: Duration::from_millis(1),
            count: u64::MAX,
        };
        // u64::MAX ms is representable: exact, no walk over the arrivals.
        assert_eq!(s.last(), Duration::from_millis(u64::MAX));
        assert_eq!(s.at(5_000_000_000), Duration::from_millis(5_000_000_001));
    }

    #[test]
    fn empty_schedule() {
        let s = FixedInterval {
            start: Duration::from_millis(10),
            interval: Duration::from_millis(25),
            count: 0,
        };
        assert_eq!(s.times().count(), 0);
        assert_eq!(s.last(), Duration::from_millis(10));
    }
}
