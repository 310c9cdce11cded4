//! The pool probe judged: acquire timeouts and errors fail the verdict, waits over the
//! threshold warn — each said in one line with what lay beneath it — and a diagnosis rule
//! that ties the pool's waits to their raw cause (capacity, a restart, latency, contention).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Beneath, PoolRun};
use crate::event::ErrorClass;
use crate::state::State;
use crate::state::diagnosis::{Confidence, Finding};
use crate::state::verdict::Verdict;
use crate::units;

/// The default wait threshold: this fraction of the acquire timeout.
const WARN_FRACTION: f64 = 0.1;
/// Raw connects whose average is at least this fraction of the pool's p95 wait explain it:
/// each new connection of the pool costs about that long.
const LATENCY_SHARE: f64 = 0.25;

/// The newest pool run as judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolJudgement {
    /// When its newest evidence was seen.
    pub at: DateTime<Utc>,
    pub verdict: Verdict,
    /// `pool: 7 acquire timeouts (45 s) — beneath: too_many_connections (53300) ×12, before
    /// authentication`.
    pub line: String,
    /// Acquire waits (p95) above this warn.
    pub(crate) wait_warn_ms: f64,
    /// History: newer evidence (a lab scenario switch) contradicts it; not judged.
    pub past: bool,
    pub(crate) past_because: Option<String>,
    /// It could not run at all (no room, a connection sqlx cannot make): the line says why,
    /// and there are no figures to show.
    #[serde(skip)]
    pub(crate) ran: bool,
}

/// The configured threshold, or a tenth of the run's acquire timeout.
pub(crate) fn wait_warn_ms(s: &State, run: &PoolRun) -> f64 {
    s.cfg.pool_wait_warn.map_or_else(
        || run.started.acquire_timeout_ms * WARN_FRACTION,
        |d| d.as_secs_f64() * 1000.0,
    )
}

/// It could not run at all (no room, a connection sqlx cannot make): why.
fn could_not_run(run: &PoolRun) -> Option<&str> {
    let t = &run.totals;
    let measured = t.acquisitions + t.timeouts + t.errors_total() > 0;
    run.stopped_early()
        .filter(|_| !measured && !run.interrupted())
}

/// The figures' part of the line and its weight.
fn figures(run: &PoolRun, warn_ms: f64) -> (Verdict, String) {
    let t = &run.totals;
    let st = &run.started;
    let mut bad = Vec::new();
    if t.timeouts > 0 {
        bad.push(format!(
            "{} ({})",
            units::count(t.timeouts, "acquire timeout"),
            units::ms(st.acquire_timeout_ms)
        ));
    }
    if t.errors_total() > 0 {
        bad.push(format!(
            "{} ({})",
            units::count(t.errors_total(), "error"),
            crate::state::db::classes_text(&t.errors)
        ));
    }
    if !bad.is_empty() {
        return (Verdict::Fail, bad.join(", "));
    }
    let p95 = units::opt_ms(t.wait_p95_ms);
    // Now, not only what finished: borrowers stuck in acquire past the threshold.
    if run.running() && run.waiting > 0 && run.longest_wait_ms > warn_ms {
        return (
            Verdict::Warn,
            format!(
                "{} waiting for a connection, the longest {} (over {})",
                units::count(run.waiting, "borrower"),
                units::ms(run.longest_wait_ms),
                units::ms(warn_ms)
            ),
        );
    }
    match t.wait_p95_ms {
        Some(w) if w > warn_ms => (
            Verdict::Warn,
            format!(
                "acquire waits p95 {p95} (max {}) over {}",
                units::opt_ms(t.wait_max_ms),
                units::ms(warn_ms)
            ),
        ),
        _ => (
            Verdict::Pass,
            format!(
                "{}, waits p95 {p95}",
                units::count(t.acquisitions, "acquisition")
            ),
        ),
    }
}

/// The newest pool run, judged; `None` before the first.
pub(crate) fn judge(s: &State) -> Option<PoolJudgement> {
    let run = s.pool.last.as_ref()?;
    let warn = wait_warn_ms(s, run);
    let not_run = could_not_run(run);
    let (verdict, line) = match not_run {
        // Said, not a pass; nothing ran, so nothing lay beneath it.
        Some(why) => (Verdict::Warn, format!("pool: {why}")),
        None => {
            let (verdict, what) = figures(run, warn);
            let running = if run.running() { " (running)" } else { "" };
            let beneath = run.beneath.text();
            (
                verdict,
                format!("pool: {what}{running} — beneath: {beneath}"),
            )
        }
    };
    let past_because = run.superseded.as_ref().map(|(_, why)| why.clone());
    Some(PoolJudgement {
        at: run.until(),
        verdict,
        line,
        wait_warn_ms: warn,
        past: past_because.is_some(),
        past_because,
        ran: not_run.is_none(),
    })
}

/// What the pool's trouble comes from, judged from what lay beneath it: the server refusing,
/// then slow connects, then the raw attempts' own failures, then nothing to tell by, and last
/// a pool too small for its load.
fn cause(run: &PoolRun) -> (String, Confidence) {
    let b = &run.beneath;
    let p95 = run.totals.wait_p95_ms.unwrap_or(0.0);
    server_refuses(b)
        .or_else(|| latency(b, p95))
        .unwrap_or_else(|| raw_or_contention(run))
}

/// New connections refused for capacity or a restart, retried by sqlx until the timeout.
fn server_refuses(b: &Beneath) -> Option<(String, Confidence)> {
    if let Some(c) = b.classes.get(&ErrorClass::TooManyConnections) {
        let when = c.when.unwrap_or("before authentication");
        return Some((
            format!(
                "The pool's waits are the database's capacity: new connections are refused with 53300 \
                 ({when}), and sqlx retries them quietly until the acquire timeout"
            ),
            Confidence::High,
        ));
    }
    if b.has(ErrorClass::StartingUp) || b.has(ErrorClass::ShuttingDown) {
        return Some((
            "The pool's waits are a database restart: new connections get 57P03 (starting up or shutting \
             down), and sqlx retries them quietly until the acquire timeout"
                .into(),
            Confidence::High,
        ));
    }
    None
}

/// Raw connects that time out, or succeed but take a good share of the pool's p95 wait.
fn latency(b: &Beneath, p95: f64) -> Option<(String, Confidence)> {
    let slow = b.ok_avg_ms.is_some_and(|avg| avg >= p95 * LATENCY_SHARE);
    if !(b.has(ErrorClass::Timeout) || (b.classes.is_empty() && slow && b.ok > 0)) {
        return None;
    }
    let raw = match b.ok_avg_ms {
        Some(avg) => format!(
            "each new connection takes {} on the raw path",
            units::ms(avg)
        ),
        None => format!("raw connects time out ({})", b.text()),
    };
    Some((
        format!(
            "The pool's waits are connection latency: {raw} (connector or server slow to accept), \
             and borrowers wait for the pool's new connections as long"
        ),
        if b.ok >= 2 || b.has(ErrorClass::Timeout) {
            Confidence::High
        } else {
            Confidence::Medium
        },
    ))
}

fn raw_or_contention(run: &PoolRun) -> (String, Confidence) {
    let b = &run.beneath;
    let st = &run.started;
    if !b.classes.is_empty() {
        return (
            format!(
                "Beneath the pool's trouble the raw attempts fail too: {}",
                b.text()
            ),
            Confidence::Medium,
        );
    }
    if b.attempts == 0 {
        return (
            "No database attempts ran during the pool run to tell what lies beneath its waits"
                .into(),
            Confidence::Low,
        );
    }
    (
        format!(
            "The pool is too small for its load: raw connects are quick ({}), yet borrowers waited for a \
             connection another was using ({} borrowers, {} connections, each held {} plus SELECT 1)",
            units::opt_ms(b.ok_avg_ms),
            st.borrowers,
            st.max_connections,
            units::ms(st.hold_ms)
        ),
        Confidence::Medium,
    )
}

/// The diagnosis rule `pool_beneath`: only for a run with timeouts, errors or waits over the
/// threshold; in the past tense once superseded.
pub(crate) fn finding(s: &State) -> Option<Finding> {
    let run = s.pool.last.as_ref()?;
    let j = judge(s)?;
    if j.verdict == Verdict::Pass {
        return None;
    }
    if run.started.max_connections == 0 {
        return None;
    }
    let (cause, confidence) = cause(run);
    let st = &run.started;
    let evidence = vec![
        j.line.clone(),
        format!(
            "the pool: {} connections, {} borrowers, acquire timeout {}",
            st.max_connections,
            st.borrowers,
            units::ms(st.acquire_timeout_ms)
        ),
    ];
    let f = match &run.superseded {
        None => Finding::present("pool_beneath", cause, confidence),
        Some((_, why)) => Finding::present(
            "pool_beneath",
            format!(
                "A pool run at {} UTC: {cause} — before {why}",
                units::clock(run.started_at)
            ),
            confidence,
        )
        .past(),
    };
    Some(
        f.evidence(evidence)
            .during(Some(run.started_at), Some(run.until())),
    )
}
