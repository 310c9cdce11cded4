//! The timeline: alerts raised and cleared, and every state change the event log kept, in
//! time order, each with its offset from the start and its absolute time.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::{Context, cell};
use crate::report::model::Report;
use crate::state::alerts::AlertChange;
use crate::state::event_log::{Level, LogEntry};
use crate::units::{secs_between, span};

struct Row {
    at: DateTime<Utc>,
    mark: String,
    source: String,
    text: String,
}

fn from_log(e: &LogEntry) -> Row {
    let mark = match e.level {
        Level::Error => "❌ error",
        Level::Warn => "⚠️ warn",
        Level::Info => "ℹ️ info",
    };
    Row {
        at: e.at,
        mark: mark.into(),
        source: e.source.clone(),
        text: e.text.clone(),
    }
}

fn from_alert(a: &AlertChange) -> Row {
    let mark = if a.raised {
        format!("🚨 raised {}", a.level.as_str())
    } else {
        format!("✅ cleared {}", a.level.as_str())
    };
    Row {
        at: a.at,
        mark,
        source: "alert".into(),
        text: a.message.clone(),
    }
}

pub(super) fn render(o: &mut String, r: &Report, ctx: &Context) {
    let _ = writeln!(o, "## Timeline\n");
    // The log also echoes alert changes; the alert timeline says them with their level.
    let mut rows: Vec<Row> = r
        .review
        .log
        .iter()
        .filter(|e| e.source != "alert")
        .map(from_log)
        .chain(r.review.alert_changes.iter().map(from_alert))
        .collect();
    // Stable: at equal times an event's own log line comes before the alert it raised.
    rows.sort_by_key(|r| r.at);
    if rows.is_empty() {
        let _ = writeln!(o, "Nothing changed: no alert, failure or recovery.\n");
        return;
    }
    let origin = ctx.origin.or(r.started_at).unwrap_or(rows[0].at);
    let _ = writeln!(
        o,
        "Times are from {} (+0) and in UTC.\n",
        origin.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let _ = writeln!(
        o,
        "| When | UTC | What | Source | Detail |\n|---:|---|---|---|---|"
    );
    for row in &rows {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            offset(secs_between(origin, row.at)),
            absolute(origin, row.at),
            row.mark,
            cell(&row.source),
            cell(&row.text)
        );
    }
    let dropped = r.review.log_dropped;
    if dropped > 0 {
        let _ = writeln!(
            o,
            "\n{dropped} earlier log entries were not kept (history.log_lines); alert changes are kept apart (the newest 1000)."
        );
    }
    o.push('\n');
}

/// `+37.0 s`, `−2.0 s` for an event before the origin (clock skew in the recording).
fn offset(secs: f64) -> String {
    if secs < 0.0 {
        format!("−{}", span(-secs))
    } else {
        format!("+{}", span(secs))
    }
}

/// The time of day, with the date only when it differs from the origin's.
fn absolute(origin: DateTime<Utc>, at: DateTime<Utc>) -> String {
    if origin.date_naive() == at.date_naive() {
        at.format("%H:%M:%S%.3f").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
    }
}
