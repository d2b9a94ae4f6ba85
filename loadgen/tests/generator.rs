//! The generator's loops on tokio's paused clock: time only moves when
//! every task waits, so latencies come out exact.

use loadgen::{Issue, Ledger, Request, Summary, Think, Workload, run};
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

/// Within HdrHistogram's precision (3 significant digits).
fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= want * 0.001
}

/// A send that takes `ms` and answers with the request's index.
async fn answer_after(ms: u64, req: Request) -> Result<u64, String> {
    tokio::time::sleep(MS * ms as u32).await;
    Ok(req.index)
}

fn open(arrivals: Vec<Duration>, connections: Option<usize>, duration: Duration) -> Workload {
    Workload {
        issue: Issue::Open {
            arrivals,
            connections,
        },
        duration,
        drain: Duration::from_secs(10),
    }
}

#[tokio::test(start_paused = true)]
async fn connection_cap_delays_requests_and_correction_counts_the_wait() {
    // Five requests due 1 ms apart, one connection, 10 ms each: request k
    // waits for the k before it.
    let arrivals: Vec<Duration> = (0..5).map(|k| MS * k).collect();
    let ledger = Ledger::new();
    run(open(arrivals, Some(1), MS * 5), &ledger, |r| {
        answer_after(10, r)
    })
    .await
    .expect("no task panics");
    let records = ledger.take();
    for (k, r) in records.iter().enumerate() {
        let k = k as u32;
        let done = r.done.expect("completed");
        let sent = r.sent.expect("sent");
        assert_eq!(
            sent,
            MS * 10 * k,
            "request {k} sent when the one before finished"
        );
        assert_eq!(done - sent, MS * 10, "uncorrected stays 10 ms");
        // Due at k ms, done at 10(k+1) ms: 9 ms more per request.
        assert_eq!(done - r.intended, MS * (10 * (k + 1) - k), "corrected");
        assert_eq!(r.outcome, Some(Ok(u64::from(k))));
    }
    let s = Summary::of(&records, Duration::ZERO);
    assert_eq!((s.issued, s.sent, s.completed, s.measured), (5, 5, 5, 5));
    assert!(
        close(s.uncorrected.summary().max, 10.0),
        "{}",
        s.uncorrected.summary().max
    );
    assert!(
        close(s.corrected.summary().max, 46.0),
        "{}",
        s.corrected.summary().max
    );
}

#[tokio::test(start_paused = true)]
async fn all_due_at_once_corrected_grows_10_ms_per_request() {
    let ledger = Ledger::new();
    run(open(vec![Duration::ZERO; 4], Some(1), MS), &ledger, |r| {
        answer_after(10, r)
    })
    .await
    .expect("no task panics");
    let records = ledger.take();
    let latency = |from: fn(&loadgen::RequestRecord<u64>) -> Option<Duration>| -> Vec<Duration> {
        records
            .iter()
            .map(|r| r.done.unwrap_or_default() - from(r).unwrap_or_default())
            .collect()
    };
    assert_eq!(
        latency(|r| Some(r.intended)),
        [10, 20, 30, 40].map(|m| MS * m)
    );
    assert_eq!(latency(|r| r.sent), [MS * 10; 4]);
}

#[tokio::test(start_paused = true)]
async fn without_a_cap_nothing_waits() {
    let ledger = Ledger::new();
    let arrivals = vec![Duration::ZERO; 3];
    run(open(arrivals, None, MS), &ledger, |r| answer_after(10, r))
        .await
        .expect("no task panics");
    let s = Summary::of(&ledger.take(), Duration::ZERO);
    assert!(
        close(s.corrected.summary().max, 10.0),
        "{}",
        s.corrected.summary().max
    );
}

#[tokio::test(start_paused = true)]
async fn closed_loop_issues_one_request_per_cycle_per_user() {
    // 10 ms send + 40 ms think: each user issues at 0, 50, …, 950 ms.
    let workload = Workload {
        issue: Issue::Closed {
            user_seeds: vec![1, 2],
            think: Think::Constant(MS * 40),
        },
        duration: Duration::from_secs(1),
        drain: Duration::from_secs(1),
    };
    let ledger = Ledger::new();
    let start = tokio::time::Instant::now();
    run(workload, &ledger, |r| answer_after(10, r))
        .await
        .expect("no task panics");
    // The last think ends at 1000 ms, when the loop sees the period is over.
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    let records = ledger.take();
    let s = Summary::of(&records, Duration::ZERO);
    assert_eq!((s.issued, s.completed, s.in_flight_at_end), (40, 40, 0));
    assert_eq!(records.last().map(|r| r.intended), Some(MS * 950));
}

/// In real time (paused time never shows it): a zero sleep waits for the
/// timer's next 1 ms tick, so a closed loop without think time idled ~1 ms
/// per request (13 % of throughput against h2load at 6 ms requests).
#[tokio::test]
async fn no_think_time_sends_the_next_request_at_once() {
    let workload = Workload {
        issue: Issue::Closed {
            user_seeds: vec![1],
            think: Think::Constant(Duration::ZERO),
        },
        duration: MS * 50,
        drain: Duration::ZERO,
    };
    let ledger = Ledger::new();
    run(workload, &ledger, |r| async move {
        tokio::task::yield_now().await;
        Ok::<u64, String>(r.index)
    })
    .await
    .expect("no task panics");
    // Instant answers: thousands in 50 ms; with a tick per request, ~50.
    let n = ledger.take().len();
    assert!(n > 500, "{n} requests in 50 ms");
}

#[tokio::test(start_paused = true)]
async fn exponential_think_is_a_function_of_the_user_seeds() {
    let go = || async {
        let workload = Workload {
            issue: Issue::Closed {
                user_seeds: vec![7, 8, 9],
                think: Think::Exponential(MS * 30),
            },
            duration: Duration::from_secs(2),
            drain: Duration::ZERO,
        };
        let ledger = Ledger::new();
        run(workload, &ledger, |r| answer_after(5, r))
            .await
            .expect("no task panics");
        ledger.take()
    };
    let (a, b) = (go().await, go().await);
    assert_eq!(a, b);
    // About 2000 / 35 ≈ 57 requests per user.
    assert!((120..220).contains(&a.len()), "{} requests", a.len());
}

#[tokio::test(start_paused = true)]
async fn requests_still_running_at_the_drain_deadline_are_in_flight() {
    // Three due at 0, 10, 20 ms; one connection; 1 s each. The run stops
    // at 30 + 50 ms: the first is sent and in flight, the others wait for
    // the connection. A fourth fails at once.
    let workload = Workload {
        issue: Issue::Open {
            arrivals: vec![Duration::ZERO, MS * 10, MS * 20],
            connections: Some(1),
        },
        duration: MS * 30,
        drain: MS * 50,
    };
    let ledger = Ledger::new();
    let start = tokio::time::Instant::now();
    run(workload, &ledger, |r| answer_after(1000, r))
        .await
        .expect("no task panics");
    assert_eq!(start.elapsed(), MS * 80, "stops at the drain deadline");
    // The third never reached the loop before the end: counted, not a
    // record.
    assert_eq!(ledger.never_sent(), 1);
    let records = ledger.take();
    let s = Summary::of(&records, Duration::ZERO).with_never_sent(1);
    assert_eq!(
        (s.issued, s.sent, s.completed, s.failed, s.in_flight_at_end),
        (3, 1, 0, 0, 3)
    );
    assert!(s.balanced());
    assert!(
        records
            .iter()
            .all(|r| r.outcome.is_none() && r.done.is_none())
    );
}

#[tokio::test(start_paused = true)]
async fn every_issued_request_is_accounted_for() {
    // Even indices answer in 5 ms, odd ones fail in 1 ms, every fifth
    // never answers; 2 connections, 30 due 2 ms apart.
    let send = |r: Request| async move {
        if r.index % 5 == 4 {
            std::future::pending::<()>().await;
        }
        if r.index % 2 == 1 {
            tokio::time::sleep(MS).await;
            return Err(format!("request {} refused", r.index));
        }
        answer_after(5, r).await
    };
    let workload = Workload {
        issue: Issue::Open {
            arrivals: (0..30).map(|k| MS * 2 * k).collect(),
            connections: Some(2),
        },
        duration: MS * 60,
        drain: MS * 100,
    };
    let ledger = Ledger::new();
    run(workload, &ledger, send).await.expect("no task panics");
    let never_sent = ledger.never_sent();
    let s = Summary::of(&ledger.take(), Duration::ZERO).with_never_sent(never_sent);
    assert_eq!(s.issued, 30);
    // 11 records: the 10 sent, and the one the loop held waiting for a
    // connection at the end; the other 19 are only counted.
    assert_eq!(never_sent, 19);
    // Indices 4 and 9 hold both connections for good: 0–3 and 5–8 are done
    // before 9 is sent, the rest never get a connection.
    assert_eq!((s.completed, s.failed), (4, 4));
    assert_eq!(s.in_flight_at_end, 22);
    assert_eq!(s.sent, 10);
    assert!(s.balanced());
}

#[tokio::test(start_paused = true)]
async fn a_panicking_send_is_an_error() {
    let ledger: Ledger<()> = Ledger::new();
    let result = run(
        open(vec![Duration::ZERO], None, MS),
        &ledger,
        |r: Request| async move {
            assert!(r.index > 0, "send failed hard");
            Ok(())
        },
    )
    .await;
    assert!(result.is_err_and(|e| e.is_panic()));
}
