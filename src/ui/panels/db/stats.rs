//! The numbers beside (or above) the chart: success rate, the failing streak, error classes,
//! percentiles and step averages, and how to read the chart.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::state::State;
use crate::state::verdict::Verdict;
use crate::ui::fmt;
use crate::ui::panels::FAIL;
use crate::ui::text::{self, wrap};
use crate::ui::view::{Scale, View};
use crate::units;

/// The judge's colour for the success rate of "now" (its thresholds, not the panel's).
fn rate_style(view: &View) -> Style {
    let p = &view.palette;
    match view.judged.judgement.db.rate {
        Some(Verdict::Pass) => p.ok,
        Some(Verdict::Warn) => p.warn,
        Some(Verdict::Fail) | None => p.fail,
    }
}

/// The headline is "now" (what the rules judge); the run's total follows, labelled, once the
/// two differ.
fn success_lines(width: usize, view: &View) -> Vec<Line<'static>> {
    let p = &view.palette;
    let db = &view.judged.judgement.db;
    let (now, total) = (db.now, db.total);
    let Some(rate) = now.success_rate else {
        return vec![Line::from(Span::styled(
            "success —  (no attempt yet)",
            p.muted,
        ))];
    };
    let whole = now.attempts == total.attempts;
    let label = if whole {
        format!(" {} ({}/{})", units::pct(rate), now.successes, now.attempts)
    } else {
        format!(" {} of last {}", units::pct(rate), now.attempts)
    };
    let bar_w = width.saturating_sub(8 + label.chars().count()).min(24);
    let (full, empty) = fmt::bar(rate, bar_w);
    let style = rate_style(view);
    let mut lines = vec![Line::from(vec![
        Span::styled("success ", p.muted),
        Span::styled(full, style),
        Span::styled(empty, p.bar_empty),
        Span::styled(label, style),
    ])];
    if !whole {
        lines.extend(wrap(
            &[Span::styled(
                format!(
                    "total success {} ({}/{})",
                    units::opt_pct(total.success_rate),
                    total.successes,
                    total.attempts
                ),
                p.muted,
            )],
            width,
            2,
        ));
    }
    lines
}

fn streak_lines(state: &State, width: usize, view: &View) -> Vec<Line<'static>> {
    let db = &state.db;
    let (Some(since), Some(now)) = (db.down_since, view.now.or(state.last_at)) else {
        return Vec::new();
    };
    let secs = (now - since).num_milliseconds().max(0) as f64 / 1000.0;
    let text = format!(
        "{FAIL} failing for {} ({} in a row)",
        units::span(secs),
        db.streak_failures
    );
    wrap(&[Span::styled(text, view.palette.fail)], width, 2)
}

/// `label value` pairs in as many aligned columns as the width allows.
fn grid(items: Vec<(&'static str, String)>, width: usize, view: &View) -> Vec<Line<'static>> {
    let p = &view.palette;
    let cell_w = items
        .iter()
        .map(|(l, v)| l.chars().count() + v.chars().count() + 3)
        .max()
        .unwrap_or(1);
    let per_line = (width / cell_w).max(1);
    items
        .chunks(per_line)
        .map(|row| {
            let mut spans = Vec::new();
            for (label, value) in row {
                let pad = cell_w - label.chars().count() - value.chars().count() - 1;
                spans.push(Span::styled(format!("{label} "), p.muted));
                spans.push(Span::styled(format!("{value}{}", " ".repeat(pad)), p.text));
            }
            Line::from(spans)
        })
        .collect()
}

fn ms_grid(
    items: [(&'static str, Option<f64>); 4],
    width: usize,
    view: &View,
) -> Vec<Line<'static>> {
    let cells = items.into_iter().map(|(l, v)| (l, units::opt_ms(v)));
    grid(cells.collect(), width, view)
}

fn percentile_lines(width: usize, view: &View) -> Vec<Line<'static>> {
    let s = view.judged.judgement.db.total;
    let items = [
        ("p50", s.p50_ms),
        ("p95", s.p95_ms),
        ("p99", s.p99_ms),
        ("avg", s.avg_ms),
    ];
    ms_grid(items, width, view)
}

/// Step averages over successful attempts (a failed attempt's later steps never ran).
fn steps_lines(state: &State, width: usize, view: &View) -> Vec<Line<'static>> {
    let a = state.db.step_averages();
    let items = [
        ("dns", a.dns),
        ("tcp", a.tcp),
        ("hs", a.handshake),
        ("qry", a.query),
    ];
    ms_grid(items, width, view)
}

/// Error classes, most frequent first, wrapped whole (`timeout ×4 · refused ×1`).
fn classes_lines(state: &State, width: usize, view: &View) -> Vec<Line<'static>> {
    let p = &view.palette;
    let mut classes: Vec<_> = state.db.classes.iter().collect();
    if classes.is_empty() {
        let text = if view.judged.judgement.db.total.attempts > 0 {
            "errors none"
        } else {
            "errors —"
        };
        return vec![Line::from(Span::styled(text, p.muted))];
    }
    classes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let chunks = classes
        .iter()
        .enumerate()
        .map(|(i, (c, n))| {
            let label = if i == 0 { "errors " } else { "" };
            vec![
                Span::styled(label, p.muted),
                Span::styled(format!("{c} ×{n}"), p.fail),
            ]
        })
        .collect();
    text::flow(chunks, width, Span::styled(" · ", p.muted))
}

/// Stats beside the chart (`stacked` false) or above it. Stacked, the failure comes before
/// the latency numbers: on a small screen those are the first to go.
pub(super) fn lines(state: &State, width: usize, view: &View, stacked: bool) -> Vec<Line<'static>> {
    let p = &view.palette;
    let s = view.judged.judgement.db.now;
    let mut out = success_lines(width, view);
    out.extend(streak_lines(state, width, view));
    if stacked {
        out.extend(classes_lines(state, width, view));
        out.extend(percentile_lines(width, view));
        if state.db.step_averages().tcp.is_some() {
            out.extend(steps_lines(state, width, view));
        }
        return out;
    }
    out.extend(percentile_lines(width, view));
    out.push(Line::from(Span::styled(
        "steps, successful attempts:",
        p.muted,
    )));
    out.extend(steps_lines(state, width, view));
    out.extend(classes_lines(state, width, view));
    if let Some(v) = s.timeout_violation_rate {
        out.push(Line::from(vec![
            Span::styled("timeout violations ", p.muted),
            Span::styled(units::pct(v), if v > 0.0 { p.warn } else { p.text }),
        ]));
    }
    let scale = match view.scale {
        Scale::Robust => "scale ≈p95, ▲ above (z: full)",
        Scale::Full => "scale full (z: robust)",
    };
    out.push(Line::from(Span::styled(scale, p.muted)));
    out.push(Line::from(Span::styled(
        "T timeout  C capacity  ✗ error",
        p.muted,
    )));
    out
}
