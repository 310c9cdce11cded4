//! Alert rules (SPEC defaults, thresholds from config) and their raise / clear timeline.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::State;
use super::event_log::{EventLog, Level};
use super::stats::Ring;
use crate::units::{self, duration as fmt_d};

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
    /// The remote vantage point it holds at (`watch --agent`); absent for this host's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vantage: Option<String>,
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
        let (held, cleared): (Vec<Alert>, Vec<Alert>) = std::mem::take(&mut self.active)
            .into_iter()
            .partition(|a| fired.iter().any(|f| f.rule == a.rule));
        self.active = held;
        for a in &cleared {
            self.record(log, at, false, a);
        }
        for f in fired {
            if let Some(a) = self.active.iter_mut().find(|a| a.rule == f.rule) {
                a.message = f.message;
                continue;
            }
            let alert = Alert {
                level: f.level,
                rule: f.rule.into(),
                message: f.message,
                since: at,
                vantage: None,
            };
            self.record(log, at, true, &alert);
            self.active.push(alert);
        }
        self.active.sort_by_key(|a| a.level);
    }

    /// A raise or a clear, in the log and on the timeline. The log's level says how bad, like
    /// the alert's: a raised critical alert is an error.
    fn record(&mut self, log: &mut EventLog, at: DateTime<Utc>, raised: bool, a: &Alert) {
        let level = match (raised, a.level) {
            (false, _) => Level::Info,
            (true, AlertLevel::Critical) => Level::Error,
            (true, _) => Level::Warn,
        };
        let text = if raised {
            format!("{}: {}", a.level.as_str(), a.message)
        } else {
            format!("cleared {}: {}", a.level.as_str(), a.rule)
        };
        log.push(at, level, "alert", text);
        self.timeline.push(AlertChange {
            at,
            raised,
            level: a.level,
            rule: a.rule.clone(),
            message: a.message.clone(),
        });
    }
}

fn pct(f: f64) -> String {
    format!("{:.0} %", f * 100.0)
}

/// The rules that hold after the newest event. Database rules judge the attempts of "now"
/// (`DbState::now_attempts`: the last `alerts.window`, without ended outages).
pub(crate) fn evaluate(s: &State) -> Vec<Fired> {
    let mut out = Vec::new();
    rates(s, &mut out);
    capacity(s, &mut out);
    out
}

fn rates(s: &State, out: &mut Vec<Fired>) {
    let rules = &s.cfg.alerts;
    let w = s.db.now_summary(rules.window as usize);
    if let Some(rate) = w.success_rate
        && rate < rules.critical_success_rate_below
    {
        out.push(Fired {
            level: AlertLevel::Critical,
            rule: "db_success_rate",
            message: format!(
                "database connection success rate {} ({} of the last {}) is below {}",
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
                "average connection time {} is above {}",
                units::ms(avg),
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
}

/// The newest capacity test, while it is the newest word on capacity (a lab scenario switch
/// makes it history).
fn capacity(s: &State, out: &mut Vec<Fired>) {
    let rules = &s.cfg.alerts;
    let Some(run) = s.capacity.current() else {
        return;
    };
    if run.attempted == 0 {
        return;
    }
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
