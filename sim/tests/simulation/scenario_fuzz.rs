//! No scenario input may panic: arbitrary text, and random mixes of real
//! keys with odd values, must parse to a scenario or to an error.

use proptest::prelude::*;

fn parse(text: &str) {
    match sim::Scenario::parse(text, "fuzz.toml") {
        Ok(s) => {
            // A scenario that parses is fully usable.
            assert!(!s.strategies.is_empty());
            assert_eq!(s.hash().len(), 64);
            let _ = s.run_end();
            let _ = s.known_pods();
        }
        Err(e) => assert!(
            e.to_string().starts_with("fuzz.toml"),
            "error without location: {e}"
        ),
    }
}

const TABLES: &[&str] = &[
    "",
    "[cluster]",
    "[stockdata]",
    "[stockweb]",
    "[load]",
    "[sidecar]",
    "[workload]",
    "[[timeline]]",
];
const KEYS: &[&str] = &[
    "name",
    "seed",
    "tick",
    "time_limit",
    "strategies",
    "nodes",
    "latency",
    "replicas",
    "concurrency",
    "service_time",
    "slowdown",
    "weights",
    "queue_bound",
    "honor_cancellation",
    "handler_lifetime",
    "dns_refresh",
    "page_loads",
    "interval",
    "start",
    "request_timeout",
    "per_try_timeout",
    "max_retries",
    "idempotent",
    "discovery_delay",
    "choice_count",
    "target",
    "model",
    "arrival",
    "rate",
    "connections",
    "users",
    "think_time",
    "think",
    "duration",
    "warmup",
    "drain",
    "not_found_ratio",
    "at",
    "kind",
    "pod",
    "node",
    "nodes",
    "from",
    "factor",
    "add",
    "detect_after",
    "ready_after",
    "service",
    "max_surge",
    "grace",
    "every",
    "count",
    "bogus",
];
const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "3",
    "1000",
    "99999999999",
    "-9223372036854775808",
    "1.5",
    "-0.0",
    "nan",
    "inf",
    "true",
    "\"\"",
    "\"1ms\"",
    "\"0s\"",
    "\"100us\"",
    "\"1.5s\"",
    "\"-5ms\"",
    "\"99999999999h\"",
    "\"10 m\"",
    "\"stockdata-0\"",
    "\"stockdata-99\"",
    "\"node-1\"",
    "\"node-x\"",
    "\"sidecar\"",
    "\"istio+retry\"",
    "\"kill-pod\"",
    "\"scale\"",
    "\"rolling-restart\"",
    "\"open\"",
    "\"closed\"",
    "\"get\"",
    "\"page\"",
    "[]",
    "[\"cached-dns\"]",
    "[\"sidecar\", \"sidecar\"]",
    "[\"node-1\", \"node-2\", \"node-3\"]",
    "{ distribution = \"exponential\", mean = \"2ms\" }",
    "{ distribution = \"constant\" }",
    "{ stockdata-0 = 10.0 }",
    "{ stockdata-0 = -1.0 }",
    "[1, 2]",
    "{}",
];

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0..KEYS.len(), 0..VALUES.len()).prop_map(|(k, v)| format!("{} = {}", KEYS[k], VALUES[v])),
        1 => (0..TABLES.len()).prop_map(|t| TABLES[t].to_string()),
        1 => "[ -~]{0,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        parse(&text);
    }

    #[test]
    fn real_keys_with_odd_values_never_panic(lines in proptest::collection::vec(line(), 0..25), with_strategies in any::<bool>()) {
        let mut text = String::new();
        if with_strategies {
            text.push_str("strategies = [\"cached-dns\", \"sidecar\"]\n");
        }
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
        parse(&text);
    }
}
