//! The newest attempts, one row each, newest at the bottom like a log. Columns are chosen by
//! importance for the width: the result and the failure (class and failing step) outlive the
//! clock, the total and the step times; the server's message gets what is left.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::event::DbAttempt;
use crate::state::State;
use crate::ui::fmt;
use crate::ui::panels::{FAIL, OK, cell, hint, rcell};
use crate::ui::text::{self, words_fit};
use crate::ui::view::View;
use crate::units;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Time,
    Seq,
    Result,
    Total,
    Dns,
    Tcp,
    Tls,
    Hs,
    Qry,
    Error,
}

/// Display order, each with its rank (lower outlives higher) and width.
const COLS: [(Col, u8, usize); 10] = [
    (Col::Time, 2, 8),
    (Col::Seq, 9, 5),
    (Col::Result, 0, 6),
    (Col::Total, 3, 6),
    (Col::Dns, 8, 5),
    (Col::Tcp, 4, 5),
    (Col::Tls, 5, 5),
    (Col::Hs, 6, 5),
    (Col::Qry, 7, 5),
    // Wide enough for `too_many_connections@handshake 53300` cut whole-word, and for
    // `timeout@tls` / `refused@tcp` whole.
    (Col::Error, 1, 16),
];

/// Below this many columns left over, the server's message is not worth starting.
const MESSAGE_MIN: usize = 16;

fn chosen(width: usize) -> Vec<Col> {
    let ranks: Vec<(u8, usize)> = COLS.iter().map(|(_, r, w)| (*r, *w)).collect();
    let keep = text::columns(&ranks, width);
    COLS.iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|((c, _, _), _)| *c)
        .collect()
}

fn heading(c: Col) -> (&'static str, bool) {
    match c {
        Col::Time => ("time", false),
        Col::Seq => ("#", true),
        Col::Result => ("result", false),
        Col::Total => ("total", true),
        Col::Dns => ("dns", true),
        Col::Tcp => ("tcp", true),
        Col::Tls => ("tls", true),
        Col::Hs => ("hs", true),
        Col::Qry => ("qry", true),
        Col::Error => ("error", false),
    }
}

fn width_of(c: Col) -> usize {
    COLS.iter()
        .find(|(x, _, _)| *x == c)
        .map_or(0, |(_, _, w)| *w)
}

fn table_header(cols: &[Col], width: usize, view: &View) -> Line<'static> {
    let cells: Vec<String> = cols
        .iter()
        .map(|c| match heading(*c) {
            (name, _) if *c == Col::Error => name.to_string(),
            (name, true) => rcell(name, width_of(*c)),
            (name, false) => cell(name, width_of(*c)),
        })
        .collect();
    let mut head = cells.join(" ");
    // Time columns are unitless numbers: say the unit once, where there is room.
    let unit = "  (times in ms)";
    let timed = cols.iter().any(|c| matches!(c, Col::Total | Col::Tcp));
    if timed && head.chars().count() + unit.chars().count() <= width {
        head.push_str(unit);
    }
    Line::from(Span::styled(head, view.palette.muted))
}

fn attempt_row(
    at: DateTime<Utc>,
    a: &DbAttempt,
    cols: &[Col],
    width: usize,
    view: &View,
) -> Line<'static> {
    let p = &view.palette;
    let st = &a.steps_ms;
    let mut spans: Vec<Span<'static>> = Vec::new();
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" "));
        }
        let w = width_of(*c);
        let ms = |v: Option<f64>| Span::styled(rcell(&fmt::ms_short(v), w), p.text);
        spans.push(match c {
            Col::Time => Span::styled(cell(&units::clock(at), w), p.muted),
            Col::Seq => Span::styled(rcell(&a.seq.to_string(), w), p.muted),
            Col::Result if a.ok => Span::styled(cell(&format!("{OK} ok"), w), p.ok),
            Col::Result => Span::styled(cell(&format!("{FAIL} fail"), w), p.fail),
            Col::Total => ms(Some(a.total_ms)),
            Col::Dns => ms(st.dns),
            Col::Tcp => ms(st.tcp),
            Col::Tls => ms(st.tls),
            Col::Hs => ms(st.handshake),
            Col::Qry => ms(st.query),
            // The last column: the class and step whole, however long; then the message.
            Col::Error => {
                let used = text::spans_width(&spans);
                error_span(a, width.saturating_sub(used), view)
            }
        });
    }
    Line::from(spans)
}

/// The failure in the room the row has left: class, step and SQLSTATE when they fit, then
/// the server's message; shorter forms (`too_many_connections 53300`, the class alone)
/// before anything is cut.
fn error_span(a: &DbAttempt, room: usize, view: &View) -> Span<'static> {
    let Some(e) = &a.error else {
        return Span::raw("");
    };
    let class = e.class.as_str().to_string();
    let coded = match &e.sqlstate {
        Some(code) => format!("{class} {code}"),
        None => class.clone(),
    };
    let head = [e.compact(), coded, class]
        .into_iter()
        .find(|h| h.chars().count() <= room)
        .unwrap_or_else(|| words_fit(e.class.as_str(), room));
    let rest = room.saturating_sub(head.chars().count() + 3);
    let text = if rest >= MESSAGE_MIN {
        format!("{head} — {}", words_fit(&view.text(&e.message), rest))
    } else {
        head
    };
    Span::styled(text, view.palette.fail)
}

pub(super) fn render(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    if area.height == 0 {
        return;
    }
    let w = usize::from(area.width);
    let cols = chosen(w);
    let rows = usize::from(area.height).saturating_sub(1);
    let mut lines = vec![table_header(&cols, w, view)];
    let newest: Vec<_> = state.db.attempts.iter().rev().take(rows).collect();
    if newest.is_empty() {
        lines.push(hint("no attempt yet", view));
    }
    for (at, a) in newest.into_iter().rev() {
        lines.push(attempt_row(*at, a, &cols, w, view));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::failure;
    use crate::ui::options::UiOptions;

    #[test]
    fn a_long_failure_gets_shorter_before_it_is_cut() {
        let state = crate::state::State::new(crate::state::fixtures::staging_config());
        let view = View::new(&UiOptions::default(), &state);
        let a = DbAttempt {
            seq: 1,
            ok: false,
            total_ms: 18.0,
            steps_ms: crate::event::DbSteps::default(),
            timeout_ms: 3500.0,
            error: Some(failure(
                crate::event::ErrorClass::TooManyConnections,
                crate::event::Step::Handshake,
                Some("53300"),
                "sorry, too many clients already",
            )),
            tries: Vec::new(),
        };
        let at = |room| error_span(&a, room, &view).content.to_string();
        assert_eq!(at(36), "too_many_connections@handshake 53300");
        assert_eq!(at(33), "too_many_connections 53300");
        assert_eq!(at(22), "too_many_connections");
        for room in 0..80 {
            assert!(
                at(room).chars().count() <= room.max(1),
                "{room}: {}",
                at(room)
            );
        }
    }

    #[test]
    fn the_failure_outlives_the_latency_columns() {
        let narrow = chosen(44);
        assert!(
            narrow.contains(&Col::Result) && narrow.contains(&Col::Error),
            "{narrow:?}"
        );
        assert!(!narrow.contains(&Col::Dns), "{narrow:?}");
        let wide = chosen(120);
        assert_eq!(wide.len(), COLS.len(), "{wide:?}");
        // A column of less importance never takes the place of one of more.
        for w in 0..130 {
            let c = chosen(w);
            if c.contains(&Col::Tcp) {
                assert!(
                    c.contains(&Col::Error) && c.contains(&Col::Total),
                    "{w}: {c:?}"
                );
            }
        }
    }
}
