//! The main keys for this mode, and the answer to the last key on the right.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::state::State;
use crate::ui::options::ViewMode;
use crate::ui::view::{Tone, View};

fn keys(view: &View) -> Vec<(&'static str, &'static str)> {
    let mut k = vec![("q", "quit"), ("?", "help")];
    match view.mode {
        ViewMode::Live => k.extend([("c", "capacity test"), ("r", "run now")]),
        ViewMode::Lab { .. } => {
            k.extend([("1-9", "scenario"), ("c", "capacity"), ("r", "run now")])
        }
        ViewMode::Replay => k.extend([
            ("Space", "play/pause"),
            ("+/-", "speed"),
            ("←/→", "seek"),
            ("n", "next alert"),
        ]),
    }
    k.extend([
        ("p", if view.paused { "resume" } else { "pause" }),
        ("Tab", "focus"),
        ("Enter", "zoom"),
        ("l", "log"),
        ("m", if view.mask { "unmask" } else { "mask" }),
        ("t", "theme"),
        ("z", "scale"),
    ]);
    k
}

pub fn render(frame: &mut Frame<'_>, area: Rect, _state: &State, view: &View) {
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
    let mut spans = Vec::new();
    let mut used = 0;
    for (key, what) in keys(view) {
        let w = key.chars().count() + what.chars().count() + 3;
        if used + w > budget {
            break;
        }
        used += w;
        spans.push(Span::styled(format!(" {key}"), p.key));
        spans.push(Span::styled(format!(" {what} "), p.muted));
    }
    if let Some(s) = status {
        spans.push(Span::raw(" ".repeat(budget.saturating_sub(used))));
        spans.push(s);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
