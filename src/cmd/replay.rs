//! `connscope replay FILE`: the recording played in the dashboard, with pause, speed and seek.
//! The file is read and checked first (a bad file is exit 78 wherever it is run), then a
//! terminal is required (exit 64 without one, never a crash), then the replay driver feeds
//! the dashboard. No probe runs.

use std::io::IsTerminal;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::{Global, ReplayArgs};
use crate::exit::{AppError, AppResult};
use crate::feed::{Feed, ReplayCtl};
use crate::record;
use crate::replay::{self, MAX_SPEED, MIN_SPEED};
use crate::state::State;

/// Feed items in flight to the dashboard; a seek sends a whole recording at once and waits
/// here for room rather than growing without bound.
const FEED: usize = 4096;

pub async fn run(g: &Global, args: &ReplayArgs) -> AppResult<i32> {
    if !(args.speed.is_finite() && (MIN_SPEED..=MAX_SPEED).contains(&args.speed)) {
        return Err(AppError::usage(format!(
            "--speed must be between {MIN_SPEED} and {MAX_SPEED}, got {}",
            args.speed
        )));
    }
    let rec = record::read(&args.file)?;
    super::report::say_notes(&args.file, &rec);
    if !std::io::stdout().is_terminal() {
        return Err(AppError::usage(
            "replay needs a terminal (stdout is not a TTY); for a summary use `connscope report FILE`",
        ));
    }
    let state = State::new(rec.header.state.clone());
    let (feed_tx, feed_rx) = mpsc::channel(FEED);
    let (ctl_tx, ctl_rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let driver = tokio::spawn(replay::drive(
        rec,
        args.speed,
        feed_tx,
        ctl_rx,
        cancel.clone(),
    ));
    let result = attach_ui(g, state, feed_rx, ctl_tx, cancel.clone()).await;
    cancel.cancel();
    let _ = driver.await;
    result
}

// ==== UI attachment point ======================================================================
// The dashboard (`crate::ui`) is not merged yet. Wire it here: run
// `crate::ui::run(opts, state, feed_rx, out_tx, shutdown)` with options from `g` (theme, mask),
// and forward every `Outbound::Replay(ctl)` it sends on `out_tx` to `ctl` (other outbound
// commands have no probe to reach in a replay and are dropped). Return the UI's exit code;
// `run` cancels the driver afterwards.
async fn attach_ui(
    _g: &Global,
    _state: State,
    _feed: mpsc::Receiver<Feed>,
    _ctl: mpsc::Sender<ReplayCtl>,
    _shutdown: CancellationToken,
) -> AppResult<i32> {
    Err(AppError::usage(
        "the replay dashboard is not built yet; use `connscope report FILE --format markdown` meanwhile",
    ))
}
