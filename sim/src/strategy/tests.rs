//! Strategy names: parsing, display and help.
use super::*;

#[test]
fn names_round_trip() {
    for name in names() {
        let s: Strategy = name.parse().expect("valid");
        let again: Strategy = s.to_string().parse().expect("canonical parses");
        assert_eq!(s, again);
    }
    assert_eq!(
        "sidecar".parse::<Strategy>().map(|s| s.to_string()),
        Ok("sidecar:round-robin".to_string())
    );
    let err = "mesh".parse::<Strategy>().expect_err("unknown");
    assert!(err.contains("cached-dns"), "{err}");
}

#[test]
fn features_are_canonicalised() {
    let s: Strategy = "istio+outlier+retry".parse().expect("valid");
    assert_eq!(s.to_string(), "istio+retry+outlier");
    assert!(
        "linkerd+turbo"
            .parse::<Strategy>()
            .expect_err("bad")
            .contains("+retry")
    );
    assert!("cached-dns+retry".parse::<Strategy>().is_err());
}

#[test]
fn every_strategy_prints_as_it_parses() {
    let every = [
        "cached-dns",
        "kube-proxy",
        "client-rr",
        "pin-until-error",
        "sidecar:round-robin",
        "sidecar:random",
        "sidecar:least-request",
        "sidecar:peak-ewma",
        "sidecar:weighted",
        "sidecar:wrr",
        "linkerd",
        "istio",
        "consul",
        "linkerd+retry+budget+accrual+outlier",
        "linkerd+profile-retry",
        "sidecar:peak-ewma+route-retry+accrual",
        "sidecar:peak-ewma+outlier",
        "nginx:round-robin",
        "nginx:least-request",
        "haproxy:round-robin",
        "haproxy:least-request",
        "caddy:round-robin",
        "caddy:least-request",
    ];
    for name in every {
        let s: Strategy = name.parse().expect("valid");
        assert_eq!(s.to_string(), name);
    }
}

#[test]
fn help_lists_the_table() {
    // The policy lines come from the registration table (each new policy
    // changes them): checked for names and width, the rest byte for byte.
    let help = help();
    let lines: Vec<&str> = help.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.contains("<policy> is"))
        .expect("policy row")
        + 1;
    let end = lines
        .iter()
        .position(|l| l.contains("(sidecar = "))
        .expect("shorthand row");
    let policies = lines[first..end].join(" ");
    for named in crate::proxy::balance::POLICIES
        .iter()
        .flat_map(|p| p.iter())
    {
        assert!(
            policies.contains(named.name),
            "{} not in {policies}",
            named.name
        );
    }
    assert!(
        lines[first..end].iter().all(|l| l.chars().count() <= 80),
        "{help}"
    );
    let mut pinned = lines[..first].to_vec();
    pinned.push("                          <the registered policies>");
    pinned.extend(&lines[end..]);
    assert_eq!(
        pinned.join("\n") + "\n",
        "\
Strategies:
  cached-dns              resolve once, one HTTP/2 connection (the seed's HttpClient)
  kube-proxy              service VIP; each connection to a random ready pod
  client-rr               gRPC client-side round robin over a headless service
  pin-until-error         one address until a server error, then the next (dialogue)
  sidecar:<policy>        outbound sidecar balancing each request; <policy> is
                          <the registered policies>
                          (sidecar = sidecar:round-robin)
  linkerd, istio, consul  the sidecar with that mesh's documented defaults
  nginx, haproxy, caddy   real mode only: Debian's nginx, haproxy or Caddy as the
                          sidecar, :round-robin (the default) or :least-request
  +retry +profile-retry +route-retry +budget +accrual +outlier
                          turn on retries (Linkerd's ServiceProfile or HTTPRoute
                          retries), a retry budget, failure accrual or outlier
                          detection, e.g. linkerd+route-retry+accrual
"
    );
}

#[test]
fn a_repeated_feature_is_an_error() {
    let err = "linkerd+retry+retry"
        .parse::<Strategy>()
        .expect_err("repeated");
    assert!(err.contains("`+retry` is repeated"), "{err}");
}
