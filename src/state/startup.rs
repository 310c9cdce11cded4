//! The service's startup sequence (7 phases, each against its budget), from its own log and
//! from connscope's rehearsal. Times come from the log's own clock, so a log read after the
//! fact is judged exactly as one followed live.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::event_log::{EventLog, Level};
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
    /// Still running long past its budget (budget + grace) with no end in the log: a failure.
    Stalled,
    Running,
    NotReached,
    /// Nothing to do for it (the rehearsal has no step or nothing is configured).
    Skipped,
}

impl PhaseVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseVerdict::Pass => "pass",
            PhaseVerdict::OverBudget => "over_budget",
            PhaseVerdict::Failed => "failed",
            PhaseVerdict::Stalled => "stalled",
            PhaseVerdict::Running => "running",
            PhaseVerdict::NotReached => "not_reached",
            PhaseVerdict::Skipped => "skipped",
        }
    }

    pub(crate) fn is_failure(self) -> bool {
        matches!(self, PhaseVerdict::Failed | PhaseVerdict::Stalled)
    }
}

/// How long past its budget a running phase may go before it counts as stalled: half its
/// budget, at least 10 s (the outage's 90 s database phase stalls at 135 s).
pub(crate) fn stall_grace(budget: Duration) -> Duration {
    budget.mul_f64(0.5).max(Duration::from_secs(10))
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

/// A phase of a run as the phase chart draws it: when it started, for how long, its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpan {
    pub name: String,
    pub(crate) budget_s: f64,
    pub started: Option<DateTime<Utc>>,
    pub duration_s: Option<f64>,
    pub verdict: PhaseVerdict,
    pub message: Option<String>,
}

impl PhaseRun {
    /// This phase as drawn, with a verdict and duration the judge gave it.
    pub fn span(&self, verdict: PhaseVerdict, duration_s: Option<f64>) -> PhaseSpan {
        PhaseSpan {
            name: self.name.clone(),
            budget_s: self.budget.as_secs_f64(),
            started: self.started,
            duration_s,
            verdict,
            message: self.message.clone(),
        }
    }

    /// Seconds from start to end, or to `now` while it runs.
    pub fn duration_s(&self, now: Option<DateTime<Utc>>) -> Option<f64> {
        let start = self.started?;
        let end = self.ended.or(now)?;
        Some(secs_between(start, end).max(0.0))
    }

    /// The phase as of `now` (the run's clock, see `StartupRun::clock`); `ended`: the process
    /// is gone (it exited, or a restart began), so a phase still running died with it.
    pub fn verdict(&self, now: Option<DateTime<Utc>>, ended: bool) -> PhaseVerdict {
        let budget = self.budget.as_secs_f64();
        let over = |d: Option<f64>, limit: f64| d.is_some_and(|d| d > limit);
        match self.status {
            None => PhaseVerdict::NotReached,
            Some(PhaseStatus::Skipped) => PhaseVerdict::Skipped,
            Some(PhaseStatus::Failed) => PhaseVerdict::Failed,
            Some(PhaseStatus::Completed) if over(self.duration_s(None), budget) => {
                PhaseVerdict::OverBudget
            }
            Some(PhaseStatus::Completed) => PhaseVerdict::Pass,
            Some(PhaseStatus::Started) if ended => PhaseVerdict::Failed,
            Some(PhaseStatus::Started) => {
                let d = self.duration_s(now);
                let stall = budget + stall_grace(self.budget).as_secs_f64();
                if over(d, stall) {
                    PhaseVerdict::Stalled
                } else if over(d, budget) {
                    PhaseVerdict::OverBudget
                } else {
                    PhaseVerdict::Running
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StartupRun {
    /// 1-based: the how-manieth run the track has seen.
    pub(crate) number: u32,
    pub phases: Vec<PhaseRun>,
    pub exit: Option<(i32, DateTime<Utc>)>,
    /// The newest timestamp seen in this run.
    pub last_ts: Option<DateTime<Utc>>,
}

impl StartupRun {
    fn new(number: u32, phases: &[Phase]) -> Self {
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
            number,
            phases,
            exit: None,
            last_ts: None,
        }
    }

    /// The run's own "now": its exit when it exited; else the judging clock, never before the
    /// newest line of the log (a log clock ahead of ours must not run time backwards).
    pub fn clock(&self, now: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        match (self.exit, now, self.last_ts) {
            (Some((_, t)), _, _) => Some(t),
            (None, Some(n), Some(l)) => Some(n.max(l)),
            (None, n, l) => n.or(l),
        }
    }

    /// Each phase's verdict as of `now`.
    pub fn verdicts(&self, now: Option<DateTime<Utc>>) -> Vec<PhaseVerdict> {
        self.verdicts_ended(now, false)
    }

    fn verdicts_ended(&self, now: Option<DateTime<Utc>>, restarted: bool) -> Vec<PhaseVerdict> {
        let clock = self.clock(now);
        let ended = restarted || self.exit.is_some();
        self.phases
            .iter()
            .map(|p| p.verdict(clock, ended))
            .collect()
    }

    /// Whole sequence: first phase start to the exit, to the last phase's end once every phase
    /// completed, or to `now` while it runs.
    pub fn total_s(&self, now: Option<DateTime<Utc>>) -> Option<f64> {
        let start = self.started_at()?;
        let end = if self.exit.is_none() && self.complete() {
            self.last_ts
        } else {
            self.clock(now)
        };
        Some(secs_between(start, end?).max(0.0))
    }

    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.phases.iter().filter_map(|p| p.started).min()
    }

    /// Every phase completed (or had nothing to do).
    pub fn complete(&self) -> bool {
        self.phases
            .iter()
            .any(|p| p.status == Some(PhaseStatus::Completed))
            && self.phases.iter().all(|p| {
                matches!(
                    p.status,
                    Some(PhaseStatus::Completed | PhaseStatus::Skipped)
                )
            })
    }

    /// The phase that failed (or stalled) as of `now`.
    pub fn failed_phase(&self, now: Option<DateTime<Utc>>) -> Option<(usize, &PhaseRun)> {
        self.failed_in(&self.verdicts(now))
    }

    fn failed_in(&self, verdicts: &[PhaseVerdict]) -> Option<(usize, &PhaseRun)> {
        let i = verdicts.iter().position(|v| v.is_failure())?;
        Some((i, &self.phases[i]))
    }

    /// A failed phase or a non-zero exit as of `now`.
    pub fn failed(&self, now: Option<DateTime<Utc>>) -> bool {
        self.failed_phase(now).is_some() || self.exit.is_some_and(|(c, _)| c != 0)
    }

    fn touch(&mut self, ts: DateTime<Utc>) {
        self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
    }

    /// What is kept of a run once the next one begins (the process is gone by then).
    fn summary(&self) -> RunSummary {
        let verdicts = self.verdicts_ended(None, true);
        let failed = self.failed_in(&verdicts);
        RunSummary {
            number: self.number,
            started_at: self.started_at(),
            ended_at: self.exit.map(|(_, t)| t).or(self.last_ts),
            exit_code: self.exit.map(|(c, _)| c),
            failed_phase_number: failed.map(|(i, _)| i + 1),
            failed_phase: failed.map(|(_, p)| p.name.clone()),
            failed_after_s: failed.and_then(|(_, p)| p.duration_s(self.last_ts)),
            failed_message: failed.and_then(|(_, p)| p.message.clone()),
            total_s: self.total_s(None),
            complete: self.complete(),
            failed: failed.is_some() || self.exit.is_some_and(|(c, _)| c != 0),
            phases: self
                .phases
                .iter()
                .zip(&verdicts)
                .map(|(p, v)| p.span(*v, p.duration_s(self.clock(None))))
                .collect(),
        }
    }
}

/// A finished run, kept to show a restart loop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub(crate) number: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub(crate) ended_at: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    /// 1-based number of the phase that failed.
    pub failed_phase_number: Option<usize>,
    pub failed_phase: Option<String>,
    pub failed_after_s: Option<f64>,
    pub(crate) failed_message: Option<String>,
    pub total_s: Option<f64>,
    pub complete: bool,
    /// A phase failed or the process exited non-zero.
    pub failed: bool,
    /// Each phase as it ended with the run (for the report's phase chart).
    #[serde(skip)]
    pub phases: Vec<PhaseSpan>,
}

/// A process says its end more than once (the app's "exiting with code 3", then uvicorn's
/// "Application startup failed. Exiting.", a traceback naming the phase): within this time of
/// an exit, the same code again or the end of a phase belongs to the run that exited, not to
/// a new one. Only a phase starting begins the next run sooner.
const EXIT_ECHO: chrono::TimeDelta = chrono::TimeDelta::seconds(10);
/// A log line stamped further ahead of the moment it was read than this is from another zone
/// or clock: past any clock skew between two machines, short of the smallest zone offset
/// people use (30 min).
pub(crate) const AHEAD_LIMIT: Duration = Duration::from_secs(10 * 60);

/// `the log's timestamps run 5.0 h ahead of this machine's clock — …`.
pub(crate) fn ahead_text(ahead_s: f64) -> String {
    format!(
        "the log's timestamps run {} ahead of this machine's clock — written in another zone, \
         or on a machine whose clock is off? (startup.timezone, --log-timezone); a running \
         phase cannot be aged by it",
        crate::units::elapsed(ahead_s)
    )
}

/// Once this many lines of a startup log matched nothing, it is judged as teaching nothing
/// (also the probe's cue to warn) — without waiting for a log that may never end.
pub(crate) const UNMATCHED_WARN_LINES: u64 = 200;

/// A phase as judged at a moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseView {
    pub(crate) number: usize,
    pub name: String,
    pub(crate) budget_s: f64,
    /// To its end, or to the judging moment while it runs.
    pub duration_s: Option<f64>,
    pub verdict: PhaseVerdict,
    pub message: Option<String>,
}

/// Failed runs, each followed by a restart. While the newest run has not completed every
/// phase it fails the verdict; once one has, it is history (`active: false`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestartLoop {
    /// Run numbers of the failed runs, oldest first.
    pub failed_runs: Vec<u32>,
    pub exit_codes: Vec<i32>,
    pub since: Option<DateTime<Utc>>,
    /// When the newest failed run ended.
    pub(crate) last_failure_at: Option<DateTime<Utc>>,
    pub active: bool,
}

/// The newest run of a track as judged at a moment, with the runs before it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartupView {
    pub source: StartupSource,
    /// What was read: a path, `stdin`, a command.
    pub log: Option<String>,
    /// The newest run's number.
    pub run: u32,
    pub phases: Vec<PhaseView>,
    pub total_s: Option<f64>,
    pub(crate) total_budget_s: f64,
    pub exit_code: Option<i32>,
    /// Every phase completed (or had nothing to do).
    pub complete: bool,
    /// A phase failed or stalled, or the process exited non-zero.
    pub failed: bool,
    pub runs: u32,
    pub previous_runs: Vec<RunSummary>,
    pub restart_loop: Option<RestartLoop>,
    pub(crate) skipped_lines: u64,
    pub lines: u64,
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
    /// The format the log was read as (`StartupLog::format`).
    pub format: Option<String>,
    /// How far the log's newest-stamped line ran ahead of the moment it was read, when more
    /// than `AHEAD_LIMIT`: a log from the future was written in another zone (or on a machine
    /// whose clock is off), and its running phase cannot be aged by this clock.
    pub ahead_s: Option<f64>,
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
            format: None,
            ahead_s: None,
        }
    }

    /// A line stamped `ts`, read at `at`: said once, the first time it runs ahead.
    fn saw(&mut self, ts: DateTime<Utc>, at: DateTime<Utc>, log: &mut EventLog) {
        let ahead = secs_between(at, ts);
        if ahead <= AHEAD_LIMIT.as_secs_f64() || self.ahead_s.is_some_and(|a| a >= ahead) {
            return;
        }
        if self.ahead_s.is_none() {
            log.push(at, Level::Warn, self.name(), ahead_text(ahead));
        }
        self.ahead_s = Some(ahead);
    }

    fn name(&self) -> &'static str {
        match self.source {
            StartupSource::Log => "startup",
            StartupSource::Rehearsal => "rehearsal",
        }
    }

    fn begin_run(&mut self, phases: &[Phase]) {
        if let Some(old) = self.current.take() {
            self.previous.push(old.summary());
        }
        self.runs += 1;
        self.current = Some(StartupRun::new(self.runs, phases));
    }

    /// The newest run as of `now`; `None` before the first phase or exit line.
    pub fn view(&self, now: Option<DateTime<Utc>>, total_budget: Duration) -> Option<StartupView> {
        let run = self.current.as_ref()?;
        let verdicts = run.verdicts(now);
        let clock = run.clock(now);
        let phases = run
            .phases
            .iter()
            .zip(&verdicts)
            .enumerate()
            .map(|(i, (p, v))| PhaseView {
                number: i + 1,
                name: p.name.clone(),
                budget_s: p.budget.as_secs_f64(),
                duration_s: p.duration_s(clock),
                verdict: *v,
                message: p.message.clone(),
            })
            .collect();
        Some(StartupView {
            source: self.source,
            log: self.desc.clone(),
            run: run.number,
            phases,
            total_s: run.total_s(now),
            total_budget_s: total_budget.as_secs_f64(),
            exit_code: run.exit.map(|(c, _)| c),
            complete: run.complete(),
            failed: run.failed(now),
            runs: self.runs,
            previous_runs: self.previous.iter().cloned().collect(),
            restart_loop: self.restart_loop(run.complete()),
            skipped_lines: self.skipped,
            lines: self.lines,
        })
    }

    fn restart_loop(&self, current_complete: bool) -> Option<RestartLoop> {
        let failed = self.failed_streak();
        let newest = failed.last()?;
        Some(RestartLoop {
            failed_runs: failed.iter().map(|r| r.number).collect(),
            exit_codes: failed.iter().filter_map(|r| r.exit_code).collect(),
            since: failed.first().and_then(|r| r.started_at.or(r.ended_at)),
            last_failure_at: newest.ended_at,
            active: !current_complete,
        })
    }

    /// The failed runs right before the current one, oldest first: a restart loop while the
    /// current run has not completed every phase, history once it has.
    pub(crate) fn failed_streak(&self) -> Vec<&RunSummary> {
        let mut out: Vec<&RunSummary> = self
            .previous
            .iter()
            .rev()
            .take_while(|r| r.failed)
            .collect();
        out.reverse();
        out
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

    pub fn phase(&mut self, at: DateTime<Utc>, p: &StartupPhase, log: &mut EventLog) {
        let phases = self.phases.clone();
        let track = self.track_mut(p.source);
        track.saw(p.ts, at, log);
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
        // A phase starting after an exit, phase 1 starting again, or anything well after an
        // exit is the next run; the end of a phase echoed right after the exit is not.
        let restart = track.current.as_ref().is_some_and(|r| match r.exit {
            Some((_, at)) => p.status == PhaseStatus::Started || p.ts - at > EXIT_ECHO,
            None => p.status == PhaseStatus::Started && idx == 0 && r.phases[0].started.is_some(),
        });
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
        if !record(ph, p) {
            return;
        }
        if let Some((level, text)) = phase_log_line(ph, p) {
            log.push(p.ts, level, name, text);
        }
    }

    pub fn exit(&mut self, at: DateTime<Utc>, x: &StartupExit, log: &mut EventLog) {
        let phases = self.phases.clone();
        let track = self.track_mut(x.source);
        track.saw(x.ts, at, log);
        let echo = track
            .current
            .as_ref()
            .and_then(|r| r.exit)
            .is_some_and(|(code, at)| code == x.code && x.ts >= at && x.ts - at <= EXIT_ECHO);
        if echo {
            return;
        }
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

    pub(crate) fn log_stats(&mut self, l: &StartupLog) {
        let t = &mut self.log;
        t.lines = l.lines;
        t.skipped = l.skipped;
        t.desc = Some(l.source.clone());
        t.ended = l.ended;
        if l.format.is_some() {
            t.format.clone_from(&l.format);
        }
    }
}

/// Applies a phase line; false when it changed nothing.
fn record(ph: &mut PhaseRun, p: &StartupPhase) -> bool {
    let ended = matches!(
        ph.status,
        Some(PhaseStatus::Completed | PhaseStatus::Failed | PhaseStatus::Skipped)
    );
    // A phase ends once: a traceback repeating "phase 3 failed" does not move its end.
    if ended && p.status != PhaseStatus::Started {
        return false;
    }
    match p.status {
        PhaseStatus::Started => {
            ph.started = Some(p.ts);
            ph.ended = None;
        }
        PhaseStatus::Completed | PhaseStatus::Failed | PhaseStatus::Skipped => {
            ph.started.get_or_insert(p.ts);
            ph.ended = Some(p.ts);
        }
    }
    ph.status = Some(p.status);
    ph.message.clone_from(&p.message);
    true
}

/// State changes only: a phase that failed, or finished over its budget.
fn phase_log_line(ph: &PhaseRun, p: &StartupPhase) -> Option<(Level, String)> {
    let dur = ph.duration_s(None).unwrap_or(0.0);
    let budget = fmt_d(ph.budget);
    let label = format!("phase {} {}", p.phase, ph.name);
    let msg = p
        .message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    match p.status {
        PhaseStatus::Failed => Some((
            Level::Error,
            format!("{label} failed after {dur:.1} s (budget {budget}){msg}"),
        )),
        PhaseStatus::Completed if dur > ph.budget.as_secs_f64() => Some((
            Level::Warn,
            format!("{label} over budget: {dur:.1} s (budget {budget})"),
        )),
        _ => None,
    }
}
