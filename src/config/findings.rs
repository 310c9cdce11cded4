//! `config check`: things that are valid but probably wrong, the regression minimums first.

use serde::Serialize;

use super::{Config, DbHost, SslMode};
use crate::units::duration as fmt_d;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingLevel {
    Info,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigFinding {
    pub level: FindingLevel,
    pub key: String,
    pub message: String,
}

fn finding(level: FindingLevel, key: &str, message: String) -> ConfigFinding {
    ConfigFinding {
        level,
        key: key.into(),
        message,
    }
}

pub(super) fn of(c: &Config) -> Vec<ConfigFinding> {
    let mut out = Vec::new();
    minimums(c, &mut out);
    capacity(c, &mut out);
    budgets(c, &mut out);
    target(c, &mut out);
    out.sort_by_key(|f| std::cmp::Reverse(f.level));
    out
}

fn minimums(c: &Config, out: &mut Vec<ConfigFinding>) {
    let s = &c.settings;
    let (true, Some(min)) = (s.cloud_sql, s.minimums) else {
        return;
    };
    for (key, value, floor) in [
        (
            "timeouts.initialization",
            s.timeouts.initialization,
            min.initialization,
        ),
        ("timeouts.connection", s.timeouts.connection, min.connection),
    ] {
        if value < floor {
            out.push(finding(
                FindingLevel::Fail,
                key,
                format!(
                    "{} is below the {} minimum for Cloud SQL environments ({}): the regression \
                     that timed out before the VPC connector could establish (set by {})",
                    fmt_d(value),
                    fmt_d(floor),
                    s.environment,
                    c.source(key)
                ),
            ));
        }
    }
}

fn capacity(c: &Config, out: &mut Vec<ConfigFinding>) {
    let cap = c.capacity_cap();
    let s = &c.settings;
    if s.capacity.connections > cap.cap {
        out.push(finding(
            FindingLevel::Warn,
            "capacity.connections",
            format!(
                "{} connections exceed the safety cap of {} ({} × {} − {}); the test will be capped unless --force",
                s.capacity.connections, cap.cap, cap.limit, cap.safety_margin, cap.reserved
            ),
        ));
    }
    let pool_max = s.pool.size.saturating_add(s.pool.max_overflow);
    if pool_max > cap.cap {
        out.push(finding(
            FindingLevel::Warn,
            "pool.max_overflow",
            format!(
                "the service pool can open {pool_max} connections ({} + {}), more than the safe {} of a {}-connection limit",
                s.pool.size, s.pool.max_overflow, cap.cap, cap.limit
            ),
        ));
    }
}

fn budgets(c: &Config, out: &mut Vec<ConfigFinding>) {
    let s = &c.settings;
    let sum = super::duration::sum(s.startup.phases.iter().map(|p| p.budget));
    if sum > s.startup.total_budget {
        out.push(finding(
            FindingLevel::Info,
            "startup.total_budget",
            format!(
                "phase budgets add up to {}, more than the {} whole-sequence budget: startup can miss \
                 its budget with every phase inside its own",
                fmt_d(sum),
                fmt_d(s.startup.total_budget)
            ),
        ));
    }
    let init_aware = c.capacity_aware(s.timeouts.initialization);
    if let Some(db_phase) = s
        .startup
        .phases
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case("database"))
        && init_aware > db_phase.budget
    {
        out.push(finding(
            FindingLevel::Info,
            "timeouts.initialization",
            format!(
                "the capacity-aware initialization timeout ({}) is longer than the database phase budget ({}): \
                 a slow connector fails the phase before the timeout fires",
                fmt_d(init_aware),
                fmt_d(db_phase.budget)
            ),
        ));
    }
}

fn target(c: &Config, out: &mut Vec<ConfigFinding>) {
    let Some(t) = &c.database else {
        out.push(finding(
            FindingLevel::Info,
            "database.url",
            "no database configured (--db-url, DATABASE_URL, PGHOST or database.url)".into(),
        ));
        return;
    };
    if t.is_cloud_sql_socket() && !c.settings.cloud_sql {
        out.push(finding(
            FindingLevel::Warn,
            "environment",
            format!(
                "the target is a Cloud SQL socket but the `{}` profile is not a Cloud SQL environment; try --env staging",
                c.settings.environment
            ),
        ));
    }
    let remote = matches!(&t.host, DbHost::Tcp(h) if !is_loopback(h));
    if remote && t.sslmode == SslMode::Disable {
        out.push(finding(
            FindingLevel::Warn,
            "database.url",
            "sslmode=disable to a remote host: credentials cross the network in clear".into(),
        ));
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
