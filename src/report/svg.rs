//! The one place SVG is written: elements with a class (colours come from the page's or the
//! file's stylesheet, so one drawing serves every theme and print), a tooltip `<title>` where
//! a mark needs its numbers, and text made safe (secrets masked, then escaped). Plus the two
//! scales every chart uses: time left to right, and a linear value axis.
//!
//! Hand-written rather than `plotters`: the charts need classes and ids on their elements (for
//! themes, print and structural tests), tooltips, and marks plotters has no notion of (failure
//! lanes, bands, Gantt bars) — about 150 lines here against a dependency drawing the same
//! rectangles with inline colours.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::units::{self, secs_between};

/// Text from a recording fit for a document: registered secrets scrubbed, credentials known
/// by shape masked (URLs, `password=…`, `--token …`), then escaped for HTML and XML.
pub(crate) fn esc(text: &str) -> String {
    escape_markup(&masked(text))
}

/// Text with its secrets masked (before it is cut: a cut URL no longer looks like one).
pub(crate) fn masked(text: &str) -> String {
    crate::secret::redact_command(text)
}

/// `&`, `<`, `>`, quotes escaped; characters XML cannot carry dropped.
pub(crate) fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A number for a coordinate: one decimal is finer than any screen needs, and keeps files small.
fn n(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

pub(crate) struct Svg {
    out: String,
    open_groups: usize,
}

impl Svg {
    /// A drawing `w` × `h` units, scaled to the width it is shown at; `label` is what a screen
    /// reader (and a tooltip on the whole chart) says.
    pub(crate) fn new(id: &str, w: f64, h: f64, label: &str) -> Self {
        let mut out = String::with_capacity(16 * 1024);
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" id="{id}" class="chart" viewBox="0 0 {} {}" width="{}" height="{}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">{}</title>"#,
            n(w),
            n(h),
            n(w),
            n(h),
            esc(label)
        );
        Self {
            out,
            open_groups: 0,
        }
    }

    pub(crate) fn group(&mut self, class: &str) {
        let _ = write!(self.out, r#"<g class="{class}">"#);
        self.open_groups += 1;
    }

    /// A group whose tooltip covers all its marks (a stacked bar's segments).
    pub(crate) fn group_titled(&mut self, class: &str, tip: &str) {
        let _ = write!(
            self.out,
            r#"<g class="{class}"><title>{}</title>"#,
            esc(tip)
        );
        self.open_groups += 1;
    }

    pub(crate) fn end_group(&mut self) {
        if self.open_groups > 0 {
            self.out.push_str("</g>");
            self.open_groups -= 1;
        }
    }

    fn close(&mut self, tip: Option<&str>, tag: &str) {
        match tip {
            Some(t) => {
                let _ = write!(self.out, "><title>{}</title></{tag}>", esc(t));
            }
            None => self.out.push_str("/>"),
        }
    }

    pub(crate) fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, class: &str, tip: Option<&str>) {
        let _ = write!(
            self.out,
            r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}""#,
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0))
        );
        self.close(tip, "rect");
    }

    pub(crate) fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, class: &str) {
        let _ = write!(
            self.out,
            r#"<line class="{class}" x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
            n(x1),
            n(y1),
            n(x2),
            n(y2)
        );
    }

    /// A path from points (`M x y L x y … Z` when `closed`).
    pub(crate) fn path(
        &mut self,
        pts: &[(f64, f64)],
        closed: bool,
        class: &str,
        tip: Option<&str>,
    ) {
        let mut d = String::new();
        for (i, (x, y)) in pts.iter().enumerate() {
            let cmd = if i == 0 { 'M' } else { 'L' };
            let _ = write!(d, "{cmd}{} {}", n(*x), n(*y));
        }
        if closed {
            d.push('Z');
        }
        let _ = write!(self.out, r#"<path class="{class}" d="{d}""#);
        self.close(tip, "path");
    }

    /// Text at `x`, baseline `y`; alignment and size are the class's (`end`, `middle`, …).
    pub(crate) fn text(&mut self, x: f64, y: f64, class: &str, text: &str) {
        let _ = write!(
            self.out,
            r#"<text class="{class}" x="{}" y="{}">{}</text>"#,
            n(x),
            n(y),
            esc(text)
        );
    }

    /// The drawing, with `style` inside it when it is a file of its own (no page around it).
    pub(crate) fn finish(mut self, style: Option<&str>) -> String {
        while self.open_groups > 0 {
            self.end_group();
        }
        if let Some(css) = style {
            // After the title, so the stylesheet is part of the drawing and not its label.
            let at = self
                .out
                .find("</title>")
                .map_or(0, |i| i + "</title>".len());
            self.out.insert_str(at, &format!("<style>{css}</style>"));
        }
        self.out.push_str("</svg>");
        self.out
    }
}

/// Time left to right: `t0` at `x0`, `t1` at `x1`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeScale {
    pub t0: DateTime<Utc>,
    pub t1: DateTime<Utc>,
    pub(crate) x0: f64,
    pub(crate) x1: f64,
}

/// Tick steps in seconds, from a tenth of a second to a day.
const TIME_STEPS: [f64; 20] = [
    0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
    3600.0, 7200.0, 10800.0, 21600.0, 86400.0,
];

impl TimeScale {
    /// A span of at least a second, so a single instant still has room.
    pub(crate) fn new(t0: DateTime<Utc>, t1: DateTime<Utc>, x0: f64, x1: f64) -> Self {
        let t1 = if secs_between(t0, t1) < 1.0 {
            t0 + chrono::Duration::seconds(1)
        } else {
            t1
        };
        Self { t0, t1, x0, x1 }
    }

    pub(crate) fn secs(&self) -> f64 {
        secs_between(self.t0, self.t1)
    }

    pub(crate) fn x(&self, t: DateTime<Utc>) -> f64 {
        let f = secs_between(self.t0, t) / self.secs();
        (self.x0 + f * (self.x1 - self.x0)).clamp(self.x0, self.x1)
    }

    /// Ticks on round wall-clock times, at most `max` of them, each with its label (UTC).
    pub(crate) fn ticks(&self, max: usize) -> Vec<(f64, String)> {
        let span = self.secs();
        let step = TIME_STEPS
            .iter()
            .copied()
            .find(|s| span / s <= max as f64)
            .unwrap_or(86400.0 * (span / 86400.0 / max as f64).ceil());
        let start_ms = self.t0.timestamp_millis() as f64;
        let step_ms = step * 1000.0;
        let first = (start_ms / step_ms).ceil() * step_ms;
        let mut out = Vec::new();
        let mut k = 0.0;
        while out.len() <= max {
            let ms = first + k * step_ms;
            k += 1.0;
            let Some(t) = DateTime::from_timestamp_millis(ms as i64) else {
                break;
            };
            if t > self.t1 {
                break;
            }
            let label = if step < 1.0 {
                format!("{}.{}", units::clock(t), t.timestamp_subsec_millis() / 100)
            } else if step < 60.0 {
                units::clock(t)
            } else {
                t.format("%H:%M").to_string()
            };
            out.push((self.x(t), label));
        }
        out
    }
}

/// Values bottom to top: `0` at `y0` (bottom), `top` at `y1`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueScale {
    pub top: f64,
    pub(crate) y0: f64,
    pub(crate) y1: f64,
}

impl ValueScale {
    pub(crate) fn y(&self, v: f64) -> f64 {
        let f = if self.top > 0.0 { v / self.top } else { 0.0 };
        self.y0 - f.clamp(0.0, 1.0) * (self.y0 - self.y1)
    }
}

/// Values bottom to top on a log scale: `lo` at `y0` (bottom), `hi` at `y1`, whole decades
/// apart. For waits that span orders of magnitude (an idle pool answers in microseconds, a
/// starved one after its timeout), where a linear axis would flatten all but the largest.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogScale {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) y0: f64,
    pub(crate) y1: f64,
}

impl LogScale {
    /// The decades around `values` (positive ones), never below `floor`: at least one decade.
    pub(crate) fn around(values: impl Iterator<Item = f64>, floor: f64, y0: f64, y1: f64) -> Self {
        let (mut min, mut max) = (f64::INFINITY, 0.0f64);
        for v in values.filter(|v| v.is_finite() && *v > 0.0) {
            min = min.min(v);
            max = max.max(v);
        }
        if !min.is_finite() {
            (min, max) = (floor, floor);
        }
        let lo = min.max(floor).log10().floor() as i32;
        // A value exactly on a decade still gets room above it.
        let hi = ((max * 1.05).log10().ceil() as i32).max(lo + 1);
        Self {
            lo: decade(lo),
            hi: decade(hi),
            y0,
            y1,
        }
    }

    fn decades(&self) -> (i32, i32) {
        (
            self.lo.log10().round() as i32,
            self.hi.log10().round() as i32,
        )
    }

    pub(crate) fn y(&self, v: f64) -> f64 {
        let span = (self.hi / self.lo).log10();
        let f = if v > 0.0 && span > 0.0 {
            (v / self.lo).log10() / span
        } else {
            0.0
        };
        self.y0 - f.clamp(0.0, 1.0) * (self.y0 - self.y1)
    }

    /// Every decade from `lo` to `hi` (every other one, or fewer, past `max` ticks).
    pub(crate) fn ticks(&self, max: usize) -> Vec<f64> {
        let (lo, hi) = self.decades();
        let n = (hi - lo).max(0) as usize;
        let step = n.div_ceil(max.max(1)).max(1);
        (lo..=hi).step_by(step).map(decade).collect()
    }
}

/// 10^e, exact for the decades a chart uses (a division for negative ones: 0.1^2 is not 0.01).
fn decade(e: i32) -> f64 {
    if e >= 0 {
        10f64.powi(e)
    } else {
        1.0 / 10f64.powi(-e)
    }
}

/// A linear axis from 0: `x0` at 0, `x1` at `max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinearScale {
    pub max: f64,
    pub(crate) x0: f64,
    pub(crate) x1: f64,
}

impl LinearScale {
    pub(crate) fn x(&self, v: f64) -> f64 {
        let f = if self.max > 0.0 { v / self.max } else { 0.0 };
        self.x0 + f.clamp(0.0, 1.0) * (self.x1 - self.x0)
    }

    /// Round steps (1, 2, 5 × 10^k) with at most `max` ticks.
    pub(crate) fn ticks(&self, max: usize) -> Vec<f64> {
        let raw = self.max / max.max(1) as f64;
        if !(raw.is_finite() && raw > 0.0) {
            return vec![0.0];
        }
        let base = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * base)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * base);
        (0..=max)
            .map(|i| i as f64 * step)
            .take_while(|v| *v <= self.max + 1e-9)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::t;

    #[test]
    fn text_is_escaped_and_secrets_masked() {
        assert_eq!(esc(r#"<b a="1">&'"#), "&lt;b a=&quot;1&quot;&gt;&amp;&#39;");
        let shown = esc("connect postgres://app:hunter2secret@db/app?x=1 password=abc123xyz");
        assert!(!shown.contains("hunter2secret"), "{shown}");
        assert!(!shown.contains("abc123xyz"), "{shown}");
        assert_eq!(escape_markup("a\u{1}b\nc"), "ab c");
    }

    #[test]
    fn every_element_closes_and_style_follows_the_title() {
        let mut s = Svg::new("c", 100.0, 50.0, "a <chart>");
        s.group("g");
        s.rect(1.0, 2.0, 3.0, 4.0, "r", Some("tip & more"));
        s.line(0.0, 0.0, 1.0, 1.0, "l");
        s.path(&[(0.0, 0.0), (1.0, 1.0)], true, "p", None);
        s.text(5.0, 5.0, "t", "x<y");
        let out = s.finish(Some(".r{fill:red}"));
        let doc = roxmltree::Document::parse(&out).expect("well-formed SVG");
        let root = doc.root_element();
        assert_eq!(root.attribute("viewBox"), Some("0 0 100 50"));
        let names: Vec<&str> = root.children().map(|c| c.tag_name().name()).collect();
        assert_eq!(names, vec!["title", "style", "g"]);
        assert!(out.contains("<title>tip &amp; more</title>"));
    }

    #[test]
    fn time_ticks_fall_on_round_clock_times() {
        let s = TimeScale::new(t(0.4), t(22.0), 0.0, 220.0);
        let ticks = s.ticks(8);
        let labels: Vec<&str> = ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, vec!["10:00:05", "10:00:10", "10:00:15", "10:00:20"]);
        assert!((ticks[0].0 - s.x(t(5.0))).abs() < 1e-9);
        let instant = TimeScale::new(t(3.0), t(3.0), 0.0, 100.0);
        assert_eq!(instant.secs(), 1.0);
    }

    #[test]
    fn log_scale_spans_whole_decades_around_its_values() {
        let s = LogScale::around([0.045, 6.5, 1001.5].into_iter(), 0.01, 200.0, 0.0);
        assert_eq!((s.lo, s.hi), (0.01, 10_000.0));
        assert_eq!(s.ticks(8).len(), 7, "0.01 ms … 10 s");
        assert!(
            (s.y(10.0) - 100.0).abs() < 1e-9,
            "10 ms: the middle of six decades"
        );
        assert_eq!(s.y(0.001), 200.0, "below the floor: the bottom");
        assert_eq!(s.y(0.0), 200.0);
        assert_eq!(s.y(1e9), 0.0, "clamped");
        let s = LogScale::around([1000.0].into_iter(), 0.01, 100.0, 0.0);
        assert_eq!(
            (s.lo, s.hi),
            (1000.0, 10_000.0),
            "a value on a decade has room"
        );
        let empty = LogScale::around(std::iter::empty(), 0.01, 100.0, 0.0);
        assert_eq!((empty.lo, empty.hi), (0.01, 0.1));
        let wide = LogScale::around([0.01, 1e6].into_iter(), 0.01, 100.0, 0.0);
        assert_eq!(
            wide.ticks(4),
            vec![0.01, 10.0, 10_000.0, 1e7],
            "every third decade"
        );
    }

    #[test]
    fn linear_ticks_are_round() {
        let s = LinearScale {
            max: 12.6,
            x0: 0.0,
            x1: 100.0,
        };
        assert_eq!(s.ticks(6), vec![0.0, 5.0, 10.0]);
        assert_eq!(s.x(6.3), 50.0);
        assert_eq!(s.x(99.0), 100.0, "clamped");
    }
}
