//! The connection-latency chart. Time runs left to right; each column shows the slowest
//! successful attempt in its slice as a bar. Failures are never drawn as latency and never
//! bridged by a line (gping #57): a column with only failures is shaded, and the lane under
//! the plot marks what failed — `T` timeout, `C` capacity (53300), `✗` any other error.
//! Empty columns mean no attempt. The robust scale tops out near p95 so one spike cannot
//! flatten the rest (gping #185); attempts above it are `▲` marks at the top.

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::event::{DbAttempt, ErrorClass};
use crate::state::stats::Ring;
use crate::ui::view::{Scale, View};
use crate::units::{self, secs_between};

pub(crate) const EIGHTHS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Y-axis labels and the axis line.
const LABEL_W: u16 = 9;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum Fail {
    #[default]
    None,
    Other,
    Capacity,
    Timeout,
}

impl Fail {
    fn of(a: &DbAttempt) -> Self {
        match a.error.as_ref().map(|e| e.class) {
            None if a.ok => Fail::None,
            Some(ErrorClass::Timeout) => Fail::Timeout,
            Some(ErrorClass::TooManyConnections) => Fail::Capacity,
            _ => Fail::Other,
        }
    }

    fn mark(self) -> char {
        match self {
            Fail::None => ' ',
            Fail::Other => '✗',
            Fail::Capacity => 'C',
            Fail::Timeout => 'T',
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Column {
    /// The slowest success within the scale (drawn as a bar).
    max_ok: Option<f64>,
    /// Some success in this slice was above the scale (drawn as `▲` over the bar).
    over: bool,
    /// The most telling failure in the slice: timeout over capacity over the rest.
    fail: Fail,
}

/// A round number at or above `v` (1, 2, 5 × 10^k) so axis labels read cleanly.
fn nice_ceiling(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let exp = v.log10().floor();
    let base = 10f64.powf(exp);
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * base * (1.0 + 1e-9) {
            return m * base;
        }
    }
    10.0 * base
}

/// Top of the plot in ms: near p95 of successful attempts (robust) or their maximum (full).
pub(crate) fn scale_top(ok_ms: &mut [f64], scale: Scale) -> f64 {
    if ok_ms.is_empty() {
        return 1.0;
    }
    ok_ms.sort_by(f64::total_cmp);
    let n = ok_ms.len();
    let max = ok_ms[n - 1];
    let top = match scale {
        Scale::Full => max,
        Scale::Robust => {
            let p95 = ok_ms[((0.95 * n as f64).ceil() as usize).clamp(1, n) - 1];
            // Some headroom over p95, never above the real maximum.
            (p95 * 1.25).min(max)
        }
    };
    nice_ceiling(top.max(0.01))
}

/// `text` at the start of `room`, cut to its width.
fn note(buf: &mut Buffer, room: Rect, text: &str, style: Style) {
    buf.set_stringn(room.x, room.y, text, usize::from(room.width), style);
}

fn set(buf: &mut Buffer, x: u16, y: u16, c: char, style: Style) {
    if let Some(cell) = buf.cell_mut((x, y)) {
        cell.set_char(c).set_style(style);
    }
}

/// Where the chart's parts sit in the buffer: labels left of `x0`, the plot from `top` down
/// to the failure lane, the time axis under it.
#[derive(Debug, Clone, Copy)]
struct Plot {
    label_x: u16,
    x0: u16,
    top: u16,
    w: u16,
    h: u16,
    lane_y: u16,
    axis_y: u16,
}

impl Plot {
    /// `None` when `area` is too small to draw a readable chart.
    fn of(area: Rect) -> Option<Self> {
        if area.height < 4 || area.width <= LABEL_W + 4 {
            return None;
        }
        let h = area.height - 2;
        Some(Self {
            label_x: area.x,
            x0: area.x + LABEL_W,
            top: area.y,
            w: area.width - LABEL_W,
            h,
            lane_y: area.y + h,
            axis_y: area.y + h + 1,
        })
    }
}

/// Draws the chart into `area` of `buf`; nothing outside `area` is touched.
pub(crate) fn render(
    buf: &mut Buffer,
    area: Rect,
    attempts: &Ring<(DateTime<Utc>, DbAttempt)>,
    view: &View,
) {
    let p = &view.palette;
    let area = area.intersection(buf.area);
    let Some(plot) = Plot::of(area) else {
        let room = Rect::new(area.x, area.y, area.width, 1);
        return note(buf, room, "(chart needs more room)", p.muted);
    };
    let (Some((first, _)), Some((last, _))) = (attempts.iter().next(), attempts.last()) else {
        let room = Rect::new(plot.x0, plot.top, plot.w, 1);
        return note(buf, room, "no attempts yet", p.muted);
    };
    // The scale first (from every success in view), then the columns against it.
    let mut ok_ms: Vec<f64> = attempts
        .iter()
        .filter(|(_, a)| Fail::of(a) == Fail::None)
        .map(|(_, a)| a.total_ms)
        .collect();
    let no_success = ok_ms.is_empty();
    let top = scale_top(&mut ok_ms, view.scale);
    let cols = columns(attempts, (*first, *last), top, plot.w);
    let top_label = if no_success {
        units::NONE.to_string()
    } else {
        units::ms(top)
    };
    axes(buf, plot, &top_label, (*first, *last), view);
    for (i, c) in cols.iter().enumerate() {
        column(buf, plot, plot.x0 + i as u16, c, top, view);
    }
    if no_success {
        // Said in words over the shaded band: an empty chart must not read as "fine".
        let note = " no successful connection in view ";
        let w = note.chars().count() as u16;
        if w <= plot.w {
            let x = plot.x0 + (plot.w - w) / 2;
            buf.set_string(x, plot.top + (plot.h - 1) / 2, note, p.fail);
        }
    }
}

/// The attempts binned into `width` columns by time, judged against the scale's `top`.
fn columns(
    attempts: &Ring<(DateTime<Utc>, DbAttempt)>,
    (first, last): (DateTime<Utc>, DateTime<Utc>),
    top: f64,
    width: u16,
) -> Vec<Column> {
    let span = secs_between(first, last).max(1.0);
    let mut cols = vec![Column::default(); usize::from(width)];
    for (at, a) in attempts.iter() {
        let f = (secs_between(first, *at) / span).clamp(0.0, 1.0);
        let i = ((f * f64::from(width - 1)).round() as usize).min(cols.len() - 1);
        let c = &mut cols[i];
        match Fail::of(a) {
            Fail::None if a.total_ms > top => c.over = true,
            Fail::None => c.max_ok = Some(c.max_ok.map_or(a.total_ms, |m| m.max(a.total_ms))),
            f => {
                if f as u8 > c.fail as u8 {
                    c.fail = f;
                }
            }
        }
    }
    cols
}

/// Axis labels: top value, zero, the failure lane, and the time range.
fn axes(
    buf: &mut Buffer,
    plot: Plot,
    top_label: &str,
    (first, last): (DateTime<Utc>, DateTime<Utc>),
    view: &View,
) {
    let p = &view.palette;
    let label = |s: &str| format!("{s:>w$}", w = usize::from(LABEL_W - 2));
    let (x0, lane_y, axis_y) = (plot.x0, plot.lane_y, plot.axis_y);
    buf.set_string(plot.label_x, plot.top, label(top_label), p.muted);
    buf.set_string(plot.label_x, lane_y - 1, label("0"), p.muted);
    buf.set_string(plot.label_x, lane_y, label("fail"), p.muted);
    for y in plot.top..lane_y {
        let c = if y == plot.top { '┤' } else { '│' };
        set(buf, x0 - 1, y, c, p.border);
    }
    set(buf, x0 - 1, lane_y, '┼', p.border);
    let t0 = units::clock(first);
    let t1 = units::clock(last);
    buf.set_stringn(x0, axis_y, &t0, usize::from(plot.w), p.muted);
    let right = format!("{t1} UTC");
    let rx = (x0 + plot.w).saturating_sub(right.chars().count() as u16);
    if rx > x0 + t0.len() as u16 + 1 {
        buf.set_string(rx, axis_y, &right, p.muted);
        let span = secs_between(first, last).max(1.0);
        let mid = format!("← {} →", units::span(span));
        let mx = (x0 + plot.w / 2).saturating_sub(mid.chars().count() as u16 / 2);
        if mx > x0 + t0.len() as u16 + 1 && mx + (mid.chars().count() as u16) < rx {
            buf.set_string(mx, axis_y, &mid, p.muted);
        }
    }
}

/// One column at `x`: its failure mark in the lane, its bar, and `▲` or the outage shade.
fn column(buf: &mut Buffer, plot: Plot, x: u16, c: &Column, top: f64, view: &View) {
    let p = &view.palette;
    let lane_y = plot.lane_y;
    if c.fail != Fail::None {
        set(buf, x, lane_y, c.fail.mark(), p.fail);
    } else {
        set(buf, x, lane_y, '─', p.border);
    }
    if let Some(v) = c.max_ok {
        let total_eighths = u32::from(plot.h) * 8;
        let e = ((v / top * f64::from(total_eighths)).round() as u32).clamp(1, total_eighths);
        let (full, part) = (e / 8, e % 8);
        for r in 0..full {
            set(buf, x, lane_y - 1 - r as u16, '█', p.bar);
        }
        if part > 0 {
            let y = lane_y - 1 - full as u16;
            set(buf, x, y, EIGHTHS[part as usize - 1], p.bar);
        }
    }
    if c.over {
        set(buf, x, plot.top, '▲', p.warn);
    } else if c.max_ok.is_none() && c.fail != Fail::None {
        // Only failures here: shade the whole column so an outage reads as a band.
        for y in plot.top..lane_y {
            set(buf, x, y, '░', p.fail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.7), 1.0);
        assert_eq!(nice_ceiling(23.0), 50.0);
        assert_eq!(nice_ceiling(20.0), 20.0);
        assert_eq!(nice_ceiling(101.0), 200.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
    }

    #[test]
    fn robust_scale_ignores_a_lone_spike() {
        let mut v: Vec<f64> = (0..99).map(|i| 20.0 + f64::from(i % 5)).collect();
        v.push(5000.0);
        assert_eq!(scale_top(&mut v.clone(), Scale::Robust), 50.0);
        assert_eq!(scale_top(&mut v, Scale::Full), 5000.0);
    }
}
