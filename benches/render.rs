//! Render time of a busy dashboard (600 attempts, every panel populated) at 160×50 into a
//! `TestBackend`. Target: under 1 ms a frame, so a 250 ms tick costs well under 1 % CPU.
//!
//! Three numbers per case, because they answer different questions:
//! - `render`: our `draw` into the frame buffer — layout, text, chart; what the UI code costs.
//! - `tick`: a whole `Terminal::draw` when nothing changed since the last frame (the common
//!   case: a redraw on the tick), including ratatui's buffer diff.
//! - `full`: a whole `Terminal::draw` after a clear, every cell flushed to the backend (the
//!   worst case: the first frame, a resize, a theme switch).
//!
//! A plain timing loop (`harness = false`) rather than criterion: no extra dependency tree to
//! build on a 2-core machine, and what we need is a median against a fixed budget. The figure
//! quoted is the median (and p99) of every sample of every round — a round that lost the CPU
//! to another build counts like the others; the spread of the round medians is printed too.
//! Run: `cargo bench --bench render`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use connscope::ui::App;
use connscope::ui::draw::draw;
use connscope::ui::fixtures::busy;
use connscope::ui::options::UiOptions;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const RUNS: usize = 500;
const ROUNDS: usize = 5;

struct Stats {
    median: Duration,
    p99: Duration,
    /// The lowest and highest median of a single round.
    rounds: (Duration, Duration),
}

fn sorted_at(s: &[Duration], q: f64) -> Duration {
    s.get(((s.len() - 1) as f64 * q).round() as usize)
        .copied()
        .unwrap_or(Duration::MAX)
}

/// Every sample of `ROUNDS` rounds of `RUNS`, after a warm-up; nothing thrown away.
fn time(mut f: impl FnMut()) -> Stats {
    for _ in 0..50 {
        f();
    }
    let mut all = Vec::with_capacity(ROUNDS * RUNS);
    let mut medians = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let mut s: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        s.sort();
        medians.push(sorted_at(&s, 0.5));
        all.extend(s);
    }
    all.sort();
    medians.sort();
    Stats {
        median: sorted_at(&all, 0.5),
        p99: sorted_at(&all, 0.99),
        rounds: (medians[0], medians[medians.len() - 1]),
    }
}

fn measure(name: &str, opts: UiOptions, w: u16, h: u16) -> Duration {
    let mut app = App::new(&opts, busy(600));
    let (state, view) = app.frame_parts();
    // The test backend cannot fail (its error type is `Infallible`).
    let Ok(mut term) = Terminal::new(TestBackend::new(w, h));
    let render = time(|| {
        term.current_buffer_mut().reset();
        let mut f = term.get_frame();
        draw(&mut f, black_box(state), black_box(view));
    });
    let _ = term.clear();
    let tick = time(|| {
        let _ = term.draw(|f| draw(f, black_box(state), black_box(view)));
    });
    let full = time(|| {
        let _ = term.clear();
        let _ = term.draw(|f| draw(f, black_box(state), black_box(view)));
    });
    println!("{name} {w}x{h} (median and p99 of {ROUNDS} × {RUNS}; round medians from–to)");
    for (what, s) in [("render", &render), ("tick", &tick), ("full", &full)] {
        println!(
            "  {what:<6} {:>7.1?} (p99 {:>7.1?}; rounds {:.1?}–{:.1?})",
            s.median, s.p99, s.rounds.0, s.rounds.1
        );
    }
    render.median
}

fn main() {
    let budget = Duration::from_millis(1);
    let worst = [
        measure("busy, dark", UiOptions::default(), 160, 50),
        measure(
            "busy, privacy mask on",
            UiOptions {
                mask: true,
                ..UiOptions::default()
            },
            160,
            50,
        ),
        measure("busy, dark", UiOptions::default(), 100, 30),
    ]
    .into_iter()
    .max()
    .unwrap_or_default();
    println!(
        "slowest median render {worst:.1?}: {} the {budget:?} budget",
        if worst < budget { "within" } else { "OVER" }
    );
}
