//! The dashboard on a fixture instead of probes: a way to look at it (and to drive it from a
//! PTY test) before the real commands are wired. Events are played 20× faster than they were
//! recorded; commands from the keyboard come back as notes in the event log.
//!
//! `cargo run --example dashboard -- [healthy|outage|capacity] [--lab|--replay]
//!  [--mask] [--theme light] [--panic-task SECS] [--panic-main SECS]`

use std::time::Duration;

use connscope::event::{Event, EventBody, Note, NoteLevel};
use connscope::state::State;
use connscope::state::fixtures::{capacity_exhausted, healthy, outage, staging_config};
use connscope::ui::feed::Feed;
use connscope::ui::{self, ThemeName, UiOptions, ViewMode};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn arg_after(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let has = |f: &str| args.iter().any(|a| a == f);
    let events = match args.first().map(String::as_str) {
        Some("healthy") => healthy(),
        Some("capacity") => capacity_exhausted(),
        _ => outage(),
    };
    let mode = if has("--lab") {
        ViewMode::Lab {
            scenarios: [
                "healthy",
                "saturation",
                "capacity",
                "phase3-timeout",
                "flapping",
            ]
            .iter()
            .map(|s| (s.to_string(), format!("the {s} scenario")))
            .collect(),
        }
    } else if has("--replay") {
        ViewMode::Replay
    } else {
        ViewMode::Live
    };
    let mut opts = UiOptions::from_config(&Default::default(), mode);
    opts.mask = has("--mask");
    if let Some(t) = arg_after(&args, "--theme").and_then(|t| ThemeName::parse(&t)) {
        opts.theme = t;
    }
    let (feed_tx, feed_rx) = mpsc::channel(256);
    let (out_tx, mut out_rx) = mpsc::channel(16);
    let shutdown = CancellationToken::new();

    let base = chrono::Utc::now();
    let tx = feed_tx.clone();
    tokio::spawn(async move {
        let mut last = 0.0;
        for (at, body) in events {
            tokio::time::sleep(Duration::from_secs_f64(((at - last) / 20.0).max(0.0))).await;
            last = at;
            let when = base + chrono::Duration::milliseconds((at * 1000.0) as i64);
            if tx.send(Feed::Event(Event::at(when, body))).await.is_err() {
                return;
            }
        }
    });
    let tx = feed_tx;
    tokio::spawn(async move {
        while let Some(o) = out_rx.recv().await {
            let note = EventBody::Note(Note {
                probe: "demo".into(),
                level: NoteLevel::Info,
                message: format!("received {o:?}"),
            });
            if tx.send(Feed::Event(Event::now(note))).await.is_err() {
                return;
            }
        }
    });
    if let Some(secs) = arg_after(&args, "--panic-task").and_then(|s| s.parse::<f64>().ok()) {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            panic!("demo: a probe task panicked (the dashboard should take the terminal back)");
        });
    }
    let ui = ui::run(
        opts,
        State::new(staging_config()),
        feed_rx,
        out_tx,
        shutdown.clone(),
    );
    match arg_after(&args, "--panic-main").and_then(|s| s.parse::<f64>().ok()) {
        Some(secs) => {
            tokio::select! {
                r = ui => r?,
                () = tokio::time::sleep(Duration::from_secs_f64(secs)) => {
                    panic!("demo: the main task panicked (the terminal must be usable again)");
                }
            }
        }
        None => ui.await?,
    }
    shutdown.cancel();
    println!("dashboard closed normally");
    Ok(())
}
