//! Reading a recording back. A recording is evidence after an outage, often copied around,
//! cut short by a kill, or edited by hand: every event line that can be read is kept, every
//! line that cannot is skipped and counted, and nothing in the file can make this panic. Only
//! a file that is not a recording at all (no valid header) is refused.
//!
//! Recordings are read streaming, one line at a time, never whole: a line longer than
//! `MAX_LINE` is skipped without being kept, so memory is bounded by what the consumer keeps
//! (the state's own bounds), not by the file. Input is a regular file, or standard input
//! (`-`) copied to an unlinked temporary file of at most `MAX_STDIN` bytes so it can be read
//! again from the start (replay seeks backwards). A FIFO, a device (`/dev/zero`) or a
//! directory is refused at once (exit 66) — it could block for ever or never end.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{FORMAT, Header, VERSION};
use crate::error::RecordError;
use crate::event::Event;

/// The longest line read: far above any event or header connscope writes.
pub const MAX_LINE: usize = 1 << 20;
/// The most read from standard input (`report -`).
pub const MAX_STDIN: u64 = 256 << 20;

/// A whole recording in memory: for tests and tools that want every event at hand. `report`
/// and `replay` stream instead (`open`).
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
        self.span().start()
    }

    /// Where it ends: the newest event, never before the start.
    pub fn end(&self) -> DateTime<Utc> {
        self.span().end()
    }

    fn span(&self) -> Span {
        let mut span = Span::new(self.header.started_at);
        for e in &self.events {
            span.see(e.at);
        }
        span
    }
}

/// The time a recording covers, learnt event by event.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    started_at: DateTime<Utc>,
    oldest: Option<DateTime<Utc>>,
    newest: Option<DateTime<Utc>>,
}

impl Span {
    pub fn new(started_at: DateTime<Utc>) -> Self {
        Self {
            started_at,
            oldest: None,
            newest: None,
        }
    }

    pub fn see(&mut self, at: DateTime<Utc>) {
        self.oldest = Some(self.oldest.map_or(at, |o| o.min(at)));
        self.newest = Some(self.newest.map_or(at, |n| n.max(at)));
    }

    /// The header's time, or an earlier event (clock skew).
    pub fn start(&self) -> DateTime<Utc> {
        self.oldest
            .map_or(self.started_at, |o| o.min(self.started_at))
    }

    /// The newest event, never before the start.
    pub fn end(&self) -> DateTime<Utc> {
        self.newest.map_or(self.start(), |n| n.max(self.start()))
    }
}

/// Reads a whole recording file into memory (see `Recording`). Errors name the file.
pub fn read(path: &Path) -> Result<Recording, RecordError> {
    let (header, events) = open(path)?;
    Ok(collect(header, events))
}

/// The reader proper on bytes already in memory; `name` only labels messages.
pub fn parse(bytes: &[u8], name: &str) -> Result<Recording, RecordError> {
    let (header, events) = EventReader::new(io::Cursor::new(bytes), name)?;
    Ok(collect(header, events))
}

fn collect<R: BufRead>(header: Header, mut reader: EventReader<R>) -> Recording {
    let events: Vec<Event> = reader.by_ref().collect();
    Recording {
        header,
        events,
        skipped: reader.skipped(),
        notes: reader.notes(),
    }
}

/// Opens a recording for streaming: its header, and a reader of its events that can start
/// over (`rewind`). `-` is standard input. Input that is not a regular file is exit 66; a
/// file that is not a recording, exit 78.
pub fn open(path: &Path) -> Result<(Header, EventReader<BufReader<File>>), RecordError> {
    let name = path.display().to_string();
    let file = if path.as_os_str() == "-" {
        spool_stdin()?
    } else {
        open_regular(path, &name)?
    };
    EventReader::new(BufReader::new(file), &name)
}

fn open_regular(path: &Path, name: &str) -> Result<File, RecordError> {
    let cannot = |source| RecordError::Read {
        name: name.to_string(),
        source,
    };
    // Refused before opening: opening a FIFO for reading blocks until a writer comes.
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        return Err(RecordError::NotAFile {
            name: name.to_string(),
            kind: kind_of(&meta),
        });
    }
    File::open(path).map_err(cannot)
}

fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "it"
    }
}

/// Standard input, copied to an unlinked temporary file (at most `MAX_STDIN` bytes) so that
/// it can be read more than once.
fn spool_stdin() -> Result<File, RecordError> {
    spool(&mut io::stdin().lock(), MAX_STDIN)
}

/// Copies `input` (at most `limit` bytes) to an unlinked temporary file. The first line is
/// looked at first: input that does not begin with a line (`/dev/zero` on stdin) is refused
/// after `MAX_LINE` bytes, not after `limit`.
fn spool(input: &mut impl Read, limit: u64) -> Result<File, RecordError> {
    use std::io::Write as _;
    let fail = RecordError::Stdin;
    let mut input = BufReader::new(input.take(limit + 1));
    let mut first = Vec::new();
    let line = read_line(&mut input, &mut first, MAX_LINE, Rest::Leave).map_err(fail)?;
    if line.as_ref().is_some_and(|l| l.too_long) {
        return Err(not_a_recording("-", "the first line is longer than 1 MiB"));
    }
    let mut file = unlinked_temp_file().map_err(fail)?;
    if line.is_some() {
        file.write_all(&first)
            .and_then(|()| file.write_all(b"\n"))
            .map_err(fail)?;
    }
    let copied = io::copy(&mut input, &mut file).map_err(fail)?;
    if line.map_or(0, |l| l.consumed) + copied > limit {
        return Err(RecordError::StdinTooLong { mib: limit >> 20 });
    }
    file.seek(SeekFrom::Start(0)).map_err(fail)?;
    Ok(file)
}

fn unlinked_temp_file() -> io::Result<File> {
    let dir = std::env::temp_dir();
    for _ in 0..8 {
        let path = dir.join(format!(
            "connscope-stdin-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => {
                // Gone from the directory at once; the open handle keeps the data.
                std::fs::remove_file(&path)?;
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no unique temporary file name"))
}

/// The events of a recording, streamed in file order; `rewind` starts over at the first one.
/// Damage is counted as it is met (`skipped`, `notes` — complete once the end is reached).
pub struct EventReader<R> {
    r: R,
    /// Byte offset and line number of the line after the header.
    first: (u64, u64),
    no: u64,
    buf: Vec<u8>,
    tally: Tally,
}

impl<R: BufRead> EventReader<R> {
    /// Reads and checks the header. Errors (exit 78) are one line naming `name`.
    pub fn new(mut r: R, name: &str) -> Result<(Header, Self), RecordError> {
        let mut buf = Vec::new();
        let (mut no, mut offset) = (0u64, 0u64);
        let read_error = |source| RecordError::Read {
            name: name.to_string(),
            source,
        };
        loop {
            let Some(line) =
                read_line(&mut r, &mut buf, MAX_LINE, Rest::Consume).map_err(read_error)?
            else {
                return Err(not_a_recording(name, "the file is empty"));
            };
            no += 1;
            offset += line.consumed;
            if line.too_long {
                return Err(not_a_recording(name, "the first line is longer than 1 MiB"));
            }
            let text = if no == 1 {
                buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf)
            } else {
                &buf[..]
            };
            if !is_blank(text) {
                let header = header(text, name)?;
                let reader = Self {
                    r,
                    first: (offset, no),
                    no,
                    buf,
                    tally: Tally::default(),
                };
                return Ok((header, reader));
            }
        }
    }

    /// Event lines that could not be read so far.
    pub fn skipped(&self) -> u64 {
        self.tally.bad.count
    }

    /// What was wrong with the file so far, one line each (see `Recording::notes`).
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        notes.extend(self.tally.bad.note());
        notes.extend(self.tally.out_of_order_note());
        notes.extend(self.tally.error.clone());
        notes
    }
}

impl<R: BufRead + Seek> EventReader<R> {
    /// Back to the first event, the tally cleared.
    pub(crate) fn rewind(&mut self) -> io::Result<()> {
        self.r.seek(SeekFrom::Start(self.first.0))?;
        self.no = self.first.1;
        self.tally = Tally::default();
        Ok(())
    }
}

impl<R: BufRead> Iterator for EventReader<R> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            let line = match read_line(&mut self.r, &mut self.buf, MAX_LINE, Rest::Consume) {
                Ok(Some(line)) => line,
                Ok(None) => return None,
                Err(e) => {
                    self.tally.error = Some(format!(
                        "read error after line {}: {e}; the rest was not read",
                        self.no
                    ));
                    return None;
                }
            };
            self.no += 1;
            if !line.too_long && is_blank(&self.buf) {
                continue;
            }
            match (!line.too_long).then(|| event(&self.buf)).flatten() {
                Some(ev) => {
                    // A remote vantage's events are on its agent's clock, and its window
                    // arrives after it was measured: that is not disorder in the file.
                    if ev.vantage.is_none() {
                        self.tally.saw(ev.at);
                    } else {
                        self.tally.bad.last_cut = false;
                    }
                    return Some(ev);
                }
                None => self.tally.bad.add(self.no, !line.terminated),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rest {
    Consume,
    Leave,
}

struct LineRead {
    /// Bytes taken from the input, newline included.
    consumed: u64,
    /// Had its newline: a kill mid-write leaves the last line without one.
    terminated: bool,
    /// Longer than the limit: `buf` is empty, the line was skipped.
    too_long: bool,
}

/// The next line into `buf` (without `\n` or `\r\n`); `None` at the end. A line longer than
/// `max` is consumed to its end but not kept — or, with `Rest::Leave`, left where the limit
/// was reached (input that may never end).
fn read_line(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
    rest: Rest,
) -> io::Result<Option<LineRead>> {
    buf.clear();
    let mut line = LineRead {
        consumed: 0,
        terminated: false,
        too_long: false,
    };
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok((line.consumed > 0).then_some(line));
        }
        let newline = avail.iter().position(|b| *b == b'\n');
        let chunk = &avail[..newline.unwrap_or(avail.len())];
        if !line.too_long {
            if buf.len() + chunk.len() > max {
                line.too_long = true;
                *buf = Vec::new();
                if rest == Rest::Leave {
                    return Ok(Some(line));
                }
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let used = newline.map_or(avail.len(), |i| i + 1);
        r.consume(used);
        line.consumed += used as u64;
        if newline.is_some() {
            line.terminated = true;
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Some(line));
        }
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

pub(crate) fn event(line: &[u8]) -> Option<Event> {
    let text = std::str::from_utf8(line).ok()?;
    serde_json::from_str(text).ok()
}

fn not_a_recording(name: &str, why: &str) -> RecordError {
    RecordError::NotARecording {
        name: name.to_string(),
        why: why.to_string(),
    }
}

/// The first line decides whether this is a recording, and whether this build can read it.
/// The version is checked before the rest of the header so that a newer format (whose header
/// may look different) is refused for what it is, not reported as damage.
pub(crate) fn header(line: &[u8], name: &str) -> Result<Header, RecordError> {
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
        .ok_or_else(|| RecordError::NoVersion {
            name: name.to_string(),
        })?;
    if version > u64::from(VERSION) {
        return Err(RecordError::TooNew {
            name: name.to_string(),
            version,
            supported: VERSION,
        });
    }
    serde_json::from_value(value).map_err(|source| RecordError::Damaged {
        name: name.to_string(),
        source,
    })
}

/// What reading has met so far.
#[derive(Debug, Default)]
struct Tally {
    bad: BadLines,
    newest: Option<DateTime<Utc>>,
    /// Events earlier than one before them.
    backwards: u64,
    /// A read error that ended reading early.
    error: Option<String>,
}

impl Tally {
    fn saw(&mut self, at: DateTime<Utc>) {
        if self.newest.is_some_and(|n| at < n) {
            self.backwards += 1;
        }
        self.newest = Some(self.newest.map_or(at, |n| n.max(at)));
        self.bad.last_cut = false;
    }

    fn out_of_order_note(&self) -> Option<String> {
        (self.backwards > 0).then(|| {
            format!(
                "{} events are earlier than one before them; applied in file order",
                self.backwards
            )
        })
    }
}

#[derive(Debug, Default)]
struct BadLines {
    count: u64,
    first: Option<u64>,
    /// The last line of the file was unreadable and had no newline: cut off mid-write.
    last_cut: bool,
}

impl BadLines {
    fn add(&mut self, no: u64, cut: bool) {
        self.count += 1;
        self.first.get_or_insert(no);
        self.last_cut = cut;
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

#[cfg(test)]
mod tests;
