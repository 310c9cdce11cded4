//! Replay: a recording fed to the dashboard as if it were happening again. The same `Feed`
//! the live run sends (events), plus the clock and, to go backwards, a reset — no probe runs.
//!
//! Pacing is real time by default: the gap between consecutive events (by their `at`), divided
//! by the speed. A quiet stretch never takes longer than `MAX_GAP` (5 s) of real time whatever
//! the speed — it plays faster instead — so an hour without events does not stall a review.
//! The clock is sent with every change and every `TICK` (250 ms) while playing. At the end the
//! replay pauses there and keeps answering controls until cancelled.
//!
//! Controls: pause/resume; faster / slower (×2 / ÷2, within 0.25–64); step (one event, pausing
//! first); seek ±N s; to start; to end; next alert (to the next event that raised an alert,
//! found by applying the recording to a scratch state once at the start). Going back sends
//! `Feed::Reset` and then every event up to the new position at once; going forward sends the
//! skipped events at once.
//!
//! The recording is streamed from its file, never held whole: one pass at the start learns
//! its span and alerts, playing reads on, and going back reads again from the first event.

mod player;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::ui::feed::{Feed, ReplayCtl};

pub use player::{EventSource, MAX_GAP, MAX_SPEED, MIN_SPEED, Player, Timeline, clamp_speed};

/// How often the clock moves on screen while playing.
pub(crate) const TICK: Duration = Duration::from_millis(250);

/// Plays `rec` into `feed` until `cancel` (or until the feed's receiver is gone). Speeds
/// outside 0.25–64 are clamped. When `ctl` closes, playback runs to the end and stops there.
pub async fn drive(
    rec: impl Into<Timeline>,
    speed: f64,
    feed: mpsc::Sender<Feed>,
    mut ctl: mpsc::Receiver<ReplayCtl>,
    cancel: CancellationToken,
) {
    let mut player = Player::new(rec, speed);
    let mut out = Vec::new();
    player.begin(&mut out);
    let mut controls_open = true;
    let mut last = Instant::now();
    loop {
        if !send(&feed, &mut out).await {
            return;
        }
        if !controls_open && !player.playing() {
            // Nobody can resume it: the final state has been sent.
            return;
        }
        let nap = player.until_next().map_or(TICK, |d| d.min(TICK));
        tokio::select! {
            () = cancel.cancelled() => return,
            c = ctl.recv(), if controls_open => match c {
                Some(c) => {
                    // Time played up to the key press counts before the control acts.
                    player.advance(last.elapsed(), &mut out);
                    control(&mut player, c, &mut out);
                    out.push(player.clock());
                }
                None => controls_open = false,
            },
            () = tokio::time::sleep(nap), if player.playing() => {
                player.advance(last.elapsed(), &mut out);
                out.push(player.clock());
            }
        }
        last = Instant::now();
    }
}

fn control(p: &mut Player, c: ReplayCtl, out: &mut Vec<Feed>) {
    match c {
        ReplayCtl::TogglePause => p.toggle_pause(),
        ReplayCtl::Faster => p.set_speed(p.speed() * 2.0),
        ReplayCtl::Slower => p.set_speed(p.speed() / 2.0),
        ReplayCtl::Step => p.step(out),
        ReplayCtl::Seek(secs) => p.seek(secs, out),
        ReplayCtl::ToStart => p.to_start(out),
        ReplayCtl::ToEnd => p.to_end(out),
        ReplayCtl::NextAlert => p.next_alert(out),
    }
}

/// Sends and empties `out`; false when the receiver is gone.
async fn send(feed: &mpsc::Sender<Feed>, out: &mut Vec<Feed>) -> bool {
    for item in out.drain(..) {
        if feed.send(item).await.is_err() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests;
