//! The page's text sections, each from the model: what was judged and why, the numbers
//! behind the charts, the event log, and where it all came from.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::verdict_word;
use crate::report::context::Context;
use crate::report::model::{Report, db_figure_cells};
use crate::report::svg::esc;
use crate::state::event_log::Level;
use crate::state::evidence::EvidenceStatus;
use crate::state::judge::DbStatus;
use crate::state::verdict::Verdict;
use crate::units::{self, NONE, clock, opt_ms, secs_between, span};

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "v-pass",
        Verdict::Warn => "v-warn",
        Verdict::Fail => "v-fail",
    }
}

pub(super) fn header(o: &mut String, r: &Report, ctx: &Context) {
    let cloud = if r.cloud_sql { " (Cloud SQL)" } else { "" };
    let _ = write!(
        o,
        r#"<header id="summary"><h1>Incident report — {}{cloud}</h1><p class="verdict {}"><span class="badge">{}</span>exit {}"#,
        esc(&r.environment),
        verdict_class(r.verdict),
        verdict_word(r.verdict),
        r.exit_code
    );
    if r.interrupted {
        o.push_str(" — the run was <strong>interrupted</strong> by a signal before it finished");
    }
    if let Some(first) = r.reasons.first() {
        let _ = write!(o, " — {}", esc(first));
    }
    o.push_str(r#"</p><dl class="facts">"#);
    fact(
        o,
        "Target",
        &r.target.as_deref().map_or_else(|| NONE.into(), esc),
    );
    fact(o, "Recording span", &esc(&window(r, ctx)));
    if ctx.from.is_some() || ctx.to.is_some() {
        fact(
            o,
            "Scope",
            "only events inside the window were applied; nothing before it is carried in",
        );
    }
    if !ctx.source.is_empty() {
        fact(o, "Source", &esc(&ctx.source));
    }
    let skipped = match ctx.skipped_lines {
        0 => String::new(),
        n => format!("; {} skipped", units::count(n, "unreadable line")),
    };
    fact(
        o,
        "Events",
        &format!("{} applied{skipped}", r.review.events),
    );
    if let Some(at) = r.judged_at {
        fact(o, "Judged at", &when(at));
    }
    if !r.evidence.is_empty() {
        fact(o, "Probes", &esc(&probes(r)));
    }
    if let Some(l) = &r.lab_scenario {
        fact(o, "Lab scenario", &esc(l));
    }
    o.push_str("</dl></header>");
}

fn fact(o: &mut String, term: &str, html: &str) {
    let _ = write!(o, "<dt>{term}</dt><dd>{html}</dd>");
}

/// From the window's start (or the recording's) to its end, and how long.
fn window(r: &Report, ctx: &Context) -> String {
    let from = ctx.from.or(ctx.origin).or(r.started_at);
    let to = ctx.to.or(r.finished_at);
    match (from, to) {
        (Some(a), Some(b)) => format!("{} → {} ({})", when(a), when(b), span(secs_between(a, b))),
        _ => "no events".into(),
    }
}

fn probes(r: &Report) -> String {
    let words: Vec<String> = r
        .evidence
        .iter()
        .map(|e| {
            let s = match e.status {
                EvidenceStatus::Seen => "measured",
                EvidenceStatus::Waiting => "waiting",
                EvidenceStatus::Missing => "no evidence",
                EvidenceStatus::Crashed => "crashed",
            };
            format!("{} {s}", e.probe)
        })
        .collect();
    words.join(", ")
}

pub(super) fn reasons(o: &mut String, r: &Report) {
    o.push_str(r#"<section id="reasons"><h2>Why</h2>"#);
    if r.reasons.is_empty() {
        o.push_str("<p>Nothing failed and no alert was active at the end.</p>");
    } else {
        o.push_str(r#"<ul class="reasons">"#);
        for reason in &r.reasons {
            let _ = write!(o, "<li>{}</li>", esc(reason));
        }
        o.push_str("</ul>");
    }
    o.push_str("</section>");
}

pub(super) fn findings(o: &mut String, r: &Report) {
    o.push_str(r#"<section id="findings"><h2>Diagnosis</h2>"#);
    if r.findings.is_empty() {
        o.push_str("<p>No likely cause stood out from the evidence.</p></section>");
        return;
    }
    o.push_str("<ol>");
    for f in &r.findings {
        let (class, tag) = if f.past {
            (
                "finding past",
                "history: contradicted by newer evidence".to_string(),
            )
        } else {
            (
                "finding",
                format!(
                    "confidence: {}",
                    format!("{:?}", f.confidence).to_lowercase()
                ),
            )
        };
        let _ = write!(
            o,
            r#"<li class="{class}"><span class="cause">{}</span><span class="tag">{tag}</span>{}"#,
            esc(&f.cause),
            since_until(f.since, f.until)
        );
        if !f.evidence.is_empty() {
            o.push_str("<ul>");
            for e in &f.evidence {
                let _ = write!(o, "<li>{}</li>", esc(e));
            }
            o.push_str("</ul>");
        }
        o.push_str("</li>");
    }
    o.push_str("</ol></section>");
}

fn since_until(since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> String {
    match (since, until) {
        (Some(a), Some(b)) if a != b => {
            format!(r#"<span class="tag">{}–{} UTC</span>"#, clock(a), clock(b))
        }
        (Some(a), _) => format!(r#"<span class="tag">{} UTC</span>"#, clock(a)),
        _ => String::new(),
    }
}

/// The numbers under the database chart: "now" as judged and every attempt, labelled.
pub(super) fn db_summary(o: &mut String, r: &Report) {
    let Some(d) = &r.database else { return };
    let j = &d.judged;
    let status = match j.status {
        DbStatus::Down => format!(
            r#"<span class="bad">down</span>{}: {} in a row failed"#,
            units::since_clause(j.since),
            units::count(j.failed_in_a_row, "attempt")
        ),
        DbStatus::Up => r#"<span class="ok">up</span>"#.into(),
        DbStatus::Unknown => "unknown".into(),
    };
    o.push_str(r#"<table class="db-numbers"><tr><th></th><th>Attempts</th><th>Success rate</th><th>Avg</th><th>p50</th><th>p95</th><th>p99</th><th>Max</th><th>Timeout violations</th></tr>"#);
    for (label, m) in [
        (format!("now (last {} judged)", j.window), &j.now),
        ("every attempt".to_string(), &j.total),
    ] {
        let cells: String = db_figure_cells(m)
            .iter()
            .map(|c| format!(r#"<td class="num">{c}</td>"#))
            .collect();
        let _ = write!(
            o,
            r#"<tr><th>{label}</th><td class="num">{}</td>{cells}</tr>"#,
            m.attempts,
        );
    }
    let _ = write!(
        o,
        "</table><p>Database {status}; connection timeout {}.</p>",
        units::ms(d.timeout_ms)
    );
}

/// The words under the pool's chart: the newest run as judged, with what lay beneath it, and
/// its last error in the server's or sqlx's words.
pub(super) fn pool_summary(o: &mut String, r: &Report) {
    let Some(p) = &r.pool else { return };
    let j = &p.judged;
    let class = match j.verdict {
        Verdict::Pass => "ok",
        Verdict::Warn => "warn",
        Verdict::Fail => "bad",
    };
    let _ = write!(
        o,
        r#"<p class="pool-line"><span class="{class}">{}</span> {}</p>"#,
        verdict_word(j.verdict),
        esc(&j.line)
    );
    if let Some(why) = &j.past_because {
        let _ = write!(
            o,
            r#"<p class="muted">History: this run ({} UTC) no longer speaks for now — {}.</p>"#,
            clock(j.at),
            esc(why)
        );
    }
    if let Some(e) = &p.totals.last_error {
        let _ = write!(o, "<p>Last error: {}</p>", esc(&e.to_string()));
    }
}

pub(super) fn targets(o: &mut String, r: &Report) {
    o.push_str(r#"<section id="targets"><h2>Targets</h2><table><tr><th>Target</th><th>Actual</th><th>Result</th></tr>"#);
    for t in &r.targets {
        let (class, word) = match t.met {
            Some(true) => ("ok", "✓ met"),
            Some(false) => ("bad", "✗ missed"),
            None => ("muted", "no data"),
        };
        let _ = write!(
            o,
            r#"<tr><td>{}</td><td>{}</td><td class="{class}">{word}</td></tr>"#,
            esc(&t.target),
            t.actual.as_deref().map_or_else(|| NONE.into(), esc)
        );
    }
    o.push_str("</table></section>");
}

/// Initialization, endpoints and WebSockets as judged at the end.
pub(super) fn numbers(o: &mut String, r: &Report) {
    o.push_str(r#"<section id="numbers"><h2>At the end</h2>"#);
    if r.init.is_none() && r.endpoints.is_empty() && r.websockets.is_empty() {
        o.push_str(
            r#"<p class="muted">No initialization, endpoint or WebSocket check ran.</p></section>"#,
        );
        return;
    }
    o.push_str("<table><tr><th>What</th><th>Result</th></tr>");
    if let Some(i) = &r.init {
        row(o, "initialization", &init(i));
    }
    for e in &r.endpoints {
        for p in &e.paths {
            row(o, &esc(&format!("{} {}", e.name, p.path)), &path(p));
        }
    }
    for w in &r.websockets {
        let result = match (w.ok, &w.error) {
            (Some(true), _) => format!(
                r#"<span class="ok">ok</span>, reply in {}"#,
                opt_ms(w.rtt_ms)
            ),
            (_, Some(e)) => format!(r#"<span class="bad">{}</span>"#, esc(&e.to_string())),
            _ => NONE.into(),
        };
        row(o, &esc(&format!("WebSocket {}", w.url)), &result);
    }
    o.push_str("</table></section>");
}

fn row(o: &mut String, what: &str, result: &str) {
    let _ = write!(o, "<tr><td>{what}</td><td>{result}</td></tr>");
}

fn init(i: &crate::report::model::Init) -> String {
    let Some(e) = &i.result.error else {
        return format!(
            r#"<span class="ok">ok</span> in {}"#,
            units::ms(i.result.elapsed_ms)
        );
    };
    let far = match i.near_configured_timeout {
        Some(false) => " — far from the configured timeout",
        _ => "",
    };
    format!(
        r#"<span class="bad">{}</span> after {} (timeout {}){far}"#,
        esc(&e.to_string()),
        units::ms(i.result.elapsed_ms),
        units::ms(i.result.timeout_ms),
    )
}

fn path(p: &crate::report::model::PathSummary) -> String {
    let health = p.health.map_or(NONE, |h| h.as_str());
    let class = if p.health.is_some_and(|h| h.is_failure()) {
        "bad"
    } else {
        ""
    };
    let how = if p.consistency.consistent {
        ", consistently"
    } else if p.consistency.intermittent {
        ", intermittently"
    } else {
        ""
    };
    format!(
        r#"<span class="{class}">{health}</span> — {} of {} tries failed{how}"#,
        p.consistency.failed, p.consistency.of
    )
}

pub(super) fn events(o: &mut String, r: &Report) {
    let log = &r.review.log;
    o.push_str(r#"<section id="events"><h2>Event log</h2>"#);
    if log.is_empty() {
        o.push_str(r#"<p class="muted">No state change was logged.</p></section>"#);
        return;
    }
    if r.review.log_dropped > 0 {
        let _ = write!(
            o,
            r#"<p class="muted">The oldest {} are not kept (the log is bounded).</p>"#,
            units::count(r.review.log_dropped, "entry")
        );
    }
    o.push_str("<table><tr><th>UTC</th><th>Level</th><th>Source</th><th>What</th></tr>");
    for e in log {
        let (class, word) = match e.level {
            Level::Error => ("bad", "error"),
            Level::Warn => ("warn", "warn"),
            Level::Info => ("", "info"),
        };
        let _ = write!(
            o,
            r#"<tr><td class="mono">{}</td><td class="{class}">{word}</td><td>{}</td><td>{}</td></tr>"#,
            clock(e.at),
            esc(&e.source),
            esc(&e.text)
        );
    }
    o.push_str("</table></section>");
}

/// The configuration the run had (the recording's header, secrets already removed), one row
/// per setting.
pub(super) fn config(o: &mut String, ctx: &Context) {
    o.push_str(r#"<section id="config"><h2>Configuration in force</h2>"#);
    let mut rows = Vec::new();
    if let Some(v) = &ctx.settings {
        flatten("", v, &mut rows);
    }
    if rows.is_empty() {
        o.push_str(r#"<p class="muted">Not recorded.</p></section>"#);
        return;
    }
    o.push_str(r#"<p class="muted">As the run had it, passwords removed.</p><details open><summary>settings</summary><table>"#);
    for (k, v) in rows {
        let _ = write!(
            o,
            r#"<tr><td class="mono">{}</td><td class="mono">{}</td></tr>"#,
            esc(&k),
            esc(&v)
        );
    }
    o.push_str("</table></details></section>");
}

/// `timeouts.connection = 35s`, `endpoints[0].url = …`: leaves of a JSON value by path.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, v, out);
            }
        }
        Value::Array(a) if a.iter().any(|x| x.is_object() || x.is_array()) => {
            for (i, v) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        Value::Null => out.push((prefix.into(), NONE.into())),
        Value::String(s) => out.push((prefix.into(), s.clone())),
        other => out.push((prefix.into(), other.to_string())),
    }
}

pub(super) fn footer(o: &mut String, r: &Report, ctx: &Context) {
    let _ = write!(
        o,
        "<footer>connscope {} — {}. One self-contained file: no scripts, nothing fetched; secrets masked. Times are UTC.</footer>",
        r.connscope,
        esc(&window(r, ctx))
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_flatten_to_dotted_paths() {
        let v = serde_json::json!({
            "timeouts": {"connection": "35s"},
            "endpoints": [{"name": "api", "url": "http://h/api"}],
            "health": {"paths": ["/health", "/health/database"]},
            "database": {"password": null}
        });
        let mut rows = Vec::new();
        flatten("", &v, &mut rows);
        let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "timeouts.connection",
                "endpoints[0].name",
                "endpoints[0].url",
                "health.paths",
                "database.password"
            ]
        );
        assert_eq!(rows[3].1, r#"["/health","/health/database"]"#);
        assert_eq!(rows[4].1, NONE);
    }
}
