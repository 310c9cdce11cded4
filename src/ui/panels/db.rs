//! "VPC connection attempts": success rate, percentiles, step averages and error classes;
//! the latency chart; the newest attempts with their step times and failure class.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{FAIL, OK, block, cell, chart, fit, inner, rcell};
use crate::event::DbAttempt;
use crate::state::State;
use crate::state::verdict::Verdict;
use crate::ui::fmt;
use crate::ui::view::{Panel, Scale, View};
use crate::units;

/// Side-by-side stats and chart from this inner width; stacked below it.
const SIDE_BY_SIDE: u16 = 88;
const STATS_W: u16 = 34;

/// The judge's colour for the success rate of "now" (its thresholds, not the panel's).
fn rate_style(view: &View) -> Style {
    let p = &view.palette;
    match view.derived.judgement.db.rate {
        Some(Verdict::Pass) => p.ok,
        Some(Verdict::Warn) => p.warn,
        Some(Verdict::Fail) | None => p.fail,
    }
}

/// The headline is "now" (what the rules judge); the run's total follows, labelled, once the
/// two differ.
fn success_lines(width: usize, view: &View) -> Vec<Line<'static>> {
    let p = &view.palette;
    let db = &view.derived.judgement.db;
    let (now, total) = (db.now, db.total);
    let Some(rate) = now.success_rate else {
        return vec![Line::from(Span::styled(
            "success —  (no attempt yet)",
            p.muted,
        ))];
    };
    let whole = now.attempts == total.attempts;
    let label = if whole {
        format!(" {} ({}/{})", units::pct(rate), now.successes, now.attempts)
    } else {
        format!(" {} of last {}", units::pct(rate), now.attempts)
    };
    let bar_w = width.saturating_sub(8 + label.chars().count()).min(24);
    let (full, empty) = fmt::bar(rate, bar_w);
    let style = rate_style(view);
    let mut lines = vec![Line::from(vec![
        Span::styled("success ", p.muted),
        Span::styled(full, style),
        Span::styled(empty, p.bar_empty),
        Span::styled(label, style),
    ])];
    if !whole {
        lines.push(Line::from(Span::styled(
            format!(
                "total success {} ({}/{})",
                units::opt_pct(total.success_rate),
                total.successes,
                total.attempts
            ),
            p.muted,
        )));
    }
    lines
}

fn streak_line(state: &State, view: &View) -> Option<Line<'static>> {
    let p = &view.palette;
    let db = &state.db;
    let since = db.down_since?;
    let now = view.now.or(state.last_at)?;
    let secs = (now - since).num_milliseconds().max(0) as f64 / 1000.0;
    Some(Line::from(Span::styled(
        format!(
            "{FAIL} failing for {} ({} in a row)",
            units::span(secs),
            db.streak_failures
        ),
        p.fail,
    )))
}

/// `label value` pairs in as many aligned columns as the width allows.
fn grid(items: Vec<(&'static str, String)>, width: usize, view: &View) -> Vec<Line<'static>> {
    let p = &view.palette;
    let cell_w = items
        .iter()
        .map(|(l, v)| l.chars().count() + v.chars().count() + 3)
        .max()
        .unwrap_or(1);
    let per_line = (width / cell_w).max(1);
    items
        .chunks(per_line)
        .map(|row| {
            let mut spans = Vec::new();
            for (label, value) in row {
                let pad = cell_w - label.chars().count() - value.chars().count() - 1;
                spans.push(Span::styled(format!("{label} "), p.muted));
                spans.push(Span::styled(format!("{value}{}", " ".repeat(pad)), p.text));
            }
            Line::from(spans)
        })
        .collect()
}

fn percentile_lines(width: usize, view: &View) -> Vec<Line<'static>> {
    let s = view.derived.judgement.db.total;
    let items = [
        ("p50", s.p50_ms),
        ("p95", s.p95_ms),
        ("p99", s.p99_ms),
        ("avg", s.avg_ms),
    ];
    ms_grid(items, width, view)
}

/// Step averages over successful attempts (a failed attempt's later steps never ran).
fn steps_lines(state: &State, width: usize, view: &View) -> Vec<Line<'static>> {
    let a = state.db.step_averages();
    let items = [
        ("dns", a.dns),
        ("tcp", a.tcp),
        ("hs", a.handshake),
        ("qry", a.query),
    ];
    ms_grid(items, width, view)
}

fn ms_grid(
    items: [(&'static str, Option<f64>); 4],
    width: usize,
    view: &View,
) -> Vec<Line<'static>> {
    let cells = items.into_iter().map(|(l, v)| (l, units::opt_ms(v)));
    grid(cells.collect(), width, view)
}

fn classes_line(state: &State, width: usize, view: &View) -> Line<'static> {
    let p = &view.palette;
    let mut classes: Vec<_> = state.db.classes.iter().collect();
    if classes.is_empty() {
        let text = if view.derived.judgement.db.total.attempts > 0 {
            "errors none"
        } else {
            "errors —"
        };
        return Line::from(Span::styled(text, p.muted));
    }
    classes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let list = classes
        .iter()
        .map(|(c, n)| format!("{c} ×{n}"))
        .collect::<Vec<_>>()
        .join(" · ");
    Line::from(vec![
        Span::styled("errors ", p.muted),
        Span::styled(fit(&list, width.saturating_sub(7)), p.fail),
    ])
}

fn stats_lines(state: &State, width: usize, view: &View, stacked: bool) -> Vec<Line<'static>> {
    let p = &view.palette;
    let s = view.derived.judgement.db.now;
    let mut lines = success_lines(width, view);
    lines.extend(streak_line(state, view));
    lines.extend(percentile_lines(width, view));
    if !stacked {
        lines.push(Line::from(Span::styled(
            "steps, successful attempts:",
            p.muted,
        )));
    }
    if !stacked || state.db.step_averages().tcp.is_some() {
        lines.extend(steps_lines(state, width, view));
    }
    lines.push(classes_line(state, width, view));
    if !stacked {
        if let Some(v) = s.timeout_violation_rate {
            lines.push(Line::from(vec![
                Span::styled("timeout violations ", p.muted),
                Span::styled(units::pct(v), if v > 0.0 { p.warn } else { p.text }),
            ]));
        }
        let scale = match view.scale {
            Scale::Robust => "scale ≈p95, ▲ above (z: full)",
            Scale::Full => "scale full (z: robust)",
        };
        lines.push(Line::from(Span::styled(scale, p.muted)));
        lines.push(Line::from(Span::styled(
            "T timeout  C capacity  ✗ error",
            p.muted,
        )));
    }
    lines
}

/// Columns of the attempts table; wide tables add the sequence number and the message.
struct Cols {
    seq: bool,
    message: bool,
}

fn table_header(c: &Cols, view: &View) -> Line<'static> {
    let mut h = format!("{} ", cell("time", 8));
    if c.seq {
        h.push_str(&rcell("#", 5));
        h.push(' ');
    }
    h.push_str(&format!(
        "{} {} {} {} {} {} error",
        cell("result", 6),
        rcell("total", 7),
        rcell("dns", 4),
        rcell("tcp", 4),
        rcell("hs", 4),
        rcell("qry", 4),
    ));
    h.push_str("  (ms)");
    Line::from(Span::styled(h, view.palette.muted))
}

fn attempt_row(
    at: chrono::DateTime<chrono::Utc>,
    a: &DbAttempt,
    c: &Cols,
    width: usize,
    view: &View,
) -> Line<'static> {
    let p = &view.palette;
    let (res, style) = if a.ok {
        (format!("{OK} ok"), p.ok)
    } else {
        (format!("{FAIL} fail"), p.fail)
    };
    let mut spans = vec![Span::styled(format!("{} ", units::clock(at)), p.muted)];
    if c.seq {
        spans.push(Span::styled(
            format!("{} ", rcell(&a.seq.to_string(), 5)),
            p.muted,
        ));
    }
    spans.push(Span::styled(format!("{} ", cell(&res, 6)), style));
    let st = &a.steps_ms;
    spans.push(Span::styled(
        format!(
            "{} {} {} {} {} ",
            rcell(&fmt::ms_short(Some(a.total_ms)), 7),
            rcell(&fmt::ms_short(st.dns), 4),
            rcell(&fmt::ms_short(st.tcp), 4),
            rcell(&fmt::ms_short(st.handshake), 4),
            rcell(&fmt::ms_short(st.query), 4),
        ),
        p.text,
    ));
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    if let Some(e) = &a.error {
        let msg = if c.message {
            format!(" — {}", view.text(&e.message))
        } else {
            String::new()
        };
        let text = format!("{}{msg}", e.compact());
        spans.push(Span::styled(fit(&text, width.saturating_sub(used)), p.fail));
    }
    Line::from(spans)
}

fn table(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    if area.height == 0 {
        return;
    }
    let w = usize::from(area.width);
    let c = Cols {
        seq: w >= 72,
        message: w >= 100,
    };
    let rows = usize::from(area.height).saturating_sub(1);
    let mut lines = vec![table_header(&c, view)];
    let newest: Vec<_> = state.db.attempts.iter().rev().take(rows).collect();
    if newest.is_empty() {
        lines.push(super::hint("no attempt yet", view));
    }
    // Newest at the bottom, like a log: the eye goes from the chart's right edge downwards.
    for (at, a) in newest.into_iter().rev() {
        lines.push(attempt_row(*at, a, &c, w, view));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

pub fn render(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    let b = block("VPC connection attempts", Panel::Db, view);
    let Some(area_in) = inner(&b, area) else {
        frame.render_widget(b, area);
        return;
    };
    let last = state
        .db
        .attempts
        .last()
        .map(|(at, _)| {
            let now = view.now.or(state.last_at).unwrap_or(*at);
            let ago = (now - *at).num_milliseconds().max(0) as f64 / 1000.0;
            format!(" last {} ago ", units::span(ago))
        })
        .unwrap_or_default();
    let b = b.title(Line::from(Span::styled(last, view.palette.muted)).right_aligned());
    frame.render_widget(b, area);
    let h = area_in.height;
    let side = area_in.width >= SIDE_BY_SIDE;
    let table_rows = if view.zoom {
        h / 3
    } else {
        (h / 3).clamp(2, 7)
    };
    if side {
        let [top, bottom] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(table_rows)]).areas(area_in);
        let [ch, st] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(STATS_W)]).areas(top);
        chart::render(frame.buffer_mut(), ch, &state.db.attempts, view);
        let stats = stats_lines(state, usize::from(STATS_W - 1), view, false);
        let st = Rect {
            x: st.x + 1,
            width: st.width.saturating_sub(1),
            ..st
        };
        frame.render_widget(Paragraph::new(stats), st);
        table(frame, bottom, state, view);
    } else {
        let stats = stats_lines(state, usize::from(area_in.width), view, true);
        // The chart keeps at least 4 rows (its minimum); the stats get what is left.
        let stats_h = (stats.len() as u16).min(h.saturating_sub(table_rows + 4));
        let [st, ch, bottom] = Layout::vertical([
            Constraint::Length(stats_h),
            Constraint::Min(0),
            Constraint::Length(table_rows),
        ])
        .areas(area_in);
        frame.render_widget(Paragraph::new(stats), st);
        chart::render(frame.buffer_mut(), ch, &state.db.attempts, view);
        table(frame, bottom, state, view);
    }
}
