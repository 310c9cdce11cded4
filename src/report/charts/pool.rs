//! The pool probe's waits: per run, what the service's requests would feel — acquire waits
//! over time — with what lay beneath it on the raw path written under it. Each sample
//! interval is a column: the p95 of the acquires that finished in it as a bar (a whisker up
//! to the longest), the borrowers still waiting at the sample as an outlined bar up to the
//! longest wait so far. Acquire timeouts and errors are marks in lanes of their own, never a
//! bar or a line; an interval in which no acquire succeeded is shaded. The acquire timeout
//! and the warn threshold are lines across the plot.
//!
//! Waits are on a log scale: an idle pool answers in microseconds and a starved one after its
//! timeout, in the same interval. Runs share one axis, seconds since each began (the probe's
//! own clock), so they compare at a glance.

use super::{Drawn, GUTTER, RIGHT, WIDTH, mark, swatch};
use crate::event::{ErrorClass, PoolSample};
use crate::report::model::{Report, pool_figures, pool_shape};
use crate::report::series::PoolWaits;
use crate::report::svg::{LinearScale, LogScale, Svg};
use crate::state::verdict::Verdict;
use crate::units::{self, clock};

const HEAD: f64 = 22.0;
const PLOT_H: f64 = 160.0;
const ROW: f64 = 16.0;
/// Waits below this are drawn at the floor (a bar still shows).
const FLOOR_MS: f64 = 0.01;
/// Characters of a line of words that fit right of the gutter.
const LINE_CHARS: usize = 125;
/// Left edge of the words in the gutter (the value axis' labels are at its right edge).
const GUTTER_WORDS: f64 = 8.0;

pub(super) fn chart(r: &Report) -> Option<Drawn> {
    let runs = &r.charts.pool;
    if runs.is_empty() {
        return None;
    }
    let longest = runs.iter().map(run_secs).fold(1.0, f64::max);
    let sx = LinearScale {
        max: longest * 1.03,
        x0: GUTTER,
        x1: WIDTH - RIGHT,
    };
    let h = 6.0 + runs.iter().map(height).sum::<f64>() + 24.0;
    let mut svg = Svg::new("pool-waits", WIDTH, h, &label(runs));
    svg.rect(0.0, 0.0, WIDTH, h, "page", None);
    let mut y = 6.0;
    for w in runs {
        y = draw_run(&mut svg, &sx, y, w);
    }
    legend(&mut svg, h - 8.0);
    let caption = "Each pool probe run: the acquire waits its borrowers felt, on a log scale — bars are each interval's p95 (the whisker its longest), outlined bars the borrowers still waiting at the sample, the longest so far; acquire timeouts and errors are marks in lanes of their own, and an interval in which no acquire succeeded is shaded; the dashed red line is the acquire timeout. Under each run, what the raw database attempts met beneath it. Seconds since each run began.".to_string();
    Some(Drawn {
        id: "pool-waits",
        title: "Application pool",
        caption,
        svg,
    })
}

fn label(runs: &[PoolWaits]) -> String {
    let sum = |f: fn(&PoolWaits) -> u64| runs.iter().map(f).sum::<u64>();
    format!(
        "Application pool acquire waits: {}, {}, {}, {}",
        units::count(runs.len() as u64, "run"),
        units::count(sum(|w| w.run.totals.acquisitions), "acquisition"),
        units::count(sum(|w| w.run.totals.timeouts), "acquire timeout"),
        units::count(sum(|w| w.run.totals.errors_total()), "error")
    )
}

/// How long the run lasted (or was to last), in seconds.
fn run_secs(w: &PoolWaits) -> f64 {
    let r = &w.run;
    let ended = r.finished.as_ref().map(|(_, f)| f.elapsed_ms);
    let sampled = r.samples.last().map(|(_, s)| s.elapsed_ms);
    [Some(r.started.duration_ms), ended, sampled]
        .into_iter()
        .flatten()
        .fold(0.0, f64::max)
        / 1000.0
}

fn has_errors(w: &PoolWaits) -> bool {
    w.run.totals.errors_total() > 0 || w.run.samples.iter().any(|(_, s)| s.errors > 0)
}

fn lanes(w: &PoolWaits) -> usize {
    1 + usize::from(has_errors(w))
}

fn height(w: &PoolWaits) -> f64 {
    HEAD + PLOT_H + 6.0 + lanes(w) as f64 * ROW + 18.0 + 2.0 * ROW + 16.0
}

/// Every wait the plot must hold, and the lines it draws.
fn values(w: &PoolWaits) -> impl Iterator<Item = f64> + '_ {
    let samples = w.run.samples.iter().flat_map(|(_, s)| {
        let waiting = (s.waiting > 0).then_some(s.longest_wait_ms);
        [s.wait_p95_ms, s.wait_max_ms, waiting]
            .into_iter()
            .flatten()
    });
    samples.chain([w.run.started.acquire_timeout_ms, w.warn_ms])
}

/// One run: its heading, plot, lanes, figures and what lay beneath; returns the y below it.
fn draw_run(svg: &mut Svg, sx: &LinearScale, y: f64, w: &PoolWaits) -> f64 {
    let top = y + HEAD;
    let vs = LogScale::around(values(w), FLOOR_MS, top + PLOT_H, top);
    svg.group(if w.past { "run past" } else { "run" });
    heading(svg, y, w);
    svg.rect(sx.x0, top, sx.x1 - sx.x0, PLOT_H, "plot", None);
    value_axis(svg, sx, &vs);
    limits(svg, sx, &vs, w);
    let cols = columns(w, sx);
    if cols.is_empty() {
        let why = w.run.stopped_early().map_or_else(
            || "no sample yet".to_string(),
            |r| format!("nothing measured: {r}"),
        );
        svg.text(sx.x0 + 8.0, top + PLOT_H / 2.0, "axis", &cut(&why));
    }
    for c in &cols {
        column(svg, &vs, c);
    }
    let mut yy = top + PLOT_H + 6.0;
    timeout_lane(svg, sx, yy, &cols, w);
    yy += ROW;
    if has_errors(w) {
        error_lane(svg, sx, yy, &cols);
        yy += ROW;
    }
    time_axis(svg, sx, top, yy);
    yy += 18.0;
    words(svg, yy, w);
    svg.end_group();
    yy + 2.0 * ROW + 16.0
}

fn heading(svg: &mut Svg, y: f64, w: &PoolWaits) {
    let r = &w.run;
    let status = if let Some((_, why)) = &r.superseded {
        format!(" · history: {why}")
    } else if let Some(why) = r.stopped_early() {
        format!(" · stopped early: {why}")
    } else if r.running() && w.verdict.is_some() {
        " · running".to_string()
    } else if r.running() {
        " · no end recorded".to_string()
    } else {
        String::new()
    };
    let words = format!(
        "{} · {}–{} UTC{status}",
        pool_shape(&r.started),
        clock(r.started_at),
        clock(r.until())
    );
    svg.text(GUTTER, y + 15.0, "small", &cut(&words));
    let top = y + HEAD;
    svg.text(
        GUTTER_WORDS,
        top + 14.0,
        "bold",
        &format!("run {}", r.started.run),
    );
    svg.text(GUTTER_WORDS, top + 28.0, "axis", &clock(r.started_at));
    svg.text(GUTTER_WORDS, top + 48.0, "axis", "acquire wait");
    svg.text(GUTTER_WORDS, top + 62.0, "axis small", "log scale");
}

fn value_axis(svg: &mut Svg, sx: &LinearScale, vs: &LogScale) {
    for v in vs.ticks(8) {
        let y = vs.y(v);
        svg.line(sx.x0, y, sx.x1, y, "grid");
        svg.text(GUTTER - 6.0, y + 4.0, "axis end", &units::ms(v));
    }
}

/// The acquire timeout, the warn threshold, and where borrowing was planned to stop.
fn limits(svg: &mut Svg, sx: &LinearScale, vs: &LogScale, w: &PoolWaits) {
    let st = &w.run.started;
    let y = vs.y(st.acquire_timeout_ms);
    svg.line(sx.x0, y, sx.x1, y, "limit");
    let words = format!("acquire timeout {}", units::ms(st.acquire_timeout_ms));
    svg.text(sx.x1 - 4.0, y - 4.0, "axis end", &words);
    if w.warn_ms < st.acquire_timeout_ms {
        let y = vs.y(w.warn_ms);
        svg.line(sx.x0, y, sx.x1, y, "warn-line");
        let words = format!("waits warn over {}", units::ms(w.warn_ms));
        svg.text(sx.x0 + 4.0, y - 4.0, "axis", &words);
    }
    let x = sx.x(st.duration_ms / 1000.0);
    svg.line(x, vs.y1, x, vs.y0, "budget-line");
    let words = format!(
        "borrowing ends {}",
        units::secs_exact(st.duration_ms / 1000.0)
    );
    svg.text(x - 4.0, vs.y0 - 4.0, "axis end small", &words);
}

/// One sample interval, laid out.
struct Col<'a> {
    s: &'a PoolSample,
    at: chrono::DateTime<chrono::Utc>,
    /// Since the run began: the interval's start and end (the sample).
    from_ms: f64,
    x0: f64,
    x1: f64,
    /// Errors in this interval by class (the cumulative counts' difference).
    errors: Vec<(ErrorClass, u64)>,
}

impl Col<'_> {
    fn mid(&self) -> f64 {
        (self.x0 + self.x1) / 2.0
    }

    /// `08:59:51 · 1.0–1.5 s into the run`.
    fn when(&self) -> String {
        format!(
            "{} · {:.1}–{:.1} s into the run",
            clock(self.at),
            self.from_ms / 1000.0,
            self.s.elapsed_ms / 1000.0
        )
    }
}

/// The samples as intervals: each from the previous sample (the run's start for the first:
/// the probe sends at most ~120 samples and the state keeps 240, so none is missing).
fn columns<'a>(w: &'a PoolWaits, sx: &LinearScale) -> Vec<Col<'a>> {
    let mut out: Vec<Col<'a>> = Vec::with_capacity(w.run.samples.len());
    let mut prev: Option<&PoolSample> = None;
    for (at, s) in w.run.samples.iter() {
        let from_ms = prev.map_or(0.0, |p| p.elapsed_ms).min(s.elapsed_ms);
        let errors = s
            .totals
            .errors
            .iter()
            .map(|(c, n)| {
                let before = prev.and_then(|p| p.totals.errors.get(c)).copied();
                (*c, n.saturating_sub(before.unwrap_or(0)))
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        let (x0, x1) = (sx.x(from_ms / 1000.0), sx.x(s.elapsed_ms / 1000.0));
        out.push(Col {
            s,
            at: *at,
            from_ms,
            x0,
            x1: x1.max(x0 + 1.0),
            errors,
        });
        prev = Some(s);
    }
    out
}

fn column(svg: &mut Svg, vs: &LogScale, c: &Col) {
    let s = c.s;
    let cw = c.x1 - c.x0;
    let bw = (cw * 0.4).clamp(1.5, 12.0);
    let finished = s.acquired + s.timeouts + s.errors;
    let waits = format!(
        "{}: {} acquired, {} timed out, {} — waits p95 {}, max {}",
        c.when(),
        s.acquired,
        s.timeouts,
        units::count(s.errors, "error"),
        units::opt_ms(s.wait_p95_ms),
        units::opt_ms(s.wait_max_ms)
    );
    if finished > 0 && s.acquired == 0 {
        let tip = format!("{waits}: no acquire succeeded");
        svg.rect(c.x0, vs.y1, cw, vs.y0 - vs.y1, "fail-col", Some(&tip));
    } else if let Some(p95) = s.wait_p95_ms.filter(|_| s.acquired > 0) {
        let tip = if s.timeouts > 0 {
            format!("{waits} (timeouts count in full)")
        } else {
            waits
        };
        svg.group_titled("col", &tip);
        let x = c.mid() - bw - 0.5;
        let top = vs.y(p95).min(vs.y0 - 1.5);
        svg.rect(x, top, bw, vs.y0 - top, "wait", None);
        if let Some(max) = s.wait_max_ms.filter(|m| vs.y(*m) < top - 1.0) {
            let (cx, ym) = (x + bw / 2.0, vs.y(max));
            svg.line(cx, top, cx, ym, "wait-max");
            svg.line(cx - bw / 2.0, ym, cx + bw / 2.0, ym, "wait-max");
        }
        svg.end_group();
    }
    if s.waiting > 0 && s.longest_wait_ms > 0.0 {
        let tip = format!(
            "{} · {:.1} s into the run: {} waiting, the longest for {} so far",
            clock(c.at),
            s.elapsed_ms / 1000.0,
            units::count(s.waiting, "borrower"),
            units::ms(s.longest_wait_ms)
        );
        let top = vs.y(s.longest_wait_ms).min(vs.y0 - 1.5);
        svg.rect(c.mid() + 0.5, top, bw, vs.y0 - top, "waiting", Some(&tip));
    }
}

fn lane_start(svg: &mut Svg, sx: &LinearScale, y: f64, class: &str, label: &str) {
    svg.group(&format!("fail-lane {class}"));
    svg.line(sx.x0, y + ROW / 2.0, sx.x1, y + ROW / 2.0, "grid");
    svg.text(GUTTER - 6.0, y + 11.5, "end", label);
}

/// A mark per interval with acquire timeouts, its count beside it: never drawn as a wait.
fn timeout_lane(svg: &mut Svg, sx: &LinearScale, y: f64, cols: &[Col], w: &PoolWaits) {
    lane_start(svg, sx, y, "f-pool-timeout", "acquire timeouts");
    let after = units::ms(w.run.started.acquire_timeout_ms);
    let mut any = false;
    for c in cols.iter().filter(|c| c.s.timeouts > 0) {
        any = true;
        let tip = format!(
            "{}: {} after the acquire timeout {after} (waited up to {})",
            c.when(),
            units::count(c.s.timeouts, "acquire timeout"),
            units::opt_ms(c.s.wait_max_ms)
        );
        mark(svg, c.mid(), y + ROW / 2.0, "timeout", &tip);
        count_beside(svg, c.mid(), y, c.s.timeouts);
    }
    if !any {
        svg.text(sx.x0 + 4.0, y + 11.5, "axis", "no acquire timed out");
    }
    svg.end_group();
}

/// A mark per interval with errors (of an acquire or of the borrowed connection's query).
fn error_lane(svg: &mut Svg, sx: &LinearScale, y: f64, cols: &[Col]) {
    lane_start(svg, sx, y, "f-pool-error", "errors");
    for c in cols.iter().filter(|c| c.s.errors > 0) {
        let classes: Vec<String> = c
            .errors
            .iter()
            .map(|(class, n)| format!("{class} ×{n}"))
            .collect();
        let tip = format!(
            "{}: {} ({})",
            c.when(),
            units::count(c.s.errors, "error"),
            classes.join(", ")
        );
        mark(svg, c.mid(), y + ROW / 2.0, "other", &tip);
        count_beside(svg, c.mid(), y, c.s.errors);
    }
    svg.end_group();
}

fn count_beside(svg: &mut Svg, cx: f64, y: f64, n: u64) {
    if n > 1 {
        svg.text(cx + 7.0, y + 11.5, "axis small", &format!("×{n}"));
    }
}

fn time_axis(svg: &mut Svg, sx: &LinearScale, top: f64, bottom: f64) {
    for v in sx.ticks(10) {
        let x = sx.x(v);
        svg.line(x, top, x, bottom, "grid");
        svg.text(x, bottom + 14.0, "axis mid", &units::secs_exact(v));
    }
    // Clear of the "0 s" tick label centred on the plot's left edge.
    svg.text(
        GUTTER - 16.0,
        bottom + 14.0,
        "axis end",
        "since the run began",
    );
}

/// What the pool measured (in the judge's colour for the newest run) and what lay beneath it.
fn words(svg: &mut Svg, y: f64, w: &PoolWaits) {
    let class = match w.verdict {
        Some(Verdict::Fail) => "line bad",
        _ => "line",
    };
    svg.text(GUTTER - 6.0, y + 11.5, "end bold", "measured");
    svg.text(GUTTER, y + 11.5, class, &cut(&pool_figures(&w.run.totals)));
    let y = y + ROW;
    svg.text(GUTTER - 6.0, y + 11.5, "end bold", "beneath");
    svg.text(GUTTER, y + 11.5, "line", &cut(&w.run.beneath.text()));
}

/// At most `LINE_CHARS` characters, the rest an ellipsis (masked first: a cut credential no
/// longer looks like one).
fn cut(text: &str) -> String {
    let text = crate::report::svg::masked(text);
    if text.chars().count() <= LINE_CHARS {
        return text;
    }
    let mut short: String = text.chars().take(LINE_CHARS - 1).collect();
    short.push('…');
    short
}

fn legend(svg: &mut Svg, y: f64) {
    svg.group("legend");
    let mut x = GUTTER;
    for (cls, word) in [
        ("wait", "acquire wait p95"),
        ("waiting", "still waiting (longest)"),
        ("fail-col", "no acquire succeeded"),
    ] {
        x = swatch(svg, x, y, cls, word);
    }
    for (fam, word) in [("timeout", "acquire timeout"), ("other", "error")] {
        mark(svg, x + 5.0, y - 4.0, fam, word);
        svg.text(x + 14.0, y, "axis", word);
        x += 22.0 + 6.2 * word.chars().count() as f64;
    }
    svg.end_group();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_after_masking() {
        assert_eq!(cut("short"), "short");
        let long = "x".repeat(200);
        let c = cut(&long);
        assert_eq!(c.chars().count(), LINE_CHARS);
        assert!(c.ends_with('…'));
        let secret = format!("{} postgres://app:Zq4x9KwQv7Tb@db/app", "y".repeat(100));
        let c = cut(&secret);
        assert!(c.contains("postgres://app:") && !c.contains("Zq4x"), "{c}");
    }
}
