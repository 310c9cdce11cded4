//! One file per panel, each with `render(frame, area, &state, &view)`. Shared bits here:
//! the framed block (focus shown by a thick border and a marker, not by colour alone) and the
//! symbols that carry meaning without colour.

pub(crate) mod alerts;
pub(crate) mod capacity;
pub(crate) mod chart;
pub(crate) mod db;
pub(crate) mod endpoints;
pub(crate) mod footer;
pub(crate) mod header;
pub(crate) mod overlays;
pub(crate) mod pool;
pub(crate) mod startup;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType};

use super::view::{Panel, View};
use crate::state::StateConfig;
use crate::state::verdict::Verdict;

pub(crate) const OK: &str = "✓";
pub(crate) const FAIL: &str = "✗";
pub(crate) const WARN: &str = "!";
pub(crate) const OVER: &str = "▲";
pub(crate) const RUNNING: &str = "…";
pub(crate) const NOT_REACHED: &str = "·";

/// How this host reaches the database, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DbPath {
    Direct,
    /// A Cloud SQL unix socket (`/cloudsql/PROJECT:REGION:INSTANCE`).
    Socket,
    /// Cloud SQL over TCP: through the VPC connector.
    Connector,
}

pub(crate) fn db_path(cfg: &StateConfig) -> DbPath {
    let socket = cfg
        .target
        .as_deref()
        .is_some_and(|t| t.contains("/cloudsql/"));
    match (cfg.cloud_sql, socket) {
        (_, true) => DbPath::Socket,
        (true, false) => DbPath::Connector,
        (false, false) => DbPath::Direct,
    }
}

/// A panel's frame. The focused panel gets a thick border and `▶` before its title so focus
/// is visible without colour; a zoomed panel says how to leave.
pub(crate) fn block<'a>(title: &str, p: Panel, view: &View) -> Block<'a> {
    let pal = &view.palette;
    let focused = view.focused(p);
    let (border, btype, mark) = if focused {
        (pal.border_focus, BorderType::Thick, "▶ ")
    } else {
        (pal.border, BorderType::Rounded, "")
    };
    let mut b = Block::bordered()
        .border_type(btype)
        .border_style(border)
        .title(Line::from(vec![Span::styled(
            format!(" {mark}{title} "),
            pal.title,
        )]));
    if focused && view.zoom {
        b = b.title(Line::from(Span::styled(" Esc back ", pal.muted)).right_aligned());
    }
    b
}

pub(crate) fn verdict_style(v: Verdict, view: &View) -> Style {
    let p = &view.palette;
    match v {
        Verdict::Pass => p.ok,
        Verdict::Warn => p.warn,
        Verdict::Fail => p.fail,
    }
}

/// Truncates to `width` display columns with `…` (characters here are all single-width).
pub(crate) fn fit(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// Pads or truncates to exactly `width` columns.
pub(crate) fn cell(s: &str, width: usize) -> String {
    let t = fit(s, width);
    let pad = width.saturating_sub(t.chars().count());
    format!("{t}{}", " ".repeat(pad))
}

/// Right-aligned in `width` columns.
pub(crate) fn rcell(s: &str, width: usize) -> String {
    let t = fit(s, width);
    let pad = width.saturating_sub(t.chars().count());
    format!("{}{t}", " ".repeat(pad))
}

/// A line of text for an empty panel, in the muted style.
pub(crate) fn hint<'a>(text: impl Into<String>, view: &View) -> Line<'a> {
    Line::from(Span::styled(text.into(), view.palette.muted))
}

/// The area inside a block, or nothing when the block does not fit.
pub(crate) fn inner(b: &Block<'_>, area: Rect) -> Option<Rect> {
    let i = b.inner(area);
    (i.width > 0 && i.height > 0).then_some(i)
}
