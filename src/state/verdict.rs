//! The overall verdict a script acts on (exit 0 / 1 / 2) and its reasons, most severe first.
//! Each rule reads the state and the parts of the judgement already made; see README "How
//! connscope judges" for the rules in one place.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::State;
use super::alerts::AlertLevel;
use super::endpoints::{Health, health};
use super::judge::{Judgement, PathJudgement, capacity_contradicted};
use super::startup::{PhaseVerdict, StartupView, Track};
use crate::event::StartupSource;
use crate::units::{self, duration as fmt_d};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn exit_code(self) -> crate::exit::ExitCode {
        use crate::exit::ExitCode;
        match self {
            Verdict::Pass => ExitCode::Pass,
            Verdict::Warn => ExitCode::Warn,
            Verdict::Fail => ExitCode::Fail,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// Reasons by weight, in the order they were found.
#[derive(Default)]
struct Reasons {
    fail: Vec<String>,
    warn: Vec<String>,
}

impl Reasons {
    fn add(&mut self, weight: Verdict, text: String) {
        match weight {
            Verdict::Fail => self.fail.push(text),
            Verdict::Warn => self.warn.push(text),
            Verdict::Pass => {}
        }
    }
}

/// The verdict and its reasons (failures first, then warnings), and how many of them are
/// failures.
pub(super) fn reasons(s: &State, j: &Judgement) -> (Verdict, Vec<String>, usize) {
    let mut r = Reasons::default();
    if let Some(o) = s.db.current_outage() {
        // Down at once, whatever the windowed rates say.
        r.add(
            Verdict::Fail,
            format!(
                "database down since {} UTC: {} in a row failed ({})",
                units::clock(o.from),
                units::count(o.failed, "attempt"),
                o.classes_text()
            ),
        );
    }
    for a in &j.alerts {
        let weight = if a.level == AlertLevel::Critical {
            Verdict::Fail
        } else {
            Verdict::Warn
        };
        r.add(weight, format!("{} alert: {}", a.level.as_str(), a.message));
    }
    init(s, &mut r);
    capacity(s, &mut r);
    pool(j, &mut r);
    endpoints(s, j, &mut r);
    websockets(s, &mut r);
    for track in [&s.startup.log, &s.startup.rehearsal] {
        startup(track, j.at, s, &mut r);
    }
    evidence(s, j, &mut r);
    for t in j.targets.iter().filter(|t| t.met == Some(false) && !t.told) {
        r.add(
            Verdict::Warn,
            format!(
                "target missed: {} — actual {}",
                t.target,
                t.actual.as_deref().unwrap_or("—")
            ),
        );
    }
    let verdict = if !r.fail.is_empty() {
        Verdict::Fail
    } else if !r.warn.is_empty() {
        Verdict::Warn
    } else {
        Verdict::Pass
    };
    let failing = r.fail.len();
    r.fail.extend(r.warn);
    (verdict, r.fail, failing)
}

/// A failed initialization, until the database answers again after it.
fn init(s: &State, r: &mut Reasons) {
    let Some((at, res)) = &s.init else { return };
    let Some(e) = &res.error else { return };
    if s.db.last_ok_at.is_some_and(|ok| ok > *at) {
        return;
    }
    r.add(
        Verdict::Fail,
        format!("initialization failed: {} — {}", e.class, e.message),
    );
}

/// A finished capacity test in which not one connection got through measured no capacity at
/// all: the database was unreachable (or full) for every one of them — until newer evidence
/// says otherwise. Cancelled tests are not judged (the evidence rule tells about them).
fn capacity(s: &State, r: &mut Reasons) {
    let Some(run) = &s.capacity.last else { return };
    if run.finished.is_none() || run.attempted == 0 || run.succeeded > 0 || run.cancelled() {
        return;
    }
    if capacity_contradicted(s, run).is_some() {
        return;
    }
    let classes: Vec<String> = run
        .errors_by_class
        .iter()
        .map(|(class, n)| format!("{n} {class}"))
        .collect();
    r.add(
        Verdict::Fail,
        format!(
            "capacity test: none of {} connections succeeded ({})",
            run.attempted,
            classes.join(", ")
        ),
    );
}

/// The pool probe's own line (timeouts and errors fail, waits over the threshold warn),
/// unless newer evidence made it history.
fn pool(j: &Judgement, r: &mut Reasons) {
    if let Some(p) = j.pool.as_ref().filter(|p| !p.past) {
        r.add(p.verdict, p.line.clone());
    }
}

fn endpoints(s: &State, j: &Judgement, r: &mut Reasons) {
    for p in &j.endpoints {
        if let Some((weight, text)) = path_reason(s, p, j.at) {
            r.add(weight, text);
        }
    }
}

fn path_reason(
    s: &State,
    p: &PathJudgement,
    at: Option<DateTime<Utc>>,
) -> Option<(Verdict, String)> {
    let health = p.health?;
    let who = format!("{} {}", p.endpoint, p.path);
    if health == Health::Starting {
        return Some(starting(s, p, at, &who));
    }
    let c = p.consistency?;
    if c.failed == 0 {
        return None;
    }
    let what = last_answer(s, p);
    let tries = units::count(c.of, "try");
    Some(if c.intermittent {
        (
            Verdict::Warn,
            format!(
                "{who}: {what} ({} of {tries} failed, intermittent)",
                c.failed
            ),
        )
    } else if c.of >= 2 {
        (
            Verdict::Fail,
            format!("{who}: {what} ({} of {tries} failed, consistent)", c.failed),
        )
    } else {
        (Verdict::Fail, format!("{who}: {what}"))
    })
}

/// "Starting" is no failure while it lasts no longer than a whole startup may.
fn starting(
    s: &State,
    p: &PathJudgement,
    at: Option<DateTime<Utc>>,
    who: &str,
) -> (Verdict, String) {
    let phase = p
        .phase
        .as_deref()
        .map(|ph| format!(" ({ph})"))
        .unwrap_or_default();
    let for_s = match (p.starting_since, at) {
        (Some(a), Some(b)) => units::secs_between(a, b).max(0.0),
        _ => 0.0,
    };
    let budget = s.cfg.total_budget;
    if for_s > budget.as_secs_f64() {
        (
            Verdict::Fail,
            format!(
                "{who}: still starting{phase} after {}, longer than a whole startup may take ({})",
                units::span(for_s),
                fmt_d(budget)
            ),
        )
    } else {
        (
            Verdict::Warn,
            format!("{who}: starting{phase}, not serving yet"),
        )
    }
}

/// `HTTP 503 (startup failure)`, `refused`: the newest failed answer in a few words.
fn last_answer(s: &State, p: &PathJudgement) -> String {
    let check = s
        .endpoints
        .endpoints
        .iter()
        .find(|e| e.name == p.endpoint)
        .and_then(|e| e.paths.iter().find(|x| x.requested_path == p.path))
        .and_then(|x| {
            x.checks
                .iter()
                .rev()
                .find(|(_, c)| health(c).health.is_failure())
        })
        .map(|(_, c)| c);
    let Some(c) = check else {
        return "failed".into();
    };
    match (c.status, &c.error, health(c).health) {
        (Some(st), _, h @ (Health::StartupFailure | Health::Unhealthy)) => {
            format!("HTTP {st} ({})", h.as_str())
        }
        // A redirect says where it points (the probe's words).
        (Some(st), Some(e), _) if (300..400).contains(&st) => e.message.clone(),
        (Some(st), _, _) => format!("HTTP {st}"),
        (None, Some(e), _) => e.class.to_string(),
        (None, None, _) => "failed".into(),
    }
}

fn websockets(s: &State, r: &mut Reasons) {
    for w in &s.endpoints.websockets {
        if let Some((_, c)) = &w.last
            && !c.ok
        {
            let why = c
                .error
                .as_ref()
                .map(|e| e.class.to_string())
                .unwrap_or_else(|| "failed".into());
            r.add(Verdict::Fail, format!("websocket {}: {why}", w.url));
        }
    }
}

fn startup(track: &Track, at: Option<DateTime<Utc>>, s: &State, r: &mut Reasons) {
    let Some(v) = track.view(at, s.cfg.total_budget) else {
        return;
    };
    let src = match track.source {
        StartupSource::Log => "startup",
        StartupSource::Rehearsal => "rehearsal",
    };
    for p in &v.phases {
        if let Some((weight, text)) = phase_reason(src, p) {
            r.add(weight, text);
        }
    }
    if let Some(code) = v.exit_code.filter(|c| *c != 0) {
        r.add(
            Verdict::Fail,
            format!("{src}: service exited with code {code}"),
        );
    }
    if let Some(text) = restart_loop(src, &v) {
        r.add(Verdict::Fail, text);
    }
    if let Some(text) = stalled_between_phases(src, &v) {
        r.add(Verdict::Fail, text);
    }
    if let Some(ahead) = track.ahead_s {
        r.add(
            Verdict::Warn,
            format!("{src}: {}", super::startup::ahead_text(ahead)),
        );
    }
}

/// No phase running, none failed, not complete, and the whole sequence far past its budget:
/// the service stopped between two phases without saying so.
fn stalled_between_phases(src: &str, v: &StartupView) -> Option<String> {
    let busy = v
        .phases
        .iter()
        .any(|p| matches!(p.verdict, PhaseVerdict::Running | PhaseVerdict::OverBudget));
    if v.complete || v.failed || v.exit_code.is_some() || busy {
        return None;
    }
    let total = v.total_s?;
    let budget = std::time::Duration::try_from_secs_f64(v.total_budget_s).ok()?;
    let limit = budget + super::startup::stall_grace(budget);
    (total > limit.as_secs_f64()).then(|| {
        format!(
            "{src}: stalled — no phase has run for a while, {} since the first began, far past the whole startup budget ({})",
            units::elapsed(total),
            fmt_d(budget)
        )
    })
}

fn phase_reason(src: &str, p: &super::startup::PhaseView) -> Option<(Verdict, String)> {
    let d = p
        .duration_s
        .map(|d| format!(" after {}", units::elapsed(d)))
        .unwrap_or_default();
    let budget = units::secs_exact(p.budget_s);
    let label = format!("{src} phase {} {}", p.number, p.name);
    match p.verdict {
        PhaseVerdict::Failed => Some((
            Verdict::Fail,
            format!("{label} failed{d} (budget {budget})"),
        )),
        PhaseVerdict::Stalled => Some((
            Verdict::Fail,
            format!(
                "{label} stalled: still running{d}, far past its budget ({budget}) with no end in the log"
            ),
        )),
        PhaseVerdict::OverBudget => Some((
            Verdict::Warn,
            format!("{label} over budget{d} (budget {budget})"),
        )),
        _ => None,
    }
}

/// A restart loop fails the verdict while the newest run has not completed every phase, even
/// while it is still going: it has not shown that it can start.
fn restart_loop(src: &str, v: &StartupView) -> Option<String> {
    let l = v.restart_loop.as_ref().filter(|l| l.active)?;
    if v.failed {
        // The newest run's own failure is already a reason; say it is not the first.
        return Some(format!(
            "{src}: restart loop — {} before run #{} failed too",
            units::count(l.failed_runs.len() as u64, "failed run"),
            v.run
        ));
    }
    let codes: Vec<String> = l.exit_codes.iter().map(|c| c.to_string()).collect();
    let exits = if codes.is_empty() {
        String::new()
    } else {
        format!(", exit {}", codes.join(", "))
    };
    Some(format!(
        "{src}: restart loop — {}{exits}; run #{} has not completed every phase yet",
        units::count(l.failed_runs.len() as u64, "failed run"),
        v.run
    ))
}

/// No evidence, no pass: every selected probe, nothing measured at all, an interrupted run.
fn evidence(s: &State, j: &Judgement, r: &mut Reasons) {
    for e in &j.evidence {
        if let (Some(weight), Some(text)) = (e.weight(), e.reason()) {
            r.add(weight, text);
        }
    }
    if !measured(s) {
        r.add(
            Verdict::Warn,
            "nothing was measured: no probe produced a result".into(),
        );
    }
    if j.interrupted {
        let missing: Vec<&str> = j
            .evidence
            .iter()
            .filter(|e| e.weight().is_some())
            .map(|e| e.probe.as_str())
            .collect();
        let which = if missing.is_empty() {
            String::new()
        } else {
            format!(" (no result from {})", missing.join(", "))
        };
        r.add(
            Verdict::Warn,
            format!("interrupted: the run was stopped by a signal before it finished{which}"),
        );
    }
    if let Some(text) = stale(s, j.at) {
        r.add(Verdict::Warn, text);
    }
}

/// Any result of any probe.
pub(super) fn measured(s: &State) -> bool {
    s.db.series.count() > 0
        || s.init.is_some()
        || s.capacity.last.is_some()
        || s.pool.last.is_some()
        || s.endpoints
            .endpoints
            .iter()
            .any(|e| e.paths.iter().any(|p| p.last.is_some()))
        || s.endpoints.websockets.iter().any(|w| w.last.is_some())
        || s.startup.log.runs > 0
        || s.startup.rehearsal.runs > 0
}

/// Database evidence that has stopped coming: the newest attempt is older than any pause
/// the probe takes (its timeout twice, plus a minute for back-off).
fn stale(s: &State, at: Option<DateTime<Utc>>) -> Option<String> {
    let (last, _) = s.db.attempts.last()?;
    let at = at?;
    let age = units::secs_between(*last, at);
    let limit = s.cfg.connection_timeout.as_secs_f64() * 2.0 + 60.0;
    (age > limit).then(|| {
        format!(
            "db: no attempt for {} (the newest at {} UTC): what is shown is stale",
            units::span(age),
            units::clock(*last)
        )
    })
}
