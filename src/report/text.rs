//! The plain-text result of `check`: what a person reads in a terminal or a CI log. Rendered
//! from the same `Report` as the JSON, so the two can never disagree.

use std::fmt::Write;

use super::model::{
    Attempt, Capacity, Check, Database, Endpoint, Init, Pool, Report, Startup, WebSocket,
    startup_source,
};
use crate::state::endpoints::Health;
use crate::state::judge::DbStatus;
use crate::units::{self, opt_ms, opt_pct, secs_exact};

pub(crate) fn render(r: &Report) -> String {
    let mut o = String::new();
    let cloud = if r.cloud_sql { " (Cloud SQL)" } else { "" };
    let _ = writeln!(
        o,
        "connscope — {}{cloud}{}",
        r.environment,
        r.target
            .as_deref()
            .map(|t| format!(" — {t}"))
            .unwrap_or_default()
    );
    if let Some(l) = &r.lab_scenario {
        let _ = writeln!(o, "lab scenario: {l}");
    }
    measured(&mut o, r);
    for v in &r.vantages {
        vantage(&mut o, v);
    }
    judgement(&mut o, r);
    o
}

/// A remote vantage point (`--agent`): its link, then what it measured.
fn vantage(o: &mut String, v: &super::model::VantageReport) {
    let l = &v.link;
    let w = v.link_words();
    let link = match &w.since {
        None => w.state.to_string(),
        Some(since) => format!(
            "{} {since} — as measured then, not now",
            w.state.to_uppercase()
        ),
    };
    let why = l
        .message
        .as_deref()
        .map(|m| format!(" ({m})"))
        .unwrap_or_default();
    let _ = writeln!(o, "\n=== Vantage {} — {} — {link}{why}", l.name, l.url);
    if let Some(r) = &v.report {
        let _ = writeln!(o, "verdict there: {}", r.verdict.as_str().to_uppercase());
        measured(o, r);
    }
}

/// What one vantage measured, section by section.
fn measured(o: &mut String, r: &Report) {
    if let Some(d) = &r.database {
        database(o, d);
    }
    if let Some(i) = &r.init {
        init(o, i);
    }
    if let Some(c) = &r.capacity {
        capacity(o, c);
    }
    if let Some(p) = &r.pool {
        pool(o, p);
    }
    endpoints(o, &r.endpoints, &r.websockets);
    if let Some(s) = &r.startup {
        let format = r.startup_log.as_ref().and_then(|l| l.format.as_deref());
        startup(o, s, format);
    } else if let Some(l) = &r.startup_log {
        let _ = writeln!(
            o,
            "\nStartup log ({}): {} lines read, {} matched nothing and were skipped",
            l.source, l.lines, l.skipped
        );
    }
}

fn database(o: &mut String, d: &Database) {
    let _ = writeln!(
        o,
        "\nDatabase connection attempts (timeout {})",
        secs_exact(d.timeout_ms / 1000.0)
    );
    let _ = writeln!(
        o,
        "  {:>4}  {:<4}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  error",
        "#", "", "dns", "tcp", "handshake", "query", "total"
    );
    for a in &d.attempts {
        attempt(o, a);
    }
    let j = &d.judged;
    if j.status == DbStatus::Down {
        let since = units::since_clause(j.since);
        let _ = writeln!(
            o,
            "  DOWN{since}: {} in a row failed",
            units::count(j.failed_in_a_row, "attempt")
        );
    }
    let n = &j.now;
    if n.attempts < j.total.attempts {
        let _ = writeln!(
            o,
            "  now (the last {}): {} of {} succeeded ({})",
            units::count(j.window, "attempt"),
            n.successes,
            n.attempts,
            opt_pct(n.success_rate)
        );
    }
    let s = &j.total;
    let _ = writeln!(
        o,
        "  total: {} of {} succeeded ({}); avg {}, p50 {}, p95 {}, p99 {}; timeout violations {}",
        s.successes,
        s.attempts,
        opt_pct(s.success_rate),
        opt_ms(s.avg_ms),
        opt_ms(s.p50_ms),
        opt_ms(s.p95_ms),
        opt_ms(s.p99_ms),
        opt_pct(s.timeout_violation_rate)
    );
    if !d.errors_by_class.is_empty() {
        let classes: Vec<String> = d
            .errors_by_class
            .iter()
            .map(|(c, n)| format!("{c} ×{n}"))
            .collect();
        let _ = writeln!(o, "  errors: {}", classes.join(", "));
    }
}

fn attempt(o: &mut String, a: &Attempt) {
    let a = &a.attempt;
    let st = &a.steps_ms;
    let _ = writeln!(
        o,
        "  {:>4}  {:<4}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {}",
        a.seq,
        if a.ok { "ok" } else { "FAIL" },
        opt_ms(st.dns),
        opt_ms(st.tcp),
        opt_ms(st.handshake),
        opt_ms(st.query),
        opt_ms(Some(a.total_ms)),
        a.error.as_ref().map(|f| f.to_string()).unwrap_or_default()
    );
}

fn init(o: &mut String, i: &Init) {
    let near_configured_timeout = i.near_configured_timeout;
    let i = &i.result;
    let _ = write!(
        o,
        "\nInitialization (timeout {}): ",
        secs_exact(i.timeout_ms / 1000.0)
    );
    match &i.error {
        None => {
            let v = i
                .server_version
                .as_deref()
                .map(|v| format!(", server {v}"))
                .unwrap_or_default();
            let m = i
                .server_max_connections
                .map(|m| format!(", max_connections {m}"))
                .unwrap_or_default();
            let _ = writeln!(o, "ok in {}{v}{m}", opt_ms(Some(i.elapsed_ms)));
        }
        Some(f) => {
            let near = match near_configured_timeout {
                Some(true) => " (fired at the configured timeout)",
                Some(false) => " (fired FAR from the configured timeout)",
                None => "",
            };
            let _ = writeln!(
                o,
                "FAILED after {}{near} — {}",
                opt_ms(Some(i.elapsed_ms)),
                f
            );
        }
    }
}

fn capacity(o: &mut String, c: &Capacity) {
    let st = &c.started;
    let cap = if st.capped {
        format!(
            " — capped from {} to the safety cap {}",
            st.requested, st.cap
        )
    } else if st.forced {
        format!(" — forced past the safety cap {}", st.cap)
    } else {
        format!(" (cap {})", st.cap)
    };
    let _ = writeln!(
        o,
        "\nCapacity test: {} of {} connections attempted, each to be held {:.1} s{cap}",
        c.attempted,
        st.planned,
        st.hold_ms / 1000.0
    );
    if let Some(why) = &c.past_because {
        let _ = writeln!(o, "  (at {} UTC — history now: {why})", units::clock(c.at));
    }
    let _ = writeln!(
        o,
        "  {} succeeded, {} failed, {} capacity errors; server max_connections {}, {} in use before",
        c.succeeded,
        c.failed,
        c.capacity_errors,
        st.server_max_connections
            .map_or("unknown".into(), |v| v.to_string()),
        st.server_connections_in_use
            .map_or("unknown".into(), |v| v.to_string())
    );
    if !c.errors_by_class.is_empty() {
        let classes: Vec<String> = c
            .errors_by_class
            .iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect();
        let _ = writeln!(o, "  errors: {}", classes.join(", "));
    }
    if let Some(r) = &c.abort_reason {
        let _ = writeln!(o, "  stopped early: {r}");
    } else if c.running {
        let _ = writeln!(o, "  had not finished when the data ends");
    }
}

fn pool(o: &mut String, p: &Pool) {
    let _ = writeln!(
        o,
        "\nPool probe (sqlx, sized like the service's pool): {}",
        super::model::pool_shape(&p.started)
    );
    if let Some(why) = &p.judged.past_because {
        let _ = writeln!(
            o,
            "  (at {} UTC — history now: {why})",
            units::clock(p.judged.at)
        );
    }
    let t = &p.totals;
    let _ = writeln!(o, "  {}", super::model::pool_figures(t));
    let _ = writeln!(o, "  {}", p.judged.line);
    if let Some(e) = &t.last_error {
        let _ = writeln!(o, "  last error: {e}");
    }
    if let Some(r) = &p.abort_reason {
        let _ = writeln!(o, "  stopped early: {r}");
    } else if p.running {
        let _ = writeln!(o, "  had not finished when the data ends");
    }
}

fn endpoints(o: &mut String, eps: &[Endpoint], wss: &[WebSocket]) {
    if !eps.is_empty() {
        let _ = writeln!(o, "\nHealth endpoints");
    }
    for e in eps {
        let _ = writeln!(o, "  {} {}", e.name, e.url);
        for judged in &e.checks {
            check_line(o, judged);
        }
        for p in e.paths.iter().filter(|p| p.consistency.of > 1) {
            let c = &p.consistency;
            let how = if c.consistent {
                "consistent"
            } else if c.intermittent {
                "intermittent"
            } else {
                continue;
            };
            let _ = writeln!(
                o,
                "    {}: {} of {} failed ({how})",
                p.path,
                c.failed,
                units::count(c.of, "try")
            );
        }
    }
    websockets(o, wss);
}

/// `#1 /health: 503 in 12.0 ms STARTING (phase 3 database)`.
fn check_line(o: &mut String, judged: &Check) {
    let c = &judged.check;
    let status = c.status.map_or("—".into(), |s| s.to_string());
    let fb = if c.fell_back {
        format!(" (fell back from {})", c.requested_path)
    } else {
        String::new()
    };
    let sf = match (judged.health, &judged.phase) {
        (Health::Ok | Health::Failing, _) => String::new(),
        (Health::Starting, Some(ph)) => format!(" STARTING ({ph})"),
        (h, _) => format!(" {}", h.as_str().to_uppercase()),
    };
    let err = c
        .error
        .as_ref()
        .filter(|_| c.status.is_none())
        .map(|f| format!(" — {}", f))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "    #{} {}{fb}: {status} in {}{sf}{err}",
        c.attempt,
        c.path,
        opt_ms(Some(c.latency_ms))
    );
}

fn websockets(o: &mut String, wss: &[WebSocket]) {
    if !wss.is_empty() {
        let _ = writeln!(o, "\nWebSockets");
    }
    for w in wss {
        let what = match (w.ok, &w.error) {
            (Some(true), _) => format!(
                "ok — handshake {}, round trip {}",
                opt_ms(w.connect_ms),
                opt_ms(w.rtt_ms)
            ),
            (Some(false), Some(f)) => format!("FAILED — {}", f),
            _ => "not checked".into(),
        };
        let _ = writeln!(o, "  {}: {what}", w.url);
    }
}

fn startup(o: &mut String, s: &Startup, format: Option<&str>) {
    let read_as = format.map(|f| format!(", read as {f}")).unwrap_or_default();
    let src = s
        .log
        .as_deref()
        .map(|l| format!(" ({l}{read_as})"))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "\nStartup phases, from {}{src}",
        startup_source(s.source)
    );
    for p in &s.phases {
        let d = p.duration_s.map_or("—".into(), units::elapsed);
        let m = p
            .message
            .as_deref()
            .map(|m| format!(" — {m}"))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "  {} {:<13} {:>9} / {:>7}  {}{m}",
            p.number,
            p.name,
            d,
            secs_exact(p.budget_s),
            p.verdict.as_str()
        );
    }
    let total = s.total_s.map_or("—".into(), units::elapsed);
    let exit = s
        .exit_code
        .map(|c| format!("; exited with code {c}"))
        .unwrap_or_default();
    let runs = runs_text(s);
    let _ = writeln!(
        o,
        "  total {total} of {}{exit}{runs}",
        secs_exact(s.total_budget_s)
    );
    if s.skipped_lines > 0 {
        let _ = writeln!(
            o,
            "  {} of {} log lines matched nothing and were skipped",
            s.skipped_lines, s.lines
        );
    }
}

/// `; run #2 — restart loop after 1 failed run`, or the loop as history, or the run count.
fn runs_text(s: &Startup) -> String {
    match &s.restart_loop {
        Some(l) if l.active => format!(
            "; run #{} — restart loop after {}",
            s.run,
            units::count(l.failed_runs.len() as u64, "failed run")
        ),
        Some(l) => format!(
            "; run #{} completed after a restart loop ({} failed, the last ending {} UTC)",
            s.run,
            units::count(l.failed_runs.len() as u64, "run"),
            l.last_failure_at
                .map_or_else(|| units::NONE.into(), units::clock)
        ),
        None if s.runs > 1 => format!("; {} runs", s.runs),
        None => String::new(),
    }
}

fn judgement(o: &mut String, r: &Report) {
    if !r.alerts.is_empty() {
        let _ = writeln!(o, "\nAlerts");
        for a in &r.alerts {
            let _ = writeln!(o, "  {:<14} {}", a.level.as_str().to_uppercase(), a.message);
        }
    }
    let judged: Vec<_> = r.targets.iter().filter(|t| t.met.is_some()).collect();
    if !judged.is_empty() {
        let _ = writeln!(o, "\nTargets");
        for t in judged {
            let mark = if t.met == Some(true) { "met " } else { "MISS" };
            let _ = writeln!(
                o,
                "  [{mark}] {} — actual {}",
                t.target,
                t.actual.as_deref().unwrap_or("—")
            );
        }
    }
    if !r.findings.is_empty() {
        let _ = writeln!(o, "\nDiagnosis");
        for f in &r.findings {
            let mark = if f.past {
                "history".to_string()
            } else {
                format!("{:?}", f.confidence)
            };
            let _ = writeln!(o, "  [{mark}] {}", f.cause);
            for e in &f.evidence {
                let _ = writeln!(o, "      - {e}");
            }
        }
    }
    let how = if r.interrupted {
        " — INTERRUPTED by a signal before the run finished"
    } else {
        ""
    };
    let _ = writeln!(
        o,
        "\nVerdict: {}{how} (exit {})",
        r.verdict.as_str().to_uppercase(),
        r.exit_code
    );
    for reason in &r.reasons {
        let _ = writeln!(o, "  - {reason}");
    }
}
