//! Scenario parsing, defaults, hashing and validation.

use super::*;
use std::time::Duration;

#[test]
fn minimal_scenario_gets_documented_defaults() {
    let s = Scenario::parse("strategies = [\"sidecar\"]", "dir/minimal.toml").expect("valid");
    assert_eq!(s.name(), "minimal");
    assert_eq!(s.seed, 1);
    assert_eq!(s.tick.to_string(), "1ms");
    assert_eq!(s.time_limit.to_string(), "600s");
    assert_eq!(
        (s.cluster.nodes.get(), s.cluster.latency.to_string()),
        (3, "1ms".into())
    );
    assert_eq!(
        (s.stockdata.replicas.get(), s.stockdata.concurrency.get()),
        (2, 8)
    );
    assert_eq!(
        s.stockdata.service_time,
        ServiceTimeConfig::Exponential {
            mean: SimDuration(Duration::from_millis(2))
        }
    );
    assert_eq!(
        (s.stockweb.replicas.get(), s.stockweb.handler_lifetime),
        (1, None)
    );
    assert_eq!(s.load, LoadConfig::default());
    assert_eq!(s.load.page_loads, 10);
}

#[test]
fn bundled_demo_parses() {
    let s = Scenario::parse(BUNDLED_DEMO, BUNDLED_DEMO_PATH).expect("valid");
    assert_eq!(s.name(), "stockweb-demo");
    assert_eq!(s.strategies.len(), 2);
}

#[test]
fn hash_ignores_seed_but_not_settings() {
    let base = Scenario::parse(BUNDLED_DEMO, BUNDLED_DEMO_PATH).expect("valid");
    let mut reseeded = base.clone();
    reseeded.seed = 99;
    assert_eq!(base.hash(), reseeded.hash());
    let mut more = base.clone();
    more.load.page_loads += 1;
    assert_ne!(base.hash(), more.hash());
    let mut fewer = base.clone();
    fewer.strategies.pop();
    assert_ne!(base.hash(), fewer.hash());
}

#[test]
fn limits_are_enforced_with_field_names() {
    let err = |text: &str| {
        Scenario::parse(text, "x.toml")
            .expect_err("invalid")
            .to_string()
    };
    assert!(err("strategies = []").contains("`strategies`"));
    assert!(
        err("strategies = [\"sidecar\"]\n[stockdata]\nreplicas = 1001")
            .contains("`stockdata.replicas`: expected at most 1000")
    );
    assert!(err("strategies = [\"sidecar\"]\n[cluster]\nnodes = 65").contains("`cluster.nodes`"));
    assert!(
        err("strategies = [\"sidecar\"]\n[load]\npage_loads = 0").contains("`load.page_loads`")
    );
    assert!(err("strategies = [\"sidecar\"]\ntick = \"0s\"").contains("`tick`"));
    assert!(
        err("strategies = [\"sidecar\"]\ntick = \"100us\"")
            .contains("whole number of milliseconds")
    );
    assert!(
        err("strategies = [\"sidecar\"]\n[stockweb]\nhandler_lifetime = \"0ms\"")
            .contains("`stockweb.handler_lifetime`")
    );
}

#[test]
fn timeline_errors_carry_the_events_line_and_index() {
    let text = "strategies = [\"sidecar\"]\n\
                [[timeline]]\nat = \"1s\"\nkind = \"kill-pod\"\npod = \"stockdata-0\"\n\
                [[timeline]]\nat = \"2s\"\nkind = \"slow\"\npod = \"stockdata-1\"\nduration = \"1s\"\n";
    let e = Scenario::parse(text, "x.toml")
        .expect_err("factor is missing")
        .to_string();
    assert!(
        e.starts_with("x.toml:6:") && e.contains("`timeline[1].factor`: slow event: is required"),
        "{e}"
    );
}

#[test]
fn events_get_their_defaults_once_and_serialize_as_written() {
    let text = "strategies = [\"sidecar\"]\n[load]\npage_loads = 100\n\
                [[timeline]]\nat = \"1s\"\nkind = \"crash-node\"\nnode = \"node-1\"\n\
                [[timeline]]\nat = \"2s\"\nkind = \"rolling-restart\"\nservice = \"stockdata\"\n";
    let s = Scenario::parse(text, "x.toml").expect("valid");
    assert_eq!(
        s.timeline[0].action(),
        &timeline::Action::CrashNode(timeline::kinds::CrashNode {
            node: 1,
            detect_after: Duration::from_secs(40),
            duration: None,
        })
    );
    assert_eq!(
        s.timeline[1].action(),
        &timeline::Action::RollingRestart(timeline::kinds::RollingRestart {
            surge: true,
            ready_after: Duration::from_secs(1),
            grace: Duration::from_secs(1),
        })
    );
    // The hash covers the text: omitted keys stay omitted.
    let json = serde_json::to_string(&s.timeline).expect("plain data");
    assert_eq!(
        json,
        r#"[{"at":"1s","kind":"crash-node","node":"node-1"},{"at":"2s","kind":"rolling-restart","service":"stockdata"}]"#
    );
    assert_eq!(s.timeline[0].describe(), "crash-node node=node-1");
}

#[test]
fn stream_limits_and_windows_are_checked_where_they_are_written() {
    let err = |text: &str| {
        Scenario::parse(text, "x.toml")
            .expect_err("invalid")
            .to_string()
    };
    let e = err("strategies = [\"sidecar\"]\n[stockdata]\nmax_concurrent_streams = 0");
    assert!(e.starts_with("x.toml:3:"), "{e}");
    assert!(
        e.contains("an integer from 1 to 2147483647, or \"unlimited\""),
        "{e}"
    );
    let e = err("strategies = [\"sidecar\"]\n[sidecar]\nmax_concurrent_streams = \"none\"");
    assert!(
        e.starts_with("x.toml:3:") && e.contains("got \"none\""),
        "{e}"
    );
    let e = err("strategies = [\"sidecar\"]\n[stockweb]\ninitial_stream_window = 1000");
    assert!(
        e.contains("`stockweb.initial_stream_window`") && e.contains("from 65535"),
        "{e}"
    );
    let e = err("strategies = [\"sidecar\"]\n[sidecar]\ninitial_connection_window = 4294967295");
    assert!(e.contains("`sidecar.initial_connection_window`"), "{e}");
    let ok = Scenario::parse(
        "strategies = [\"sidecar\"]\n[stockdata]\nmax_concurrent_streams = \"unlimited\"\n\
         [sidecar]\nmax_concurrent_streams = 100",
        "x.toml",
    )
    .expect("valid");
    assert_eq!(
        ok.stockdata.max_concurrent_streams,
        super::StreamLimit(None)
    );
    assert_eq!(
        ok.sidecar.max_concurrent_streams,
        Some(super::StreamLimit(Some(100)))
    );
    // The default is hyper's server's.
    let d = Scenario::parse("strategies = [\"sidecar\"]", "x.toml").expect("valid");
    assert_eq!(d.stockdata.max_concurrent_streams.0, Some(200));
}

#[test]
fn a_crash_node_refuses_ready_after_which_it_never_read() {
    // It was accepted and silently ignored: the node's pods come back as
    // the node restarts.
    let text = "strategies = [\"sidecar\"]\n[load]\npage_loads = 100\n\
                [[timeline]]\nat = \"1s\"\nkind = \"crash-node\"\nnode = \"node-1\"\n\
                duration = \"1s\"\nready_after = \"2s\"\n";
    let e = Scenario::parse(text, "x.toml")
        .expect_err("ready_after on crash-node")
        .to_string();
    assert!(
        e.contains("x.toml:4:1")
            && e.contains("timeline[0].ready_after")
            && e.contains("takes no such key"),
        "{e}"
    );
}

#[test]
fn every_registered_kind_has_its_row_and_keys_in_the_scenario_reference() {
    let readme = include_str!("../../../scenarios/README.md");
    let table = readme
        .split("| kind | keys | what happens |")
        .nth(1)
        .expect("the timeline table");
    for kind in timeline::EventKind::ALL {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", kind.name())))
            .unwrap_or_else(|| panic!("scenarios/README.md has no row for `{}`", kind.name()));
        for key in kind.keys() {
            assert!(
                row.contains(&format!("`{key}")),
                "scenarios/README.md's `{}` row does not name its key `{key}`: {row}",
                kind.name()
            );
        }
    }
}

#[test]
fn timeline_errors_that_need_the_whole_scenario_carry_the_events_line_and_column() {
    let err = |events: &str| {
        let text = format!(
            "strategies = [\"sidecar\"]\n[load]\npage_loads = 10\ninterval = \"100ms\"\n{events}"
        );
        Scenario::parse(&text, "x.toml")
            .expect_err("invalid")
            .to_string()
    };
    // An unknown pod, an occurrence after the end, too many occurrences.
    let e = err(
        "\n[[timeline]]\nat = \"1ms\"\nkind = \"pause\"\npod = \"stockdata-7\"\nduration = \"1ms\"\n",
    );
    assert!(
        e.starts_with("x.toml:6:1: `timeline[0].pod`: pause event: unknown pod"),
        "{e}"
    );
    let e = err(
        "[[timeline]]\nat = \"1h\"\nkind = \"pause\"\npod = \"stockdata-0\"\nduration = \"1ms\"\n",
    );
    assert!(
        e.starts_with("x.toml:5:1: `timeline[0].at`: pause event: an occurrence at 3600s"),
        "{e}"
    );
    let e = err(
        "[[timeline]]\nat = \"1ms\"\nkind = \"heal\"\nnodes = [\"node-0\"]\nevery = \"1ms\"\ncount = 10000\n\
         [[timeline]]\nat = \"2ms\"\nkind = \"heal\"\nnodes = [\"node-0\"]\n",
    );
    assert!(
        e.starts_with("x.toml:11:1: `timeline[1].count`: heal event: brings the timeline to 10001"),
        "{e}"
    );
}

#[test]
fn a_discovery_delay_past_the_time_limit_is_refused_where_it_is_written() {
    // The load waits for the sidecars' discovery before it starts: a delay
    // at or past the time limit would step an idle simulation until then.
    let text = "strategies = [\"sidecar\"]\ntime_limit = \"10s\"\n[sidecar]\ndiscovery_delay = \"100000h\"\n";
    let e = Scenario::parse(text, "x.toml")
        .expect_err("delay past the limit")
        .to_string();
    assert!(
        e.starts_with("x.toml:4:")
            && e.contains("`sidecar.discovery_delay`")
            && e.contains("time limit"),
        "{e}"
    );
    let ok = text.replace("100000h", "9s");
    assert!(Scenario::parse(&ok, "x.toml").is_ok());
}
