//! The startup-log probe end to end: fixtures through the probe, the events judged by the same
//! `State` the dashboard uses. Every test is bounded by a timeout and cleans up its temp files
//! and child processes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use connscope::config::{self, LogFormat, Startup};
use connscope::event::{Event, EventBody, NoteLevel, PhaseStatus, StartupLog};
use connscope::probe::startup::{self, Input, Matcher, Pacing, Parsed, StartupParams, parse_line};
use connscope::probe::{Ctx, Mode};
use connscope::state::State;
use connscope::state::fixtures::staging_config;
use connscope::state::startup::{PhaseVerdict, StartupRun};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use PhaseVerdict::{Failed, NotReached, OverBudget, Pass, Running};

/// Upper bound for anything a test waits for.
const BOUND: Duration = Duration::from_secs(20);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/startup")
        .join(name)
}

fn json() -> Matcher {
    Matcher::new(&Startup::default()).expect("default config builds a matcher")
}

fn regex() -> Matcher {
    let cfg = Startup {
        format: LogFormat::Regex,
        ..Startup::default()
    };
    Matcher::new(&cfg).expect("default patterns build a matcher")
}

fn fast(p: StartupParams) -> StartupParams {
    StartupParams {
        pacing: Pacing {
            poll: Duration::from_millis(20),
            stats_every: Duration::from_millis(100),
            ..Pacing::default()
        },
        ..p
    }
}

/// Runs the probe to its end and returns every event it sent.
async fn run_to_end(mode: Mode, p: StartupParams) -> Vec<Event> {
    let (tx, mut rx) = mpsc::channel(1024);
    let task = tokio::spawn(startup::run(
        Ctx::new(tx, CancellationToken::new()),
        mode,
        p,
    ));
    let mut out = Vec::new();
    let drained = tokio::time::timeout(BOUND, async {
        while let Some(ev) = rx.recv().await {
            out.push(ev);
        }
    })
    .await;
    assert!(
        drained.is_ok(),
        "the probe did not end; events so far: {out:#?}"
    );
    tokio::time::timeout(BOUND, task)
        .await
        .expect("task ends")
        .expect("task does not panic");
    out
}

fn judge(events: &[Event]) -> State {
    let mut s = State::new(staging_config());
    for ev in events {
        s.apply(ev);
    }
    s
}

fn current(s: &State) -> &StartupRun {
    s.startup
        .log
        .current
        .as_ref()
        .expect("a startup run was seen")
}

fn last_log(events: &[Event]) -> StartupLog {
    events
        .iter()
        .rev()
        .find_map(|e| match &e.body {
            EventBody::StartupLog(l) => Some(l.clone()),
            _ => None,
        })
        .expect("a StartupLog event")
}

fn notes(events: &[Event]) -> Vec<(NoteLevel, String)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Note(n) => Some((n.level, n.message.clone())),
            _ => None,
        })
        .collect()
}

fn approx(a: Option<f64>, want: f64) {
    let a = a.expect("a duration");
    assert!((a - want).abs() < 1e-3, "got {a}, want {want}");
}

async fn from_file(name: &str, m: Matcher) -> Vec<Event> {
    let p = StartupParams::new(m, Input::File(fixture(name)));
    run_to_end(Mode::Once, p).await
}

#[tokio::test]
async fn outage_log_is_a_restart_loop_failing_in_phase_3_with_exit_3() {
    let events = from_file("outage.jsonl", json()).await;
    let s = judge(&events);
    let track = &s.startup.log;
    assert_eq!(track.runs, 2, "the restart is a second run");
    let run = current(&s);
    assert_eq!(
        run.verdicts(None),
        [
            Pass, Pass, Failed, NotReached, NotReached, NotReached, NotReached
        ]
    );
    approx(run.phases[2].duration_s(None), 75.0);
    assert_eq!(
        run.phases[2].message.as_deref(),
        Some("database initialization timeout after 75.0s")
    );
    assert_eq!(run.exit.map(|(c, _)| c), Some(3));
    approx(run.total_s(None), 77.2);
    let first = track.previous.last().expect("the first run is kept");
    assert_eq!(first.exit_code, Some(3));
    assert_eq!(first.failed_phase.as_deref(), Some("database"));
    approx(first.failed_after_s, 75.0);
    let log = last_log(&events);
    assert_eq!((log.lines, log.skipped, log.ended), (16, 2, true));
    assert_eq!(track.skipped, 2);
    assert!(
        track
            .desc
            .as_deref()
            .is_some_and(|d| d.ends_with("outage.jsonl"))
    );
}

#[tokio::test]
async fn healthy_log_passes_every_phase_within_the_total_budget() {
    let events = from_file("healthy.jsonl", json()).await;
    let s = judge(&events);
    let run = current(&s);
    assert_eq!(run.verdicts(None), [Pass; 7]);
    assert!(run.complete());
    assert_eq!(run.exit, None);
    let total = run.total_s(None).expect("a total");
    assert!(total < 120.0, "total {total}");
    approx(Some(total), 50.0);
    approx(run.phases[2].duration_s(None), 31.6);
    assert_eq!(s.startup.log.runs, 1);
    let log = last_log(&events);
    assert_eq!((log.lines, log.skipped, log.ended), (15, 1, true));
}

#[tokio::test]
async fn over_budget_log_flags_phase_2_using_the_shippers_timestamps() {
    let events = from_file("over_budget.jsonl", json()).await;
    let s = judge(&events);
    let run = current(&s);
    assert_eq!(
        run.verdicts(None),
        [Pass, OverBudget, Pass, Pass, Pass, Pass, Pass]
    );
    approx(run.phases[1].duration_s(None), 55.0);
    approx(run.total_s(None), 67.0);
    assert_eq!(last_log(&events).skipped, 0);
}

#[tokio::test]
async fn garbage_lines_are_skipped_and_counted_never_fatal() {
    let events = from_file("garbage.jsonl", json()).await;
    let s = judge(&events);
    let run = current(&s);
    assert_eq!(
        run.verdicts(None),
        [
            Pass, Pass, Running, NotReached, NotReached, NotReached, NotReached
        ]
    );
    assert_eq!(run.exit, None, "an exit with code \"three\" is skipped");
    let log = last_log(&events);
    assert_eq!((log.lines, log.skipped, log.ended), (16, 11, true));
    assert_eq!(s.startup.log.runs, 1);
}

#[tokio::test]
async fn a_log_cut_mid_line_counts_the_cut_line_as_skipped() {
    let events = from_file("truncated.jsonl", json()).await;
    let s = judge(&events);
    assert_eq!(
        current(&s).verdicts(None),
        [
            Pass, Pass, Running, NotReached, NotReached, NotReached, NotReached
        ]
    );
    let log = last_log(&events);
    assert_eq!((log.lines, log.skipped, log.ended), (6, 1, true));
}

#[tokio::test]
async fn the_same_text_log_is_understood_without_patterns() {
    let events = from_file("text.log", json()).await;
    let s = judge(&events);
    let run = current(&s);
    assert_eq!(
        run.verdicts(None),
        [
            Pass, Pass, Failed, NotReached, NotReached, NotReached, NotReached
        ]
    );
    assert_eq!(run.exit.map(|(c, _)| c), Some(3));
    assert_eq!(last_log(&events).format.as_deref(), Some("text"));
}

#[tokio::test]
async fn a_text_log_read_with_the_default_patterns() {
    let events = from_file("text.log", regex()).await;
    let s = judge(&events);
    let run = current(&s);
    assert_eq!(
        run.verdicts(None),
        [
            Pass, Pass, Failed, NotReached, NotReached, NotReached, NotReached
        ]
    );
    approx(run.phases[2].duration_s(None), 75.0);
    assert_eq!(run.exit.map(|(c, _)| c), Some(3));
    assert_eq!(
        run.phases[2].message.as_deref(),
        Some("database initialization timeout after 75.0s")
    );
    let log = last_log(&events);
    assert_eq!((log.lines, log.skipped), (9, 2));
}

#[tokio::test]
async fn a_log_that_names_no_phase_gets_one_warning_quoting_its_first_lines() {
    let events = from_file("nginx_access.log", json()).await;
    let warn: Vec<_> = notes(&events)
        .into_iter()
        .filter(|(l, m)| *l == NoteLevel::Warn && m.contains("none of the 3 lines"))
        .collect();
    assert_eq!(warn.len(), 1, "{events:#?}");
    let w = &warn[0].1;
    assert!(
        w.contains("line 1 (no phase or exit in it): `10.20.0.14 - - [29/Nov/2026:04:12:47 +0000]"),
        "{w}"
    );
    assert!(w.contains("line 3 ("), "the first three are quoted: {w}");
    assert!(w.contains(r#"startup.format = "regex""#), "{w}");
    assert!(judge(&events).startup.log.current.is_none());
    assert_eq!(last_log(&events).format, None);
}

// ---- the corpus: logs real services print, read without configuration -----------------------

/// A startup judged by the log's own clock (its newest line).
fn verdict_now(s: &State) -> (connscope::state::verdict::Verdict, Vec<String>) {
    let j = s.judge(current(s).last_ts);
    (j.verdict, j.reasons)
}

#[tokio::test]
async fn a_fastapi_service_under_uvicorn_is_read_as_text() {
    let events = from_file("fastapi_uvicorn.log", json()).await;
    let s = judge(&events);
    let run = current(&s);
    assert_eq!(
        run.verdicts(None),
        [
            Pass, Pass, Failed, NotReached, NotReached, NotReached, NotReached
        ]
    );
    approx(run.phases[2].duration_s(None), 75.003);
    assert_eq!(
        run.phases[2].message.as_deref(),
        Some("database initialization timeout after 75.0s")
    );
    // "exiting with code 3" and uvicorn's "Application startup failed" are one exit; the
    // traceback naming the phase changes nothing.
    assert_eq!(run.exit.map(|(c, _)| c), Some(3));
    assert_eq!(s.startup.log.runs, 1, "no phantom run from the traceback");
    assert_eq!(last_log(&events).format.as_deref(), Some("text"));
    let (v, reasons) = verdict_now(&s);
    assert_eq!(v, connscope::state::verdict::Verdict::Fail, "{reasons:?}");
    let rules: Vec<&str> = s.judge(None).findings.iter().map(|f| f.rule).collect();
    assert!(rules.contains(&"outage_signature"), "{rules:?}");
}

#[tokio::test]
async fn a_logfmt_service_starts_cleanly() {
    let events = from_file("logfmt.log", json()).await;
    let s = judge(&events);
    assert_eq!(current(&s).verdicts(None), [Pass; 7]);
    approx(current(&s).total_s(None), 3.03);
    let log = last_log(&events);
    assert_eq!(log.format.as_deref(), Some("logfmt"));
    assert_eq!((log.lines, log.skipped), (16, 2));
    assert_eq!(verdict_now(&s).0, connscope::state::verdict::Verdict::Pass);
}

#[tokio::test]
async fn cloud_logging_entries_one_per_line() {
    let events = from_file("cloud_logging.jsonl", json()).await;
    let s = judge(&events);
    let run = current(&s);
    assert_eq!(
        run.verdicts(None),
        [
            Pass, Pass, Failed, NotReached, NotReached, NotReached, NotReached
        ]
    );
    // The phase's time is the entry's timestamp; the exit is Cloud Run's "exit(3)".
    approx(run.phases[2].duration_s(None), 75.003);
    assert_eq!(run.exit.map(|(c, _)| c), Some(3));
    assert_eq!(last_log(&events).format.as_deref(), Some("cloud-logging"));
}

#[tokio::test]
async fn a_pretty_printed_gcloud_export_is_read_entry_by_entry() {
    let events = from_file("cloud_logging_export.json", json()).await;
    let s = judge(&events);
    assert_eq!(current(&s).verdicts(None), [Pass; 7]);
    assert_eq!(s.startup.log.runs, 1);
    assert_eq!(last_log(&events).format.as_deref(), Some("cloud-logging"));
    assert!(
        !notes(&events).iter().any(|(l, _)| *l == NoteLevel::Warn),
        "{:?}",
        notes(&events)
    );
}

#[tokio::test]
async fn a_restart_loop_fails_while_the_newest_run_is_still_in_phase_3() {
    let events = from_file("restart_loop.log", json()).await;
    let s = judge(&events);
    assert_eq!(s.startup.log.runs, 2);
    // By the log's own clock the second run has just entered phase 3: running, not failed —
    // and the loop fails the verdict all the same.
    let log_now = current(&s).last_ts;
    assert_eq!(
        current(&s).verdicts(log_now),
        [
            Pass, Pass, Running, NotReached, NotReached, NotReached, NotReached
        ]
    );
    let j = s.judge(log_now);
    assert_eq!(j.verdict, connscope::state::verdict::Verdict::Fail);
    assert!(
        j.reasons
            .iter()
            .any(|r| r.starts_with("startup: restart loop — 1 failed run, exit 3; run #2")),
        "{:?}",
        j.reasons
    );
    let l = j
        .startup
        .as_ref()
        .and_then(|v| v.restart_loop.as_ref())
        .expect("the loop is in the judgement");
    assert!(l.active);
    assert_eq!(
        (l.failed_runs.clone(), l.exit_codes.clone()),
        (vec![1], vec![3])
    );
}

#[tokio::test]
async fn a_phase_that_never_ends_stalls_as_the_clock_moves() {
    let events = from_file("hung_phase.jsonl", json()).await;
    let s = judge(&events);
    let started = current(&s).phases[2].started.expect("phase 3 started");
    let at = |secs: i64| Some(started + chrono::Duration::seconds(secs));
    let phase3 = |secs| s.judge(at(secs)).startup.expect("a run").phases[2].verdict;
    // 90 s budget, 45 s grace: running, then over budget, then stalled (a failure).
    assert_eq!(phase3(30), Running);
    assert_eq!(phase3(100), OverBudget);
    assert_eq!(
        phase3(136),
        connscope::state::startup::PhaseVerdict::Stalled
    );
    assert_eq!(
        s.judge(at(136)).verdict,
        connscope::state::verdict::Verdict::Fail
    );
    // The dashboard's clock ages the running phase too: 30 s in, it says 30 s.
    let shown = s.judge(at(30)).startup.expect("a run").phases[2].duration_s;
    approx(shown, 30.0);
}

#[tokio::test]
async fn a_missing_file_in_check_mode_is_an_error_and_not_ended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = StartupParams::new(json(), Input::File(dir.path().join("nope.jsonl")));
    let events = run_to_end(Mode::Once, p).await;
    assert!(
        notes(&events)
            .iter()
            .any(|(l, m)| *l == NoteLevel::Error && m.contains("cannot open startup log")),
        "{events:#?}"
    );
    let log = last_log(&events);
    assert_eq!((log.lines, log.ended), (0, false));
}

// ---------------------------------------------------------------------------------------------
// Following a file (watch mode)

/// A probe running in the background, its events collected as they come.
struct Live {
    rx: mpsc::Receiver<Event>,
    seen: Vec<Event>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Live {
    fn start(mode: Mode, p: StartupParams) -> Self {
        let (tx, rx) = mpsc::channel(1024);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(startup::run(Ctx::new(tx, cancel.clone()), mode, p));
        Self {
            rx,
            seen: Vec::new(),
            cancel,
            task,
        }
    }

    /// Collects events until `done` holds for everything seen so far (bounded).
    async fn until(&mut self, what: &str, done: impl Fn(&[Event]) -> bool) {
        let waited = tokio::time::timeout(BOUND, async {
            while !done(&self.seen) {
                match self.rx.recv().await {
                    Some(ev) => self.seen.push(ev),
                    None => break,
                }
            }
        })
        .await;
        assert!(
            waited.is_ok() && done(&self.seen),
            "waiting for {what}; saw {:#?}",
            self.seen
        );
    }

    async fn stop(self) -> Vec<Event> {
        self.cancel.cancel();
        tokio::time::timeout(BOUND, self.task)
            .await
            .expect("the probe stops when cancelled")
            .expect("no panic");
        self.seen
    }
}

fn phase_events(events: &[Event]) -> Vec<(u8, PhaseStatus)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::StartupPhase(p) => Some((p.phase, p.status)),
            _ => None,
        })
        .collect()
}

fn jl(secs: u32, phase: u8, status: &str) -> String {
    format!(
        "{{\"timestamp\":\"2026-11-25T10:00:{secs:02}Z\",\"phase\":{phase},\"status\":\"{status}\"}}\n"
    )
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}

#[tokio::test]
async fn a_followed_file_yields_lines_appended_while_it_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("startup.jsonl");
    std::fs::write(&path, jl(0, 1, "started") + &jl(1, 1, "completed")).expect("write");
    let mut live = Live::start(
        Mode::Live,
        fast(StartupParams::new(json(), Input::File(path.clone()))),
    );
    live.until("the first two lines", |e| phase_events(e).len() == 2)
        .await;
    // Half a line first: it must wait for its end, not be parsed (and skipped) early.
    let line = jl(2, 2, "started");
    let (head, tail) = line.split_at(20);
    append(&path, head);
    tokio::time::sleep(Duration::from_millis(100)).await;
    append(&path, tail);
    live.until("the appended line", |e| phase_events(e).len() == 3)
        .await;
    live.until("a StartupLog with 3 lines", |e| {
        e.iter()
            .any(|e| matches!(&e.body, EventBody::StartupLog(l) if l.lines == 3 && !l.ended))
    })
    .await;
    let events = live.stop().await;
    assert_eq!(
        phase_events(&events),
        [
            (1, PhaseStatus::Started),
            (1, PhaseStatus::Completed),
            (2, PhaseStatus::Started)
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| !matches!(&e.body, EventBody::StartupLog(l) if l.skipped > 0)),
        "the half line was not read as a line"
    );
}

#[tokio::test]
async fn a_followed_file_is_reread_after_truncation_and_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("startup.jsonl");
    std::fs::write(&path, jl(0, 1, "started") + &jl(1, 1, "completed")).expect("write");
    let mut live = Live::start(
        Mode::Live,
        fast(StartupParams::new(json(), Input::File(path.clone()))),
    );
    live.until("the first run", |e| phase_events(e).len() == 2)
        .await;

    // copytruncate-style: emptied in place, then written again (shorter than before).
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(0))
        .expect("truncate");
    live.until("the truncation note", |e| {
        notes(e).iter().any(|(_, m)| m.contains("was truncated"))
    })
    .await;
    append(&path, &jl(10, 1, "started"));
    live.until("the line after truncation", |e| phase_events(e).len() == 3)
        .await;

    // rename-style: the old file moves away, a new one takes its path.
    std::fs::rename(&path, dir.path().join("startup.jsonl.1")).expect("rotate");
    std::fs::write(&path, jl(20, 1, "started") + &jl(21, 1, "failed")).expect("new file");
    live.until("the rotated file's lines", |e| phase_events(e).len() == 5)
        .await;
    let events = live.stop().await;
    assert!(
        notes(&events)
            .iter()
            .any(|(l, m)| *l == NoteLevel::Info && m.contains("was replaced (rotated)")),
        "{events:#?}"
    );
    let s = judge(&events);
    assert_eq!(s.startup.log.runs, 3, "each restart of phase 1 is a run");
    assert_eq!(current(&s).verdicts(None)[0], Failed);
}

#[tokio::test]
async fn a_file_that_does_not_exist_yet_is_waited_for_with_one_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("later.jsonl");
    let mut live = Live::start(
        Mode::Live,
        fast(StartupParams::new(json(), Input::File(path.clone()))),
    );
    live.until("the waiting note", |e| !notes(e).is_empty())
        .await;
    // Several polls pass with the file still missing: still one warning.
    tokio::time::sleep(Duration::from_millis(150)).await;
    std::fs::write(&path, jl(0, 1, "started")).expect("write");
    live.until("the line", |e| phase_events(e).len() == 1).await;
    let events = live.stop().await;
    let warns: Vec<_> = notes(&events)
        .into_iter()
        .filter(|(l, _)| *l == NoteLevel::Warn)
        .collect();
    assert_eq!(warns.len(), 1, "{warns:?}");
    assert!(warns[0].1.contains("waiting for it"), "{warns:?}");
}

// ---------------------------------------------------------------------------------------------
// Commands and streams

#[tokio::test]
async fn a_command_source_reads_its_output_and_notes_its_exit() {
    let cmd = format!(
        "printf '%s\\n' '{}' '{}'; echo 'not a phase'; printf '%s' '{}'",
        jl(0, 1, "started").trim(),
        jl(1, 1, "completed").trim(),
        r#"{"timestamp":"2026-11-25T10:00:02Z","event":"exit","code":3}"#
    );
    let events = run_to_end(Mode::Once, StartupParams::new(json(), Input::Command(cmd))).await;
    let s = judge(&events);
    assert_eq!(current(&s).exit.map(|(c, _)| c), Some(3));
    assert_eq!(current(&s).verdicts(None)[0], Pass);
    let log = last_log(&events);
    assert_eq!((log.lines, log.skipped, log.ended), (4, 1, true));
    assert!(log.source.starts_with("$ printf"), "{}", log.source);
    assert!(
        notes(&events)
            .iter()
            .any(|(l, m)| *l == NoteLevel::Info && m.contains("exited with code 0")),
        "{events:#?}"
    );
}

#[tokio::test]
async fn a_failing_command_is_noted_with_its_error_output() {
    let cmd = "echo 'gcloud: permission denied on logs' >&2; exit 7".to_string();
    let events = run_to_end(Mode::Once, StartupParams::new(json(), Input::Command(cmd))).await;
    let warn = notes(&events)
        .into_iter()
        .find(|(l, _)| *l == NoteLevel::Warn)
        .expect("a warning");
    assert!(warn.1.contains("exited with code 7"), "{warn:?}");
    assert!(warn.1.contains("permission denied on logs"), "{warn:?}");
    let log = last_log(&events);
    assert_eq!((log.lines, log.ended), (0, true));
}

/// True while `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3 is the state; the command name before it is in parentheses.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

async fn wait_for_file(path: &Path) -> String {
    for _ in 0..200 {
        if let Ok(t) = std::fs::read_to_string(path)
            && t.ends_with('\n')
        {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{} was not written", path.display());
}

/// Kills a test's stray process even when an assertion fails first.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if alive(self.0)
            && let Ok(pid) = libc::pid_t::try_from(self.0)
        {
            // SAFETY: kill(2) on a pid this test's own command started; no memory involved.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

async fn assert_gone(pid: u32) {
    for _ in 0..100 {
        if !alive(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("process {pid} still runs");
}

#[tokio::test]
async fn cancelling_kills_the_command_and_what_it_started() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("pid");
    let cmd = format!(
        "sleep 1000 & echo $! > '{}'; echo '{}'; wait",
        pidfile.display(),
        jl(0, 1, "started").trim()
    );
    let mut live = Live::start(
        Mode::Live,
        fast(StartupParams::new(json(), Input::Command(cmd))),
    );
    live.until("the first line", |e| phase_events(e).len() == 1)
        .await;
    let pid: u32 = wait_for_file(&pidfile).await.trim().parse().expect("a pid");
    let _guard = KillOnDrop(pid);
    assert!(alive(pid), "the command's child runs while the probe does");
    live.stop().await;
    assert_gone(pid).await;
}

#[tokio::test]
async fn check_mode_stops_waiting_for_a_command_that_never_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("pid");
    let cmd = format!(
        "echo '{}'; sleep 1000 & echo $! > '{}'; wait",
        jl(0, 1, "started").trim(),
        pidfile.display()
    );
    let mut p = StartupParams::new(json(), Input::Command(cmd));
    p.pacing.once_limit = Duration::from_millis(500);
    let events = run_to_end(Mode::Once, p).await;
    assert_eq!(phase_events(&events), [(1, PhaseStatus::Started)]);
    assert!(
        notes(&events)
            .iter()
            .any(|(l, m)| *l == NoteLevel::Warn && m.contains("had not ended")),
        "{events:#?}"
    );
    let log = last_log(&events);
    assert_eq!((log.lines, log.ended), (1, false));
    let pid: u32 = wait_for_file(&pidfile).await.trim().parse().expect("a pid");
    let _guard = KillOnDrop(pid);
    assert_gone(pid).await;
}

#[tokio::test]
async fn a_command_that_closes_its_output_but_keeps_running_is_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("pid");
    let cmd = format!(
        "echo '{}'; exec >&-; sleep 1000 & echo $! > '{}'; wait",
        jl(0, 1, "started").trim(),
        pidfile.display()
    );
    let mut p = fast(StartupParams::new(json(), Input::Command(cmd)));
    // Shorter than the grace, so the stats timer interrupts the wait for the exit again and
    // again: the grace must still run out.
    p.pacing.stats_every = Duration::from_millis(50);
    p.pacing.exit_grace = Duration::from_millis(400);
    let events = run_to_end(Mode::Live, p).await;
    let pid: u32 = wait_for_file(&pidfile).await.trim().parse().expect("a pid");
    let _guard = KillOnDrop(pid);
    assert!(
        notes(&events)
            .iter()
            .any(|(l, m)| *l == NoteLevel::Warn && m.contains("did not exit")),
        "{events:#?}"
    );
    assert_eq!(last_log(&events).lines, 1);
    assert_gone(pid).await;
}

#[tokio::test]
async fn a_stream_is_read_until_it_closes_with_stats_not_per_line() {
    let (mut w, r) = tokio::io::duplex(4096);
    let p = StartupParams::new(
        json(),
        Input::Reader {
            name: "stdin".into(),
            reader: Box::new(r),
        },
    );
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        w.write_all(jl(0, 1, "started").as_bytes()).await?;
        for i in 0..249 {
            w.write_all(format!("{{\"msg\":\"noise {i}\"}}\n").as_bytes())
                .await?;
        }
        w.shutdown().await
    });
    let events = run_to_end(Mode::Live, p).await;
    writer.await.expect("writer").expect("writes");
    let logs: Vec<&StartupLog> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::StartupLog(l) => Some(l),
            _ => None,
        })
        .collect();
    assert!(logs.len() <= 5, "StartupLog is periodic: {logs:?}");
    let last = last_log(&events);
    assert_eq!((last.lines, last.skipped, last.ended), (250, 249, true));
    assert_eq!(last.source, "stdin");
}

#[test]
fn a_blocked_standard_input_does_not_hold_up_shutdown() {
    use std::io::Write;
    let (mut writer, reader) = std::os::unix::net::UnixStream::pair().expect("socket pair");
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let seen = rt.block_on(async {
            let input = Input::Reader {
                name: "stdin".into(),
                reader: startup::source::blocking_reader("stdin", reader),
            };
            let mut live = Live::start(Mode::Live, fast(StartupParams::new(json(), input)));
            live.until("the line", |e| phase_events(e).len() == 1).await;
            live.stop().await
        });
        // The reader is still blocked (the writer is open): dropping the runtime must not wait.
        drop(rt);
        let _ = done_tx.send(phase_events(&seen).len());
    });
    writer
        .write_all(jl(0, 1, "started").as_bytes())
        .expect("write");
    let got = done_rx.recv_timeout(BOUND);
    drop(writer);
    assert_eq!(
        got,
        Ok(1),
        "the runtime shut down while standard input was blocked"
    );
    worker.join().expect("no panic");
}

#[tokio::test]
async fn overlong_lines_and_binary_noise_do_not_stall_the_reader() {
    let mut bytes = vec![b'{'; 200 * 1024];
    bytes.extend_from_slice(b"\n");
    bytes.extend((0u8..=255).cycle().take(100 * 1024).filter(|b| *b != b'\n'));
    bytes.extend_from_slice(b"\n");
    bytes.extend_from_slice(jl(0, 1, "started").as_bytes());
    let p = StartupParams::new(
        json(),
        Input::Reader {
            name: "noise".into(),
            reader: Box::new(std::io::Cursor::new(bytes)),
        },
    );
    let events = run_to_end(Mode::Once, p).await;
    assert_eq!(phase_events(&events), [(1, PhaseStatus::Started)]);
    let log = last_log(&events);
    assert_eq!((log.lines, log.skipped, log.ended), (3, 2, true));
    assert!(
        notes(&events)
            .iter()
            .any(|(_, m)| m.contains("longer than 64 KiB")),
        "{events:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Configuration

fn settings(toml: &str) -> config::Settings {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, toml).expect("write");
    let opts = config::LoadOptions {
        file: Some(path.to_string_lossy().into_owned()),
        ..config::LoadOptions::default()
    };
    config::Config::load(&opts).expect("config loads").settings
}

#[test]
fn params_come_from_the_config_and_the_override_wins() {
    let s = settings("[startup]\ncommand = \"kubectl logs deploy/backend --token=abcdef123\"\n");
    let p = StartupParams::from_settings(&s, None)
        .expect("builds")
        .expect("configured");
    assert_eq!(
        p.input.describe(),
        "$ kubectl logs deploy/backend --token=***"
    );
    let p = StartupParams::from_settings(&s, Some("-".into()))
        .expect("builds")
        .expect("configured");
    assert!(matches!(p.input, Input::Stdin));
    let p = StartupParams::from_settings(&s, Some("/var/log/app.jsonl".into()))
        .expect("builds")
        .expect("configured");
    assert_eq!(p.input.describe(), "/var/log/app.jsonl");
    let none = settings("environment = \"staging\"\n");
    assert!(
        StartupParams::from_settings(&none, None)
            .expect("builds")
            .is_none()
    );
}

#[test]
fn a_regex_config_without_the_needed_group_is_refused_naming_the_key() {
    let s = settings(
        "[startup]\nlog = \"x.log\"\nformat = \"regex\"\n[startup.patterns]\nexit = \"died (\\\\d+)\"\n",
    );
    let e = StartupParams::from_settings(&s, None).expect_err("exit pattern lacks (?P<code>)");
    assert!(e.to_string().starts_with("startup.patterns.exit:"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Fuzzing the parser (issue 7)

mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    // Built once: compiling the patterns per case would dominate the run time.
    static JSON: LazyLock<Matcher> = LazyLock::new(json);
    static REGEX: LazyLock<Matcher> = LazyLock::new(regex);

    fn at() -> chrono::DateTime<chrono::Utc> {
        connscope::state::fixtures::t(0.0)
    }

    /// Pieces of real startup lines, so generated lines reach deep into the parser.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("{".to_string()),
            Just("}".to_string()),
            Just("\"phase\":".to_string()),
            Just("\"status\":".to_string()),
            Just("\"timestamp\":".to_string()),
            Just("\"event\":\"exit\",".to_string()),
            Just("\"code\":".to_string()),
            Just("\"message\":".to_string()),
            Just("Phase 3 failed: ".to_string()),
            Just("exited with code ".to_string()),
            Just("2026-11-25T10:00:00Z ".to_string()),
            Just("\"2026-13-45T99:99:99+99:00\"".to_string()),
            Just("phase_3_database".to_string()),
            Just(",".to_string()),
            "-?[0-9]{1,25}(\\.[0-9]{1,5})?(e[0-9]{1,4})?",
            "\"[a-zA-Z_ 0-9]{0,12}\"",
            any::<String>(),
        ]
    }

    fn startup_like() -> impl Strategy<Value = String> {
        proptest::collection::vec(fragment(), 0..24).prop_map(|v| v.concat())
    }

    fn check(m: &Matcher, line: &str) {
        match parse_line(m, line, at()) {
            Parsed::Phase(p) => {
                assert!((1..=7).contains(&p.phase), "{p:?}");
                assert_eq!(
                    p.name,
                    config::Phase::outage_defaults()[usize::from(p.phase) - 1].name
                );
                assert!(p.message.as_ref().is_none_or(|m| m.chars().count() <= 1024));
            }
            Parsed::Exit(_) | Parsed::Skip(_) => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_on_arbitrary_text(line in any::<String>()) {
            check(&JSON, &line);
            check(&REGEX, &line);
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let line = String::from_utf8_lossy(&bytes);
            check(&JSON, &line);
            check(&REGEX, &line);
        }

        #[test]
        fn never_panics_on_startup_like_lines(line in startup_like()) {
            check(&JSON, &line);
            check(&REGEX, &line);
        }
    }

    proptest! {
        // Each case runs the whole probe over a stream: fewer cases, still bounded.
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn the_probe_counts_every_line_of_any_byte_stream(
            bytes in proptest::collection::vec(
                prop_oneof![any::<u8>(), Just(b'\n'), Just(b'{')], 0..4096)
        ) {
            let newlines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
            let partial = u64::from(bytes.last().is_some_and(|b| *b != b'\n'));
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let events = rt.block_on(run_to_end(
                Mode::Once,
                StartupParams::new(
                    json(),
                    Input::Reader { name: "fuzz".into(), reader: Box::new(std::io::Cursor::new(bytes)) },
                ),
            ));
            let log = last_log(&events);
            prop_assert_eq!(log.lines, newlines + partial);
            prop_assert!(log.skipped <= log.lines);
            prop_assert!(log.ended);
        }
    }
}
