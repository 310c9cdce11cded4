//! The SPEC's targets, met or missed. Database targets judge "now" (the same attempts as the
//! alert rules); a startup that failed is a failure, told as one, not a missed target.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::State;
use super::stats::Summary;
use crate::units::{self, duration as fmt_d};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetCheck {
    pub name: &'static str,
    pub target: String,
    pub(crate) actual: Option<String>,
    /// `None` when there is nothing to judge yet.
    pub met: Option<bool>,
    /// The miss is already a failure among the reasons (a startup that failed): not repeated
    /// as a missed target.
    #[serde(skip)]
    pub told: bool,
}

pub(crate) fn targets(s: &State, now: Option<DateTime<Utc>>, db_now: &Summary) -> Vec<TargetCheck> {
    vec![
        db_avg_connect(s, db_now),
        db_success_rate(s, db_now),
        startup_total(s, now),
        health_latency(s),
    ]
}

/// Every attempt counts in full (a 35 s timeout is 35 s of connecting); with no success at
/// all the target is missed however fast the refusals came back.
fn db_avg_connect(s: &State, sum: &Summary) -> TargetCheck {
    let t = &s.cfg.targets;
    let has_db = sum.attempts > 0;
    let limit = t.db_avg_connect_below.as_secs_f64() * 1000.0;
    TargetCheck {
        name: "db_avg_connect",
        target: format!(
            "< {} average connection time",
            fmt_d(t.db_avg_connect_below)
        ),
        actual: has_db.then(|| match (sum.avg_ms, sum.successes) {
            (Some(ms), 0) => format!("{} (no successful connection)", units::ms(ms)),
            (Some(ms), _) => units::ms(ms),
            (None, _) => "no attempts".into(),
        }),
        met: has_db.then(|| sum.successes > 0 && sum.avg_ms.is_some_and(|ms| ms < limit)),
        told: false,
    }
}

fn db_success_rate(s: &State, sum: &Summary) -> TargetCheck {
    let t = &s.cfg.targets;
    TargetCheck {
        name: "db_success_rate",
        target: format!(
            "> {:.0} % connection success rate",
            t.db_success_rate_above * 100.0
        ),
        actual: sum
            .success_rate
            .map(|r| format!("{} (last {})", units::pct(r), sum.attempts)),
        met: sum.success_rate.map(|r| r > t.db_success_rate_above),
        told: false,
    }
}

fn startup_total(s: &State, now: Option<DateTime<Utc>>) -> TargetCheck {
    let t = &s.cfg.targets;
    let run = s.startup.primary().and_then(|tr| tr.current.as_ref());
    let total = run.and_then(|r| r.total_s(now));
    let stall = t.startup_total_below + super::startup::stall_grace(t.startup_total_below);
    let stalled = run.is_some_and(|r| !r.complete() && r.exit.is_none())
        && total.is_some_and(|v| v > stall.as_secs_f64());
    let failed = run.is_some_and(|r| r.failed(now)) || stalled;
    let finished = run.is_some_and(|r| r.complete() || r.exit.is_some());
    let actual = total.map(|v| {
        let so_far = if finished || failed { "" } else { " so far" };
        let how = if failed { "failed after " } else { "" };
        format!("{how}{}{so_far}", units::elapsed(v))
    });
    let met = match (total, run) {
        _ if failed => Some(false),
        (Some(v), Some(_)) if v >= t.startup_total_below.as_secs_f64() => Some(false),
        (Some(_), Some(r)) if r.complete() => Some(true),
        (_, Some(r)) if r.exit.is_some() => Some(false),
        _ => None,
    };
    TargetCheck {
        name: "startup_total",
        target: format!("< {} whole startup", fmt_d(t.startup_total_below)),
        actual,
        met,
        told: failed,
    }
}

fn health_latency(s: &State) -> TargetCheck {
    let t = &s.cfg.targets;
    let latencies: Vec<(bool, f64)> = s
        .endpoints
        .endpoints
        .iter()
        .flat_map(|e| e.paths.iter())
        .filter_map(|p| {
            p.last
                .as_ref()
                .map(|(_, c)| (c.status.is_some(), c.latency_ms))
        })
        .collect();
    let worst = latencies
        .iter()
        .map(|(_, ms)| *ms)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let all_answered = latencies.iter().all(|(answered, _)| *answered);
    TargetCheck {
        name: "health_latency",
        target: format!(
            "< {} health endpoint response",
            fmt_d(t.health_latency_below)
        ),
        actual: worst.map(|ms| {
            let some = if all_answered {
                ""
            } else {
                " (some did not answer)"
            };
            format!("{} slowest{some}", units::ms(ms))
        }),
        met: worst.map(|ms| all_answered && ms < t.health_latency_below.as_secs_f64() * 1000.0),
        told: false,
    }
}
