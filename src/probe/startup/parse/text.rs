//! Startup phases in plain text, as services print them without being told a format: Python
//! logging and uvicorn lines, a JSON record's or a Cloud Logging entry's message, or any
//! line with a phase reference and a status word:
//!
//! - a phase reference: `Phase 3/7 database`, `phase 3 (database)`, `[3/7] database`,
//!   `step 3/7`, `phase_3`, or `phase database` (a configured name after the word "phase");
//! - a status word anywhere in the line: failed (`failed`, `failure`, `error`, `timed out`,
//!   `timeout after`, `aborted`, `could not`, `cannot`, `unable to`, `gave up`) outranks
//!   completed (`completed`, `complete`, `done`, `ok`, `ready`, `finished`, `succeeded`,
//!   `passed`), which outranks started (`started`, `starting`, `begin`, `connecting`,
//!   `initializing`, `running`, `in progress`, `waiting for`); with none, an ERROR /
//!   CRITICAL / FATAL level means failed. A line about a retry (`retrying`, `will retry`) is
//!   the phase still running, not a status. A bare `timeout` (a setting, "timeout 75s") is no
//!   status;
//! - an exit: `exiting with code 3`, `exited with code 3`, `exit status 3`, `exit code 3`,
//!   `Exited (3)`, `exit(3)` (Cloud Run's "Container called exit(3)."), systemd's
//!   `code=exited, status=3/…` (`code=killed, status=9/KILL` is 137, as a shell says); uvicorn's
//!   `Application startup failed. Exiting.` is code 3 (uvicorn's own exit code for a failed
//!   startup). A line that names a phase and an exit ("phase 3 failed; exiting with code 3") is
//!   the exit: the phase it names failed on an earlier line, or fails with the exit.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;

use super::{Matcher, Parsed, Skip};
use crate::event::{PhaseStatus, StartupExit, StartupSource};

/// uvicorn exits with this code when the application's startup fails (`STARTUP_FAILURE`).
const UVICORN_STARTUP_FAILURE: i32 = 3;

fn re(pattern: &str) -> Regex {
    // Constant patterns, checked by the tests below: building them cannot fail.
    Regex::new(pattern).expect("constant pattern")
}

/// `[3/7]`, `Phase 3/7`, `phase 3`, `phase_3`, `step 3 of 7`, then an optional label:
/// `database`, `(database)`, `: database`.
static NUMBERED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:\[\s*(?P<a>\d{1,3})\s*/\s*\d{1,3}\s*\]|\b(?:phase|step|stage)[\s_#:-]*(?P<b>\d{1,3})(?:\s*(?:/|of)\s*\d{1,3})?\b)(?:\s*[:(-]?\s*(?P<label>[a-z][\w-]*)\)?)?",
    )
});

/// `phase database`: a name after the word.
static NAMED: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\bphase[\s_:-]+(?P<label>[a-z][\w-]*)"));

static EXIT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\bexit(?:ing|ed|s)?\s+(?:with\s+)?(?:code|status)\s*[:=]?\s*(?P<code>-?\d{1,10})\b|\bexit(?:ed)?\s*\(\s*(?P<paren>-?\d{1,10})\s*\)",
    )
});

/// systemd's `Main process exited, code=exited, status=3/NOTIMPLEMENTED`; killed or dumped by
/// a signal is 128 + its number, as a shell reports it (`code=killed, status=9/KILL` → 137).
static SYSTEMD_EXIT: LazyLock<Regex> =
    LazyLock::new(|| re(r"\bcode=(?P<how>exited|killed|dumped),\s*status=(?P<status>\d{1,9})\b"));

/// What a shell reports for a process a signal ended.
const SIGNALLED: i32 = 128;

static UVICORN_FAILED: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)application startup failed\.?\s*exiting"));

static RETRY: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\b(?:retrying|will retry|retry in)\b"));

static FAILED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:failed|failure|fail|error|errored|timed out|timeout after|aborted|could not|couldn't|cannot|can't|unable to|gave up|giving up)\b",
    )
});

static COMPLETED: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(?:completed|complete|done|ok|ready|finished|succeeded|success|successful|passed)\b")
});

static STARTED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:started|starting|start|begin|beginning|began|connecting|initializing|initialising|running|in progress|waiting for)\b",
    )
});

/// A log level near the start of a line: `INFO`, `ERROR:` (uvicorn), `[ERROR]`, `- ERROR -`.
static LEVEL: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(?P<level>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b"));

/// Reads a text line: its leading timestamp (else `fallback_ts`), its level (else
/// `fallback_level`), then a phase or an exit.
pub(super) fn parse(
    m: &Matcher,
    line: &str,
    fallback_ts: DateTime<Utc>,
    fallback_level: Option<&str>,
) -> Parsed {
    let ts = m.leading_ts(line, fallback_ts).unwrap_or(fallback_ts);
    if let Some(code) = exit(line) {
        return Parsed::Exit(StartupExit {
            source: StartupSource::Log,
            code,
            ts,
        });
    }
    let level = level(line).or(fallback_level.map(str::to_ascii_uppercase));
    phase(m, line, ts, level.as_deref()).unwrap_or(Parsed::Skip(Skip::NotStartup))
}

fn level(line: &str) -> Option<String> {
    // Only the head of the line: a message may quote a level ("no ERROR seen").
    let head: String = line.chars().take(64).collect();
    LEVEL.captures(&head).map(|c| c["level"].to_string())
}

fn exit(line: &str) -> Option<i32> {
    if UVICORN_FAILED.is_match(line) {
        return Some(UVICORN_STARTUP_FAILURE);
    }
    if let Some(c) = SYSTEMD_EXIT.captures(line) {
        let status: i32 = c["status"].parse().ok()?;
        let signalled = &c["how"] != "exited";
        return Some(if signalled {
            SIGNALLED + status
        } else {
            status
        });
    }
    let c = EXIT.captures(line)?;
    c.name("code")
        .or_else(|| c.name("paren"))
        .and_then(|g| g.as_str().parse().ok())
}

/// The phase a line names and the status it gives it; `None` when it names no phase.
fn phase(m: &Matcher, line: &str, ts: DateTime<Utc>, level: Option<&str>) -> Option<Parsed> {
    let (number, rest) = reference(m, line)?;
    let Some(number) = number else {
        return Some(Parsed::Skip(Skip::UnknownPhase));
    };
    if RETRY.is_match(line) {
        return Some(Parsed::Skip(Skip::NoStatus));
    }
    let Some(status) = status(line, level) else {
        return Some(Parsed::Skip(Skip::NoStatus));
    };
    Some(m.phase_event(number, status, ts, message(rest)))
}

/// The phase number named (`None` inside: named, but not one of the configured phases) and the
/// text after the reference.
fn reference<'a>(m: &Matcher, line: &'a str) -> Option<(Option<u8>, &'a str)> {
    if let Some(c) = NUMBERED.captures(line) {
        let n = c.name("a").or_else(|| c.name("b"))?;
        let number = m.phase_of_str(n.as_str());
        let end = c.get(0).map_or(line.len(), |g| g.end());
        return Some((number, &line[end..]));
    }
    let c = NAMED.captures(line)?;
    let label = c.name("label")?;
    // "phase started" is no phase reference; a configured name is.
    let number = m.phase_of_str(label.as_str());
    let end = c.get(0).map_or(line.len(), |g| g.end());
    number.map(|n| (Some(n), &line[end..]))
}

fn status(line: &str, level: Option<&str>) -> Option<PhaseStatus> {
    if FAILED.is_match(line) {
        Some(PhaseStatus::Failed)
    } else if COMPLETED.is_match(line) {
        Some(PhaseStatus::Completed)
    } else if STARTED.is_match(line) {
        Some(PhaseStatus::Started)
    } else if matches!(level, Some("ERROR" | "CRITICAL" | "FATAL")) {
        Some(PhaseStatus::Failed)
    } else {
        None
    }
}

/// What follows the reference, without the separator and a leading status word:
/// `: failed: database initialization timeout` → `database initialization timeout`.
fn message(rest: &str) -> Option<&str> {
    let mut m = rest.trim_start_matches([':', ' ', '-', ')', '—']).trim();
    for word in ["failed", "completed", "started", "done", "error"] {
        if let Some(after) = strip_word(m, word) {
            m = after.trim_start_matches([':', ' ', '-', '—']).trim();
            break;
        }
    }
    (!m.is_empty()).then_some(m)
}

fn strip_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    let after = &text[word.len()..];
    (head.eq_ignore_ascii_case(word) && after.chars().next().is_none_or(|c| !c.is_alphanumeric()))
        .then_some(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Startup;

    fn at() -> DateTime<Utc> {
        "2026-11-30T12:00:00Z".parse().expect("valid time")
    }

    fn read(line: &str) -> Parsed {
        let m = Matcher::new(&Startup::default()).expect("default matcher");
        parse(&m, line, at(), None)
    }

    fn phase_of(line: &str) -> (u8, PhaseStatus, Option<String>) {
        match read(line) {
            Parsed::Phase(p) => (p.phase, p.status, p.message),
            other => panic!("{line:?}: expected a phase, got {other:?}"),
        }
    }

    #[test]
    fn every_constant_pattern_builds() {
        for r in [
            &NUMBERED,
            &NAMED,
            &EXIT,
            &UVICORN_FAILED,
            &RETRY,
            &FAILED,
            &COMPLETED,
            &STARTED,
            &LEVEL,
        ] {
            assert!(!r.as_str().is_empty());
        }
    }

    #[test]
    fn phrasings_of_a_phase_and_its_status() {
        use PhaseStatus::*;
        for (line, want) in [
            (
                "2026-11-30 04:12:47,906 INFO app.startup: Phase 3/7 database: connecting to Cloud SQL (timeout 75.0s)",
                (3, Started),
            ),
            (
                "2026-11-30 04:14:04,005 ERROR app.startup: Phase 3/7 database: failed: database initialization timeout after 75.0s",
                (3, Failed),
            ),
            ("[3/7] database: done in 1.2s", (3, Completed)),
            ("phase 3 (database) timed out", (3, Failed)),
            ("Starting phase 2 (dependencies)", (2, Started)),
            ("phase database complete", (3, Completed)),
            ("step 5 of 7 services ready", (5, Completed)),
            ("ERROR app: Phase 4/7 cache: redis said no", (4, Failed)),
        ] {
            let (n, s, _) = phase_of(line);
            assert_eq!((n, s), want, "{line}");
        }
        let (_, _, msg) = phase_of(
            "ERROR app.startup: Phase 3/7 database: failed: database initialization timeout after 75.0s",
        );
        assert_eq!(
            msg.as_deref(),
            Some("database initialization timeout after 75.0s")
        );
    }

    #[test]
    fn retries_settings_and_unknown_phases_are_no_status() {
        assert_eq!(
            read("Phase 3/7 database: attempt 1 timed out after 35.0s, retrying"),
            Parsed::Skip(Skip::NoStatus)
        );
        assert_eq!(
            read("Phase 3/7 database: pool size 10, timeout 75s"),
            Parsed::Skip(Skip::NoStatus)
        );
        assert_eq!(
            read("Phase 9/9 extra: started"),
            Parsed::Skip(Skip::UnknownPhase)
        );
        assert_eq!(
            read("connection attempt 1 timed out after 35.0s"),
            Parsed::Skip(Skip::NotStartup)
        );
        assert_eq!(read("phase started"), Parsed::Skip(Skip::NotStartup));
    }

    #[test]
    fn exits_in_words_and_uvicorns_startup_failure() {
        for (line, code) in [
            ("ERROR app.main: exiting with code 3", 3),
            ("process exited with status 1", 1),
            ("container exit code 137", 137),
            ("backend Exited (3)", 3),
            ("Container called exit(3).", 3),
            (
                "startup failed in phase 3 (database); exiting with code 3",
                3,
            ),
            ("ERROR:    Application startup failed. Exiting.", 3),
            (
                "app.service: Main process exited, code=exited, status=3/NOTIMPLEMENTED",
                3,
            ),
            (
                "app.service: Main process exited, code=killed, status=9/KILL",
                137,
            ),
            ("Last State: Terminated, Reason: Error, Exit Code: 3", 3),
        ] {
            match read(line) {
                Parsed::Exit(x) => assert_eq!(x.code, code, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }
}
