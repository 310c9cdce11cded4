//! Alert rules (SPEC defaults, thresholds from config) and their raise / clear timeline.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::State;
use super::log::{EventLog, Level};
use super::stats::Ring;
use crate::units::duration as fmt_d;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertLevel {
    Critical,
    Warning,
    Infrastructure,
    Capacity,
}

impl AlertLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertLevel::Critical => "critical",
            AlertLevel::Warning => "warning",
            AlertLevel::Infrastructure => "infrastructure",
            AlertLevel::Capacity => "capacity",
        }
    }
}

/// A rule that currently holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fired {
    pub level: AlertLevel,
    pub rule: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub level: AlertLevel,
    pub rule: String,
    pub message: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertChange {
    pub at: DateTime<Utc>,
    pub raised: bool,
    pub level: AlertLevel,
    pub rule: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct AlertBook {
    pub active: Vec<Alert>,
    pub timeline: Ring<AlertChange>,
}

impl Default for AlertBook {
    fn default() -> Self {
        Self {
            active: Vec::new(),
            timeline: Ring::new(1000),
        }
    }
}

impl AlertBook {
    pub fn update(&mut self, at: DateTime<Utc>, fired: Vec<Fired>, log: &mut EventLog) {
        self.active.retain(|a| {
            let still = fired.iter().any(|f| f.rule == a.rule);
            if !still {
                log.push(
                    at,
                    Level::Info,
                    "alert",
                    format!("cleared {}: {}", a.level.as_str(), a.rule),
                );
                self.timeline.push(AlertChange {
                    at,
                    raised: false,
                    level: a.level,
                    rule: a.rule.clone(),
                    message: a.message.clone(),
                });
            }
            still
        });
        for f in fired {
            if let Some(a) = self.active.iter_mut().find(|a| a.rule == f.rule) {
                a.message = f.message;
                continue;
            }
            log.push(
                at,
                Level::Warn,
                "alert",
                format!("{}: {}", f.level.as_str(), f.message),
            );
            self.timeline.push(AlertChange {
                at,
                raised: true,
                level: f.level,
                rule: f.rule.into(),
                message: f.message.clone(),
            });
            self.active.push(Alert {
                level: f.level,
                rule: f.rule.into(),
                message: f.message,
                since: at,
            });
        }
        self.active.sort_by_key(|a| a.level);
    }
}

fn pct(f: f64) -> String {
    format!("{:.0} %", f * 100.0)
}

pub fn evaluate(s: &State) -> Vec<Fired> {
    let rules = &s.cfg.alerts;
    let mut out = Vec::new();
    let w = s.db.series.window_summary(rules.window as usize);
    if let Some(rate) = w.success_rate
        && rate < rules.critical_success_rate_below
    {
        out.push(Fired {
            level: AlertLevel::Critical,
            rule: "db_success_rate",
            message: format!(
                "database connection success rate {} ({} of {}) is below {}",
                pct(rate),
                w.successes,
                w.attempts,
                pct(rules.critical_success_rate_below)
            ),
        });
    }
    let limit_ms = rules.warning_avg_connect_above.as_secs_f64() * 1000.0;
    if let Some(avg) = w.avg_ms
        && avg > limit_ms
    {
        out.push(Fired {
            level: AlertLevel::Warning,
            rule: "db_avg_connect",
            message: format!(
                "average connection time {:.1} s is above {}",
                avg / 1000.0,
                fmt_d(rules.warning_avg_connect_above)
            ),
        });
    }
    if let Some(rate) = w.timeout_violation_rate
        && rate > rules.infrastructure_timeout_rate_above
    {
        out.push(Fired {
            level: AlertLevel::Infrastructure,
            rule: "db_timeout_violations",
            message: format!(
                "timeout-violation rate {} is above {} (connection timeout {})",
                pct(rate),
                pct(rules.infrastructure_timeout_rate_above),
                fmt_d(s.cfg.connection_timeout)
            ),
        });
    }
    if let Some(run) = s.capacity.last.as_ref()
        && run.attempted > 0
    {
        let rate = run.capacity_errors as f64 / run.attempted as f64;
        if rate > rules.capacity_error_rate_above {
            out.push(Fired {
                level: AlertLevel::Capacity,
                rule: "capacity_errors",
                message: format!(
                    "{} of {} capacity-test connections hit capacity errors ({}, above {})",
                    run.capacity_errors,
                    run.attempted,
                    pct(rate),
                    pct(rules.capacity_error_rate_above)
                ),
            });
        }
    }
    out
}
