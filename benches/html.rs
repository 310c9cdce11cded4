//! The HTML report of a large recording: a generated 10-minute watch at 50 database attempts
//! a second (30 000 attempts, an outage, a 53300 burst, health checks, a restart loop, a
//! capacity test — `common::recordings::busy`). Measures, the median of the rounds:
//!
//! - `report FILE --format html` end to end (the real binary: read, rebuild, judge, render);
//! - rendering alone, in process: the model from the rebuilt state, then the page;
//! - the page's size, and that every failed attempt is in one of the timeline's marks.
//!
//! Run: `cargo bench --bench html` (CONNSCOPE_BENCH_MINUTES=30 for a longer one). Targets:
//! under 1 s and under 2 MB. Fails loudly when a run fails, a failure is missing from the
//! marks, or a figure is over its target.

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::fault_bin;

const ROUNDS: usize = 7;
const LIMIT: Duration = Duration::from_secs(600);
const TARGET_S: f64 = 1.0;
const TARGET_BYTES: usize = 2_000_000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The page rendered in process ROUNDS times from the recording's state: seconds each.
fn render_in_process(rec: &std::path::Path) -> Vec<f64> {
    let (header, events) = connscope::record::open(rec).expect("the recording");
    let mut state = connscope::state::State::new(header.state.clone());
    for ev in events {
        state.apply(&ev);
    }
    let ctx = connscope::report::Context::default();
    (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            let r = connscope::report::Report::build(&state, state.judge(None));
            let page = connscope::report::to_html(&r, &ctx);
            std::hint::black_box(page);
            t.elapsed().as_secs_f64()
        })
        .collect()
}

/// `report FILE --format html` ROUNDS times; fails when a run fails or pages differ.
fn report_rounds(rec: &str) -> Vec<fault_bin::Run> {
    let runs: Vec<fault_bin::Run> = (0..ROUNDS)
        .map(|_| fault_bin::run(&["report", rec, "--format", "html"], &[], LIMIT))
        .collect();
    for r in &runs {
        assert!(
            r.code.is_some_and(|c| c <= 2),
            "report failed: exit {:?}: {}",
            r.code,
            r.stderr
        );
    }
    assert!(
        runs.iter().all(|r| r.stdout == runs[0].stdout),
        "the same page every round"
    );
    runs
}

fn main() {
    let minutes: u32 = common::setting("CONNSCOPE_BENCH_MINUTES", 10);
    let dir = tempfile::tempdir().expect("tmp");
    let rec = dir.path().join("busy.jsonl");
    let busy = common::recordings::busy(&rec, minutes * 60, 50);
    let size = std::fs::metadata(&rec).map(|m| m.len()).unwrap_or(0);
    println!(
        "recording: {minutes} min at 50 attempts/s — {} events, {} attempts ({} failed), {:.1} MB; {ROUNDS} rounds",
        busy.events,
        busy.attempts,
        busy.failed,
        size as f64 / 1e6
    );
    let runs = report_rounds(rec.to_str().expect("utf8"));
    let page = &runs[0].stdout;
    let marked = common::recordings::marked_failures(page);
    assert_eq!(marked, busy.failed, "every failed attempt is in a mark");
    let took: Vec<f64> = runs.iter().map(|r| r.took.as_secs_f64()).collect();
    let end_to_end = median(took.clone());
    let render = render_in_process(&rec);
    println!(
        "report --format html, end to end: median {end_to_end:.3} s (slowest {:.3} s), peak RSS {:.1} MB",
        took.iter().copied().fold(0.0, f64::max),
        runs.iter().map(|r| r.max_rss_kib).max().unwrap_or(0) as f64 / 1024.0
    );
    println!(
        "rendering alone (model + page):   median {:.1} ms (slowest {:.1} ms)",
        median(render.clone()) * 1000.0,
        render.iter().copied().fold(0.0, f64::max) * 1000.0
    );
    println!(
        "page: {:.0} KB ({} bytes), {marked} failed attempts in the timeline's marks",
        page.len() as f64 / 1024.0,
        page.len()
    );
    check_targets(end_to_end, page.len());
}

/// Exits non-zero when a figure is over its target.
fn check_targets(secs: f64, bytes: usize) {
    let mut missed = Vec::new();
    if secs >= TARGET_S {
        missed.push(format!("end to end {secs:.3} s ≥ {TARGET_S} s"));
    }
    if bytes >= TARGET_BYTES {
        missed.push(format!("{bytes} bytes ≥ {TARGET_BYTES}"));
    }
    if !missed.is_empty() {
        eprintln!("over target: {}", missed.join("; "));
        std::process::exit(1);
    }
    println!("targets met: < {TARGET_S} s, < {TARGET_BYTES} bytes");
}
