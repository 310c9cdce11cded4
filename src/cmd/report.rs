//! `connscope report FILE`: a recording turned into the incident-review report. The state is
//! rebuilt exactly as the live run built it (the header's `StateConfig`, the same
//! `State::apply`, events in file order), so a recording of a `check` reports the same
//! verdict, numbers and exit code as the run itself.
//!
//! `--from` / `--to` choose a window: only events with `from <= at < to` are applied, and
//! nothing before `--from` is — the report describes that window as if connscope had been
//! started at its beginning. (A phase that started before `--from` therefore shows only from
//! its next event on; widen the window to see it whole.)

use std::io::Write;

use chrono::{DateTime, Utc};

use crate::cli::ReportArgs;
use crate::exit::{AppError, AppResult};
use crate::record::{self, Recording};
use crate::report::Context;
use crate::state::State;

pub fn run(args: &ReportArgs) -> AppResult<i32> {
    let from = args
        .from
        .as_deref()
        .map(|t| spec("--from", t))
        .transpose()?;
    let to = args.to.as_deref().map(|t| spec("--to", t)).transpose()?;
    let rec = record::read(&args.file)?;
    say_notes(&args.file, &rec);
    let start = rec.start();
    let (from, to) = (from.map(|s| s.resolve(start)), to.map(|s| s.resolve(start)));
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        return Err(AppError::usage(format!(
            "--from ({f}) must be before --to ({t})"
        )));
    }
    let state = rebuild(&rec, from, to);
    if state.events == 0 && !rec.events.is_empty() {
        eprintln!(
            "connscope: {}: no events in the chosen window",
            args.file.display()
        );
    }
    let ctx = context(args, &rec, from, to);
    // The recording's clock: the window's end, or its newest event. Judged once.
    let end = rec.events.iter().map(|e| e.at).max();
    let now = match (to, end) {
        (Some(t), Some(e)) => Some(t.min(e)),
        (t, e) => t.or(e),
    };
    let report = crate::report::Report::build(&state, state.judge(now.or(state.last_at)));
    let text = crate::report::render(args.format, &report, &ctx);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| AppError::software(format!("cannot write output: {e}")))?;
    // Like the run it reports: an interrupted run's report says (and exits) 130.
    Ok(report.exit_code)
}

/// The state as the live run had it, limited to the window (see the module comment).
pub fn rebuild(rec: &Recording, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> State {
    let mut state = State::new(rec.header.state.clone());
    let inside = |at: DateTime<Utc>| from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t);
    for ev in rec.events.iter().filter(|e| inside(e.at)) {
        state.apply(ev);
    }
    state
}

/// Damage found while reading, said once on stderr; the report itself goes on.
pub fn say_notes(path: &std::path::Path, rec: &Recording) {
    for note in &rec.notes {
        eprintln!("connscope: {}: {note}", path.display());
    }
}

fn context(
    args: &ReportArgs,
    rec: &Recording,
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
            rec.header.command, rec.header.connscope
        ),
        origin: Some(from.unwrap_or_else(|| rec.start())),
        from,
        to,
        skipped_lines: rec.skipped,
        settings: Some(rec.header.config.clone()),
    }
}

/// A `--from` / `--to` value before the recording's start is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeSpec {
    At(DateTime<Utc>),
    /// From the recording's start.
    Offset(std::time::Duration),
}

impl TimeSpec {
    pub fn parse(text: &str) -> Result<TimeSpec, String> {
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

    pub fn resolve(self, start: DateTime<Utc>) -> DateTime<Utc> {
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
