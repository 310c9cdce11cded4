//! `connscope report FILE`: a recording turned into the incident-review report. The state is
//! rebuilt exactly as the live run built it (the header's `StateConfig`, the same
//! `State::apply`, events in file order), so a recording of a `check` reports the same
//! verdict, numbers and exit code as the run itself.
//!
//! The recording is streamed (`record::open`): a regular file or `-` for standard input,
//! read line by line, so memory is the state's whatever the file's size.
//!
//! `--from` / `--to` choose a window: only events with `from <= at < to` are applied, and
//! nothing before `--from` is — the report describes that window as if connscope had been
//! started at its beginning. (A phase that started before `--from` therefore shows only from
//! its next event on; widen the window to see it whole.)

use std::io::BufRead;
use std::path::Path;

use chrono::{DateTime, Utc};

use crate::cli::ReportArgs;
use crate::error::{AppError, AppResult, RecordError};
use crate::exit::ExitCode;
use crate::record::{self, EventReader, Header, Span};
use crate::report::Context;
use crate::state::State;

pub(super) fn run(g: &crate::cli::Global, args: &ReportArgs) -> AppResult<ExitCode> {
    let doc = super::document::options(args.format, g.theme.as_deref(), args.assets.as_deref())?;
    let from = args
        .from
        .as_deref()
        .map(|t| spec("--from", t))
        .transpose()?;
    let to = args.to.as_deref().map(|t| spec("--to", t)).transpose()?;
    let (header, mut events) = record::open(&args.file)?;
    let needs_start = [from, to]
        .iter()
        .any(|s| matches!(s, Some(TimeSpec::Offset(_))));
    // Offsets count from the recording's start, known only after a first pass.
    let start = if needs_start {
        let mut span = Span::new(header.started_at);
        events.by_ref().for_each(|e| span.see(e.at));
        events.rewind().map_err(|source| RecordError::Read {
            name: args.file.display().to_string(),
            source,
        })?;
        span.start()
    } else {
        header.started_at
    };
    let (from, to) = (from.map(|s| s.resolve(start)), to.map(|s| s.resolve(start)));
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(AppError::usage(format!(
            "--from ({f}) must be before --to ({t})"
        )));
    }
    let rebuilt = rebuild(&header, &mut events, from, to);
    say_notes(&args.file, &events.notes());
    if rebuilt.state.events == 0 && rebuilt.read > 0 {
        crate::output::say(&format!(
            "{}: no events in the chosen window",
            args.file.display()
        ));
    }
    let mut ctx = context(args, &header, &rebuilt, events.skipped(), from, to);
    // The recording's clock: the window's end, or its newest event. Judged once.
    let state = &rebuilt.state;
    let end = (rebuilt.read > 0).then(|| rebuilt.span.end());
    let now = match (to, end) {
        (Some(t), Some(e)) => Some(t.min(e)),
        (t, e) => t.or(e),
    };
    let report = crate::report::Report::build(state, state.judge(now));
    doc.apply(&report, &mut ctx)?;
    let text = crate::report::render(args.format, &report, &ctx);
    crate::output::stdout(&format!("{text}\n"))?;
    // Like the run it reports: an interrupted run's report says (and exits) 130.
    Ok(report.exit_code)
}

/// The state as the live run had it, limited to the window (see the module comment), and what
/// the whole recording covers. Streams: memory is the state's, whatever the file's size.
struct Rebuilt {
    state: State,
    span: Span,
    /// Events read, inside the window or not.
    read: u64,
}

fn rebuild<R: BufRead>(
    header: &Header,
    events: &mut EventReader<R>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Rebuilt {
    let mut state = State::new(header.state.clone());
    let mut span = Span::new(header.started_at);
    let mut read = 0u64;
    let inside = |at: DateTime<Utc>| from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t);
    for ev in events {
        span.see(ev.at);
        read += 1;
        if inside(ev.at) {
            state.apply(&ev);
        }
    }
    Rebuilt { state, span, read }
}

/// Damage found while reading, said once on stderr; the report itself goes on.
pub(super) fn say_notes(path: &Path, notes: &[String]) {
    for note in notes {
        crate::output::say(&format!("{}: {note}", path.display()));
    }
}

fn context(
    args: &ReportArgs,
    header: &Header,
    rebuilt: &Rebuilt,
    skipped: u64,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Context {
    let name = args.file.file_name().map_or_else(
        || args.file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Context {
        source: format!(
            "recording {name} ({}, connscope {})",
            header.command, header.connscope
        ),
        origin: Some(from.unwrap_or_else(|| rebuilt.span.start())),
        from,
        to,
        skipped_lines: skipped,
        settings: Some(header.config.clone()),
        ..Context::default()
    }
}

/// A `--from` / `--to` value before the recording's start is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum TimeSpec {
    At(DateTime<Utc>),
    /// From the recording's start.
    Offset(std::time::Duration),
}

impl TimeSpec {
    pub(super) fn parse(text: &str) -> Result<TimeSpec, String> {
        let t = text.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(t) {
            return Ok(TimeSpec::At(at.with_timezone(&Utc)));
        }
        let offset = t.strip_prefix('+').unwrap_or(t);
        crate::config::duration::parse(offset)
            .map(TimeSpec::Offset)
            .map_err(|_| {
                format!(
                    "`{t}` is neither an RFC 3339 time (2026-11-25T10:05:00Z) nor an offset from the recording's start (90s, 5m, 1h30m)"
                )
            })
    }

    pub(super) fn resolve(self, start: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimeSpec::At(at) => at,
            TimeSpec::Offset(d) => chrono::Duration::from_std(d)
                .ok()
                .and_then(|d| start.checked_add_signed(d))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }
}

fn spec(flag: &str, text: &str) -> AppResult<TimeSpec> {
    TimeSpec::parse(text).map_err(|e| AppError::usage(format!("{flag}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::t;

    #[test]
    fn times_are_rfc3339_or_offsets_from_the_start() {
        let start = t(0.0);
        let at = |s: &str| TimeSpec::parse(s).map(|x| x.resolve(start));
        assert_eq!(at("90s"), Ok(t(90.0)));
        assert_eq!(at("+5m"), Ok(t(300.0)));
        assert_eq!(at("1m30s"), Ok(t(90.0)));
        assert_eq!(at("2026-11-25T10:01:00Z"), Ok(t(60.0)));
        assert_eq!(at("2026-11-25T11:01:00+01:00"), Ok(t(60.0)));
        for bad in ["soon", "", "-5m", "2026-11-25 10:01"] {
            assert!(at(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_huge_offset_is_the_end_of_time_not_a_panic() {
        let far = TimeSpec::Offset(std::time::Duration::from_secs(u64::MAX));
        assert_eq!(far.resolve(t(0.0)), DateTime::<Utc>::MAX_UTC);
    }
}
