//! Per-target tables: database attempts, initialization, endpoints, WebSockets, the startup
//! phases against their budgets, and the capacity test.

use std::fmt::Write;

use super::{cell, code};
use crate::event::Failure;
use crate::report::model::{
    Capacity, Database, Endpoint, Init, PathSummary, Pool, Report, Startup, WebSocket,
    db_figure_cells, pool_shape, startup_source,
};
use crate::state::endpoints::Health;
use crate::state::judge::DbStatus;
use crate::state::startup::PhaseVerdict;
use crate::units::{self, NONE, opt_ms, opt_pct, secs, secs_exact};

/// More rows than this and the attempts table stops being read; the summary covers them all.
const ATTEMPT_ROWS: usize = 30;

fn failure(f: &Failure) -> String {
    cell(&f.to_string())
}

pub(super) fn database(o: &mut String, r: &Report, d: &Database) {
    let target = d.target.as_deref().map(code).unwrap_or_default();
    let _ = writeln!(o, "## Database connection attempts\n");
    let _ = writeln!(
        o,
        "{target} — connection timeout {}\n",
        secs_exact(d.timeout_ms / 1000.0)
    );
    status(o, d);
    let m = &d.judged.total;
    let _ = writeln!(
        o,
        "| Attempts | Succeeded | Success rate | Avg | p50 | p95 | p99 | Max | Timeout violations |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let _ = writeln!(
        o,
        "| {} | {} | {} |\n",
        m.attempts,
        m.successes,
        db_figure_cells(m).join(" | ")
    );
    let st = r.review.step_averages;
    if st.tcp.is_some() {
        let _ = writeln!(
            o,
            "Successful attempts on average: DNS {}, TCP {}, TLS + startup + auth {}, first query {}.\n",
            opt_ms(st.dns),
            opt_ms(st.tcp),
            opt_ms(st.handshake),
            opt_ms(st.query)
        );
    }
    error_classes(o, r, d);
    attempts(o, d);
}

/// Down or up at the end, the outages that ended, and "now" beside the totals below.
fn status(o: &mut String, d: &Database) {
    let j = &d.judged;
    if j.status == DbStatus::Down {
        let since = units::since_clause(j.since);
        let _ = writeln!(
            o,
            "❌ **Down** at the end{since}: {} in a row failed.\n",
            units::count(j.failed_in_a_row, "attempt")
        );
    }
    for out in &d.outages {
        let back = out.recovered_at.map_or_else(|| NONE.into(), units::clock);
        let _ = writeln!(
            o,
            "- Was down {}–{} UTC: {} failed ({}); answering again from {back} UTC.",
            units::clock(out.from),
            units::clock(out.to),
            units::count(out.failed, "attempt"),
            cell(&out.classes_text())
        );
    }
    if !d.outages.is_empty() {
        o.push('\n');
    }
    let n = &j.now;
    if n.attempts < j.total.attempts {
        let _ = writeln!(
            o,
            "Now (the last {}, without ended outages): {} of {} succeeded ({}). Totals over the whole run:\n",
            units::count(j.window, "attempt"),
            n.successes,
            n.attempts,
            opt_pct(n.success_rate)
        );
    }
}

fn error_classes(o: &mut String, r: &Report, d: &Database) {
    if d.errors_by_class.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "| Error class | Count | Newest example |\n|---|---:|---|"
    );
    for (class, n) in &d.errors_by_class {
        let example = r
            .review
            .examples
            .get(class)
            .map(failure)
            .unwrap_or_default();
        let _ = writeln!(o, "| {} | {n} | {example} |", cell(class));
    }
    o.push('\n');
}

fn attempts(o: &mut String, d: &Database) {
    if d.attempts.is_empty() {
        return;
    }
    let shown = d.attempts.len().min(ATTEMPT_ROWS);
    if shown < d.attempts.len() {
        let _ = writeln!(
            o,
            "The newest {shown} of {} attempts kept (the summary above covers all {}):\n",
            d.attempts.len(),
            d.judged.total.attempts
        );
    }
    let _ = writeln!(
        o,
        "| # | UTC | Result | DNS | TCP | Handshake | Query | Total | Error |\n|---:|---|---|---:|---:|---:|---:|---:|---|"
    );
    for row in &d.attempts[d.attempts.len() - shown..] {
        let a = &row.attempt;
        let st = &a.steps_ms;
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            a.seq,
            row.at.format("%H:%M:%S%.3f"),
            if a.ok { "✅ ok" } else { "❌ failed" },
            opt_ms(st.dns),
            opt_ms(st.tcp),
            opt_ms(st.handshake),
            opt_ms(st.query),
            opt_ms(Some(a.total_ms)),
            a.error.as_ref().map(failure).unwrap_or_default()
        );
    }
    o.push('\n');
}

pub(super) fn init(o: &mut String, judged: &Init) {
    let i = &judged.result;
    let _ = writeln!(o, "## Database initialization\n");
    let limit = secs_exact(i.timeout_ms / 1000.0);
    match &i.error {
        None => {
            let v = i
                .server_version
                .as_deref()
                .map(|v| format!(", server {}", cell(v)))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "✅ ok — connected and warmed up in {} (limit {limit}){v}.\n",
                opt_ms(Some(i.elapsed_ms))
            );
        }
        Some(f) => {
            let near = match judged.near_configured_timeout {
                Some(true) => " The timeout fired at the configured value.",
                Some(false) => {
                    " The timeout fired FAR from the configured value — check the timeout settings."
                }
                None => "",
            };
            let _ = writeln!(
                o,
                "❌ failed after {} (limit {limit}) — {}.{near}\n",
                opt_ms(Some(i.elapsed_ms)),
                failure(f)
            );
        }
    }
}

pub(super) fn endpoints(o: &mut String, eps: &[Endpoint]) {
    if eps.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Health endpoints\n");
    let _ = writeln!(
        o,
        "| Endpoint | Path | Status | Latency | Failed tries | Consistency | Detail |\n|---|---|---|---:|---:|---|---|"
    );
    for e in eps {
        if e.checks.is_empty() {
            let _ = writeln!(
                o,
                "| {} | — | not checked | — | — | — | {} |",
                cell(&e.name),
                code(&e.url)
            );
        }
        for p in &e.paths {
            endpoint_path(o, e, p);
        }
    }
    o.push('\n');
}

fn endpoint_path(o: &mut String, e: &Endpoint, p: &PathSummary) {
    let Some(judged) = e.newest_check(&p.path) else {
        return;
    };
    let last = &judged.check;
    let status = match (last.status, last.ok) {
        (Some(s), true) => format!("✅ {s}"),
        (Some(s), false) => format!("❌ {s}"),
        (None, _) => "❌ no answer".into(),
    };
    let c = &p.consistency;
    let consistency = if c.consistent {
        "consistent failure"
    } else if c.intermittent {
        "intermittent"
    } else if c.failed > 0 {
        "failing"
    } else if judged.health == Health::Starting {
        "starting"
    } else {
        "healthy"
    };
    let mut detail = Vec::new();
    if last.fell_back {
        detail.push(format!("answered by {}", last.path));
    }
    match (judged.health, &judged.phase) {
        (Health::Ok | Health::Failing, _) => {}
        (Health::Starting, Some(ph)) => detail.push(format!("starting ({ph})")),
        (h, _) => detail.push(h.as_str().into()),
    }
    if let (None, Some(f)) = (last.status, &last.error) {
        detail.push(failure(f));
    } else if let Some(b) = last.body_excerpt.as_deref().filter(|_| !last.ok) {
        detail.push(format!("body: {}", excerpt(b)));
    }
    let _ = writeln!(
        o,
        "| {} | {} | {status} | {} | {} of {} | {consistency} | {} |",
        cell(&e.name),
        code(&p.path),
        opt_ms(Some(last.latency_ms)),
        c.failed,
        c.of,
        cell(&detail.join("; "))
    );
}

/// A body excerpt short enough for a table cell.
fn excerpt(body: &str) -> String {
    const MAX: usize = 120;
    match body.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &body[..i]),
        None => body.to_string(),
    }
}

pub(super) fn websockets(o: &mut String, wss: &[WebSocket]) {
    if wss.is_empty() {
        return;
    }
    let _ = writeln!(o, "## WebSockets\n");
    let _ = writeln!(
        o,
        "| URL | Result | Handshake | Round trip | Checks | Error |\n|---|---|---:|---:|---:|---|"
    );
    for w in wss {
        let result = match w.ok {
            Some(true) => "✅ ok",
            Some(false) => "❌ failed",
            None => "➖ not checked",
        };
        let _ = writeln!(
            o,
            "| {} | {result} | {} | {} | {} | {} |",
            code(&w.url),
            opt_ms(w.connect_ms),
            opt_ms(w.rtt_ms),
            w.checks,
            w.error.as_ref().map(failure).unwrap_or_default()
        );
    }
    o.push('\n');
}

fn phase_mark(verdict: PhaseVerdict) -> &'static str {
    match verdict {
        PhaseVerdict::Pass => "✅ pass",
        PhaseVerdict::OverBudget => "⚠️ over budget",
        PhaseVerdict::Failed => "❌ failed",
        PhaseVerdict::Stalled => "❌ stalled",
        PhaseVerdict::Running => "⏳ running",
        PhaseVerdict::Skipped => "➖ skipped",
        PhaseVerdict::NotReached => "➖ not reached",
    }
}

pub(super) fn startup(o: &mut String, st: &Startup) {
    let _ = writeln!(o, "## Startup sequence\n");
    let src = startup_source(st.source);
    let log = st
        .log
        .as_deref()
        .map(|l| format!(" ({})", code(l)))
        .unwrap_or_default();
    let _ = writeln!(o, "From {src}{log}.\n");
    let _ = writeln!(
        o,
        "| Phase | Budget | Duration | Verdict | Message |\n|---|---:|---:|---|---|"
    );
    for p in &st.phases {
        let d = p.duration_s.map_or("—".into(), |d| format!("{d:.1} s"));
        let _ = writeln!(
            o,
            "| {} {} | {} | {d} | {} | {} |",
            p.number,
            cell(&p.name),
            secs_exact(p.budget_s),
            phase_mark(p.verdict),
            p.message.as_deref().map(cell).unwrap_or_default()
        );
    }
    let total = st.total_s.map_or("—".into(), |t| format!("{t:.1} s"));
    let exit = st
        .exit_code
        .map_or("still running (no exit seen)".into(), |c| {
            format!("exit code {c}")
        });
    let restarts = st.runs.saturating_sub(1);
    let _ = writeln!(
        o,
        "\nWhole sequence {total} of the {} budget; {exit}; {} ({}).\n",
        secs_exact(st.total_budget_s),
        units::count(st.runs, "run"),
        units::count(restarts, "restart")
    );
    restart_loop(o, st);
    previous_runs(o, st);
}

fn restart_loop(o: &mut String, st: &Startup) {
    let Some(l) = &st.restart_loop else { return };
    let failed = units::count(l.failed_runs.len() as u64, "failed run");
    let last = l.last_failure_at.map_or_else(|| NONE.into(), units::clock);
    if l.active {
        let _ = writeln!(
            o,
            "❌ **Restart loop**: {failed} (the newest ended {last} UTC) and run #{} has not completed every phase.\n",
            st.run
        );
    } else {
        let _ = writeln!(
            o,
            "The service was in a restart loop ({failed}, the last ending {last} UTC); run #{} then completed every phase.\n",
            st.run
        );
    }
}

fn previous_runs(o: &mut String, st: &Startup) {
    if st.previous_runs.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "| Earlier run | Started (UTC) | Failed phase | Failed after | Total | Exit code |\n|---:|---|---|---:|---:|---:|"
    );
    for r in &st.previous_runs {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} |",
            r.number,
            r.started_at.map_or_else(|| NONE.into(), units::clock),
            r.failed_phase.as_deref().map_or("—".into(), cell),
            r.failed_after_s.map_or_else(|| NONE.into(), secs),
            r.total_s.map_or_else(|| NONE.into(), secs),
            r.exit_code.map_or("—".into(), |c| c.to_string())
        );
    }
    o.push('\n');
}

pub(super) fn capacity(o: &mut String, c: &Capacity) {
    let _ = writeln!(o, "## Capacity test\n");
    let st = &c.started;
    let cap = if st.capped {
        format!("capped from {} to the safety cap {}", st.requested, st.cap)
    } else if st.forced {
        format!("forced past the safety cap {}", st.cap)
    } else {
        format!("within the safety cap {}", st.cap)
    };
    if let Some(why) = &c.past_because {
        let _ = writeln!(
            o,
            "History: this test ({} UTC) no longer speaks for now — {}.\n",
            units::clock(c.at),
            cell(why)
        );
    }
    let state = if c.running {
        "still running at the end"
    } else if c.aborted {
        "stopped early"
    } else {
        "finished"
    };
    let _ = writeln!(
        o,
        "{} of {} connections attempted, each to be held {:.1} s, {cap}; {state}.\n",
        c.attempted,
        st.planned,
        st.hold_ms / 1000.0
    );
    let unknown = |v: Option<u32>| v.map_or("unknown".into(), |v| v.to_string());
    let _ = writeln!(
        o,
        "| Attempted | Succeeded | Failed | Capacity errors | Avg connect | Max connect | Server max_connections | In use before |\n|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
        c.attempted,
        c.succeeded,
        c.failed,
        c.capacity_errors,
        opt_ms(c.avg_connect_ms),
        opt_ms(Some(c.max_connect_ms)),
        unknown(st.server_max_connections),
        unknown(st.server_connections_in_use)
    );
    if !c.errors_by_class.is_empty() {
        let classes: Vec<String> = c
            .errors_by_class
            .iter()
            .map(|(k, n)| format!("{} ×{n}", cell(k)))
            .collect();
        let _ = writeln!(o, "Errors: {}.\n", classes.join(", "));
    }
    if let Some(r) = &c.abort_reason {
        let _ = writeln!(o, "Stopped early: {}.\n", cell(r));
    }
}

pub(super) fn pool(o: &mut String, p: &Pool) {
    let _ = writeln!(o, "## Application pool (sqlx)\n");
    if let Some(why) = &p.judged.past_because {
        let _ = writeln!(
            o,
            "History: this run ({} UTC) no longer speaks for now — {}.\n",
            units::clock(p.judged.at),
            cell(why)
        );
    }
    let _ = writeln!(o, "{}.\n", cell(&pool_shape(&p.started)));
    let t = &p.totals;
    let _ = writeln!(
        o,
        "| Acquired | Timed out | Errors | Wait p50 | Wait p95 | Wait max | Opened |\n|---:|---:|---:|---:|---:|---:|---:|"
    );
    let _ = writeln!(
        o,
        "| {} | {} | {} | {} | {} | {} | {} |\n",
        t.acquisitions,
        t.timeouts,
        t.errors_total(),
        opt_ms(t.wait_p50_ms),
        opt_ms(t.wait_p95_ms),
        opt_ms(t.wait_max_ms),
        t.opened
    );
    let _ = writeln!(o, "{}\n", cell(&p.judged.line));
    if let Some(r) = &p.abort_reason {
        let _ = writeln!(o, "Stopped early: {}.\n", cell(r));
    }
}
