//! The dashboard loop (oha-style): one `select!` over terminal input, the feed, a redraw tick,
//! signals and shutdown. The feed is drained completely on every wakeup so probes never wait
//! on the UI; frames are drawn when something changed — at once after a key, at most one per
//! `FEED_FRAME` for probe results — and on the tick, never in a busy loop.

use std::future::Future;
use std::io;
use std::time::Duration;

use chrono::Utc;
use crossterm::event::{Event as TermEvent, EventStream};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::app::App;
use super::draw::draw;
use super::options::{Outbound, UiOptions, ViewMode};
use super::terminal::{TerminalGuard, reclaim};
use super::view::Tone;
use crate::error::DashboardError;
use crate::state::State;
use crate::ui::feed::Feed;

/// After a key or a resize the next frame comes at once, but never more than ~60 a second.
const MIN_FRAME: Duration = Duration::from_millis(16);
/// Probe results redraw at most ten times a second: faster than anyone reads a number, and at
/// 50 attempts/s it keeps drawing (not probing) from being what the dashboard spends CPU on.
const FEED_FRAME: Duration = Duration::from_millis(100);

/// Runs the dashboard until `q` / Ctrl-C, SIGINT, SIGTERM, SIGHUP or `shutdown`; the terminal
/// is restored on every exit, panics included. Returns normally on quit: the caller then
/// cancels and awaits its probe tasks.
pub async fn run(
    opts: UiOptions,
    state: State,
    feed: mpsc::Receiver<Feed>,
    out: mpsc::Sender<Outbound>,
    shutdown: CancellationToken,
) -> Result<(), DashboardError> {
    // crossterm's EventStream panics without a terminal to read ("reader source not set"):
    // refuse clearly instead, before raw mode.
    if !crate::tty::can_run_dashboard() {
        return Err(DashboardError::NoTerminal);
    }
    let stop = crate::signal::shutdown();
    let _guard = TerminalGuard::enter()
        .map_err(DashboardError::at("cannot switch the terminal to raw mode"))?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))
        .map_err(DashboardError::at("cannot start the terminal backend"))?;
    repaint(&mut terminal).map_err(DashboardError::at("cannot clear the terminal"))?;
    let app = App::new(&opts, state);
    let live_clock = matches!(opts.mode, ViewMode::Live | ViewMode::Lab { .. });
    let input = EventStream::new();
    run_loop(
        &mut terminal,
        input,
        app,
        feed,
        out,
        shutdown,
        stop,
        LoopOptions {
            tick: opts.tick,
            live_clock,
        },
        |t: &mut Terminal<CrosstermBackend<io::Stdout>>| {
            // A probe task panicked and the hook gave the terminal back: take it again and
            // repaint everything, so one bad task does not leave the dashboard in cooked mode.
            if reclaim()? {
                repaint(t)?;
            }
            Ok(())
        },
    )
    .await
    // `_guard` drops here (and on every `?` above it): raw mode off, main screen back.
}

/// Clears the screen and makes the next frame redraw every cell. Not `Terminal::clear`: that
/// asks the terminal for the cursor position (ESC[6n) and waits up to 2 s for the answer —
/// which the input stream may swallow, and which a bare PTY never sends.
fn repaint<B: Backend>(t: &mut Terminal<B>) -> Result<(), B::Error> {
    let s = t.size()?;
    t.resize(ratatui::layout::Rect::new(0, 0, s.width, s.height))
}

#[derive(Debug, Clone, Copy)]
pub struct LoopOptions {
    pub tick: Duration,
    /// Move "elapsed" with the wall clock between events (live and lab, not replay).
    pub(crate) live_clock: bool,
}

/// The loop itself, generic over backend and input so tests drive it with a `TestBackend`
/// and a channel of key events. `before_draw` runs before every frame (the real terminal
/// uses it to recover from a foreign panic; tests pass a no-op).
#[allow(clippy::too_many_arguments)]
pub async fn run_loop<B, I, R>(
    terminal: &mut Terminal<B>,
    mut input: I,
    mut app: App,
    mut feed: mpsc::Receiver<Feed>,
    out: mpsc::Sender<Outbound>,
    shutdown: CancellationToken,
    stop: impl Future<Output = ()>,
    lo: LoopOptions,
    mut before_draw: R,
) -> Result<(), DashboardError>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    I: Stream<Item = io::Result<TermEvent>> + Unpin,
    R: FnMut(&mut Terminal<B>) -> io::Result<()>,
{
    let mut tick = tokio::time::interval(lo.tick.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    tokio::pin!(stop);
    let mut dirty = true;
    let mut last_frame = Instant::now();
    let mut next_frame = last_frame;
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            () = &mut stop => break,
            ev = input.next() => match on_input(&mut app, &out, ev)? {
                Input::Quit => break,
                Input::Redraw => {
                    dirty = true;
                    next_frame = soon(next_frame, last_frame);
                }
                Input::Nothing => {}
            },
            () = tokio::time::sleep_until(next_frame), if dirty => {
                draw_frame(terminal, &mut app, lo.live_clock, &mut before_draw)?;
                dirty = false;
                last_frame = Instant::now();
                next_frame = last_frame + FEED_FRAME;
            },
            item = feed.recv(), if !app.view.feed_closed => {
                take_feed(&mut app, &mut feed, item);
                dirty = true;
            },
            _ = tick.tick() => {
                app.expire_status(Instant::now().into_std());
                dirty = true;
            }
        }
    }
    Ok(())
}

/// What one terminal event asks of the loop.
enum Input {
    Quit,
    Redraw,
    Nothing,
}

fn on_input(
    app: &mut App,
    out: &mpsc::Sender<Outbound>,
    ev: Option<io::Result<TermEvent>>,
) -> Result<Input, DashboardError> {
    match ev {
        Some(Ok(TermEvent::Key(k))) => {
            let r = app.on_key(&k);
            for o in r.out {
                send(out, app, o);
            }
            Ok(if r.quit {
                Input::Quit
            } else if r.redraw {
                Input::Redraw
            } else {
                Input::Nothing
            })
        }
        Some(Ok(TermEvent::Resize(..))) => Ok(Input::Redraw),
        Some(Ok(_)) => Ok(Input::Nothing),
        Some(Err(e)) => Err(DashboardError::at("reading the terminal")(e)),
        // Input is gone (terminal closed): nobody can press `q` any more.
        None => Ok(Input::Quit),
    }
}

fn draw_frame<B, R>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    live_clock: bool,
    before_draw: &mut R,
) -> Result<(), DashboardError>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    R: FnMut(&mut Terminal<B>) -> io::Result<()>,
{
    if live_clock {
        app.view.now = Some(Utc::now());
    }
    before_draw(terminal).map_err(DashboardError::at("taking the terminal back"))?;
    let (state, view) = app.frame_parts();
    terminal
        .draw(|f| draw(f, state, view))
        .map_err(DashboardError::at("drawing"))?;
    Ok(())
}

fn take_feed(app: &mut App, feed: &mut mpsc::Receiver<Feed>, item: Option<Feed>) {
    match item {
        Some(f) => {
            app.apply_feed(f);
            // Drain everything already queued: one redraw for a burst.
            while let Ok(f) = feed.try_recv() {
                app.apply_feed(f);
            }
        }
        // Every sender dropped: keep showing the final state until `q`.
        None => app.view.feed_closed = true,
    }
}

/// A key or resize pulls the next frame forward; probe results leave it where it is.
fn soon(next: Instant, last: Instant) -> Instant {
    next.min(last + MIN_FRAME)
}

/// Never waits: a full channel means the probes are busy, and the screen says so.
fn send(out: &mpsc::Sender<Outbound>, app: &mut App, o: Outbound) {
    match out.try_send(o) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            app.say(Tone::Warn, "busy: command not sent, try again");
        }
        Err(TrySendError::Closed(_)) => {
            app.say(Tone::Warn, "nothing is listening for commands");
        }
    }
}
