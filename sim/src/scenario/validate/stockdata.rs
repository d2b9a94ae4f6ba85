//! `[stockdata]`: service-time models and the pods its per-pod keys name.

use super::Invalid;
use crate::scenario::service_time::ServiceTimeConfig;
use crate::scenario::{MAX_SLOWDOWN, Scenario, ScenarioError};
use crate::topology::{self, STOCKDATA};

/// StockData's service-time models and the pods its per-pod keys name.
pub(super) fn stockdata(s: &Scenario, v: &Invalid) -> Result<(), ScenarioError> {
    let invalid = |field: &str, message: String| v.at(field, message);
    let models = std::iter::once((
        "stockdata.service_time".to_string(),
        s.stockdata.service_time,
    ))
    .chain(
        s.stockdata
            .pod_service_time
            .iter()
            .map(|(pod, m)| (format!("stockdata.pod_service_time.{pod}"), *m)),
    );
    for (field, model) in models {
        let field = field.as_str();
        match model {
            ServiceTimeConfig::Exponential { mean } if mean.0.is_zero() => {
                return Err(invalid(field, "mean: expected a duration above 0".into()));
            }
            ServiceTimeConfig::Lognormal { sigma, .. } if !(sigma.is_finite() && sigma > 0.0) => {
                return Err(invalid(
                    field,
                    format!("sigma = {sigma}; expected a number above 0"),
                ));
            }
            ServiceTimeConfig::Pareto { alpha, .. } if !(alpha.is_finite() && alpha > 0.0) => {
                return Err(invalid(
                    field,
                    format!("alpha = {alpha}; expected a number above 0"),
                ));
            }
            ServiceTimeConfig::Bimodal { p_slow, .. } if !(0.0..=1.0).contains(&p_slow) => {
                return Err(invalid(
                    field,
                    format!("p_slow = {p_slow}; expected a probability from 0 to 1"),
                ));
            }
            _ => {}
        }
    }
    let pods: Vec<String> = (0..s.stockdata.replicas.get())
        .map(|i| topology::pod_name(STOCKDATA, i))
        .collect();
    for (pod, factor) in &s.stockdata.slowdown {
        if !pods.contains(pod) {
            return Err(invalid(
                "stockdata.slowdown",
                format!("unknown pod `{pod}`; expected one of {}", pods.join(", ")),
            ));
        }
        if !(factor.is_finite() && *factor > 0.0 && *factor <= MAX_SLOWDOWN) {
            return Err(invalid(
                "stockdata.slowdown",
                format!("`{pod}` = {factor}; expected a number above 0 and at most {MAX_SLOWDOWN}"),
            ));
        }
    }
    if let Some(pod) = s
        .stockdata
        .pod_service_time
        .keys()
        .find(|p| !pods.contains(p))
    {
        return Err(invalid(
            "stockdata.pod_service_time",
            format!("unknown pod `{pod}`; expected one of {}", pods.join(", ")),
        ));
    }
    if let Some(pod) = s.stockdata.weights.keys().find(|p| !pods.contains(p)) {
        return Err(invalid(
            "stockdata.weights",
            format!("unknown pod `{pod}`; expected one of {}", pods.join(", ")),
        ));
    }
    Ok(())
}
