//! The main keys for this mode, and the answer to the last key on the right.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::state::State;
use crate::ui::options::ViewMode;
use crate::ui::text::{Piece, pack, spans_width};
use crate::ui::view::{Tone, View};

/// The keys worth a place in the footer, each with its rank: lower ranks stay on narrow
/// screens (`?` lists every key, so it never goes).
fn keys(view: &View) -> Vec<(u8, String, &'static str)> {
    let mut k = vec![(0, "q".to_string(), "quit"), (0, "?".into(), "help")];
    match &view.mode {
        ViewMode::Live => k.extend([(1, "c".into(), "capacity test"), (2, "r".into(), "run now")]),
        ViewMode::Lab { scenarios } => {
            let keys = match scenarios.len() {
                0 => None,
                1 => Some("1".to_string()),
                n => Some(format!("1–{}", n.min(9))),
            };
            k.extend(keys.map(|keys| (1, keys, "scenario")));
            k.extend([(2, "c".into(), "capacity"), (3, "r".into(), "run now")]);
        }
        ViewMode::Replay => k.extend([
            (1, "Space".into(), "play/pause"),
            (2, "+/-".into(), "speed"),
            (2, "←/→".into(), "seek"),
            (3, "n".into(), "next alert"),
        ]),
    }
    k.extend([
        (2, "p".into(), if view.paused { "resume" } else { "pause" }),
        (4, "Tab".into(), "focus"),
        (4, "Enter".into(), "zoom"),
        (3, "l".into(), "log"),
        (3, "m".into(), if view.mask { "unmask" } else { "mask" }),
        (4, "t".into(), "theme"),
        (5, "z".into(), "scale"),
    ]);
    k
}

pub(crate) fn render(frame: &mut Frame<'_>, area: Rect, _state: &State, view: &View) {
    if area.height == 0 {
        return;
    }
    let p = &view.palette;
    let status = view.status.as_ref().map(|(tone, text)| {
        let style = match tone {
            Tone::Info => p.accent,
            Tone::Warn => p.warn,
        };
        Span::styled(format!(" {text} "), style)
    });
    let status_w = status.as_ref().map_or(0, |s| s.content.chars().count());
    let budget = usize::from(area.width).saturating_sub(status_w);
    let pieces = keys(view)
        .into_iter()
        .map(|(rank, key, what)| {
            Piece::new(
                rank,
                vec![
                    Span::styled(format!(" {key}"), p.key),
                    Span::styled(format!(" {what} "), p.muted),
                ],
            )
        })
        .collect();
    let mut spans = pack(pieces, budget);
    if let Some(s) = status {
        let used = spans_width(&spans);
        spans.push(Span::raw(" ".repeat(budget.saturating_sub(used))));
        spans.push(s);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
