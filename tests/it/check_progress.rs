//! `check`'s progress line: drawn on stderr when it is a terminal (a real pseudo-terminal
//! here), redrawn in place while a black-holed database makes every attempt wait out its
//! timeout, and erased before the report; absent when stderr is a pipe.

use std::process::Stdio;
use std::time::Duration;

use crate::common::dashboard::spawn_at;
use crate::common::fault_bin;
use crate::common::fault_net::BlackHole;

/// Erase-line: what every redraw starts with.
const ERASE: &[u8] = b"\r\x1b[2K";

fn args(url: &str) -> Vec<String> {
    [
        "check",
        "--db-url",
        url,
        "--only",
        "db",
        "--attempts",
        "2",
        "--interval",
        "100ms",
        "--connect-timeout",
        "1500ms",
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}

#[test]
fn on_a_terminal_check_redraws_one_progress_line_and_erases_it_before_the_report() {
    let hole = BlackHole::start();
    let url = format!("postgres://app@{}/app", hole.addr());
    let args = args(&url);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut p = spawn_at(&argv, &[("CONNSCOPE_ENV", "development")], 100, 20);
    // While the first attempt hangs: what runs and how far it got.
    let during = p.expect_text("db 0/2 attempts", Duration::from_secs(20));
    assert!(during.contains("check "), "{during}");
    // Later, the count moves on the same line.
    p.expect_text("db 1/2 attempts", Duration::from_secs(20));
    let status = p.wait_exit(Duration::from_secs(30)).expect("check ends");
    assert_eq!(status.exit_code(), 2, "a database that never answers fails");
    assert!(p.wait_eof(Duration::from_secs(5)), "output complete");
    let raw = p.raw();
    let redraws = raw.windows(ERASE.len()).filter(|w| *w == ERASE).count();
    assert!(redraws >= 3, "one line redrawn in place: {redraws} redraws");
    // The report replaced the line: nothing of the progress is left on screen.
    let end = p.screen();
    assert!(
        !end.contains("attempts ·") && !end.contains("db 2/2"),
        "{end}"
    );
    assert!(
        end.contains("verdict") || end.contains("FAIL"),
        "the report follows:\n{end}"
    );
}

#[test]
fn with_stderr_not_a_terminal_check_writes_no_progress() {
    let hole = BlackHole::start();
    let url = format!("postgres://app@{}/app", hole.addr());
    let mut args = args(&url);
    args[6] = "1".into(); // one attempt is enough to have had something to say
    let out = fault_bin::command()
        .args(&args)
        .env("CONNSCOPE_ENV", "development")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("check runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("attempts"), "{err}");
    assert!(
        !out.stderr.windows(ERASE.len()).any(|w| w == ERASE),
        "{err}"
    );
    assert!(!out.stdout.is_empty(), "the report still goes to stdout");
}
