//! Concurrent-capacity test results, aggregated connection by connection so a running test
//! shows its progress.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::event_log::{EventLog, Level};
use crate::event::{CapacityConn, CapacityFinished, CapacityStarted, ErrorClass, Failure};

#[derive(Debug, Clone, PartialEq)]
pub struct CapacityRun {
    pub started_at: DateTime<Utc>,
    pub started: CapacityStarted,
    pub attempted: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub capacity_errors: u32,
    pub errors_by_class: BTreeMap<ErrorClass, u32>,
    pub examples: BTreeMap<ErrorClass, Failure>,
    pub(crate) connect_sum_ms: f64,
    pub(crate) connect_max_ms: f64,
    pub finished: Option<(DateTime<Utc>, CapacityFinished)>,
    /// Newer evidence made this result history: when, and what (a lab scenario switch).
    pub(crate) superseded: Option<(DateTime<Utc>, String)>,
}

impl CapacityRun {
    pub fn running(&self) -> bool {
        self.finished.is_none()
    }

    pub(crate) fn avg_connect_ms(&self) -> Option<f64> {
        (self.attempted > 0).then(|| self.connect_sum_ms / f64::from(self.attempted))
    }

    /// Stopped by the person or the run ending (quit, a signal), not by what it measured.
    pub fn cancelled(&self) -> bool {
        self.finished
            .as_ref()
            .is_some_and(|(_, f)| f.aborted && f.reason.as_deref() == Some("cancelled"))
    }
}

#[derive(Debug, Clone, Default)]
pub struct CapacityState {
    /// The running test, or the last one to finish.
    pub last: Option<CapacityRun>,
    pub runs: u64,
}

impl CapacityState {
    pub fn running(&self) -> bool {
        self.last.as_ref().is_some_and(CapacityRun::running)
    }

    /// The newest test, unless newer evidence has made it history.
    pub fn current(&self) -> Option<&CapacityRun> {
        self.last.as_ref().filter(|r| r.superseded.is_none())
    }

    /// What was measured belongs to another situation now (a lab scenario switch): the result
    /// stays visible, in the past tense, and is no longer judged.
    pub(crate) fn supersede(&mut self, at: DateTime<Utc>, why: String) {
        if let Some(run) = self.last.as_mut().filter(|r| r.superseded.is_none()) {
            run.superseded = Some((at, why));
        }
    }

    pub fn started(&mut self, at: DateTime<Utc>, s: &CapacityStarted, log: &mut EventLog) {
        self.runs += 1;
        let capped = if s.capped {
            format!(" (capped from {} to the safety cap {})", s.requested, s.cap)
        } else {
            String::new()
        };
        let forced = if s.forced {
            " — forced past the safety cap"
        } else {
            ""
        };
        log.push(
            at,
            Level::Info,
            "capacity",
            format!(
                "capacity test started: {} connections, each to be held {:.1} s{capped}{forced}",
                s.planned,
                s.hold_ms / 1000.0
            ),
        );
        self.last = Some(CapacityRun {
            started_at: at,
            started: s.clone(),
            attempted: 0,
            succeeded: 0,
            failed: 0,
            capacity_errors: 0,
            errors_by_class: BTreeMap::new(),
            examples: BTreeMap::new(),
            connect_sum_ms: 0.0,
            connect_max_ms: 0.0,
            finished: None,
            superseded: None,
        });
    }

    pub fn conn(&mut self, c: &CapacityConn) {
        let Some(run) = self.last.as_mut().filter(|r| r.started.run == c.run) else {
            return;
        };
        run.attempted += 1;
        run.connect_sum_ms += c.connect_ms;
        run.connect_max_ms = run.connect_max_ms.max(c.connect_ms);
        match &c.error {
            None if c.ok => run.succeeded += 1,
            None => run.failed += 1,
            Some(e) => {
                run.failed += 1;
                run.capacity_errors += u32::from(e.class.is_capacity());
                *run.errors_by_class.entry(e.class).or_default() += 1;
                run.examples.entry(e.class).or_insert_with(|| e.clone());
            }
        }
    }

    pub fn finished(&mut self, at: DateTime<Utc>, f: &CapacityFinished, log: &mut EventLog) {
        let Some(run) = self.last.as_mut().filter(|r| r.started.run == f.run) else {
            return;
        };
        run.finished = Some((at, f.clone()));
        // Nothing connected is the failure the verdict names, so the log says it as one.
        let level = if run.attempted > 0 && run.succeeded == 0 && !run.cancelled() {
            Level::Error
        } else if run.capacity_errors > 0 || f.aborted {
            Level::Warn
        } else {
            Level::Info
        };
        let how = if f.aborted {
            format!(
                " — stopped early: {}",
                f.reason.as_deref().unwrap_or("aborted")
            )
        } else {
            String::new()
        };
        log.push(
            at,
            level,
            "capacity",
            format!(
                "capacity test done: {} of {} connected, {} capacity errors{how}",
                run.succeeded, run.attempted, run.capacity_errors
            ),
        );
    }
}
