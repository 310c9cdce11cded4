//! The initialization probe's row: one connect-and-warm-up within the initialization
//! timeout, its last result, elapsed against the limit, and — for a timeout — whether it fired
//! near the configured value (a timeout far from it means something else is timing out).

use ratatui::text::{Line, Span};

use crate::event::{ErrorClass, Failure, InitResult};
use crate::state::State;
use crate::state::diagnosis::near_timeout;
use crate::ui::panels::{FAIL, OK};
use crate::ui::text::{Piece, pack};
use crate::ui::view::View;
use crate::units;

pub(super) fn line(state: &State, width: usize, view: &View) -> Line<'static> {
    let p = &view.palette;
    let limit = units::duration(state.cfg.initialization_timeout);
    let label = Span::styled("init ", p.muted);
    let Some((at, r)) = &state.init else {
        return Line::from(pack(
            vec![
                Piece::new(
                    0,
                    vec![
                        label,
                        Span::styled(format!("{} no result yet", units::NONE), p.muted),
                    ],
                ),
                Piece::one(1, format!(" (limit {limit})"), p.muted),
            ],
            width,
        ));
    };
    let mut pieces = match &r.error {
        None => connected(r, label, &limit, view),
        Some(e) => failed(r, e, label, &limit, view),
    };
    pieces.push(Piece::one(3, format!(" · {}", units::clock(*at)), p.muted));
    Line::from(pack(pieces, width))
}

fn connected(r: &InitResult, label: Span<'static>, limit: &str, view: &View) -> Vec<Piece> {
    let p = &view.palette;
    let mut pieces = vec![
        Piece::new(
            0,
            vec![label, Span::styled(format!("{OK} connected"), p.ok)],
        ),
        Piece::one(
            2,
            format!(" in {} (limit {limit})", units::ms(r.elapsed_ms)),
            p.text,
        ),
    ];
    if let Some(max) = r.server_max_connections {
        pieces.push(Piece::one(4, format!(" · max_connections {max}"), p.muted));
    }
    pieces
}

fn failed(
    r: &InitResult,
    e: &Failure,
    label: Span<'static>,
    limit: &str,
    view: &View,
) -> Vec<Piece> {
    let p = &view.palette;
    let mut pieces = vec![
        Piece::new(
            0,
            vec![
                label,
                Span::styled(format!("{FAIL} {}", e.compact()), p.fail),
            ],
        ),
        Piece::one(
            2,
            format!(" after {} (limit {limit})", units::ms(r.elapsed_ms)),
            p.text,
        ),
    ];
    if e.class == ErrorClass::Timeout {
        let (text, style) = if near_timeout(r.elapsed_ms / 1000.0, r.timeout_ms / 1000.0) {
            (" · fired near the configured timeout", p.muted)
        } else {
            (" · fired far from the configured timeout", p.warn)
        };
        pieces.push(Piece::one(1, text, style));
    }
    pieces
}
