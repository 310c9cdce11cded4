//! The connscope settings that fit a lab run: the staging profile's outage timings multiplied
//! by the scenario's time scale (so a 75 s initialization timeout becomes 7.5 s at 0.1, and the
//! lab's phase 3 timeout is judged "close to the configured value"), plus the lab's addresses.
//! The lead applies them as dotted keys with source `lab`.

use std::time::Duration;

use toml::Value;

use super::LabAddresses;
use super::scenario::Scenario;
use crate::config::{self, Config, FlagOverride, LoadOptions, Settings};
use crate::error::LabError;

/// Probe intervals say how often to look, not how the outage went: scaled like the rest but
/// never so short that a very fast lab hammers its own database with new connections.
const MIN_INTERVAL: Duration = Duration::from_millis(200);
/// One database attempt a second keeps the chart readable and the lab calm; faster says nothing more.
const MIN_DB_INTERVAL: Duration = Duration::from_secs(1);
/// The pool probe's run, scaled, but long enough for its waits chart to show something.
const MIN_POOL_DURATION: Duration = Duration::from_secs(3);

fn dur(d: Duration) -> Value {
    Value::String(config::duration::format(d))
}

/// The staging profile as built in, untouched by files, environment or flags.
pub(super) fn staging() -> Result<Settings, LabError> {
    let opts = LoadOptions {
        flags: vec![FlagOverride {
            key: "environment",
            value: Value::String("staging".into()),
            flag: "lab",
        }],
        ..LoadOptions::default()
    };
    Config::load(&opts)
        .map(|c| c.settings)
        .map_err(LabError::Settings)
}

/// Dotted keys and values, every timing key of the staging profile scaled.
pub(super) fn suggested(
    scenario: &Scenario,
    addresses: &LabAddresses,
) -> Result<Vec<(String, Value)>, LabError> {
    let s = staging()?;
    let mut out: Vec<(String, Value)> =
        vec![("environment".into(), Value::String("staging".into()))];
    out.extend(timings(&s, scenario));
    out.extend(optional_timings(&s, scenario));
    out.push(("startup.phases".into(), phases(&s, scenario)));
    out.extend(address_settings(addresses));
    Ok(out)
}

/// The timing keys every profile has.
fn timings(s: &Settings, scenario: &Scenario) -> Vec<(String, Value)> {
    let scale = |d: Duration| dur(scenario.scale(d));
    let interval = |d: Duration| dur(scenario.scale(d).max(MIN_INTERVAL));
    vec![
        (
            "timeouts.initialization".into(),
            scale(s.timeouts.initialization),
        ),
        ("timeouts.connection".into(), scale(s.timeouts.connection)),
        ("timeouts.pool".into(), scale(s.timeouts.pool)),
        (
            "timeouts.health_check".into(),
            scale(s.timeouts.health_check),
        ),
        ("pool.timeout".into(), scale(s.pool.timeout)),
        (
            "pool_probe.duration".into(),
            dur(scenario.scale(s.pool_probe.duration).max(MIN_POOL_DURATION)),
        ),
        (
            "database.interval".into(),
            dur(scenario.scale(s.database.interval).max(MIN_DB_INTERVAL)),
        ),
        ("database.max_backoff".into(), scale(s.database.max_backoff)),
        ("health.interval".into(), interval(s.health.interval)),
        (
            "health.tries_interval".into(),
            interval(s.health.tries_interval),
        ),
        ("startup.total_budget".into(), scale(s.startup.total_budget)),
        (
            "alerts.warning_avg_connect_above".into(),
            scale(s.alerts.warning_avg_connect_above),
        ),
        (
            "targets.db_avg_connect_below".into(),
            scale(s.targets.db_avg_connect_below),
        ),
        (
            "targets.startup_total_below".into(),
            scale(s.targets.startup_total_below),
        ),
        (
            "targets.health_latency_below".into(),
            scale(s.targets.health_latency_below),
        ),
    ]
}

/// The timing keys of sections a profile may leave out.
fn optional_timings(s: &Settings, scenario: &Scenario) -> Vec<(String, Value)> {
    let scale = |d: Duration| dur(scenario.scale(d));
    let mut out = Vec::new();
    if let Some(m) = &s.minimums {
        out.push(("minimums.initialization".into(), scale(m.initialization)));
        out.push(("minimums.connection".into(), scale(m.connection)));
    }
    if let Some(ca) = &s.capacity_aware {
        out.push((
            "capacity_aware.vpc_scaling_buffer".into(),
            scale(ca.vpc_scaling_buffer),
        ));
    }
    if let Some(v) = &s.vpc_connector {
        out.push(("vpc_connector.scaling_delay".into(), scale(v.scaling_delay)));
    }
    out
}

fn phases(s: &Settings, scenario: &Scenario) -> Value {
    let phases = s
        .startup
        .phases
        .iter()
        .map(|p| {
            let mut t = toml::Table::new();
            t.insert("name".into(), Value::String(p.name.clone()));
            t.insert("budget".into(), dur(scenario.scale(p.budget)));
            Value::Table(t)
        })
        .collect();
    Value::Array(phases)
}

fn address_settings(a: &LabAddresses) -> Vec<(String, Value)> {
    let endpoints = a
        .endpoints
        .iter()
        .map(|(name, url)| {
            let mut t = toml::Table::new();
            t.insert("name".into(), Value::String(name.clone()));
            t.insert("url".into(), Value::String(url.clone()));
            if name == "backend" {
                t.insert("websocket".into(), Value::String(a.websocket.clone()));
            }
            Value::Table(t)
        })
        .collect();
    vec![
        ("database.url".into(), Value::String(a.database_url.clone())),
        ("endpoints".into(), Value::Array(endpoints)),
        (
            "startup.log".into(),
            Value::String(a.startup_log.display().to_string()),
        ),
        ("startup.format".into(), Value::String("json".into())),
    ]
}
