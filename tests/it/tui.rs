//! The real binary's dashboard in a pseudo-terminal, read back through a vt100 parser, against
//! a throwaway PostgreSQL and loopback HTTP / WebSocket servers.

use crate::common;
use crate::common::pty;

use std::time::Duration;

use common::dashboard::{
    FIRST, Services, assert_exited_and_restored, assert_no_session, attempts, wait_attempts, watch,
};
use common::pg::{PgOptions, TempPg};
use common::procfs;
use connscope::lab::SimDb;
use pty::Pty;

// ---- the live dashboard ------------------------------------------------------------------

#[test]
fn watch_shows_live_numbers_help_and_pause_then_quits_cleanly() {
    let pg = TempPg::start();
    let svc = Services::start();
    let mut p = watch(&pg.url("app", "app"), &svc, &[], &[]);
    let (_, first) = wait_attempts(&p, 3, FIRST);
    // The check below can tell: while the dashboard runs, the terminal is raw.
    assert!(!p.is_cooked(), "raw mode while the dashboard runs");
    let s = p.expect_text("✓ 200", FIRST);
    for panel in [
        "Database attempts",
        "Startup phases",
        "Endpoints",
        "Capacity",
        "Alerts and diagnosis",
    ] {
        assert!(s.contains(panel), "panel {panel} missing:\n{s}");
    }
    p.expect_text("WebSocket ✓ up", FIRST);
    let (_, later) = wait_attempts(&p, first + 3, FIRST);
    assert!(later > first, "attempt count moves: {first} → {later}");

    p.key('?');
    let lines = [
        "quit",
        "pause the view (probes go on)",
        "start a capacity test",
        "event log",
    ];
    // The overlay is one frame, but it may arrive in more than one read: wait for all of it.
    p.wait_for(Duration::from_secs(5), |s| {
        s.contains("Keys — Esc or ? closes") && lines.iter().all(|l| s.contains(l))
    })
    .unwrap_or_else(|s| panic!("help lacks one of {lines:?}:\n{s}"));
    p.key('?');
    p.wait_for(Duration::from_secs(5), |s| !s.contains("Keys — Esc"))
        .unwrap_or_else(|s| panic!("help did not close:\n{s}"));

    p.key('p');
    let paused = p.expect_text("PAUSED", Duration::from_secs(5));
    let frozen = attempts(&paused).expect("attempts while paused");
    // Probes go on behind the frozen view: the header counts what arrived since.
    let pending = |s: &str| -> Option<u64> {
        let re = regex::Regex::new(r"PAUSED \+(\d+)").expect("valid regex");
        re.captures(s)?[1].parse().ok()
    };
    let later = p
        .wait_for(Duration::from_secs(10), |s| pending(s).is_some())
        .unwrap_or_else(|s| panic!("no pending count while paused:\n{s}"));
    // More results arrive behind the frozen view: the count grows, the numbers do not.
    let waiting = pending(&later).unwrap_or_default();
    let still = p
        .wait_for(Duration::from_secs(10), |s| {
            pending(s).is_some_and(|n| n > waiting)
        })
        .unwrap_or_else(|s| panic!("the pending count did not grow while paused:\n{s}"));
    assert!(still.contains("PAUSED"), "{still}");
    assert_eq!(attempts(&later), Some(frozen), "numbers frozen:\n{later}");
    assert_eq!(attempts(&still), Some(frozen), "numbers frozen:\n{still}");
    p.key('p');
    let resumed = p
        .wait_for(Duration::from_secs(5), |s| {
            !s.contains("PAUSED") && attempts(s).is_some_and(|(_, n)| n > frozen.1)
        })
        .unwrap_or_else(|s| panic!("resume did not catch up:\n{s}"));
    assert!(attempts(&resumed).is_some());

    // The footer answers a key, then clears by itself (after about 4 s).
    p.key('r');
    p.expect_text("running every probe now", Duration::from_secs(5));
    p.wait_for(Duration::from_secs(10), |s| {
        !s.contains("running every probe now")
    })
    .unwrap_or_else(|s| panic!("the status line stayed:\n{s}"));

    p.key('q');
    assert_exited_and_restored(&mut p, 0, "q");
    assert_no_session(&pg, "after q");
}

#[test]
fn sigterm_sighup_and_sigint_end_the_dashboard_and_restore_the_terminal() {
    let pg = TempPg::start();
    let svc = Services::start();
    for (sig, name) in [
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
    ] {
        let mut p = watch(&pg.url("app", "app"), &svc, &[], &[]);
        wait_attempts(&p, 2, FIRST);
        p.signal(sig);
        // Interrupted, not finished: the README's exit code for a signal.
        assert_exited_and_restored(&mut p, 130, name);
        assert_no_session(&pg, name);
    }
}

#[test]
fn sigterm_in_the_middle_of_a_capacity_test_leaves_no_connection_behind() {
    let pg = TempPg::start();
    let svc = Services::start();
    let mut p = watch(
        &pg.url("app", "app"),
        &svc,
        &["--capacity", "8", "--hold", "30s"],
        &[],
    );
    wait_attempts(&p, 2, FIRST);
    p.key('c');
    p.expect_text("test #1 running", Duration::from_secs(10));
    // Every connection of the test is open and held (the probe's own come and go).
    let mut held = 0;
    for _ in 0..100 {
        held = pg.sessions("connscope");
        if held >= 8 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        held >= 8,
        "capacity test holds its 8 connections, saw {held}"
    );
    p.signal(libc::SIGTERM);
    assert_exited_and_restored(&mut p, 130, "SIGTERM mid-test");
    assert_no_session(&pg, "SIGTERM mid-test");
}

#[test]
fn a_database_restart_is_survived_and_the_log_shows_the_gap() {
    let pg = TempPg::start();
    let svc = Services::start();
    // Backoff after failures is capped low so recovery shows within the test's bounds.
    let mut p = watch(
        &pg.url("app", "app"),
        &svc,
        &[],
        &[("CONNSCOPE_DATABASE__MAX_BACKOFF", "1s")],
    );
    wait_attempts(&p, 2, FIRST);
    pg.stop();
    p.wait_for(FIRST, |s| s.contains("✗ failing for"))
        .unwrap_or_else(|s| panic!("the outage does not show:\n{s}"));
    std::thread::sleep(Duration::from_secs(1));
    pg.start_again();
    p.wait_for(FIRST, |s| {
        s.contains("✓ ok") && !s.contains("✗ failing for")
    })
    .unwrap_or_else(|s| panic!("probing did not recover by itself:\n{s}"));
    p.key('l');
    p.expect_text("Event log", Duration::from_secs(5));
    p.expect_text("database reachable again after", Duration::from_secs(5));
    p.key('q');
    assert_exited_and_restored(&mut p, 0, "q after the restart");
    assert_no_session(&pg, "after the restart");
}

#[test]
fn watch_without_a_terminal_exits_64_with_one_line() {
    let o = common::fault_bin::command()
        .args(["watch", "--db-url", "postgres://app@127.0.0.1:1/app"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run connscope");
    assert_eq!(o.status.code(), Some(64));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("needs a terminal"), "{err}");
    assert!(o.stdout.is_empty(), "nothing on stdout");
}

// ---- secrets and the privacy mask ----------------------------------------------------------

const TAB: &[u8] = b"\t";
const ENTER: &[u8] = b"\r";
const ESC: &[u8] = b"\x1b";

/// Every view a user can open: the dashboard, help, the event log, and each panel zoomed.
/// Returns the screens, each taken once its view is drawn.
fn every_view(p: &mut Pty) -> Vec<String> {
    let step = Duration::from_secs(5);
    let mut screens = vec![p.screen()];
    p.key('?');
    screens.push(p.expect_text("Keys — Esc", step));
    p.send(ESC);
    p.wait_for(step, |s| !s.contains("Keys — Esc"))
        .unwrap_or_else(|s| panic!("help did not close:\n{s}"));
    p.key('l');
    screens.push(p.expect_text("Event log", step));
    p.send(ESC);
    p.wait_for(step, |s| !s.contains("Event log"))
        .unwrap_or_else(|s| panic!("log did not close:\n{s}"));
    for i in 0..5 {
        p.send(ENTER);
        screens.push(p.expect_text("Esc back", step));
        p.send(ESC);
        p.wait_for(step, |s| !s.contains("Esc back"))
            .unwrap_or_else(|s| panic!("zoom {i} did not close:\n{s}"));
        p.send(TAB);
    }
    screens.push(p.screen());
    screens
}

#[test]
fn a_password_never_reaches_the_screen() {
    let secret = "pw-Tui-73-never-drawn";
    let pg = TempPg::start_with(PgOptions {
        app_password: Some(secret),
        ..PgOptions::default()
    });
    let svc = Services::start();
    let with_pw = format!(
        "postgres://app:{secret}@127.0.0.1:{}/app?sslmode=disable",
        pg.port
    );
    let without = pg.url("app", "app");
    type Env<'a> = Vec<(&'a str, &'a str)>;
    let cases: [(&str, &str, Env); 2] = [
        ("password in the URL", &with_pw, vec![]),
        ("PGPASSWORD", &without, vec![("PGPASSWORD", secret)]),
    ];
    for (what, url, env) in cases {
        let mut p = watch(url, &svc, &[], &env);
        // Connected: the password was read and used.
        wait_attempts(&p, 2, FIRST);
        for (i, s) in every_view(&mut p).iter().enumerate() {
            assert!(
                !s.contains(secret),
                "{what}: view {i} shows the password:\n{s}"
            );
        }
        p.key('q');
        assert_exited_and_restored(&mut p, 0, what);
        // Every byte ever drawn, not only the screens looked at.
        assert!(
            !pty::contains(&p.raw(), secret.as_bytes()),
            "{what}: the password was written to the terminal"
        );
        assert_no_session(&pg, what);
    }
}

#[test]
fn the_privacy_mask_hides_host_user_and_database_on_the_real_screen() {
    let pg = TempPg::start();
    let svc = Services::start();
    let mut p = watch(&pg.url("app", "app"), &svc, &[], &[]);
    wait_attempts(&p, 2, FIRST);
    let plain = p.expect_text("✓ 200", FIRST);
    let located = format!("app@127.0.0.1:{}/app", pg.port);
    assert!(plain.contains(&located), "unmasked target shown:\n{plain}");
    p.key('m');
    p.expect_text("‹host›", Duration::from_secs(5));
    for (i, s) in every_view(&mut p).iter().enumerate() {
        for hidden in ["127.0.0.1", "app@", "/app", &svc.http.addr.to_string()] {
            assert!(
                !s.contains(hidden),
                "masked view {i} shows `{hidden}`:\n{s}"
            );
        }
    }
    p.key('m');
    p.expect_text(&located, Duration::from_secs(5));
    p.key('q');
    assert_exited_and_restored(&mut p, 0, "q");
}

// ---- load ----------------------------------------------------------------------------------

/// `(ok, failed)` from the capacity panel's "✓ 1000 ok  ✗ 0 failed" line.
fn capacity_counts(screen: &str) -> Option<(u32, u32)> {
    let re = regex::Regex::new(r"✓ (\d+) ok +✗ (\d+) failed").expect("valid regex");
    let c = re.captures(screen)?;
    Some((c[1].parse().ok()?, c[2].parse().ok()?))
}

#[test]
fn a_storm_of_1000_connections_keeps_the_dashboard_responsive_and_bounded() {
    const N: u32 = 1000;
    const RSS_LIMIT_KB: u64 = 200 * 1024;
    let svc = Services::start();
    // Room for every connection of the test plus the probes' own. Each is held 5 s, so the
    // key below lands while they are open even on a slow machine.
    let sim = svc
        .rt
        .block_on(SimDb::start(N + 50))
        .expect("simulated database");
    let url = format!(
        "postgres://app@127.0.0.1:{}/app?sslmode=disable",
        sim.addr().port()
    );
    let n = N.to_string();
    let mut p = watch(
        &url,
        &svc,
        &["--capacity", &n, "--force", "--hold", "5s"],
        &[],
    );
    wait_attempts(&p, 2, FIRST);
    let mut peak = procfs::status_kib(p.pid(), "VmRSS").expect("the dashboard's memory");
    let before = peak;
    p.key('c');
    p.expect_text("test #1 running", Duration::from_secs(10));
    // A key in the middle of the storm: the mask shows in the header while the test still
    // runs in the same frame. A functional bound, generous for a loaded 2-core machine.
    p.key('m');
    let during = p
        .wait_for(Duration::from_secs(5), |s| s.contains("‹host›"))
        .unwrap_or_else(|s| panic!("no reaction to a key during the storm:\n{s}"));
    assert!(
        during.contains("test #1 running"),
        "the key was answered after the storm, not during it:\n{during}"
    );
    let done = p
        .wait_for(Duration::from_secs(60), |s| {
            peak = peak.max(procfs::status_kib(p.pid(), "VmRSS").unwrap_or(0));
            s.contains("test #1 ·") && s.contains("took")
        })
        .unwrap_or_else(|s| panic!("the capacity test did not finish:\n{s}"));
    let (ok, failed) = capacity_counts(&done).unwrap_or_else(|| panic!("no counts:\n{done}"));
    assert!(done.contains(&format!("tried {N} of {N}")), "{done}");
    // The simulated server has a slot for every one of them: each must have connected.
    assert_eq!((ok, failed), (N, 0), "{done}");
    assert!(
        peak < RSS_LIMIT_KB,
        "resident memory {peak} kB (was {before} kB before the storm)"
    );
    p.key('q');
    assert_exited_and_restored(&mut p, 0, "q after the storm");
    let mut left = sim.in_use();
    for _ in 0..50 {
        if left == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        left = sim.in_use();
    }
    assert_eq!(left, 0, "sessions left open on the simulated database");
}
