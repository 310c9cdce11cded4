//! The database panel: success rate, percentiles, step averages and error classes; the
//! latency chart; the initialization probe's last result; the newest attempts with their step
//! times and failure class. Titled from the configuration: "via VPC connector" only when the
//! path has one.

mod init;
mod stats;
mod table;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{DbPath, block, chart, db_path, inner};
use crate::state::State;
use crate::ui::view::{Panel, View};
use crate::units;

/// Side-by-side stats and chart from this inner width; stacked below it.
const SIDE_BY_SIDE: u16 = 88;
const STATS_W: u16 = 34;

const TITLE: &str = "Database attempts";

/// The title, saying the path when it goes through the VPC connector and there is room.
fn title(state: &State, width: usize) -> &'static str {
    const VIA: &str = "Database attempts via VPC connector";
    // Borders, focus marker and padding around the title.
    let fits = VIA.chars().count() + 6 <= width;
    match db_path(&state.cfg) {
        DbPath::Connector if fits => VIA,
        _ => TITLE,
    }
}

fn last_seen(state: &State, view: &View) -> String {
    state
        .db
        .attempts
        .last()
        .map(|(at, _)| {
            let now = view.now.or(state.last_at).unwrap_or(*at);
            let ago = (now - *at).num_milliseconds().max(0) as f64 / 1000.0;
            format!(" last {} ago ", units::span(ago))
        })
        .unwrap_or_default()
}

pub(crate) fn render(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    let width = usize::from(area.width);
    let title = title(state, width);
    let b = block(title, Panel::Db, view);
    let Some(area_in) = inner(&b, area) else {
        frame.render_widget(b, area);
        return;
    };
    // "last 2.1 s ago" on the right only where it leaves the title whole.
    let last = last_seen(state, view);
    let b = if title.chars().count() + last.chars().count() + 8 <= width {
        b.title(Line::from(Span::styled(last, view.palette.muted)).right_aligned())
    } else {
        b
    };
    frame.render_widget(b, area);
    let h = area_in.height;
    let table_rows = if view.zoom {
        h / 3
    } else {
        (h / 3).clamp(2, 7)
    };
    let init = Paragraph::new(init::line(state, usize::from(area_in.width), view));
    if area_in.width >= SIDE_BY_SIDE {
        let [top, init_row, bottom] = Layout::vertical([
            Constraint::Min(0),
            Constraint::Length(1),
            Constraint::Length(table_rows),
        ])
        .areas(area_in);
        let [ch, st] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(STATS_W)]).areas(top);
        chart::render(frame.buffer_mut(), ch, &state.db.attempts, view);
        let st = Rect {
            x: st.x + 1,
            width: st.width.saturating_sub(1),
            ..st
        };
        let lines = stats::lines(state, usize::from(st.width), view, false);
        frame.render_widget(Paragraph::new(lines), st);
        frame.render_widget(init, init_row);
        table::render(frame, bottom, state, view);
        return;
    }
    let lines = stats::lines(state, usize::from(area_in.width), view, true);
    // The chart keeps at least 4 rows (its minimum); the stats get what is left.
    let stats_h = (lines.len() as u16).min(h.saturating_sub(table_rows + 5));
    let [st, ch, init_row, bottom] = Layout::vertical([
        Constraint::Length(stats_h),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(table_rows),
    ])
    .areas(area_in);
    frame.render_widget(Paragraph::new(lines), st);
    chart::render(frame.buffer_mut(), ch, &state.db.attempts, view);
    frame.render_widget(init, init_row);
    table::render(frame, bottom, state, view);
}
