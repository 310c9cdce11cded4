//! The startup-log probe: reads the service's own startup log (a file, standard input, or a
//! command's output), turns each line into a `StartupPhase` or `StartupExit` event, and
//! reports how much was read in `StartupLog` events. Judging (verdicts, budgets, restarts) is
//! the state's job; this probe only reports what the log says, with the log's own timestamps.
//!
//! # Log formats
//!
//! ## `format = "json"` (the default)
//!
//! One JSON object per line. Text before the first `{` is ignored (a log shipper's prefix such
//! as `2026-11-25T10:00:00.1Z stdout F {…}`); so is anything after the object, and any field
//! not listed here.
//!
//! A **phase line**:
//!
//! ```json
//! {"timestamp":"2026-11-25T10:00:02.1Z","phase":3,"status":"failed","message":"database initialization timeout after 75.0s"}
//! ```
//!
//! - `phase` (also `phase_number`, `phase_name`, `smd_phase`; the first one that resolves
//!   wins): a number 1–N of the configured phases (a whole JSON number or a numeric string),
//!   or a label.
//!   A label is read by number first: its first word when that is a number (`3_database`), or
//!   the number right after `phase`, `step` or `smd` (`phase_3_database`, `Phase 3: Database`,
//!   `phase3`, `smd_phase_3`). Without such a number, a configured phase name found as a whole
//!   word in it, case-insensitively (`database`, `DATABASE`, `database_initialization`); when
//!   several names occur the earliest wins. A number outside 1–N is an unknown phase even if a
//!   name also appears.
//! - `status` (or `state`, or `event`), case-insensitive, `-`/space same as `_`, an optional
//!   `phase_` prefix allowed:
//!   - started: `started start starting begin began running in_progress`
//!   - completed: `completed complete done ok success succeeded finished finish passed pass end ended`
//!   - failed: `failed fail failure error errored timeout timed_out aborted`
//! - `timestamp` (or `ts`, `time`, `@timestamp`): RFC 3339 (`T` or a space between date and
//!   time), a zone-less `YYYY-MM-DD HH:MM:SS[.fff]` or Python's `,fff` (in `startup.timezone`, UTC by default), or a
//!   Unix time as a number (seconds; milliseconds when larger than 1e11). Without a timestamp
//!   field, a timestamp at the start of the line's prefix is used, else the time the line was
//!   read — right for a log followed live, wrong for an old file, so give timestamps.
//! - `message` (or `msg`, `error`, `reason`, `detail`): optional text, trimmed, cut at 1024
//!   characters, secrets scrubbed.
//!
//! An **exit line**: `{"timestamp":…,"event":"exit","code":3}` — `event` is `exit`, `exited` or
//! `process_exit`; the code is `code`, `exit_code` or `exitCode` (number or numeric string,
//! 32-bit).
//!
//! ## `format = "regex"`
//!
//! Each line is tried against `startup.patterns.failed`, then `completed`, then `started`, then
//! `exit`; the first that matches decides (one event per line). Named groups:
//! - `phase` (required in the three phase patterns): read like a JSON `phase` label above;
//! - `code` (required in `exit`): the exit code;
//! - `ts` (optional): the timestamp, in the forms above. When the pattern has no `ts` group or
//!   it did not take part in the match, a timestamp at the start of the line (`2026-11-25T…`,
//!   `2026-11-25 10:00:00,123`, or `[…]`) is used, else the time the line was read;
//! - `message` (optional): the phase's message.
//!
//! The defaults match lines such as `Phase 3 started`, `phase database complete`,
//! `Phase 3 failed: database initialization timeout after 75.0s`, `exited with code 3`.
//!
//! ## Every format
//!
//! Lines are decoded lossily (invalid UTF-8 becomes U+FFFD), a `\r` before the `\n` is dropped,
//! and a line longer than 64 KiB is cut there (the rest is dropped). A line that gives no event
//! — blank, not JSON, an ordinary log line, an unknown phase, no status, an unreadable
//! timestamp or exit code — is counted as skipped, never fatal. A last line without `\n` counts
//! once the log has ended. One line gives at most one event.

pub(crate) mod parse;
pub mod source;

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use tokio::io::AsyncRead;
use tokio::time::{Instant, MissedTickBehavior};

use crate::units::duration as fmt_d;

use super::{Ctx, Mode};
use crate::config::Settings;
use crate::event::{EventBody, NoteLevel, StartupLog};

pub use parse::{Matcher, MatcherError, Parsed, Shape, Skip, SourceParser, parse_line};
use source::{CommandLines, FileTail, Next, Source, StreamLines};

const PROBE: &str = "startup";

/// Where the log is read from.
pub enum Input {
    /// A file: read to its end in `Mode::Once`, followed like `tail -F` in `Mode::Live`.
    File(PathBuf),
    /// Standard input (`-` as the log path), until it closes. Read on a thread of its own,
    /// so a blocked read never holds up the runtime's shutdown.
    Stdin,
    /// A shell command (`sh -c`), its standard output until it exits.
    Command(String),
    /// Any byte stream, until it closes (the lab's stand-in, tests). `name` describes it.
    Reader {
        name: String,
        reader: Box<dyn AsyncRead + Send + Unpin>,
    },
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Input {
    /// What is read, fit to show: the path, `stdin`, or `$ command` with secrets removed.
    pub fn describe(&self) -> String {
        let d = match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "stdin".to_string(),
            Input::Command(c) => format!("$ {}", redact_command(c)),
            Input::Reader { name, .. } => name.clone(),
        };
        crate::secret::scrub(&d).into_owned()
    }
}

/// Everything the probe needs.
#[derive(Debug)]
pub struct StartupParams {
    pub matcher: Matcher,
    pub input: Input,
    pub pacing: Pacing,
}

/// Intervals and limits of the read loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// How often a followed file is checked for new lines, rotation and truncation.
    pub poll: Duration,
    /// In `Mode::Once`, how long to wait for the log to end (a command that never exits,
    /// standard input left open) before reporting what was read.
    pub once_limit: Duration,
    /// A `StartupLog` is sent after this many new lines …
    pub stats_lines: u64,
    /// … or at this interval when something changed.
    pub stats_every: Duration,
    /// How long a command that closed its output gets to exit before it is killed.
    pub exit_grace: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(250),
            once_limit: Duration::from_secs(60),
            stats_lines: 100,
            stats_every: Duration::from_secs(1),
            exit_grace: Duration::from_secs(5),
        }
    }
}

impl StartupParams {
    pub fn new(matcher: Matcher, input: Input) -> Self {
        Self {
            matcher,
            input,
            pacing: Pacing::default(),
        }
    }

    /// From the configuration; `log_override` (a `--startup-log` flag: a path or `-`) wins
    /// over `startup.log` and `startup.command`. `Ok(None)` when no log is configured.
    pub fn from_settings(
        s: &Settings,
        log_override: Option<String>,
    ) -> Result<Option<Self>, MatcherError> {
        let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        let input = match (
            given(log_override).or_else(|| given(s.startup.log.clone())),
            given(s.startup.command.clone()),
        ) {
            (Some(l), _) if l.trim() == "-" => Input::Stdin,
            (Some(l), _) => Input::File(PathBuf::from(l)),
            (None, Some(c)) => Input::Command(c),
            (None, None) => return Ok(None),
        };
        let mut p = Self::new(Matcher::new(&s.startup)?, input);
        p.pacing.once_limit = once_limit(s.startup.total_budget);
        Ok(Some(p))
    }
}

/// `check` waits for a command's or standard input's log to end for as long as a whole startup
/// may take (its budget) and a tenth more, so a startup that ends in time — passing or failing
/// at its last phase — is read to its end, and one that hangs is reported at its budget.
fn once_limit(total_budget: Duration) -> Duration {
    total_budget.mul_f64(1.1)
}

/// How many unmatched lines the "nothing matched" warning quotes, and how much of each.
const UNMATCHED_QUOTED: usize = 3;
const UNMATCHED_CHARS: usize = 80;

/// Counts behind the `StartupLog` events.
struct Tally {
    desc: String,
    lines: u64,
    skipped: u64,
    events: u64,
    /// (lines, skipped) last sent, to send only changes.
    sent: Option<(u64, u64)>,
    /// The first few lines that said something but matched nothing: number, why, excerpt.
    unmatched: Vec<(u64, Skip, String)>,
    format: Option<Shape>,
    warned_no_events: bool,
    noted_overlong: bool,
}

impl Tally {
    fn new(desc: String) -> Self {
        Self {
            desc,
            lines: 0,
            skipped: 0,
            events: 0,
            sent: None,
            unmatched: Vec::new(),
            format: None,
            warned_no_events: false,
            noted_overlong: false,
        }
    }

    fn report(&self, ended: bool) -> EventBody {
        EventBody::StartupLog(StartupLog {
            source: self.desc.clone(),
            lines: self.lines,
            skipped: self.skipped,
            ended,
            format: self.format.map(|f| f.as_str().to_string()),
        })
    }

    fn unmatched(&mut self, why: Skip, text: &str) {
        if self.unmatched.len() < UNMATCHED_QUOTED {
            let excerpt: String = text.trim().chars().take(UNMATCHED_CHARS).collect();
            self.unmatched.push((self.lines, why, excerpt));
        }
    }

    fn changed(&self) -> bool {
        self.sent != Some((self.lines, self.skipped))
    }

    async fn send(&mut self, ctx: &Ctx, ended: bool) -> bool {
        self.sent = Some((self.lines, self.skipped));
        ctx.send(self.report(ended)).await
    }

    /// A log none of whose lines gave an event is almost always the wrong format or patterns;
    /// say so once, with the first reason, instead of showing an empty startup panel.
    async fn warn_if_nothing_matched(&mut self, ctx: &Ctx, at_end: bool) -> bool {
        let enough = at_end || self.lines >= crate::state::startup::UNMATCHED_WARN_LINES;
        if self.warned_no_events || self.events > 0 || self.lines == 0 || !enough {
            return true;
        }
        self.warned_no_events = true;
        let quoted: Vec<String> = self
            .unmatched
            .iter()
            .map(|(n, why, text)| format!("line {n} ({}): `{text}`", why.as_str()))
            .collect();
        let first = if quoted.is_empty() {
            String::new()
        } else {
            format!(" — {}", quoted.join("; "))
        };
        let msg = format!(
            "none of the {} lines read from {} is a startup phase or exit line{first}. Read \
             without configuration: JSON lines, Cloud Logging entries, logfmt, and text such as \
             `Phase 3/7 database: started` or `[3/7] database: failed`; for another shape set \
             startup.format = \"regex\" and startup.patterns",
            self.lines, self.desc
        );
        ctx.note(PROBE, NoteLevel::Warn, msg).await
    }
}

/// Why the read loop stopped.
enum Stop {
    /// The source ended; `complete` as in `Next::End`.
    Ended { complete: bool },
    /// `Mode::Once` waited `once_limit` without the log ending.
    Limit,
    /// Cancelled, or nobody listens any more.
    Gone,
}

/// Runs the probe until the log ends (`Mode::Once`: also at most `once_limit`), or until
/// cancelled. Sends a `StartupLog` with `ended` at the end unless cancelled.
pub async fn run(ctx: Ctx, mode: Mode, p: StartupParams) {
    let desc = p.input.describe();
    let mut tally = Tally::new(desc.clone());
    let StartupParams {
        matcher,
        input,
        pacing,
    } = p;
    let mut parser = SourceParser::new(matcher);
    let mut src = match open_source(input, mode, pacing, &desc) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("cannot start the startup log command ({desc}): {e}");
            if ctx.note(PROBE, NoteLevel::Error, msg).await {
                tally.send(&ctx, false).await;
            }
            return;
        }
    };
    let stop = read_loop(&ctx, mode, &mut parser, pacing, &mut src, &mut tally).await;
    src.shutdown().await;
    finish(&ctx, pacing, stop, &mut tally).await;
}

fn open_source(input: Input, mode: Mode, p: Pacing, desc: &str) -> std::io::Result<Source> {
    Ok(match input {
        Input::File(path) => Source::File(FileTail::new(path, mode == Mode::Live, p.poll)),
        Input::Stdin => Source::Stream(StreamLines::new(
            "stdin",
            source::blocking_reader("stdin", std::io::stdin()),
        )),
        Input::Command(c) => {
            Source::Command(CommandLines::spawn(&c, desc.to_string(), p.exit_grace)?)
        }
        Input::Reader { name, reader } => Source::Stream(StreamLines::new(name, reader)),
    })
}

async fn read_loop(
    ctx: &Ctx,
    mode: Mode,
    parser: &mut SourceParser,
    p: Pacing,
    src: &mut Source,
    tally: &mut Tally,
) -> Stop {
    // Only `check` has a limit; in watch mode that branch of the `select!` never fires.
    let limit = async {
        match mode {
            Mode::Once => tokio::time::sleep(p.once_limit).await,
            Mode::Live => std::future::pending().await,
        }
    };
    tokio::pin!(limit);
    let mut tick = tokio::time::interval_at(Instant::now() + p.stats_every, p.stats_every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let next = tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => return Stop::Gone,
            () = &mut limit => return Stop::Limit,
            n = src.next() => n,
            _ = tick.tick() => {
                if tally.changed() && !tally.send(ctx, false).await {
                    return Stop::Gone;
                }
                continue;
            }
        };
        let alive = match next {
            Next::Line(line) => on_line(ctx, parser, p, tally, line).await,
            Next::Note(level, msg) => ctx.note(PROBE, level, msg).await,
            Next::End { complete } => return Stop::Ended { complete },
        };
        if !alive {
            return Stop::Gone;
        }
    }
}

/// Parses one line and sends what it said. False when nobody listens any more.
async fn on_line(
    ctx: &Ctx,
    parser: &mut SourceParser,
    p: Pacing,
    tally: &mut Tally,
    line: source::Line,
) -> bool {
    tally.lines += 1;
    if line.overlong && !tally.noted_overlong {
        tally.noted_overlong = true;
        let msg = format!(
            "line {} of {} is longer than {} KiB; only its beginning was read",
            tally.lines,
            tally.desc,
            source::MAX_LINE / 1024
        );
        if !ctx.note(PROBE, NoteLevel::Info, msg).await {
            return false;
        }
    }
    let event = match parser.line(&line.text, Utc::now()) {
        Parsed::Phase(ph) => EventBody::StartupPhase(ph),
        Parsed::Exit(x) => EventBody::StartupExit(x),
        Parsed::Skip(why) => {
            tally.skipped += 1;
            // Blank lines and the inside of a record explain nothing about a log in the
            // wrong format.
            if !matches!(why, Skip::Blank | Skip::Continued) {
                tally.unmatched(why, &line.text);
            }
            return stats_due(ctx, p, tally).await;
        }
    };
    tally.events += 1;
    tally.format = parser.format();
    if !ctx.send(event).await {
        return false;
    }
    stats_due(ctx, p, tally).await
}

/// The every-so-many-lines `StartupLog`, and the warning for a log that matches nothing.
async fn stats_due(ctx: &Ctx, p: Pacing, tally: &mut Tally) -> bool {
    if tally.lines.is_multiple_of(p.stats_lines.max(1)) && !tally.send(ctx, false).await {
        return false;
    }
    tally.warn_if_nothing_matched(ctx, false).await
}

async fn finish(ctx: &Ctx, p: Pacing, stop: Stop, tally: &mut Tally) {
    let ended = match stop {
        Stop::Gone => return,
        Stop::Ended { complete } => complete,
        Stop::Limit => {
            let msg = format!(
                "stopped reading {} after {}: it had not ended (a command that keeps \
                 running or an open standard input is followed by `watch`, not `check`)",
                tally.desc,
                fmt_d(p.once_limit)
            );
            if !ctx.note(PROBE, NoteLevel::Warn, msg).await {
                return;
            }
            false
        }
    };
    if tally.warn_if_nothing_matched(ctx, true).await {
        tally.send(ctx, ended).await;
    }
}

/// Shown commands lose their credentials the way every command line does (see `secret`).
pub use crate::secret::redact_command;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_waits_for_a_command_as_long_as_the_whole_startup_budget_and_a_tenth() {
        let opts = crate::config::LoadOptions {
            flags: vec![crate::config::FlagOverride {
                key: "environment",
                value: toml::Value::String("staging".into()),
                flag: "--env",
            }],
            ..Default::default()
        };
        let config = crate::config::Config::load(&opts).expect("built-in profile loads");
        let mut s = config.settings;
        s.startup.command = Some("journalctl -f -u backend".into());
        let p = StartupParams::from_settings(&s, None)
            .expect("valid patterns")
            .expect("a command is configured");
        assert_eq!(s.startup.total_budget, Duration::from_secs(120));
        assert_eq!(p.pacing.once_limit, Duration::from_secs(132));
    }

    #[test]
    fn commands_lose_their_credentials() {
        assert_eq!(
            redact_command(
                "psql 'postgres://app:hunter2pw@db/app' --password=hunter2pw PGTOKEN=abc -c 'select 1'"
            ),
            "psql 'postgres://app:***@db/app' --password=*** PGTOKEN=*** -c 'select 1'"
        );
        assert_eq!(
            redact_command("kubectl logs -f deploy/backend"),
            "kubectl logs -f deploy/backend"
        );
    }
}
