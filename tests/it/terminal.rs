//! Every way out of the real dashboard, in a pseudo-terminal: a signal (exit 130, as the
//! README's table says), a panic in the dashboard's task (exit 101) or in another task (the
//! dashboard takes the terminal back and runs on) — each time raw mode off and the main screen
//! back, read from the terminal itself (tcgetattr on the master, the vt100 parser). Also what
//! only a terminal shows: `lab` and `replay` on screen, `--record` on `watch` and `lab`, and
//! `NO_COLOR`.

use crate::common;
use crate::common::pty;

use std::time::Duration;

use common::dashboard::{
    FIRST, Services, assert_exited_and_restored, assert_no_session, assert_panicked_and_restored,
    spawn, wait_attempts, watch,
};
use common::pg::TempPg;
use common::wait_until;
use pty::Pty;
use serde_json::Value;

/// The panic drill's switch (debug builds only, see `src/cmd/panic_drill.rs`).
const DRILL: &str = "CONNSCOPE_DEBUG_PANIC";

// ---- panics ----------------------------------------------------------------------------------

#[test]
fn a_panic_in_the_dashboard_gives_the_terminal_back_before_the_message() {
    let pg = TempPg::start();
    let svc = Services::start();
    let mut p = watch(&pg.url("app", "app"), &svc, &[], &[(DRILL, "dashboard")]);
    wait_attempts(&p, 2, FIRST);
    assert!(!p.is_cooked(), "raw mode while the dashboard runs");
    assert!(p.with_screen(vt100::Screen::alternate_screen));
    p.signal(libc::SIGUSR1);
    assert_panicked_and_restored(
        &mut p,
        "panic drill: the dashboard's task panicked",
        "panic in the dashboard",
    );
    // The runtime went down with the panic; the server ends the sessions it held.
    assert_no_session(&pg, "after the panic");
}

/// `reclaim()`: a task other than the dashboard panics; the hook gives the terminal back so the
/// message can be read, then the dashboard takes it again (raw, alternate screen, repainted).
#[test]
fn after_a_panic_in_another_task_the_dashboard_takes_the_terminal_back() {
    let pg = TempPg::start();
    let svc = Services::start();
    let mut p = watch(&pg.url("app", "app"), &svc, &[], &[(DRILL, "task")]);
    wait_attempts(&p, 2, FIRST);
    let before = p.raw_len();
    p.signal(libc::SIGUSR1);
    let message = b"panic drill: a task other than the dashboard panicked";
    let reclaimed = wait_until(Duration::from_secs(10), || {
        let raw = p.raw();
        let Some(at) = pty::rfind(&raw, message).filter(|&at| at >= before) else {
            return false;
        };
        // Given back before the message, taken again after it.
        let left = pty::rfind(&raw[before..at], pty::LEAVE_ALT);
        let entered = pty::rfind(&raw[at..], pty::ENTER_ALT);
        left.is_some()
            && entered.is_some()
            && !p.is_cooked()
            && p.with_screen(vt100::Screen::alternate_screen)
    });
    assert!(
        reclaimed,
        "not given back and taken again; output since the signal: {:?}",
        String::from_utf8_lossy(&p.raw()[before..])
    );
    // Repainted and still live: the attempt count moves on the screen taken back.
    let (_, seen) = wait_attempts(&p, 1, FIRST);
    wait_attempts(&p, seen + 2, FIRST);
    p.key('q');
    assert_exited_and_restored(&mut p, 0, "q after the reclaim");
    assert_no_session(&pg, "after the reclaim");
}

// ---- recordings ------------------------------------------------------------------------------

/// The header and the events of a recording, each line parsed.
fn recording(path: &std::path::Path) -> (Value, Vec<Value>) {
    let text = std::fs::read_to_string(path).expect("the recording exists");
    let mut lines = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("every line is JSON"));
    let header = lines.next().expect("a header line");
    (header, lines.collect())
}

fn kinds(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["kind"] == kind).count()
}

/// `report FILE --format json`: its exit code and the report.
fn report(path: &std::path::Path) -> (Option<i32>, Value) {
    let o = common::bin()
        .args(["report", "--format", "json"])
        .arg(path)
        .output()
        .expect("run report");
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "report is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code(), v)
}

#[test]
fn watch_records_what_it_showed_and_the_recording_reports() {
    let pg = TempPg::start();
    let svc = Services::start();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("watch.jsonl");
    let file_s = file.to_str().expect("utf-8 path");
    let mut p = watch(&pg.url("app", "app"), &svc, &["--record", file_s], &[]);
    let (_, shown) = wait_attempts(&p, 3, FIRST);
    p.key('q');
    assert_exited_and_restored(&mut p, 0, "q with --record");
    let (header, events) = recording(&file);
    assert_eq!(header["command"], "watch", "{header}");
    let recorded = kinds(&events, "db_attempt");
    assert!(
        u64::try_from(recorded).is_ok_and(|n| n >= shown),
        "{recorded} attempts recorded, {shown} were on screen"
    );
    assert!(kinds(&events, "http_check") >= 1 && kinds(&events, "ws_check") >= 1);
    let (code, r) = report(&file);
    assert_eq!(r["database"]["summary"]["attempts"], recorded, "{r}");
    assert_eq!(r["database"]["summary"]["successes"], recorded, "{r}");
    assert_eq!(code, r["exit_code"].as_i64().map(|c| c as i32), "{r}");
}

/// `lab` on the simulated database, healthy, recording to `file` if given.
fn lab(record: Option<&str>) -> Pty {
    let mut args = vec!["lab", "--database", "sim", "--scenario", "healthy"];
    if let Some(f) = record {
        args.extend(["--record", f]);
    }
    spawn(&args, &[])
}

#[test]
fn lab_ends_with_130_on_sigint_and_sigterm_and_records_its_scenario() {
    let dir = tempfile::tempdir().expect("tmp");
    for (sig, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        let file = dir.path().join(format!("lab-{name}.jsonl"));
        let mut p = lab(Some(file.to_str().expect("utf-8 path")));
        p.expect_text("LAB: healthy", FIRST);
        wait_attempts(&p, 2, FIRST);
        p.signal(sig);
        assert_exited_and_restored(&mut p, 130, name);
        let (header, events) = recording(&file);
        assert_eq!(header["command"], "lab", "{name}: {header}");
        assert!(
            events
                .iter()
                .any(|e| e["kind"] == "lab_scenario" && e["name"] == "healthy"),
            "{name}: the scenario is in the recording"
        );
        assert!(kinds(&events, "db_attempt") >= 2, "{name}");
    }
}

// ---- NO_COLOR --------------------------------------------------------------------------------

/// Cells drawn in a colour (foreground or background) on the current screen.
fn coloured_cells(p: &Pty) -> usize {
    p.with_screen(|s| {
        let (rows, cols) = s.size();
        let (rows, cols) = (rows.get(), cols.get());
        (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .filter_map(|(r, c)| s.cell(r, c))
            .filter(|cell| {
                cell.fgcolor() != vt100::Color::Default || cell.bgcolor() != vt100::Color::Default
            })
            .count()
    })
}

#[test]
fn no_color_draws_no_colour_and_keeps_every_word_and_symbol() {
    let pg = TempPg::start();
    let svc = Services::start();
    let mut screens = Vec::new();
    for no_color in [false, true] {
        let env: &[(&str, &str)] = if no_color { &[("NO_COLOR", "1")] } else { &[] };
        let mut p = watch(&pg.url("app", "app"), &svc, &[], env);
        wait_attempts(&p, 2, FIRST);
        let s = p.expect_text("WebSocket ✓ up", FIRST);
        screens.push((coloured_cells(&p), s));
        p.key('q');
        assert_exited_and_restored(&mut p, 0, "q");
    }
    let ((coloured, plain), (colourless, mono)) = (&screens[0], &screens[1]);
    assert!(*coloured > 0, "the default theme uses colour:\n{plain}");
    assert_eq!(*colourless, 0, "NO_COLOR drew coloured cells:\n{mono}");
    for meaning in ["✓ 200", "WebSocket ✓ up", "success", "Database attempts"] {
        assert!(plain.contains(meaning), "{meaning}:\n{plain}");
        assert!(mono.contains(meaning), "NO_COLOR lost `{meaning}`:\n{mono}");
    }
}

// ---- replay ----------------------------------------------------------------------------------

fn sample() -> String {
    format!(
        "{}/tests/fixtures/recordings/outage.jsonl",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The sample outage jumped to its end: the outage's signature is on screen.
fn assert_replays_the_outage(p: &mut Pty) {
    p.expect_text("REPLAY", FIRST);
    p.send(b"\x1b[F"); // End: jump to the end of the recording
    let s = p.expect_text("exit 3", Duration::from_secs(10));
    for shown in ["✗ 503", "timeout"] {
        assert!(s.contains(shown), "`{shown}` missing at the end:\n{s}");
    }
}

#[test]
fn replay_plays_the_recording_and_quits_or_is_interrupted() {
    let file = sample();
    let mut p = spawn(&["replay", &file], &[]);
    assert_replays_the_outage(&mut p);
    p.key('q');
    assert_exited_and_restored(&mut p, 0, "q in replay");

    let mut p = spawn(&["replay", &file], &[]);
    p.expect_text("REPLAY", FIRST);
    p.signal(libc::SIGTERM);
    assert_exited_and_restored(&mut p, 130, "SIGTERM in replay");
}

/// `replay -` reads the recording from standard input, so its keys come from the controlling
/// terminal (`/dev/tty`): the one terminal check lets it run.
#[test]
fn replay_from_standard_input_takes_its_keys_from_the_terminal() {
    let mut cmd = portable_pty::CommandBuilder::new("sh");
    cmd.args([
        "-c",
        &format!(
            "exec '{}' replay - < '{}'",
            common::bin_path().display(),
            sample()
        ),
    ]);
    cmd.env("TERM", "xterm-256color");
    cmd.cwd(std::env::temp_dir());
    let mut p = pty::spawn_command(cmd, common::dashboard::COLS, common::dashboard::ROWS);
    assert_replays_the_outage(&mut p);
    p.key('q');
    assert_exited_and_restored(&mut p, 0, "q in replay -");
}
