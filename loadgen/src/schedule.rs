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
    /// Arrival offsets from the start of the run, in order.
    pub fn times(&self) -> impl Iterator<Item = Duration> + '_ {
        (0..self.count).map(move |k| self.start + self.interval.saturating_mul(saturating_u32(k)))
    }

    /// The offset of the last arrival (`start` if there are none).
    pub fn last(&self) -> Duration {
        self.times().last().unwrap_or(self.start)
    }
}

fn saturating_u32(k: u64) -> u32 {
    u32::try_from(k).unwrap_or(u32::MAX)
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
