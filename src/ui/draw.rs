//! The whole frame: layout, then one `render` per panel, then overlays. Works at any size:
//! below 80×24 it says so instead of drawing a broken dashboard.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Block;

use super::panels::{alerts, capacity, db, endpoints, footer, header, overlays, startup};
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
        Panel::Db => db::render(frame, area, state, view),
        Panel::Alerts => alerts::render(frame, area, state, view),
        Panel::Startup => startup::render(frame, area, state, view),
        Panel::Endpoints => endpoints::render(frame, area, state, view),
        Panel::Capacity => capacity::render(frame, area, state, view),
    }
}

/// Rows the alerts and diagnosis need before they get a full-width band of their own.
const ALERTS_BAND_MIN: u16 = 10;
/// The attempts panel's share of a tall screen when the right column needs less.
const ATTEMPTS_SHARE: (u16, u16) = (11, 20);

/// Two layouts. On a tall screen (the right column's panels fit with room to spare): the
/// database attempts beside startup / endpoints / capacity, each of those at the height its
/// content needs, and alerts and diagnosis in a full-width band below — the diagnosis is
/// prose and reads best wide. Otherwise two columns: attempts over alerts on the left, the
/// three panels on the right, squeezed in a deliberate order (see `right_column`).
fn dashboard(frame: &mut Frame<'_>, body: Rect, state: &State, view: &View) {
    let need = right_need(state, view);
    let top = need.max(body.height * ATTEMPTS_SHARE.0 / ATTEMPTS_SHARE.1);
    if body.height >= top.saturating_add(ALERTS_BAND_MIN) {
        let [upper, band] =
            Layout::vertical([Constraint::Length(top), Constraint::Min(0)]).areas(body);
        let [db, right] = columns(upper);
        panel(frame, db, state, view, Panel::Db);
        right_panels(frame, right, state, view);
        panel(frame, band, state, view, Panel::Alerts);
        return;
    }
    let [left, right] = columns(body);
    let alerts_h = (body.height * 2 / 5).clamp(7, (body.height / 2).max(7));
    let [db, al] = Layout::vertical([Constraint::Min(8), Constraint::Length(alerts_h)]).areas(left);
    panel(frame, db, state, view, Panel::Db);
    panel(frame, al, state, view, Panel::Alerts);
    right_panels(frame, right, state, view);
}

fn columns(area: Rect) -> [Rect; 2] {
    Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area)
}

fn right_panels(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    let [st, ep, cap] = right_column(area, state, view);
    panel(frame, st, state, view, Panel::Startup);
    panel(frame, ep, state, view, Panel::Endpoints);
    panel(frame, cap, state, view, Panel::Capacity);
}

/// What startup, endpoints and capacity would take with nothing squeezed.
fn right_need(state: &State, view: &View) -> u16 {
    startup::wanted_height(state, view)
        .saturating_add(endpoints::wanted_height(state))
        .saturating_add(capacity::wanted_height(state, view))
}

/// Heights for startup, endpoints and capacity, worked out here rather than by the solver so
/// the squeeze order is deliberate: capacity keeps its result and key hint, startup keeps its
/// phases, endpoints fold to one line each, and capacity gets whatever is left over (so the
/// column's bottom lines up with the attempts panel beside it).
fn right_column(area: Rect, state: &State, view: &View) -> [Rect; 3] {
    const CAP_MIN: u16 = 4;
    const EP_MIN: u16 = 4;
    let h = area.height;
    let st = startup::wanted_height(state, view).min(h.saturating_sub(CAP_MIN + EP_MIN));
    let ep = endpoints::wanted_height(state).min(h.saturating_sub(st + CAP_MIN));
    Layout::vertical([
        Constraint::Length(st),
        Constraint::Length(ep),
        Constraint::Min(0),
    ])
    .areas(area)
}
