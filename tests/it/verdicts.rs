//! Issue 11's list, each reproduced as its opposite through the real binary: situations in
//! which connscope used to say PASS (exit 0) and must not. Real logs from the corpus, real
//! PostgreSQL, real HTTP servers on loopback.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::Value;

use crate::common::dashboard::spawn_at;
use crate::common::fault_bin::{self, Guard, Run, wait_output};
use crate::common::http_servers::{Server, serve};
use crate::common::init;
use crate::common::pg::TempPg;

/// Bounds that only catch a hang.
const LIMIT: Duration = Duration::from_secs(60);

fn corpus(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/startup")
        .join(name)
        .display()
        .to_string()
}

fn sample() -> String {
    format!(
        "{}/tests/fixtures/recordings/outage.jsonl",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    fault_bin::run(args, env, LIMIT)
}

/// `check --env staging --only startup --startup-log LOG`.
fn startup_check_args(log: &str) -> [&str; 7] {
    [
        "check",
        "--env",
        "staging",
        "--only",
        "startup",
        "--startup-log",
        log,
    ]
}

/// `check --env staging --only startup --startup-log LOG --format json`, then `extra`.
fn check_startup_log(log: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let args = startup_check_args(log);
    run(&[&args[..], &["--format", "json"], extra].concat(), env)
}

fn reasons(v: &Value) -> Vec<String> {
    v["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn any_reason(v: &Value, part: &str) -> bool {
    reasons(v).iter().any(|r| r.contains(part))
}

/// A check's JSON that is not a pass, with the exit code the JSON says.
fn not_a_pass(r: &Run, code: i32) -> Value {
    assert_eq!(r.code, Some(code), "{}", r.all_output());
    let v = r.json();
    assert_ne!(v["verdict"], "pass", "{v:#}");
    assert_eq!(v["exit_code"], code, "{v:#}");
    v
}

// ---- the outage's own restart loop, and a phase that never ends ------------------------------

#[test]
fn a_restart_loop_fails_while_the_newest_run_is_back_in_phase_3() {
    let log = corpus("restart_loop.log");
    let v = not_a_pass(&check_startup_log(&log, &[], &[]), 2);
    assert_eq!(v["verdict"], "fail");
    assert!(
        any_reason(&v, "startup: restart loop — 1 failed run"),
        "{v:#}"
    );
    let l = &v["startup"]["restart_loop"];
    assert_eq!(l["failed_runs"], serde_json::json!([1]), "{l}");
    assert_eq!(l["active"], true);
    assert_eq!(v["startup"]["runs"], 2);
    assert_eq!(v["startup"]["previous_runs"][0]["exit_code"], 3);
    assert_eq!(v["startup_log"]["format"], "text");
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|x| x["rule"].as_str()).collect())
        .unwrap_or_default();
    assert!(rules.contains(&"outage_signature"), "{rules:?}");
    let text = run(&startup_check_args(&log), &[]);
    assert_eq!(text.code, Some(2));
    assert!(
        text.stdout.contains("\nVerdict: FAIL (exit 2)\n"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_phase_that_never_ends_is_stalled() {
    let log = corpus("hung_phase.jsonl");
    let v = not_a_pass(&check_startup_log(&log, &[], &[]), 2);
    let phase3 = &v["startup"]["phases"][2];
    assert_eq!(phase3["verdict"], "stalled", "{phase3}");
    // Aged to the run's end by the wall clock: the log's last line is more than a day old.
    assert!(
        phase3["duration_s"].as_f64().is_some_and(|d| d > 86_400.0),
        "{phase3}"
    );
    assert!(any_reason(&v, "startup phase 3 database stalled"), "{v:#}");
}

/// Python logging prints local time with no zone. On a machine 5 h west of UTC (POSIX
/// `TZ=XYZ+5`: no zone database needed), a phase 3 begun 30 s ago is 30 s old read in the
/// zone it was written in (`--log-timezone local`, or the offset), and five hours old —
/// stalled — read as UTC, the default (a container's logs).
#[test]
fn a_zone_less_log_is_read_in_the_zone_it_was_written_in() {
    let dir = tempfile::tempdir().expect("tmp");
    let west_log = python_log_begun_30s_ago(dir.path(), "west.log", -5);
    let check =
        |log: &str, extra: &[&str], env: &[(&str, &str)]| check_startup_log(log, extra, env).json();
    let phase3 = |extra: &[&str], env: &[(&str, &str)]| {
        check(&west_log, extra, env)["startup"]["phases"][2].clone()
    };
    let west = [("TZ", "XYZ+5")];
    for (extra, env) in [
        (&["--log-timezone", "local"][..], &west[..]),
        (&["--log-timezone", "-05:00"][..], &[][..]),
    ] {
        let p = phase3(extra, env);
        assert_eq!(p["verdict"], "running", "{extra:?}: {p}");
        let d = p["duration_s"].as_f64().unwrap_or(-1.0);
        assert!((25.0..600.0).contains(&d), "{extra:?}: {p}");
    }
    let as_utc = phase3(&[], &west);
    assert_eq!(as_utc["verdict"], "stalled", "{as_utc}");
    assert!(
        as_utc["duration_s"]
            .as_f64()
            .is_some_and(|d| d > 4.9 * 3600.0),
        "{as_utc}"
    );

    // East of UTC the same mistake puts the log five hours in the future, where a phase never
    // ages: not a pass, and the reason says why.
    let east_log = python_log_begun_30s_ago(dir.path(), "east.log", 5);
    let ahead = "ahead of this machine's clock";
    let v = check(&east_log, &[], &[]);
    assert_ne!(v["verdict"], "pass", "{v:#}");
    assert!(any_reason(&v, ahead), "{v:#}");
    let v = check(&east_log, &["--log-timezone", "+05:00"], &[]);
    assert!(!any_reason(&v, ahead), "{v:#}");
    assert_eq!(v["startup"]["phases"][2]["verdict"], "running", "{v:#}");
}

/// `local` follows the machine's daylight-saving rules (a POSIX `TZ`, US rules): summer is
/// UTC−4, the hour the clocks skip is read with the offset before the skip, and the hour that
/// happens twice is its first pass.
#[test]
fn local_time_follows_daylight_saving_through_its_skipped_and_repeated_hours() {
    let dir = tempfile::tempdir().expect("tmp");
    let rec = dir.path().join("run.jsonl");
    for (written, meant) in [
        ("2026-07-01 12:00:00,000", "2026-07-01T16:00:00Z"),
        ("2026-03-08 02:30:00,000", "2026-03-08T07:30:00Z"),
        ("2026-11-01 01:30:00,000", "2026-11-01T05:30:00Z"),
    ] {
        let log = dir.path().join("startup.log");
        let line = format!("{written} INFO app.startup: Phase 1/7 init: started\n");
        std::fs::write(&log, line).expect("write the log");
        let args = [
            "check",
            "--only",
            "startup",
            "--startup-log",
            log.to_str().expect("utf8"),
            "--log-timezone",
            "local",
            "--record",
            rec.to_str().expect("utf8"),
        ];
        run(&args, &[("TZ", "XST5XDT,M3.2.0,M11.1.0")]);
        let recorded = std::fs::read_to_string(&rec).expect("recorded");
        let ts = recorded
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["kind"] == "startup_phase")
            .map(|v| v["ts"].clone());
        assert_eq!(ts, Some(Value::from(meant)), "{written}");
    }
}

/// A Python-logging startup log written on a machine `offset_h` hours east of UTC, in its
/// local time with no zone: phases 1 and 2 done, phase 3 begun 30 s ago.
fn python_log_begun_30s_ago(dir: &Path, name: &str, offset_h: i64) -> String {
    let wall = chrono::Utc::now().naive_utc() + chrono::TimeDelta::hours(offset_h);
    let at = |ago: i64| {
        (wall - chrono::TimeDelta::seconds(ago))
            .format("%Y-%m-%d %H:%M:%S,%3f")
            .to_string()
    };
    let lines = [
        format!("{} INFO app.startup: Phase 1/7 init: started", at(33)),
        format!("{} INFO app.startup: Phase 1/7 init: completed", at(32)),
        format!(
            "{} INFO app.startup: Phase 2/7 dependencies: started",
            at(32)
        ),
        format!(
            "{} INFO app.startup: Phase 2/7 dependencies: completed",
            at(30)
        ),
        format!("{} INFO app.startup: Phase 3/7 database: started", at(30)),
    ];
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write the log");
    path.display().to_string()
}

/// A log whose phase 3 began `ago` before now, phases 1 and 2 done.
fn log_started(dir: &Path, ago: Duration) -> PathBuf {
    let now = chrono::Utc::now();
    let at = |d: Duration| (now - chrono::Duration::from_std(d).unwrap_or_default()).to_rfc3339();
    let lines = [
        format!(
            r#"{{"timestamp":"{}","phase":1,"status":"started"}}"#,
            at(ago + Duration::from_secs(3))
        ),
        format!(
            r#"{{"timestamp":"{}","phase":1,"status":"completed"}}"#,
            at(ago + Duration::from_secs(2))
        ),
        format!(
            r#"{{"timestamp":"{}","phase":2,"status":"started"}}"#,
            at(ago + Duration::from_secs(2))
        ),
        format!(
            r#"{{"timestamp":"{}","phase":2,"status":"completed"}}"#,
            at(ago)
        ),
        format!(
            r#"{{"timestamp":"{}","phase":3,"status":"started"}}"#,
            at(ago)
        ),
    ];
    let path = dir.join("startup.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write the log");
    path
}

/// `3 database  ████  12.3/90s`: the time the dashboard shows for phase 3.
fn phase3_shown(screen: &str) -> Option<f64> {
    let re = regex::Regex::new(r"3 database\D*?(\d+\.\d)/90 ?s").expect("valid regex");
    screen
        .lines()
        .find_map(|l| re.captures(l))
        .and_then(|c| c[1].parse().ok())
}

#[test]
fn the_dashboard_ages_a_running_phase_with_the_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = log_started(dir.path(), Duration::from_secs(5));
    let log = log.display().to_string();
    let mut p = spawn_at(
        &[
            "watch",
            "--env",
            "staging",
            "--only",
            "startup",
            "--startup-log",
            &log,
        ],
        &[],
        160,
        50,
    );
    let first = p
        .wait_for(LIMIT, |s| phase3_shown(s).is_some_and(|t| t >= 4.0))
        .unwrap_or_else(|s| panic!("phase 3 is not shown running for 5 s:\n{s}"));
    let first = phase3_shown(&first).unwrap_or_default();
    // No new line in the log: the clock alone moves it.
    let later = p
        .wait_for(LIMIT, |s| phase3_shown(s).is_some_and(|t| t >= first + 2.0))
        .unwrap_or_else(|s| panic!("phase 3 stayed at {first} s:\n{s}"));
    assert!(later.contains("… running"), "{later}");
    p.key('q');
    assert!(p.wait_exit(Duration::from_secs(15)).is_some(), "q ends it");
}

// ---- no evidence at all ----------------------------------------------------------------------

#[test]
fn a_startup_log_that_does_not_exist_is_no_evidence() {
    let r = run(
        &[
            "check",
            "--only",
            "startup",
            "--startup-log",
            "/nonexistent/startup.log",
            "--format",
            "json",
        ],
        &[],
    );
    let v = not_a_pass(&r, 1);
    assert!(
        any_reason(
            &v,
            "startup: no evidence — cannot open startup log /nonexistent/startup.log"
        ),
        "{v:#}"
    );
    assert_eq!(v["evidence"][0]["status"], "missing", "{v:#}");
}

/// A child that is killed if the test ends before it does.
#[test]
fn standard_input_that_never_ends_is_no_evidence() {
    let child = fault_bin::command()
        .args([
            "check",
            "--only",
            "startup",
            "--startup-log",
            "-",
            "--format",
            "json",
        ])
        // The whole startup budget bounds how long `check` waits for the log to end.
        .env("CONNSCOPE_STARTUP__TOTAL_BUDGET", "2s")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start connscope");
    let mut g = Guard(child);
    // Held open, never written: the stream neither ends nor teaches anything.
    let stdin = g.0.stdin.take();
    let (code, out, err) = wait_output(g, LIMIT);
    drop(stdin);
    assert_eq!(code, Some(1), "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    assert_eq!(v["verdict"], "warn");
    assert!(any_reason(&v, "startup: no evidence — "), "{v:#}");
    assert!(any_reason(&v, "nothing was measured"), "{v:#}");
}

#[test]
fn a_recording_without_events_and_an_empty_window_are_no_evidence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let header = std::fs::read_to_string(sample())
        .expect("the sample")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let empty = dir.path().join("header-only.jsonl");
    std::fs::File::create(&empty)
        .and_then(|mut f| writeln!(f, "{header}"))
        .expect("write");
    let empty = empty.display().to_string();
    for args in [
        vec!["report", empty.as_str(), "--format", "json"],
        vec![
            "report",
            &sample(),
            "--from",
            "10m",
            "--to",
            "11m",
            "--format",
            "json",
        ],
    ] {
        let r = run(&args, &[]);
        let v = not_a_pass(&r, 1);
        assert_eq!(
            reasons(&v),
            ["nothing was measured: no probe produced a result"],
            "{args:?}"
        );
    }
}

// ---- a crashed probe -------------------------------------------------------------------------

#[test]
fn a_probe_that_crashes_is_never_a_pass() {
    // The debug build's drill panics the database probe as it starts, in the real binary.
    let r = run(
        &[
            "check",
            "--db-url",
            "postgres://app@127.0.0.1:1/app",
            "--only",
            "db",
            "--format",
            "json",
        ],
        &[
            ("RUST_BACKTRACE", "0"),
            ("CONNSCOPE_DEBUG_PANIC", "probe:db"),
        ],
    );
    let v = not_a_pass(&r, 2);
    assert!(
        any_reason(
            &v,
            "db probe crashed (panicked: panic drill: the db probe panicked"
        ),
        "{v:#}"
    );
    assert_eq!(v["evidence"][0]["status"], "crashed");
}

// ---- an interrupted check --------------------------------------------------------------------

#[test]
fn sigint_during_a_capacity_hold_is_exit_130_and_says_so() {
    let pg = TempPg::start();
    let url = pg.url("app", "app");
    for format in ["json", "text"] {
        let child = fault_bin::command()
            .args([
                "check",
                "--db-url",
                &url,
                "--only",
                "capacity",
                "--capacity",
                "10",
                "--hold",
                "30s",
                "--format",
                format,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start connscope");
        let g = Guard(child);
        assert!(
            pg.wait_sessions_at_least("connscope", 10, LIMIT) >= 10,
            "the test never held its connections"
        );
        let pid = libc::pid_t::try_from(g.0.id()).expect("a pid");
        // SAFETY: signalling our own child, which the guard has not reaped yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
        let (code, out, err) = wait_output(g, LIMIT);
        assert_eq!(code, Some(130), "{format}: {out}{err}");
        if format == "json" {
            let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
            assert_eq!(v["interrupted"], true);
            assert_eq!(v["exit_code"], 130);
            assert_ne!(v["verdict"], "pass", "{v:#}");
            assert!(
                any_reason(&v, "interrupted: the run was stopped by a signal"),
                "{v:#}"
            );
            assert!(any_reason(&v, "capacity: no evidence"), "{v:#}");
        } else {
            assert!(out.contains("INTERRUPTED by a signal"), "{out}");
            assert!(out.contains("(exit 130)"), "{out}");
        }
        assert_eq!(
            pg.wait_sessions_gone("connscope"),
            0,
            "{format}: connections left"
        );
    }
}

// ---- a service that is still starting, or degraded ------------------------------------------

async fn health_server(status: StatusCode, body: &'static str) -> Server {
    init();
    serve(Router::new().route("/health", get(move || async move { (status, body) }))).await
}

async fn check_endpoint(s: &Server, tries: &str) -> Run {
    let ep = format!("backend={}", s.url());
    let tries = tries.to_string();
    tokio::task::spawn_blocking(move || {
        run(
            &[
                "check",
                "--only",
                "http",
                "--endpoint",
                &ep,
                "--tries",
                &tries,
                "--tries-interval",
                "100ms",
                "--format",
                "json",
            ],
            &[],
        )
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_that_is_still_starting_is_starting_not_a_startup_failure() {
    let s = health_server(
        StatusCode::SERVICE_UNAVAILABLE,
        r#"{"status":"starting","phase":3,"phase_name":"database","message":"database initialization in progress"}"#,
    )
    .await;
    let r = check_endpoint(&s, "1").await;
    let v = not_a_pass(&r, 1);
    assert!(
        any_reason(
            &v,
            "backend /health: starting (phase 3 database), not serving yet"
        ),
        "{v:#}"
    );
    assert!(!any_reason(&v, "startup failure"), "{v:#}");
    let check = &v["endpoints"][0]["checks"][0];
    assert_eq!(check["health"], "starting");
    assert_eq!(check["startup_failure"], false);
    assert!(
        v["findings"].as_array().is_some_and(|f| f.is_empty()),
        "{v:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_degraded_service_is_unhealthy_and_one_try_is_not_intermittent() {
    let s = health_server(
        StatusCode::SERVICE_UNAVAILABLE,
        r#"{"status":"degraded","database":"unreachable"}"#,
    )
    .await;
    let r = check_endpoint(&s, "1").await;
    let v = not_a_pass(&r, 2);
    assert!(
        any_reason(&v, "backend /health: HTTP 503 (unhealthy)"),
        "{v:#}"
    );
    assert!(!any_reason(&v, "intermittent"), "{v:#}");
    assert!(!any_reason(&v, "startup failure"), "{v:#}");
    assert_eq!(v["endpoints"][0]["paths"][0]["health"], "unhealthy");
}

/// Spring Boot's actuator shape answered with 200: the body says DOWN, and that is believed —
/// the endpoint is unhealthy, not up, on every output.
#[tokio::test(flavor = "multi_thread")]
async fn a_200_whose_body_says_down_is_unhealthy() {
    let s = health_server(
        StatusCode::OK,
        r#"{"status":"DOWN","components":{"db":{"status":"DOWN"}}}"#,
    )
    .await;
    let r = check_endpoint(&s, "1").await;
    let v = not_a_pass(&r, 2);
    assert!(
        any_reason(&v, "backend /health: HTTP 200 (unhealthy)"),
        "{v:#}"
    );
    assert_eq!(v["endpoints"][0]["paths"][0]["health"], "unhealthy");
}

/// FastAPI answers `/health` with 307 → `/health/` when the route was declared with a slash.
/// Not followed (a second request would have its own steps), and not a bare "HTTP 307": the
/// reason says where it points, so the fix is in sight.
#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_says_where_it_points() {
    init();
    let redirect = || async {
        (
            StatusCode::TEMPORARY_REDIRECT,
            [(axum::http::header::LOCATION, "/health/")],
        )
    };
    let s = serve(Router::new().route("/health", get(redirect))).await;
    let r = check_endpoint(&s, "1").await;
    let v = not_a_pass(&r, 2);
    assert!(
        any_reason(
            &v,
            "backend /health: HTTP 307 → /health/ (a redirect, not followed"
        ),
        "{v:#}"
    );
}

// ---- logs real services print ----------------------------------------------------------------

#[test]
fn a_fastapi_services_log_is_understood_without_configuration() {
    let log = corpus("fastapi_uvicorn.log");
    let r = check_startup_log(&log, &[], &[]);
    let v = not_a_pass(&r, 2);
    let verdicts: Vec<&str> = v["startup"]["phases"]
        .as_array()
        .map(|p| p.iter().filter_map(|x| x["verdict"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        verdicts,
        [
            "pass",
            "pass",
            "failed",
            "not_reached",
            "not_reached",
            "not_reached",
            "not_reached"
        ]
    );
    assert_eq!(v["startup"]["exit_code"], 3);
    assert_eq!(v["startup_log"]["format"], "text");
}

/// The same service under systemd, followed with `journalctl -u backend -o short-iso`: the
/// journal's `+0000` dates, systemd's `code=exited, status=3/NOTIMPLEMENTED` as the exit (not a
/// logfmt record), and its restart as the next run: a restart loop, by the log's own clock.
#[test]
fn a_systemd_journal_shows_the_exit_and_the_restart_loop() {
    let iso = corpus("systemd_journal.log");
    // journalctl's default output: `Nov 29 04:12:47`, no year and no zone.
    let dir = tempfile::tempdir().expect("tmp");
    let short = dir.path().join("journal-short.log");
    let text = std::fs::read_to_string(&iso).expect("fixture");
    let re = regex::Regex::new(r"(?m)^2026-11-29T(\d\d:\d\d:\d\d)\+0000").expect("valid");
    std::fs::write(&short, re.replace_all(&text, "Nov 29 $1").as_ref()).expect("write");
    for log in [iso, short.display().to_string()] {
        let v = not_a_pass(&check_startup_log(&log, &[], &[]), 2);
        let st = &v["startup"];
        assert_eq!(st["runs"], 2, "{log}: {st:#}");
        assert_eq!(st["exit_code"], 3, "{log}: {st:#}");
        assert_eq!(st["phases"][2]["verdict"], "failed", "{log}: {st:#}");
        assert_eq!(st["phases"][2]["duration_s"], 75.0, "{log}: {st:#}");
        assert_eq!(st["previous_runs"][0]["exit_code"], 3, "{log}: {st:#}");
        // Without a year the year is the nearest one to now: the day and time are the log's.
        let began = st["previous_runs"][0]["started_at"].as_str().unwrap_or("");
        assert!(began.ends_with("-11-29T04:12:47Z"), "{log}: {st:#}");
        assert_eq!(st["restart_loop"]["active"], true, "{log}: {st:#}");
        assert!(any_reason(&v, "restart"), "{log}: {v:#}");
    }
}

/// The same service under gunicorn with uvicorn workers: every line dated `[… +0000]`, the
/// exit said by the arbiter. Phases are timed by the log's own clock — an old file read now
/// still shows phase 3 failing after its 75 s, not after 0 s at the moment it was read.
#[test]
fn a_gunicorn_log_is_timed_by_its_own_timestamps() {
    let log = corpus("gunicorn_uvicorn_workers.log");
    let v = not_a_pass(&check_startup_log(&log, &[], &[]), 2);
    let p = &v["startup"]["phases"];
    assert_eq!(p[2]["verdict"], "failed", "{p}");
    assert_eq!(p[2]["duration_s"], 75.0, "{p}");
    assert_eq!(p[1]["duration_s"], 1.0, "{p}");
    assert_eq!(v["startup"]["total_s"], 76.0, "{v:#}");
    assert_eq!(v["startup"]["exit_code"], 3);
}
