//! Whole frames and single panels rendered to a `TestBackend` and compared as text snapshots
//! (`src/ui/snapshots/`). "Now" comes from the state's event times, so snapshots are stable.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;

use super::app::App;
use super::draw::draw;
use super::options::{UiOptions, ViewMode};
use super::panels;
use super::theme::ThemeName;
use super::view::View;
use crate::state::State;
use crate::state::fixtures::{build, capacity_exhausted, healthy, outage, staging_config};

pub(crate) fn buffer_text(buf: &Buffer) -> String {
    let a = buf.area;
    let mut out = String::new();
    for y in a.y..a.y + a.height {
        let mut line = String::new();
        for x in a.x..a.x + a.width {
            if let Some(c) = buf.cell((x, y)) {
                line.push_str(c.symbol());
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn frame(state: &State, view: &View, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    t.draw(|f| draw(f, state, view)).expect("draws");
    t.backend().buffer().clone()
}

fn app(state: State, opts: UiOptions) -> App {
    App::new(&opts, state)
}

fn healthy_state() -> State {
    build(staging_config(), &healthy())
}

fn outage_state() -> State {
    build(staging_config(), &outage())
}

fn capacity_state() -> State {
    build(staging_config(), &capacity_exhausted())
}

#[test]
fn print_for_eyes() {
    for (name, s) in [
        ("healthy", healthy_state()),
        ("outage", outage_state()),
        ("capacity", capacity_state()),
    ] {
        let a = app(s, UiOptions::default());
        for (w, h) in [(100, 30), (160, 50), (80, 24)] {
            println!("=== {name} {w}x{h}");
            print!("{}", buffer_text(&frame(a.state(), &a.view, w, h)));
        }
    }
}
