//! One line of a startup log in, at most one event out. Pure: no I/O and no clock (the time a
//! line was read comes in as an argument), so the same line always gives the same answer and
//! the function can be fuzzed. See the module above for the formats accepted; `SourceParser`
//! adds what needs more than one line (a pretty-printed JSON export, the detected format).

mod logfmt;
mod source;
mod text;

pub use source::SourceParser;

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use regex::Regex;
use serde_json::{Map, Value};

use crate::config::{self, LogFormat};
use crate::event::{PhaseStatus, StartupExit, StartupPhase, StartupSource};

/// Month abbreviations as syslog writes them.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Messages longer than this are cut: a stack trace in a log line must not bloat every event.
pub(crate) const MAX_MESSAGE_CHARS: usize = 1024;

/// How many `{` positions are tried as the start of the JSON object. A handful covers any
/// shipper prefix; trying every one would make a line of 64 Ki `{` quadratic.
const JSON_START_TRIES: usize = 4;

/// The shape a line was read as (the source's format is the shape its events came in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shape {
    /// A JSON object with the phase keys, or a JSON log record whose message names a phase.
    Json,
    /// A Google Cloud Logging entry (`jsonPayload` / `textPayload`, `timestamp`, `severity`).
    CloudLogging,
    Logfmt,
    /// Text: Python logging, uvicorn, or any line naming a phase and its status.
    Text,
    /// `format = "regex"`: the configured patterns.
    Regex,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Json => "json",
            Shape::CloudLogging => "cloud-logging",
            Shape::Logfmt => "logfmt",
            Shape::Text => "text",
            Shape::Regex => "regex",
        }
    }
}

/// What one line said.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Phase(StartupPhase),
    Exit(StartupExit),
    /// The line gave no event; why, so a log that matches nothing can be explained.
    Skip(Skip),
}

/// Why a line gave no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Empty or whitespace only.
    Blank,
    /// JSON format: no JSON object on the line.
    NotJson,
    /// Neither a phase line nor an exit line (an ordinary log line).
    NotStartup,
    /// A phase that is neither a configured number nor a configured name.
    UnknownPhase,
    /// A phase without a recognised status.
    NoStatus,
    /// A timestamp that is there but cannot be read.
    BadTimestamp,
    /// An exit line whose code is missing or not a 32-bit integer.
    BadExitCode,
    /// Part of a record spread over several lines (a pretty-printed JSON export).
    Continued,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Blank => "blank line",
            Skip::NotJson => "not a JSON object",
            Skip::NotStartup => "no phase or exit in it",
            Skip::UnknownPhase => "unknown phase",
            Skip::NoStatus => "phase without a recognised status",
            Skip::BadTimestamp => "unreadable timestamp",
            Skip::BadExitCode => "exit without a readable code",
            Skip::Continued => "part of a multi-line record",
        }
    }
}

/// A pattern from the configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatcherError {
    /// The configuration key, e.g. `startup.patterns.exit`.
    pub key: String,
    pub message: String,
}

impl fmt::Display for MatcherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for MatcherError {}

/// The regex format's patterns, compiled once.
#[derive(Debug, Clone)]
struct Patterns {
    started: Regex,
    completed: Regex,
    failed: Regex,
    exit: Regex,
}

/// Everything `parse_line` needs, built once from the configuration.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// `None` for the JSON format, whose patterns are not used (and so not demanded).
    patterns: Option<Patterns>,
    names: Vec<String>,
    /// Each configured name as lower-case tokens, to find "database" in "phase_3_database".
    name_tokens: Vec<Vec<String>>,
    /// The zone of timestamps written without one.
    zone: config::LogZone,
}

impl Matcher {
    pub fn new(cfg: &config::Startup) -> Result<Self, MatcherError> {
        let patterns = match cfg.format {
            LogFormat::Json => None,
            LogFormat::Regex => Some(compile_patterns(&cfg.patterns)?),
        };
        let names: Vec<String> = cfg.phases.iter().map(|p| p.name.clone()).collect();
        let name_tokens = names.iter().map(|n| tokens(n)).collect();
        Ok(Self {
            patterns,
            names,
            name_tokens,
            zone: cfg.timezone,
        })
    }

    /// 1-based phase number for a JSON phase value (number or string).
    fn phase_of_value(&self, v: &Value) -> Option<u8> {
        match v {
            // `3.0` is as good as `3`; `3.5` is no phase.
            Value::Number(n) => match n.as_u64() {
                Some(u) => self.in_range(u),
                None => n
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f <= 255.0)
                    .and_then(|f| self.in_range(f as u64)),
            },
            Value::String(s) => self.phase_of_str(s),
            _ => None,
        }
    }

    /// 1-based phase number for text: a number, a configured name, or a label such as
    /// `phase_3_database`, `Phase 3: Database`, `phase3` or `database_initialization`.
    pub(crate) fn phase_of_str(&self, s: &str) -> Option<u8> {
        let s = s.trim();
        if let Ok(n) = s.parse::<u64>() {
            return self.in_range(n);
        }
        let toks = tokens(s);
        if let Some(n) = phase_number(&toks) {
            // An explicit number decides, even against a name: services renumber less often
            // than they rename, and a number out of range is unknown, not "guess by name".
            return self.in_range(n);
        }
        self.phase_by_name(&toks)
    }

    /// The configured name whose tokens appear earliest (longest on a tie) among `toks`.
    fn phase_by_name(&self, toks: &[String]) -> Option<u8> {
        let mut best: Option<(usize, usize, usize)> = None; // (start, name length, index)
        for (i, name) in self.name_tokens.iter().enumerate() {
            if name.is_empty() || name.len() > toks.len() {
                continue;
            }
            let Some(start) = toks.windows(name.len()).position(|w| w == name.as_slice()) else {
                continue;
            };
            let better =
                best.is_none_or(|(s, len, _)| start < s || (start == s && name.len() > len));
            if better {
                best = Some((start, name.len(), i));
            }
        }
        best.and_then(|(_, _, i)| u8::try_from(i + 1).ok())
    }

    fn in_range(&self, n: u64) -> Option<u8> {
        let n = u8::try_from(n).ok()?;
        (n >= 1 && usize::from(n) <= self.names.len()).then_some(n)
    }

    fn name(&self, phase: u8) -> String {
        self.names
            .get(usize::from(phase).wrapping_sub(1))
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn phase_event(
        &self,
        phase: u8,
        status: PhaseStatus,
        ts: DateTime<Utc>,
        message: Option<&str>,
    ) -> Parsed {
        Parsed::Phase(StartupPhase {
            source: StartupSource::Log,
            phase,
            name: self.name(phase),
            status,
            ts,
            message: message.and_then(clean_message),
        })
    }
}

fn compile_patterns(p: &config::Patterns) -> Result<Patterns, MatcherError> {
    Ok(Patterns {
        started: compile("startup.patterns.started", &p.started, "phase")?,
        completed: compile("startup.patterns.completed", &p.completed, "phase")?,
        failed: compile("startup.patterns.failed", &p.failed, "phase")?,
        exit: compile("startup.patterns.exit", &p.exit, "code")?,
    })
}

/// Compiles one pattern and checks it has the named group the event cannot do without.
fn compile(key: &str, pattern: &str, needs: &str) -> Result<Regex, MatcherError> {
    let err = |message: String| MatcherError {
        key: key.to_string(),
        message,
    };
    let re = Regex::new(pattern).map_err(|e| {
        // The regex crate's message is multi-line with a caret diagram; its last line says what.
        let what = e.to_string();
        let last = what.lines().last().unwrap_or("invalid").trim().to_string();
        err(format!("invalid regular expression: {last}"))
    })?;
    if !re.capture_names().any(|n| n == Some(needs)) {
        return Err(err(format!(
            "the pattern needs a named group (?P<{needs}>…); named groups used: phase, ts, code, message"
        )));
    }
    Ok(re)
}

/// Reads one line. Never panics, whatever the bytes (decode them lossily first).
pub fn parse_line(m: &Matcher, line: &str, read_at: DateTime<Utc>) -> Parsed {
    read(m, line, read_at).1
}

/// Reads one line and says which shape it was read as.
pub(crate) fn read(m: &Matcher, line: &str, read_at: DateTime<Utc>) -> (Shape, Parsed) {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return (Shape::Text, Parsed::Skip(Skip::Blank));
    }
    match &m.patterns {
        None => structured(m, line, read_at),
        Some(p) => (Shape::Regex, parse_text_line(m, p, line, read_at)),
    }
}

/// Without patterns: a JSON object (a Cloud Logging entry, a record), logfmt, or text —
/// each line by its own shape.
fn structured(m: &Matcher, line: &str, read_at: DateTime<Utc>) -> (Shape, Parsed) {
    if let Some((start, obj)) = find_object(line) {
        // A shipper prefix (`2026-… stdout F {…}`) may carry the only timestamp there is.
        let fallback_ts = m.leading_ts(&line[..start], read_at).unwrap_or(read_at);
        return object(m, &obj, fallback_ts);
    }
    if line.trim_start().starts_with('{') {
        return (Shape::Json, Parsed::Skip(Skip::NotJson));
    }
    let fallback_ts = m.leading_ts(line, read_at).unwrap_or(read_at);
    if let Some(obj) = logfmt::record(line) {
        let parsed = record(m, &obj, fallback_ts, None);
        // Text with a few `key=value` words in it (systemd's `code=exited, status=3/…`) and no
        // message of its own is read as the text it is.
        let incidental = !["msg", "message"].iter().any(|k| obj.contains_key(*k));
        if !(incidental && parsed == Parsed::Skip(Skip::NotStartup)) {
            return (Shape::Logfmt, parsed);
        }
    }
    (Shape::Text, text::parse(m, line, read_at, None))
}

// ---------------------------------------------------------------------------------------------
// JSON

/// A JSON object: a Cloud Logging entry (its payload read with the entry's time and severity)
/// or a record of its own.
fn object(m: &Matcher, obj: &Map<String, Value>, fallback_ts: DateTime<Utc>) -> (Shape, Parsed) {
    let json_payload = obj.get("jsonPayload").and_then(Value::as_object);
    let text_payload = obj.get("textPayload").and_then(Value::as_str);
    if json_payload.is_none() && text_payload.is_none() {
        return (Shape::Json, record(m, obj, fallback_ts, None));
    }
    let ts = match json_ts(m, obj) {
        Some(Ok(t)) => t,
        Some(Err(())) => return (Shape::CloudLogging, Parsed::Skip(Skip::BadTimestamp)),
        None => fallback_ts,
    };
    let severity = obj.get("severity").and_then(Value::as_str);
    let parsed = match (json_payload, text_payload) {
        (Some(p), _) => record(m, p, ts, severity),
        (None, Some(t)) => text::parse(m, t, ts, severity),
        (None, None) => Parsed::Skip(Skip::NotStartup),
    };
    (Shape::CloudLogging, parsed)
}

/// A structured record: an exit, the phase keys, or else its message read as text.
fn record(
    m: &Matcher,
    obj: &Map<String, Value>,
    fallback_ts: DateTime<Utc>,
    fallback_level: Option<&str>,
) -> Parsed {
    let ts = match json_ts(m, obj) {
        Some(Ok(t)) => t,
        Some(Err(())) => return Parsed::Skip(Skip::BadTimestamp),
        None => fallback_ts,
    };
    if is_exit(obj) {
        return match json_exit_code(obj) {
            Some(code) => Parsed::Exit(StartupExit {
                source: StartupSource::Log,
                code,
                ts,
            }),
            None => Parsed::Skip(Skip::BadExitCode),
        };
    }
    match json_phase(m, obj, ts) {
        Parsed::Skip(Skip::NotStartup) => message_as_text(m, obj, ts, fallback_level),
        p => p,
    }
}

/// A record without phase keys (Python's JSON logging, a structured logger) whose message
/// says it: "Phase 3/7 database: started".
fn message_as_text(
    m: &Matcher,
    obj: &Map<String, Value>,
    ts: DateTime<Utc>,
    fallback_level: Option<&str>,
) -> Parsed {
    let Some(msg) = ["message", "msg"]
        .iter()
        .find_map(|k| obj.get(*k)?.as_str())
    else {
        return Parsed::Skip(Skip::NotStartup);
    };
    let level = ["level", "levelname", "severity"]
        .iter()
        .find_map(|k| obj.get(*k)?.as_str())
        .or(fallback_level);
    text::parse(m, msg, ts, level)
}

fn json_phase(m: &Matcher, obj: &Map<String, Value>, ts: DateTime<Utc>) -> Parsed {
    const PHASE_KEYS: [&str; 4] = ["phase", "phase_number", "phase_name", "smd_phase"];
    let given: Vec<&Value> = PHASE_KEYS
        .iter()
        .filter_map(|k| obj.get(*k))
        .filter(|v| !v.is_null())
        .collect();
    if given.is_empty() {
        return Parsed::Skip(Skip::NotStartup);
    }
    let Some(phase) = given.iter().find_map(|v| m.phase_of_value(v)) else {
        return Parsed::Skip(Skip::UnknownPhase);
    };
    let status = ["status", "state", "event"]
        .iter()
        .filter_map(|k| obj.get(*k)?.as_str())
        .find_map(status_of);
    let Some(status) = status else {
        return Parsed::Skip(Skip::NoStatus);
    };
    let message = ["message", "msg", "error", "reason", "detail"]
        .iter()
        .find_map(|k| obj.get(*k)?.as_str());
    m.phase_event(phase, status, ts, message)
}

/// The first JSON object on the line, tried from each of the first few `{`.
fn find_object(line: &str) -> Option<(usize, Map<String, Value>)> {
    line.match_indices('{')
        .take(JSON_START_TRIES)
        .find_map(|(i, _)| {
            // Only the first value counts: trailing text (a `\r`, a shipper suffix) is ignored.
            let mut values =
                serde_json::Deserializer::from_str(&line[i..]).into_iter::<Map<String, Value>>();
            match values.next() {
                Some(Ok(obj)) => Some((i, obj)),
                _ => None,
            }
        })
}

/// `None` when no timestamp field is there, `Some(Err)` when one is there but unreadable.
fn json_ts(m: &Matcher, obj: &Map<String, Value>) -> Option<Result<DateTime<Utc>, ()>> {
    let v = ["timestamp", "ts", "time", "@timestamp", "asctime"]
        .iter()
        .find_map(|k| obj.get(*k).filter(|v| !v.is_null()))?;
    let t = match v {
        Value::String(s) => m.parse_ts(s),
        Value::Number(n) => n.as_f64().and_then(epoch_ts),
        _ => None,
    };
    Some(t.ok_or(()))
}

fn is_exit(obj: &Map<String, Value>) -> bool {
    obj.get("event")
        .and_then(Value::as_str)
        .is_some_and(|e| matches!(normalise(e).as_str(), "exit" | "exited" | "process_exit"))
}

fn json_exit_code(obj: &Map<String, Value>) -> Option<i32> {
    let v = ["code", "exit_code", "exitCode"]
        .iter()
        .find_map(|k| obj.get(*k))?;
    match v {
        Value::Number(n) => i32::try_from(n.as_i64()?).ok(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Text (regex format)

fn parse_text_line(m: &Matcher, p: &Patterns, line: &str, read_at: DateTime<Utc>) -> Parsed {
    // Phase patterns before the exit pattern: "phase 3 failed … exiting" is about phase 3.
    let phase_patterns = [
        (&p.failed, PhaseStatus::Failed),
        (&p.completed, PhaseStatus::Completed),
        (&p.started, PhaseStatus::Started),
    ];
    for (re, status) in phase_patterns {
        if let Some(c) = re.captures(line) {
            return text_phase(m, &c, status, line, read_at);
        }
    }
    if let Some(c) = p.exit.captures(line) {
        let ts = match text_ts(m, &c, line, read_at) {
            Ok(t) => t,
            Err(skip) => return Parsed::Skip(skip),
        };
        return match c.name("code").and_then(|g| g.as_str().trim().parse().ok()) {
            Some(code) => Parsed::Exit(StartupExit {
                source: StartupSource::Log,
                code,
                ts,
            }),
            None => Parsed::Skip(Skip::BadExitCode),
        };
    }
    Parsed::Skip(Skip::NotStartup)
}

fn text_phase(
    m: &Matcher,
    c: &regex::Captures<'_>,
    status: PhaseStatus,
    line: &str,
    read_at: DateTime<Utc>,
) -> Parsed {
    let Some(phase) = c.name("phase").and_then(|g| m.phase_of_str(g.as_str())) else {
        return Parsed::Skip(Skip::UnknownPhase);
    };
    let ts = match text_ts(m, c, line, read_at) {
        Ok(t) => t,
        Err(skip) => return Parsed::Skip(skip),
    };
    let message = c.name("message").map(|g| g.as_str());
    m.phase_event(phase, status, ts, message)
}

/// The `ts` group when it matched; otherwise a timestamp leading the line; otherwise `read_at`.
fn text_ts(
    m: &Matcher,
    c: &regex::Captures<'_>,
    line: &str,
    read_at: DateTime<Utc>,
) -> Result<DateTime<Utc>, Skip> {
    match c.name("ts") {
        Some(g) => m.parse_ts(g.as_str()).ok_or(Skip::BadTimestamp),
        None => Ok(m.leading_ts(line, read_at).unwrap_or(read_at)),
    }
}

// ---------------------------------------------------------------------------------------------
// Pieces shared by both formats

impl Matcher {
    /// A timestamp as services print them: RFC 3339 (`T`, `t` or a space between date and
    /// time); an offset without a colon or after a space (gunicorn's `2026-11-30 04:12:47
    /// +0000`); a zone-less `YYYY-MM-DD[T ]HH:MM:SS[.fff]` (Python logging's `,fff` too) in
    /// `startup.timezone`; Go's and nginx's `2026/11/30 04:12:47`.
    pub(crate) fn parse_ts(&self, s: &str) -> Option<DateTime<Utc>> {
        let s = s
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim();
        // Anything longer is not a timestamp; the bound also keeps chrono's work trivial.
        if s.len() < 10 || s.len() > 40 {
            return None;
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(t.with_timezone(&Utc));
        }
        let mut s = s.replacen(',', ".", 1);
        if s.as_bytes().get(4) == Some(&b'/') && s.as_bytes().get(7) == Some(&b'/') {
            s.replace_range(4..5, "-");
            s.replace_range(7..8, "-");
        }
        let with_offset = [
            "%Y-%m-%dT%H:%M:%S%.f%z",
            "%Y-%m-%d %H:%M:%S%.f%z",
            "%Y-%m-%d %H:%M:%S%.f %z",
            "%Y-%m-%dT%H:%M:%S%.f %z",
        ];
        if let Some(t) = with_offset
            .iter()
            .find_map(|f| DateTime::parse_from_str(&s, f).ok())
        {
            return Some(t.with_timezone(&Utc));
        }
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(&s, f).ok())
            .and_then(|n| self.zone.resolve(n))
    }

    /// A timestamp at the very start of `text`: `[…]` (Ruby's Logger: `I, [… #pid]`), one
    /// token, date and time as two tokens, or three with an offset (`… 04:12:47 +0000`).
    /// `near`: a moment close to the line's (when it was read, or the log's newest date), for
    /// a date written without its year.
    pub(crate) fn leading_ts(&self, text: &str, near: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.ts_at_start(text, near)
            .or_else(|| self.ts_at_start(after_shipper_prefix(text)?, near))
    }

    fn ts_at_start(&self, text: &str, near: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let text = text.trim_start();
        let bracketed = text.strip_prefix('[').or_else(|| ruby_logger(text));
        if let Some(rest) = bracketed {
            let inside = rest.split(']').next()?;
            return self.parse_ts(inside.split(" #").next()?);
        }
        let words: Vec<&str> = text.split_whitespace().take(3).collect();
        let offset = words
            .get(2)
            .filter(|w| w.starts_with(['+', '-']))
            .and_then(|_| self.parse_ts(&words.join(" ")));
        offset
            .or_else(|| self.parse_ts(words.first()?))
            .or_else(|| self.parse_ts(&words.get(..2)?.join(" ")))
            .or_else(|| self.syslog_ts(&words, near))
    }

    /// journald's and syslog's `Nov 30 04:12:47` (`Nov  3` too), which has no year: the year
    /// that puts it nearest `near` (so December's lines read in January are last year's).
    fn syslog_ts(&self, words: &[&str], near: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let [month, day, time] = words else {
            return None;
        };
        let month = MONTHS
            .iter()
            .position(|m| m.eq_ignore_ascii_case(month))
            .and_then(|i| u32::try_from(i + 1).ok())?;
        let day: u32 = day.parse().ok()?;
        let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f").ok()?;
        let year = near.year();
        [year - 1, year, year + 1]
            .into_iter()
            .filter_map(|y| NaiveDate::from_ymd_opt(y, month, day))
            .filter_map(|d| self.zone.resolve(d.and_time(time)))
            .min_by_key(|t| (*t - near).num_seconds().abs())
    }
}

/// What follows the prefix a log shipper puts before the service's own line: `docker compose
/// logs`' `backend-1  | `, `kubectl logs --prefix`'s `[pod/backend-7d9f/backend] `.
fn after_shipper_prefix(text: &str) -> Option<&str> {
    let text = text.trim_start();
    if let Some(inner) = text.strip_prefix("[pod/") {
        return inner.split_once("] ").map(|(_, rest)| rest);
    }
    let (name, rest) = text.split_once(" | ")?;
    let name = name.trim_end();
    let one_word = !name.is_empty() && name.len() <= 64 && !name.contains(char::is_whitespace);
    one_word.then_some(rest)
}

/// Ruby's Logger prefix `I, [`: what follows the bracket.
fn ruby_logger(text: &str) -> Option<&str> {
    let rest = text.get(3..)?;
    let b = text.as_bytes();
    (b[0].is_ascii_uppercase() && b[1] == b',' && b[2] == b' ')
        .then(|| rest.strip_prefix('['))
        .flatten()
}

/// Unix time as a JSON number: seconds, or milliseconds when too large to be seconds.
fn epoch_ts(v: f64) -> Option<DateTime<Utc>> {
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    // 1e11 s is the year 5138: any larger number is milliseconds.
    let micros = if v < 1e11 { v * 1e6 } else { v * 1e3 };
    // `as` saturates on overflow; from_timestamp_micros then rejects it.
    DateTime::from_timestamp_micros(micros as i64)
}

/// Lower-case, trimmed, `-` and spaces as `_`: `In-Progress` and `in progress` read alike.
fn normalise(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect::<String>()
        .to_lowercase()
}

/// A status word and its accepted synonyms (case-insensitive, optional `phase_` prefix).
pub(crate) fn status_of(word: &str) -> Option<PhaseStatus> {
    let w = normalise(word);
    let w = w.strip_prefix("phase_").unwrap_or(&w);
    match w {
        "started" | "start" | "starting" | "begin" | "began" | "running" | "in_progress" => {
            Some(PhaseStatus::Started)
        }
        "completed" | "complete" | "done" | "ok" | "success" | "succeeded" | "finished"
        | "finish" | "passed" | "pass" | "end" | "ended" => Some(PhaseStatus::Completed),
        "failed" | "fail" | "failure" | "error" | "errored" | "timeout" | "timed_out"
        | "aborted" => Some(PhaseStatus::Failed),
        _ => None,
    }
}

/// Alphanumeric runs, split again where letters meet digits, lower-cased:
/// `Phase3: DB-Init` → `phase 3 db init`.
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_digit = false;
    for c in s.chars() {
        if !c.is_alphanumeric() {
            push_token(&mut out, &mut cur);
            continue;
        }
        let digit = c.is_ascii_digit();
        if !cur.is_empty() && digit != cur_digit {
            push_token(&mut out, &mut cur);
        }
        cur_digit = digit;
        cur.extend(c.to_lowercase());
    }
    push_token(&mut out, &mut cur);
    out
}

fn push_token(out: &mut Vec<String>, cur: &mut String) {
    if !cur.is_empty() {
        out.push(std::mem::take(cur));
    }
}

/// The phase number in a label: the first token when it is a number (`3_database`), or a
/// number right after `phase`/`step`/`smd` (`phase_3_database`). A digit elsewhere
/// (`v2_database`) is part of a name, not a phase number.
fn phase_number(toks: &[String]) -> Option<u64> {
    let numeric = |t: &String| t.bytes().all(|b| b.is_ascii_digit());
    let as_num = |t: &String| t.parse::<u64>().ok().or(Some(u64::MAX));
    if let Some(first) = toks.first().filter(|t| numeric(t)) {
        return as_num(first);
    }
    toks.windows(2)
        .find(|w| matches!(w[0].as_str(), "phase" | "step" | "smd") && numeric(&w[1]))
        .and_then(|w| as_num(&w[1]))
}

/// A message fit for an event: trimmed, secrets scrubbed, at most `MAX_MESSAGE_CHARS`.
fn clean_message(m: &str) -> Option<String> {
    let m = m.trim();
    if m.is_empty() {
        return None;
    }
    Some(crate::secret::excerpt(m, MAX_MESSAGE_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Startup;

    fn json() -> Matcher {
        Matcher::new(&Startup::default()).expect("default config builds")
    }

    fn regex() -> Matcher {
        let cfg = Startup {
            format: LogFormat::Regex,
            ..Startup::default()
        };
        Matcher::new(&cfg).expect("default patterns build")
    }

    fn at() -> DateTime<Utc> {
        "2026-11-25T12:00:00Z".parse().expect("valid time")
    }

    fn phase(p: Parsed) -> StartupPhase {
        match p {
            Parsed::Phase(p) => p,
            other => panic!("expected a phase, got {other:?}"),
        }
    }

    #[test]
    fn phase_labels_resolve_by_number_then_name() {
        let m = json();
        for (label, want) in [
            ("3", Some(3)),
            ("database", Some(3)),
            ("DATABASE", Some(3)),
            ("phase_3_database", Some(3)),
            ("Phase 3: Database", Some(3)),
            ("phase3", Some(3)),
            ("3_database", Some(3)),
            ("database_initialization", Some(3)),
            ("phase_1_init", Some(1)),
            ("smd_phase_7", Some(7)),
            ("v2_database", Some(3)),
            ("phase_9_database", None),
            ("0", None),
            ("8", None),
            ("nothing", None),
            ("", None),
            ("phase_99999999999999999999999_x", None),
        ] {
            assert_eq!(m.phase_of_str(label), want, "label {label:?}");
        }
    }

    /// Timestamps as real services print them at the start of a line, and what they mean.
    #[test]
    fn leading_timestamps_as_services_print_them() {
        let m = json();
        let utc = "2026-11-30T04:12:47Z";
        for (line, want) in [
            ("[2026-11-30 04:12:47 +0000] [7] [INFO] Booting worker", utc),
            ("[2026-11-30 09:42:47 +0530] [7] [INFO] x", utc),
            ("2026-11-30 04:12:47 +0000 [7] x", utc),
            ("2026-11-30T04:12:47+0000 host app[1]: x", utc),
            ("2026-11-30T06:12:47+02:00 x", utc),
            ("2026/11/30 04:12:47 [error] 7#7: x", utc),
            ("2026/11/30 04:12:47 Phase 3/7 database: started", utc),
            ("I, [2026-11-30T04:12:47.000000 #1]  INFO -- : x", utc),
            ("2026-11-30 04:12:47,000 - app - INFO - x", utc),
            ("2026-11-30 04:12:47.000  INFO 1 --- [main] x", utc),
            ("2026-11-30T04:12:47.000000000Z stdout F x", utc),
            ("backend-1  | 2026-11-30 04:12:47,000 INFO x", utc),
            ("[pod/backend-7d9f/backend] 2026-11-30T04:12:47Z x", utc),
            ("Nov 30 04:12:47 vm-1 backend[5121]: x", utc),
            ("nov 30 04:12:47 vm-1 x", utc),
        ] {
            let t = m
                .leading_ts(line, at())
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            assert_eq!(t.as_deref(), Some(want), "{line}");
        }
        for line in [
            "INFO: x",
            "I, x",
            "[7] x",
            "Nov 31 04:12:47 host x",
            "Now 30 04:12:47 host x",
            "2026-11-30",
            "",
            "a b | 2026-11-30 04:12:47 x",
            "[pod/x] y",
        ] {
            assert_eq!(m.leading_ts(line, at()), None, "{line}");
        }
    }

    /// A syslog date has no year: the one nearest the moment given — across New Year too.
    #[test]
    fn a_date_without_its_year_takes_the_nearest_year() {
        let m = json();
        let near = |t: &str| t.parse::<DateTime<Utc>>().expect("valid time");
        let read = |line: &str, at: &str| m.leading_ts(line, near(at)).map(|t| t.to_rfc3339());
        let dec = "Dec 31 23:59:59 vm-1 x";
        let jan = "Jan  1 00:00:01 vm-1 x";
        assert_eq!(
            read(dec, "2027-01-01T00:10:00Z").as_deref(),
            Some("2026-12-31T23:59:59+00:00")
        );
        assert_eq!(
            read(jan, "2026-12-31T23:50:00Z").as_deref(),
            Some("2027-01-01T00:00:01+00:00")
        );
        assert_eq!(
            read("Feb 29 10:00:00 x", "2028-03-01T00:00:00Z").as_deref(),
            Some("2028-02-29T10:00:00+00:00")
        );
    }

    #[test]
    fn status_synonyms() {
        assert_eq!(status_of("Start"), Some(PhaseStatus::Started));
        assert_eq!(status_of("phase-started"), Some(PhaseStatus::Started));
        assert_eq!(status_of("DONE"), Some(PhaseStatus::Completed));
        assert_eq!(status_of("complete"), Some(PhaseStatus::Completed));
        assert_eq!(status_of("error"), Some(PhaseStatus::Failed));
        assert_eq!(status_of("fail"), Some(PhaseStatus::Failed));
        assert_eq!(status_of("pending"), None);
    }

    #[test]
    fn a_json_phase_line_with_a_shipper_prefix() {
        let line = r#"2026-11-25T10:00:05.123456789Z stdout F {"timestamp":"2026-11-25T10:00:02.1Z","phase":"phase_3_database","status":"FAILED","message":" database initialization timeout after 75.0s "}"#;
        let p = phase(parse_line(&json(), line, at()));
        assert_eq!(p.phase, 3);
        assert_eq!(p.name, "database");
        assert_eq!(p.status, PhaseStatus::Failed);
        assert_eq!(
            p.ts,
            "2026-11-25T10:00:02.1Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            p.message.as_deref(),
            Some("database initialization timeout after 75.0s")
        );
    }

    #[test]
    fn json_without_a_timestamp_takes_the_prefix_then_the_read_time() {
        let m = json();
        let p = phase(parse_line(
            &m,
            r#"2026-11-25 10:00:07 {"phase":2,"status":"start"}"#,
            at(),
        ));
        assert_eq!(
            p.ts,
            "2026-11-25T10:00:07Z".parse::<DateTime<Utc>>().unwrap()
        );
        let p = phase(parse_line(&m, r#"{"phase":"2","status":"start"}"#, at()));
        assert_eq!(p.ts, at());
        let p = phase(parse_line(&m, r#"{"phase":2.0,"status":"start"}"#, at()));
        assert_eq!(p.phase, 2);
    }

    #[test]
    fn json_exit_and_skips() {
        let m = json();
        let exit = parse_line(
            &m,
            r#"{"timestamp":1795600877.2,"event":"exit","code":3}"#,
            at(),
        );
        match exit {
            Parsed::Exit(x) => {
                assert_eq!(x.code, 3);
                assert_eq!(x.ts.timestamp_millis(), 1_795_600_877_200);
            }
            other => panic!("expected exit, got {other:?}"),
        }
        for (line, why) in [
            ("", Skip::Blank),
            ("   \r", Skip::Blank),
            ("plain text", Skip::NotStartup),
            ("{not json", Skip::NotJson),
            (r#"{"level":"info","msg":"hello"}"#, Skip::NotStartup),
            (r#"{"phase":9,"status":"started"}"#, Skip::UnknownPhase),
            (r#"{"phase":2.5,"status":"started"}"#, Skip::UnknownPhase),
            (r#"{"phase":-1,"status":"started"}"#, Skip::UnknownPhase),
            (r#"{"phase":"db","status":"started"}"#, Skip::UnknownPhase),
            (r#"{"phase":3}"#, Skip::NoStatus),
            (r#"{"phase":3,"status":"maybe"}"#, Skip::NoStatus),
            (
                r#"{"timestamp":"yesterday","phase":3,"status":"started"}"#,
                Skip::BadTimestamp,
            ),
            (r#"{"event":"exit"}"#, Skip::BadExitCode),
            (r#"{"event":"exit","code":99999999999}"#, Skip::BadExitCode),
        ] {
            assert_eq!(
                parse_line(&m, line, at()),
                Parsed::Skip(why),
                "line {line:?}"
            );
        }
    }

    #[test]
    fn regex_format_with_a_leading_timestamp() {
        let m = regex();
        let p = phase(parse_line(
            &m,
            "2026-11-25 10:01:17,100 ERROR Phase 3 failed: database initialization timeout after 75.0s",
            at(),
        ));
        assert_eq!(p.phase, 3);
        assert_eq!(p.status, PhaseStatus::Failed);
        assert_eq!(
            p.ts,
            "2026-11-25T10:01:17.1Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            p.message.as_deref(),
            Some("database initialization timeout after 75.0s")
        );
        let p = phase(parse_line(&m, "phase database started", at()));
        assert_eq!((p.phase, p.status, p.ts), (3, PhaseStatus::Started, at()));
        assert!(matches!(
            parse_line(
                &m,
                "[2026-11-25T10:01:17Z] process exited with code 3",
                at()
            ),
            Parsed::Exit(StartupExit { code: 3, .. })
        ));
        assert_eq!(
            parse_line(&m, "connecting to 10.0.0.3", at()),
            Parsed::Skip(Skip::NotStartup)
        );
    }

    #[test]
    fn patterns_missing_their_group_are_refused_by_key() {
        let mut cfg = Startup {
            format: LogFormat::Regex,
            ..Startup::default()
        };
        cfg.patterns.exit = r"exit (\d+)".into();
        let e = Matcher::new(&cfg).expect_err("exit needs a code group");
        assert_eq!(e.key, "startup.patterns.exit");
        assert!(e.to_string().contains("(?P<code>"), "{e}");
        cfg.patterns.exit = Startup::default().patterns.exit;
        cfg.patterns.started = "(unclosed".into();
        let e = Matcher::new(&cfg).expect_err("bad regex");
        assert_eq!(e.key, "startup.patterns.started");
        assert!(e.message.starts_with("invalid regular expression"), "{e}");
    }

    #[test]
    fn json_format_ignores_the_patterns() {
        let mut cfg = Startup::default();
        cfg.patterns.exit = "no group here".into();
        assert!(Matcher::new(&cfg).is_ok());
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let msg = "é".repeat(MAX_MESSAGE_CHARS + 10);
        let line = format!(r#"{{"phase":1,"status":"failed","message":"{msg}"}}"#);
        let p = phase(parse_line(&json(), &line, at()));
        assert_eq!(
            p.message.map(|m| m.chars().count()),
            Some(MAX_MESSAGE_CHARS)
        );
    }
}
