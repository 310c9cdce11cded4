//! The startup phase chart (Gantt): one row per run of the service's startup, oldest first,
//! each phase a bar from its start for as long as it took, over a dashed box as long as its
//! budget; the failed phase and the exit code marked, the whole-startup budget a line. Rows
//! share one axis — seconds since each run began — so runs compare at a glance; the label
//! says when each began and how soon after the previous run's exit (a restart).

use super::{Drawn, GUTTER, RIGHT, WIDTH, swatch};
use crate::report::model::Report;
use crate::report::series::RunBars;
use crate::report::svg::{LinearScale, Svg};
use crate::state::startup::{PhaseSpan, PhaseVerdict};
use crate::units::{self, clock, secs_between};

const ROW: f64 = 40.0;

pub(super) fn chart(r: &Report) -> Option<Drawn> {
    let st = r.charts.startup.as_ref()?;
    if st.runs.is_empty() {
        return None;
    }
    let longest = st.runs.iter().filter_map(run_len).fold(0.0, f64::max);
    let sx = LinearScale {
        max: (longest.max(st.total_budget_s) * 1.06).max(1.0),
        x0: GUTTER,
        x1: WIDTH - RIGHT,
    };
    let rows_h = st.runs.len() as f64 * ROW;
    let h = 10.0 + rows_h + 24.0 + 26.0;
    let failed = st.runs.iter().filter(|r| r.failed).count();
    let label = format!(
        "Startup phases of {} against their budgets, {} failed",
        units::count(st.runs.len() as u64, "run"),
        failed
    );
    let mut svg = Svg::new("startup-phases", WIDTH, h, &label);
    svg.rect(0.0, 0.0, WIDTH, h, "page", None);
    let top = 10.0;
    axis(&mut svg, &sx, top, rows_h);
    let mut prev: Option<&RunBars> = None;
    for (i, run) in st.runs.iter().enumerate() {
        row(&mut svg, &sx, top + i as f64 * ROW, run, prev);
        prev = Some(run);
    }
    whole_budget(&mut svg, &sx, top, rows_h, st.total_budget_s);
    legend(&mut svg, h - 8.0);
    let caption = format!(
        "Each row is one run of the service's startup ({}), oldest first; bars are phases from their start, dashed boxes their budgets; ✗ marks the failed phase and the exit code. Seconds since each run began.",
        crate::report::model::startup_source(st.source)
    );
    Some(Drawn {
        id: "startup-phases",
        title: "Startup runs and phases",
        caption,
        svg,
    })
}

fn axis(svg: &mut Svg, sx: &LinearScale, top: f64, rows_h: f64) {
    svg.rect(sx.x0, top, sx.x1 - sx.x0, rows_h, "plot", None);
    for v in sx.ticks(10) {
        let x = sx.x(v);
        svg.line(x, top, x, top + rows_h, "grid");
        svg.text(x, top + rows_h + 14.0, "axis mid", &units::secs_exact(v));
    }
    let y = top + rows_h + 14.0;
    svg.text(GUTTER - 20.0, y, "axis end", "since the run began");
}

fn whole_budget(svg: &mut Svg, sx: &LinearScale, top: f64, rows_h: f64, budget_s: f64) {
    let x = sx.x(budget_s);
    svg.line(x, top - 4.0, x, top + rows_h, "budget-line");
    let words = format!("whole startup {}", units::secs_exact(budget_s));
    svg.text(x - 4.0, top + rows_h - 4.0, "axis end", &words);
}

/// Seconds from the run's first phase start to its exit or the end of its last phase.
fn run_len(r: &RunBars) -> Option<f64> {
    let start = r.started_at?;
    let ends = r
        .phases
        .iter()
        .filter_map(|p| Some(secs_between(start, p.started?) + p.duration_s?));
    let by_exit = r.ended_at.map(|e| secs_between(start, e));
    ends.chain(by_exit).reduce(f64::max)
}

fn row(svg: &mut Svg, sx: &LinearScale, y: f64, run: &RunBars, prev: Option<&RunBars>) {
    let class = if run.failed { "run failed" } else { "run" };
    svg.group(class);
    let head = match (run.current, run.started_at) {
        (true, Some(t)) => format!("run {} · {} · newest", run.number, clock(t)),
        (false, Some(t)) => format!("run {} · {}", run.number, clock(t)),
        (_, None) => format!("run {}", run.number),
    };
    svg.text(GUTTER - 8.0, y + 17.0, "end bold", &head);
    svg.text(
        GUTTER - 8.0,
        y + 31.0,
        "axis end",
        &restart_words(run, prev),
    );
    svg.line(sx.x0, y + ROW, sx.x1, y + ROW, "grid");
    let Some(start) = run.started_at else {
        svg.end_group();
        return;
    };
    for (i, p) in run.phases.iter().enumerate() {
        if let Some(ps) = p.started {
            phase_bar(
                svg,
                sx,
                y,
                run.number,
                i + 1,
                p,
                secs_between(start, ps).max(0.0),
            );
        }
    }
    exit_mark(svg, sx, y, run, start);
    svg.end_group();
}

/// Phase `n` of a run, `off` seconds after the run began: its budget box, its bar, and for a
/// failure its name and time.
fn phase_bar(svg: &mut Svg, sx: &LinearScale, y: f64, run: u32, n: usize, p: &PhaseSpan, off: f64) {
    let x = sx.x(off);
    let bx = sx.x(off + p.budget_s);
    svg.rect(x, y + 6.0, bx - x, ROW - 16.0, "budget", None);
    let dur = p.duration_s.unwrap_or(0.0);
    let w = (sx.x(off + dur) - x).max(1.5);
    let message = p
        .message
        .as_deref()
        .map_or_else(String::new, |m| format!(" — {m}"));
    let tip = format!(
        "run {run} phase {n} {}: {} after {} (budget {}){message}",
        p.name,
        p.verdict.as_str().replace('_', " "),
        units::elapsed(dur),
        units::secs_exact(p.budget_s),
    );
    let class = format!("phase p-{}", p.verdict.as_str());
    svg.rect(x, y + 10.0, w, ROW - 24.0, &class, Some(&tip));
    if w > 16.0 {
        svg.text(x + w / 2.0, y + 21.5, "on-bar mid", &n.to_string());
    }
    if p.verdict.is_failure() {
        let words = format!("✗ {n} {} {}", p.name, units::elapsed(dur));
        svg.text(x + w + 5.0, y + 21.5, "bad", &words);
    }
}

fn exit_mark(
    svg: &mut Svg,
    sx: &LinearScale,
    y: f64,
    run: &RunBars,
    start: chrono::DateTime<chrono::Utc>,
) {
    let (Some(code), Some(at)) = (run.exit_code, run.ended_at) else {
        return;
    };
    let x = sx.x(secs_between(start, at).max(0.0));
    svg.line(
        x,
        y + 3.0,
        x,
        y + ROW - 3.0,
        if code == 0 { "grid" } else { "exit" },
    );
    let failed_phase = run.phases.iter().any(|p| p.verdict.is_failure());
    // Beside the failed phase's words the code goes under the line, not over them.
    let ty = if failed_phase {
        y + ROW - 4.0
    } else {
        y + 24.0
    };
    let cls = if code == 0 { "axis" } else { "bad" };
    svg.text(x + 5.0, ty, cls, &format!("exit {code}"));
}

/// How this run relates to the one before it: a restart after an exit, or the first seen.
fn restart_words(run: &RunBars, prev: Option<&RunBars>) -> String {
    let status = match (
        run.exit_code,
        run.phases.iter().find(|p| p.verdict.is_failure()),
    ) {
        (_, Some(p)) if p.verdict == PhaseVerdict::Stalled => format!("stalled in {}", p.name),
        (Some(c), _) if c != 0 => format!("exit {c}"),
        (_, Some(p)) => format!("failed in {}", p.name),
        (Some(0), _) => "exit 0".into(),
        _ if run.current
            && run
                .phases
                .iter()
                .any(|p| matches!(p.verdict, PhaseVerdict::Running | PhaseVerdict::NotReached)) =>
        {
            "running".into()
        }
        _ => "completed".into(),
    };
    let restart = match (prev.and_then(|p| p.ended_at), run.started_at) {
        (Some(end), Some(start)) => {
            format!("restart {} after, ", units::span(secs_between(end, start)))
        }
        _ => String::new(),
    };
    format!("{restart}{status}")
}

fn legend(svg: &mut Svg, y: f64) {
    svg.group("legend");
    let mut x = GUTTER;
    for (cls, word) in [
        ("p-pass", "within budget"),
        ("p-over_budget", "over budget"),
        ("p-failed", "failed / stalled"),
        ("p-running", "running"),
        ("budget", "budget"),
    ] {
        x = swatch(svg, x, y, cls, word);
    }
    svg.end_group();
}
