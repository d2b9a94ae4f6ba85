//! Parameter sweeps: one scenario, a grid of `--set key=v1,v2,…` values,
//! every strategy at every point.
//!
//! A point's scenario is the base file with the values written into its
//! TOML and parsed again, so a swept value is validated exactly like one
//! typed into the file (an unknown key is an error, not a silent no-op).
//! All runs of all points share one pool of worker threads; reports come
//! back in grid order, so the bytes never depend on scheduling.

use crate::runner::{RunError, assemble, run_jobs};
use crate::scenario::{Scenario, ScenarioError};
use crate::strategy::Strategy;
use reports::Report;
use std::collections::BTreeMap;

/// Shorthands accepted by `--set`.
pub const KEY_ALIASES: [(&str, &str); 6] = [
    ("replicas", "stockdata.replicas"),
    ("concurrency", "stockdata.concurrency"),
    ("rate", "workload.rate"),
    // The load generator's rate lives in `[workload]`; `[load]` is the
    // fixed page schedule, which has no rate.
    ("load.rate", "workload.rate"),
    ("users", "workload.users"),
    ("page_loads", "load.page_loads"),
];

/// A `--set` argument could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Not `key=value[,value…]`.
    #[error("--set {arg}: expected key=value[,value…], e.g. replicas=2,4,8")]
    Syntax {
        /// The argument.
        arg: String,
    },
    /// The key's path runs through a value that is not a table.
    #[error("--set {key}: `{part}` is not a table in the scenario")]
    NotATable {
        /// The key.
        key: String,
        /// The offending part.
        part: String,
    },
    /// A value is given twice, or a key is set by two `--set` flags.
    #[error("--set {key}: {message}")]
    Duplicate {
        /// The key.
        key: String,
        /// What is repeated.
        message: String,
    },
    /// The resulting scenario is invalid.
    #[error("--set {assignment}: {message}")]
    Scenario {
        /// `key=value` of the point.
        assignment: String,
        /// What the scenario parser said, without a place in the generated
        /// document (the value is on the command line, not in the file).
        message: String,
    },
    /// The base scenario does not parse as TOML.
    #[error("{0}")]
    Base(Box<ScenarioError>),
    /// The grid has more points than [`MAX_POINTS`].
    #[error(
        "--set: the grid has {points} points ({sizes}); expected at most {MAX_POINTS} (each point \
         runs every strategy)"
    )]
    TooLarge {
        /// The product of the value counts (saturating).
        points: u64,
        /// The value counts, `100 × 100`.
        sizes: String,
    },
}

/// Most points a sweep grid may have: each runs every strategy, so 1,000
/// points is already hours of runs at the bundled scenarios' sizes.
pub const MAX_POINTS: u64 = 1_000;

/// Longest point folder name in bytes (Linux's `NAME_MAX`).
pub const MAX_DIR_NAME: usize = 255;

/// One swept parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Dotted scenario key, aliases resolved.
    pub key: String,
    /// Values as given.
    pub values: Vec<String>,
}

impl std::str::FromStr for Param {
    type Err = SweepError;

    fn from_str(arg: &str) -> Result<Self, SweepError> {
        let syntax = || SweepError::Syntax { arg: arg.into() };
        let (key, values) = arg.split_once('=').ok_or_else(syntax)?;
        let key = key.trim();
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
        if key.is_empty() || values.iter().any(String::is_empty) {
            return Err(syntax());
        }
        let key = KEY_ALIASES
            .iter()
            .find(|(alias, _)| *alias == key)
            .map_or(key, |(_, full)| full)
            .to_string();
        // Two equal values would be one point run twice, written to one folder.
        if let Some((i, v)) = values
            .iter()
            .enumerate()
            .find(|(i, v)| values[..*i].contains(v))
        {
            return Err(SweepError::Duplicate {
                key,
                message: format!(
                    "value `{v}` is listed twice (value {} of {}); expected distinct values",
                    i + 1,
                    values.len()
                ),
            });
        }
        Ok(Self { key, values })
    }
}

/// One grid point: its values and its scenario.
#[derive(Debug, Clone)]
pub struct Point {
    /// Key → value, in parameter order.
    pub values: Vec<(String, String)>,
    /// The scenario with the values applied.
    pub scenario: Scenario,
}

impl Point {
    /// `stockdata.replicas=2,workload.rate=100`-style folder name.
    pub fn dir_name(&self) -> String {
        let joined = self
            .values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("_");
        reports::output::safe_name(&joined, &['.', '=', '-', '_'])
    }

    /// Values as a map, for `sweep.json`.
    pub fn value_map(&self) -> BTreeMap<String, String> {
        self.values.iter().cloned().collect()
    }
}

/// A TOML value from a command-line word: a number, bool, array or inline
/// table if it parses as one, else a string (`50ms`).
fn toml_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn set(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), SweepError> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut here = table;
    for part in parts {
        let entry = here
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        here = entry.as_table_mut().ok_or_else(|| SweepError::NotATable {
            key: key.into(),
            part: part.into(),
        })?;
    }
    here.insert(last.to_string(), value);
    Ok(())
}

/// Every point of the grid (first parameter outermost), each parsed and
/// validated.
pub fn grid(base_text: &str, path: &str, params: &[Param]) -> Result<Vec<Point>, SweepError> {
    let base: toml::Table = toml::from_str(base_text)
        .map_err(|e| SweepError::Base(Box::new(ScenarioError::from_toml(path, base_text, &e))))?;
    for (i, p) in params.iter().enumerate() {
        if params[..i].iter().any(|q| q.key == p.key) {
            return Err(SweepError::Duplicate {
                key: p.key.clone(),
                message: "the key is set by two --set flags; expected each key once".into(),
            });
        }
    }
    let points = params
        .iter()
        .fold(1u64, |n, p| n.saturating_mul(p.values.len() as u64));
    if points > MAX_POINTS {
        return Err(SweepError::TooLarge {
            points,
            sizes: params
                .iter()
                .map(|p| p.values.len().to_string())
                .collect::<Vec<_>>()
                .join(" × "),
        });
    }
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for p in params {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                p.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((p.key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    combos
        .into_iter()
        .map(|values| {
            let mut table = base.clone();
            let assignment = values
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            for (k, v) in &values {
                set(&mut table, k, toml_value(v))?;
            }
            let text = format!(
                "# meshsim sweep point {assignment} of {path}\n{}",
                toml::to_string(&table).unwrap_or_default()
            );
            let scenario = Scenario::parse(&text, path).map_err(|e| SweepError::Scenario {
                assignment: assignment.clone(),
                message: point_message(e),
            })?;
            Ok(Point { values, scenario })
        })
        .collect::<Result<Vec<Point>, SweepError>>()
        .and_then(distinct_folders)
}

/// What was wrong with a point's scenario. A line and column would point
/// into the generated document, not the file, so they are left out.
fn point_message(e: ScenarioError) -> String {
    match e {
        ScenarioError::Parse { message, .. } => message,
        ScenarioError::Invalid { field, message, .. } => format!("`{field}`: {message}"),
        other => other.to_string(),
    }
}

/// Points whose folder names differ only in characters made safe (`a/b`
/// and `a_b`) would overwrite each other's reports; a name longer than the
/// file system allows could not be created. One pass over the points.
fn distinct_folders(points: Vec<Point>) -> Result<Vec<Point>, SweepError> {
    let show = |pt: &Point| {
        pt.values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, p) in points.iter().enumerate() {
        let dir = p.dir_name();
        if dir.len() > MAX_DIR_NAME {
            return Err(SweepError::Duplicate {
                key: show(p),
                message: format!(
                    "its folder name is {} bytes long; expected at most {MAX_DIR_NAME} (the file \
                     system's limit): use shorter values",
                    dir.len()
                ),
            });
        }
        if let Some(&j) = seen.get(&dir) {
            return Err(SweepError::Duplicate {
                key: show(p),
                message: format!(
                    "writes to the same folder `{dir}` as {}; expected values that differ in \
                     letters, digits or `.-_=`",
                    show(&points[j])
                ),
            });
        }
        seen.insert(dir, i);
    }
    Ok(points)
}

/// Runs every strategy at every point on one worker pool; reports in grid
/// order. Each point runs with `seed` if given, else its own scenario's
/// seed (so `--set seed=1,2,3` runs three seeds). `on_done` is called as
/// each run finishes.
pub fn run_grid(
    points: &[Point],
    seed: Option<u64>,
    on_done: &(impl Fn(Strategy) + Sync),
) -> Result<Vec<Report>, RunError> {
    let seed_of = |p: &Point| seed.unwrap_or(p.scenario.seed);
    let jobs: Vec<(&Scenario, Strategy, u64)> = points
        .iter()
        .flat_map(|p| {
            p.scenario
                .strategies
                .iter()
                .map(move |&s| (&p.scenario, s, seed_of(p)))
        })
        .collect();
    let mut results = run_jobs(&jobs, &|_, s| on_done(s)).into_iter();
    points
        .iter()
        .map(|p| {
            let runs = results
                .by_ref()
                .take(p.scenario.strategies.len())
                .collect::<Result<Vec<_>, _>>()?;
            assemble(&p.scenario, seed_of(p), &runs)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "name = \"t\"\nstrategies = [\"cached-dns\"]\n[stockdata]\nreplicas = 2\n";

    #[test]
    fn params_parse_and_resolve_aliases() {
        let p: Param = "replicas=2,4,8".parse().expect("parses");
        assert_eq!(p.key, "stockdata.replicas");
        assert_eq!(p.values, ["2", "4", "8"]);
        let rate: Param = "load.rate=100,200".parse().expect("parses");
        assert_eq!(rate.key, "workload.rate");
        assert!("replicas".parse::<Param>().is_err());
        assert!("replicas=2,,4".parse::<Param>().is_err());
    }

    #[test]
    fn grid_is_the_cartesian_product_first_parameter_outermost() {
        let params: Vec<Param> = ["replicas=2,3", "load.interval=50ms,100ms"]
            .iter()
            .map(|a| a.parse().expect("parses"))
            .collect();
        let points = grid(BASE, "t.toml", &params).expect("valid");
        let got: Vec<String> = points.iter().map(Point::dir_name).collect();
        assert_eq!(
            got,
            [
                "stockdata.replicas=2_load.interval=50ms",
                "stockdata.replicas=2_load.interval=100ms",
                "stockdata.replicas=3_load.interval=50ms",
                "stockdata.replicas=3_load.interval=100ms",
            ]
        );
        assert_eq!(points[2].scenario.stockdata.replicas.get(), 3);
        assert_ne!(points[0].scenario.hash(), points[1].scenario.hash());
    }

    #[test]
    fn bad_values_and_keys_name_the_assignment() {
        let bad: Param = "replicas=0".parse().expect("parses");
        let e = grid(BASE, "t.toml", &[bad]).expect_err("replicas 0 is invalid");
        assert!(e.to_string().contains("--set stockdata.replicas=0"), "{e}");
        let unknown: Param = "stockdata.nonsense=1".parse().expect("parses");
        let e = grid(BASE, "t.toml", &[unknown]).expect_err("unknown key");
        assert!(e.to_string().contains("nonsense"), "{e}");
        let through: Param = "name.x=1".parse().expect("parses");
        assert!(matches!(
            grid(BASE, "t.toml", &[through]),
            Err(SweepError::NotATable { .. })
        ));
    }
}
