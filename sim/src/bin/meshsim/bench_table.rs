//! `meshsim bench`'s terminal table.

use super::BenchReport;

pub(super) fn render(r: &BenchReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "meshsim {} bench on {} cores{}\n",
        r.meshsim_version,
        r.cores,
        if r.quick { " (--quick)" } else { "" }
    );
    let rss = |v: Option<f64>| v.map_or("-".into(), |m| format!("{m:.0}"));
    if !r.paths.is_empty() || r.scale.is_some() {
        let _ = writeln!(
            out,
            "{:<48} {:>10} {:>9} {:>9} {:>12} {:>9}",
            "path", "ops", "wall s", "sim s", "ops/wall s", "RSS MiB"
        );
        for p in r.paths.iter().chain(r.scale.iter()) {
            let _ = writeln!(
                out,
                "{:<48} {:>10} {:>9.2} {:>9.2} {:>12.0} {:>9}",
                p.name,
                p.ops,
                p.wall_s,
                p.sim_s,
                p.per_wall_second,
                rss(p.peak_rss_mib)
            );
        }
        if !r.paths.is_empty() {
            let _ = writeln!(
                out,
                "\nratios: one hop ÷ raw TCP = {:.3}, meshed ÷ one hop = {:.3} \
                 (bare forwarders ÷ one hop = {:.3})",
                r.direct_over_raw, r.meshed_over_direct, r.floor_over_direct
            );
        }
    }
    if !r.scenarios.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<20} {:>10} {:>5} {:>7} {:>9} {:>9} {:>10} {:>9}",
            "scenario", "strategies", "nodes", "tick ms", "wall s", "sim s", "sim/wall", "RSS MiB"
        );
    }
    for s in &r.scenarios {
        let _ = writeln!(
            out,
            "{:<20} {:>10} {:>5} {:>7} {:>9.2} {:>9.1} {:>10.1} {:>9}",
            s.scenario,
            s.strategies,
            s.nodes,
            s.tick_ms,
            s.wall_s,
            s.sim_s,
            s.sim_per_wall,
            rss(s.peak_rss_mib)
        );
    }
    let _ = writeln!(out, "\ntargets");
    for t in &r.targets {
        let _ = writeln!(
            out,
            "  {:<32} {:>10.2}  {:<8} {}",
            t.what,
            t.value,
            t.limit,
            if t.met { "met" } else { "MISSED" }
        );
    }
    out
}
