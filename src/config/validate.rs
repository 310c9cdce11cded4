//! Checks that a value is usable, not just well-typed. Each failure names the key and points
//! at where the value was given.

use std::collections::BTreeSet;
use std::time::Duration;

use super::schema::Settings;
use super::{ConfigError, Source};

pub(super) const THEMES: [&str; 3] = ["dark", "light", "high-contrast"];
/// Endpoints, and WebSocket URLs, checked at most (each one is a task and a panel row).
const MAX_TARGETS: u64 = 100;

type Locate<'a> = &'a dyn Fn(&str) -> Source;

/// The WebSocket check's message: a probe, not a payload.
const MAX_WS_MESSAGE: usize = 4096;

fn fail(at: Locate<'_>, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::at(at(key), format!("{key}: {}", message.into()))
}

fn fraction(at: Locate<'_>, key: &str, v: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(fail(
            at,
            key,
            format!("{v} is not a fraction between 0 and 1"),
        ))
    }
}

fn positive(at: Locate<'_>, key: &str, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() {
        Err(fail(at, key, "must be longer than 0s"))
    } else {
        Ok(())
    }
}

fn within(at: Locate<'_>, key: &str, v: u64, lo: u64, hi: u64) -> Result<(), ConfigError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(fail(at, key, format!("{v} is outside {lo}..={hi}")))
    }
}

fn url_with_scheme(
    at: Locate<'_>,
    key: &str,
    raw: &str,
    schemes: &[&str],
) -> Result<(), ConfigError> {
    match url::Url::parse(raw) {
        Ok(u) if schemes.contains(&u.scheme()) && u.host_str().is_some() => Ok(()),
        Ok(u) => Err(fail(
            at,
            key,
            format!(
                "`{}` must be a {} URL with a host",
                u.scheme(),
                schemes.join(" or ")
            ),
        )),
        Err(e) => Err(fail(at, key, format!("not a URL ({e})"))),
    }
}

pub(super) fn settings(s: &Settings, at: Locate<'_>) -> Result<(), ConfigError> {
    timeouts(s, at)?;
    rates(s, at)?;
    counts(s, at)?;
    endpoints(s, at)?;
    startup(s, at)?;
    if !THEMES.contains(&s.ui.theme.as_str()) {
        return Err(fail(
            at,
            "ui.theme",
            format!(
                "unknown theme `{}`; expected {}",
                s.ui.theme,
                THEMES.join(", ")
            ),
        ));
    }
    Ok(())
}

fn timeouts(s: &Settings, at: Locate<'_>) -> Result<(), ConfigError> {
    positive(at, "timeouts.initialization", s.timeouts.initialization)?;
    positive(at, "timeouts.connection", s.timeouts.connection)?;
    positive(at, "timeouts.pool", s.timeouts.pool)?;
    positive(at, "timeouts.health_check", s.timeouts.health_check)?;
    positive(at, "database.interval", s.database.interval)?;
    positive(at, "ui.tick", s.ui.tick)?;
    positive(at, "health.interval", s.health.interval)?;
    positive(at, "websocket.connect_timeout", s.websocket.connect_timeout)?;
    positive(at, "websocket.reply_timeout", s.websocket.reply_timeout)?;
    let chars = s.websocket.message.chars().count();
    if chars > MAX_WS_MESSAGE {
        return Err(fail(
            at,
            "websocket.message",
            format!("{chars} characters; at most {MAX_WS_MESSAGE}"),
        ));
    }
    positive(at, "history.window", s.history.window)?;
    positive(at, "pool_probe.duration", s.pool_probe.duration)?;
    if let Some(w) = s.pool_probe.warn_wait {
        positive(at, "pool_probe.warn_wait", w)?;
    }
    if let Some(r) = s.pool_probe.recycle {
        positive(at, "pool_probe.recycle", r)?;
    }
    Ok(())
}

fn rates(s: &Settings, at: Locate<'_>) -> Result<(), ConfigError> {
    fraction(
        at,
        "alerts.critical_success_rate_below",
        s.alerts.critical_success_rate_below,
    )?;
    fraction(
        at,
        "alerts.infrastructure_timeout_rate_above",
        s.alerts.infrastructure_timeout_rate_above,
    )?;
    fraction(
        at,
        "alerts.capacity_error_rate_above",
        s.alerts.capacity_error_rate_above,
    )?;
    fraction(
        at,
        "targets.db_success_rate_above",
        s.targets.db_success_rate_above,
    )?;
    fraction(at, "pool.safety_margin", s.pool.safety_margin)?;
    if let Some(v) = &s.vpc_connector {
        fraction(
            at,
            "vpc_connector.capacity_pressure_threshold",
            v.capacity_pressure_threshold,
        )?;
    }
    if let Some(ca) = &s.capacity_aware
        && !(0.0..=10.0).contains(&ca.capacity_buffer)
    {
        return Err(fail(
            at,
            "capacity_aware.capacity_buffer",
            "must be between 0 and 10",
        ));
    }
    Ok(())
}

fn counts(s: &Settings, at: Locate<'_>) -> Result<(), ConfigError> {
    for (key, v, lo, hi) in count_bounds(s) {
        if let Some(v) = v {
            within(at, key, v, lo, hi)?;
        }
    }
    health_paths(s, at)
}

/// Every count with its allowed range, in the order a mistake is reported; `None` is an optional
/// count left unset, which needs no check. One row a line, so the table reads as one.
#[rustfmt::skip]
fn count_bounds(s: &Settings) -> [(&'static str, Option<u64>, u64, u64); 16] {
    let opt = |v: Option<u32>| v.map(u64::from);
    let vpc = s.vpc_connector.as_ref().map(|v| v.concurrent_connection_limit);
    [
        ("database.attempts", Some(s.database.attempts.into()), 1, 1_000_000),
        ("capacity.connections", Some(s.capacity.connections.into()), 1, 10_000),
        ("health.tries", Some(s.health.tries.into()), 1, 100),
        ("pool_probe.borrowers", opt(s.pool_probe.borrowers), 1, 10_000),
        ("alerts.window", Some(s.alerts.window.into()), 1, 100_000),
        ("alerts.down_after", Some(s.alerts.down_after.into()), 1, 1_000),
        ("history.samples", Some(s.history.samples as u64), 10, 1_000_000),
        ("history.log_lines", Some(s.history.log_lines as u64), 10, 1_000_000),
        ("health.body_limit", Some(s.health.body_limit as u64), 64, 1 << 20),
        ("pool.size", Some(s.pool.size.into()), 0, 100_000),
        ("pool.max_overflow", Some(s.pool.max_overflow.into()), 0, 100_000),
        ("pool.reserved_for_scaling", Some(s.pool.reserved_for_scaling.into()), 0, 100_000),
        ("capacity.concurrent_limit", opt(s.capacity.concurrent_limit), 1, 100_000),
        ("vpc_connector.concurrent_connection_limit", opt(vpc), 1, 100_000),
        ("endpoints", Some(s.endpoints.len() as u64), 0, MAX_TARGETS),
        ("websockets", Some(s.websockets.len() as u64), 0, MAX_TARGETS),
    ]
}

fn health_paths(s: &Settings, at: Locate<'_>) -> Result<(), ConfigError> {
    if s.health.paths.is_empty() || s.health.paths.iter().any(|p| !p.starts_with('/')) {
        return Err(fail(
            at,
            "health.paths",
            "give at least one path, each starting with `/`",
        ));
    }
    within(at, "health.paths", s.health.paths.len() as u64, 1, 16)
}

fn endpoints(s: &Settings, at: Locate<'_>) -> Result<(), ConfigError> {
    let mut names = BTreeSet::new();
    for (i, e) in s.endpoints.iter().enumerate() {
        let key = format!("endpoints[{i}]");
        if e.name.trim().is_empty() || e.name.contains('=') {
            return Err(fail(at, &format!("{key}.name"), "needs a name without `=`"));
        }
        if !names.insert(e.name.as_str()) {
            return Err(fail(
                at,
                &format!("{key}.name"),
                format!("duplicate endpoint name `{}`", e.name),
            ));
        }
        url_with_scheme(at, &format!("{key}.url"), &e.url, &["http", "https"])?;
        if let Some(ws) = &e.websocket {
            url_with_scheme(at, &format!("{key}.websocket"), ws, &["ws", "wss"])?;
        }
    }
    for (i, ws) in s.websockets.iter().enumerate() {
        url_with_scheme(at, &format!("websockets[{i}]"), ws, &["ws", "wss"])?;
    }
    Ok(())
}

fn startup(s: &Settings, at: Locate<'_>) -> Result<(), ConfigError> {
    let st = &s.startup;
    if st.log.is_some() && st.command.is_some() {
        return Err(fail(
            at,
            "startup.command",
            "give either startup.log or startup.command, not both",
        ));
    }
    within(at, "startup.phases", st.phases.len() as u64, 1, 16)?;
    let mut names = BTreeSet::new();
    for (i, p) in st.phases.iter().enumerate() {
        if p.name.trim().is_empty() || !names.insert(p.name.to_ascii_lowercase()) {
            return Err(fail(
                at,
                &format!("startup.phases[{i}].name"),
                "phase names must be unique and not empty",
            ));
        }
        positive(at, &format!("startup.phases[{i}].budget"), p.budget)?;
    }
    positive(at, "startup.total_budget", st.total_budget)?;
    for (key, pattern) in [
        ("startup.patterns.started", &st.patterns.started),
        ("startup.patterns.completed", &st.patterns.completed),
        ("startup.patterns.failed", &st.patterns.failed),
        ("startup.patterns.exit", &st.patterns.exit),
    ] {
        if let Err(e) = regex::Regex::new(pattern) {
            let first = e
                .to_string()
                .lines()
                .last()
                .unwrap_or("invalid")
                .trim()
                .to_string();
            return Err(fail(
                at,
                key,
                format!("invalid regular expression: {first}"),
            ));
        }
    }
    Ok(())
}
