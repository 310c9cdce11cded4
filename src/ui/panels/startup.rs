//! The service's 7 startup phases as bars against their budgets, a verdict per phase in
//! words and symbols, the whole sequence against its budget, and how the service died.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{FAIL, NOT_REACHED, OK, OVER, RUNNING, block, cell, fit, inner, rcell};
use crate::event::StartupSource;
use crate::state::State;
use crate::state::startup::{PhaseVerdict, StartupView, Track};
use crate::ui::fmt;
use crate::ui::view::{Panel, View};
use crate::units;

/// Rows the panel wants: the phases plus source, total and failure lines, plus borders.
pub fn wanted_height(state: &State, view: &View) -> u16 {
    let phases = state.cfg.phases.len() as u16;
    let failed = judged(view).is_some_and(|v| v.phases.iter().any(|p| p.verdict.is_failure()));
    // A restart loop is part of the story: up to two earlier runs get a line each.
    let earlier = state
        .startup
        .primary()
        .map_or(0, |t| t.previous.len().min(2) as u16);
    phases.saturating_add(4 + u16::from(failed) + earlier)
}

fn verdict_word(v: PhaseVerdict, wide: bool) -> (&'static str, &'static str) {
    match v {
        PhaseVerdict::Pass => (OK, "pass"),
        PhaseVerdict::OverBudget if wide => (OVER, "over budget"),
        PhaseVerdict::OverBudget => (OVER, "over"),
        PhaseVerdict::Failed => (FAIL, "FAILED"),
        PhaseVerdict::Stalled => (FAIL, "STALLED"),
        PhaseVerdict::Running => (RUNNING, "running"),
        PhaseVerdict::NotReached => (NOT_REACHED, "not yet"),
        PhaseVerdict::Skipped => (NOT_REACHED, "skipped"),
    }
}

/// The judge's view of the newest run, aged to the dashboard's clock.
fn judged(view: &View) -> Option<&StartupView> {
    view.derived.judgement.startup.as_ref()
}

fn verdict_style(v: PhaseVerdict, view: &View) -> Style {
    let p = &view.palette;
    match v {
        PhaseVerdict::Pass => p.ok,
        PhaseVerdict::OverBudget => p.warn,
        PhaseVerdict::Failed | PhaseVerdict::Stalled => p.fail,
        PhaseVerdict::Running => p.accent,
        PhaseVerdict::NotReached | PhaseVerdict::Skipped => p.muted,
    }
}

/// `90s`, `1.0s`: budgets are round numbers, short is enough.
fn budget(secs: f64) -> String {
    if secs < 10.0 {
        format!("{secs:.1}s")
    } else {
        format!("{secs:.0}s")
    }
}

fn source_line(track: Option<&Track>, view: &View) -> Line<'static> {
    let p = &view.palette;
    let Some(t) = track else {
        return Line::from(Span::styled("no startup log yet — phase budgets:", p.muted));
    };
    let what = match t.source {
        StartupSource::Log => "from the service's startup log",
        StartupSource::Rehearsal => "from connscope's rehearsal",
    };
    let mut s = vec![Span::styled(what, p.muted)];
    if t.runs > 1 {
        s.push(Span::styled(
            format!(
                " · run #{} ({} restart{})",
                t.runs,
                t.runs - 1,
                plural(t.runs - 1)
            ),
            p.warn,
        ));
    }
    if t.lines > 0 {
        s.push(Span::styled(
            format!(" · {} lines, {} unmatched", t.lines, t.skipped),
            p.muted,
        ));
    }
    Line::from(s)
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Column widths for the phase rows; the bar takes what is left and goes first when narrow.
struct Cols {
    num: bool,
    name: usize,
    bar: usize,
    verdict: usize,
    wide: bool,
}

const TIME_W: usize = 9;

fn columns(state: &State, width: usize) -> Cols {
    let name = state
        .cfg
        .phases
        .iter()
        .map(|ph| ph.name.chars().count())
        .max()
        .unwrap_or(8)
        .min(14);
    let wide = width >= 60;
    let verdict = if wide { 13 } else { 9 };
    let fixed = name + 1 + TIME_W + 1 + verdict;
    let (num, bar) = match width.checked_sub(fixed + 2) {
        Some(rest) if rest >= 4 => (true, rest - 1),
        Some(_) => (true, 0),
        None => (false, 0),
    };
    let name = if num {
        name
    } else {
        name.min(width.saturating_sub(TIME_W + 1 + verdict + 1))
    };
    Cols {
        num,
        name,
        bar,
        verdict,
        wide,
    }
}

fn phase_lines(state: &State, width: usize, view: &View) -> Vec<Line<'static>> {
    let p = &view.palette;
    let c = columns(state, width);
    let run = judged(view);
    state
        .cfg
        .phases
        .iter()
        .enumerate()
        .map(|(i, cfg_phase)| {
            let ph = run.and_then(|r| r.phases.get(i));
            let v = ph.map_or(PhaseVerdict::NotReached, |ph| ph.verdict);
            let limit = cfg_phase.budget.as_secs_f64();
            let dur = ph.and_then(|ph| ph.duration_s);
            let time = format!(
                "{}/{}",
                dur.map_or_else(|| units::NONE.to_string(), |d| format!("{d:.1}")),
                budget(limit)
            );
            let (sym, word) = verdict_word(v, c.wide);
            let vs = verdict_style(v, view);
            let mut spans = Vec::new();
            if c.num {
                spans.push(Span::styled(format!("{} ", i + 1), p.muted));
            }
            spans.push(Span::styled(
                format!("{} ", cell(&view.text(&cfg_phase.name), c.name)),
                p.text,
            ));
            if c.bar > 0 {
                let frac = match dur {
                    Some(d) if limit > 0.0 => d / limit,
                    Some(_) => 1.0,
                    None => 0.0,
                };
                let (full, empty) = fmt::bar(frac, c.bar);
                spans.push(Span::styled(full, vs));
                spans.push(Span::styled(format!("{empty} "), p.bar_empty));
            }
            spans.push(Span::styled(format!("{} ", rcell(&time, TIME_W)), p.text));
            spans.push(Span::styled(cell(&format!("{sym} {word}"), c.verdict), vs));
            Line::from(spans)
        })
        .collect()
}

fn total_line(state: &State, width: usize, view: &View) -> Line<'static> {
    let p = &view.palette;
    let limit = state.cfg.total_budget.as_secs_f64();
    let run = judged(view);
    let total = run.and_then(|r| r.total_s);
    let label = if width >= 40 { "total " } else { "" };
    let mut s = vec![Span::styled(label, p.muted)];
    match (total, run) {
        (Some(t), Some(r)) => {
            let (sym, style) = if t >= limit || r.failed || (r.exit_code.is_some() && !r.complete) {
                (FAIL, p.fail)
            } else if r.complete {
                (OK, p.ok)
            } else {
                (RUNNING, p.accent)
            };
            s.push(Span::styled(
                format!("{t:.1}/{} {sym}", budget(limit)),
                style,
            ));
        }
        _ => s.push(Span::styled(
            format!("{}/{}", units::NONE, budget(limit)),
            p.muted,
        )),
    }
    if let Some(code) = run.and_then(|r| r.exit_code) {
        let style = if code == 0 { p.ok } else { p.fail };
        s.push(Span::styled(format!(" exit {code}"), style));
    }
    if let Some(r) = run.filter(|r| r.runs > 1 || r.exit_code.is_some()) {
        let restarts = r.runs.saturating_sub(1);
        let looping = r.restart_loop.as_ref().is_some_and(|l| l.active);
        let (text, style) = match restarts {
            0 => (" · 0 restarts".to_string(), p.muted),
            n if looping => (
                format!(" · restart loop ({n} restart{})", plural(n)),
                p.fail,
            ),
            n => (format!(" · {n} restart{}", plural(n)), p.warn),
        };
        s.push(Span::styled(text, style));
    }
    Line::from(s)
}

fn failure_line(width: usize, view: &View) -> Option<Line<'static>> {
    let ph = judged(view)?
        .phases
        .iter()
        .find(|p| p.verdict.is_failure())?;
    let msg = match (ph.verdict, ph.message.as_deref()) {
        (PhaseVerdict::Stalled, _) => "no end in the log, far past its budget",
        (_, Some(m)) => m,
        (_, None) => "failed (no message in the log)",
    };
    let text = format!("{FAIL} phase {} {}: {}", ph.number, ph.name, view.text(msg));
    Some(Line::from(Span::styled(
        fit(&text, width),
        view.palette.fail,
    )))
}

/// Earlier runs when the service is in a restart loop (zoomed view).
fn previous_runs(track: Option<&Track>, view: &View) -> Vec<Line<'static>> {
    let Some(t) = track else { return Vec::new() };
    let p = &view.palette;
    t.previous
        .iter()
        .rev()
        .map(|r| {
            let exit = r
                .exit_code
                .map_or("no exit".into(), |c| format!("exit {c}"));
            let phase = r.failed_phase.as_deref().map_or(String::new(), |ph| {
                format!(
                    ", {ph} failed after {}",
                    r.failed_after_s.map_or(units::NONE.into(), units::secs)
                )
            });
            let style = if r.exit_code.is_some_and(|c| c != 0) {
                p.warn
            } else {
                p.muted
            };
            Line::from(Span::styled(format!("↺ earlier run: {exit}{phase}"), style))
        })
        .collect()
}

pub fn render(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    let b = block("Startup phases", Panel::Startup, view);
    let Some(area_in) = inner(&b, area) else {
        frame.render_widget(b, area);
        return;
    };
    frame.render_widget(b, area);
    let track = state.startup.primary();
    let w = usize::from(area_in.width);
    let phases = phase_lines(state, w, view);
    let failure = failure_line(w, view);
    // Phases and the total always; then the failure message; the source line only with room.
    let room = usize::from(area_in.height);
    let with_source = room >= phases.len() + 2 + usize::from(failure.is_some());
    let mut lines = Vec::with_capacity(room);
    if with_source {
        lines.push(source_line(track, view));
    }
    lines.extend(phases);
    lines.push(total_line(state, w, view));
    lines.extend(failure);
    // Earlier runs fill whatever rows are left (all of them when zoomed).
    lines.extend(previous_runs(track, view));
    frame.render_widget(Paragraph::new(lines), area_in);
}
