//! `meshsim bench`'s measurements do the work they claim to measure (small
//! sizes: speed targets live in the bench itself, not in tests).

use sim::bench::{paths, scale};
use std::process::Command;

#[test]
fn each_path_completes_every_request_and_the_mesh_costs_simulated_time() {
    let raw = paths::raw_tcp(2_000, 10).expect("raw tcp");
    assert_eq!(raw.ops, 2_000);
    let direct = paths::grpc_direct(500, 10).expect("direct");
    assert_eq!(direct.ops, 500);
    let meshed = paths::grpc_meshed(500, 10).expect("meshed");
    assert_eq!(meshed.ops, 500);
    // Same requests and concurrency: two more hops (one over the 1 ms
    // link, loopback ticks for the rest) take longer in simulated time.
    assert!(
        meshed.sim_s > direct.sim_s,
        "meshed {} s vs direct {} s of simulated time",
        meshed.sim_s,
        direct.sim_s
    );
    assert!(raw.per_wall_second > 0.0 && direct.per_wall_second > 0.0);
}

#[test]
fn scale_point_spreads_requests_over_every_pod_through_inbound_sidecars() {
    let config = scale::ScaleConfig {
        pods: 24,
        server_nodes: 4,
        client_nodes: 2,
        concurrency: 12,
        requests: 480,
        inbound_sidecars: true,
    };
    let (t, per_pod) = scale::run_counted(config).expect("scale point");
    assert_eq!(t.ops, 480);
    // Two client sidecars, each round-robining 240 requests over 24 pods:
    // exactly 10 from each, 20 per pod, and every pod served.
    assert_eq!(per_pod.len(), 24, "{per_pod:?}");
    assert!(per_pod.values().all(|&n| n == 20), "{per_pod:?}");
    assert!(
        t.name.contains("24 pods behind inbound sidecars"),
        "{}",
        t.name
    );
}

#[test]
fn bench_command_writes_json_with_paths_ratios_and_targets() {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-cli");
    let o = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(["bench", "--quick", "--only", "paths", "--json", "--out"])
        .arg(&out)
        .output()
        .expect("meshsim runs");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(doc["paths"].as_array().map(Vec::len), Some(4));
    assert!(
        doc["meshed_over_direct"]
            .as_f64()
            .is_some_and(|r| r > 0.0 && r < 1.0)
    );
    assert!(
        doc["direct_over_raw"]
            .as_f64()
            .is_some_and(|r| r > 0.0 && r < 1.0)
    );
    assert_eq!(doc["targets"][0]["what"], "meshed ÷ one hop");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("bench.json")).expect("bench.json"))
            .expect("json");
    assert_eq!(file["paths"], doc["paths"]);
}
