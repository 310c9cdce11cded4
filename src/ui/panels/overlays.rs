//! What is drawn over the dashboard: help, the event log, the capacity-test confirmation, and
//! the message for a terminal too small to hold the dashboard.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use super::{fit, inner};
use crate::state::State;
use crate::state::event_log::{Level, LogEntry};
use crate::ui::draw::{MIN_HEIGHT, MIN_WIDTH};
use crate::ui::text::wrap;
use crate::ui::view::View;
use crate::units;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    r
}

fn frame_block<'a>(title: String, view: &View) -> Block<'a> {
    let p = &view.palette;
    Block::bordered()
        .border_type(BorderType::Double)
        .border_style(p.border_focus)
        .style(p.base)
        .title(Line::from(Span::styled(format!(" {title} "), p.title)))
}

/// Below 80×24 the dashboard would lie by omission; say so, and keep the one line that
/// matters (the verdict) so a tiny tmux pane is still useful.
pub(crate) fn too_small(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let p = &view.palette;
    let w = usize::from(area.width);
    let verdict = if state.events == 0 {
        "no data yet".to_string()
    } else {
        let j = &view.judged.judgement;
        let db = j.db.now.success_rate.map_or_else(
            || "db —".to_string(),
            |r| format!("db {} ok", units::pct(r)),
        );
        format!(
            "{} · {db} · {} alert{}",
            j.verdict.as_str().to_uppercase(),
            state.alerts.active.len(),
            if state.alerts.active.len() == 1 {
                ""
            } else {
                "s"
            }
        )
    };
    let lines = vec![
        Line::from(Span::styled(
            fit(
                &format!("terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT})"),
                w,
            ),
            p.warn,
        )),
        Line::from(Span::styled(
            fit(&format!("now {}×{}", area.width, area.height), w),
            p.muted,
        )),
        Line::from(Span::styled(fit(&verdict, w), p.text)),
        Line::from(Span::styled(fit("q quit", w), p.muted)),
    ];
    let h = (lines.len() as u16).min(area.height);
    let [r] = Layout::vertical([Constraint::Length(h)])
        .flex(Flex::Center)
        .areas(area);
    frame.render_widget(Paragraph::new(lines).centered(), r);
}

/// Every key of the keymap in force, grouped by scope; groups flow into as many columns as
/// the height needs and are split only when one alone is taller than the overlay.
pub(crate) fn help(frame: &mut Frame<'_>, area: Rect, view: &View) {
    let p = &view.palette;
    let mut groups: Vec<Vec<Line<'static>>> = Vec::new();
    let mut last_scope = "";
    for (scope, keys, what) in &view.help {
        if scope != last_scope || groups.is_empty() {
            groups.push(vec![Line::from(Span::styled(scope.clone(), p.title))]);
            last_scope = scope;
        }
        if let Some(g) = groups.last_mut() {
            g.push(Line::from(vec![
                Span::styled(format!("  {keys:<11} "), p.key),
                Span::styled(what.clone(), p.text),
            ]));
        }
    }
    let total: usize = groups.iter().map(|g| g.len() + 1).sum();
    let r = centered(area, 104, total as u16 + 2);
    let b = frame_block("Keys — Esc or ? closes".into(), view);
    frame.render_widget(Clear, r);
    let Some(i) = inner(&b, r) else { return };
    frame.render_widget(b, r);
    let h = usize::from(i.height).max(1);
    let mut columns: Vec<Vec<Line<'static>>> = vec![Vec::new()];
    for g in groups {
        let need = g.len() + 1;
        let fits = columns
            .last()
            .is_some_and(|c| c.is_empty() || c.len() + need <= h);
        if !fits {
            columns.push(Vec::new());
        }
        for line in g {
            if columns.last().is_some_and(|c| c.len() >= h) {
                columns.push(Vec::new());
            }
            if let Some(c) = columns.last_mut() {
                c.push(line);
            }
        }
        if let Some(c) = columns.last_mut() {
            c.push(Line::default());
        }
    }
    let n = columns.len() as u32;
    let areas = Layout::horizontal(vec![Constraint::Ratio(1, n); columns.len()]).split(i);
    for (col, a) in columns.into_iter().zip(areas.iter()) {
        frame.render_widget(Paragraph::new(col), *a);
    }
}

fn level_word(l: Level, view: &View) -> (&'static str, ratatui::style::Style) {
    let p = &view.palette;
    match l {
        Level::Info => ("info ", p.muted),
        Level::Warn => ("WARN ", p.warn),
        Level::Error => ("ERROR", p.fail),
    }
}

/// Columns before an entry's text (`10:03:05 ERROR startup   `): continuation lines start
/// under the text.
const LOG_INDENT: usize = 25;

fn log_entry(e: &LogEntry, width: usize, view: &View) -> Vec<Line<'static>> {
    let p = &view.palette;
    let (word, style) = level_word(e.level, view);
    let spans = [
        Span::styled(format!("{} ", units::clock(e.at)), p.muted),
        Span::styled(format!("{word} "), style),
        Span::styled(format!("{:<9} ", e.source), p.accent),
        Span::styled(view.text(&e.text).into_owned(), p.text),
    ];
    wrap(&spans, width, LOG_INDENT)
}

/// The event log: state changes, newest at the bottom, each entry wrapped whole (a long line
/// is read in full, never cut); scrolled by entries; masked like the rest.
pub(crate) fn log(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    let entries: Vec<&LogEntry> = state.log.entries().collect();
    let n = entries.len();
    let end = n.saturating_sub(view.log_scroll.min(n.saturating_sub(1)));
    let inner_w = usize::from(area.width.saturating_sub(2));
    let rows = usize::from(area.height.saturating_sub(2));
    // From the newest entry in view upwards, whole entries while they fit.
    let mut blocks: Vec<Vec<Line<'static>>> = Vec::new();
    let mut used = 0;
    for e in entries[..end].iter().rev() {
        let lines = log_entry(e, inner_w, view);
        if used + lines.len() > rows && !blocks.is_empty() {
            break;
        }
        used += lines.len();
        blocks.push(lines);
    }
    let start = end - blocks.len();
    let title = format!(
        "Event log — {}–{end} of {n} ({} ever) · ↑↓ PgUp PgDn Home End · Esc closes",
        (start + 1).min(end),
        state.log.total()
    );
    let b = frame_block(title, view);
    frame.render_widget(Clear, area);
    let Some(i) = inner(&b, area) else { return };
    frame.render_widget(b, area);
    let lines: Vec<Line<'static>> = blocks.into_iter().rev().flatten().collect();
    if lines.is_empty() {
        frame.render_widget(Paragraph::new(super::hint("nothing logged yet", view)), i);
    } else {
        frame.render_widget(Paragraph::new(lines), i);
    }
}

/// What the test will open, in its real size when known.
fn capacity_size(state: &State, view: &View) -> String {
    let cap = state.cfg.capacity_cap;
    match view.capacity_connections {
        Some(1) => format!("It opens 1 connection (safety cap {cap}) and holds it briefly."),
        Some(n) => {
            format!("It opens {n} connections at once (safety cap {cap}) and holds them briefly.")
        }
        None => format!(
            "It opens up to {cap} connections at once (the safety cap) and holds them briefly."
        ),
    }
}

/// Asked before a capacity test in production: it opens many connections at once to a
/// database that may already be struggling.
pub(crate) fn confirm_capacity(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    let question = format!(
        "Start a capacity test against {}?",
        state.cfg.environment.to_uppercase()
    );
    let size = capacity_size(state, view);
    confirm(frame, area, view, "Capacity test — confirm", question, size);
}

/// Asked before the pool probe in production: it opens up to the service's whole pool.
pub(crate) fn confirm_pool(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    let question = format!(
        "Start the pool probe against {}?",
        state.cfg.environment.to_uppercase()
    );
    let size = match view.pool_connections {
        Some(n) => format!(
            "It builds the service's pool (up to {n} connections, fewer if the server has less headroom) and borrows from it for a while."
        ),
        None => "It builds the service's pool and borrows from it for a while.".to_string(),
    };
    confirm(frame, area, view, "Pool probe — confirm", question, size);
}

/// A `y`-or-anything-else question in a box.
fn confirm(
    frame: &mut Frame<'_>,
    area: Rect,
    view: &View,
    title: &str,
    question: String,
    size: String,
) {
    let p = &view.palette;
    let r = centered(area, 64, 8);
    let b = frame_block(title.into(), view);
    frame.render_widget(Clear, r);
    let Some(i) = inner(&b, r) else { return };
    frame.render_widget(b, r);
    let lines = vec![
        Line::from(Span::styled(question, p.warn)),
        Line::from(Span::styled(size, p.text)),
        Line::default(),
        Line::from(vec![
            Span::styled("y", p.key),
            Span::styled(" start    ", p.text),
            Span::styled("any other key", p.key),
            Span::styled(" cancel", p.text),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), i);
}
