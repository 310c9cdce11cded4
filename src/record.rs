//! Recordings: the events the state consumed, as JSON lines after one header line. Each line
//! is written and flushed as it happens, so a crash or kill loses at most the line in flight.
//! Secrets never enter a recording: the configuration is stored redacted and every line is
//! scrubbed before it is written. `open` streams a recording back, tolerating damage.

mod reader;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::RecordError;
use crate::event::Event;
use crate::secret::{MASK, redact_url, scrub};
use crate::state::StateConfig;

pub use reader::{EventReader, MAX_LINE, MAX_STDIN, Recording, Span, open, parse, read};
pub(crate) use reader::{event as parse_event, header as parse_header};

pub const FORMAT: &str = "connscope-recording";
pub const VERSION: u32 = 1;

/// The first line of every recording.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub connscope: String,
    pub command: String,
    pub started_at: DateTime<Utc>,
    pub environment: String,
    /// The effective configuration, secrets removed.
    pub config: serde_json::Value,
    /// What the state judged with, so a replay judges the same way.
    pub state: StateConfig,
    /// An agent's `/events` stream only: how many events of its backfill (its last
    /// `history` window) follow before its live events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<u64>,
}

impl Header {
    pub fn new(command: &str, config: &Config, state: &StateConfig) -> Self {
        Self {
            format: FORMAT.into(),
            version: VERSION,
            connscope: env!("CARGO_PKG_VERSION").into(),
            command: command.into(),
            started_at: Utc::now(),
            environment: config.settings.environment.clone(),
            config: redacted_settings(config),
            state: state.clone(),
            backfill: None,
        }
    }
}

/// The settings as JSON with every credential replaced.
pub(crate) fn redacted_settings(c: &Config) -> serde_json::Value {
    let mut s = c.settings.clone();
    s.database.url = c
        .database
        .as_ref()
        .map(|t| t.redacted())
        .or(s.database.url.map(|u| redact_url(&u)));
    s.database.password = s.database.password.map(|_| MASK.to_string());
    for e in &mut s.endpoints {
        e.url = redact_url(&e.url);
        e.websocket = e.websocket.as_deref().map(redact_url);
    }
    s.websockets = s.websockets.iter().map(|u| redact_url(u)).collect();
    s.startup.command = s
        .startup
        .command
        .map(|c| scrub(&crate::probe::startup::redact_command(&c)).into_owned());
    let v = serde_json::to_value(&s).unwrap_or(serde_json::Value::Null);
    serde_json::from_str(&scrub(&v.to_string())).unwrap_or(serde_json::Value::Null)
}

/// Writes a recording as the run goes. A write that fails (disk full, EIO, `/dev/full`) is
/// said once — on stderr, or after the dashboard — with the path; the run goes on without
/// the recording and ends with exit 74 (`incomplete`), its results still printed.
pub(crate) struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
    incomplete: bool,
}

impl Recorder {
    /// Creates (truncates) the file and writes the header. A file that cannot be created is
    /// exit 73 before anything runs.
    pub(crate) fn create(path: &Path, header: &Header) -> Result<Self, RecordError> {
        let file = File::create(path).map_err(|source| RecordError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        let mut r = Self {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            incomplete: false,
        };
        r.line(header);
        Ok(r)
    }

    pub(crate) fn write(&mut self, ev: &Event) {
        self.line(ev);
    }

    /// A write failed: the recording lacks events from then on.
    pub(crate) fn incomplete(&self) -> bool {
        self.incomplete
    }

    /// What to tell the person when the recording fails, also shown in the dashboard.
    pub(crate) fn failure_note(&self) -> Option<String> {
        self.incomplete.then(|| {
            format!(
                "{}: the recording is incomplete (a write failed); the run goes on without it",
                self.path.display()
            )
        })
    }

    fn line<T: Serialize>(&mut self, v: &T) {
        if self.incomplete {
            return;
        }
        let Ok(text) = serde_json::to_string(v) else {
            return;
        };
        let text = scrub(&text);
        let written = self
            .out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| self.out.flush());
        if let Err(e) = written {
            self.incomplete = true;
            crate::output::warn(&format!(
                "{}: cannot write the recording: {e}; it is incomplete from here on, the run goes on (exit 74 at the end)",
                self.path.display()
            ));
        }
    }
}
