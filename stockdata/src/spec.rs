//! Service times and durations written on a command line.
//!
//! A service-time SPEC is a distribution name, a colon and its parameters,
//! the same models (and the same duration units) a scenario file spells as
//! a `service_time` table:
//!
//! | SPEC | scenario table |
//! | --- | --- |
//! | `constant:5ms` (or just `5ms`) | `{ distribution = "constant", value = "5ms" }` |
//! | `exponential:50ms` | `{ distribution = "exponential", mean = "50ms" }` |
//! | `lognormal:2ms,0.5` | `{ distribution = "lognormal", median = "2ms", sigma = 0.5 }` |
//! | `pareto:1ms,2.5` | `{ distribution = "pareto", min = "1ms", alpha = 2.5 }` |
//! | `bimodal:1ms,50ms,0.1` | `{ distribution = "bimodal", fast = "1ms", slow = "50ms", p_slow = 0.1 }` |

use crate::ServiceTime;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The SPEC forms, for help texts and error messages.
pub const SERVICE_TIME_FORMS: &str = "constant:DUR (or DUR), exponential:MEAN, \
lognormal:MEDIAN,SIGMA, pareto:MIN,ALPHA or bimodal:FAST,SLOW,P_SLOW";

/// What a duration must look like, for error messages.
pub const DURATION_FORMS: &str = "a duration such as 250us, 2ms, 1.5s or 10m";

/// Parses a duration: a number (with an optional fraction) and a unit,
/// `ns`, `us` (or `µs`), `ms`, `s`, `m` or `h`; truncated to nanoseconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    parse_duration_expecting(s, DURATION_FORMS)
}

/// [`parse_duration`], naming `expected` in its errors (the scenario format
/// quotes its examples as TOML strings). The one duration parser of the
/// workspace: scenario files, service-time specs and command-line flags.
pub fn parse_duration_expecting(s: &str, expected: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{s}` has no unit; expected {expected}"))?;
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` does not start with a number; expected {expected}"))?;
    let nanos_per_unit = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}`; expected {expected}"
            ));
        }
    };
    let nanos = value * nanos_per_unit;
    if !nanos.is_finite() || nanos > u64::MAX as f64 {
        return Err(format!("`{s}` is too large"));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

fn parse_number(what: &str, s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("{what} `{s}` is not a number"))
}

impl FromStr for ServiceTime {
    type Err = String;

    /// Parses a SPEC (see the [module docs](self)).
    fn from_str(spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        let (name, params) = match spec.split_once(':') {
            Some((name, params)) => (name.trim(), params),
            None if spec.starts_with(|c: char| c.is_ascii_digit()) => ("constant", spec),
            None => {
                return Err(format!(
                    "service time `{spec}` has no parameters; expected {SERVICE_TIME_FORMS}"
                ));
            }
        };
        let args: Vec<&str> = params.split(',').map(str::trim).collect();
        let arity = |n: usize, form: &str| {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!("service time `{spec}`: expected {form}"))
            }
        };
        let st = match name {
            "constant" => {
                arity(1, "constant:DUR")?;
                ServiceTime::Constant(parse_duration(args[0])?)
            }
            "exponential" => {
                arity(1, "exponential:MEAN")?;
                let mean = parse_duration(args[0])?;
                if mean.is_zero() {
                    return Err(format!("service time `{spec}`: the mean must be > 0"));
                }
                ServiceTime::Exponential { mean }
            }
            "lognormal" => {
                arity(2, "lognormal:MEDIAN,SIGMA")?;
                let sigma = parse_number("sigma", args[1])?;
                if sigma < 0.0 {
                    return Err(format!("service time `{spec}`: sigma must be >= 0"));
                }
                ServiceTime::LogNormal {
                    median: parse_duration(args[0])?,
                    sigma,
                }
            }
            "pareto" => {
                arity(2, "pareto:MIN,ALPHA")?;
                let alpha = parse_number("alpha", args[1])?;
                if alpha <= 0.0 {
                    return Err(format!("service time `{spec}`: alpha must be > 0"));
                }
                ServiceTime::Pareto {
                    min: parse_duration(args[0])?,
                    alpha,
                }
            }
            "bimodal" => {
                arity(3, "bimodal:FAST,SLOW,P_SLOW")?;
                let p_slow = parse_number("p_slow", args[2])?;
                if !(0.0..=1.0).contains(&p_slow) {
                    return Err(format!("service time `{spec}`: p_slow must be in [0, 1]"));
                }
                ServiceTime::Bimodal {
                    fast: parse_duration(args[0])?,
                    slow: parse_duration(args[1])?,
                    p_slow,
                }
            }
            other => {
                return Err(format!(
                    "unknown service-time distribution `{other}`; expected {SERVICE_TIME_FORMS}"
                ));
            }
        };
        Ok(st)
    }
}

impl fmt::Display for ServiceTime {
    /// The SPEC this parses back from (durations in nanoseconds when they
    /// are not whole microseconds).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: Duration| {
            let n = d.as_nanos();
            if n.is_multiple_of(1_000_000) {
                format!("{}ms", n / 1_000_000)
            } else if n.is_multiple_of(1_000) {
                format!("{}us", n / 1_000)
            } else {
                format!("{n}ns")
            }
        };
        match *self {
            ServiceTime::Constant(v) => write!(f, "constant:{}", d(v)),
            ServiceTime::Exponential { mean } => write!(f, "exponential:{}", d(mean)),
            ServiceTime::LogNormal { median, sigma } => {
                write!(f, "lognormal:{},{sigma}", d(median))
            }
            ServiceTime::Pareto { min, alpha } => write!(f, "pareto:{},{alpha}", d(min)),
            ServiceTime::Bimodal { fast, slow, p_slow } => {
                write!(f, "bimodal:{},{},{p_slow}", d(fast), d(slow))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn every_form_parses_and_round_trips() {
        let cases = [
            ("constant:5ms", ServiceTime::Constant(ms(5))),
            ("5ms", ServiceTime::Constant(ms(5))),
            (
                "exponential:50ms",
                ServiceTime::Exponential { mean: ms(50) },
            ),
            (
                "lognormal:2ms,0.5",
                ServiceTime::LogNormal {
                    median: ms(2),
                    sigma: 0.5,
                },
            ),
            (
                "pareto:1ms, 2.5",
                ServiceTime::Pareto {
                    min: ms(1),
                    alpha: 2.5,
                },
            ),
            (
                "bimodal:1ms,50ms,0.1",
                ServiceTime::Bimodal {
                    fast: ms(1),
                    slow: ms(50),
                    p_slow: 0.1,
                },
            ),
            ("constant:1.5s", ServiceTime::Constant(ms(1500))),
            (
                "constant:250us",
                ServiceTime::Constant(Duration::from_micros(250)),
            ),
        ];
        for (spec, want) in cases {
            let got: ServiceTime = spec.parse().expect(spec);
            assert_eq!(got, want, "{spec}");
            assert_eq!(got.to_string().parse::<ServiceTime>(), Ok(want), "{spec}");
        }
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, needle) in [
            ("gaussian:5ms", "unknown service-time distribution"),
            ("constant", "no parameters"),
            ("constant:5", "no unit"),
            ("constant:5parsecs", "unknown unit"),
            ("exponential:0ms", "mean must be > 0"),
            ("lognormal:2ms", "lognormal:MEDIAN,SIGMA"),
            ("pareto:1ms,x", "alpha `x` is not a number"),
            ("bimodal:1ms,2ms,1.5", "p_slow must be in [0, 1]"),
        ] {
            let err = spec.parse::<ServiceTime>().expect_err(spec);
            assert!(err.contains(needle), "{spec}: {err}");
        }
    }
}
