//! Request accounting: one record per issued request, and what they add up
//! to.
//!
//! A load test that loses track of requests lies: a request still in flight
//! when the run ends, or one that never got a connection, is as much a
//! result as one that completed. So the generator writes a record the
//! moment a request is issued and updates it as the request is sent and
//! completes; [`Summary::of`] then puts every record in exactly one of
//! completed, failed or in flight at the end, and reports any record that
//! fits none of them instead of silently counting it somewhere.
//!
//! Latency is measured two ways. *Corrected* counts from when a request was
//! due, so a stall shows up in every request it delayed (coordinated
//! omission corrected, as wrk2 does); *uncorrected* counts from when it was
//! actually sent, which is what a naive closed-loop tool would report.

use crate::recorder::LatencyRecorder;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// One workload request, from issue to outcome. Times are offsets from the
/// start of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord<A> {
    /// Issue order (0, 1, 2, …).
    pub index: u64,
    /// When it was due (open loop) or issued (closed loop).
    pub intended: Duration,
    /// When it was sent (after waiting for a connection), if it was.
    pub sent: Option<Duration>,
    /// How long it waited for a connection (the open loop's
    /// `connections` cap); zero when it did not.
    pub connection_wait: Duration,
    /// When it completed, if it did before the end.
    pub done: Option<Duration>,
    /// The answer, or why the request failed; `None` while in flight.
    pub outcome: Option<Result<A, String>>,
}

/// Where the generator writes its records: shared, so the records can be
/// read by whoever started the run even when the run itself cannot return
/// them (a turmoil host's future, say).
#[derive(Debug)]
pub struct Ledger<A> {
    records: Arc<Mutex<Records<A>>>,
}

/// The records in issue order, in one vector: record `k` sits at position
/// `k` when requests are issued in order (always in the simulator), so a
/// lookup is one index; a map cost some 2.5× the records' own size, and
/// an open loop of 10M requests holds 10M records.
#[derive(Debug)]
struct Records<A> {
    list: Vec<RequestRecord<A>>,
    /// Requests issued but never sent, kept as a count: an open loop's
    /// arrivals still waiting for a connection when the run ended (up to
    /// 10M of them, which as records took some 215 bytes each).
    never_sent: u64,
    /// Whether `list` is in index order (a request issued out of order on
    /// a multi-threaded runtime clears it; `take` sorts then).
    sorted: bool,
}

impl<A> Default for Records<A> {
    fn default() -> Self {
        Self {
            list: Vec::new(),
            never_sent: 0,
            sorted: true,
        }
    }
}

impl<A> Records<A> {
    fn get_mut(&mut self, index: u64) -> Option<&mut RequestRecord<A>> {
        let at = usize::try_from(index).unwrap_or(usize::MAX);
        let i = if self.list.get(at).is_some_and(|r| r.index == index) {
            at
        } else if self.sorted {
            self.list.binary_search_by_key(&index, |r| r.index).ok()?
        } else {
            // Issued out of order: nearby first, then anywhere.
            let len = self.list.len();
            let mut near = at.saturating_sub(64).min(len)..at.saturating_add(64).min(len);
            near.find(|&i| self.list[i].index == index)
                .or_else(|| self.list.iter().rposition(|r| r.index == index))?
        };
        self.list.get_mut(i)
    }
}

impl<A> Clone for Ledger<A> {
    fn clone(&self) -> Self {
        Self {
            records: self.records.clone(),
        }
    }
}

impl<A> Default for Ledger<A> {
    fn default() -> Self {
        Self {
            records: Arc::default(),
        }
    }
}

impl<A> Ledger<A> {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes every record out, in issue order.
    pub fn take(&self) -> Vec<RequestRecord<A>> {
        let mut records = std::mem::take(&mut *self.lock());
        if !records.sorted {
            records.list.sort_by_key(|r| r.index);
        }
        records.list
    }

    /// How many requests were issued and never sent (not in
    /// [`Ledger::take`]'s records): in flight at the end, all of them.
    pub fn never_sent(&self) -> u64 {
        self.lock().never_sent
    }

    /// Counts `n` requests issued that will never be sent.
    pub(crate) fn issue_never_sent(&self, n: u64) {
        self.lock().never_sent += n;
    }

    /// Number of requests issued so far.
    pub fn len(&self) -> usize {
        self.lock().list.len()
    }

    /// Whether nothing was issued.
    pub fn is_empty(&self) -> bool {
        self.lock().list.is_empty()
    }

    pub(crate) fn issue(&self, index: u64, intended: Duration) {
        let record = RequestRecord {
            index,
            intended,
            sent: None,
            connection_wait: Duration::ZERO,
            done: None,
            outcome: None,
        };
        let mut records = self.lock();
        if let Some(r) = records.get_mut(index) {
            *r = record;
            return;
        }
        if records.list.last().is_some_and(|last| last.index > index) {
            records.sorted = false;
        }
        records.list.push(record);
    }

    pub(crate) fn sent(&self, index: u64, at: Duration, connection_wait: Duration) {
        if let Some(r) = self.lock().get_mut(index) {
            r.sent = Some(at);
            r.connection_wait = connection_wait;
        }
    }

    pub(crate) fn done(&self, index: u64, at: Duration, outcome: Result<A, String>) {
        if let Some(r) = self.lock().get_mut(index) {
            r.done = Some(at);
            r.outcome = Some(outcome);
        }
    }

    /// The records stay plain data a panicking holder cannot leave
    /// half-updated in a way that matters, so a poisoned lock is recovered
    /// rather than turning one panic into many.
    fn lock(&self) -> MutexGuard<'_, Records<A>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What happened to a request by the end of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate<'a, A> {
    /// Answered, at `done`.
    Completed {
        /// The answer.
        answer: &'a A,
        /// When it completed.
        done: Duration,
    },
    /// Failed (the send returned an error).
    Failed,
    /// Still waiting for a connection or an answer when the run ended.
    InFlight,
    /// An inconsistent record (an answer without a completion time): a bug
    /// in whoever wrote it, counted in none of the above.
    Unaccounted,
}

impl<A> RequestRecord<A> {
    /// Which of the accounting buckets this request falls in.
    pub fn fate(&self) -> Fate<'_, A> {
        match (&self.outcome, self.done) {
            (Some(Ok(answer)), Some(done)) => Fate::Completed { answer, done },
            (Some(Ok(_)), None) => Fate::Unaccounted,
            (Some(Err(_)), _) => Fate::Failed,
            (None, _) => Fate::InFlight,
        }
    }
}

/// Every issued request accounted for, and the workload's latency.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Requests issued.
    pub issued: u64,
    /// Of which sent (got a connection).
    pub sent: u64,
    /// Of which answered.
    pub completed: u64,
    /// Of which failed.
    pub failed: u64,
    /// Of which still in flight when the run ended.
    pub in_flight_at_end: u64,
    /// Completed requests due at or after the warm-up: the ones in the
    /// latency results.
    pub measured: u64,
    /// Latency of measured requests from when each was due.
    pub corrected: LatencyRecorder,
    /// Latency of measured requests from when each was sent.
    pub uncorrected: LatencyRecorder,
}

impl Summary {
    /// Sums up `records`; requests due before `warmup` are counted but left
    /// out of the latency results.
    pub fn of<A>(records: &[RequestRecord<A>], warmup: Duration) -> Summary {
        let mut s = Summary {
            issued: records.len() as u64,
            ..Summary::default()
        };
        for r in records {
            if r.sent.is_some() {
                s.sent += 1;
            }
            match r.fate() {
                Fate::Completed { done, .. } => {
                    s.completed += 1;
                    if r.intended >= warmup {
                        s.measured += 1;
                        s.corrected.record(done.saturating_sub(r.intended));
                        s.uncorrected
                            .record(done.saturating_sub(r.sent.unwrap_or(r.intended)));
                    }
                }
                Fate::Failed => s.failed += 1,
                Fate::InFlight => s.in_flight_at_end += 1,
                Fate::Unaccounted => {}
            }
        }
        s
    }

    /// Adds `n` requests issued and never sent ([`Ledger::never_sent`]):
    /// in flight at the end.
    pub fn with_never_sent(mut self, n: u64) -> Summary {
        self.issued += n;
        self.in_flight_at_end += n;
        self
    }

    /// Whether every issued request is completed, failed or in flight.
    pub fn balanced(&self) -> bool {
        self.issued == self.completed + self.failed + self.in_flight_at_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        index: u64,
        sent: Option<u64>,
        done: Option<u64>,
        outcome: Option<Result<(), String>>,
    ) -> RequestRecord<()> {
        let ms = Duration::from_millis;
        RequestRecord {
            index,
            intended: ms(index * 10),
            sent: sent.map(ms),
            connection_wait: Duration::ZERO,
            done: done.map(ms),
            outcome,
        }
    }

    #[test]
    fn every_record_lands_in_exactly_one_bucket() {
        let records = [
            rec(0, Some(0), Some(5), Some(Ok(()))),
            rec(1, Some(10), Some(12), Some(Err("refused".into()))),
            rec(2, Some(20), None, None),
            rec(3, None, None, None),
        ];
        let s = Summary::of(&records, Duration::ZERO);
        assert_eq!(
            (s.issued, s.sent, s.completed, s.failed, s.in_flight_at_end),
            (4, 3, 1, 1, 2)
        );
        assert!(s.balanced());
    }

    #[test]
    fn an_answer_without_a_completion_time_unbalances_the_summary() {
        let records = [rec(0, Some(0), None, Some(Ok(())))];
        let s = Summary::of(&records, Duration::ZERO);
        assert_eq!((s.completed, s.in_flight_at_end), (0, 0));
        assert!(!s.balanced());
    }

    #[test]
    fn warmup_requests_are_counted_but_not_measured() {
        let records = [
            rec(0, Some(0), Some(3), Some(Ok(()))),
            rec(1, Some(12), Some(15), Some(Ok(()))),
        ];
        let s = Summary::of(&records, Duration::from_millis(10));
        assert_eq!((s.completed, s.measured), (2, 1));
        // Corrected from due (10 ms), uncorrected from sent (12 ms).
        // (HdrHistogram's highest equivalent value: within 0.1%.)
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001;
        assert!(close(s.corrected.summary().max, 5.0));
        assert!(close(s.uncorrected.summary().max, 3.0));
    }

    #[test]
    fn records_issued_out_of_order_come_back_in_order() {
        let ledger: Ledger<()> = Ledger::new();
        for k in [0, 2, 1, 3] {
            ledger.issue(k, Duration::from_millis(k));
        }
        ledger.done(1, Duration::from_millis(9), Ok(()));
        ledger.sent(2, Duration::from_millis(5), Duration::ZERO);
        let r = ledger.take();
        assert_eq!(
            r.iter().map(|r| r.index).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(r[1].done, Some(Duration::from_millis(9)));
        assert_eq!(r[2].sent, Some(Duration::from_millis(5)));
        assert!(ledger.is_empty());
    }
}
