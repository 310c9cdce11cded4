//! Scenarios: the lab's situations as data (`assets/scenarios/*.toml`, embedded in the binary).
//!
//! Every duration in a scenario file is in *outage time* — the seconds the real incident took —
//! and is multiplied by `time_scale` when applied, so a 75 s initialization timeout plays out in
//! 7.5 s at scale 0.1 while every ratio between timeouts, delays and budgets stays the same.
//! Rates (bandwidth) and counts (connection caps, free slots) are not scaled. A description
//! writes its durations in outage time too, in braces (`times out at {75s}`), and is shown
//! scaled like everything else (`times out at 7.5 s`), so it says what the screen shows.

use std::time::Duration;

use serde::Deserialize;

use super::proxy::{Faults, OverCap};
use crate::config::duration as dur;

/// The built-in scenarios, in the order the dashboard lists them.
const BUILTIN: [(&str, &str); 5] = [
    (
        "healthy",
        include_str!("../../assets/scenarios/healthy.toml"),
    ),
    (
        "connector-saturation",
        include_str!("../../assets/scenarios/connector-saturation.toml"),
    ),
    (
        "db-capacity",
        include_str!("../../assets/scenarios/db-capacity.toml"),
    ),
    (
        "startup-timeout",
        include_str!("../../assets/scenarios/startup-timeout.toml"),
    ),
    (
        "flapping",
        include_str!("../../assets/scenarios/flapping.toml"),
    ),
];

pub const DEFAULT_SCENARIO: &str = "healthy";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub description: String,
    /// Multiplies every duration below; 0.1 plays the outage ten times faster.
    pub time_scale: f64,
    #[serde(default)]
    pub proxy: ProxySpec,
    #[serde(default)]
    pub(crate) flap: Option<FlapSpec>,
    #[serde(default)]
    pub database: DatabaseSpec,
    #[serde(default)]
    pub service: ServiceSpec,
}

/// The connector stand-in's faults, in outage time.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySpec {
    /// Added to every chunk, in each direction.
    #[serde(with = "dur")]
    pub latency: Duration,
    /// Latency varies uniformly by up to ± this much per chunk.
    #[serde(with = "dur")]
    pub jitter: Duration,
    /// Wait before a new connection is forwarded (the connector's scaling delay).
    #[serde(with = "dur")]
    pub connect_delay: Duration,
    #[serde(with = "dur")]
    pub(crate) connect_jitter: Duration,
    /// Concurrent connections the connector carries; `None` is unlimited.
    pub max_connections: Option<u32>,
    pub over_cap: OverCap,
    /// Accept connections but never forward or answer anything.
    pub black_hole: bool,
    /// Close every connection with a TCP reset.
    pub reset: bool,
    pub bandwidth_bytes_per_sec: Option<u64>,
}

/// Faults that come and go: every `every`, the proxy switches between the scenario's `proxy`
/// faults and these.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlapSpec {
    #[serde(with = "dur")]
    pub every: Duration,
    pub proxy: ProxySpec,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSpec {
    /// Hold connections open until only this many are left (0 = at capacity: new connections
    /// get 53300). `None`: no hog.
    pub(crate) free_slots: Option<u32>,
    /// Simulated database only: refuse connections with 57P03 (a real server cannot be held in
    /// that state on demand, so the real one ignores it).
    pub(crate) starting_up: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSpec {
    /// The service's database initialization timeout (staging: 75 s).
    #[serde(with = "dur")]
    pub(crate) init_timeout: Duration,
    /// Pause between connection tries inside phase 3.
    #[serde(with = "dur")]
    pub(crate) retry_interval: Duration,
    /// Pause between an exit and the next start (the platform's restart back-off).
    #[serde(with = "dur")]
    pub(crate) restart_delay: Duration,
    /// Each phase other than the database takes this fraction of its budget.
    pub(crate) phase_pace: f64,
    /// Bound on `/health/database`'s own `SELECT 1`.
    #[serde(with = "dur")]
    pub(crate) db_check_timeout: Duration,
    /// Entering this scenario restarts the service (a new revision rolling out), so its
    /// startup runs against the new conditions instead of keeping an old connection.
    pub(crate) restart_on_enter: bool,
}

impl Default for ServiceSpec {
    fn default() -> Self {
        Self {
            init_timeout: Duration::from_secs(75),
            retry_interval: Duration::from_secs(5),
            restart_delay: Duration::from_secs(10),
            phase_pace: 0.05,
            db_check_timeout: Duration::from_secs(5),
            restart_on_enter: false,
        }
    }
}

/// A scenario ready to apply: its name, the file's content, and the time scale in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub file: ScenarioFile,
    pub time_scale: f64,
}

/// The service's behaviour in real (scaled) time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceBehaviour {
    pub(crate) init_timeout: Duration,
    pub(crate) retry_interval: Duration,
    pub(crate) restart_delay: Duration,
    pub(crate) phase_pace: f64,
    pub(crate) db_check_timeout: Duration,
    /// Multiplies the phase budgets (the time scale).
    pub time_scale: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("unknown scenario `{0}`; known: {1}")]
    Unknown(String, String),
    #[error("scenario `{name}`: {message}")]
    Invalid { name: String, message: String },
}

impl Scenario {
    /// A built-in scenario by name; `time_scale` overrides the file's when given.
    pub fn builtin(name: &str, time_scale: Option<f64>) -> Result<Scenario, ScenarioError> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            ScenarioError::Unknown(name.to_string(), names().collect::<Vec<_>>().join(", "))
        })?;
        Scenario::parse(name, text, time_scale)
    }

    pub fn parse(
        name: &str,
        text: &str,
        time_scale: Option<f64>,
    ) -> Result<Scenario, ScenarioError> {
        let invalid = |message: String| ScenarioError::Invalid {
            name: name.to_string(),
            message,
        };
        let file: ScenarioFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let time_scale = time_scale.unwrap_or(file.time_scale);
        if !(time_scale.is_finite() && time_scale > 0.0 && time_scale <= 10.0) {
            return Err(invalid(format!(
                "time_scale must be in (0, 10], got {time_scale}"
            )));
        }
        if file.flap.as_ref().is_some_and(|f| f.every.is_zero()) {
            return Err(invalid("flap.every must be more than zero".into()));
        }
        if !(0.0..=1.0).contains(&file.service.phase_pace) {
            return Err(invalid("service.phase_pace must be within 0..1".into()));
        }
        Ok(Scenario {
            name: name.to_string(),
            file,
            time_scale,
        })
    }

    /// The description with every `{duration}` in it scaled to the time the lab plays.
    pub fn description(&self) -> String {
        scaled_text(&self.file.description, self.time_scale)
    }

    pub fn scale(&self, d: Duration) -> Duration {
        d.mul_f64(self.time_scale)
    }

    pub fn faults(&self) -> Faults {
        self.faults_of(&self.file.proxy)
    }

    /// The flapping faults and the scaled period, when the scenario flaps.
    pub(crate) fn flap(&self) -> Option<(Duration, Faults)> {
        let f = self.file.flap.as_ref()?;
        Some((self.scale(f.every), self.faults_of(&f.proxy)))
    }

    fn faults_of(&self, p: &ProxySpec) -> Faults {
        Faults {
            latency: self.scale(p.latency),
            jitter: self.scale(p.jitter),
            connect_delay: self.scale(p.connect_delay),
            connect_jitter: self.scale(p.connect_jitter),
            max_connections: p.max_connections,
            over_cap: p.over_cap,
            black_hole: p.black_hole,
            reset: p.reset,
            bandwidth_bytes_per_sec: p.bandwidth_bytes_per_sec,
        }
    }

    pub fn service(&self) -> ServiceBehaviour {
        let s = &self.file.service;
        ServiceBehaviour {
            init_timeout: self.scale(s.init_timeout),
            retry_interval: self.scale(s.retry_interval),
            restart_delay: self.scale(s.restart_delay),
            phase_pace: s.phase_pace,
            db_check_timeout: self.scale(s.db_check_timeout),
            time_scale: self.time_scale,
        }
    }
}

/// `text` with each `{duration}` (outage time, as in the config: `{75s}`, `{1m30s}`) replaced
/// by that duration × `scale` in the screen's units (`7.5 s`). Anything else in braces, or
/// an unmatched brace, is left as written.
fn scaled_text(text: &str, scale: f64) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let parsed = after
            .find('}')
            .and_then(|close| dur::parse(&after[..close]).ok().map(|d| (close, d)));
        match parsed {
            Some((close, d)) => {
                out.push_str(&crate::units::duration(d.mul_f64(scale)));
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Names of the built-in scenarios.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}

/// Every built-in scenario with its description, in listing order.
pub fn list() -> Vec<(String, String)> {
    BUILTIN
        .iter()
        .filter_map(|(name, _)| {
            Scenario::builtin(name, None)
                .ok()
                .map(|s| (s.name.clone(), s.description()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses() {
        for name in names() {
            let s = Scenario::builtin(name, None);
            assert!(s.is_ok(), "{name}: {:?}", s.err());
        }
        assert_eq!(list().len(), BUILTIN.len());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let text = "description = 'x'\ntime_scale = 0.1\n[proxy]\nlatencyy = '1s'\n";
        let err = Scenario::parse("x", text, None)
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("latencyy")),
            "{err:?}"
        );
    }

    #[test]
    fn durations_are_scaled_and_counts_are_not() {
        let text = "description = 'x'\ntime_scale = 0.1\n[proxy]\nconnect_delay = '30s'\n\
                    max_connections = 50\n[service]\ninit_timeout = '75s'\n";
        let s = Scenario::parse("x", text, None).expect("valid scenario");
        assert_eq!(s.faults().connect_delay, Duration::from_secs(3));
        assert_eq!(s.faults().max_connections, Some(50));
        assert_eq!(s.service().init_timeout, Duration::from_millis(7500));
        let faster = Scenario::parse("x", text, Some(0.02)).expect("valid scenario");
        assert_eq!(faster.service().init_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn the_startup_timeout_scenario_black_holes_and_restarts_the_service() {
        let s = Scenario::builtin("startup-timeout", None).expect("built in");
        assert!(s.faults().black_hole);
        assert!(s.file.service.restart_on_enter);
        assert_eq!(s.file.service.init_timeout, Duration::from_secs(75));
    }

    #[test]
    fn descriptions_say_the_scaled_times_the_screen_shows() {
        assert_eq!(
            scaled_text("times out at {75s}, every {40s}; {not a time} {", 0.1),
            "times out at 7.5 s, every 4 s; {not a time} {"
        );
        let s = Scenario::builtin("startup-timeout", None).expect("built in");
        let scaled = s.service().init_timeout;
        assert!(
            s.description()
                .contains(&format!("at {}", crate::units::duration(scaled))),
            "{}",
            s.description()
        );
        for (name, desc) in list() {
            assert!(!desc.contains('{'), "{name}: a placeholder left: {desc}");
            assert!(
                !desc.contains("75 s") && !desc.contains("35 s"),
                "{name}: {desc}"
            );
        }
    }

    #[test]
    fn a_bad_time_scale_is_rejected() {
        let text = "description = 'x'\ntime_scale = 0\n";
        assert!(Scenario::parse("x", text, None).is_err());
        assert!(Scenario::parse("x", "description = 'x'\ntime_scale = 1\n", Some(-1.0)).is_err());
    }
}
