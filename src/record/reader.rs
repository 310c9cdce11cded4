//! Reading a recording back. A recording is evidence after an outage, often copied around,
//! cut short by a kill, or edited by hand: every event line that can be read is kept, every
//! line that cannot is skipped and counted, and nothing in the file can make this panic. Only
//! a file that is not a recording at all (no valid header) is refused.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{FORMAT, Header, VERSION};
use crate::event::Event;
use crate::exit::{AppError, AppResult};

/// A recording as read: its header, the events in file order, and what was wrong with it.
#[derive(Debug, Clone)]
pub struct Recording {
    pub header: Header,
    /// In file order, which is the order they were applied live (times may go backwards).
    pub events: Vec<Event>,
    /// Event lines that could not be read (truncated, corrupted, not UTF-8, not an event).
    pub skipped: u64,
    /// One line each for the person: what was skipped, what looked odd. Printed on stderr.
    pub notes: Vec<String>,
}

impl Recording {
    /// Where the recording begins: the header's time, or an earlier event (clock skew).
    pub fn start(&self) -> DateTime<Utc> {
        self.events
            .iter()
            .map(|e| e.at)
            .fold(self.header.started_at, DateTime::min)
    }

    /// Where it ends: the newest event, never before the start.
    pub fn end(&self) -> DateTime<Utc> {
        self.events
            .iter()
            .map(|e| e.at)
            .fold(self.start(), DateTime::max)
    }
}

/// Reads and checks a recording file. Errors (exit 78) are one line naming the file.
pub fn read(path: &Path) -> AppResult<Recording> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| AppError::config(format!("{name}: cannot read recording: {e}")))?;
    parse(&bytes, &name)
}

/// The reader proper, on bytes already in memory; `name` only labels messages.
pub fn parse(bytes: &[u8], name: &str) -> AppResult<Recording> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut lines = split_lines(bytes);
    let first = lines
        .find(|l| !is_blank(l.text))
        .ok_or_else(|| not_a_recording(name, "the file is empty"))?;
    let header = header(first.text, name)?;
    let mut events = Vec::new();
    let mut bad = BadLines::default();
    for line in lines.filter(|l| !is_blank(l.text)) {
        match event(line.text) {
            Some(ev) => {
                events.push(ev);
                bad.last_cut = false;
            }
            None => {
                bad.add(line.no);
                bad.last_cut = !line.terminated;
            }
        }
    }
    let mut notes = Vec::new();
    notes.extend(bad.note());
    notes.extend(out_of_order_note(&events));
    Ok(Recording {
        header,
        events,
        skipped: bad.count,
        notes,
    })
}

struct Line<'a> {
    /// 1-based, as an editor shows it.
    no: u64,
    text: &'a [u8],
    /// Had its newline: a kill mid-write leaves the last line without one.
    terminated: bool,
}

/// Lines with their numbers; a `\r` before the `\n` is dropped (a file edited on Windows).
fn split_lines(bytes: &[u8]) -> impl Iterator<Item = Line<'_>> {
    bytes
        .split_inclusive(|b| *b == b'\n')
        .zip(1u64..)
        .map(|(raw, no)| {
            let terminated = raw.ends_with(b"\n");
            let text = raw.strip_suffix(b"\n").unwrap_or(raw);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            Line {
                no,
                text,
                terminated,
            }
        })
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

fn event(line: &[u8]) -> Option<Event> {
    let text = std::str::from_utf8(line).ok()?;
    serde_json::from_str(text).ok()
}

fn not_a_recording(name: &str, why: &str) -> AppError {
    AppError::config(format!("{name}: not a connscope recording ({why})"))
}

/// The first line decides whether this is a recording, and whether this build can read it.
/// The version is checked before the rest of the header so that a newer format (whose header
/// may look different) is refused for what it is, not reported as damage.
fn header(line: &[u8], name: &str) -> AppResult<Header> {
    let value: Value = std::str::from_utf8(line)
        .ok()
        .and_then(|t| serde_json::from_str(t).ok())
        .ok_or_else(|| not_a_recording(name, "the first line is not a JSON header"))?;
    if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(not_a_recording(
            name,
            &format!("the first line has no \"format\": \"{FORMAT}\""),
        ));
    }
    let version = value
        .get("version")
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            AppError::config(format!(
                "{name}: recording header has no valid format version"
            ))
        })?;
    if version > u64::from(VERSION) {
        return Err(AppError::config(format!(
            "{name}: recording format version {version} is newer than this connscope understands ({VERSION}); upgrade connscope"
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| AppError::config(format!("{name}: recording header is damaged: {e}")))
}

#[derive(Debug, Default)]
struct BadLines {
    count: u64,
    first: Option<u64>,
    /// The last line of the file was unreadable and had no newline: cut off mid-write.
    last_cut: bool,
}

impl BadLines {
    fn add(&mut self, no: u64) {
        self.count += 1;
        self.first.get_or_insert(no);
    }

    /// "skipped 3 unreadable lines (first at line 17)", saying so when the last line was cut.
    fn note(&self) -> Option<String> {
        let first = self.first?;
        let s = if self.count == 1 { "" } else { "s" };
        let cut = if self.last_cut {
            "; the last line was cut off"
        } else {
            ""
        };
        Some(format!(
            "skipped {} unreadable line{s} (first at line {first}{cut})",
            self.count
        ))
    }
}

fn out_of_order_note(events: &[Event]) -> Option<String> {
    let mut newest: Option<DateTime<Utc>> = None;
    let mut backwards = 0u64;
    for e in events {
        if newest.is_some_and(|n| e.at < n) {
            backwards += 1;
        }
        newest = Some(newest.map_or(e.at, |n| n.max(e.at)));
    }
    (backwards > 0).then(|| {
        format!("{backwards} events are earlier than one before them; applied in file order")
    })
}

#[cfg(test)]
mod tests;
