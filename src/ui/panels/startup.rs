//! The service's 7 startup phases as bars against their budgets, a verdict per phase in
//! words and symbols, the whole sequence against its budget, and how the service died.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{FAIL, NOT_REACHED, OK, OVER, RUNNING, block, cell, inner, rcell};
use crate::event::StartupSource;
use crate::state::State;
use crate::state::event_log::{Level, LogEntry};
use crate::state::startup::{PhaseVerdict, StartupView, Track};
use crate::ui::fmt;
use crate::ui::text::{Piece, pack, words_fit, wrap_rows};
use crate::ui::view::{Panel, View};
use crate::units;

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
    view.judged.judgement.startup.as_ref()
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

/// `90 s`, `0.1 s`: budgets are round numbers, said as configured.
fn budget(secs: f64) -> String {
    units::secs_exact(secs)
}

/// `75.0/90 s`: measured and budget in one unit, said once.
fn time_cell(measured: Option<f64>, limit: f64) -> String {
    let budget = budget(limit);
    let m = measured.map_or_else(|| units::NONE.to_string(), |d| format!("{d:.1}"));
    format!("{m}/{budget}")
}

/// The newest problem with the startup source itself (a command that would not start, a log
/// none of whose lines is a phase), while no run has been read: otherwise the panel would say
/// only "no startup log yet" and the reason would be a line in the event log.
fn source_problem(state: &State) -> Option<&LogEntry> {
    if state.startup.log.current.is_some() {
        return None;
    }
    state
        .log
        .entries()
        .rev()
        .find(|e| e.source == "startup" && e.level >= Level::Warn)
}

fn source_line(state: &State, track: Option<&Track>, width: usize, view: &View) -> Line<'static> {
    let p = &view.palette;
    let Some(t) = track else {
        let text = match &state.startup.log.desc {
            Some(desc) => format!("reading {}: no phase yet — budgets:", view.text(desc)),
            None => "no startup log yet — phase budgets:".to_string(),
        };
        return Line::from(Span::styled(words_fit(&text, width), p.muted));
    };
    let what = match t.source {
        StartupSource::Log => "from the service's startup log",
        StartupSource::Rehearsal => "from connscope's rehearsal",
    };
    let mut pieces = vec![Piece::one(1, what, p.muted)];
    if t.runs > 1 {
        let restarts = t.runs - 1;
        pieces.push(Piece::one(
            0,
            format!(
                " · run #{} ({restarts} restart{})",
                t.runs,
                plural(restarts)
            ),
            p.warn,
        ));
    }
    if t.lines > 0 {
        pieces.push(Piece::one(
            2,
            format!(" · {} lines, {} unmatched", t.lines, t.skipped),
            p.muted,
        ));
    }
    let mut spans = pack(pieces, width);
    if let Some(first) = spans.first_mut() {
        // Without the source, the run number leads the line.
        first.content = first.content.trim_start_matches(" · ").to_string().into();
    }
    Line::from(spans)
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Column widths for the phase rows; the bar takes what is left and goes first when narrow.
struct Cols {
    time: usize,
    num: bool,
    name: usize,
    bar: usize,
    verdict: usize,
    wide: bool,
}

/// The time column fits a measurement the size of the largest budget (`90.0/90 s`).
fn time_width(state: &State) -> usize {
    state
        .cfg
        .phases
        .iter()
        .map(|ph| {
            let b = ph.budget.as_secs_f64();
            time_cell(Some(b), b).chars().count()
        })
        .max()
        .unwrap_or(9)
}

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
    let time = time_width(state);
    let fixed = name + 1 + time + 1 + verdict;
    let (num, bar) = match width.checked_sub(fixed + 2) {
        Some(rest) if rest >= 4 => (true, rest - 1),
        Some(_) => (true, 0),
        None => (false, 0),
    };
    let name = if num {
        name
    } else {
        name.min(width.saturating_sub(time + 1 + verdict + 1))
    };
    Cols {
        time,
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
            let time = time_cell(dur, limit);
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
            spans.push(Span::styled(format!("{} ", rcell(&time, c.time)), p.text));
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
    let mut pieces = vec![Piece::one(3, "total ", p.muted)];
    match (total, run) {
        (Some(t), Some(r)) => {
            let (sym, style) = if t >= limit || r.failed || (r.exit_code.is_some() && !r.complete) {
                (FAIL, p.fail)
            } else if r.complete {
                (OK, p.ok)
            } else {
                (RUNNING, p.accent)
            };
            pieces.push(Piece::one(
                0,
                format!("{} {sym}", time_cell(Some(t), limit)),
                style,
            ));
        }
        _ => pieces.push(Piece::one(0, time_cell(None, limit), p.muted)),
    }
    if let Some(code) = run.and_then(|r| r.exit_code) {
        let style = if code == 0 { p.ok } else { p.fail };
        pieces.push(Piece::one(0, format!(" exit {code}"), style));
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
        pieces.push(Piece::one(1, text, style));
    }
    Line::from(pack(pieces, width))
}

/// How the current run failed, or what is wrong with the startup source, in at most `rows`
/// wrapped lines.
fn failure_lines(state: &State, width: usize, rows: usize, view: &View) -> Vec<Line<'static>> {
    let p = &view.palette;
    let failed = judged(view).and_then(|r| r.phases.iter().find(|p| p.verdict.is_failure()));
    let text = match (failed, source_problem(state)) {
        (Some(ph), _) => {
            let msg = match (ph.verdict, ph.message.as_deref()) {
                (PhaseVerdict::Stalled, _) => "no end in the log, far past its budget",
                (_, Some(m)) => m,
                (_, None) => "failed (no message in the log)",
            };
            format!("{FAIL} phase {} {}: {}", ph.number, ph.name, view.text(msg))
        }
        (None, Some(e)) => format!("{FAIL} {}", view.text(&e.text)),
        (None, None) => return Vec::new(),
    };
    wrap_rows(&[Span::styled(text, p.fail)], width, 2, rows)
}

/// Earlier runs when the service is in a restart loop (zoomed view).
fn previous_runs(track: Option<&Track>, width: usize, view: &View) -> Vec<Line<'static>> {
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
            let text = format!("↺ earlier: {exit}{phase}");
            Line::from(Span::styled(words_fit(&text, width), style))
        })
        .collect()
}

pub(crate) fn render(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    let b = block("Startup phases", Panel::Startup, view);
    let Some(area_in) = inner(&b, area) else {
        frame.render_widget(b, area);
        return;
    };
    frame.render_widget(b, area);
    let track = state.startup.primary();
    let w = usize::from(area_in.width);
    let room = usize::from(area_in.height);
    let phases = phase_lines(state, w, view);
    // Phases and the total always; then the failure (or the source's problem) with at least
    // one row; the source line when a row is left over; earlier runs fill what remains.
    let fixed = phases.len() + 1;
    let failure = failure_lines(state, w, room.saturating_sub(fixed).max(1), view);
    let with_source = room > fixed + failure.len();
    let failure = if with_source {
        failure_lines(state, w, room.saturating_sub(fixed + 1).max(1), view)
    } else {
        failure
    };
    let mut lines = Vec::with_capacity(room);
    if with_source {
        lines.push(source_line(state, track, w, view));
    }
    lines.extend(phases);
    lines.push(total_line(state, w, view));
    lines.extend(failure);
    lines.extend(previous_runs(track, w, view));
    frame.render_widget(Paragraph::new(lines), area_in);
}
