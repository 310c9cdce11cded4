//! The pool probe's section of the capacity panel: what the service's requests would feel
//! (acquisitions, acquire timeouts, errors, waits over time) and what lay beneath it on the
//! raw path — the judge's line, coloured by the judge's verdict. The waits chart is one row:
//! each sample's p95 wait (or, while nobody got a connection, the longest wait so far) as a
//! bar; an interval with acquire timeouts is `T`, one with errors `✗` — never a bar.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::chart::EIGHTHS;
use super::{FAIL, OK, WARN, verdict_style};
use crate::event::PoolSample;
use crate::state::pool::PoolRun;
use crate::state::pool::judge::PoolJudgement;
use crate::state::verdict::Verdict;
use crate::ui::text::{self, Piece};
use crate::ui::view::View;
use crate::units;

/// What a sample's column shows: its wait, or what went wrong in it.
fn column(s: &PoolSample) -> (Option<f64>, Option<char>) {
    let mark = if s.timeouts > 0 {
        Some('T')
    } else if s.errors > 0 {
        Some('✗')
    } else {
        None
    };
    let wait = s
        .wait_p95_ms
        .into_iter()
        .chain((s.waiting > 0).then_some(s.longest_wait_ms))
        .reduce(f64::max);
    (wait, mark)
}

/// `waits ▁▁▂▅█TT▃▁ ≤ 4.50 s`: the newest samples that fit in `width`.
fn chart(run: &PoolRun, width: usize, view: &View) -> Option<Line<'static>> {
    let p = &view.palette;
    let cols: Vec<(Option<f64>, Option<char>)> =
        run.samples.iter().map(|(_, s)| column(s)).collect();
    let top = cols.iter().filter_map(|(w, _)| *w).fold(0.0, f64::max);
    let label = "waits ";
    let tail = format!(" ≤ {}", units::ms(top));
    let room = width.saturating_sub(label.len() + tail.chars().count());
    if cols.is_empty() || room < 8 {
        return None;
    }
    let mut spans = vec![Span::styled(label, p.muted)];
    for (wait, mark) in cols.iter().skip(cols.len().saturating_sub(room)) {
        let (ch, style): (char, Style) = match (mark, wait) {
            (Some(m), _) => (*m, p.fail),
            (None, Some(w)) if top > 0.0 => {
                let i = ((w / top) * 7.0).round().clamp(0.0, 7.0) as usize;
                (EIGHTHS[i], p.accent)
            }
            (None, Some(_)) => (EIGHTHS[0], p.accent),
            (None, None) => (' ', p.muted),
        };
        spans.push(Span::styled(ch.to_string(), style));
    }
    spans.push(Span::styled(tail, p.muted));
    Some(Line::from(spans))
}

fn headline(run: &PoolRun, j: &PoolJudgement, width: usize, view: &View) -> Line<'static> {
    let p = &view.palette;
    let st = &run.started;
    let mut pieces = match &run.finished {
        None => vec![Piece::one(0, format!("pool #{} running", st.run), p.accent)],
        Some((at, f)) => vec![Piece::one(
            0,
            format!(
                "pool #{} · {} · took {}",
                st.run,
                units::clock(*at),
                units::ms(f.elapsed_ms)
            ),
            p.muted,
        )],
    };
    if run.running() && run.waiting > 0 {
        pieces.push(Piece::one(
            1,
            format!(
                " · {} waiting, longest {}",
                run.waiting,
                units::ms(run.longest_wait_ms)
            ),
            p.warn,
        ));
    }
    let size = if st.capped {
        format!(
            " · {} conns (capped from {})",
            st.max_connections, st.requested
        )
    } else if st.forced {
        format!(" · {} conns FORCED", st.max_connections)
    } else {
        format!(" · {} conns", st.max_connections)
    };
    pieces.push(Piece::one(
        2,
        size,
        if st.forced { p.fail } else { p.muted },
    ));
    pieces.push(Piece::one(
        3,
        format!(" · {} borrowers", st.borrowers),
        p.muted,
    ));
    if let Some(why) = run.stopped_early().filter(|_| j.ran) {
        pieces.push(Piece::one(
            1,
            format!(" · ended early: {}", view.text(why)),
            p.warn,
        ));
    }
    Line::from(text::pack(pieces, width))
}

/// The judge's mark and colour: ✓ pass, ! warn, ✗ fail; `·` for history.
fn mark(j: &PoolJudgement, view: &View) -> (&'static str, Style) {
    let p = &view.palette;
    match (j.past, j.verdict) {
        (true, _) => ("·", p.muted),
        (false, Verdict::Pass) => (OK, p.ok),
        (false, Verdict::Warn) => (WARN, p.warn),
        (false, Verdict::Fail) => (FAIL, p.fail),
    }
}

/// `✗ 40 acquired · T 7 timeouts · 0 errors`: the judge's mark first (✓ pass, ! warn, ✗ fail;
/// `·` for history), so the weight reads without colour.
fn counts(run: &PoolRun, j: &PoolJudgement, width: usize, view: &View) -> Line<'static> {
    let p = &view.palette;
    let t = &run.totals;
    let (mark, style) = mark(j, view);
    let bad = |n: u64| if n > 0 { p.fail } else { p.muted };
    let mut pieces = vec![
        Piece::one(0, format!("{mark} "), style),
        Piece::one(0, format!("{} acquired", t.acquisitions), p.text),
        Piece::one(0, format!(" · T {} timeouts", t.timeouts), bad(t.timeouts)),
        Piece::one(
            1,
            format!(" · {} errors", t.errors_total()),
            bad(t.errors_total()),
        ),
    ];
    if j.past {
        pieces.push(Piece::one(2, " (history)", p.muted));
    }
    Line::from(text::pack(pieces, width))
}

fn waits(run: &PoolRun, j: &PoolJudgement, width: usize, view: &View) -> Line<'static> {
    let p = &view.palette;
    let t = &run.totals;
    let over = t.wait_p95_ms.is_some_and(|w| w > j.wait_warn_ms);
    Line::from(text::pack(
        vec![
            Piece::one(
                0,
                format!("wait p95 {}", units::opt_ms(t.wait_p95_ms)),
                if over { p.warn } else { p.text },
            ),
            Piece::one(
                1,
                format!(" · max {}", units::opt_ms(t.wait_max_ms)),
                p.muted,
            ),
            Piece::one(
                2,
                format!(" · p50 {}", units::opt_ms(t.wait_p50_ms)),
                p.muted,
            ),
            Piece::one(
                3,
                format!(" · warn > {}", units::ms(j.wait_warn_ms)),
                p.muted,
            ),
            Piece::one(2, format!(" · opened {}", t.opened), p.muted),
        ],
        width,
    ))
}

fn beneath(run: &PoolRun, width: usize, view: &View) -> Vec<Line<'static>> {
    let p = &view.palette;
    let b = &run.beneath;
    let style = if b.failed() > 0 {
        verdict_style(Verdict::Fail, view)
    } else {
        p.text
    };
    text::wrap(
        &[
            Span::styled("beneath: ", p.muted),
            Span::styled(view.text(&b.text()).into_owned(), style),
        ],
        width,
        2,
    )
}

/// A run that opened nothing: the judge's words for why (`! pool: nothing opened: the server
/// refused the headroom check …`), wrapped, in place of figures it does not have.
fn not_run(j: &PoolJudgement, width: usize, view: &View) -> Vec<Line<'static>> {
    let (mark, style) = mark(j, view);
    text::wrap(
        &[
            Span::styled(format!("{mark} "), style),
            Span::styled(view.text(&j.line).into_owned(), style),
        ],
        width,
        2,
    )
}

/// The section in at most `rows` lines of `width`: the counts and what lay beneath first,
/// then the chart, the headline and the wait figures as room allows (in reading order).
pub(crate) fn lines(
    run: &PoolRun,
    j: &PoolJudgement,
    width: usize,
    rows: usize,
    view: &View,
) -> Vec<Line<'static>> {
    // (rank, lines): lower ranks stay longer; drawn in this order.
    let head_rank = if run.running() { 1 } else { 3 };
    let mut parts: Vec<(u8, Vec<Line<'static>>)> =
        vec![(head_rank, vec![headline(run, j, width, view)])];
    if j.ran {
        parts.push((0, vec![counts(run, j, width, view)]));
        parts.push((4, vec![waits(run, j, width, view)]));
        if let Some(c) = chart(run, width, view) {
            parts.push((2, vec![c]));
        }
        parts.push((1, beneath(run, width, view)));
    } else {
        parts.push((0, not_run(j, width, view)));
    }
    loop {
        let n: usize = parts.iter().map(|(_, l)| l.len()).sum();
        if n <= rows || parts.len() <= 1 {
            break;
        }
        let worst = parts
            .iter()
            .enumerate()
            .max_by_key(|(i, (rank, _))| (*rank, *i))
            .map_or(0, |(i, _)| i);
        parts.remove(worst);
    }
    let mut out: Vec<Line<'static>> = parts.into_iter().flat_map(|(_, l)| l).collect();
    if out.len() > rows {
        out.truncate(rows.max(1));
        if let Some(last) = out.pop() {
            out.push(text::end_early(last, width));
        }
    }
    out
}
