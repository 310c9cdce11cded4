//! The pool probe's runs, built from its events, and what lay beneath each: the raw database
//! attempts made while it ran, by class. The pool hides the cause (sqlx retries 53300, 57P03
//! and refused connects inside `acquire` and reports only a timeout); the attempts beside it
//! show it, so the two are kept together. Judged in `pool/judge.rs`.

pub(crate) mod judge;
#[cfg(test)]
mod judge_tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::event_log::{EventLog, Level};
use super::stats::Ring;
use crate::event::{
    DbAttempt, ErrorClass, Failure, PoolFigures, PoolFinished, PoolSample, PoolStarted, Step,
};
use crate::units;

/// Samples kept per run for the waits chart (the probe sends at most ~120).
const SAMPLES_KEPT: usize = 240;

/// A 53300 refused after authentication names the reserved slots or the role's limit;
/// before it, "too many clients".
pub(crate) fn after_authentication(f: &Failure) -> bool {
    f.message.contains("reserved") || f.message.contains("for role")
}

/// One class of raw failures beneath a pool run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BeneathClass {
    pub count: u32,
    pub sqlstate: Option<String>,
    /// Where the first of them failed.
    pub step: Option<Step>,
    /// For 53300: `before authentication` (every slot taken) or `after authentication` (the
    /// slots left are reserved, or the role's limit).
    pub when: Option<&'static str>,
    /// The first one's message.
    pub message: String,
}

/// The raw database attempts made while a pool run was going on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Beneath {
    pub attempts: u32,
    pub ok: u32,
    pub classes: BTreeMap<ErrorClass, BeneathClass>,
    /// Connect times of the attempts that succeeded.
    pub ok_avg_ms: Option<f64>,
    pub(crate) ok_max_ms: Option<f64>,
    #[serde(skip)]
    ok_sum_ms: f64,
}

impl Beneath {
    fn attempt(&mut self, a: &DbAttempt) {
        self.attempts += 1;
        match &a.error {
            None => {
                self.ok += 1;
                self.ok_sum_ms += a.total_ms;
                self.ok_avg_ms = Some(self.ok_sum_ms / f64::from(self.ok));
                self.ok_max_ms = Some(self.ok_max_ms.map_or(a.total_ms, |m| m.max(a.total_ms)));
            }
            Some(f) => {
                let c = self.classes.entry(f.class).or_insert_with(|| BeneathClass {
                    count: 0,
                    sqlstate: f.sqlstate.clone(),
                    step: f.step,
                    when: (f.class == ErrorClass::TooManyConnections).then(|| {
                        if after_authentication(f) {
                            "after authentication"
                        } else {
                            "before authentication"
                        }
                    }),
                    message: f.message.clone(),
                });
                c.count += 1;
            }
        }
    }

    pub fn failed(&self) -> u32 {
        self.attempts - self.ok
    }

    pub fn has(&self, class: ErrorClass) -> bool {
        self.classes.contains_key(&class)
    }

    /// `too_many_connections (53300) ×12, before authentication`; `no errors, 9 connects avg
    /// 1.20 s (max 3.90 s)`. Most frequent class first.
    pub fn text(&self) -> String {
        if self.attempts == 0 {
            return "no database attempts during the run".into();
        }
        let connects = match (self.ok_avg_ms, self.ok_max_ms) {
            (Some(avg), Some(max)) => format!(
                "{} avg {} (max {})",
                units::count(self.ok, "connect"),
                units::ms(avg),
                units::ms(max)
            ),
            _ => String::new(),
        };
        if self.classes.is_empty() {
            return format!("no errors, {connects}");
        }
        let mut v: Vec<(&ErrorClass, &BeneathClass)> = self.classes.iter().collect();
        v.sort_by_key(|(_, c)| std::cmp::Reverse(c.count));
        let mut parts: Vec<String> = v
            .iter()
            .map(|(class, c)| {
                let mut s = class.to_string();
                if let Some(step) = c.step.filter(|_| **class == ErrorClass::Timeout) {
                    s.push_str(&format!(" at {}", step.as_str()));
                }
                if let Some(code) = &c.sqlstate {
                    s.push_str(&format!(" ({code})"));
                }
                s.push_str(&format!(" ×{}", c.count));
                if let Some(when) = c.when {
                    s.push_str(&format!(", {when}"));
                }
                s
            })
            .collect();
        if self.ok > 0 {
            parts.push(format!("{} of {} connected", self.ok, self.attempts));
        }
        parts.join("; ")
    }
}

/// One pool probe run.
#[derive(Debug, Clone)]
pub struct PoolRun {
    pub started_at: DateTime<Utc>,
    pub started: PoolStarted,
    /// The interval samples, for the waits chart.
    pub samples: Ring<(DateTime<Utc>, PoolSample)>,
    /// The newest figures (from the newest sample, then the finish).
    pub(crate) totals: PoolFigures,
    /// Borrowers waiting at the newest sample, and the longest wait among them.
    pub waiting: u32,
    pub(crate) longest_wait_ms: f64,
    pub finished: Option<(DateTime<Utc>, PoolFinished)>,
    pub beneath: Beneath,
    /// Newer evidence made this run history: when, and what (a lab scenario switch).
    pub(crate) superseded: Option<(DateTime<Utc>, String)>,
}

impl PoolRun {
    pub fn running(&self) -> bool {
        self.finished.is_none()
    }

    /// Why it ended before its duration, if it did.
    pub(crate) fn stopped_early(&self) -> Option<&str> {
        let (_, f) = self.finished.as_ref()?;
        f.aborted.then(|| f.reason.as_deref().unwrap_or("stopped"))
    }

    /// Ended by quitting or a signal: it measured what it measured, not all it was asked to.
    pub fn cancelled(&self) -> bool {
        self.stopped_early() == Some(PoolFinished::CANCELLED)
    }

    /// Ended by someone (quit, a signal, `o`), not by what it found.
    pub fn interrupted(&self) -> bool {
        self.cancelled() || self.stopped_early() == Some(PoolFinished::STOPPED)
    }

    /// When its newest evidence was seen.
    pub fn until(&self) -> DateTime<Utc> {
        self.finished
            .as_ref()
            .map(|(t, _)| *t)
            .or(self.samples.last().map(|(t, _)| *t))
            .unwrap_or(self.started_at)
    }
}

#[derive(Debug, Clone, Default)]
pub struct PoolState {
    /// The running run, or the last one to finish.
    pub last: Option<PoolRun>,
    pub runs: u64,
}

impl PoolState {
    pub fn running(&self) -> bool {
        self.last.as_ref().is_some_and(PoolRun::running)
    }

    fn current(&mut self, run: u64) -> Option<&mut PoolRun> {
        self.last.as_mut().filter(|r| r.started.run == run)
    }

    pub fn started(&mut self, at: DateTime<Utc>, s: &PoolStarted, log: &mut EventLog) {
        self.runs += 1;
        let capped = if s.capped {
            format!(" (capped from {} by the headroom)", s.requested)
        } else if s.forced {
            " — forced past the headroom".into()
        } else {
            String::new()
        };
        log.push(
            at,
            Level::Info,
            "pool",
            format!(
                "pool probe: {} connections{capped}, {} borrowers, acquire timeout {}",
                s.max_connections,
                s.borrowers,
                units::ms(s.acquire_timeout_ms)
            ),
        );
        self.last = Some(PoolRun {
            started_at: at,
            started: s.clone(),
            samples: Ring::new(SAMPLES_KEPT),
            totals: PoolFigures::default(),
            waiting: 0,
            longest_wait_ms: 0.0,
            finished: None,
            beneath: Beneath::default(),
            superseded: None,
        });
    }

    pub fn sample(&mut self, at: DateTime<Utc>, s: &PoolSample) {
        let Some(run) = self.current(s.run) else {
            return;
        };
        run.totals = s.totals.clone();
        run.waiting = s.waiting;
        run.longest_wait_ms = s.longest_wait_ms;
        run.samples.push((at, s.clone()));
    }

    pub fn finished(&mut self, at: DateTime<Utc>, f: &PoolFinished, log: &mut EventLog) {
        let Some(run) = self.current(f.run) else {
            return;
        };
        run.totals = f.totals.clone();
        run.waiting = 0;
        run.finished = Some((at, f.clone()));
        let t = &f.totals;
        let bad = t.timeouts > 0 || t.errors_total() > 0 || f.aborted;
        let how = f
            .reason
            .as_deref()
            .map(|r| format!(" — stopped early: {r}"))
            .unwrap_or_default();
        log.push(
            at,
            if bad { Level::Warn } else { Level::Info },
            "pool",
            format!(
                "pool probe done: {} acquired, {} timed out, {} errors; waits p95 {}{how}",
                t.acquisitions,
                t.timeouts,
                t.errors_total(),
                units::opt_ms(t.wait_p95_ms)
            ),
        );
    }

    /// A raw attempt made while a run is going on lies beneath it.
    pub fn db_attempt(&mut self, a: &DbAttempt) {
        if let Some(run) = self.last.as_mut().filter(|r| r.running()) {
            run.beneath.attempt(a);
        }
    }

    /// The newest run belongs to another situation now: kept, in the past tense, not judged.
    pub(crate) fn supersede(&mut self, at: DateTime<Utc>, why: String) {
        if let Some(run) = self.last.as_mut().filter(|r| r.superseded.is_none()) {
            run.superseded = Some((at, why));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::{failed_attempt, failure, ok_attempt};

    fn attempt(body: crate::event::EventBody) -> DbAttempt {
        match body {
            crate::event::EventBody::DbAttempt(a) => a,
            _ => unreachable!("fixtures build attempts"),
        }
    }

    #[test]
    fn beneath_says_the_class_its_code_and_when_it_was_refused() {
        let mut b = Beneath::default();
        let before = failure(
            ErrorClass::TooManyConnections,
            Step::Handshake,
            Some("53300"),
            "sorry, too many clients already",
        );
        for i in 0..12 {
            let d = crate::event::DbSteps::default();
            b.attempt(&attempt(failed_attempt(i, 3.0, d, before.clone())));
        }
        assert_eq!(
            b.text(),
            "too_many_connections (53300) ×12, before authentication"
        );
        b.attempt(&attempt(ok_attempt(13, 1.0, 1.0, 2.0, 1.0)));
        assert_eq!(
            b.text(),
            "too_many_connections (53300) ×12, before authentication; 1 of 13 connected"
        );
        let after = failure(
            ErrorClass::TooManyConnections,
            Step::Handshake,
            Some("53300"),
            "remaining connection slots are reserved for roles with the SUPERUSER attribute",
        );
        assert!(after_authentication(&after) && !after_authentication(&before));
    }

    #[test]
    fn beneath_with_no_errors_says_how_long_connects_took() {
        let mut b = Beneath::default();
        assert_eq!(b.text(), "no database attempts during the run");
        b.attempt(&attempt(ok_attempt(1, 0.0, 100.0, 1000.0, 100.0)));
        b.attempt(&attempt(ok_attempt(2, 0.0, 100.0, 3000.0, 100.0)));
        assert_eq!(b.text(), "no errors, 2 connects avg 2.20 s (max 3.20 s)");
        let to = failure(ErrorClass::Timeout, Step::Handshake, None, "no startup");
        let d = crate::event::DbSteps::default();
        b.attempt(&attempt(failed_attempt(3, 3500.0, d, to)));
        assert_eq!(b.text(), "timeout at handshake ×1; 2 of 3 connected");
    }
}
