//! Chaos: random valid scenarios, for finding what hand-written ones miss.
//!
//! [`scenario`] turns a seed into a scenario file: a random cluster, a mix
//! of strategies, a workload of any model (page schedule, open loop, closed
//! loop) and a timeline of any event kinds at random times. A candidate the
//! validator rejects (overlapping faults, say) is redrawn, so every seed
//! yields a scenario that must run. [`check`] runs it twice and holds it to
//! what every run must satisfy: no panic, byte-identical reports, and every
//! request accounted for (the runner's accounting check compares counts made
//! in different places, so it does not hold by construction).
//!
//! Some seeds also draw an expected error ([`overlapping`]): the seed's
//! scenario with two fault windows on one link or host that overlap, which
//! the validator must refuse naming both events' places ([`refused`]); a
//! run would otherwise let the end of one window undo the other.
//!
//! `meshsim chaos --seeds 1-200` runs hundreds; `cargo test` runs a few.

use crate::scenario::Scenario;
use crate::scenario::timeline::{ChaosDraw, ChaosPick, EventKind};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt::Write;

/// Candidates drawn per seed before giving up on a valid one.
const ATTEMPTS: u64 = 50;

const STRATEGIES: &[&str] = &[
    "cached-dns",
    "kube-proxy",
    "client-rr",
    "sidecar:round-robin",
    "sidecar:least-request",
    "sidecar:peak-ewma",
    "linkerd",
    "linkerd+accrual",
    "istio",
    "istio+outlier",
    "consul",
];

/// The scenario of `seed`, as TOML text, parsed; `None` only if no valid
/// candidate came up in [`ATTEMPTS`] draws.
pub fn scenario(seed: u64) -> Option<(String, Scenario)> {
    let path = format!("chaos-{seed}.toml");
    (0..ATTEMPTS).find_map(|attempt| {
        let text = candidate(seed, attempt);
        let parsed = Scenario::parse(&text, &path).ok()?;
        // Later events go on top of a valid candidate, and only if it stays
        // valid, so every seed keeps the scenario it had before they came.
        let more = later_events(&text, seed, attempt);
        match Scenario::parse(&more, &path) {
            Ok(with) if more != text => Some((more, with)),
            _ => Some((text, parsed)),
        }
    })
}

/// Why the scenario of `seed` broke a rule, if it did: the run failed, or
/// two runs wrote different reports.
pub fn check(scenario: &Scenario) -> Result<(), String> {
    let seed = scenario.seed;
    let first = crate::runner::run(scenario, seed, |_| {}).map_err(|e| e.to_string())?;
    let second = crate::runner::run(scenario, seed, |_| {}).map_err(|e| e.to_string())?;
    let bytes = |r: &reports::Report| r.to_json_bytes().map_err(|e| e.to_string());
    if bytes(&first)? != bytes(&second)? {
        return Err(format!("two runs with seed {seed} wrote different reports"));
    }
    Ok(())
}

fn candidate(seed: u64, attempt: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(attempt));
    let nodes = rng.random_range(2..=4u32);
    let replicas = rng.random_range(2..=4u32);
    let webs = rng.random_range(1..=2u32);
    let mut t = String::new();
    let _ = writeln!(t, "# chaos scenario, generator seed {seed}");
    let _ = writeln!(t, "name = \"chaos-{seed:02}\"\nseed = {seed}");
    let count = rng.random_range(2..=4usize);
    let picked: Vec<String> = STRATEGIES
        .choose_multiple(&mut rng, count)
        .map(|s| format!("\"{s}\""))
        .collect();
    let _ = writeln!(t, "strategies = [{}]", picked.join(", "));
    let _ = writeln!(
        t,
        "\n[cluster]\nnodes = {nodes}\nlatency = \"{}ms\"",
        rng.random_range(1..=3)
    );
    let _ = writeln!(
        t,
        "\n[stockdata]\nreplicas = {replicas}\nconcurrency = {}\n\
         service_time = {{ distribution = \"exponential\", mean = \"{}ms\" }}",
        rng.random_range(4..=16),
        rng.random_range(1..=3)
    );
    let _ = writeln!(t, "\n[stockweb]\nreplicas = {webs}");
    if rng.random_bool(0.3) {
        let _ = writeln!(
            t,
            "handler_lifetime = \"{}ms\"",
            rng.random_range(300..=900)
        );
    }
    // The run lasts about 2 s; events fall inside it.
    match rng.random_range(0..3) {
        0 => {
            let _ = writeln!(
                t,
                "\n[load]\npage_loads = {}\ninterval = \"100ms\"",
                rng.random_range(10..=20)
            );
        }
        1 => {
            let _ = writeln!(
                t,
                "\n[workload]\ntarget = \"{}\"\nmodel = \"open\"\narrival = \"{}\"\nrate = {}\n\
                 duration = \"2s\"\ndrain = \"2s\"",
                if rng.random_bool(0.5) { "get" } else { "page" },
                if rng.random_bool(0.5) {
                    "poisson"
                } else {
                    "constant"
                },
                rng.random_range(5..=50)
            );
            if rng.random_bool(0.5) {
                let _ = writeln!(t, "connections = {}", rng.random_range(1..=20));
            }
        }
        _ => {
            let _ = writeln!(
                t,
                "\n[workload]\ntarget = \"get\"\nmodel = \"closed\"\nusers = {}\n\
                 think = \"exponential\"\nthink_time = \"{}ms\"\nduration = \"2s\"\ndrain = \"2s\"",
                rng.random_range(1..=20),
                rng.random_range(5..=50)
            );
        }
    }
    for _ in 0..rng.random_range(1..=4) {
        event(&mut t, &mut rng, nodes, replicas);
    }
    stream_limits(&mut t, seed, attempt);
    error_faults(&mut t, seed, attempt);
    t
}

/// Sometimes an error fault (`errors`, `overload` or `flakes`) and a client
/// strategy that reacts to errors or to load reports, from a stream of
/// their own, so the rest of each seed's scenario is what it was before
/// they were added.
fn error_faults(t: &mut String, seed: u64, attempt: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(
        seed.wrapping_mul(1_000_003)
            .wrapping_add(attempt)
            .rotate_left(29),
    );
    if rng.random_bool(0.3) {
        let extra = if rng.random_bool(0.5) {
            "pin-until-error"
        } else {
            "sidecar:wrr"
        };
        if let Some(at) = t.find("strategies = [") {
            let at = at + "strategies = [".len();
            if !t.contains(&format!("\"{extra}\"")) {
                t.insert_str(at, &format!("\"{extra}\", "));
            }
        }
    }
    if !rng.random_bool(0.5) {
        return;
    }
    let at = rng.random_range(2..=16u32) * 100;
    let duration = rng.random_range(100..=800u32);
    let code = ["UNAVAILABLE", "INTERNAL", "RESOURCE_EXHAUSTED"][rng.random_range(0..3)];
    let _ = writeln!(
        t,
        "\n[[timeline]]\nat = \"{at}ms\"\nduration = \"{duration}ms\""
    );
    let pick = ChaosPick {
        pod: String::new(),
        node: String::new(),
        code,
    };
    write_kind(t, &mut rng, ChaosDraw::Errors, &pick);
}

/// One kind of `draw`, picked uniformly in registration order, written
/// after its `at` line.
fn write_kind(t: &mut String, rng: &mut ChaCha8Rng, draw: ChaosDraw, pick: &ChaosPick) {
    let kinds: Vec<EventKind> = EventKind::ALL
        .iter()
        .copied()
        .filter(|k| k.chaos_draw() == draw)
        .collect();
    // Drawn as an i32, as chaos always drew it: seeds keep their scenarios.
    let kind = kinds[rng.random_range(0..kinds.len() as i32) as usize];
    let _ = writeln!(t, "kind = \"{}\"", kind.name());
    t.push_str(&kind.chaos(rng, pick));
}

/// Events added after the others, from a stream of their own: kinds
/// registered for [`ChaosDraw::Later`] (each new kind joins here, so older
/// seeds keep their scenarios), and a scale-down followed by an event on a
/// pod that survives it.
fn later_events(base: &str, seed: u64, attempt: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(
        seed.wrapping_mul(1_000_003)
            .wrapping_add(attempt)
            .rotate_left(41),
    );
    let mut t = base.to_string();
    if rng.random_bool(0.4) {
        let at = rng.random_range(2..=16u32) * 100;
        let pick = ChaosPick {
            pod: format!("stockdata-{}", rng.random_range(0..2)),
            node: "node-0".to_string(),
            code: "UNAVAILABLE",
        };
        let _ = writeln!(t, "\n[[timeline]]\nat = \"{at}ms\"");
        write_kind(&mut t, &mut rng, ChaosDraw::Later, &pick);
    }
    if rng.random_bool(0.3) {
        // Down to one replica: the oldest, stockdata-0, stays.
        let at = rng.random_range(2..=10u32) * 100;
        let later = at + rng.random_range(1..=6u32) * 100;
        let _ = writeln!(
            t,
            "\n[[timeline]]\nat = \"{at}ms\"\nkind = \"scale\"\nservice = \"stockdata\"\nreplicas = 1\n\
             \n[[timeline]]\nat = \"{later}ms\"\nkind = \"slow\"\npod = \"stockdata-0\"\nfactor = {}\n\
             duration = \"{}ms\"",
            rng.random_range(2..=10),
            rng.random_range(100..=400)
        );
    }
    t
}

/// Sometimes tight HTTP/2 stream limits on the replicas and the sidecars
/// (where calls then wait), drawn from a stream of their own so that the
/// rest of each seed's scenario is what it was before they were added.
fn stream_limits(t: &mut String, seed: u64, attempt: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(
        seed.wrapping_mul(1_000_003)
            .wrapping_add(attempt)
            .rotate_left(17),
    );
    let limit = |rng: &mut ChaCha8Rng| match rng.random_range(0..4) {
        0 => "\"unlimited\"".to_string(),
        _ => rng.random_range(1..=150).to_string(),
    };
    if rng.random_bool(0.4) {
        let line = format!("max_concurrent_streams = {}\n", limit(&mut rng));
        if let Some(at) = t.find("\n[stockweb]") {
            t.insert_str(at + 1, &line);
        }
    }
    if rng.random_bool(0.4) {
        let _ = writeln!(
            t,
            "\n[sidecar]\nmax_concurrent_streams = {}",
            limit(&mut rng)
        );
    }
}

/// One random timeline event on the cluster's pods and nodes.
fn event(t: &mut String, rng: &mut ChaCha8Rng, nodes: u32, replicas: u32) {
    let at = rng.random_range(2..=16u32) * 100;
    let pick = ChaosPick {
        pod: format!("stockdata-{}", rng.random_range(0..replicas)),
        node: format!("node-{}", rng.random_range(0..nodes)),
        code: "UNAVAILABLE",
    };
    let _ = writeln!(t, "\n[[timeline]]\nat = \"{at}ms\"");
    write_kind(t, rng, ChaosDraw::Cluster, &pick);
}

/// Sometimes (from a stream of its own, so every seed keeps its scenario)
/// the scenario `text` of `seed` with two more events whose fault windows
/// overlap on one link or host of its `nodes`, written in one of the ways
/// a run used to let one window cancel the other: the same link named
/// both ways, a partition one way then the other, a host window then a
/// link window on that host.
pub fn overlapping(seed: u64, text: &str, nodes: u32) -> Option<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(1_000_003).rotate_left(53));
    if nodes < 2 || !rng.random_bool(0.5) {
        return None;
    }
    let a = rng.random_range(0..nodes);
    let b = (a + rng.random_range(1..nodes)) % nodes;
    let (a, b) = (format!("node-{a}"), format!("node-{b}"));
    let first_at = rng.random_range(2..=10u32) * 100;
    let first_for = rng.random_range(2..=6u32) * 100;
    // Starts inside the first window.
    let second_at = first_at + rng.random_range(0..first_for / 100) * 100;
    let second_for = rng.random_range(1..=6u32) * 100;
    let add = rng.random_range(1..=100u32);
    let (first, second) = match rng.random_range(0..3) {
        0 => (
            format!("kind = \"latency\"\nnodes = [\"{a}\", \"{b}\"]\nadd = \"{add}ms\""),
            format!("kind = \"latency\"\nnodes = [\"{b}\", \"{a}\"]\nadd = \"{add}ms\""),
        ),
        1 => (
            format!("kind = \"partition\"\nnodes = [\"{a}\"]\nfrom = [\"{b}\"]"),
            format!("kind = \"partition\"\nnodes = [\"{b}\"]\nfrom = [\"{a}\"]"),
        ),
        _ => (
            format!("kind = \"latency\"\nnodes = [\"{a}\"]\nadd = \"{add}ms\""),
            format!("kind = \"latency\"\nnodes = [\"{b}\", \"{a}\"]\nadd = \"{add}ms\""),
        ),
    };
    let mut t = text.to_string();
    let _ = writeln!(
        t,
        "\n# expected: refused, the two windows below overlap\n\
         [[timeline]]\nat = \"{first_at}ms\"\nduration = \"{first_for}ms\"\n{first}\n\
         \n[[timeline]]\nat = \"{second_at}ms\"\nduration = \"{second_for}ms\"\n{second}"
    );
    Some(t)
}

/// Whether the validator refuses `text` (from [`overlapping`]) for an
/// overlap, naming both events' places in `chaos-SEED.toml`.
pub fn refused(seed: u64, text: &str) -> Result<(), String> {
    let path = format!("chaos-{seed}.toml");
    let err = match Scenario::parse(text, &path) {
        Ok(_) => return Err("overlapping fault windows were accepted".into()),
        Err(e) => e.to_string(),
    };
    let places = err.matches(&format!("{path}:")).count();
    if !err.contains("overlaps timeline[") || places < 2 {
        return Err(format!(
            "overlapping fault windows were refused without naming both places: {err}"
        ));
    }
    Ok(())
}

/// Seeds from text: `7`, `1-200`, or `1,4,9`.
pub fn parse_seeds(text: &str) -> Result<Vec<u64>, String> {
    let mut seeds = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let number = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{s}` is not a seed; expected e.g. 7, 1-200 or 1,4,9"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                if a > b || b - a >= 100_000 {
                    return Err(format!("seed range `{part}` is empty or over 100,000 long"));
                }
                seeds.extend(a..=b);
            }
            None => seeds.push(number(part)?),
        }
    }
    if seeds.is_empty() {
        return Err("no seeds given".into());
    }
    Ok(seeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_gives_a_valid_scenario_and_the_same_one_twice() {
        for seed in 0..200 {
            let (text, _) =
                scenario(seed).unwrap_or_else(|| panic!("seed {seed}: no valid candidate"));
            assert_eq!(scenario(seed).map(|(t, _)| t), Some(text));
        }
    }

    #[test]
    fn seeds_parse_as_lists_and_ranges() {
        assert_eq!(parse_seeds("3"), Ok(vec![3]));
        assert_eq!(parse_seeds("1-3,9"), Ok(vec![1, 2, 3, 9]));
        assert!(parse_seeds("5-1").is_err());
        assert!(parse_seeds("x").is_err());
        assert!(parse_seeds("").is_err());
    }
}
