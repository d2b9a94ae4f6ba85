use super::*;
use crate::proxy::accrual::{AccrualConfig, AccrualLayer};
use crate::proxy::balance::IsRetry;
use crate::proxy::classify::ClassifyLayer;
use crate::proxy::load::{LoadMetric, MeasureLayer};
use crate::proxy::metrics::{Ejections, MetricsLayer, ProxyMetrics};
use crate::proxy::outlier::{OutlierConfig, OutlierDetector, OutlierLayer};
use crate::proxy::timeout::PerTryTimeoutLayer;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::Code;
use tower::load::Load;
use tower::{Layer, ServiceExt};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn measure_counts_requests_in_flight_until_answered_or_dropped() {
    let (endpoint, mut handle) = classified();
    let mut svc = MeasureLayer::new(LoadMetric::PendingRequests).layer(endpoint);
    let first = svc.ready().await.expect("ready").call(request());
    let second = svc.ready().await.expect("ready").call(request());
    assert_eq!(svc.load(), 2.0);
    let (_, reply) = handle.next_request().await.expect("first");
    reply.send_response(answer(Code::Ok));
    first.await.expect("answered");
    assert_eq!(svc.load(), 1.0);
    drop(second);
    assert_eq!(svc.load(), 0.0, "a dropped attempt is no longer pending");
}

#[tokio::test(start_paused = true)]
async fn measure_peak_ewma_jumps_to_a_slow_round_trip() {
    let (endpoint, mut handle) = classified();
    let metric = LoadMetric::PeakEwma {
        default_rtt: ms(30),
        decay: Duration::from_secs(10),
    };
    let mut svc = MeasureLayer::new(metric).layer(endpoint);
    assert_eq!(svc.load(), 30e6, "a new endpoint costs the default RTT");
    let call = svc.ready().await.expect("ready").call(request());
    assert_eq!(svc.load(), 60e6, "× (pending + 1)");
    let (_, reply) = handle.next_request().await.expect("request");
    tokio::time::advance(ms(200)).await;
    reply.send_response(answer(Code::Ok));
    call.await.expect("answered");
    assert_eq!(svc.load(), 200e6, "a slower round trip is taken at once");
}

#[tokio::test(start_paused = true)]
async fn accrual_opens_after_consecutive_failures_and_probes_after_the_penalty() {
    let (endpoint, mut handle) = classified();
    let ejections = Ejections::default();
    let config = AccrualConfig {
        jitter: 0.0,
        ..AccrualConfig::default()
    };
    let mut svc = AccrualLayer::new(config, 1, ejections.clone()).layer(endpoint);
    for i in 0..7 {
        assert!(
            svc.is_available(Instant::now()),
            "closed after {i} failures"
        );
        let call = svc.ready().await.expect("ready").call(request());
        let (_, reply) = handle.next_request().await.expect("request");
        reply.send_response(answer(Code::Unavailable));
        assert_eq!(
            call.await.expect("answered").outcome,
            Outcome::Grpc(Code::Unavailable)
        );
    }
    assert!(!svc.is_available(Instant::now()), "open after 7");
    assert_eq!(ejections.take(), 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(
        svc.is_available(Instant::now()),
        "probation after the 1 s penalty"
    );
    let probe = svc.ready().await.expect("ready").call(request());
    assert!(!svc.is_available(Instant::now()), "one probe at a time");
    let (_, reply) = handle.next_request().await.expect("probe");
    reply.send_response(answer(Code::NotFound));
    probe.await.expect("answered");
    assert!(
        svc.is_available(Instant::now()),
        "NOT_FOUND is a success for health"
    );
}

#[tokio::test(start_paused = true)]
async fn outlier_ejects_after_consecutive_5xx_and_counts_it() {
    // Two hosts: Envoy's rule, (0 + 1) / 2 = 50 %, needs a 50 % limit.
    let config = OutlierConfig {
        max_ejection_percent: 50,
        ..OutlierConfig::default()
    };
    let detector = Arc::new(Mutex::new(OutlierDetector::new(config, Instant::now())));
    detector
        .lock()
        .expect("lock")
        .retain(&["a".into(), "b".into()]);
    let (endpoint, mut handle) = classified();
    let ejections = Ejections::default();
    let mut svc = OutlierLayer::new(detector.clone(), "a", ejections.clone()).layer(endpoint);
    for _ in 0..5 {
        assert!(svc.is_available(Instant::now()));
        let call = svc.ready().await.expect("ready").call(request());
        let (_, reply) = handle.next_request().await.expect("request");
        reply.send_error("connection reset");
        assert_eq!(call.await.expect_err("failed"), Outcome::Reset);
    }
    assert!(!svc.is_available(Instant::now()), "ejected after 5");
    assert_eq!(ejections.take(), 1);
    // 30 s base ejection, back at the next 10 s sweep.
    tokio::time::advance(Duration::from_secs(30)).await;
    assert!(svc.is_available(Instant::now()));
}

#[tokio::test(start_paused = true)]
async fn metrics_record_each_attempt_its_outcome_latency_and_ejections() {
    let metrics = Arc::new(Mutex::new(ProxyMetrics::default()));
    let (endpoint, mut handle) = classified();
    let ejections = Ejections::default();
    let mut svc = MetricsLayer::new(metrics.clone(), "pod-0", ejections.clone()).layer(endpoint);
    let call = svc.ready().await.expect("ready").call(request());
    let (_, reply) = handle.next_request().await.expect("request");
    tokio::time::advance(ms(12)).await;
    reply.send_response(answer(Code::Ok));
    call.await.expect("answered");
    let mut retry = request();
    retry.extensions_mut().insert(IsRetry);
    let call = svc.ready().await.expect("ready").call(retry);
    let (_, reply) = handle.next_request().await.expect("request");
    ejections.add();
    reply.send_response(answer(Code::Unavailable));
    call.await.expect("answered");
    let m = metrics.lock().expect("lock");
    let e = &m.endpoints["pod-0"];
    assert_eq!((e.requests, e.retries, e.successes), (2, 1, 1));
    assert_eq!(e.failures.get("UNAVAILABLE"), Some(&1));
    assert_eq!(e.ejections, 1);
    assert_eq!(e.latency.len(), 2);
    let h = e.latency.histogram();
    assert!(
        h.equivalent(h.max(), 12_000),
        "slowest 12 ms: {} µs",
        h.max()
    );
}

#[tokio::test(start_paused = true)]
async fn per_try_timeout_ends_a_slow_attempt_as_timeout() {
    let (endpoint, mut handle) = raw();
    let mut svc = PerTryTimeoutLayer::new(ms(50)).layer(endpoint);
    let slow = svc.ready().await.expect("ready").call(request());
    let (_, _never) = handle.next_request().await.expect("request");
    let start = Instant::now();
    assert_eq!(slow.await.expect_err("timed out"), Outcome::Timeout);
    assert_eq!(start.elapsed(), ms(50));
    let fast = svc.ready().await.expect("ready").call(request());
    let (_, reply) = handle.next_request().await.expect("request");
    tokio::time::advance(ms(49)).await;
    reply.send_response(Response::new(Buffered::empty()));
    assert!(fast.await.is_ok(), "an answer inside the limit passes");
}

#[tokio::test(start_paused = true)]
async fn classify_reads_grpc_status_once() {
    let (endpoint, mut handle) = raw();
    let mut svc = ClassifyLayer.layer(endpoint);
    let call = svc.ready().await.expect("ready").call(request());
    let (_, reply) = handle.next_request().await.expect("request");
    let mut response = Response::new(Buffered::empty());
    response
        .headers_mut()
        .insert("grpc-status", http::HeaderValue::from_static("14"));
    reply.send_response(response);
    let classified = call.await.expect("answered");
    assert_eq!(classified.outcome, Outcome::Grpc(Code::Unavailable));
    assert!(classified.outcome.is_failure() && classified.outcome.is_safe_to_retry());
}
