//! The report's charts, drawn from the model (`Report::charts`, never the state): the
//! database timeline, the startup phase chart, health and WebSocket status strips, capacity
//! tests, the pool probe's waits. Each is one SVG whose colours come from classes, so the HTML page's stylesheet (or a
//! file's own, for markdown's `--assets`) paints it in the dashboard's palettes.

mod capacity;
mod phases;
mod pool;
mod strips;
mod timeline;

use crate::report::model::Report;
use crate::ui::theme::{Palette, ThemeName, rgb};

/// Width of every chart in drawing units (shown scaled to the page).
pub(crate) const WIDTH: f64 = 1000.0;
/// Left gutter for row labels and the value axis.
pub(crate) const GUTTER: f64 = 180.0;
pub(crate) const RIGHT: f64 = 16.0;

/// One drawn chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The SVG's id, and the file name (`ID.svg`) under `--assets`.
    pub id: &'static str,
    pub title: &'static str,
    /// A sentence saying what it shows, for the page and the markdown's image text.
    pub(crate) caption: String,
    pub svg: String,
}

/// Every chart the report has data for, in reading order. `standalone`: each SVG carries its
/// own stylesheet (a file of its own); otherwise the page's stylesheet paints it.
pub fn all(r: &Report, theme: ThemeName, standalone: bool) -> Vec<Chart> {
    let style = standalone.then(|| format!(":root{{{}}}{}", variables(theme), CSS));
    let style = style.as_deref();
    [
        timeline::chart(r),
        phases::chart(r),
        strips::chart(r),
        capacity::chart(r),
        pool::chart(r),
    ]
    .into_iter()
    .flatten()
    .map(|d| Chart {
        id: d.id,
        title: d.title,
        caption: d.caption,
        svg: d.svg.finish(style),
    })
    .collect()
}

/// A chart drawn but not yet closed: whether it carries a stylesheet is the caller's choice.
pub(crate) struct Drawn {
    pub id: &'static str,
    pub title: &'static str,
    pub(crate) caption: String,
    pub svg: crate::report::svg::Svg,
}

/// The colours of a theme, as hex, by what they mean.
#[derive(Debug, Clone, PartialEq)]
pub struct Colors {
    pub bg: String,
    pub text: String,
    pub(crate) muted: String,
    /// The plot areas' background (also how a test finds them in a screenshot).
    pub plot: String,
    pub grid: String,
    pub ok: String,
    pub warn: String,
    pub fail: String,
    /// Failures of no special class, infrastructure alerts.
    pub other: String,
    pub(crate) accent: String,
    /// dns, tcp, tls, handshake, query.
    pub steps: [String; 5],
}

fn hex(c: Option<ratatui::style::Color>) -> String {
    let (r, g, b) = c.and_then(rgb).unwrap_or((128, 128, 128));
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn idx(i: u8) -> String {
    hex(Some(ratatui::style::Color::Indexed(i)))
}

/// The dashboard's palette (`ui::theme`) for text and meaning; the plot background, grid and
/// step colours are chosen per theme from the same xterm-256 colours.
pub fn colors(theme: ThemeName) -> Colors {
    let p = Palette::new(theme, false);
    let (plot, grid, steps) = match theme {
        ThemeName::Light => (255, 250, [30, 25, 97, 172, 64]),
        ThemeName::Dark => (235, 239, [73, 75, 141, 215, 149]),
        ThemeName::HighContrast => (16, 244, [51, 39, 201, 214, 118]),
    };
    Colors {
        bg: hex(p.base.bg),
        text: hex(p.text.fg),
        muted: hex(p.muted.fg),
        plot: idx(plot),
        grid: idx(grid),
        ok: hex(p.ok.fg),
        warn: hex(p.warn.fg),
        fail: hex(p.fail.fg),
        other: hex(p.marker.bg),
        accent: hex(p.accent.fg),
        steps: steps.map(idx),
    }
}

/// CSS custom properties for a theme (`--bg: #ffffff; …`).
pub fn variables(theme: ThemeName) -> String {
    let c = colors(theme);
    let mut v = format!(
        "--bg:{};--text:{};--muted:{};--plot:{};--grid:{};--ok:{};--warn:{};--fail:{};--other:{};--accent:{};",
        c.bg, c.text, c.muted, c.plot, c.grid, c.ok, c.warn, c.fail, c.other, c.accent
    );
    for (i, s) in c.steps.iter().enumerate() {
        v.push_str(&format!("--s{i}:{s};"));
    }
    v
}

/// How every chart element is painted, by class.
pub(crate) const CSS: &str = "\
.chart{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;font-size:12px;max-width:100%;height:auto}\
.chart text{fill:var(--text)}\
.chart .page{fill:var(--bg)}\
.chart .axis{fill:var(--muted);font-size:11px}\
.chart .end{text-anchor:end}.chart .mid{text-anchor:middle}\
.chart .small{font-size:10.5px}.chart .bold{font-weight:600}\
.chart .plot{fill:var(--plot)}\
.chart .grid{stroke:var(--grid);stroke-width:1}\
.chart .s0{fill:var(--s0)}.chart .s1{fill:var(--s1)}.chart .s2{fill:var(--s2)}.chart .s3{fill:var(--s3)}.chart .s4{fill:var(--s4)}\
.chart .over{fill:var(--text)}\
.chart .fail-col{fill:var(--fail);fill-opacity:.10}\
.chart .outage{fill:var(--fail);fill-opacity:.16}\
.chart .limit{stroke:var(--fail);stroke-width:1.5;stroke-dasharray:6 4}\
.chart .budget-line{stroke:var(--muted);stroke-width:1.5;stroke-dasharray:6 4}\
.chart .mark-timeout{fill:var(--fail)}.chart .mark-capacity{fill:var(--warn)}\
.chart .mark-other{stroke:var(--other);stroke-width:2.2;fill:none}\
.chart .a-critical{fill:var(--fail)}.chart .a-warning{fill:var(--warn)}\
.chart .a-infrastructure{fill:var(--other)}.chart .a-capacity{fill:var(--warn)}\
.chart .h-ok{fill:var(--ok)}.chart .h-starting{fill:var(--accent)}.chart .h-unhealthy{fill:var(--warn)}\
.chart .h-startup_failure{fill:var(--fail)}.chart .h-failing{fill:var(--fail)}\
.chart .budget{fill:none;stroke:var(--muted);stroke-width:1;stroke-dasharray:3 2}\
.chart .p-pass{fill:var(--ok)}.chart .p-over_budget{fill:var(--warn)}.chart .p-failed,.chart .p-stalled{fill:var(--fail)}\
.chart .p-running{fill:var(--accent)}.chart .p-skipped{fill:var(--grid)}\
.chart .exit{stroke:var(--fail);stroke-width:2}\
.chart .cap-ok{fill:var(--ok)}.chart .cap-53300{fill:var(--warn)}.chart .cap-other{fill:var(--other)}\
.chart .wait{fill:var(--s1)}.chart .wait-max{stroke:var(--text);stroke-width:1}\
.chart .waiting{fill:var(--warn);fill-opacity:.15;stroke:var(--warn);stroke-width:1.2}\
.chart .warn-line{stroke:var(--warn);stroke-width:1.2;stroke-dasharray:2 3}\
.chart .past{fill-opacity:.45}\
.chart text.on-bar{fill:var(--bg);font-size:10.5px;font-weight:600}\
.chart text.bad{fill:var(--fail);font-weight:600}\
";

/// A legend swatch and its word, left to right from `x`; returns the next free x.
pub(crate) fn swatch(
    svg: &mut crate::report::svg::Svg,
    x: f64,
    y: f64,
    class: &str,
    word: &str,
) -> f64 {
    svg.rect(x, y - 9.0, 10.0, 10.0, class, None);
    svg.text(x + 14.0, y, "axis", word);
    x + 22.0 + 6.2 * word.chars().count() as f64
}

/// A failure mark centred on (`cx`, `cy`) in the shape of its family: `timeout` a square,
/// `capacity` (53300) a diamond, anything else a cross — shapes, so they read without colour.
pub(crate) fn mark(svg: &mut crate::report::svg::Svg, cx: f64, cy: f64, fam: &str, tip: &str) {
    let class = format!("mark mark-{fam}");
    match fam {
        "timeout" => svg.rect(cx - 4.5, cy - 4.5, 9.0, 9.0, &class, Some(tip)),
        "capacity" => svg.path(
            &[
                (cx, cy - 5.5),
                (cx + 5.5, cy),
                (cx, cy + 5.5),
                (cx - 5.5, cy),
            ],
            true,
            &class,
            Some(tip),
        ),
        _ => svg.path(
            &[
                (cx - 4.0, cy - 4.0),
                (cx + 4.0, cy + 4.0),
                (cx, cy),
                (cx + 4.0, cy - 4.0),
                (cx - 4.0, cy + 4.0),
            ],
            false,
            &class,
            Some(tip),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_theme_has_distinct_step_colours_and_its_palette() {
        for theme in ThemeName::ALL {
            let c = colors(theme);
            let mut steps = c.steps.to_vec();
            steps.sort();
            steps.dedup();
            assert_eq!(steps.len(), 5, "{theme:?}");
            assert_ne!(c.plot, c.text);
            assert_ne!(c.ok, c.fail);
        }
        assert_eq!(colors(ThemeName::Light).bg, "#ffffff");
        assert_eq!(colors(ThemeName::HighContrast).bg, "#000000");
    }
}
