//! The dashboard drawn with its own `draw` on a `TestBackend`, read back as text: what a
//! screen shows, without a terminal.

use connscope::ui::App;
use connscope::ui::draw::draw;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// The frame `app` draws at `w`×`h`, one line per row with trailing blanks trimmed, each
/// line ended by `\n`.
pub fn frame(app: &mut App, w: u16, h: u16) -> String {
    let (state, view) = app.frame_parts();
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    t.draw(|f| draw(f, state, view)).expect("draws");
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .filter_map(|x| buf.cell((x, y)).map(|c| c.symbol().to_string()))
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
