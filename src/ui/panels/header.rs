//! Two lines that answer "where am I looking, since when, and how bad is it": environment,
//! target, Cloud SQL path, elapsed, verdict badge, mode markers, and either the replay cursor
//! or the main reason for the verdict.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{DbPath, db_path, fit};
use crate::state::State;
use crate::state::judge::DbStatus;
use crate::state::verdict::Verdict;
use crate::ui::feed::ReplayClock;
use crate::ui::fmt;
use crate::ui::options::ViewMode;
use crate::ui::text::{Piece, pack, words_fit};
use crate::ui::view::View;
use crate::units;

/// Elapsed since the first event: to the wall clock in live mode, to the newest event
/// otherwise (replay, tests), so snapshots do not depend on when they were taken.
pub(crate) fn elapsed_s(state: &State, view: &View) -> f64 {
    match (state.first_at, view.now) {
        (Some(first), Some(now)) => (now - first).num_milliseconds().max(0) as f64 / 1000.0,
        _ => state.elapsed_s(),
    }
}

fn path_label(state: &State) -> &'static str {
    if state.cfg.target.is_none() && !state.vantages.is_empty() {
        // Only agents probe: their paths are in their banners.
        return "remote vantage points";
    }
    match db_path(&state.cfg) {
        DbPath::Socket => "Cloud SQL · unix socket",
        DbPath::Connector => "Cloud SQL · VPC connector",
        DbPath::Direct => "direct Postgres",
    }
}

fn badge(state: &State, view: &View) -> (String, Style) {
    let p = &view.palette;
    if state.events == 0 {
        return (" NO DATA YET ".into(), p.marker);
    }
    match view.judged.judgement.verdict {
        Verdict::Pass => (" ✓ PASS ".into(), p.badge_pass),
        Verdict::Warn => (" ! WARN ".into(), p.badge_warn),
        Verdict::Fail => (" ✗ FAIL ".into(), p.badge_fail),
    }
}

/// What the screen is showing and how, right of the first line: the verdict badge, then the
/// mode markers, then the look. Each is a piece dropped whole when the line is short (the
/// theme first, the badge never). A vantage name (a remote agent) is one more piece here.
fn markers(state: &State, view: &View) -> Vec<Piece> {
    let p = &view.palette;
    let mut out = Vec::new();
    out.push(Piece::one(
        3,
        format!("  {} theme ", view.theme.as_str()),
        p.muted,
    ));
    let mut marker = |rank: u8, text: String| {
        out.push(Piece::new(
            rank,
            vec![Span::styled(text, p.marker), Span::raw(" ")],
        ));
    };
    if view.mask {
        marker(1, " MASKED ".into());
    }
    if view.paused {
        let more = if view.pending > 0 {
            format!(" +{}", view.pending)
        } else {
            String::new()
        };
        marker(1, format!(" ‖ PAUSED{more} "));
    }
    if let ViewMode::Lab { .. } = view.mode {
        let name = view
            .requested_scenario
            .as_deref()
            .map(|n| format!("{n} (switching)"))
            .or_else(|| state.lab.as_ref().map(|l| l.name.clone()))
            .unwrap_or_else(|| "starting".into());
        marker(1, format!(" LAB: {name} "));
    }
    if view.mode.is_replay() {
        marker(1, " REPLAY ".into());
    }
    if view.feed_closed && !view.mode.is_replay() {
        marker(2, " PROBES ENDED ".into());
    }
    if view.judged.judgement.db.status == DbStatus::Down {
        marker(0, " DB DOWN ".into());
    }
    for vj in &view.judged.judgement.vantages {
        marker(1, crate::ui::vantages::marker(vj));
    }
    let (badge_text, badge_style) = badge(state, view);
    out.push(Piece::one(0, badge_text, badge_style));
    out
}

/// `▶ ×2.0  10:01:23 UTC  ███████░░░░  1m 23s / 5m 00s`
fn replay_cursor(c: &ReplayClock, width: usize, view: &View) -> Vec<Span<'static>> {
    let p = &view.palette;
    let total = (c.end - c.start).num_milliseconds().max(0) as f64 / 1000.0;
    let at = (c.at - c.start).num_milliseconds().max(0) as f64 / 1000.0;
    let state = if c.paused {
        "‖ paused"
    } else {
        "▶ playing"
    };
    let head = format!(" {state} ×{:.1}  {} UTC  ", c.speed, units::clock(c.at));
    let tail = format!("  {} / {}", units::span(at), units::span(total));
    let bar_w = width
        .saturating_sub(head.chars().count() + tail.chars().count() + 2)
        .min(60);
    let frac = if total > 0.0 { at / total } else { 1.0 };
    let (full, empty) = fmt::bar(frac, bar_w);
    vec![
        Span::styled(head, p.accent),
        Span::styled(full, p.bar),
        Span::styled(empty, p.bar_empty),
        Span::styled(tail, p.text),
    ]
}

/// Target URLs narrower than this are left out rather than cut to `postgres:`.
const MIN_TARGET: usize = 20;

/// Where and since when, whole pieces only: name and environment always; then, as they fit,
/// elapsed, the path (dropped first: it is the least news), and the target (the longest, the
/// one cut with `…`, left out when only a stub like `postgres:` would fit).
fn first_line(state: &State, view: &View, width: usize) -> Vec<Span<'static>> {
    let p = &view.palette;
    let head = [
        Span::styled(" connscope ", p.title),
        Span::styled(state.cfg.environment.clone(), p.accent),
    ];
    let path = Span::styled(format!("  {}", path_label(state)), p.muted);
    let elapsed = Span::styled(
        format!("  elapsed {}", units::span(elapsed_s(state, view))),
        p.text,
    );
    let len =
        |spans: &[&Span<'_>]| -> usize { spans.iter().map(|s| s.content.chars().count()).sum() };
    let base = len(&[&head[0], &head[1]]);
    let (with_path, with_elapsed) = if base + len(&[&path, &elapsed]) <= width {
        (true, true)
    } else {
        (false, base + len(&[&elapsed]) <= width)
    };
    let mut spans = head.to_vec();
    if with_path {
        spans.push(path);
    }
    if with_elapsed {
        spans.push(elapsed);
    }
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let names: Vec<&str> = state
        .vantages
        .list
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    let attached = format!("vantages: {}", names.join(", "));
    let target = match (&state.cfg.target, names.is_empty()) {
        (Some(t), _) => t.as_str(),
        (None, false) => attached.as_str(),
        (None, true) => "no database configured",
    };
    let room = width.saturating_sub(used + 2);
    let shown = view.text(target);
    // A masked target is whole or absent: a cut `‹host…` would look like a leak.
    let fits = !view.mask || shown.chars().count() <= room;
    if room >= MIN_TARGET && fits {
        spans.push(Span::styled(format!("  {}", fit(&shown, room)), p.text));
    }
    spans
}

/// How bad and why, first: the verdict's main reason. In the lab, the scenario's description
/// after it, as far as it fits (its name is already in the LAB marker above).
fn second_line(state: &State, view: &View, width: usize) -> Vec<Span<'static>> {
    let p = &view.palette;
    let j = &view.judged.judgement;
    let room = width.saturating_sub(1);
    let why = match (state.events, j.reasons.first()) {
        (0, _) => "waiting for the first probe results…".to_string(),
        (_, None) => "every target met, no alert".to_string(),
        (_, Some(r)) if j.reasons.len() > 1 => {
            let more = format!(" (+{} more)", j.reasons.len() - 1);
            let keep = room.saturating_sub(more.chars().count());
            format!("{}{more}", words_fit(&view.text(r), keep))
        }
        (_, Some(r)) => words_fit(&view.text(r), room),
    };
    let why = format!(" {why}");
    let used = why.chars().count();
    let style = if state.events == 0 {
        p.muted
    } else {
        super::verdict_style(j.verdict, view)
    };
    let mut spans = vec![Span::styled(why, style)];
    if let Some(lab) = &state.lab {
        let room = width.saturating_sub(used);
        // A few words are worth showing; a lone "scen…" is not.
        if room >= MIN_TARGET {
            let text = format!("  · scenario: {}", view.text(&lab.description));
            spans.push(Span::styled(words_fit(&text, room), p.muted));
        }
    }
    spans
}

pub(crate) fn render(frame: &mut Frame<'_>, area: Rect, state: &State, view: &View) {
    if area.height == 0 {
        return;
    }
    let width = usize::from(area.width);
    // The left side keeps at least the name and environment.
    let left_min = 12 + state.cfg.environment.chars().count();
    let right = pack(markers(state, view), width.saturating_sub(left_min));
    let right_w = crate::ui::text::spans_width(&right);
    let [l1, r1] = Layout::horizontal([Constraint::Min(0), Constraint::Length(right_w as u16)])
        .areas(Rect { height: 1, ..area });
    let line1 = Line::from(first_line(state, view, usize::from(l1.width)));
    frame.render_widget(Paragraph::new(line1), l1);
    frame.render_widget(Paragraph::new(Line::from(right)).right_aligned(), r1);

    if area.height < 2 {
        return;
    }
    let l2 = Rect {
        y: area.y + 1,
        height: 1,
        ..area
    };
    let w = usize::from(l2.width);
    let spans = match (view.mode.is_replay(), view.clock.as_ref()) {
        (true, Some(c)) => replay_cursor(c, w, view),
        _ => second_line(state, view, w),
    };
    frame.render_widget(Paragraph::new(Line::from(spans)), l2);
}
