//! The database connection attempts: totals, the recent attempts with their step times, and
//! error classes with counts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::log::{EventLog, Level};
use super::stats::{Ring, Sample, Series, Summary};
use crate::config::History;
use crate::event::{DbAttempt, ErrorClass, Failure};

/// Step averages over successful attempts (a failed attempt's later steps never ran).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepAverages {
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

#[derive(Debug, Clone)]
pub struct DbState {
    pub series: Series,
    pub attempts: Ring<(DateTime<Utc>, DbAttempt)>,
    pub classes: BTreeMap<ErrorClass, u64>,
    /// The newest failure of each class, as evidence for the diagnosis.
    pub last_failure: BTreeMap<ErrorClass, (DateTime<Utc>, Failure)>,
    /// Failures since the last success.
    pub streak_failures: u32,
    pub last_ok_at: Option<DateTime<Utc>>,
    /// When the current run of failures began.
    pub down_since: Option<DateTime<Utc>>,
    steps: [Mean; 4],
    window: chrono::Duration,
}

impl DbState {
    pub fn new(h: &History) -> Self {
        Self {
            series: Series::new(h.samples, h.window),
            attempts: Ring::new(h.samples),
            classes: BTreeMap::new(),
            last_failure: BTreeMap::new(),
            streak_failures: 0,
            last_ok_at: None,
            down_since: None,
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
        self.transition(at, a, log);
        if let Some(e) = &a.error {
            *self.classes.entry(e.class).or_default() += 1;
            self.last_failure.insert(e.class, (at, e.clone()));
        }
        self.attempts.push((at, a.clone()));
        let window = self.window;
        self.attempts.evict_while(|(t, _)| at - *t > window);
    }

    /// Logs only changes: the first failure of a run, a change of failure class, recovery.
    fn transition(&mut self, at: DateTime<Utc>, a: &DbAttempt, log: &mut EventLog) {
        let prev_class = self
            .attempts
            .last()
            .and_then(|(_, p)| p.error.as_ref().map(|e| e.class));
        match &a.error {
            None => {
                if let Some(since) = self.down_since.take() {
                    let gap = (at - since).num_milliseconds() as f64 / 1000.0;
                    log.push(
                        at,
                        Level::Info,
                        "db",
                        format!(
                            "database reachable again after {gap:.1} s ({} failed attempt{})",
                            self.streak_failures,
                            if self.streak_failures == 1 { "" } else { "s" }
                        ),
                    );
                }
                self.streak_failures = 0;
                self.last_ok_at = Some(at);
            }
            Some(e) => {
                if self.down_since.is_none() {
                    self.down_since = Some(at);
                }
                self.streak_failures += 1;
                if prev_class != Some(e.class) {
                    log.push(
                        at,
                        Level::Error,
                        "db",
                        format!("attempt failed: {} — {}", e.headline(), e.message),
                    );
                }
            }
        }
    }

    pub fn summary(&self) -> Summary {
        self.series.summary()
    }

    pub fn step_averages(&self) -> StepAverages {
        let [dns, tcp, handshake, query] = self.steps;
        StepAverages {
            dns: dns.get(),
            tcp: tcp.get(),
            handshake: handshake.get(),
            query: query.get(),
        }
    }

    /// How many failures of each class among the last `n` attempts.
    pub fn recent_classes(&self, n: usize) -> BTreeMap<ErrorClass, u64> {
        let mut out = BTreeMap::new();
        for (_, a) in self.attempts.iter().rev().take(n) {
            if let Some(e) = &a.error {
                *out.entry(e.class).or_default() += 1;
            }
        }
        out
    }
}

/// A timeout violation: the attempt failed by timing out, or took longer than its timeout.
pub fn is_violation(a: &DbAttempt) -> bool {
    a.error
        .as_ref()
        .is_some_and(|e| e.class == ErrorClass::Timeout)
        || a.total_ms > a.timeout_ms
}
