//! How fast the dashboard's header tells the truth: the real binary in a pseudo-terminal,
//! `watch --interval 500ms` against a real PostgreSQL that is stopped and started again. The
//! header must say FAIL within 3 failed attempts of the stop and PASS within a few seconds of
//! the database answering again. The figures are printed (`--nocapture`) for the closing note.

use std::time::{Duration, Instant};

use crate::common::dashboard::{attempts, spawn};
use crate::common::pg::TempPg;
use crate::common::pty::Pty;

/// Generous bounds that only catch a hang: the assertions below are about attempts, not time.
const FIRST: Duration = Duration::from_secs(30);
const LONG: Duration = Duration::from_secs(60);

const PASS: &str = "✓ PASS";
const FAIL: &str = "✗ FAIL";

fn watch(url: &str) -> Pty {
    spawn(&["watch", "--db-url", url, "--interval", "500ms"], &[])
}

fn header(screen: &str) -> &str {
    screen.lines().next().unwrap_or("")
}

fn failures(screen: &str) -> u64 {
    attempts(screen).map_or(0, |(ok, all)| all - ok)
}

#[test]
fn the_header_says_fail_within_three_failed_attempts_and_pass_soon_after_recovery() {
    let pg = TempPg::start();
    let mut p = watch(&pg.url("app", "app"));
    p.wait_for(FIRST, |s| {
        header(s).contains(PASS) && attempts(s).is_some_and(|(ok, all)| ok == all && all >= 10)
    })
    .unwrap_or_else(|s| panic!("no healthy start:\n{s}"));
    let before = failures(&p.screen());

    let stopped = Instant::now();
    pg.stop();
    let down = p.wait_for(LONG, |s| header(s).contains(FAIL));
    let to_fail = stopped.elapsed();
    let screen = down.as_ref().unwrap_or_else(|s| s).clone();
    let failed = failures(&screen) - before;
    eprintln!(
        "database stopped → header FAIL: {} after {to_fail:.1?}, {failed} failed attempts on screen",
        if down.is_ok() { "shown" } else { "NOT shown" }
    );
    // Down for a while, as in an outage: any back-off has time to grow.
    std::thread::sleep(Duration::from_secs(8));

    pg.start_again();
    let answering = Instant::now();
    let up = p.wait_for(LONG, |s| header(s).contains(PASS));
    let to_pass = answering.elapsed();
    eprintln!(
        "database answering → header PASS: {} after {to_pass:.1?}",
        if up.is_ok() { "shown" } else { "NOT shown" }
    );
    let screen = up.as_ref().unwrap_or_else(|s| s).clone();
    p.key('q');
    let _ = p.wait_exit(Duration::from_secs(15));

    assert!(down.is_ok(), "the header never said FAIL:\n{screen}");
    assert!(
        failed <= 3,
        "FAIL came only after {failed} failed attempts:\n{screen}"
    );
    assert!(up.is_ok(), "the header never came back to PASS:\n{screen}");
    // "A few seconds": the capped back-off (10 s at most) plus 3 successes at 500 ms.
    assert!(
        to_pass < Duration::from_secs(20),
        "PASS only {to_pass:?} after the database answered again:\n{screen}"
    );
}
