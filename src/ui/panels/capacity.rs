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
use crate::ui::text::{self, Piece};
use crate::ui::view::{Panel, View};
use crate::units;

fn opt(v: Option<u32>) -> String {
    v.map_or_else(|| "unknown".into(), |v| v.to_string())
}

/// The running test's progress bar, or the finished test's headline.
fn headline(run: &CapacityRun, width: usize, view: &View) -> Vec<Span<'static>> {
    let p = &view.palette;
    let s = &run.started;
    let Some((at, f)) = &run.finished else {
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
        return vec![
            Span::styled(head, p.accent),
            Span::styled(full, p.bar),
            Span::styled(empty, p.bar_empty),
            Span::styled(label, p.text),
        ];
    };
    let how = if f.aborted {
        format!(
            " — stopped early: {}",
            view.text(f.reason.as_deref().unwrap_or("aborted"))
        )
    } else {
        String::new()
    };
    vec![Span::styled(
        format!(
            "test #{} · {} · took {}{how}",
            s.run,
            units::clock(*at),
            units::ms(f.elapsed_ms)
        ),
        if f.aborted { p.warn } else { p.muted },
    )]
}

/// `✓ 6 ok  ✗ 4 failed  C 4 capacity`, one space apart when narrow.
fn counts(run: &CapacityRun, width: usize, view: &View) -> Vec<Span<'static>> {
    let p = &view.palette;
    let gap = if width >= 40 { "  " } else { " " };
    vec![
        Span::styled(format!("{OK} {} ok{gap}", run.succeeded), p.ok),
        Span::styled(
            format!("{FAIL} {} failed{gap}", run.failed),
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
    ]
}

fn errors(run: &CapacityRun, view: &View) -> Option<Vec<Span<'static>>> {
    if run.errors_by_class.is_empty() {
        return None;
    }
    let p = &view.palette;
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
    Some(vec![
        Span::styled("errors ", p.muted),
        Span::styled(list, p.fail),
    ])
}

fn server(run: &CapacityRun, view: &View) -> Vec<Span<'static>> {
    let p = &view.palette;
    let s = &run.started;
    vec![
        Span::styled("server max ", p.muted),
        Span::styled(opt(s.server_max_connections), p.text),
        Span::styled(" · in use ", p.muted),
        Span::styled(opt(s.server_connections_in_use), p.text),
        Span::styled(" · reserved ", p.muted),
        Span::styled(opt(s.server_reserved_connections), p.text),
    ]
}

fn cap(run: &CapacityRun, view: &View) -> Vec<Span<'static>> {
    let p = &view.palette;
    let s = &run.started;
    let mut cap = vec![
        Span::styled(
            format!("tried {} of {} · cap ", s.planned, s.requested),
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
    cap
}

/// Why the cap is what it is, and the slots the test leaves to everyone else.
fn headroom(run: &CapacityRun, view: &View) -> Vec<Vec<Span<'static>>> {
    let p = &view.palette;
    let Some(h) = &run.started.headroom else {
        return Vec::new();
    };
    let mut out = vec![vec![Span::styled(
        format!("cap {}: {}", h.cap, view.text(&h.reason)),
        p.muted,
    )]];
    if let (Some(left), Some(reserved)) = (h.left, h.reserved_slots) {
        out.push(vec![
            Span::styled("headroom left ", p.muted),
            Span::styled(left.to_string(), if left > 0 { p.text } else { p.warn }),
            Span::styled(format!(" ordinary + {reserved} reserved"), p.muted),
        ]);
    }
    out
}

/// The result as chunks with a rank each (lower stays longer): what got in and what was
/// refused first, the headline, the size and cap that bounded the test, then the server's
/// numbers and connect times.
fn chunks(run: &CapacityRun, width: usize, view: &View) -> Vec<(u8, Vec<Span<'static>>)> {
    let p = &view.palette;
    let mut out = vec![
        (2, headline(run, width, view)),
        (0, counts(run, width, view)),
        (3, cap(run, view)),
    ];
    out.extend(errors(run, view).map(|e| (1, e)));
    out.extend(headroom(run, view).into_iter().map(|h| (3, h)));
    out.push((4, server(run, view)));
    if let Some(avg) = run.avg_connect_ms() {
        out.push((
            5,
            vec![Span::styled(
                format!(
                    "connect avg {}, max {}",
                    units::ms(avg),
                    units::ms(run.connect_max_ms)
                ),
                p.muted,
            )],
        ));
    }
    if let Some((c, e)) = run.examples.iter().next().filter(|_| view.zoom) {
        out.push((
            6,
            vec![Span::styled(
                format!("e.g. {c}: {}", view.text(&e.message)),
                p.muted,
            )],
        ));
    }
    out
}

/// As many of the chunks as fit in `rows` lines of `width`, packed side by side where they
/// fit, in their order; the highest-ranked go first when short of rows.
fn result_lines(run: &CapacityRun, width: usize, rows: usize, view: &View) -> Vec<Line<'static>> {
    let mut chunks = chunks(run, width, view);
    let sep = Span::styled(" · ", view.palette.muted);
    loop {
        let lines = text::flow(
            chunks.iter().map(|(_, c)| c.clone()).collect(),
            width,
            sep.clone(),
        );
        if lines.len() <= rows {
            return lines;
        }
        if chunks.len() <= 1 {
            // One chunk wider than the rows allow: its head, ended with `…`.
            let mut lines: Vec<Line<'static>> = lines.into_iter().take(rows).collect();
            if let Some(last) = lines.pop() {
                lines.push(text::end_early(last, width));
            }
            return lines;
        }
        let worst = chunks
            .iter()
            .enumerate()
            .max_by_key(|(i, (rank, _))| (*rank, *i))
            .map_or(0, |(i, _)| i);
        chunks.remove(worst);
    }
}

/// The key that starts a test, with the size it will have. Not in a replay: nothing can be
/// started there, and the row is worth more to the recorded result.
fn key_hint(state: &State, width: usize, view: &View) -> Option<Line<'static>> {
    if view.mode.is_replay() {
        return None;
    }
    let p = &view.palette;
    let size = match view.capacity_connections {
        Some(n) => format!(" of {n} connection{}", if n == 1 { "" } else { "s" }),
        None => format!(" (≤ {})", state.cfg.capacity_cap),
    };
    let mut pieces = vec![
        Piece::new(
            0,
            vec![
                Span::styled("c", p.key),
                Span::styled(" start a test", p.muted),
            ],
        ),
        Piece::one(1, size, p.muted),
    ];
    if needs_confirmation(&state.cfg.environment) {
        pieces.push(Piece::one(2, " · asks first", p.muted));
    }
    // Once the pool probe has been used, the key that stops or reruns it.
    if let Some(run) = &state.pool.last {
        let what = if run.running() {
            " stop the pool"
        } else {
            " pool again"
        };
        pieces.push(Piece::new(
            3,
            vec![
                Span::styled(" · ", p.muted),
                Span::styled("o", p.key),
                Span::styled(what, p.muted),
            ],
        ));
    }
    Some(Line::from(text::pack(pieces, width)))
}

/// The capacity test's rows and the pool probe's below them, once there is a pool run: the
/// pool gets half, or every row while there is no capacity test to show.
fn split(state: &State, rows: usize) -> (usize, usize) {
    match (&state.capacity.last, &state.pool.last) {
        (_, None) => (rows, 0),
        (None, Some(_)) => (0, rows),
        (Some(_), Some(_)) => {
            let cap = (rows / 2).clamp(1, rows.saturating_sub(1).max(1));
            (cap, rows.saturating_sub(cap))
        }
    }
}

pub(crate) fn render(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    let title = if state.pool.last.is_some() {
        "Capacity · Pool"
    } else {
        "Capacity"
    };
    let b = block(title, Panel::Capacity, view);
    let Some(area_in) = inner(&b, area) else {
        frame.render_widget(b, area);
        return;
    };
    frame.render_widget(b, area);
    let w = usize::from(area_in.width);
    let hint = key_hint(state, w, view);
    let rows = usize::from(area_in.height).saturating_sub(usize::from(hint.is_some()));
    let (cap_rows, pool_rows) = split(state, rows);
    let mut lines = match &state.capacity.last {
        Some(run) => result_lines(run, w, cap_rows.max(1), view),
        None if cap_rows > 0 => vec![super::hint("no capacity test yet", view)],
        None => Vec::new(),
    };
    let pool = state
        .pool
        .last
        .as_ref()
        .zip(view.judged.judgement.pool.as_ref());
    if let Some((run, j)) = pool.filter(|_| pool_rows > 0) {
        lines.truncate(cap_rows);
        lines.resize(cap_rows, Line::default());
        lines.extend(super::pool::lines(run, j, w, pool_rows, view));
    }
    if let Some(hint) = hint {
        // The hint goes on the last row so it stays in the same place whatever the result.
        lines.truncate(rows);
        lines.resize(rows, Line::default());
        lines.push(hint);
    }
    frame.render_widget(Paragraph::new(lines), area_in);
}
