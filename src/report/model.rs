//! The report model: built once from the state and its judgement, then read by every format
//! (JSON, text, markdown, JUnit) — none of them looks at the state or judges. Where a part has
//! the shape of an event or of the judge's output it is that type, flattened; only what is
//! derived is added. Scripts rely on the JSON keys; the README documents them; fields are only
//! ever added.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::{
    CapacityStarted, DbAttempt, Failure, HttpCheck, InitResult, LinkStatus, PoolFigures,
    PoolStarted, StartupSource,
};
use crate::state::alerts::{Alert, AlertChange};
use crate::state::db::{Outage, StepAverages};
use crate::state::diagnosis::{Finding, near_timeout};
use crate::state::endpoints::{Consistency, Health, health};
use crate::state::event_log::LogEntry;
use crate::state::evidence::ProbeEvidence;
use crate::state::judge::{DbJudgement, Judgement};
use crate::state::pool::Beneath;
use crate::state::pool::judge::PoolJudgement;
use crate::state::startup::StartupView;
use crate::state::targets::TargetCheck;
use crate::state::vantage::VantageJudgement;
use crate::state::verdict::Verdict;
use crate::state::{State, StateConfig};

pub(crate) type Startup = StartupView;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub connscope: &'static str,
    pub verdict: Verdict,
    /// 0 / 1 / 2 by the verdict; 130 when the run was interrupted.
    pub exit_code: crate::exit::ExitCode,
    /// Why the verdict is not a pass, most severe first.
    pub reasons: Vec<String>,
    pub interrupted: bool,
    /// The run's recording could not be written to its end (exit 74 instead of 0 / 1 / 2).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) recording_incomplete: bool,
    /// The moment judged.
    pub(crate) judged_at: Option<DateTime<Utc>>,
    /// Each probe the run selected, and whether it produced evidence.
    pub evidence: Vec<ProbeEvidence>,
    pub environment: String,
    pub cloud_sql: bool,
    pub target: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub(crate) finished_at: Option<DateTime<Utc>>,
    pub duration_s: f64,
    pub lab_scenario: Option<String>,
    pub database: Option<Database>,
    pub init: Option<Init>,
    pub capacity: Option<Capacity>,
    /// The pool probe's newest run (the application's-eye view), with what lay beneath it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<Pool>,
    pub endpoints: Vec<Endpoint>,
    pub websockets: Vec<WebSocket>,
    pub startup: Option<Startup>,
    /// How much of the service's startup log was read, even when none of it was a phase.
    pub startup_log: Option<StartupLogRead>,
    pub alerts: Vec<Alert>,
    pub targets: Vec<TargetCheck>,
    pub findings: Vec<Finding>,
    /// Each remote vantage point (`--agent NAME=URL`) with its own report; with any, the
    /// verdict, reasons, alerts and findings above are those of every vantage together.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vantages: Vec<VantageReport>,
    /// What the post-mortem formats show beyond the JSON.
    #[serde(skip)]
    pub review: Review,
    /// What the charts draw over time (HTML, markdown's chart files).
    #[serde(skip)]
    pub charts: super::series::ChartData,
}

/// Not in the JSON (it would repeat the events): the timeline, the configuration the state
/// judged with, and the database's step averages and failure examples.
#[derive(Debug, Clone)]
pub struct Review {
    pub events: u64,
    pub log: Vec<LogEntry>,
    /// Log entries the bounded log no longer holds.
    pub(crate) log_dropped: u64,
    pub(crate) alert_changes: Vec<AlertChange>,
    pub cfg: StateConfig,
    pub(crate) step_averages: StepAverages,
    /// The newest failure of each class.
    pub examples: BTreeMap<String, Failure>,
}

/// A remote vantage point: its link and, once its agent's header arrived, the report of what
/// it measured (as of the moment it was lost, when it is `stale`).
#[derive(Debug, Clone, Serialize)]
pub struct VantageReport {
    #[serde(flatten)]
    pub link: VantageJudgement,
    pub report: Option<Box<Report>>,
}

/// A vantage's link in words, for each format to style: `state` is `live`, `not reached` or
/// `lost`; `since` (`since HH:MM:SS UTC`) only for a lost one, whose figures are as of then.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LinkWords {
    pub state: &'static str,
    pub since: Option<String>,
}

impl VantageReport {
    pub(crate) fn link_words(&self) -> LinkWords {
        let (state, since) = match self.link.link {
            LinkStatus::Live => ("live", None),
            LinkStatus::Connecting => ("not reached", None),
            LinkStatus::Lost => (
                "lost",
                Some(format!(
                    "since {} UTC",
                    crate::units::clock(self.link.since)
                )),
            ),
        };
        LinkWords { state, since }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub attempt: DbAttempt,
}

#[derive(Debug, Clone, Serialize)]
pub struct Database {
    pub target: Option<String>,
    pub timeout_ms: f64,
    /// The newest attempts (all of them for a `check`; a long recording keeps the last few hundred).
    pub attempts: Vec<Attempt>,
    /// Status, "now" (what the rules judge) and the cumulative `summary`.
    #[serde(flatten)]
    pub judged: DbJudgement,
    pub errors_by_class: BTreeMap<String, u64>,
    /// Outages that ended (the current one is `status: down`).
    pub outages: Vec<Outage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Init {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub result: InitResult,
    pub timed_out: bool,
    /// For a timeout: did it fire close to the configured value (≥ 0.9 × timeout, ≤ timeout + 20 s)?
    pub near_configured_timeout: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Capacity {
    #[serde(flatten)]
    pub started: CapacityStarted,
    pub attempted: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub capacity_errors: u32,
    pub errors_by_class: BTreeMap<String, u32>,
    pub(crate) avg_connect_ms: Option<f64>,
    pub(crate) max_connect_ms: f64,
    pub elapsed_ms: Option<f64>,
    pub running: bool,
    pub aborted: bool,
    pub abort_reason: Option<String>,
    pub at: DateTime<Utc>,
    /// History: newer evidence contradicts it (why in `past_because`).
    pub past: bool,
    pub(crate) past_because: Option<String>,
}

/// The pool probe's run as built (`PoolStarted`), its figures (`PoolFigures`), its judgement
/// (`verdict`, `line`, `wait_warn_ms`, `past`), and `beneath`: the raw attempts during it.
#[derive(Debug, Clone, Serialize)]
pub struct Pool {
    #[serde(flatten)]
    pub started: PoolStarted,
    #[serde(flatten)]
    pub(crate) totals: PoolFigures,
    #[serde(flatten)]
    pub judged: PoolJudgement,
    pub started_at: DateTime<Utc>,
    pub elapsed_ms: Option<f64>,
    pub running: bool,
    pub aborted: bool,
    pub abort_reason: Option<String>,
    pub beneath: PoolBeneath,
}

#[derive(Debug, Clone, Serialize)]
pub struct PoolBeneath {
    #[serde(flatten)]
    pub beneath: Beneath,
    /// The same in words: `too_many_connections (53300) ×12, before authentication`.
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub check: HttpCheck,
    /// The judge's reading of the answer.
    pub health: Health,
    /// `health` is `startup_failure` (kept for scripts).
    pub startup_failure: bool,
    /// The phase a "starting" answer names.
    pub phase: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathSummary {
    pub path: String,
    #[serde(flatten)]
    pub(crate) consistency: Consistency,
    /// Failing in at least 2 of 3 tries (the same as `consistent`, kept for scripts).
    pub consistent_failure: bool,
    pub health: Option<Health>,
    pub phase: Option<String>,
    pub(crate) starting_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub name: String,
    pub url: String,
    pub checks: Vec<Check>,
    pub paths: Vec<PathSummary>,
}

impl Endpoint {
    /// The newest check of `path`, the one its row and its case report.
    pub(crate) fn newest_check(&self, path: &str) -> Option<&Check> {
        self.checks
            .iter()
            .rev()
            .find(|c| c.check.requested_path == path)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct WebSocket {
    pub url: String,
    pub ok: Option<bool>,
    pub connect_ms: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub error: Option<Failure>,
    pub checks: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StartupLogRead {
    pub source: String,
    pub lines: u64,
    pub skipped: u64,
    pub ended: bool,
    /// What it was read as: `json`, `cloud-logging`, `logfmt`, `text` or `regex`.
    pub format: Option<String>,
}

impl Report {
    /// The model of `s` as `j` judged it (the caller judges once, at the moment it means).
    /// The run's recording failed part-way: the verdict stands on what was measured, but the
    /// exit code (here as in the process) says the evidence kept is incomplete.
    pub(crate) fn recording_incomplete(&mut self) {
        self.recording_incomplete = true;
        self.exit_code = self.exit_code.with_incomplete_recording();
    }

    pub fn build(s: &State, j: Judgement) -> Report {
        let charts = super::series::build(s, &j);
        Report {
            connscope: env!("CARGO_PKG_VERSION"),
            verdict: j.verdict,
            exit_code: j.exit_code,
            reasons: j.reasons,
            interrupted: j.interrupted,
            recording_incomplete: false,
            judged_at: j.at,
            evidence: j.evidence,
            environment: s.cfg.environment.clone(),
            cloud_sql: s.cfg.cloud_sql,
            target: s.cfg.target.clone(),
            started_at: s.first_at,
            finished_at: s.last_at,
            duration_s: s.elapsed_s(),
            lab_scenario: s.lab.as_ref().map(|l| l.name.clone()),
            database: database(s, j.db),
            init: init(s),
            capacity: capacity(s, j.capacity),
            pool: pool(s, j.pool),
            endpoints: endpoints(s, &j.endpoints),
            websockets: websockets(s),
            startup: j.startup,
            startup_log: startup_log(s),
            alerts: j.alerts,
            targets: j.targets,
            findings: j.findings,
            vantages: vantages(s, j.vantages),
            review: review(s),
            charts,
        }
    }
}

fn vantages(s: &State, judged: Vec<VantageJudgement>) -> Vec<VantageReport> {
    judged
        .into_iter()
        .map(|mut link| {
            let state = s.vantages.get(&link.name).and_then(|v| v.state.as_ref());
            let report = match (state, link.judgement.take()) {
                (Some(state), Some(j)) => Some(Box::new(Report::build(state, j))),
                _ => None,
            };
            VantageReport { link, report }
        })
        .collect()
}

fn review(s: &State) -> Review {
    Review {
        events: s.events,
        log: s.log.entries().cloned().collect(),
        log_dropped: s.log.total().saturating_sub(s.log.entries().len() as u64),
        alert_changes: s.alerts.timeline.iter().cloned().collect(),
        cfg: s.cfg.clone(),
        step_averages: s.db.step_averages(),
        examples: s
            .db
            .last_failure
            .iter()
            .map(|(c, (_, f))| (c.as_str().to_string(), f.clone()))
            .collect(),
    }
}

fn database(s: &State, judged: DbJudgement) -> Option<Database> {
    if s.db.series.count() == 0 && s.cfg.target.is_none() {
        return None;
    }
    Some(Database {
        target: s.cfg.target.clone(),
        timeout_ms: s.cfg.connection_timeout.as_secs_f64() * 1000.0,
        attempts: s
            .db
            .attempts
            .iter()
            .map(|(at, a)| Attempt {
                at: *at,
                attempt: a.clone(),
            })
            .collect(),
        judged,
        errors_by_class: s
            .db
            .classes
            .iter()
            .map(|(c, n)| (c.as_str().to_string(), *n))
            .collect(),
        outages: s.db.outages.iter().cloned().collect(),
    })
}

fn init(s: &State) -> Option<Init> {
    let (at, r) = s.init.as_ref()?;
    let timed_out = r
        .error
        .as_ref()
        .is_some_and(|e| e.class == crate::event::ErrorClass::Timeout);
    Some(Init {
        at: *at,
        result: r.clone(),
        timed_out,
        near_configured_timeout: timed_out
            .then(|| near_timeout(r.elapsed_ms / 1000.0, r.timeout_ms / 1000.0)),
    })
}

fn capacity(s: &State, judged: Option<crate::state::judge::CapacityJudgement>) -> Option<Capacity> {
    let r = s.capacity.last.as_ref()?;
    let judged = judged?;
    let fin = r.finished.as_ref().map(|(_, f)| f);
    Some(Capacity {
        started: r.started.clone(),
        attempted: r.attempted,
        succeeded: r.succeeded,
        failed: r.failed,
        capacity_errors: r.capacity_errors,
        errors_by_class: r
            .errors_by_class
            .iter()
            .map(|(c, n)| (c.as_str().to_string(), *n))
            .collect(),
        avg_connect_ms: r.avg_connect_ms(),
        max_connect_ms: r.connect_max_ms,
        elapsed_ms: fin.map(|f| f.elapsed_ms),
        running: r.running(),
        aborted: fin.is_some_and(|f| f.aborted),
        abort_reason: fin.and_then(|f| f.reason.clone()),
        at: judged.at,
        past: judged.past,
        past_because: judged.past_because,
    })
}

fn pool(s: &State, judged: Option<PoolJudgement>) -> Option<Pool> {
    let r = s.pool.last.as_ref()?;
    let fin = r.finished.as_ref().map(|(_, f)| f);
    Some(Pool {
        started: r.started.clone(),
        totals: r.totals.clone(),
        judged: judged?,
        started_at: r.started_at,
        elapsed_ms: fin.map(|f| f.elapsed_ms),
        running: r.running(),
        aborted: fin.is_some_and(|f| f.aborted),
        abort_reason: fin.and_then(|f| f.reason.clone()),
        beneath: PoolBeneath {
            beneath: r.beneath.clone(),
            text: r.beneath.text(),
        },
    })
}

fn endpoints(s: &State, judged: &[crate::state::judge::PathJudgement]) -> Vec<Endpoint> {
    s.endpoints
        .endpoints
        .iter()
        .map(|e| {
            let mut checks: Vec<Check> = e
                .paths
                .iter()
                .flat_map(|p| p.checks.iter())
                .map(|(at, c)| {
                    let answer = health(c);
                    let mut check = c.clone();
                    // Old versions recorded their own judgement; the judge's is the one told.
                    check.startup_failure = false;
                    Check {
                        at: *at,
                        check,
                        startup_failure: answer.health == Health::StartupFailure,
                        health: answer.health,
                        phase: answer.phase,
                    }
                })
                .collect();
            checks.sort_by_key(|c| c.at);
            let paths = judged
                .iter()
                .filter(|p| p.endpoint == e.name)
                .filter_map(|p| {
                    let c = p.consistency?;
                    Some(PathSummary {
                        path: p.path.clone(),
                        consistency: c,
                        consistent_failure: c.consistent,
                        health: p.health,
                        phase: p.phase.clone(),
                        starting_since: p.starting_since,
                    })
                })
                .collect();
            Endpoint {
                name: e.name.clone(),
                url: e.url.clone(),
                checks,
                paths,
            }
        })
        .collect()
}

fn websockets(s: &State) -> Vec<WebSocket> {
    s.endpoints
        .websockets
        .iter()
        .map(|w| {
            let last = w.last.as_ref().map(|(_, c)| c);
            WebSocket {
                url: w.url.clone(),
                ok: last.map(|c| c.ok),
                connect_ms: last.and_then(|c| c.connect_ms),
                rtt_ms: last.and_then(|c| c.rtt_ms),
                error: last.and_then(|c| c.error.clone()),
                checks: w.series.count(),
            }
        })
        .collect()
}

fn startup_log(s: &State) -> Option<StartupLogRead> {
    let t = &s.startup.log;
    Some(StartupLogRead {
        source: t.desc.clone()?,
        lines: t.lines,
        skipped: t.skipped,
        ended: t.ended,
        format: t.format.clone(),
    })
}

/// The pool as built, in words: `25 connections (pool.size + max_overflow), 30 borrowers,
/// acquire timeout 45 s, for 10 s` — with the headroom's cap when it bound the size.
pub(crate) fn pool_shape(st: &PoolStarted) -> String {
    let cap = st.headroom.as_ref().map_or(0, |h| h.cap);
    let size = if st.capped {
        format!("capped from {} to the headroom's cap {cap}", st.requested)
    } else if st.forced {
        format!("forced past the headroom's cap {cap}")
    } else {
        "pool.size + max_overflow".to_string()
    };
    let hold = if st.hold_ms > 0.0 {
        format!(", each held {}", crate::units::ms(st.hold_ms))
    } else {
        String::new()
    };
    format!(
        "{} ({size}), {} borrowers{hold}, acquire timeout {}, for {}",
        crate::units::count(st.max_connections, "connection"),
        st.borrowers,
        crate::units::ms(st.acquire_timeout_ms),
        crate::units::ms(st.duration_ms)
    )
}

/// A database summary's rate and times, as the reports' tables show them: success rate, avg,
/// p50, p95, p99, max, timeout-violation rate.
pub(crate) fn db_figure_cells(m: &crate::state::stats::Summary) -> [String; 7] {
    use crate::units::{opt_ms, opt_pct};
    [
        opt_pct(m.success_rate),
        opt_ms(m.avg_ms),
        opt_ms(m.p50_ms),
        opt_ms(m.p95_ms),
        opt_ms(m.p99_ms),
        opt_ms(m.max_ms),
        opt_pct(m.timeout_violation_rate),
    ]
}

/// What the pool measured, in words: `925 acquired, 7 timed out, 0 errors; waits p50 0.02 ms,
/// p95 0.07 ms, max 1.00 s; 8 connections opened`.
pub(crate) fn pool_figures(t: &PoolFigures) -> String {
    use crate::units::opt_ms;
    format!(
        "{} acquired, {} timed out, {} errors; waits p50 {}, p95 {}, max {}; {} opened",
        t.acquisitions,
        t.timeouts,
        t.errors_total(),
        opt_ms(t.wait_p50_ms),
        opt_ms(t.wait_p95_ms),
        opt_ms(t.wait_max_ms),
        crate::units::count(t.opened, "connection")
    )
}

/// Which track the startup part is from, in words.
pub(crate) fn startup_source(src: StartupSource) -> &'static str {
    match src {
        StartupSource::Log => "the service's startup log",
        StartupSource::Rehearsal => "connscope's rehearsal",
    }
}
