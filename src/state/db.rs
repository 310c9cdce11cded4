//! The database connection attempts: totals, the recent attempts with their step times, and
//! error classes with counts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::event_log::{EventLog, Level};
use super::stats::{Ring, Sample, Series, Summary, summarize};
use crate::config::History;
use crate::event::{DbAttempt, ErrorClass, Failure};
use crate::units::{self, secs_between};

/// Step averages over successful attempts (a failed attempt's later steps never ran).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct StepAverages {
    pub dns: Option<f64>,
    pub tcp: Option<f64>,
    pub handshake: Option<f64>,
    pub query: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Mean {
    sum: f64,
    n: u64,
}

impl Mean {
    fn add(&mut self, v: Option<f64>) {
        if let Some(v) = v {
            self.sum += v;
            self.n += 1;
        }
    }

    fn get(self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

/// A run of failed attempts long enough to call the database down (`alerts.down_after` in a
/// row), until as many successes in a row bring it back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outage {
    /// The first failed attempt of the run.
    pub from: DateTime<Utc>,
    /// The newest failed attempt.
    pub to: DateTime<Utc>,
    pub failed: u32,
    pub classes: BTreeMap<ErrorClass, u32>,
    /// The first of the successes that ended it; `None` while it lasts.
    pub(crate) recovered_at: Option<DateTime<Utc>>,
}

impl Outage {
    fn begin(at: DateTime<Utc>) -> Self {
        Self {
            from: at,
            to: at,
            failed: 0,
            classes: BTreeMap::new(),
            recovered_at: None,
        }
    }

    fn failure(&mut self, at: DateTime<Utc>, class: Option<ErrorClass>) {
        self.to = at;
        self.failed += 1;
        if let Some(c) = class {
            *self.classes.entry(c).or_default() += 1;
        }
    }

    /// `refused ×16, timeout ×2`, most frequent first.
    pub(crate) fn classes_text(&self) -> String {
        classes_text(&self.classes)
    }

    /// Was `at` part of this outage (its failures and the successes that ended it)?
    fn covers(&self, at: DateTime<Utc>) -> bool {
        at >= self.from && self.recovered_at.is_none_or(|r| at < r)
    }
}

/// Failures by class in a sentence, most frequent first: `refused ×16, timeout ×2`.
pub(crate) fn classes_text<N: Copy + Ord + std::fmt::Display>(
    classes: &BTreeMap<ErrorClass, N>,
) -> String {
    let mut v: Vec<(&ErrorClass, &N)> = classes.iter().collect();
    v.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
    let parts: Vec<String> = v.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
    parts.join(", ")
}

const OUTAGES_KEPT: usize = 50;

#[derive(Debug, Clone)]
pub struct DbState {
    pub series: Series,
    pub attempts: Ring<(DateTime<Utc>, DbAttempt)>,
    pub classes: BTreeMap<ErrorClass, u64>,
    /// The newest failure of each class, as evidence for the diagnosis.
    pub(crate) last_failure: BTreeMap<ErrorClass, (DateTime<Utc>, Failure)>,
    /// Failures since the last success.
    pub(crate) streak_failures: u32,
    /// Successes since the last failure.
    pub(crate) streak_successes: u32,
    pub(crate) last_ok_at: Option<DateTime<Utc>>,
    /// When the current run of failures began.
    pub(crate) down_since: Option<DateTime<Utc>>,
    /// The current run of failures (any length) or the outage it became.
    streak: Option<Outage>,
    /// The streak reached `down_after` failures and has not been cleared by as many successes.
    pub down: bool,
    /// Ended outages, newest last.
    pub outages: Ring<Outage>,
    down_after: u32,
    steps: [Mean; 4],
    window: chrono::Duration,
}

impl DbState {
    pub fn new(h: &History, down_after: u32) -> Self {
        Self {
            series: Series::new(h.samples, h.window),
            attempts: Ring::new(h.samples),
            classes: BTreeMap::new(),
            last_failure: BTreeMap::new(),
            streak_failures: 0,
            streak_successes: 0,
            last_ok_at: None,
            down_since: None,
            streak: None,
            down: false,
            outages: Ring::new(OUTAGES_KEPT),
            down_after: down_after.max(1),
            steps: [Mean::default(); 4],
            window: chrono::Duration::from_std(h.window).unwrap_or(chrono::Duration::hours(1)),
        }
    }

    pub fn apply(&mut self, at: DateTime<Utc>, a: &DbAttempt, log: &mut EventLog) {
        let violation = is_violation(a);
        self.series.record(Sample {
            at,
            ok: a.ok,
            ms: a.total_ms,
            violation,
        });
        if a.ok {
            for (m, v) in self.steps.iter_mut().zip([
                a.steps_ms.dns,
                a.steps_ms.tcp,
                a.steps_ms.handshake,
                a.steps_ms.query,
            ]) {
                m.add(v);
            }
        }
        match &a.error {
            None => self.success(at, log),
            Some(e) => self.failure(at, e, log),
        }
        if let Some(e) = &a.error {
            *self.classes.entry(e.class).or_default() += 1;
            self.last_failure.insert(e.class, (at, e.clone()));
        }
        self.attempts.push((at, a.clone()));
        let window = self.window;
        self.attempts.evict_while(|(t, _)| at - *t > window);
    }

    /// Logs state changes only: down (with why), a change of cause while down, up again.
    fn failure(&mut self, at: DateTime<Utc>, e: &Failure, log: &mut EventLog) {
        let prev_class = self
            .attempts
            .last()
            .and_then(|(_, p)| p.error.as_ref().map(|e| e.class));
        self.streak_successes = 0;
        self.streak_failures += 1;
        self.down_since.get_or_insert(at);
        let streak = self.streak.get_or_insert_with(|| Outage::begin(at));
        streak.failure(at, Some(e.class));
        let what = format!("{} — {}", e.headline(), e.message);
        if !self.down && self.streak_failures >= self.down_after {
            self.down = true;
            log.push(
                at,
                Level::Error,
                "db",
                format!(
                    "database down: {} in a row failed ({what})",
                    units::count(self.streak_failures, "attempt")
                ),
            );
        } else if self.down && prev_class.is_some_and(|c| c != e.class) {
            log.push(
                at,
                Level::Error,
                "db",
                format!("database still down, now: {what}"),
            );
        }
    }

    fn success(&mut self, at: DateTime<Utc>, log: &mut EventLog) {
        self.last_ok_at = Some(at);
        self.streak_successes += 1;
        self.streak_failures = 0;
        self.down_since = None;
        if !self.down {
            self.streak = None;
            return;
        }
        if self.streak_successes < self.down_after {
            return;
        }
        self.down = false;
        let Some(mut outage) = self.streak.take() else {
            return;
        };
        // The outage ended with the first of the successes that cleared it.
        // (This attempt is not in `attempts` yet: the K − 1 before it are the rest of the run.)
        let first_ok = match self.down_after as usize {
            0 | 1 => at,
            k => self
                .attempts
                .iter()
                .rev()
                .nth(k - 2)
                .map_or(at, |(t, _)| *t),
        };
        outage.recovered_at = Some(first_ok.min(at));
        log.push(
            at,
            Level::Info,
            "db",
            format!(
                "database reachable again after {} down ({} failed: {})",
                units::span(secs_between(outage.from, first_ok.min(at))),
                units::count(outage.failed, "attempt"),
                outage.classes_text()
            ),
        );
        self.outages.push(outage);
    }

    /// The outage going on now, if the database is down.
    pub(crate) fn current_outage(&self) -> Option<&Outage> {
        self.streak.as_ref().filter(|_| self.down)
    }

    /// The attempts that judge "now": the newest `n`, leaving out those that belonged to an
    /// outage that has ended (it is history, reported as such, not part of the present).
    pub(crate) fn now_attempts(&self, n: usize) -> Vec<(DateTime<Utc>, &DbAttempt)> {
        let mut out: Vec<(DateTime<Utc>, &DbAttempt)> = self
            .attempts
            .iter()
            .rev()
            .filter(|(t, _)| !self.outages.iter().any(|o| o.covers(*t)))
            .take(n)
            .map(|(t, a)| (*t, a))
            .collect();
        out.reverse();
        out
    }

    /// The summary numbers of `now_attempts(n)`.
    pub(crate) fn now_summary(&self, n: usize) -> Summary {
        let samples: Vec<Sample> = self
            .now_attempts(n)
            .into_iter()
            .map(|(at, a)| Sample {
                at,
                ok: a.ok,
                ms: a.total_ms,
                violation: is_violation(a),
            })
            .collect();
        summarize(&samples.iter().collect::<Vec<_>>())
    }

    pub fn summary(&self) -> Summary {
        self.series.summary()
    }

    pub(crate) fn step_averages(&self) -> StepAverages {
        let [dns, tcp, handshake, query] = self.steps;
        StepAverages {
            dns: dns.get(),
            tcp: tcp.get(),
            handshake: handshake.get(),
            query: query.get(),
        }
    }
}

/// A timeout violation: the attempt failed by timing out, or took longer than its timeout.
pub(crate) fn is_violation(a: &DbAttempt) -> bool {
    a.error
        .as_ref()
        .is_some_and(|e| e.class == ErrorClass::Timeout)
        || a.total_ms > a.timeout_ms
}
