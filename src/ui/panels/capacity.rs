//! The concurrent-capacity test: how many connections got in, how many were refused for
//! capacity, what the server says its limits are, and the safety cap that bounded the test.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{FAIL, OK, block, inner};
use crate::state::State;
use crate::state::capacity::CapacityRun;
use crate::ui::app::needs_confirmation;
use crate::ui::fmt;
use crate::ui::view::{Panel, View};
use crate::units;

fn opt(v: Option<u32>) -> String {
    v.map_or_else(|| "unknown".into(), |v| v.to_string())
}

fn result_lines(run: &CapacityRun, width: usize, view: &View) -> Vec<Line<'static>> {
    let p = &view.palette;
    let s = &run.started;
    let mut out = Vec::new();
    match &run.finished {
        None => {
            let done = run.attempted.min(s.planned);
            let frac = if s.planned > 0 {
                f64::from(done) / f64::from(s.planned)
            } else {
                0.0
            };
            let head = format!("test #{} running ", s.run);
            let label = format!(" {done}/{}", s.planned);
            let used = head.chars().count() + label.chars().count();
            let (full, empty) = fmt::bar(frac, width.saturating_sub(used).min(30));
            out.push(Line::from(vec![
                Span::styled(head, p.accent),
                Span::styled(full, p.bar),
                Span::styled(empty, p.bar_empty),
                Span::styled(label, p.text),
            ]));
        }
        Some((at, f)) => {
            let how = if f.aborted {
                format!(
                    " — stopped early: {}",
                    view.text(f.reason.as_deref().unwrap_or("aborted"))
                )
            } else {
                String::new()
            };
            out.push(Line::from(Span::styled(
                format!(
                    "test #{} · {} · took {}{how}",
                    s.run,
                    units::clock(*at),
                    units::ms(f.elapsed_ms)
                ),
                if f.aborted { p.warn } else { p.muted },
            )));
        }
    }
    out.push(Line::from(vec![
        Span::styled(format!("{OK} {} ok  ", run.succeeded), p.ok),
        Span::styled(
            format!("{FAIL} {} failed  ", run.failed),
            if run.failed > 0 { p.fail } else { p.muted },
        ),
        Span::styled(
            format!("C {} capacity", run.capacity_errors),
            if run.capacity_errors > 0 {
                p.fail
            } else {
                p.muted
            },
        ),
    ]));
    if !run.errors_by_class.is_empty() {
        let list = run
            .errors_by_class
            .iter()
            .map(|(c, n)| {
                let code = run
                    .examples
                    .get(c)
                    .and_then(|e| e.sqlstate.as_deref())
                    .map(|s| format!(" {s}"))
                    .unwrap_or_default();
                format!("{c}{code} ×{n}")
            })
            .collect::<Vec<_>>()
            .join(" · ");
        out.push(Line::from(vec![
            Span::styled("errors ", p.muted),
            Span::styled(list, p.fail),
        ]));
    }
    out.push(Line::from(vec![
        Span::styled("server max ", p.muted),
        Span::styled(opt(s.server_max_connections), p.text),
        Span::styled(" · in use ", p.muted),
        Span::styled(opt(s.server_connections_in_use), p.text),
        Span::styled(" · reserved ", p.muted),
        Span::styled(opt(s.server_reserved_connections), p.text),
    ]));
    let mut cap = vec![
        Span::styled(
            format!("opened {} of {} · cap ", s.planned, s.requested),
            p.muted,
        ),
        Span::styled(s.cap.to_string(), p.text),
    ];
    if s.capped {
        cap.push(Span::styled(" (capped)", p.warn));
    }
    if s.forced {
        cap.push(Span::styled(" FORCED past it", p.fail));
    }
    out.push(Line::from(cap));
    if let Some(h) = &s.headroom {
        out.push(Line::from(Span::styled(
            format!("cap {}: {}", h.cap, view.text(&h.reason)),
            p.muted,
        )));
        if let (Some(left), Some(reserved)) = (h.left, h.reserved_slots) {
            out.push(Line::from(vec![
                Span::styled("headroom left ", p.muted),
                Span::styled(left.to_string(), if left > 0 { p.text } else { p.warn }),
                Span::styled(format!(" ordinary + {reserved} reserved"), p.muted),
            ]));
        }
    }
    if let Some(avg) = run.avg_connect_ms() {
        out.push(Line::from(Span::styled(
            format!(
                "connect avg {}, max {}",
                units::ms(avg),
                units::ms(run.connect_max_ms)
            ),
            p.muted,
        )));
    }
    if let Some((c, e)) = run.examples.iter().next().filter(|_| view.zoom) {
        out.push(Line::from(Span::styled(
            format!("e.g. {c}: {}", view.text(&e.message)),
            p.muted,
        )));
    }
    out
}

/// The key that starts a test. Not in a replay: nothing can be started there, and the row is
/// worth more to the recorded result.
fn key_hint(state: &State, view: &View) -> Option<Line<'static>> {
    if view.mode.is_replay() {
        return None;
    }
    let p = &view.palette;
    let cap = state.cfg.capacity_cap;
    let what = if needs_confirmation(&state.cfg.environment) {
        format!(" start a test (≤ {cap}, asks to confirm)")
    } else {
        format!(" start a test (≤ {cap} at once)")
    };
    Some(Line::from(vec![
        Span::styled("c", p.key),
        Span::styled(what, p.muted),
    ]))
}

fn content(state: &State, width: usize, view: &View) -> Vec<Line<'static>> {
    match &state.capacity.last {
        Some(run) => result_lines(run, width, view),
        None => vec![super::hint("no capacity test yet", view)],
    }
}

/// Rows the panel needs: its lines, the key hint, the borders. The layout gives it no more,
/// so an idle capacity panel does not take space the diagnosis could use.
pub fn wanted_height(state: &State, view: &View) -> u16 {
    // Width does not change the line count (lines are cut, not wrapped).
    let lines = content(state, 40, view).len() + usize::from(!view.mode.is_replay());
    u16::try_from(lines + 2).unwrap_or(u16::MAX)
}

pub fn render(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    let b = block("Capacity", Panel::Capacity, view);
    let Some(area_in) = inner(&b, area) else {
        frame.render_widget(b, area);
        return;
    };
    frame.render_widget(b, area);
    let mut lines = content(state, usize::from(area_in.width), view);
    let room = usize::from(area_in.height);
    if let Some(hint) = key_hint(state, view) {
        // The hint goes on the last row so it stays visible however much the results fill.
        lines.truncate(room.saturating_sub(1));
        lines.resize(room.saturating_sub(1), Line::default());
        lines.push(hint);
    } else {
        lines.truncate(room);
    }
    frame.render_widget(Paragraph::new(lines), area_in);
}
