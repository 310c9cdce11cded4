//! Where each panel goes. Rows come from the terminal size and the configuration (how many
//! phases, endpoints and WebSockets there are to show), never from what the probes have
//! reported so far: a capacity result, a restart or a long finding must not move a border.
//! Content that does not fit its panel scrolls or summarises inside it.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::state::StateConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub db: Rect,
    pub alerts: Rect,
    pub startup: Rect,
    pub endpoints: Rect,
    pub capacity: Rect,
}

/// Rows the alerts and diagnosis need before they get a full-width band of their own.
const ALERTS_BAND_MIN: u16 = 12;
/// The upper part's share of a tall screen when the right column needs less.
const UPPER_SHARE: (u16, u16) = (11, 20);
/// Paths checked per endpoint by default (`/health`, `/health/database`).
const PATHS_PER_ENDPOINT: u16 = 2;
const BORDERS: u16 = 2;

/// Inner rows the capacity panel gets: the result in a few packed lines and the key hint.
const CAPACITY_ROWS: u16 = 4;
const CAPACITY_MIN_ROWS: u16 = 2;

/// Heights of the right column's panels, full and squeezed, from the configuration.
struct Needs {
    startup: (u16, u16),
    endpoints: (u16, u16),
    capacity: (u16, u16),
}

fn needs(cfg: &StateConfig) -> Needs {
    let phases = u16::try_from(cfg.phases.len()).unwrap_or(u16::MAX);
    let eps = u16::try_from(cfg.endpoints.len()).unwrap_or(u16::MAX);
    let ws = u16::try_from(cfg.websockets.len()).unwrap_or(u16::MAX);
    // Startup: source line, phases, total, a failure or source-error line, one earlier run;
    // squeezed: phases, total and the failure.
    let startup = (phases + 4 + BORDERS, phases + 2 + BORDERS);
    // Endpoints: a heading and every path; squeezed: one line per endpoint.
    let rows = eps.saturating_mul(PATHS_PER_ENDPOINT) + ws;
    let endpoints = (rows.max(1) + 1 + BORDERS, (eps + ws).max(1) + BORDERS);
    let capacity = (CAPACITY_ROWS + BORDERS, CAPACITY_MIN_ROWS + BORDERS);
    Needs {
        startup,
        endpoints,
        capacity,
    }
}

pub(crate) fn plan(body: Rect, cfg: &StateConfig) -> Plan {
    let n = needs(cfg);
    let right_full = n.startup.0 + n.endpoints.0 + n.capacity.0;
    let upper = right_full.max(body.height * UPPER_SHARE.0 / UPPER_SHARE.1);
    if body.height >= upper.saturating_add(ALERTS_BAND_MIN) {
        // Tall: attempts beside the right column, the diagnosis (prose) in a wide band below.
        let [top, band] =
            Layout::vertical([Constraint::Length(upper), Constraint::Min(0)]).areas(body);
        let [db, right] = columns(top);
        let [startup, endpoints, capacity] = right_column(right, &n);
        return Plan {
            db,
            alerts: band,
            startup,
            endpoints,
            capacity,
        };
    }
    let [left, right] = columns(body);
    let alerts_h = (body.height * 2 / 5).clamp(7, (body.height / 2).max(7));
    let [db, alerts] =
        Layout::vertical([Constraint::Min(8), Constraint::Length(alerts_h)]).areas(left);
    let [startup, endpoints, capacity] = right_column(right, &n);
    Plan {
        db,
        alerts,
        startup,
        endpoints,
        capacity,
    }
}

/// One vantage point's column when vantages are side by side: a banner naming it, its
/// attempts beside its startup, endpoints and capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VantagePlan {
    pub banner: Rect,
    pub db: Rect,
    pub startup: Rect,
    pub endpoints: Rect,
    pub capacity: Rect,
}

/// The narrowest column a vantage gets side by side: the dashboard's own minimum width.
pub(crate) const VANTAGE_MIN_WIDTH: u16 = 80;

/// Vantages side by side over a full-width band for the alerts and the diagnosis (every
/// vantage's, and the comparison between them); `None` when they do not fit.
pub(crate) fn plan_vantages(body: Rect, cfgs: &[&StateConfig]) -> Option<(Vec<VantagePlan>, Rect)> {
    let n = u16::try_from(cfgs.len()).ok().filter(|n| *n > 0)?;
    if body.width / n < VANTAGE_MIN_WIDTH {
        return None;
    }
    let band = (body.height * 2 / 5).clamp(7, (body.height / 2).max(7));
    let [top, alerts] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(band)]).areas(body);
    let cols =
        Layout::horizontal(vec![Constraint::Ratio(1, u32::from(n)); usize::from(n)]).split(top);
    let plans = cols
        .iter()
        .zip(cfgs)
        .map(|(col, cfg)| {
            let (banner, rest) = banner_and_rest(*col);
            let [db, right] = columns(rest);
            let [startup, endpoints, capacity] = right_column(right, &needs(cfg));
            VantagePlan {
                banner,
                db,
                startup,
                endpoints,
                capacity,
            }
        })
        .collect();
    Some((plans, alerts))
}

/// One row naming the vantage shown, the rest for its panels.
pub(crate) fn banner_and_rest(area: Rect) -> (Rect, Rect) {
    let [banner, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    (banner, rest)
}

fn columns(area: Rect) -> [Rect; 2] {
    Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area)
}

/// Startup, endpoints and capacity, squeezed in a deliberate order when short of rows:
/// capacity to its one-line summary first, then endpoints to one line each, then startup to
/// its phases. Rows to spare go to capacity, so the column ends level with the attempts panel.
fn right_column(area: Rect, n: &Needs) -> [Rect; 3] {
    let h = area.height;
    let mut st = n.startup.0;
    let mut ep = n.endpoints.0;
    let mut cap = n.capacity.0;
    let over = |st: u16, ep: u16, cap: u16| (st + ep + cap).saturating_sub(h);
    cap -= over(st, ep, cap).min(cap - n.capacity.1);
    ep -= over(st, ep, cap).min(ep - n.endpoints.1);
    st -= over(st, ep, cap).min(st - n.startup.1);
    cap += h.saturating_sub(st + ep + cap);
    // Still too short (below the dashboard's minimum size only): startup gives way.
    let st = st.min(h.saturating_sub(ep + cap.min(n.capacity.1)));
    Layout::vertical([
        Constraint::Length(st),
        Constraint::Length(ep),
        Constraint::Min(0),
    ])
    .areas(area)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::staging_config;

    fn body(w: u16, h: u16) -> Rect {
        // Header 2 rows, footer 1.
        Rect::new(0, 2, w, h - 3)
    }

    #[test]
    fn the_panels_tile_the_body_at_every_supported_size() {
        let cfg = staging_config();
        for (w, h) in [
            (80, 24),
            (100, 30),
            (120, 35),
            (160, 50),
            (200, 60),
            (300, 90),
        ] {
            let b = body(w, h);
            let p = plan(b, &cfg);
            let rects = [p.db, p.alerts, p.startup, p.endpoints, p.capacity];
            let area: u32 = rects.iter().map(|r| r.area()).sum();
            assert_eq!(area, b.area(), "{w}x{h}: {p:?}");
            for r in rects {
                assert!(r.height >= 4 && r.width >= 20, "{w}x{h}: {r:?}");
            }
        }
    }

    #[test]
    fn tall_screens_get_a_diagnosis_band_and_short_ones_two_columns() {
        let cfg = staging_config();
        let tall = plan(body(160, 50), &cfg);
        assert_eq!(tall.alerts.width, 160);
        assert!(tall.alerts.height >= ALERTS_BAND_MIN, "{tall:?}");
        let short = plan(body(120, 35), &cfg);
        assert!(short.alerts.width < 120 && short.alerts.x == 0, "{short:?}");
    }

    #[test]
    fn a_short_right_column_squeezes_capacity_first_then_endpoints() {
        let cfg = staging_config();
        let p = plan(body(80, 24), &cfg);
        let n = needs(&cfg);
        assert_eq!(p.capacity.height, n.capacity.1, "{p:?}");
        assert!(p.startup.height >= n.startup.1, "{p:?}");
    }
}
