//! The one judge: everything connscope concludes, as of a moment, from the state. Screen,
//! `check`, `report` (every format) and the exit code read a `Judgement`; none of them judges.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::State;
use super::alerts::Alert;
use super::capacity::CapacityRun;
use super::diagnosis::{self, Finding};
use super::endpoints::{Consistency, Health, health};
use super::evidence::{self, ProbeEvidence};
use super::pool::judge::PoolJudgement;
use super::startup::StartupView;
use super::stats::Summary;
use super::targets::{self, TargetCheck};
use super::verdict::{self, Verdict};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    /// The moment judged: the wall clock live, the recording's clock in replay and report.
    pub at: Option<DateTime<Utc>>,
    pub verdict: Verdict,
    /// Why the verdict is not a pass, most severe first.
    pub reasons: Vec<String>,
    /// A signal stopped the run before its probes finished.
    pub interrupted: bool,
    /// 0 / 1 / 2 by the verdict; 130 for an interrupted run.
    pub exit_code: crate::exit::ExitCode,
    /// Each probe the run selected, and whether it produced evidence.
    pub evidence: Vec<ProbeEvidence>,
    pub db: DbJudgement,
    pub alerts: Vec<Alert>,
    pub targets: Vec<TargetCheck>,
    /// Present findings first; history (`past`) after.
    pub findings: Vec<Finding>,
    pub endpoints: Vec<PathJudgement>,
    pub startup: Option<StartupView>,
    pub capacity: Option<CapacityJudgement>,
    /// How many of `reasons` (the first ones) are failures.
    #[serde(skip)]
    pub failing: usize,
    /// Each remote vantage point (`watch --agent`), judged by itself; with any, the verdict,
    /// reasons, alerts and findings above are those of every vantage together.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vantages: Vec<super::vantage::VantageJudgement>,
    /// The newest pool probe run (the application's-eye view) and what lay beneath it.
    pub pool: Option<PoolJudgement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DbStatus {
    /// No attempt yet.
    Unknown,
    Up,
    /// `alerts.down_after` attempts in a row failed, and as many successes have not followed.
    Down,
}

/// How the success rate of "now" compares with the thresholds: at or above the target is
/// `pass`, below the critical alert's threshold is `fail`, between is `warn`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DbJudgement {
    pub status: DbStatus,
    /// Down: the first failure of the outage. Up: the newest success.
    pub since: Option<DateTime<Utc>>,
    pub(crate) failed_in_a_row: u32,
    /// The attempts that judge now: the last `alerts.window`, without ended outages.
    pub now: Summary,
    pub window: u32,
    /// Every attempt of the run (cumulative), as shown beside "now" (`summary` in the JSON,
    /// as it always was).
    #[serde(rename = "summary")]
    pub total: Summary,
    pub rate: Option<Verdict>,
}

/// One health path, judged from its newest answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathJudgement {
    pub endpoint: String,
    pub path: String,
    pub health: Option<Health>,
    /// The startup phase a "starting" answer names.
    pub phase: Option<String>,
    pub(crate) consistency: Option<Consistency>,
    /// Since when it has answered "starting".
    pub(crate) starting_since: Option<DateTime<Utc>>,
}

/// The newest capacity test, and whether it still speaks for now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityJudgement {
    pub at: DateTime<Utc>,
    /// Newer evidence contradicts it (a lab scenario switch; for a test where nothing
    /// connected, the database answering since): history, not judged.
    pub past: bool,
    pub(crate) past_because: Option<String>,
}

impl State {
    /// Judges the state as of `now` — the wall clock for a live source; `None` for the
    /// state's own clock (the newest event: replay, report, tests).
    pub fn judge(&self, now: Option<DateTime<Utc>>) -> Judgement {
        let at = now.or(self.last_at);
        let db = db(self);
        let evidence = evidence::judge(self);
        let targets = targets::targets(self, at, &db.now);
        let startup = self
            .startup
            .primary()
            .and_then(|t| t.view(at, self.cfg.total_budget));
        let mut j = Judgement {
            at,
            verdict: Verdict::Pass,
            reasons: Vec::new(),
            interrupted: self.evidence.interrupted(),
            exit_code: crate::exit::ExitCode::Pass,
            evidence,
            db,
            alerts: self.alerts.active.clone(),
            targets,
            findings: diagnosis::diagnose(self, at),
            endpoints: endpoints(self),
            startup,
            capacity: capacity(self),
            failing: 0,
            vantages: Vec::new(),
            pool: super::pool::judge::judge(self),
        };
        let (v, reasons, failing) = verdict::reasons(self, &j);
        j.verdict = v;
        j.reasons = reasons;
        j.failing = failing;
        j.exit_code = if j.interrupted {
            crate::exit::ExitCode::Interrupted
        } else {
            v.exit_code()
        };
        if !self.vantages.is_empty() {
            super::vantage::combine(self, &mut j, failing);
        }
        j
    }
}

fn db(s: &State) -> DbJudgement {
    let window = s.cfg.alerts.window;
    let now = s.db.now_summary(window as usize);
    let total = s.db.summary();
    let status = match (total.attempts, s.db.down) {
        (0, _) => DbStatus::Unknown,
        (_, true) => DbStatus::Down,
        (_, false) => DbStatus::Up,
    };
    let since = match status {
        DbStatus::Down => s.db.current_outage().map(|o| o.from),
        _ => s.db.last_ok_at,
    };
    let rate = now.success_rate.map(|r| {
        if r < s.cfg.alerts.critical_success_rate_below {
            Verdict::Fail
        } else if r > s.cfg.targets.db_success_rate_above
            || (r >= 1.0 && s.cfg.targets.db_success_rate_above >= 1.0)
        {
            Verdict::Pass
        } else {
            Verdict::Warn
        }
    });
    DbJudgement {
        status,
        since,
        failed_in_a_row: s.db.streak_failures,
        now,
        window,
        total,
        rate,
    }
}

fn endpoints(s: &State) -> Vec<PathJudgement> {
    let tries = s.cfg.tries.max(1);
    s.endpoints
        .endpoints
        .iter()
        .flat_map(|e| {
            e.paths.iter().map(|p| {
                let answer = p.last.as_ref().map(|(_, c)| health(c));
                PathJudgement {
                    endpoint: e.name.clone(),
                    path: p.requested_path.clone(),
                    health: answer.as_ref().map(|a| a.health),
                    phase: answer.and_then(|a| a.phase),
                    consistency: p.consistency(tries),
                    starting_since: p.starting_since(),
                }
            })
        })
        .collect()
}

fn capacity(s: &State) -> Option<CapacityJudgement> {
    let run = s.capacity.last.as_ref()?;
    let at = run.finished.as_ref().map_or(run.started_at, |(t, _)| *t);
    let past_because = capacity_contradicted(s, run);
    Some(CapacityJudgement {
        at,
        past: past_because.is_some(),
        past_because,
    })
}

/// Why a capacity test no longer speaks for now, if it does not.
pub(crate) fn capacity_contradicted(s: &State, run: &CapacityRun) -> Option<String> {
    if let Some((_, why)) = &run.superseded {
        return Some(why.clone());
    }
    let (finished, _) = run.finished.as_ref()?;
    let none_connected = run.attempted > 0 && run.succeeded == 0;
    match s.db.last_ok_at {
        Some(ok) if none_connected && ok > *finished => Some(format!(
            "the database has answered since ({} UTC)",
            crate::units::clock(ok)
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
