//! Alerts and diagnosis: the active alerts by level, the likely causes with the evidence
//! beside each, and the targets met or missed. Everything wraps at word boundaries with a
//! hanging indent; what does not fit the panel's rows is counted on its last row ("+2
//! findings — Enter zooms"). Zoomed, every piece of evidence and the alert timeline.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{FAIL, NOT_REACHED, OK, block, inner};
use crate::state::Judgement;
use crate::state::State;
use crate::state::alerts::AlertLevel;
use crate::state::diagnosis::Confidence;
use crate::state::targets::TargetCheck;
use crate::ui::text::{Item, fill, wrap, wrap_rows};
use crate::ui::view::{Panel, View};
use crate::units;

/// Items of evidence shown per finding when not zoomed, and rows each may take.
const MAX_EVIDENCE: usize = 3;
const EVIDENCE_ROWS: usize = 2;

/// Two columns (alerts + targets | diagnosis) from this inner width.
const TWO_COLUMNS: u16 = 90;

/// Continuation lines start under the text, after `CRITICAL ` / `● likely   `.
const ALERT_INDENT: usize = 9;
const FINDING_INDENT: usize = 11;
const EVIDENCE_INDENT: usize = 6;

fn level(l: AlertLevel, view: &View) -> (&'static str, Style) {
    let p = &view.palette;
    match l {
        AlertLevel::Critical => ("CRITICAL", p.fail),
        AlertLevel::Warning => ("WARNING ", p.warn),
        AlertLevel::Infrastructure => ("INFRA   ", p.warn),
        AlertLevel::Capacity => ("CAPACITY", p.warn),
    }
}

fn one(kind: &'static str, line: Line<'static>) -> Item {
    Item {
        kind,
        lines: vec![line],
    }
}

/// Alerts at most this many rows each unzoomed, one row in a narrow panel (the header
/// already says the main one in full).
const ALERT_ROWS: usize = 2;
const NARROW: usize = 60;

fn alert_items(state: &State, width: usize, view: &View) -> Vec<Item> {
    let p = &view.palette;
    // The judge's alerts: with vantages attached, every vantage's.
    let active = &view.judged.judgement.alerts;
    if active.is_empty() {
        let text = if state.events == 0 {
            "no alert (no data yet)"
        } else {
            "✓ no active alert"
        };
        return vec![one("alert", Line::from(Span::styled(text, p.ok)))];
    }
    active
        .iter()
        .map(|a| {
            let (word, style) = level(a.level, view);
            let narrow = width < NARROW && !view.zoom;
            let since = if narrow {
                String::new()
            } else {
                format!(" since {}", units::clock(a.since))
            };
            let spans = [
                Span::styled(format!("{word} "), style),
                Span::styled(vantage_prefix(a.vantage.as_deref()), p.title),
                Span::styled(view.text(&a.message).into_owned(), p.text),
                Span::styled(since, p.muted),
            ];
            let rows = match (view.zoom, narrow) {
                (true, _) => usize::MAX,
                (false, true) => 1,
                (false, false) => ALERT_ROWS,
            };
            Item {
                kind: "alert",
                lines: wrap_rows(&spans, width, ALERT_INDENT, rows),
            }
        })
        .collect()
}

/// `vpc: ` before what a remote vantage point found (`watch --agent`).
fn vantage_prefix(vantage: Option<&str>) -> String {
    vantage.map(|v| format!("{v}: ")).unwrap_or_default()
}

/// Each finding: its cause in full, then `shown` items of its evidence — unzoomed of at most
/// two rows each (a server's whole 503 body must not push the next finding off the panel).
fn finding_items(state: &State, width: usize, shown: usize, view: &View) -> Vec<Item> {
    let p = &view.palette;
    let findings = &view.judged.judgement.findings;
    if findings.is_empty() {
        let text = if state.events == 0 {
            "diagnosis: waiting for evidence"
        } else {
            "diagnosis: nothing wrong found"
        };
        return vec![one("finding", Line::from(Span::styled(text, p.muted)))];
    }
    let rows = if view.zoom { usize::MAX } else { EVIDENCE_ROWS };
    findings
        .iter()
        .map(|f| {
            let (word, style) = match f.confidence {
                Confidence::High => ("likely  ", p.fail),
                Confidence::Medium => ("possible", p.warn),
                Confidence::Low => ("maybe   ", p.muted),
            };
            let cause = [
                Span::styled(format!("● {word} "), style),
                Span::styled(vantage_prefix(f.vantage.as_deref()), p.title),
                Span::styled(view.text(&f.cause).into_owned(), p.text),
            ];
            let mut lines = wrap(&cause, width, FINDING_INDENT);
            for e in f.evidence.iter().take(shown) {
                let spans = [Span::styled(format!("    – {}", view.text(e)), p.muted)];
                lines.extend(wrap_rows(&spans, width, EVIDENCE_INDENT, rows));
            }
            if let Some(more) = f.evidence.len().checked_sub(shown).filter(|n| *n > 0) {
                let text = if view.zoom {
                    format!("    – and {more} more")
                } else {
                    format!("    – and {more} more (Enter zooms)")
                };
                lines.extend(wrap(&[Span::styled(text, p.muted)], width, EVIDENCE_INDENT));
            }
            Item {
                kind: "finding",
                lines,
            }
        })
        .collect()
}

/// The targets under a heading (which travels with the first, so it is never left alone),
/// after a blank line when `gap`.
fn target_items(width: usize, view: &View, gap: bool) -> Vec<Item> {
    let p = &view.palette;
    shown_targets(&view.judged.judgement)
        .into_iter()
        .enumerate()
        .map(|(i, (vantage, t))| {
            let (sym, style) = match t.met {
                Some(true) => (OK, p.ok),
                Some(false) => (FAIL, p.fail),
                None => (NOT_REACHED, p.muted),
            };
            let actual = t.actual.as_deref().unwrap_or("no data");
            let who = vantage.map(|v| format!("{v}: ")).unwrap_or_default();
            let spans = [
                Span::styled(format!("{sym} {who}{}", t.target), style),
                Span::styled(format!(" — {}", view.text(actual)), p.muted),
            ];
            let mut lines = Vec::new();
            if i == 0 {
                if gap {
                    lines.push(Line::default());
                }
                lines.push(Line::from(Span::styled("targets", p.title)));
            }
            lines.extend(wrap(&spans, width, 2));
            Item {
                kind: "target",
                lines,
            }
        })
        .collect()
}

/// This host's targets, then each live vantage's that it could judge, under its name. With
/// only agents attached this host measures nothing, so its targets ("no data") give way to the
/// vantages'; a lost vantage's are not shown, as nothing it measured is live.
fn shown_targets(j: &Judgement) -> Vec<(Option<&str>, &TargetCheck)> {
    let local = j.targets.iter().any(|t| t.met.is_some()) || j.vantages.is_empty();
    let mut out: Vec<(Option<&str>, &TargetCheck)> = Vec::new();
    if local {
        out.extend(j.targets.iter().map(|t| (None, t)));
    }
    for v in j.vantages.iter().filter(|v| !v.stale) {
        if let Some(vj) = &v.judgement {
            let judged = vj.targets.iter().filter(|t| t.met.is_some());
            out.extend(judged.map(|t| (Some(v.name.as_str()), t)));
        }
    }
    if out.is_empty() {
        out.extend(j.targets.iter().map(|t| (None, t)));
    }
    out
}

/// The alert timeline, newest first, under a heading that travels with the first change.
fn timeline_items(state: &State, width: usize, view: &View) -> Vec<Item> {
    let p = &view.palette;
    let mut out = Vec::new();
    for c in state.alerts.timeline.iter().rev().take(20) {
        let (word, style) = level(c.level, view);
        let what = if c.raised { "raised " } else { "cleared" };
        let spans = [
            Span::styled(format!("{} {what} ", units::clock(c.at)), p.muted),
            Span::styled(format!("{} ", word.trim_end()), style),
            Span::styled(view.text(&c.message).into_owned(), p.text),
        ];
        let mut lines = Vec::new();
        if out.is_empty() {
            lines.push(Line::default());
            lines.push(Line::from(Span::styled("alert timeline", p.title)));
        }
        lines.extend(wrap(&spans, width, 17));
        out.push(Item {
            kind: "change",
            lines,
        });
    }
    out
}

/// Findings with as much evidence as lets them all fit in `rows` (every cause matters more
/// than a third piece of evidence for the first); zoomed, all of it.
fn findings_fitting(state: &State, width: usize, rows: usize, view: &View) -> Vec<Item> {
    if view.zoom {
        return finding_items(state, width, usize::MAX, view);
    }
    for shown in (1..=MAX_EVIDENCE).rev() {
        let items = finding_items(state, width, shown, view);
        if items.iter().map(|i| i.lines.len()).sum::<usize>() <= rows {
            return items;
        }
    }
    finding_items(state, width, 1, view)
}

fn column(frame: &mut Frame<'_>, area: Rect, items: Vec<Item>, view: &View) {
    let hint = if view.zoom { "" } else { " — Enter zooms" };
    let lines = fill(
        items,
        usize::from(area.height),
        usize::from(area.width),
        hint,
        view.palette.accent,
    );
    frame.render_widget(Paragraph::new(lines), area);
}

pub(crate) fn render(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    let b = block("Alerts and diagnosis", Panel::Alerts, view);
    let Some(area_in) = inner(&b, area) else {
        frame.render_widget(b, area);
        return;
    };
    frame.render_widget(b, area);
    if area_in.width >= TWO_COLUMNS {
        let [l, r] = Layout::horizontal([Constraint::Percentage(45), Constraint::Min(0)])
            .spacing(1)
            .areas(area_in);
        let lw = usize::from(l.width);
        let mut left = alert_items(state, lw, view);
        left.extend(target_items(lw, view, true));
        if view.zoom {
            left.extend(timeline_items(state, lw, view));
        }
        column(frame, l, left, view);
        let findings = findings_fitting(state, usize::from(r.width), usize::from(r.height), view);
        column(frame, r, findings, view);
        return;
    }
    let w = usize::from(area_in.width);
    let mut items = alert_items(state, w, view);
    let used: usize = items.iter().map(|i| i.lines.len()).sum();
    let rows = usize::from(area_in.height).saturating_sub(used);
    items.extend(findings_fitting(state, w, rows, view));
    items.extend(target_items(w, view, false));
    column(frame, area_in, items, view);
}
