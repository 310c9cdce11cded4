//! The loop driven end to end on a `TestBackend`: keys in through a channel, feed items in,
//! commands out, the final frame read back. Time is paused (tokio's test clock): it moves only
//! when every task waits, so "after the loop has handled that" is exact, never a race.

use std::io;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use futures::channel::mpsc as fmpsc;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::app::App;
use super::event_loop::{LoopOptions, run_loop};
use super::options::{Outbound, UiOptions};
use super::tests::buffer_text;
use crate::event::Event;
use crate::probe::Command;
use crate::state::State;
use crate::state::fixtures::{outage, staging_config, t};
use crate::ui::feed::Feed;

type Keys = fmpsc::UnboundedSender<io::Result<TermEvent>>;

fn key(c: char) -> io::Result<TermEvent> {
    Ok(TermEvent::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::NONE,
    )))
}

struct Rig {
    keys: Keys,
    feed: mpsc::Sender<Feed>,
    out: mpsc::Receiver<Outbound>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<(Result<(), crate::error::DashboardError>, String)>,
}

fn start(feed_cap: usize) -> Rig {
    let (keys, input) = fmpsc::unbounded();
    let (feed_tx, feed_rx) = mpsc::channel(feed_cap);
    let (out_tx, out_rx) = mpsc::channel(8);
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        let mut term = Terminal::new(TestBackend::new(100, 30)).expect("backend");
        let app = App::new(&UiOptions::default(), State::new(staging_config()));
        let lo = LoopOptions {
            tick: Duration::from_millis(20),
            live_clock: false,
        };
        let r = run_loop(
            &mut term,
            input,
            app,
            feed_rx,
            out_tx,
            token,
            std::future::pending::<()>(),
            lo,
            |_: &mut Terminal<TestBackend>| Ok(()),
        )
        .await;
        (r, buffer_text(term.backend().buffer()))
    });
    Rig {
        keys,
        feed: feed_tx,
        out: out_rx,
        shutdown,
        task,
    }
}

/// A readiness wait, not a guess: time is paused, so this sleep ends only once every task is
/// idle — the loop has taken everything sent, applied it and drawn — and the clock has moved
/// on through a few of its ticks.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(120)).await;
}

#[tokio::test(start_paused = true)]
async fn feed_is_drained_commands_go_out_and_q_quits() {
    let mut rig = start(64);
    for (at, body) in outage() {
        rig.feed
            .send(Feed::Event(Event::at(t(at), body)))
            .await
            .expect("ui listens");
    }
    settle().await;
    rig.keys.unbounded_send(key('r')).expect("send");
    settle().await;
    assert_eq!(
        rig.out.try_recv().ok(),
        Some(Outbound::Probe(Command::RunNow))
    );
    rig.keys.unbounded_send(key('q')).expect("send");
    let (r, screen) = tokio::time::timeout(Duration::from_secs(5), rig.task)
        .await
        .expect("quits promptly")
        .expect("no panic");
    r.expect("returns normally");
    assert!(screen.contains("✗ FAIL"), "{screen}");
    assert!(screen.contains("exit 3"), "{screen}");
}

#[tokio::test(start_paused = true)]
async fn a_closed_feed_keeps_the_final_state_until_q() {
    let rig = start(64);
    for (at, body) in outage() {
        rig.feed
            .send(Feed::Event(Event::at(t(at), body)))
            .await
            .expect("ui listens");
    }
    drop(rig.feed);
    settle().await;
    assert!(
        !rig.task.is_finished(),
        "still showing after the feed closed"
    );
    rig.keys.unbounded_send(key('q')).expect("send");
    let (r, screen) = tokio::time::timeout(Duration::from_secs(5), rig.task)
        .await
        .expect("quits")
        .expect("no panic");
    r.expect("ok");
    assert!(screen.contains("PROBES ENDED"), "{screen}");
    assert!(screen.contains("✗ FAIL"), "{screen}");
}

#[tokio::test(start_paused = true)]
async fn probes_never_wait_on_the_ui() {
    // A small channel and a burst far larger than it: every send must complete quickly
    // because the UI drains the whole queue on each wakeup.
    let rig = start(4);
    let sender = async {
        for i in 0..2000u64 {
            let body = crate::state::fixtures::ok_attempt(i + 1, 1.0, 2.0, 10.0, 1.0);
            rig.feed
                .send(Feed::Event(Event::at(t(i as f64), body)))
                .await
                .expect("ui listens");
        }
    };
    tokio::time::timeout(Duration::from_secs(10), sender)
        .await
        .expect("2000 events through a 4-slot channel without stalling");
    settle().await;
    rig.keys.unbounded_send(key('q')).expect("send");
    let (_, screen) = rig.task.await.expect("no panic");
    assert!(screen.contains("(2000/2000)"), "{screen}");
}

#[tokio::test(start_paused = true)]
async fn shutdown_and_closed_input_end_the_loop() {
    let rig = start(4);
    rig.shutdown.cancel();
    let (r, _) = tokio::time::timeout(Duration::from_secs(5), rig.task)
        .await
        .expect("ends on shutdown")
        .expect("no panic");
    r.expect("ok");

    let rig = start(4);
    drop(rig.keys);
    let (r, _) = tokio::time::timeout(Duration::from_secs(5), rig.task)
        .await
        .expect("ends when the terminal input is gone")
        .expect("no panic");
    r.expect("ok");
}

#[tokio::test(start_paused = true)]
async fn a_full_command_channel_is_reported_not_waited_on() {
    let rig = start(4);
    // The out channel holds 8; nobody reads it.
    for _ in 0..12 {
        rig.keys.unbounded_send(key('r')).expect("send");
    }
    settle().await;
    rig.keys.unbounded_send(key('q')).expect("send");
    let (r, _) = tokio::time::timeout(Duration::from_secs(5), rig.task)
        .await
        .expect("still responsive")
        .expect("no panic");
    r.expect("ok");
}
