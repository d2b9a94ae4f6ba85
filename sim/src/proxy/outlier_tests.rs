//! Unit tests of [`super::OutlierDetector`].

use super::*;

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("h{i}")).collect()
}

#[test]
fn ejects_after_consecutive_failures_and_returns_on_a_sweep() {
    let t0 = Instant::now();
    let mut d = OutlierDetector::new(OutlierConfig::default(), t0);
    d.retain(&names(10));
    let t = t0 + Duration::from_secs(3);
    for _ in 0..4 {
        d.record("h0", true, t);
    }
    assert!(!d.is_ejected("h0", t));
    d.record("h0", true, t);
    assert!(d.is_ejected("h0", t), "fifth consecutive failure ejects");
    // Ejected at 3 s for 30 s → eligible at the first sweep ≥ 33 s: 40 s.
    assert!(d.is_ejected("h0", t0 + Duration::from_secs(39)));
    assert!(!d.is_ejected("h0", t0 + Duration::from_secs(40)));
}

#[test]
fn ejection_time_grows_with_each_ejection() {
    let t0 = Instant::now();
    let mut d = OutlierDetector::new(OutlierConfig::default(), t0);
    d.retain(&names(10));
    let mut now = t0;
    let mut back_at = Vec::new();
    for _ in 0..3 {
        for _ in 0..5 {
            d.record("h1", true, now);
        }
        assert!(d.is_ejected("h1", now));
        let mut t = now;
        while d.is_ejected("h1", t) {
            t += Duration::from_secs(1);
        }
        back_at.push((t - now).as_secs());
        now = t;
    }
    // 30 s, then 60 s, then 90 s (each rounded up to a 10 s sweep).
    assert_eq!(back_at, vec![30, 60, 90]);
}

fn eject_all(d: &mut OutlierDetector, n: usize, t: Instant) {
    for i in 0..n {
        for _ in 0..5 {
            d.record(&format!("h{i}"), true, t);
        }
    }
}

#[test]
fn ejects_only_within_max_percent_counting_the_new_host() {
    let t = Instant::now();
    // Envoy's current rule: 10 % of 3 hosts admits no ejection (the old
    // "one host may always be ejected" rule ejected one).
    let mut d = OutlierDetector::new(OutlierConfig::default(), t);
    d.retain(&names(3));
    eject_all(&mut d, 3, t);
    assert_eq!(d.ejected_count(t), 0);
    // 10 hosts at 10 %: exactly one.
    let mut d = OutlierDetector::new(OutlierConfig::default(), t);
    d.retain(&names(10));
    eject_all(&mut d, 10, t);
    assert_eq!(d.ejected_count(t), 1);
    // 3 hosts at 50 %: (1 + 1) / 3 = 67 % > 50 %, so one, not two.
    let half = OutlierConfig {
        max_ejection_percent: 50,
        ..OutlierConfig::default()
    };
    let mut d = OutlierDetector::new(half, t);
    d.retain(&names(3));
    eject_all(&mut d, 3, t);
    assert_eq!(d.ejected_count(t), 1);
    let mut d = OutlierDetector::new(half, t);
    d.retain(&names(10));
    eject_all(&mut d, 10, t);
    assert_eq!(d.ejected_count(t), 5);
}

#[test]
fn always_eject_one_host_lets_the_first_ejection_through() {
    let t = Instant::now();
    let config = OutlierConfig {
        always_eject_one_host: true,
        ..OutlierConfig::default()
    };
    let mut d = OutlierDetector::new(config, t);
    d.retain(&names(3));
    eject_all(&mut d, 3, t);
    assert_eq!(d.ejected_count(t), 1);
}

#[test]
fn a_success_resets_the_streak() {
    let t = Instant::now();
    let mut d = OutlierDetector::new(OutlierConfig::default(), t);
    d.retain(&names(2));
    for _ in 0..10 {
        for _ in 0..4 {
            d.record("h0", true, t);
        }
        d.record("h0", false, t);
    }
    assert_eq!(d.ejected_count(t), 0);
}

// === success-rate ejection ===

/// 200 requests per host in the first interval; `low` alternates failure
/// and success (50 %, never 5 in a row), the others all succeed.
fn load_first_interval(d: &mut OutlierDetector, hosts: usize, low: &str, t0: Instant) {
    for i in 0..200u64 {
        let t = t0 + Duration::from_millis(40 * i);
        for h in names(hosts) {
            d.record(&h, h == low && i % 2 == 0, t);
        }
    }
}

#[test]
fn success_rate_ejects_the_outlier_at_the_sweep() {
    let t0 = Instant::now();
    let mut d = OutlierDetector::new(OutlierConfig::default(), t0);
    d.retain(&names(10));
    load_first_interval(&mut d, 10, "h3", t0);
    assert!(!d.is_ejected("h3", t0 + Duration::from_millis(9_999)));
    // Rates 50 and 9 × 100: mean 95, stdev 15, threshold 66.5.
    let sweep = t0 + Duration::from_secs(10);
    assert!(d.is_ejected("h3", sweep), "below mean − 1.9 × stdev");
    assert_eq!(d.take_ejections("h3"), 1);
    assert_eq!(d.ejected_count(sweep), 1, "only the outlier");
    // Ejected at the 10 s sweep for 30 s: back at the 40 s sweep.
    assert!(d.is_ejected("h3", t0 + Duration::from_secs(39)));
    assert!(!d.is_ejected("h3", t0 + Duration::from_secs(40)));
}

#[test]
fn success_rate_respects_the_ejection_percentage() {
    // Five hosts: enough for success-rate ejection, but (0 + 1) / 5 = 20 %
    // is over Envoy's 10 %; only always_eject_one_host lets it through.
    let t0 = Instant::now();
    let sweep = t0 + Duration::from_secs(10);
    let mut d = OutlierDetector::new(OutlierConfig::default(), t0);
    d.retain(&names(5));
    load_first_interval(&mut d, 5, "h4", t0);
    assert!(!d.is_ejected("h4", sweep));
    let mut d = OutlierDetector::new(
        OutlierConfig {
            always_eject_one_host: true,
            ..OutlierConfig::default()
        },
        t0,
    );
    d.retain(&names(5));
    load_first_interval(&mut d, 5, "h4", t0);
    assert!(d.is_ejected("h4", sweep));
}

#[test]
fn success_rate_needs_volume_and_can_be_off() {
    let t0 = Instant::now();
    let sweep = t0 + Duration::from_secs(10);
    // 99 requests per host: under success_rate_request_volume.
    let mut d = OutlierDetector::new(OutlierConfig::default(), t0);
    d.retain(&names(10));
    for i in 0..99u64 {
        let t = t0 + Duration::from_millis(50 * i);
        for h in names(10) {
            d.record(&h, h == "h3" && i % 2 == 0, t);
        }
    }
    assert!(!d.is_ejected("h3", sweep));
    // Istio's DestinationRule: success-rate ejection off.
    let mut d = OutlierDetector::new(
        OutlierConfig {
            success_rate: None,
            ..OutlierConfig::default()
        },
        t0,
    );
    d.retain(&names(10));
    load_first_interval(&mut d, 10, "h3", t0);
    assert!(!d.is_ejected("h3", sweep));
}
