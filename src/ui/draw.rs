//! The whole frame: layout, then one `render` per panel, then overlays. Works at any size:
//! below 80×24 it says so instead of drawing a broken dashboard.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Block;

use super::panels::{alerts, attempts, capacity, endpoints, footer, header, overlays, startup};
use super::view::{Overlay, Panel, View};
use crate::state::State;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub fn draw(frame: &mut Frame<'_>, state: &State, view: &View) {
    debug_assert_eq!(
        view.derived.events, state.events,
        "view.derived describes another state"
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
    if view.zoom {
        panel(frame, body, state, view, view.focus);
    } else {
        dashboard(frame, body, state, view);
    }
    match view.overlay {
        Overlay::None => {}
        Overlay::Help => overlays::help(frame, body, view),
        Overlay::Log => overlays::log(frame, body, state, view),
        Overlay::ConfirmCapacity => overlays::confirm_capacity(frame, body, state, view),
    }
}

fn panel(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View, p: Panel) {
    match p {
        Panel::Attempts => attempts::render(frame, area, state, view),
        Panel::Alerts => alerts::render(frame, area, state, view),
        Panel::Startup => startup::render(frame, area, state, view),
        Panel::Endpoints => endpoints::render(frame, area, state, view),
        Panel::Capacity => capacity::render(frame, area, state, view),
    }
}

/// Left: the database (attempts over alerts and diagnosis); right: startup, endpoints,
/// capacity. The right column's panels get the rows their content needs, the attempts chart
/// takes what is left.
fn dashboard(frame: &mut Frame<'_>, body: Rect, state: &State, view: &View) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(body);
    let alerts_h = (body.height * 2 / 5).clamp(7, (body.height / 2).max(7));
    let [db, al] = Layout::vertical([Constraint::Min(8), Constraint::Length(alerts_h)]).areas(left);
    panel(frame, db, state, view, Panel::Attempts);
    panel(frame, al, state, view, Panel::Alerts);

    let [st, ep, cap] = right_column(right, state);
    panel(frame, st, state, view, Panel::Startup);
    panel(frame, ep, state, view, Panel::Endpoints);
    panel(frame, cap, state, view, Panel::Capacity);
}

/// Heights for startup, endpoints and capacity, worked out here rather than by the solver so
/// the squeeze order is deliberate: capacity keeps its result and key hint, startup keeps its
/// phases, endpoints fold to one line each, and capacity gets whatever is left over.
fn right_column(area: Rect, state: &State) -> [Rect; 3] {
    const CAP_MIN: u16 = 4;
    const EP_MIN: u16 = 4;
    let h = area.height;
    let st = startup::wanted_height(state).min(h.saturating_sub(CAP_MIN + EP_MIN));
    let ep = endpoints::wanted_height(state).min(h.saturating_sub(st + CAP_MIN));
    Layout::vertical([
        Constraint::Length(st),
        Constraint::Length(ep),
        Constraint::Min(0),
    ])
    .areas(area)
}
