//! Health endpoints and WebSockets: the newest answer of each path with its latency, whether a
//! 503 is the service failing to start, and whether failure is consistent across tries.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{FAIL, OK, block, cell, inner, rcell};
use crate::event::HttpCheck;
use crate::state::State;
use crate::state::endpoints::{PathState, WsState};
use crate::ui::text::{Piece, pack, spans_width};
use crate::ui::view::{Panel, View};
use crate::units;

/// Full path when there is room, else its last segment (`/health/database` → `database`).
fn path_label(path: &str, wide: bool) -> &str {
    if wide {
        return path;
    }
    path.rsplit('/').find(|s| !s.is_empty()).unwrap_or(path)
}

fn status_text(c: &HttpCheck) -> String {
    match (c.status, &c.error) {
        (Some(s), _) => format!("{} {s}", if c.ok { OK } else { FAIL }),
        (None, Some(e)) => format!("{FAIL} {}", e.class),
        (None, None) => format!("{FAIL} ?"),
    }
}

fn notes(path: &PathState, c: &HttpCheck, tries: u32, startup: &str, view: &View) -> Vec<Piece> {
    let p = &view.palette;
    let mut out = Vec::new();
    if c.startup_failure {
        out.push(Piece::one(0, startup.to_string(), p.fail));
    }
    // Consistency needs at least two tries to mean anything.
    let consistency = path
        .consistency(tries)
        .filter(|k| tries >= 2 && k.of >= 2 && k.failed > 0);
    if let Some(k) = consistency {
        let (word, style) = if k.consistent {
            ("consistent", p.fail)
        } else {
            ("intermittent", p.warn)
        };
        out.push(Piece::one(
            1,
            format!(" {}/{} {word}", k.failed, k.of),
            style,
        ));
    }
    if c.fell_back {
        out.push(Piece::one(
            2,
            format!(" (fell back to {})", c.path),
            p.muted,
        ));
    }
    out
}

fn path_row(
    name: &str,
    path: &PathState,
    tries: u32,
    widths: (usize, usize),
    width: usize,
    view: &View,
) -> Line<'static> {
    let p = &view.palette;
    let (name_w, path_w) = widths;
    let wide = path_w >= 16;
    let mut spans = vec![
        Span::styled(format!("{} ", cell(name, name_w)), p.text),
        Span::styled(
            format!("{} ", cell(path_label(&path.requested_path, wide), path_w)),
            p.muted,
        ),
    ];
    let Some((_, c)) = &path.last else {
        spans.push(Span::styled(
            format!("{}  not checked yet", units::NONE),
            p.muted,
        ));
        return Line::from(spans);
    };
    let style = if c.ok { p.ok } else { p.fail };
    spans.push(Span::styled(
        format!("{} ", cell(&status_text(c), 6)),
        style,
    ));
    spans.push(Span::styled(
        format!("{} ", rcell(&units::ms(c.latency_ms), 7)),
        p.text,
    ));
    // Notes, whole or not at all: the startup failure first, then whether failure is
    // consistent across tries, then a fallback. Short of room, "! startup" says the first in
    // fewer columns so the second still fits.
    let used = spans_width(&spans);
    let room = width.saturating_sub(used);
    let long = notes(path, c, tries, "! startup failure", view);
    let all: usize = long.iter().map(|p| spans_width(&p.spans)).sum();
    let notes = if all <= room {
        pack(long, room)
    } else {
        pack(notes(path, c, tries, "! startup", view), room)
    };
    spans.extend(notes);
    Line::from(spans)
}

/// `WebSocket ✓ up handshake 2.1 ms · rtt 0.4 ms ws://…`: the state first, then the
/// times, then the URL, each whole or not at all.
fn ws_row(ws: &WsState, width: usize, view: &View) -> Line<'static> {
    let p = &view.palette;
    let mut pieces = vec![Piece::one(0, "WebSocket ", p.text)];
    match &ws.last {
        None => pieces.push(Piece::one(
            0,
            format!("{}  not checked yet ", units::NONE),
            p.muted,
        )),
        Some((_, c)) if c.ok => {
            pieces.push(Piece::one(0, format!("{OK} up "), p.ok));
            pieces.push(Piece::one(
                1,
                format!(
                    "handshake {} · rtt {} ",
                    units::opt_ms(c.connect_ms),
                    units::opt_ms(c.rtt_ms)
                ),
                p.text,
            ));
        }
        Some((_, c)) => {
            pieces.push(Piece::one(0, format!("{FAIL} down "), p.fail));
            let why = c
                .error
                .as_ref()
                .map_or_else(|| "failed".to_string(), crate::event::Failure::compact);
            pieces.push(Piece::one(1, format!("{why} "), p.fail));
        }
    }
    // The URL whole, or none of it: a cut URL points nowhere.
    pieces.push(Piece::one(2, view.text(&ws.url).into_owned(), p.muted));
    Line::from(pack(pieces, width))
}

pub fn render(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    let b = block("Endpoints", Panel::Endpoints, view);
    let Some(area_in) = inner(&b, area) else {
        frame.render_widget(b, area);
        return;
    };
    frame.render_widget(b, area);
    let eps = &state.endpoints;
    let w = usize::from(area_in.width);
    if eps.endpoints.is_empty() && eps.websockets.is_empty() {
        frame.render_widget(
            Paragraph::new(super::hint(
                "no endpoints configured ([[endpoints]] in the config)",
                view,
            )),
            area_in,
        );
        return;
    }
    let name_w = eps
        .endpoints
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 12);
    let path_w = if w >= 56 { 16 } else { 8 };
    let tries = state.cfg.tries.max(1);
    let rows: usize = eps
        .endpoints
        .iter()
        .map(|e| e.paths.len().max(1))
        .sum::<usize>()
        + eps.websockets.len();
    let room = usize::from(area_in.height);
    let mut lines = Vec::with_capacity(room);
    if room > rows {
        let head = if name_w >= 8 { "endpoint" } else { "name" };
        lines.push(Line::from(Span::styled(
            format!(
                "{} {} {} {}",
                cell(head, name_w),
                cell("path", path_w),
                cell("status", 6),
                rcell("time", 7)
            ),
            view.palette.muted,
        )));
    }
    // Short of rows: one line per endpoint, its worst path (a failure before a success).
    let compact = room < rows;
    for e in &eps.endpoints {
        let name = view.text(&e.name).into_owned();
        if e.paths.is_empty() {
            lines.push(Line::from(vec![
                Span::styled(format!("{} ", cell(&name, name_w)), view.palette.text),
                Span::styled(
                    format!("{}  not checked yet", units::NONE),
                    view.palette.muted,
                ),
            ]));
            continue;
        }
        if compact {
            let worst = e
                .paths
                .iter()
                .max_by_key(|p| p.last.as_ref().map(|(_, c)| !c.ok))
                .unwrap_or(&e.paths[0]);
            lines.push(path_row(&name, worst, tries, (name_w, path_w), w, view));
            continue;
        }
        for (i, path) in e.paths.iter().enumerate() {
            let label = if i == 0 { name.as_str() } else { "" };
            lines.push(path_row(label, path, tries, (name_w, path_w), w, view));
        }
    }
    for ws in &eps.websockets {
        lines.push(ws_row(ws, w, view));
    }
    frame.render_widget(Paragraph::new(lines), area_in);
}
