//! The incident report as one self-contained HTML file: the verdict, its reasons and the
//! findings with their evidence first, then the charts (inline SVG), the targets, the numbers,
//! the event log, the configuration in force and the recording's span. Inline CSS only: no
//! script, no font, nothing fetched (a Content-Security-Policy says so to the browser), so it
//! reads offline and is safe to attach to a ticket. Every string from the recording is masked
//! for secrets and escaped (`svg::esc`); the whole page passes the scrubber again at the end.
//!
//! Reads only the model (`Report`, its `charts` and `review`) and the context: nothing here
//! judges.

mod css;
mod sections;

use std::fmt::Write;

use super::charts::{self, Chart};
use super::context::Context;
use super::model::Report;
use super::svg::esc;
use crate::state::verdict::Verdict;
use crate::ui::theme::ThemeName;

/// Documents are light unless `--theme` asks otherwise (they are printed and projected).
pub(crate) fn theme(ctx: &Context) -> ThemeName {
    ctx.theme.unwrap_or(ThemeName::Light)
}

pub(crate) fn render(r: &Report, ctx: &Context) -> String {
    let theme = theme(ctx);
    let charts = charts::all(r, theme, false);
    let mut o = String::with_capacity(64 * 1024);
    head(&mut o, r, theme);
    let _ = write!(o, r#"<body class="theme-{}"><main>"#, theme.as_str());
    sections::header(&mut o, r, ctx);
    sections::reasons(&mut o, r);
    sections::findings(&mut o, r);
    figures(&mut o, r, &charts);
    sections::targets(&mut o, r);
    sections::numbers(&mut o, r);
    sections::events(&mut o, r);
    sections::config(&mut o, ctx);
    sections::footer(&mut o, r, ctx);
    o.push_str("</main></body></html>\n");
    o
}

fn head(o: &mut String, r: &Report, theme: ThemeName) {
    let scheme = if theme == ThemeName::Light {
        "light"
    } else {
        "dark"
    };
    let verdict = verdict_word(r.verdict);
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"><meta name="color-scheme" content="{scheme}"><meta name="generator" content="connscope {}"><title>{verdict} — connscope incident report — {}</title><style>{}</style></head>"#,
        r.connscope,
        esc(&r.environment),
        css::page(theme)
    );
}

pub(crate) fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Warn => "WARN",
        Verdict::Fail => "FAIL",
    }
}

/// Each chart in a section of its own, with its caption; a sentence where there is no data —
/// except the pool's, which only a pool probe run has (it is never on by default).
fn figures(o: &mut String, r: &Report, charts: &[Chart]) {
    for (id, title, absent) in [
        (
            "db-timeline",
            "Database attempts",
            Some("No database attempt was recorded."),
        ),
        (
            "startup-phases",
            "Startup runs and phases",
            Some("No startup phase was recorded."),
        ),
        (
            "status-strips",
            "Health endpoints and WebSockets",
            Some("No health check or WebSocket check was recorded."),
        ),
        (
            "capacity-tests",
            "Capacity tests",
            Some("No capacity test ran."),
        ),
        ("pool-waits", "Application pool (sqlx)", None),
    ] {
        let chart = charts.iter().find(|c| c.id == id);
        if chart.is_none() && absent.is_none() {
            continue;
        }
        let _ = write!(
            o,
            r#"<section id="s-{id}" class="chart-section"><h2>{title}</h2>"#
        );
        match (chart, absent) {
            (Some(c), _) => {
                let _ = write!(
                    o,
                    "<figure>{}<figcaption>{}</figcaption></figure>",
                    c.svg,
                    esc(&c.caption)
                );
                match id {
                    "db-timeline" => sections::db_summary(o, r),
                    "pool-waits" => sections::pool_summary(o, r),
                    _ => {}
                }
            }
            (None, sentence) => {
                let _ = write!(
                    o,
                    r#"<p class="muted">{}</p>"#,
                    sentence.unwrap_or_default()
                );
            }
        }
        o.push_str("</section>");
    }
}
