//! Health endpoints and WebSockets: the newest answer of each path with its latency, whether a
//! 503 is the service failing to start, and whether failure is consistent across tries.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{FAIL, OK, block, cell, inner, rcell};
use crate::event::HttpCheck;
use crate::state::State;
use crate::state::endpoints::{EndpointState, Health, PathState, WsState, healthy};
use crate::state::judge::PathJudgement;
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
        (Some(s), _) => format!("{} {s}", if healthy(c) { OK } else { FAIL }),
        (None, Some(e)) => format!("{FAIL} {}", e.class),
        (None, None) => format!("{FAIL} ?"),
    }
}

/// The judge's reading of a path's answers.
fn judged<'a>(view: &'a View, endpoint: &str, path: &PathState) -> Option<&'a PathJudgement> {
    view.judged
        .judgement
        .endpoints
        .iter()
        .find(|j| j.endpoint == endpoint && j.path == path.requested_path)
}

/// What the judge says beyond ok / failed: starting (with its phase), unhealthy, startup
/// failure — `long` spells it out, short of room it says the same in fewer columns.
fn health_note(j: Option<&PathJudgement>, long: bool, view: &View) -> Option<(String, Style)> {
    let p = &view.palette;
    let j = j?;
    match j.health? {
        Health::Ok | Health::Failing => None,
        Health::Starting => {
            let phase = j
                .phase
                .as_deref()
                .filter(|_| long)
                .map(|ph| format!(" ({ph})"))
                .unwrap_or_default();
            Some((format!("… starting{phase}"), p.warn))
        }
        Health::Unhealthy => Some(("! unhealthy".into(), p.fail)),
        Health::StartupFailure if long => Some(("! startup failure".into(), p.fail)),
        Health::StartupFailure => Some(("! startup".into(), p.fail)),
    }
}

/// The judge's words for a path, most important first: what its answer means, whether
/// failing is consistent or intermittent (the judge says which; it needs two tries), a
/// fallback to `/health`.
fn notes(j: Option<&PathJudgement>, c: &HttpCheck, long: bool, view: &View) -> Vec<Piece> {
    let p = &view.palette;
    let mut out = Vec::new();
    if let Some((text, style)) = health_note(j, long, view) {
        out.push(Piece::one(0, text, style));
    }
    if let Some(k) = j.and_then(|j| j.consistency) {
        let word = if k.consistent {
            Some(("consistent", p.fail))
        } else if k.intermittent {
            Some(("intermittent", p.warn))
        } else {
            None
        };
        if let Some((word, style)) = word {
            out.push(Piece::one(
                1,
                format!(" {}/{} {word}", k.failed, k.of),
                style,
            ));
        }
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
    (endpoint, name): (&str, &str),
    path: &PathState,
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
    let j = judged(view, endpoint, path);
    let style = match j.and_then(|j| j.health) {
        Some(Health::Ok) => p.ok,
        Some(Health::Starting) => p.warn,
        _ => p.fail,
    };
    spans.push(Span::styled(
        format!("{} ", cell(&status_text(c), 6)),
        style,
    ));
    spans.push(Span::styled(
        format!("{} ", rcell(&units::ms(c.latency_ms), 7)),
        p.text,
    ));
    // Notes, whole or not at all: what the answer means first, then whether failure is
    // consistent across tries, then a fallback. Short of room, the first is said in fewer
    // columns so the second still fits.
    let used = spans_width(&spans);
    let room = width.saturating_sub(used);
    let long = notes(j, c, true, view);
    let all: usize = long.iter().map(|p| spans_width(&p.spans)).sum();
    let notes = if all <= room {
        pack(long, room)
    } else {
        pack(notes(j, c, false, view), room)
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

pub(crate) fn render(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
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
    let widths = (name_w, if w >= 56 { 16 } else { 8 });
    let rows: usize = eps
        .endpoints
        .iter()
        .map(|e| e.paths.len().max(1))
        .sum::<usize>()
        + eps.websockets.len();
    let room = usize::from(area_in.height);
    let mut lines = Vec::with_capacity(room);
    if room > rows {
        lines.push(header(widths, view));
    }
    // Short of rows: one line per endpoint, its worst path (a failure before a success).
    let compact = room < rows;
    for e in &eps.endpoints {
        endpoint_rows(&mut lines, e, compact, widths, w, view);
    }
    for ws in &eps.websockets {
        lines.push(ws_row(ws, w, view));
    }
    frame.render_widget(Paragraph::new(lines), area_in);
}

fn header((name_w, path_w): (usize, usize), view: &View) -> Line<'static> {
    let head = if name_w >= 8 { "endpoint" } else { "name" };
    Line::from(Span::styled(
        format!(
            "{} {} {} {}",
            cell(head, name_w),
            cell("path", path_w),
            cell("status", 6),
            rcell("time", 7)
        ),
        view.palette.muted,
    ))
}

/// One line per path of `e`, or with `compact` one for its worst path.
fn endpoint_rows(
    lines: &mut Vec<Line<'static>>,
    e: &EndpointState,
    compact: bool,
    widths: (usize, usize),
    w: usize,
    view: &View,
) {
    let name = view.text(&e.name).into_owned();
    if e.paths.is_empty() {
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", cell(&name, widths.0)), view.palette.text),
            Span::styled(
                format!("{}  not checked yet", units::NONE),
                view.palette.muted,
            ),
        ]));
        return;
    }
    if compact {
        let worst = e
            .paths
            .iter()
            .max_by_key(|p| p.last.as_ref().map(|(_, c)| !healthy(c)))
            .unwrap_or(&e.paths[0]);
        lines.push(path_row((&e.name, &name), worst, widths, w, view));
        return;
    }
    for (i, path) in e.paths.iter().enumerate() {
        let label = if i == 0 { name.as_str() } else { "" };
        lines.push(path_row((&e.name, label), path, widths, w, view));
    }
}
