//! Probe tasks. Each probe is a background task that measures something real and sends
//! `Event`s; it never blocks on the UI (sends are bounded and dropped when the run is over) and
//! every wait is bounded by a timeout and by cancellation. This module is the only place that
//! talks to the network on behalf of a check.

pub mod capacity;
pub mod conn;
pub mod db;
pub mod http;
pub mod init;
pub mod pool;
pub mod rehearsal;
pub(crate) mod remote;
pub mod startup;
pub mod ws;

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::event::{Event, EventBody, Note, NoteLevel};

pub use conn::schedule::{Backoff, Control, ControlHandle};

/// What a probe needs to report and to know when to stop.
#[derive(Clone)]
pub struct Ctx {
    pub tx: mpsc::Sender<Event>,
    pub cancel: CancellationToken,
}

impl Ctx {
    pub fn new(tx: mpsc::Sender<Event>, cancel: CancellationToken) -> Self {
        Self { tx, cancel }
    }

    /// Sends an event stamped now. Returns false when nobody listens any more (the run ended),
    /// which a probe takes as its cue to stop.
    pub async fn send(&self, body: EventBody) -> bool {
        tokio::select! {
            r = self.tx.send(Event::now(body)) => r.is_ok(),
            () = self.cancel.cancelled() => false,
        }
    }

    pub async fn note(&self, probe: &str, level: NoteLevel, message: impl Into<String>) -> bool {
        let message = crate::secret::scrub(&message.into()).into_owned();
        self.send(EventBody::Note(Note {
            probe: probe.into(),
            level,
            message,
        }))
        .await
    }

    /// Sleeps unless cancelled first; false when cancelled.
    pub async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => true,
            () = self.cancel.cancelled() => false,
        }
    }
}

/// How long a probe keeps going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `check`: the configured number of attempts, then done.
    Once,
    /// `watch` / `lab`: repeat at the interval until cancelled.
    Live,
}

/// The probe kinds `--only` selects from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Db,
    Init,
    Capacity,
    Http,
    Ws,
    Startup,
    Rehearsal,
    /// The pool probe: never in "every probe", only when asked for.
    Pool,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Db,
        Kind::Init,
        Kind::Capacity,
        Kind::Http,
        Kind::Ws,
        Kind::Startup,
        Kind::Rehearsal,
        Kind::Pool,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Db => "db",
            Kind::Init => "init",
            Kind::Capacity => "capacity",
            Kind::Http => "http",
            Kind::Ws => "ws",
            Kind::Startup => "startup",
            Kind::Rehearsal => "rehearsal",
            Kind::Pool => "pool",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// Commands from the dashboard to the probes (the second channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Run every periodic probe now instead of waiting for its interval.
    RunNow,
    /// Stop starting new attempts (running ones finish); the view keeps updating.
    SetPaused(bool),
    StartCapacity {
        force: bool,
    },
    AbortCapacity,
    StartRehearsal,
    /// Start the pool probe (`o`), unless one runs; `force` as for the capacity test.
    StartPool {
        force: bool,
    },
    /// Stop the running pool probe (`o` again); its pool is closed.
    StopPool,
}

/// A watch channel of "run now" generations that periodic probes listen to.
pub fn control() -> (ControlHandle, Control) {
    let (rerun_tx, rerun_rx) = watch::channel(0u64);
    let (pause_tx, pause_rx) = watch::channel(false);
    (
        ControlHandle {
            rerun: rerun_tx,
            paused: pause_tx,
        },
        Control {
            rerun: rerun_rx,
            paused: pause_rx,
        },
    )
}
