//! The event log view: state changes worth reading, not every sample (a healthy database does
//! not fill it; an outage shows as "unreachable … reachable again after 42 s").

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::stats::Ring;
use crate::event::{InitResult, Note, NoteLevel, ProbeEnd, ProbeEnded};
use crate::units::duration as fmt_d;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub at: DateTime<Utc>,
    pub level: Level,
    pub source: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct EventLog {
    entries: Ring<LogEntry>,
    total: u64,
}

impl EventLog {
    pub fn new(cap: usize) -> Self {
        Self {
            entries: Ring::new(cap),
            total: 0,
        }
    }

    pub fn push(&mut self, at: DateTime<Utc>, level: Level, source: &str, text: String) {
        self.total += 1;
        self.entries.push(LogEntry {
            at,
            level,
            source: source.to_string(),
            text,
        });
    }

    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &LogEntry> + ExactSizeIterator {
        self.entries.iter()
    }

    /// Entries ever written, including those the ring has dropped.
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn note(&mut self, at: DateTime<Utc>, n: &Note) {
        let level = match n.level {
            NoteLevel::Info => Level::Info,
            NoteLevel::Warn => Level::Warn,
            NoteLevel::Error => Level::Error,
        };
        self.push(at, level, &n.probe, n.message.clone());
    }

    /// Only a crash is news: probes end by themselves in `check` and are cancelled on quit.
    pub(crate) fn probe_ended(&mut self, at: DateTime<Utc>, e: &ProbeEnded) {
        if e.how == ProbeEnd::Panicked {
            let msg = e.message.as_deref().unwrap_or("panic");
            self.push(
                at,
                Level::Error,
                &e.probe,
                format!("the {} probe crashed: {msg}", e.probe),
            );
        }
    }

    pub fn init(&mut self, at: DateTime<Utc>, r: &InitResult) {
        // From a recording this is input: a negative or absurd value must not panic.
        let limit = std::time::Duration::try_from_secs_f64(r.timeout_ms / 1000.0)
            .map_or_else(|_| format!("{} ms", r.timeout_ms), fmt_d);
        match &r.error {
            None => self.push(
                at,
                Level::Info,
                "init",
                format!(
                    "initialization connected and warmed up in {:.0} ms (limit {limit})",
                    r.elapsed_ms
                ),
            ),
            Some(e) => self.push(
                at,
                Level::Error,
                "init",
                format!(
                    "initialization failed after {:.1} s (limit {limit}): {} — {}",
                    r.elapsed_ms / 1000.0,
                    e.class,
                    e.message
                ),
            ),
        }
    }
}
