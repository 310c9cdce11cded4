//! The service's startup sequence (7 phases, each against its budget), from its own log and
//! from connscope's rehearsal. Times come from the log's own clock, so a log read after the
//! fact is judged exactly as one followed live.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::log::{EventLog, Level};
use super::stats::Ring;
use crate::config::Phase;
use crate::event::{PhaseStatus, StartupExit, StartupLog, StartupPhase, StartupSource};
use crate::units::{duration as fmt_d, secs_between};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseVerdict {
    Pass,
    OverBudget,
    Failed,
    Running,
    NotReached,
}

impl PhaseVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseVerdict::Pass => "pass",
            PhaseVerdict::OverBudget => "over_budget",
            PhaseVerdict::Failed => "failed",
            PhaseVerdict::Running => "running",
            PhaseVerdict::NotReached => "not_reached",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PhaseRun {
    pub name: String,
    pub budget: Duration,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub status: Option<PhaseStatus>,
    pub message: Option<String>,
}

impl PhaseRun {
    /// Seconds from start to end, or to `now` while it runs.
    pub fn duration_s(&self, now: Option<DateTime<Utc>>) -> Option<f64> {
        let start = self.started?;
        let end = self.ended.or(now)?;
        Some(secs_between(start, end).max(0.0))
    }

    pub fn verdict(&self, now: Option<DateTime<Utc>>, exited: bool) -> PhaseVerdict {
        let over = |d: Option<f64>| d.is_some_and(|d| d > self.budget.as_secs_f64());
        match self.status {
            None => PhaseVerdict::NotReached,
            Some(PhaseStatus::Failed) => PhaseVerdict::Failed,
            Some(PhaseStatus::Completed) if over(self.duration_s(None)) => PhaseVerdict::OverBudget,
            Some(PhaseStatus::Completed) => PhaseVerdict::Pass,
            Some(PhaseStatus::Started) if exited => PhaseVerdict::Failed,
            Some(PhaseStatus::Started) if over(self.duration_s(now)) => PhaseVerdict::OverBudget,
            Some(PhaseStatus::Started) => PhaseVerdict::Running,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StartupRun {
    pub phases: Vec<PhaseRun>,
    pub exit: Option<(i32, DateTime<Utc>)>,
    /// The newest timestamp seen in this run: "now" on the log's clock.
    pub last_ts: Option<DateTime<Utc>>,
}

impl StartupRun {
    fn new(phases: &[Phase]) -> Self {
        let phases = phases
            .iter()
            .map(|p| PhaseRun {
                name: p.name.clone(),
                budget: p.budget,
                started: None,
                ended: None,
                status: None,
                message: None,
            })
            .collect();
        Self {
            phases,
            exit: None,
            last_ts: None,
        }
    }

    pub fn verdicts(&self) -> Vec<PhaseVerdict> {
        self.phases
            .iter()
            .map(|p| p.verdict(self.last_ts, self.exit.is_some()))
            .collect()
    }

    /// Whole sequence: first phase start to the exit, or to the newest timestamp.
    pub fn total_s(&self) -> Option<f64> {
        let start = self.phases.iter().filter_map(|p| p.started).min()?;
        let end = self.exit.map(|(_, t)| t).or(self.last_ts)?;
        Some(secs_between(start, end).max(0.0))
    }

    pub fn complete(&self) -> bool {
        self.phases
            .iter()
            .all(|p| p.status == Some(PhaseStatus::Completed))
    }

    pub fn failed_phase(&self) -> Option<(usize, &PhaseRun)> {
        let exited = self.exit.is_some();
        self.phases
            .iter()
            .enumerate()
            .find(|(_, p)| p.verdict(self.last_ts, exited) == PhaseVerdict::Failed)
    }

    fn touch(&mut self, ts: DateTime<Utc>) {
        self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
    }
}

/// A finished run, kept briefly to show a restart loop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub exit_code: Option<i32>,
    /// 1-based number of the phase that failed.
    pub failed_phase_number: Option<usize>,
    pub failed_phase: Option<String>,
    pub failed_after_s: Option<f64>,
    pub failed_message: Option<String>,
    pub total_s: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Track {
    pub source: StartupSource,
    pub current: Option<StartupRun>,
    pub previous: Ring<RunSummary>,
    pub runs: u32,
    pub lines: u64,
    pub skipped: u64,
    pub desc: Option<String>,
    pub ended: bool,
}

impl Track {
    fn new(source: StartupSource) -> Self {
        Self {
            source,
            current: None,
            previous: Ring::new(20),
            runs: 0,
            lines: 0,
            skipped: 0,
            desc: None,
            ended: false,
        }
    }

    fn name(&self) -> &'static str {
        match self.source {
            StartupSource::Log => "startup",
            StartupSource::Rehearsal => "rehearsal",
        }
    }

    fn begin_run(&mut self, phases: &[Phase]) {
        if let Some(old) = self.current.take() {
            let failed = old
                .failed_phase()
                .map(|(_, p)| (p.name.clone(), p.duration_s(old.last_ts)));
            self.previous.push(RunSummary {
                exit_code: old.exit.map(|(c, _)| c),
                failed_phase_number: old.failed_phase().map(|(i, _)| i + 1),
                failed_message: old.failed_phase().and_then(|(_, p)| p.message.clone()),
                failed_after_s: failed.as_ref().and_then(|f| f.1),
                failed_phase: failed.map(|f| f.0),
                total_s: old.total_s(),
            });
        }
        self.runs += 1;
        self.current = Some(StartupRun::new(phases));
    }
}

#[derive(Debug, Clone)]
pub struct StartupState {
    pub log: Track,
    pub rehearsal: Track,
    phases: Vec<Phase>,
}

impl StartupState {
    pub fn new(phases: &[Phase]) -> Self {
        Self {
            log: Track::new(StartupSource::Log),
            rehearsal: Track::new(StartupSource::Rehearsal),
            phases: phases.to_vec(),
        }
    }

    pub fn track(&self, source: StartupSource) -> &Track {
        match source {
            StartupSource::Log => &self.log,
            StartupSource::Rehearsal => &self.rehearsal,
        }
    }

    fn track_mut(&mut self, source: StartupSource) -> &mut Track {
        match source {
            StartupSource::Log => &mut self.log,
            StartupSource::Rehearsal => &mut self.rehearsal,
        }
    }

    /// The track to judge startup by: the service's own log when there is one.
    pub fn primary(&self) -> Option<&Track> {
        [&self.log, &self.rehearsal]
            .into_iter()
            .find(|t| t.current.is_some())
    }

    pub fn phase(&mut self, p: &StartupPhase, log: &mut EventLog) {
        let phases = self.phases.clone();
        let track = self.track_mut(p.source);
        let idx = usize::from(p.phase).wrapping_sub(1);
        if idx >= phases.len() {
            log.push(
                p.ts,
                Level::Warn,
                track.name(),
                format!(
                    "phase {} is not one of the {} configured phases",
                    p.phase,
                    phases.len()
                ),
            );
            return;
        }
        let restart = p.status == PhaseStatus::Started
            && idx == 0
            && track
                .current
                .as_ref()
                .is_some_and(|r| r.exit.is_some() || r.phases[0].started.is_some());
        if track.current.is_none() || restart {
            track.begin_run(&phases);
            if track.runs > 1 {
                log.push(
                    p.ts,
                    Level::Warn,
                    track.name(),
                    format!("startup run #{} began (restart)", track.runs),
                );
            }
        }
        let name = track.name();
        let Some(run) = track.current.as_mut() else {
            return;
        };
        run.touch(p.ts);
        let ph = &mut run.phases[idx];
        match p.status {
            PhaseStatus::Started => {
                ph.started = Some(p.ts);
                ph.ended = None;
            }
            PhaseStatus::Completed | PhaseStatus::Failed => {
                ph.started.get_or_insert(p.ts);
                ph.ended = Some(p.ts);
            }
        }
        ph.status = Some(p.status);
        ph.message.clone_from(&p.message);
        let dur = ph.duration_s(None).unwrap_or(0.0);
        let budget = fmt_d(ph.budget);
        let label = format!("phase {} {}", p.phase, ph.name);
        let msg = p
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        match p.status {
            PhaseStatus::Failed => log.push(
                p.ts,
                Level::Error,
                name,
                format!("{label} failed after {dur:.1} s (budget {budget}){msg}"),
            ),
            PhaseStatus::Completed if dur > ph.budget.as_secs_f64() => {
                log.push(
                    p.ts,
                    Level::Warn,
                    name,
                    format!("{label} over budget: {dur:.1} s (budget {budget})"),
                );
            }
            _ => {}
        }
    }

    pub fn exit(&mut self, x: &StartupExit, log: &mut EventLog) {
        let phases = self.phases.clone();
        let track = self.track_mut(x.source);
        if track.current.as_ref().is_none_or(|r| r.exit.is_some()) {
            track.begin_run(&phases);
        }
        let name = track.name();
        if let Some(run) = track.current.as_mut() {
            run.touch(x.ts);
            run.exit = Some((x.code, x.ts));
        }
        let level = if x.code == 0 {
            Level::Info
        } else {
            Level::Error
        };
        log.push(
            x.ts,
            level,
            name,
            format!("service exited with code {}", x.code),
        );
    }

    pub fn log_stats(&mut self, l: &StartupLog) {
        let t = &mut self.log;
        t.lines = l.lines;
        t.skipped = l.skipped;
        t.desc = Some(l.source.clone());
        t.ended = l.ended;
    }
}
