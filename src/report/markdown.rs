//! The incident-review report, pasted as is into a post-mortem: what was seen, when, how bad,
//! the likely cause, and which targets were met. Built from the same `Report` as the JSON
//! (so the numbers agree) plus the state's timeline, which the JSON does not carry.
//!
//! Every emoji is paired with a word ("✅ met", "❌ missed") so the report reads the same in a
//! plain-text mail or a terminal. Text from servers and logs is escaped for table cells.

mod tables;
mod timeline;

use std::fmt::Write;

use super::context::Context;
use super::model::Report;
use crate::state::verdict::Verdict;
use crate::units::{secs_between, span};

pub(crate) fn render(r: &Report, ctx: &Context) -> String {
    let mut o = String::new();
    title(&mut o, r, ctx);
    verdict(&mut o, r);
    charts(&mut o, ctx);
    timeline::render(&mut o, r, ctx);
    if let Some(d) = &r.database {
        tables::database(&mut o, r, d);
    }
    if let Some(i) = &r.init {
        tables::init(&mut o, i);
    }
    tables::endpoints(&mut o, &r.endpoints);
    tables::websockets(&mut o, &r.websockets);
    if let Some(st) = &r.startup {
        tables::startup(&mut o, st);
    }
    if let Some(c) = &r.capacity {
        tables::capacity(&mut o, c);
    }
    if let Some(p) = &r.pool {
        tables::pool(&mut o, p);
    }
    vantages(&mut o, r);
    diagnosis(&mut o, r);
    targets(&mut o, r);
    o.truncate(o.trim_end().len());
    o
}

fn title(o: &mut String, r: &Report, ctx: &Context) {
    let cloud = if r.cloud_sql { " (Cloud SQL)" } else { "" };
    let _ = writeln!(o, "# Incident report — {}{cloud}\n", cell(&r.environment));
    let _ = writeln!(o, "| | |\n|---|---|");
    let target = r.target.as_deref().map_or_else(|| "—".into(), code);
    let _ = writeln!(o, "| Target | {target} |");
    let _ = writeln!(o, "| Window | {} |", window(r, ctx));
    if ctx.from.is_some() || ctx.to.is_some() {
        // So nobody reads a window's report as the whole incident.
        let _ = writeln!(
            o,
            "| Scope | only events inside the window were applied; nothing before it is carried in |"
        );
    }
    if !ctx.source.is_empty() {
        let _ = writeln!(o, "| Source | {} |", cell(&ctx.source));
    }
    let skipped = match ctx.skipped_lines {
        0 => String::new(),
        1 => "; 1 unreadable recording line skipped".into(),
        n => format!("; {n} unreadable recording lines skipped"),
    };
    let _ = writeln!(o, "| Events | {} applied{skipped} |", r.review.events);
    if let Some(l) = &r.lab_scenario {
        let _ = writeln!(o, "| Lab scenario | {} |", cell(l));
    }
    o.push('\n');
}

/// The window of events applied: the edges asked for, else the recording's start (the
/// timeline's +0) or the first event, to the last event.
fn window(r: &Report, ctx: &Context) -> String {
    let from = ctx.from.or(ctx.origin).or(r.started_at);
    let to = ctx.to.or(r.finished_at);
    match (from, to) {
        (Some(a), Some(b)) => format!(
            "{} → {} ({})",
            a.format("%Y-%m-%d %H:%M:%S UTC"),
            b.format("%Y-%m-%d %H:%M:%S UTC"),
            span(secs_between(a, b))
        ),
        _ => "no events".into(),
    }
}

fn verdict(o: &mut String, r: &Report) {
    let mark = match r.verdict {
        Verdict::Pass => "✅ PASS",
        Verdict::Warn => "⚠️ WARN",
        Verdict::Fail => "❌ FAIL",
    };
    let _ = writeln!(o, "## Verdict: {mark} (exit {})\n", r.exit_code);
    if r.interrupted {
        let _ = writeln!(
            o,
            "The run was **interrupted** by a signal before it finished: what it had measured is below.\n"
        );
    }
    if r.reasons.is_empty() {
        let _ = writeln!(o, "Nothing failed and no alert was active at the end.\n");
        return;
    }
    for reason in &r.reasons {
        let _ = writeln!(o, "- {}", cell(reason));
    }
    o.push('\n');
}

/// Remote vantage points (`--agent`): one row each, then each one's database attempts.
fn vantages(o: &mut String, r: &Report) {
    if r.vantages.is_empty() {
        return;
    }
    let _ = writeln!(o, "## Vantage points\n");
    let _ = writeln!(
        o,
        "| Vantage | Agent | Link | Verdict there | Database |\n|---|---|---|---|---|"
    );
    for v in &r.vantages {
        let l = &v.link;
        let w = v.link_words();
        let link = match &w.since {
            None => w.state.to_string(),
            Some(since) => format!("{} {since} (as measured then)", w.state),
        };
        let (verdict, db) = v.report.as_deref().map_or(("—", "—".to_string()), |x| {
            let db = x.database.as_ref().map_or("—".to_string(), |d| {
                format!(
                    "{:?}, {} attempts",
                    d.judged.status, d.judged.total.attempts
                )
                .to_lowercase()
            });
            (x.verdict.as_str(), db)
        });
        let _ = writeln!(
            o,
            "| {} | {} | {link} | {verdict} | {db} |",
            cell(&l.name),
            cell(&l.url)
        );
    }
    o.push('\n');
}

/// The chart files `--assets` wrote, shown where the markdown is read (paths relative to it).
fn charts(o: &mut String, ctx: &Context) {
    let Some(a) = ctx.assets.as_ref().filter(|a| !a.files.is_empty()) else {
        return;
    };
    let _ = writeln!(o, "## Charts\n");
    for f in &a.files {
        let _ = writeln!(o, "![{}]({}/{})\n", cell(&f.title), a.dir, f.name);
        let _ = writeln!(o, "*{}*\n", cell(&f.caption));
    }
}

fn diagnosis(o: &mut String, r: &Report) {
    let _ = writeln!(o, "## Diagnosis\n");
    if r.findings.is_empty() {
        let _ = writeln!(o, "No likely cause stood out from the evidence.\n");
        return;
    }
    for (i, f) in r.findings.iter().enumerate() {
        let conf = if f.past {
            "history: contradicted by newer evidence".to_string()
        } else {
            format!(
                "confidence: {}",
                format!("{:?}", f.confidence).to_lowercase()
            )
        };
        let at = f
            .vantage
            .as_deref()
            .map(|v| format!("{v}: "))
            .unwrap_or_default();
        let _ = writeln!(o, "{}. **{at}{}** ({conf})", i + 1, cell(&f.cause));
        for e in &f.evidence {
            let _ = writeln!(o, "   - {}", cell(e));
        }
    }
    o.push('\n');
}

fn targets(o: &mut String, r: &Report) {
    let _ = writeln!(o, "## Targets\n");
    let _ = writeln!(o, "| Target | Actual | Result |\n|---|---|---|");
    for t in &r.targets {
        let result = match t.met {
            Some(true) => "✅ met",
            Some(false) => "❌ missed",
            None => "➖ no data",
        };
        let mut actual = t.actual.as_deref().map_or_else(|| "—".into(), cell);
        // "77.2 s … missed" reads wrong without the reason: the service never finished.
        if let (Some(false), "startup_total", Some(code)) = (t.met, t.name, exit_code(r)) {
            actual.push_str(&format!(", exit code {code}"));
        }
        let _ = writeln!(o, "| {} | {actual} | {result} |", cell(&t.target));
    }
    o.push('\n');
}

fn exit_code(r: &Report) -> Option<i32> {
    r.startup.as_ref()?.exit_code.filter(|c| *c != 0)
}

/// Text safe inside a table cell or a list item: no line breaks, no column breaks, no HTML.
/// Only a `<` that could open a tag is escaped, so "< 10s" still reads as plain text.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        let opens_tag = chars
            .peek()
            .is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?'));
        match ch {
            '|' => out.push_str("\\|"),
            '<' if opens_tag => out.push_str("&lt;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Inline code when it can be (URLs, paths), plain escaped text when it holds a backtick.
fn code(text: &str) -> String {
    if text.contains('`') || text.contains('|') || text.contains('\n') {
        cell(text)
    } else {
        format!("`{text}`")
    }
}

#[cfg(test)]
mod tests;
