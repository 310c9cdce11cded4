//! Reading one source line by line, with what needs more than one line: a JSON record spread
//! over several lines (`gcloud logging read --format=json` prints a pretty array of entries),
//! and the format the source turned out to be written in (the shape its events came in).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{Matcher, Parsed, Shape, Skip, object, read};

/// A multi-line record longer than this (lines or bytes) is given up on: a stray `{` must
/// not make the reader hold the rest of the log.
const MAX_RECORD_LINES: usize = 500;
const MAX_RECORD_BYTES: usize = 256 * 1024;

#[derive(Debug)]
pub struct SourceParser {
    matcher: Matcher,
    /// The record being assembled, without its array punctuation.
    pending: Option<String>,
    pending_lines: usize,
    /// Events per shape, in `Shape` order.
    events: [u64; 5],
    /// The newest time the log itself gave: the time of a line that has none of its own (a
    /// traceback, uvicorn's lines) in a log that otherwise dates its lines.
    last_ts: Option<DateTime<Utc>>,
}

enum Record {
    Complete(Map<String, Value>),
    Incomplete,
    Invalid,
}

impl SourceParser {
    pub fn new(matcher: Matcher) -> Self {
        Self {
            matcher,
            pending: None,
            pending_lines: 0,
            events: [0; 5],
            last_ts: None,
        }
    }

    /// The format this source is written in: the shape most of its events came in.
    pub fn format(&self) -> Option<Shape> {
        let shapes = [
            Shape::Json,
            Shape::CloudLogging,
            Shape::Logfmt,
            Shape::Text,
            Shape::Regex,
        ];
        let (i, n) = self
            .events
            .iter()
            .enumerate()
            .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)))?;
        (*n > 0).then(|| shapes[i])
    }

    /// Reads the next line of the source (`read_at`: when it was read).
    pub fn line(&mut self, line: &str, read_at: DateTime<Utc>) -> Parsed {
        let fallback = self.last_ts.unwrap_or(read_at);
        let (shape, parsed) = self.shaped(line, fallback);
        let dated = match &parsed {
            Parsed::Phase(p) => Some(p.ts),
            Parsed::Exit(x) => Some(x.ts),
            Parsed::Skip(_) => self.matcher.leading_ts(line, fallback),
        };
        if let Some(t) = dated.filter(|t| *t != fallback) {
            self.last_ts = Some(self.last_ts.map_or(t, |l| l.max(t)));
        }
        if matches!(parsed, Parsed::Phase(_) | Parsed::Exit(_)) {
            self.events[shape as usize] += 1;
        }
        parsed
    }

    fn shaped(&mut self, line: &str, read_at: DateTime<Utc>) -> (Shape, Parsed) {
        if self.pending.is_some() {
            return self.continue_record(line, read_at);
        }
        let regex = self.matcher.patterns.is_some();
        if !regex && opens_record(line) {
            self.pending = Some(String::new());
            self.pending_lines = 0;
            return self.continue_record(line, read_at);
        }
        read(&self.matcher, line, read_at)
    }

    fn continue_record(&mut self, line: &str, read_at: DateTime<Utc>) -> (Shape, Parsed) {
        let Some(buf) = self.pending.as_mut() else {
            return read(&self.matcher, line, read_at);
        };
        buf.push_str(line);
        buf.push('\n');
        self.pending_lines += 1;
        let parsed = match record(buf) {
            Record::Incomplete
                if self.pending_lines < MAX_RECORD_LINES && buf.len() < MAX_RECORD_BYTES =>
            {
                return (Shape::Json, Parsed::Skip(Skip::Continued));
            }
            Record::Complete(obj) => object(&self.matcher, &obj, read_at),
            Record::Incomplete | Record::Invalid => (Shape::Json, Parsed::Skip(Skip::NotJson)),
        };
        self.pending = None;
        parsed
    }
}

/// A line that begins a JSON record without finishing it: `[`, `{`, `[{`, or an object cut
/// short at the end of the line.
fn opens_record(line: &str) -> bool {
    let t = line.trim();
    if t == "[" {
        return true;
    }
    let t = t.trim_start_matches('[').trim_start();
    t.starts_with('{')
        && matches!(
            serde_json::from_str::<Map<String, Value>>(t),
            Err(e) if e.is_eof()
        )
}

/// The record in `buf` (array punctuation around it ignored).
fn record(buf: &str) -> Record {
    let t = buf.trim().trim_start_matches('[').trim();
    let t = t.trim_end_matches(']').trim_end().trim_end_matches(',');
    if t.is_empty() {
        return Record::Incomplete;
    }
    match serde_json::from_str::<Map<String, Value>>(t) {
        Ok(obj) => Record::Complete(obj),
        Err(e) if e.is_eof() => Record::Incomplete,
        Err(_) => Record::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Startup;
    use crate::event::PhaseStatus;

    fn at() -> DateTime<Utc> {
        "2026-11-30T12:00:00Z".parse().expect("valid time")
    }

    #[test]
    fn a_pretty_printed_export_is_one_record_per_entry() {
        let mut p = SourceParser::new(Matcher::new(&Startup::default()).expect("matcher"));
        let export = r#"[
  {
    "insertId": "a1",
    "jsonPayload": {
      "message": "Phase 3/7 database: connecting"
    },
    "severity": "INFO",
    "timestamp": "2026-11-30T04:12:49.001Z"
  },
  {
    "insertId": "a2",
    "textPayload": "Phase 3/7 database: failed: database initialization timeout after 75.0s",
    "severity": "ERROR",
    "timestamp": "2026-11-30T04:14:04.005Z"
  }
]"#;
        let got: Vec<Parsed> = export.lines().map(|l| p.line(l, at())).collect();
        let phases: Vec<(u8, PhaseStatus)> = got
            .iter()
            .filter_map(|x| match x {
                Parsed::Phase(ph) => Some((ph.phase, ph.status)),
                _ => None,
            })
            .collect();
        assert_eq!(
            phases,
            [(3, PhaseStatus::Started), (3, PhaseStatus::Failed)]
        );
        assert_eq!(p.format(), Some(Shape::CloudLogging));
        assert!(
            got.iter()
                .all(|x| !matches!(x, Parsed::Skip(Skip::NotJson))),
            "{got:?}"
        );
    }

    #[test]
    fn a_stray_brace_gives_up_instead_of_swallowing_the_log() {
        let mut p = SourceParser::new(Matcher::new(&Startup::default()).expect("matcher"));
        assert_eq!(p.line("{", at()), Parsed::Skip(Skip::Continued));
        assert_eq!(p.line("not json", at()), Parsed::Skip(Skip::NotJson));
        assert!(matches!(
            p.line("Phase 1/7 init: started", at()),
            Parsed::Phase(_)
        ));
        assert_eq!(p.format(), Some(Shape::Text));
    }
}
