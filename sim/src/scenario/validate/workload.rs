//! `[workload]`: an open or closed loop instead of `[load]`.

use super::Invalid;
use crate::scenario::config::{LoadConfig, Model, WorkloadConfig};
use crate::scenario::{MAX_IN_FLIGHT, MAX_REQUESTS, Scenario, ScenarioError, SimDuration};

/// The workload, when there is one.
pub(super) fn workload(s: &Scenario, v: &Invalid) -> Result<(), ScenarioError> {
    let Some(w) = &s.workload else {
        return Ok(());
    };
    if s.load != LoadConfig::default() {
        return Err(v.at(
            "load",
            "use either [load] (a fixed page schedule) or [workload], not both".into(),
        ));
    }
    let w = Workload { w, v };
    w.loop_driver()?;
    w.no_key_of_the_other_loop()?;
    w.size()?;
    w.not_found_ratio()?;
    w.within_time_limit(s.time_limit)
}

/// A `[workload]` table and where its errors point.
struct Workload<'a> {
    w: &'a WorkloadConfig,
    v: &'a Invalid<'a>,
}

impl Workload<'_> {
    /// An error at `workload.<field>`.
    fn invalid(&self, field: &str, message: String) -> ScenarioError {
        self.v.at(&format!("workload.{field}"), message)
    }

    /// What drives the loop: an open loop's `rate`, a closed loop's `users`.
    fn loop_driver(&self) -> Result<(), ScenarioError> {
        let w = self.w;
        match w.model {
            Model::Open => match w.rate {
                Some(r) if r.is_finite() && r > 0.0 => Ok(()),
                Some(r) => Err(self.invalid("rate", format!("{r}; expected a rate above 0"))),
                None => Err(self.invalid("rate", "is required for an open loop".into())),
            },
            Model::Closed => match w.users {
                Some(u) if u > MAX_IN_FLIGHT => Err(self.invalid(
                    "users",
                    format!(
                        "{u}; expected at most {MAX_IN_FLIGHT} (each user holds a \
                             connection from the browser host, which has 16,384 ports)"
                    ),
                )),
                Some(u) if u >= 1 => Ok(()),
                Some(_) => Err(self.invalid("users", "expected at least 1".into())),
                None => Err(self.invalid("users", "is required for a closed loop".into())),
            },
        }
    }

    /// A key of the other loop would be read by nothing: refuse it rather
    /// than run something else than the file says.
    fn no_key_of_the_other_loop(&self) -> Result<(), ScenarioError> {
        let w = self.w;
        let ignored: &[(&str, bool)] = match w.model {
            Model::Open => &[
                ("users", w.users.is_some()),
                ("think_time", w.think_time.is_some()),
                ("think", w.think != Default::default()),
            ],
            Model::Closed => &[
                ("rate", w.rate.is_some()),
                ("connections", w.connections.is_some()),
                ("arrival", w.arrival != Default::default()),
            ],
        };
        if let Some((key, _)) = ignored.iter().find(|(_, set)| *set) {
            let (model, other, drives) = match w.model {
                Model::Open => ("an open", "closed", "arrivals come at `rate`"),
                Model::Closed => ("a closed", "open", "`users` send one request at a time"),
            };
            return Err(self.invalid(
                key,
                format!(
                    "has no effect in {model} loop ({drives}); expected it only with \
                     model = \"{other}\", or remove it"
                ),
            ));
        }
        Ok(())
    }

    /// How many requests, for how long, over how many connections.
    fn size(&self) -> Result<(), ScenarioError> {
        let w = self.w;
        if let Some(rate) = w.rate {
            let requests = rate * w.duration.0.as_secs_f64();
            if requests > MAX_REQUESTS as f64 {
                return Err(self.invalid(
                    "rate",
                    format!(
                        "{rate}/s for {} is {requests:.0} requests; expected at most {MAX_REQUESTS}",
                        w.duration
                    ),
                ));
            }
        }
        if w.duration.0.is_zero() {
            return Err(self.invalid("duration", "expected a duration above 0".into()));
        }
        if w.warmup >= w.duration {
            return Err(self.invalid("warmup", "expected less than the duration".into()));
        }
        match w.connections {
            Some(0) => Err(self.invalid("connections", "expected at least 1".into())),
            Some(c) if c > MAX_IN_FLIGHT => Err(self.invalid(
                "connections",
                format!(
                    "{c}; expected at most {MAX_IN_FLIGHT} (each connection holds a \
                         port on the browser host, which has 16,384)"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The share of `get`s for ids that do not exist.
    fn not_found_ratio(&self) -> Result<(), ScenarioError> {
        if !(0.0..=1.0).contains(&self.w.not_found_ratio) {
            return Err(self.invalid("not_found_ratio", "expected a share from 0 to 1".into()));
        }
        Ok(())
    }

    /// The requests and their drain end before the run's `time_limit`.
    fn within_time_limit(&self, time_limit: SimDuration) -> Result<(), ScenarioError> {
        let w = self.w;
        if w.duration.0 + w.drain.0 >= time_limit.0 {
            return Err(self.invalid(
                "duration",
                format!(
                    "duration + drain ({}) must be less than time_limit ({})",
                    SimDuration(w.duration.0 + w.drain.0),
                    time_limit
                ),
            ));
        }
        Ok(())
    }
}
