//! Alerts and diagnosis: the active alerts by level, the likely causes with the evidence
//! beside each, and the targets met or missed. Zoomed, also the alert timeline.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{FAIL, NOT_REACHED, OK, block, fit, inner};
use crate::state::State;
use crate::state::alerts::AlertLevel;
use crate::state::diagnosis::Confidence;
use crate::ui::view::{Panel, View};
use crate::units;

/// Items of evidence shown per finding when not zoomed.
const MAX_EVIDENCE: usize = 3;

/// Columns a wrapped row may lose to word wrapping, allowed for when cutting evidence.
const EVIDENCE_SLACK: usize = 10;

/// Two columns (alerts + targets | diagnosis) from this inner width.
const TWO_COLUMNS: u16 = 90;

fn level(l: AlertLevel, view: &View) -> (&'static str, Style) {
    let p = &view.palette;
    match l {
        AlertLevel::Critical => ("CRITICAL", p.fail),
        AlertLevel::Warning => ("WARNING ", p.warn),
        AlertLevel::Infrastructure => ("INFRA   ", p.warn),
        AlertLevel::Capacity => ("CAPACITY", p.warn),
    }
}

/// One line per alert when `width` is given (truncated), wrapped in full otherwise.
fn alert_lines(state: &State, view: &View, width: Option<usize>) -> Vec<Line<'static>> {
    let p = &view.palette;
    if state.alerts.active.is_empty() {
        let text = if state.events == 0 {
            "no alert (no data yet)"
        } else {
            "✓ no active alert"
        };
        return vec![Line::from(Span::styled(text, p.ok))];
    }
    state
        .alerts
        .active
        .iter()
        .map(|a| {
            let (word, style) = level(a.level, view);
            let msg = view.text(&a.message);
            match width {
                Some(w) => Line::from(vec![
                    Span::styled(format!("{word} "), style),
                    Span::styled(fit(&msg, w.saturating_sub(9)), p.text),
                ]),
                None => Line::from(vec![
                    Span::styled(format!("{word} "), style),
                    Span::styled(msg.into_owned(), p.text),
                    Span::styled(format!(" since {}", units::clock(a.since)), p.muted),
                ]),
            }
        })
        .collect()
}

/// Each cause in full; its evidence at most two rows each when `width` is given (cut with `…`:
/// a server's whole 503 body must not push the next finding off the panel), in full when
/// zoomed.
fn finding_lines(state: &State, view: &View, width: Option<usize>) -> Vec<Line<'static>> {
    let p = &view.palette;
    let findings = &view.derived.judgement.findings;
    if findings.is_empty() {
        let text = if state.events == 0 {
            "diagnosis: waiting for evidence"
        } else {
            "diagnosis: nothing wrong found"
        };
        return vec![Line::from(Span::styled(text, p.muted))];
    }
    let mut out = Vec::new();
    for f in findings {
        let (word, style) = match f.confidence {
            Confidence::High => ("likely  ", p.fail),
            Confidence::Medium => ("possible", p.warn),
            Confidence::Low => ("maybe   ", p.muted),
        };
        out.push(Line::from(vec![
            Span::styled(format!("● {word} "), style),
            Span::styled(view.text(&f.cause).into_owned(), p.text),
        ]));
        // Unzoomed, a few items of evidence per finding: one 503 body per endpoint path
        // must not push the next finding off the panel. Zoom shows them all.
        let shown = if width.is_some() {
            MAX_EVIDENCE
        } else {
            usize::MAX
        };
        for e in f.evidence.iter().take(shown) {
            let text = format!("    – {}", view.text(e));
            let text = match width {
                // Word wrapping leaves the first row a little short; the slack keeps the
                // cut text on two rows.
                Some(w) => fit(&text, (w * 2).saturating_sub(EVIDENCE_SLACK)),
                None => text,
            };
            out.push(Line::from(Span::styled(text, p.muted)));
        }
        if let Some(more) = f.evidence.len().checked_sub(shown).filter(|n| *n > 0) {
            out.push(Line::from(Span::styled(
                format!("    – and {more} more (Enter zooms)"),
                p.muted,
            )));
        }
    }
    out
}

fn target_lines(view: &View) -> Vec<Line<'static>> {
    let p = &view.palette;
    let mut out = vec![Line::from(Span::styled("targets", p.title))];
    for t in &view.derived.judgement.targets {
        let (sym, style) = match t.met {
            Some(true) => (OK, p.ok),
            Some(false) => (FAIL, p.fail),
            None => (NOT_REACHED, p.muted),
        };
        let actual = t.actual.as_deref().unwrap_or("no data");
        out.push(Line::from(vec![
            Span::styled(format!("{sym} {}", t.target), style),
            Span::styled(format!(" — {}", view.text(actual)), p.muted),
        ]));
    }
    out
}

fn timeline_lines(state: &State, view: &View) -> Vec<Line<'static>> {
    let p = &view.palette;
    let mut out = vec![Line::from(Span::styled("alert timeline", p.title))];
    for c in state.alerts.timeline.iter().rev().take(20) {
        let (word, style) = level(c.level, view);
        let what = if c.raised { "raised " } else { "cleared" };
        out.push(Line::from(vec![
            Span::styled(format!("{} {what} ", units::clock(c.at)), p.muted),
            Span::styled(format!("{} ", word.trim_end()), style),
            Span::styled(view.text(&c.message).into_owned(), p.text),
        ]));
    }
    out
}

pub fn render(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    let b = block("Alerts and diagnosis", Panel::Alerts, view);
    let Some(area_in) = inner(&b, area) else {
        frame.render_widget(b, area);
        return;
    };
    frame.render_widget(b, area);
    let wrap = Wrap { trim: false };
    if area_in.width >= TWO_COLUMNS {
        let [l, r] = Layout::horizontal([Constraint::Percentage(45), Constraint::Min(0)])
            .spacing(1)
            .areas(area_in);
        let mut left = alert_lines(state, view, None);
        left.push(Line::default());
        left.extend(target_lines(view));
        if view.zoom {
            left.push(Line::default());
            left.extend(timeline_lines(state, view));
        }
        frame.render_widget(Paragraph::new(left).wrap(wrap), l);
        let evidence_w = (!view.zoom).then_some(usize::from(r.width));
        frame.render_widget(
            Paragraph::new(finding_lines(state, view, evidence_w)).wrap(wrap),
            r,
        );
    } else {
        let one_line = (!view.zoom).then_some(usize::from(area_in.width));
        let mut lines = alert_lines(state, view, one_line);
        lines.extend(finding_lines(state, view, one_line));
        lines.extend(target_lines(view));
        frame.render_widget(Paragraph::new(lines).wrap(wrap), area_in);
    }
}
