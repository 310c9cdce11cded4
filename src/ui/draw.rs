//! The whole frame: layout, then one `render` per panel, then overlays. Works at any size:
//! below 80×24 it says so instead of drawing a broken dashboard.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Block;

use super::layout;
use super::panels::{alerts, capacity, db, endpoints, footer, header, overlays, startup};
use super::view::{Overlay, Panel, View};
use crate::state::State;

pub(crate) const MIN_WIDTH: u16 = 80;
pub(crate) const MIN_HEIGHT: u16 = 24;

pub fn draw(frame: &mut Frame<'_>, state: &State, view: &View) {
    debug_assert_eq!(
        view.judged.events, state.events,
        "view.judged describes another state"
    );
    let area = frame.area();
    frame.render_widget(Block::new().style(view.palette.base), area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        overlays::too_small(frame, area, state, view);
        return;
    }
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(frame, head, state, view);
    footer::render(frame, foot, state, view);
    if view.zoom && !state.vantages.is_empty() {
        super::vantages::zoomed(frame, body, state, view);
    } else if view.zoom {
        panel(frame, body, state, view, view.focus);
    } else if !state.vantages.is_empty() {
        super::vantages::dashboard(frame, body, state, view);
    } else {
        dashboard(frame, body, state, view);
    }
    match view.overlay {
        Overlay::None => {}
        Overlay::Help => overlays::help(frame, body, view),
        Overlay::Log => overlays::log(frame, body, state, view),
        Overlay::ConfirmCapacity => overlays::confirm_capacity(frame, body, state, view),
        Overlay::ConfirmPool => overlays::confirm_pool(frame, body, state, view),
    }
}

fn panel(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View, p: Panel) {
    match p {
        Panel::Db => db::render(frame, area, state, view),
        Panel::Alerts => alerts::render(frame, area, state, view),
        Panel::Startup => startup::render(frame, area, state, view),
        Panel::Endpoints => endpoints::render(frame, area, state, view),
        Panel::Capacity => capacity::render(frame, area, state, view),
    }
}

/// The five panels where `layout::plan` puts them: from the terminal size and the
/// configuration, never from what has been measured so far.
fn dashboard(frame: &mut Frame<'_>, body: Rect, state: &State, view: &View) {
    let p = layout::plan(body, &state.cfg);
    panel(frame, p.db, state, view, Panel::Db);
    panel(frame, p.alerts, state, view, Panel::Alerts);
    panel(frame, p.startup, state, view, Panel::Startup);
    panel(frame, p.endpoints, state, view, Panel::Endpoints);
    panel(frame, p.capacity, state, view, Panel::Capacity);
}
