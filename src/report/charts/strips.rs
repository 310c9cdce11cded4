//! Health endpoints and WebSockets over time: one strip per health path and per WebSocket,
//! coloured by what each answer was judged (ok, starting, unhealthy, startup failure,
//! failing). A run of equal answers holds until the next different one; after the last
//! answer the strip stays empty — no evidence is drawn as none. Same time axis as the
//! database timeline.

use super::{Drawn, GUTTER, RIGHT, WIDTH, swatch};
use crate::report::model::Report;
use crate::report::series::StatusStrip;
use crate::report::svg::{Svg, TimeScale};
use crate::state::endpoints::Health;
use crate::units::{self, clock};

const ROW: f64 = 20.0;
/// A single answer still shows as a sliver this wide.
const MIN_W: f64 = 4.0;

fn health_class(h: Health) -> &'static str {
    match h {
        Health::Ok => "h-ok",
        Health::Starting => "h-starting",
        Health::Unhealthy => "h-unhealthy",
        Health::StartupFailure => "h-startup_failure",
        Health::Failing => "h-failing",
    }
}

pub(super) fn chart(r: &Report) -> Option<Drawn> {
    let c = &r.charts;
    let (t0, t1) = c.span?;
    let rows: Vec<(&str, &StatusStrip)> = c
        .health
        .iter()
        .map(|s| ("health", s))
        .chain(c.websockets.iter().map(|s| ("websocket", s)))
        .filter(|(_, s)| !s.segments.is_empty())
        .collect();
    if rows.is_empty() {
        return None;
    }
    let ts = TimeScale::new(t0, t1, GUTTER, WIDTH - RIGHT);
    let rows_h = rows.len() as f64 * ROW;
    let h = 10.0 + rows_h + 24.0 + 26.0;
    let failing = rows
        .iter()
        .filter(|(_, s)| s.segments.last().is_some_and(|g| g.health.is_failure()))
        .count();
    let label = format!(
        "Health endpoints and WebSockets over time: {}, {failing} failing at their last answer",
        units::count(rows.len() as u64, "strip")
    );
    let mut svg = Svg::new("status-strips", WIDTH, h, &label);
    svg.rect(0.0, 0.0, WIDTH, h, "page", None);
    let top = 10.0;
    svg.rect(ts.x0, top, ts.x1 - ts.x0, rows_h, "plot", None);
    for (i, (kind, strip)) in rows.iter().enumerate() {
        draw(&mut svg, &ts, top + i as f64 * ROW, kind, strip);
    }
    for (x, l) in ts.ticks(8) {
        svg.line(x, top, x, top + rows_h, "grid");
        svg.text(x, top + rows_h + 14.0, "axis mid", &l);
    }
    svg.text(GUTTER - 34.0, top + rows_h + 14.0, "axis end", "UTC");
    legend(&mut svg, h - 8.0);
    let caption = "Each health path and WebSocket as its answers were judged over time; a colour holds until the next different answer, and the strip is empty after the last one. Times UTC.".to_string();
    Some(Drawn {
        id: "status-strips",
        title: "Health endpoints and WebSockets",
        caption,
        svg,
    })
}

fn draw(svg: &mut Svg, ts: &TimeScale, y: f64, kind: &str, s: &StatusStrip) {
    svg.group(&format!("strip {kind}"));
    svg.text(GUTTER - 8.0, y + 14.0, "end", &short(&s.label));
    let segs = &s.segments;
    for (i, g) in segs.iter().enumerate() {
        let x0 = ts.x(g.from);
        let x1 = match segs.get(i + 1) {
            Some(next) => ts.x(next.from),
            None => ts.x(g.to),
        }
        .max(x0 + MIN_W)
        .min(ts.x1.max(x0 + MIN_W));
        let when = if g.checks > 1 {
            format!("{}–{}", clock(g.from), clock(g.to))
        } else {
            clock(g.from)
        };
        let tip = format!(
            "{}: {} — {} ({}), {}",
            s.label,
            g.health.as_str(),
            g.detail,
            units::count(g.checks, "answer"),
            when
        );
        svg.rect(
            x0,
            y + 3.0,
            x1 - x0,
            ROW - 6.0,
            &format!("seg {}", health_class(g.health)),
            Some(&tip),
        );
    }
    svg.end_group();
}

/// Labels keep their end (the path) when long: `…example.com/ws` — masked first.
fn short(label: &str) -> String {
    const MAX: usize = 25;
    let label = &crate::report::svg::masked(label);
    let n = label.chars().count();
    if n <= MAX {
        return label.to_string();
    }
    let tail: String = label.chars().skip(n - (MAX - 1)).collect();
    format!("…{tail}")
}

fn legend(svg: &mut Svg, y: f64) {
    svg.group("legend");
    let mut x = GUTTER;
    for h in [
        Health::Ok,
        Health::Starting,
        Health::Unhealthy,
        Health::StartupFailure,
        Health::Failing,
    ] {
        x = swatch(svg, x, y, health_class(h), h.as_str());
    }
    svg.end_group();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_keep_their_end() {
        assert_eq!(short("api /health"), "api /health");
        let s = short("ws://backend.staging.example.com:8443/ws");
        assert!(s.starts_with('…') && s.ends_with(":8443/ws"), "{s}");
        assert_eq!(s.chars().count(), 25);
        let s = short("wss://ops:Ne7yR4tKj1Bz@backend.staging.example.com/ws");
        assert!(!s.contains("R4tK"), "masked before it is cut: {s}");
    }
}
