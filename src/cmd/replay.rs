//! `connscope replay FILE`: the recording played in the dashboard, with pause, speed and seek.
//! The file is read and checked first (a bad file is exit 78, one that is not a regular file
//! 66, wherever it is run; `-` is standard input), then a
//! terminal is required (exit 64 without one, never a crash), then the replay driver feeds
//! the dashboard. No probe runs.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::{Global, ReplayArgs};
use crate::error::{AppError, AppResult};
use crate::exit::ExitCode;
use crate::record;
use crate::replay::{self, MAX_SPEED, MIN_SPEED};
use crate::state::State;
use crate::ui;
use crate::ui::feed::{Feed, ReplayCtl};

/// Feed items in flight to the dashboard; a seek sends a whole recording at once and waits
/// here for room rather than growing without bound.
const FEED: usize = 4096;

pub(super) async fn run(g: &Global, args: &ReplayArgs) -> AppResult<ExitCode> {
    if !(args.speed.is_finite() && (MIN_SPEED..=MAX_SPEED).contains(&args.speed)) {
        return Err(AppError::usage(format!(
            "--speed must be between {MIN_SPEED} and {MAX_SPEED}, got {}",
            args.speed
        )));
    }
    let (header, events) = record::open(&args.file)?;
    let (timeline, notes) = replay::Timeline::from_reader(&header, events);
    super::report::say_notes(&args.file, &notes);
    if !crate::tty::can_run_dashboard() {
        return Err(AppError::usage(
            "replay needs a terminal; for a summary use `connscope report FILE`",
        ));
    }
    let state = State::new(header.state.clone());
    let (feed_tx, feed_rx) = mpsc::channel(FEED);
    let (ctl_tx, ctl_rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let driver = tokio::spawn(replay::drive(
        timeline,
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

/// The dashboard in replay mode: the user's theme and mask (from flags / config), replay keys
/// forwarded to the driver; anything else it asks for has no probe to reach and is dropped.
async fn attach_ui(
    g: &Global,
    state: State,
    feed: mpsc::Receiver<Feed>,
    ctl: mpsc::Sender<ReplayCtl>,
    shutdown: CancellationToken,
) -> AppResult<ExitCode> {
    let config = super::load_config(g)?;
    let opts = ui::UiOptions::from_config(&config.settings.ui, ui::ViewMode::Replay);
    let (out_tx, mut out_rx) = mpsc::channel(64);
    let forward = tokio::spawn(async move {
        while let Some(o) = out_rx.recv().await {
            if let ui::Outbound::Replay(c) = o
                && ctl.send(c).await.is_err()
            {
                break;
            }
        }
    });
    let r = ui::run(opts, state, feed, out_tx, shutdown).await;
    let _ = forward.await;
    r?;
    Ok(super::live::ended_by())
}
