//! The machine-readable result, the same for a live `check` and for `report` of its recording.
//! Scripts rely on these keys; the README documents every one. Fields are only ever added.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::{DbSteps, Failure, HttpSteps, StartupSource};
use crate::state::State;
use crate::state::alerts::Alert;
use crate::state::diagnosis::{self, Finding};
use crate::state::startup::{RunSummary, Track};
use crate::state::stats::Summary;
use crate::state::verdict::{self, TargetCheck, Verdict};

#[derive(Debug, Serialize)]
pub struct Report {
    pub connscope: &'static str,
    pub verdict: Verdict,
    pub exit_code: i32,
    /// Why the verdict is not a pass, most severe first.
    pub reasons: Vec<String>,
    pub environment: String,
    pub cloud_sql: bool,
    pub target: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_s: f64,
    pub lab_scenario: Option<String>,
    pub database: Option<Database>,
    pub init: Option<Init>,
    pub capacity: Option<Capacity>,
    pub endpoints: Vec<Endpoint>,
    pub websockets: Vec<WebSocket>,
    pub startup: Option<Startup>,
    /// How much of the service's startup log was read, even when none of it was a phase.
    pub startup_log: Option<StartupLogRead>,
    pub alerts: Vec<Alert>,
    pub targets: Vec<TargetCheck>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Serialize)]
pub struct Attempt {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub total_ms: f64,
    pub steps_ms: DbSteps,
    pub error: Option<Failure>,
}

#[derive(Debug, Serialize)]
pub struct Database {
    pub target: Option<String>,
    pub timeout_ms: f64,
    /// The newest attempts (all of them for a `check`; a long recording keeps the last few hundred).
    pub attempts: Vec<Attempt>,
    pub summary: Summary,
    pub errors_by_class: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
pub struct Init {
    pub ok: bool,
    pub elapsed_ms: f64,
    pub timeout_ms: f64,
    pub steps_ms: DbSteps,
    pub warmup_ms: Option<f64>,
    pub server_version: Option<String>,
    pub server_max_connections: Option<u32>,
    pub error: Option<Failure>,
    pub timed_out: bool,
    /// For a timeout: did it fire close to the configured value (≥ 0.9 × timeout, ≤ timeout + 20 s)?
    pub near_configured_timeout: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct Capacity {
    pub requested: u32,
    pub attempted: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub capacity_errors: u32,
    pub errors_by_class: BTreeMap<String, u32>,
    pub server_max_connections: Option<u32>,
    pub server_connections_in_use: Option<u32>,
    pub cap: u32,
    pub capped: bool,
    pub forced: bool,
    pub hold_ms: f64,
    pub avg_connect_ms: Option<f64>,
    pub max_connect_ms: f64,
    pub elapsed_ms: Option<f64>,
    pub running: bool,
    pub aborted: bool,
    pub abort_reason: Option<String>,
    /// The server's headroom read before the test and the cap it set (why, what was left).
    pub headroom: Option<crate::event::Headroom>,
}

#[derive(Debug, Serialize)]
pub struct HttpCheck {
    pub path: String,
    pub requested_path: String,
    pub fell_back: bool,
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub status: Option<u16>,
    pub ok: bool,
    pub latency_ms: f64,
    pub steps_ms: HttpSteps,
    pub startup_failure: bool,
    pub body_excerpt: Option<String>,
    pub error: Option<Failure>,
}

#[derive(Debug, Serialize)]
pub struct PathSummary {
    pub path: String,
    pub failed: u32,
    pub of: u32,
    /// Failing in at least 2 of 3 tries.
    pub consistent_failure: bool,
}

#[derive(Debug, Serialize)]
pub struct Endpoint {
    pub name: String,
    pub url: String,
    pub checks: Vec<HttpCheck>,
    pub paths: Vec<PathSummary>,
}

#[derive(Debug, Serialize)]
pub struct WebSocket {
    pub url: String,
    pub ok: Option<bool>,
    pub connect_ms: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub error: Option<Failure>,
    pub checks: u64,
}

#[derive(Debug, Serialize)]
pub struct Phase {
    pub number: usize,
    pub name: String,
    pub budget_s: f64,
    pub duration_s: Option<f64>,
    pub verdict: &'static str,
    pub message: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Startup {
    pub source: StartupSource,
    /// What was read: a path, `stdin`, a command.
    pub log: Option<String>,
    pub phases: Vec<Phase>,
    pub total_s: Option<f64>,
    pub total_budget_s: f64,
    pub exit_code: Option<i32>,
    pub runs: u32,
    pub previous_runs: Vec<RunSummary>,
    pub skipped_lines: u64,
    pub lines: u64,
}

#[derive(Debug, Serialize)]
pub struct StartupLogRead {
    pub source: String,
    pub lines: u64,
    pub skipped: u64,
    pub ended: bool,
}

pub fn build(s: &State) -> Report {
    let j = verdict::judge(s);
    Report {
        connscope: env!("CARGO_PKG_VERSION"),
        verdict: j.verdict,
        exit_code: j.verdict.exit_code(),
        reasons: j.reasons,
        environment: s.cfg.environment.clone(),
        cloud_sql: s.cfg.cloud_sql,
        target: s.cfg.target.clone(),
        started_at: s.first_at,
        finished_at: s.last_at,
        duration_s: s.elapsed_s(),
        lab_scenario: s.lab.as_ref().map(|l| l.name.clone()),
        database: database(s),
        init: init(s),
        capacity: capacity(s),
        endpoints: endpoints(s),
        websockets: websockets(s),
        startup: startup(s),
        startup_log: startup_log(s),
        alerts: s.alerts.active.clone(),
        targets: verdict::targets(s),
        findings: diagnosis::diagnose(s),
    }
}

fn database(s: &State) -> Option<Database> {
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
                seq: a.seq,
                at: *at,
                ok: a.ok,
                total_ms: a.total_ms,
                steps_ms: a.steps_ms,
                error: a.error.clone(),
            })
            .collect(),
        summary: s.db.summary(),
        errors_by_class: s
            .db
            .classes
            .iter()
            .map(|(c, n)| (c.as_str().to_string(), *n))
            .collect(),
    })
}

fn init(s: &State) -> Option<Init> {
    let (_, r) = s.init.as_ref()?;
    let timed_out = r
        .error
        .as_ref()
        .is_some_and(|e| e.class == crate::event::ErrorClass::Timeout);
    Some(Init {
        ok: r.ok,
        elapsed_ms: r.elapsed_ms,
        timeout_ms: r.timeout_ms,
        steps_ms: r.steps_ms,
        warmup_ms: r.warmup_ms,
        server_version: r.server_version.clone(),
        server_max_connections: r.server_max_connections,
        error: r.error.clone(),
        timed_out,
        near_configured_timeout: timed_out
            .then(|| diagnosis::near_timeout(r.elapsed_ms / 1000.0, r.timeout_ms / 1000.0)),
    })
}

fn capacity(s: &State) -> Option<Capacity> {
    let r = s.capacity.last.as_ref()?;
    let st = &r.started;
    let fin = r.finished.as_ref().map(|(_, f)| f);
    Some(Capacity {
        requested: st.requested,
        attempted: r.attempted,
        succeeded: r.succeeded,
        failed: r.failed,
        capacity_errors: r.capacity_errors,
        errors_by_class: r
            .errors_by_class
            .iter()
            .map(|(c, n)| (c.as_str().to_string(), *n))
            .collect(),
        server_max_connections: st.server_max_connections,
        server_connections_in_use: st.server_connections_in_use,
        cap: st.cap,
        capped: st.capped,
        forced: st.forced,
        hold_ms: st.hold_ms,
        avg_connect_ms: r.avg_connect_ms(),
        max_connect_ms: r.connect_max_ms,
        elapsed_ms: fin.map(|f| f.elapsed_ms),
        running: r.running(),
        aborted: fin.is_some_and(|f| f.aborted),
        abort_reason: fin.and_then(|f| f.reason.clone()),
        headroom: st.headroom.clone(),
    })
}

fn endpoints(s: &State) -> Vec<Endpoint> {
    let tries = s.cfg.tries.max(1);
    s.endpoints
        .endpoints
        .iter()
        .map(|e| {
            let mut checks: Vec<HttpCheck> = e
                .paths
                .iter()
                .flat_map(|p| p.checks.iter())
                .map(|(at, c)| HttpCheck {
                    path: c.path.clone(),
                    requested_path: c.requested_path.clone(),
                    fell_back: c.fell_back,
                    attempt: c.attempt,
                    at: *at,
                    status: c.status,
                    ok: c.ok,
                    latency_ms: c.latency_ms,
                    steps_ms: c.steps_ms,
                    startup_failure: c.startup_failure,
                    body_excerpt: c.body_excerpt.clone(),
                    error: c.error.clone(),
                })
                .collect();
            checks.sort_by_key(|c| c.at);
            let paths = e
                .paths
                .iter()
                .filter_map(|p| {
                    let c = p.consistency(tries)?;
                    Some(PathSummary {
                        path: p.requested_path.clone(),
                        failed: c.failed,
                        of: c.of,
                        consistent_failure: c.consistent,
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
    })
}

fn startup(s: &State) -> Option<Startup> {
    let track: &Track = s.startup.primary()?;
    let run = track.current.as_ref()?;
    let verdicts = run.verdicts();
    Some(Startup {
        source: track.source,
        log: track.desc.clone(),
        phases: run
            .phases
            .iter()
            .zip(verdicts)
            .enumerate()
            .map(|(i, (p, v))| Phase {
                number: i + 1,
                name: p.name.clone(),
                budget_s: p.budget.as_secs_f64(),
                duration_s: p.duration_s(run.last_ts),
                verdict: v.as_str(),
                message: p.message.clone(),
            })
            .collect(),
        total_s: run.total_s(),
        total_budget_s: s.cfg.total_budget.as_secs_f64(),
        exit_code: run.exit.map(|(c, _)| c),
        runs: track.runs,
        previous_runs: track.previous.iter().cloned().collect(),
        skipped_lines: track.skipped,
        lines: track.lines,
    })
}
