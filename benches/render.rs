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
//! build on a 2-core machine, and what we need is a median against a fixed budget.
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

struct Stats {
    median: Duration,
    p99: Duration,
}

/// Best of three rounds: the machine is shared (2 cores, other builds running), and a round
/// that lost the CPU says nothing about the code.
fn time(mut f: impl FnMut()) -> Stats {
    for _ in 0..50 {
        f();
    }
    let mut best: Option<Stats> = None;
    for _ in 0..3 {
        let mut s: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        s.sort();
        let round = Stats {
            median: s[s.len() / 2],
            p99: s[s.len() * 99 / 100],
        };
        if best.as_ref().is_none_or(|b| round.median < b.median) {
            best = Some(round);
        }
    }
    best.unwrap_or(Stats {
        median: Duration::MAX,
        p99: Duration::MAX,
    })
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
    println!(
        "{name:<24} {w}x{h}  render {:>7.1?} (p99 {:>7.1?})  tick {:>7.1?} (p99 {:>7.1?})  full {:>7.1?} (p99 {:>7.1?})",
        render.median, render.p99, tick.median, tick.p99, full.median, full.p99
    );
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
