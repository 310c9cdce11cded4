//! Incident review: `report` and `replay` of recordings, through the real binary where the user
//! would use it. A recording of a `check` must report exactly what the run reported; damaged
//! recordings still report; things that are not recordings are refused in one line.

use crate::common;
mod sample;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::fault_bin;
use common::pg::{PgOptions, TempPg};
use serde_json::Value;

fn run(args: &[&str]) -> Output {
    fault_bin::command()
        .args(args)
        .output()
        .expect("run connscope")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o.stdout)))
}

fn sample() -> &'static str {
    sample::PATH
}

fn report(file: &str, extra: &[&str]) -> Output {
    run(&[&["report", file][..], extra].concat())
}

/// A copy of the sample with `edit` applied to its bytes, in `dir`.
fn edited(dir: &Path, name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(sample()).expect("sample");
    edit(&mut bytes);
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

fn one_line(o: &Output) -> String {
    let err = text(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

// ---- the sample recording ------------------------------------------------------------------

#[test]
fn the_committed_sample_recording_is_what_the_generator_builds() {
    let built = sample::build();
    if std::env::var_os("CONNSCOPE_UPDATE_FIXTURES").is_some() {
        std::fs::write(sample(), &built).expect("rewrite the sample");
    }
    let committed = std::fs::read_to_string(sample()).unwrap_or_default();
    assert!(
        committed == built,
        "tests/fixtures/recordings/outage.jsonl is stale; run CONNSCOPE_UPDATE_FIXTURES=1 cargo test review::sample"
    );
    let rec = connscope::record::read(Path::new(sample())).expect("reads");
    assert_eq!((rec.skipped, rec.notes.len()), (0, 0));
    assert_eq!(rec.events.len(), sample::events().len());
}

#[test]
fn markdown_of_the_outage_has_the_phase_table_timeline_and_targets() {
    let o = report(sample(), &["--format", "markdown"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let md = text(&o.stdout);
    for want in [
        "# Incident report — staging (Cloud SQL)",
        "| Source | recording outage.jsonl (watch, connscope 0.1.0) |",
        "| Window | 2026-11-25 09:59:59 UTC → 2026-11-25 10:03:44 UTC (3 min 45 s) |",
        "## Verdict: ❌ FAIL (exit 2)",
        "## Timeline",
        "| +40 s | 10:00:39.900 | 🚨 raised infrastructure | alert |",
        "| +1 min 54 s | 10:01:53.900 | 🚨 raised critical | alert |",
        "| 3 database | 90 s | 75.0 s | ❌ failed | database initialization timeout after 75.0s |",
        "| 4 cache | 20 s | — | ➖ not reached |",
        "exit code 3; 2 runs (1 restart)",
        "| Earlier run | Started (UTC) | Failed phase |",
        "| backend | `/health` | ❌ 503 | 118 ms | 3 of 3 | consistent failure |",
        "## Capacity test",
        "## Database initialization",
        "## Diagnosis",
        "| > 90 % connection success rate | 25 % (last 8) | ❌ missed |",
        "| < 5 s health endpoint response | 131 ms slowest | ✅ met |",
    ] {
        assert!(md.contains(want), "missing {want:?} in:\n{md}");
    }
}

fn junit_doc(xml: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not XML ({e}):\n{xml}"))
}

/// (suite, test case) → "passed" / "failure" / "skipped".
fn junit_outcomes(doc: &roxmltree::Document<'_>) -> Vec<(String, String, &'static str)> {
    let mut out = Vec::new();
    for s in doc.descendants().filter(|n| n.has_tag_name("testsuite")) {
        let suite = s.attribute("name").unwrap_or_default().to_string();
        for c in s.children().filter(|n| n.has_tag_name("testcase")) {
            let has = |t: &str| c.children().any(|n| n.has_tag_name(t));
            let outcome = if has("failure") {
                "failure"
            } else if has("skipped") {
                "skipped"
            } else {
                "passed"
            };
            let name = c.attribute("name").unwrap_or_default().to_string();
            out.push((suite.clone(), name, outcome));
        }
    }
    out
}

#[test]
fn junit_of_the_outage_has_the_plan_categories_and_the_expected_failures() {
    let o = report(sample(), &["--format", "junit"]);
    assert_eq!(o.status.code(), Some(2));
    let xml = text(&o.stdout);
    let doc = junit_doc(&xml);
    let root = doc.root_element();
    assert!(root.has_tag_name("testsuites"));
    let outcomes = junit_outcomes(&doc);
    let get = |suite: &str, case: &str| {
        outcomes
            .iter()
            .find(|(s, c, _)| s == suite && c == case)
            .map(|(_, _, o)| *o)
            .unwrap_or_else(|| panic!("no {suite}/{case} in {outcomes:?}"))
    };
    let expected = [
        (
            "configuration",
            "initialization timeout meets the Cloud SQL regression minimum",
            "passed",
        ),
        (
            "configuration",
            "connection timeout meets the Cloud SQL regression minimum",
            "passed",
        ),
        (
            "configuration",
            "capacity test stays within the safety cap",
            "passed",
        ),
        ("integration", "database connection success rate", "failure"),
        ("integration", "average database connection time", "failure"),
        ("integration", "database timeout-violation rate", "failure"),
        (
            "integration",
            "database initialization within its timeout",
            "failure",
        ),
        ("integration", "concurrent capacity test", "failure"),
        ("e2e", "backend GET /health healthy", "failure"),
        ("e2e", "auth GET /health/database healthy", "failure"),
        ("e2e", "health endpoints answer in time", "passed"),
        (
            "e2e",
            "websocket wss://backend.staging.example.com/ws answers a ping",
            "failure",
        ),
        ("e2e", "startup phase 1 init within 1 s", "passed"),
        ("e2e", "startup phase 3 database within 90 s", "failure"),
        ("e2e", "startup phase 7 finalize within 10 s", "skipped"),
        ("e2e", "whole startup sequence within budget", "failure"),
    ];
    for (suite, case, want) in expected {
        assert_eq!(get(suite, case), want, "{suite}/{case}");
    }
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|s| {
            let n = |a: &str| s.attribute(a).and_then(|v| v.parse::<usize>().ok());
            (
                s.attribute("name").unwrap_or_default(),
                n("tests"),
                n("failures"),
                n("skipped"),
            )
        })
        .collect();
    assert_eq!(
        suites,
        [
            ("configuration", Some(3), Some(0), Some(0)),
            ("integration", Some(6), Some(5), Some(1)),
            ("e2e", Some(17), Some(10), Some(4)),
        ]
    );
    // Both runs failed the same way: a restart loop, its own failing case.
    assert_eq!(
        get("e2e", "the service starts without a restart loop"),
        "failure"
    );
    assert!(
        xml.contains("exited with code 3 (restart loop: 1 failed run before run #2)"),
        "{xml}"
    );
}

#[test]
fn json_and_text_reports_agree_on_the_verdict() {
    let o = report(sample(), &["--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["database"]["summary"]["attempts"], 8);
    assert_eq!(v["startup"]["runs"], 2);
    let o = report(sample(), &["--format", "text"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stdout).contains("Verdict: FAIL (exit 2)"));
}

// ---- --from / --to -------------------------------------------------------------------------

#[test]
fn a_window_applies_only_its_events() {
    // The first minute: two good attempts and one timeout, phase 3 still running.
    let o = report(sample(), &["--format", "json", "--to", "60s"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    let v = json(&o);
    assert_eq!(v["database"]["summary"]["attempts"], 3);
    assert_eq!(v["alerts"][0]["level"], "infrastructure");
    assert_eq!(v["startup"]["phases"][2]["verdict"], "running");
    // RFC 3339 and offsets mix; nothing before --from is applied.
    let o = report(
        sample(),
        &[
            "--format",
            "json",
            "--from",
            "100s",
            "--to",
            "2026-11-25T10:03:00Z",
        ],
    );
    let v = json(&o);
    assert_eq!(v["database"]["summary"]["attempts"], 2);
    assert_eq!(v["database"]["attempts"][0]["seq"], 5);
    assert_eq!(v["started_at"], "2026-11-25T10:01:40Z");
    let md = text(&report(sample(), &["--from", "100s", "--to", "3m"]).stdout);
    assert!(
        md.contains("| Window | 2026-11-25 10:01:39 UTC → 2026-11-25 10:02:59 UTC (1 min 20 s) |"),
        "{md}"
    );
}

#[test]
fn a_bad_window_is_a_usage_error() {
    for args in [
        &["--from", "soon"][..],
        &["--to", "yesterday"],
        &["--from", "5m", "--to", "1m"],
    ] {
        let o = report(sample(), args);
        assert_eq!(o.status.code(), Some(64), "{args:?}");
        let err = one_line(&o);
        assert!(err.contains("--from") || err.contains("--to"), "{err}");
    }
}

// ---- damaged and foreign files -------------------------------------------------------------

#[test]
fn damaged_recordings_still_report_with_a_skipped_count() {
    let dir = tempfile::tempdir().expect("tmp");
    let lines = |b: &[u8]| b.split(|c| *c == b'\n').count();
    let replace_line = |b: &mut Vec<u8>, no: usize, with: &[u8]| {
        let mut parts: Vec<Vec<u8>> = b.split(|c| *c == b'\n').map(<[u8]>::to_vec).collect();
        parts[no - 1] = with.to_vec();
        *b = parts.join(&b'\n');
    };
    type Edit = Box<dyn FnOnce(&mut Vec<u8>)>;
    let cases: Vec<(&str, Edit, String)> = vec![
        (
            "truncated.jsonl",
            Box::new(|b: &mut Vec<u8>| b.truncate(b.len() - 40)),
            format!(
                "skipped 1 unreadable line (first at line {}; the last line was cut off)",
                lines(&std::fs::read(sample()).unwrap_or_default()) - 1
            ),
        ),
        (
            "corrupt.jsonl",
            Box::new(move |b: &mut Vec<u8>| replace_line(b, 10, b"{\"at\":\"2026-11-25T10:00:3")),
            "skipped 1 unreadable line (first at line 10)".into(),
        ),
        (
            "binary.jsonl",
            Box::new(move |b: &mut Vec<u8>| replace_line(b, 7, b"\x00\xff\xfe\x1b[2J\xc3\x28")),
            "skipped 1 unreadable line (first at line 7)".into(),
        ),
        (
            "foreign.jsonl",
            Box::new(|b: &mut Vec<u8>| {
                b.extend_from_slice(
                    b"{\"level\":\"info\",\"msg\":\"log shipper\"}\n[1,2]\nplain text\n",
                )
            }),
            "skipped 3 unreadable lines (first at line".into(),
        ),
    ];
    for (name, edit, note) in cases {
        let path = edited(dir.path(), name, edit);
        let o = report(path.to_str().expect("utf8"), &["--format", "json"]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o.stderr));
        assert_eq!(json(&o)["verdict"], "fail", "{name}");
        let err = one_line(&o);
        assert!(
            err.starts_with(&format!("connscope: {}: {note}", path.display())),
            "{name}: {err}"
        );
        let md = text(&report(path.to_str().expect("utf8"), &[]).stdout);
        assert!(md.contains("unreadable recording line"), "{name}");
    }
}

#[test]
fn files_that_are_not_recordings_are_refused_with_exit_78() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases: [(&str, &[u8]); 5] = [
        ("empty.jsonl", b""),
        ("text.txt", b"hello\nworld\n"),
        ("other.json", b"{\"name\":\"x\",\"version\":\"1.0.0\"}\n"),
        ("config.toml", b"environment = \"staging\"\n"),
        ("binary.bin", b"\x7fELF\x02\x01\x01\x00\x00\x00"),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let o = report(path.to_str().expect("utf8"), &[]);
        assert_eq!(o.status.code(), Some(78), "{name}");
        let err = one_line(&o);
        assert!(err.contains("not a connscope recording"), "{name}: {err}");
        assert!(o.stdout.is_empty());
    }
    // Missing input is EX_NOINPUT (66), not a configuration error.
    let o = report("/nonexistent/incident.jsonl", &[]);
    assert_eq!(o.status.code(), Some(66));
    assert!(one_line(&o).contains("cannot read recording"));
}

#[test]
fn a_newer_recording_format_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = edited(dir.path(), "v2.jsonl", |b| {
        let text = String::from_utf8_lossy(b).replacen("\"version\":1", "\"version\":2", 1);
        *b = text.into_bytes();
    });
    let o = report(path.to_str().expect("utf8"), &[]);
    assert_eq!(o.status.code(), Some(78));
    assert_eq!(
        one_line(&o).trim_end(),
        format!(
            "connscope: {}: recording format version 2 is newer than this connscope understands (1); upgrade connscope",
            path.display()
        )
    );
}

// ---- round trip: a recorded check reports what the check reported --------------------------

/// `check --format json --record` then `report --format json`: the whole document must be the
/// same, timestamps included — they come from the events, not from when the report runs.
fn assert_round_trip(db_url: &str, attempts: &str) -> i32 {
    let dir = tempfile::tempdir().expect("tmp");
    let rec = dir.path().join("run.jsonl");
    let rec_s = rec.to_str().expect("utf8");
    let live = run(&[
        "check",
        "--db-url",
        db_url,
        "--attempts",
        attempts,
        "--interval",
        "20ms",
        "--format",
        "json",
        "--record",
        rec_s,
    ]);
    let code = live.status.code().expect("exit code");
    let replayed = report(rec_s, &["--format", "json"]);
    assert_eq!(
        replayed.status.code(),
        Some(code),
        "{}",
        text(&replayed.stderr)
    );
    assert!(replayed.stderr.is_empty(), "{}", text(&replayed.stderr));
    let (a, b) = (json(&live), json(&replayed));
    assert!(
        a == b,
        "report differs from the live run:\nlive:   {a:#}\nreport: {b:#}"
    );
    code
}

#[test]
fn a_recorded_check_reports_the_same_json_and_exit_code() {
    let pg = TempPg::start();
    assert_eq!(assert_round_trip(&pg.url("app", "app"), "3"), 0);
    let closed_port = common::ClosedPort::new();
    let port = closed_port.port();
    let closed = format!("postgres://app@127.0.0.1:{port}/app?sslmode=disable");
    assert_eq!(assert_round_trip(&closed, "2"), 2);
}

#[test]
fn check_renders_markdown_and_junit_with_the_same_verdict() {
    let closed_port = common::ClosedPort::new();
    let port = closed_port.port();
    let closed = format!("postgres://app@127.0.0.1:{port}/app?sslmode=disable");
    let base = ["check", "--db-url", &closed, "--attempts", "1"];
    let o = run(&[&base[..], &["--format", "markdown"]].concat());
    assert_eq!(o.status.code(), Some(2));
    let md = text(&o.stdout);
    assert!(md.contains("## Verdict: ❌ FAIL (exit 2)"), "{md}");
    assert!(md.contains("| Source | live check |"));
    let o = run(&[&base[..], &["--format", "junit"]].concat());
    assert_eq!(o.status.code(), Some(2));
    let xml = text(&o.stdout);
    let outcomes = junit_outcomes(&junit_doc(&xml));
    assert!(outcomes.contains(&(
        "integration".into(),
        "database connection success rate".into(),
        "failure"
    )));
    // development is not a Cloud SQL environment: no minimum to judge against.
    assert!(outcomes.contains(&(
        "configuration".into(),
        "connection timeout meets the Cloud SQL regression minimum".into(),
        "skipped"
    )));
}

#[test]
fn no_secret_reaches_a_recording_or_any_report_of_it() {
    let secret = "pw-Rv93-review-never";
    let pg = TempPg::start_with(PgOptions {
        app_password: Some(secret),
        ..PgOptions::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    let rec = dir.path().join("rec.jsonl");
    let rec_s = rec.to_str().expect("utf8");
    for url in [
        format!(
            "postgres://app:{secret}@127.0.0.1:{}/app?sslmode=disable",
            pg.port
        ),
        format!(
            "postgres://app:{secret}@127.0.0.1:{}/nope?sslmode=disable",
            pg.port
        ),
    ] {
        let live = run(&[
            "check",
            "--db-url",
            &url,
            "--attempts",
            "1",
            "--record",
            rec_s,
        ]);
        let mut all = format!("{}{}", text(&live.stdout), text(&live.stderr));
        all.push_str(&std::fs::read_to_string(&rec).unwrap_or_default());
        for format in ["markdown", "json", "junit", "text"] {
            let o = report(rec_s, &["--format", format]);
            assert!(o.status.code().is_some_and(|c| c <= 2), "{format}");
            all.push_str(&text(&o.stdout));
            all.push_str(&text(&o.stderr));
        }
        assert!(!all.contains(secret), "leaked:\n{all}");
        assert!(all.contains("app:***@"), "the redacted target is shown");
    }
}

// ---- replay --------------------------------------------------------------------------------

#[test]
fn replay_without_a_terminal_is_a_usage_error_not_a_crash() {
    let o = run(&["replay", sample()]);
    assert_eq!(o.status.code(), Some(64));
    assert!(one_line(&o).contains("needs a terminal"));
    let o = run(&["replay", sample(), "--speed", "0"]);
    assert_eq!(o.status.code(), Some(64));
    assert!(one_line(&o).contains("--speed"));
    let o = run(&["replay", "/nonexistent/x.jsonl"]);
    assert_eq!(o.status.code(), Some(66));
}

mod driver {
    //! The replay driver on tokio's paused clock: sleeps take no real time and every wait is
    //! exact, so pacing is asserted to the millisecond.

    use std::time::Duration;

    use connscope::event::Event;
    use connscope::record::Recording;
    use connscope::replay::drive;
    use connscope::ui::feed::{Feed, ReplayClock, ReplayCtl};
    use tokio::sync::mpsc;
    use tokio::time::{Instant, timeout};
    use tokio_util::sync::CancellationToken;

    fn recording() -> Recording {
        connscope::record::read(std::path::Path::new(super::sample())).expect("sample reads")
    }

    struct Run {
        feed: mpsc::Receiver<Feed>,
        ctl: mpsc::Sender<ReplayCtl>,
        cancel: CancellationToken,
        task: tokio::task::JoinHandle<()>,
    }

    fn start(speed: f64) -> Run {
        let (feed_tx, feed) = mpsc::channel(8192);
        let (ctl, ctl_rx) = mpsc::channel(16);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(drive(recording(), speed, feed_tx, ctl_rx, cancel.clone()));
        Run {
            feed,
            ctl,
            cancel,
            task,
        }
    }

    /// Items up to and including the next clock (a control always ends with one).
    async fn until_clock(feed: &mut mpsc::Receiver<Feed>) -> (Vec<Feed>, ReplayClock) {
        let mut items = Vec::new();
        loop {
            let item = timeout(Duration::from_secs(60), feed.recv())
                .await
                .expect("the driver answers")
                .expect("the driver is running");
            if let Feed::Clock(c) = item {
                return (items, c);
            }
            items.push(item);
        }
    }

    fn events(items: &[Feed]) -> Vec<&Event> {
        items
            .iter()
            .filter_map(|f| match f {
                Feed::Event(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    /// Real time each event should wait at `speed`: the gap from the previous one (by the
    /// running maximum of event times), divided by speed, never more than 5 s (the documented
    /// cap, written out here so a change to it is noticed).
    fn expected_waits(rec: &Recording, speed: f64) -> Vec<f64> {
        let mut prev = rec.start();
        rec.events
            .iter()
            .map(|e| {
                let at = prev.max(e.at);
                let gap = (at - prev).num_microseconds().unwrap_or(0) as f64 / 1e6;
                prev = at;
                (gap / speed).min(5.0)
            })
            .collect()
    }

    async fn paced(speed: f64) {
        let rec = recording();
        let mut run = start(speed);
        drop(run.ctl);
        let t0 = Instant::now();
        let mut got: Vec<(Event, f64)> = Vec::new();
        let mut last_clock: Option<ReplayClock> = None;
        while let Some(item) = run.feed.recv().await {
            match item {
                Feed::Event(e) => got.push((e, t0.elapsed().as_secs_f64())),
                Feed::Clock(c) => {
                    if let Some(l) = last_clock {
                        assert!(c.at >= l.at, "the clock never goes back while playing");
                    }
                    last_clock = Some(c);
                }
                Feed::Reset(_) => panic!("no reset without a seek"),
            }
        }
        let sent: Vec<&Event> = got.iter().map(|(e, _)| e).collect();
        let want: Vec<&Event> = rec.events.iter().collect();
        assert_eq!(sent, want, "every event once, in file order");
        let mut prev = 0.0;
        for ((e, at), wait) in got.iter().zip(expected_waits(&rec, speed)) {
            let waited = at - prev;
            assert!(
                (waited - wait).abs() < 0.002,
                "{} waited {waited} s, not {wait} s",
                e.at
            );
            prev = *at;
        }
        let end = last_clock.expect("clocks were sent");
        assert!(end.paused && end.at == end.end && end.end == rec.end());
        assert_eq!(end.speed, speed);
        run.task
            .await
            .expect("driver ends once it cannot be resumed");
    }

    #[tokio::test(start_paused = true)]
    async fn real_time_pacing_with_long_gaps_capped() {
        paced(1.0).await;
    }

    #[tokio::test(start_paused = true)]
    async fn faster_playback_divides_every_gap() {
        paced(8.0).await;
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_ticks_while_a_gap_plays() {
        let mut run = start(1.0);
        let (_, first) = until_clock(&mut run.feed).await;
        let (items, second) = until_clock(&mut run.feed).await;
        assert!(items.is_empty(), "no event is due 250 ms in");
        assert_eq!((second.at - first.at).num_milliseconds(), 250);
        assert!(!second.paused);
        run.cancel.cancel();
        run.task.await.expect("cancel ends the driver");
    }

    #[tokio::test(start_paused = true)]
    async fn controls_pause_step_seek_and_jump_to_alerts() {
        let rec = recording();
        let mut run = start(1.0);
        let (begin, c) = until_clock(&mut run.feed).await;
        assert!(begin.is_empty() && c.at == rec.start() && !c.paused);

        run.ctl.send(ReplayCtl::TogglePause).await.expect("send");
        let (items, c) = until_clock(&mut run.feed).await;
        assert!(items.is_empty() && c.paused);

        run.ctl.send(ReplayCtl::Step).await.expect("send");
        let (items, c) = until_clock(&mut run.feed).await;
        assert_eq!(events(&items), vec![&rec.events[0]]);
        assert!(c.paused && c.at == rec.events[0].at);

        // The first alert (infrastructure) is raised by the first timeout at +39.9 s.
        run.ctl.send(ReplayCtl::NextAlert).await.expect("send");
        let (items, c) = until_clock(&mut run.feed).await;
        let sent = events(&items);
        let first_timeout = rec
            .events
            .iter()
            .position(|e| e.at == sent[sent.len() - 1].at);
        assert_eq!(
            sent,
            rec.events[1..=first_timeout.expect("found")]
                .iter()
                .collect::<Vec<_>>()
        );
        assert_eq!(c.at, sent[sent.len() - 1].at);
        assert!(c.paused, "jumping keeps the play state");
        let after_first = c.at;

        run.ctl.send(ReplayCtl::NextAlert).await.expect("send");
        let (_, c) = until_clock(&mut run.feed).await;
        assert_eq!(
            (c.at - after_first).num_seconds(),
            74,
            "critical at +113.9 s"
        );

        run.ctl.send(ReplayCtl::Seek(-60)).await.expect("send");
        let (items, c) = until_clock(&mut run.feed).await;
        assert!(matches!(items[0], Feed::Reset(_)), "back: reset first");
        let replayed = events(&items[1..]);
        let upto = rec.events.iter().filter(|e| e.at <= c.at).count();
        assert_eq!(replayed, rec.events[..upto].iter().collect::<Vec<_>>());

        run.ctl.send(ReplayCtl::Faster).await.expect("send");
        let (_, c) = until_clock(&mut run.feed).await;
        assert_eq!(c.speed, 2.0);

        run.ctl.send(ReplayCtl::ToEnd).await.expect("send");
        let (items, c) = until_clock(&mut run.feed).await;
        assert_eq!(events(&items).len(), rec.events.len() - upto);
        assert!(c.paused && c.at == c.end);

        run.ctl.send(ReplayCtl::TogglePause).await.expect("send");
        let (_, c) = until_clock(&mut run.feed).await;
        assert!(c.paused, "stays paused at the end");

        run.ctl.send(ReplayCtl::ToStart).await.expect("send");
        let (items, c) = until_clock(&mut run.feed).await;
        assert!(matches!(items.first(), Some(Feed::Reset(_))));
        assert_eq!(c.at, c.start);

        run.cancel.cancel();
        run.task.await.expect("cancel ends the driver");
    }
}

mod fuzz {
    //! Recordings are input: hand-edited or corrupted numbers (negative timeouts, huge
    //! latencies, phases that do not exist, times far in the past) must never panic the
    //! report, any renderer, or the replay cursor.

    use chrono::{DateTime, Utc};
    use connscope::cli::Format;
    use connscope::event::*;
    use connscope::record::Recording;
    use connscope::replay::Player;
    use connscope::report::{Context, render};
    use connscope::state::State;
    use connscope::state::fixtures::{self, failure};
    use proptest::prelude::*;

    fn num() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            -1e6..1e6f64,
            Just(0.0),
            Just(-1.0),
            Just(1e300),
            Just(f64::MAX)
        ]
    }

    fn time() -> impl Strategy<Value = DateTime<Utc>> {
        prop_oneof![
            (-1e4..1e4f64).prop_map(fixtures::t),
            (-8_000_000_000_000i64..8_000_000_000_000i64)
                .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap_or_default()),
        ]
    }

    fn fail() -> impl Strategy<Value = Option<Failure>> {
        prop::option::of(
            (0usize..ErrorClass::ALL.len())
                .prop_map(|i| failure(ErrorClass::ALL[i], Step::Tcp, Some("53300"), "x")),
        )
    }

    fn body() -> impl Strategy<Value = EventBody> {
        prop_oneof![
            (any::<u64>(), any::<bool>(), num(), num(), fail()).prop_map(
                |(seq, ok, total_ms, timeout_ms, error)| {
                    EventBody::DbAttempt(DbAttempt {
                        seq,
                        ok,
                        total_ms,
                        steps_ms: DbSteps {
                            dns: Some(total_ms),
                            ..DbSteps::default()
                        },
                        timeout_ms,
                        error,
                        tries: Vec::new(),
                    })
                }
            ),
            (any::<bool>(), num(), num(), fail()).prop_map(
                |(ok, elapsed_ms, timeout_ms, error)| {
                    EventBody::Init(InitResult {
                        ok,
                        elapsed_ms,
                        timeout_ms,
                        steps_ms: DbSteps::default(),
                        warmup_ms: Some(elapsed_ms),
                        server_version: None,
                        server_max_connections: Some(0),
                        error,
                    })
                }
            ),
            (any::<u16>(), num(), "[a-z]{0,3}").prop_map(|(status, ms, name)| {
                fixtures::http(&name, "/health", status, ms, "startup failed <&>")
            }),
            (any::<u8>(), 0u8..3, time()).prop_map(|(phase, s, ts)| {
                let status = [
                    PhaseStatus::Started,
                    PhaseStatus::Completed,
                    PhaseStatus::Failed,
                ][usize::from(s)];
                EventBody::StartupPhase(StartupPhase {
                    source: StartupSource::Log,
                    phase,
                    name: "p".into(),
                    status,
                    ts,
                    message: None,
                })
            }),
            (any::<i32>(), time()).prop_map(|(code, ts)| {
                EventBody::StartupExit(StartupExit {
                    source: StartupSource::Rehearsal,
                    code,
                    ts,
                })
            }),
            (any::<u64>(), any::<u32>(), any::<u32>(), num()).prop_map(
                |(run, requested, cap, hold_ms)| {
                    EventBody::CapacityStarted(CapacityStarted {
                        run: run % 3,
                        requested,
                        planned: requested,
                        cap,
                        capped: false,
                        forced: true,
                        hold_ms,
                        server_max_connections: None,
                        server_connections_in_use: None,
                        server_reserved_connections: None,
                        headroom: None,
                    })
                }
            ),
            (any::<u64>(), any::<bool>(), num(), fail()).prop_map(
                |(run, ok, connect_ms, error)| {
                    EventBody::CapacityConn(CapacityConn {
                        run: run % 3,
                        index: 0,
                        ok,
                        connect_ms,
                        error,
                    })
                }
            ),
            (any::<u64>(), num()).prop_map(|(run, elapsed_ms)| {
                EventBody::CapacityFinished(CapacityFinished {
                    run: run % 3,
                    elapsed_ms,
                    aborted: true,
                    reason: Some("x".into()),
                })
            }),
            any::<bool>().prop_map(fixtures::ws),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn odd_numbers_in_a_recording_never_panic(
            events in prop::collection::vec((time(), body()), 0..24),
        ) {
            // Through the file format, as a real recording would arrive.
            let mut text = std::fs::read_to_string(super::sample())
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            for (at, body) in events {
                text.push('\n');
                text.push_str(&serde_json::to_string(&Event::at(at, body)).unwrap_or_default());
            }
            let rec: Recording = match connscope::record::parse(text.as_bytes(), "fuzz") {
                Ok(r) => r,
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            };
            let mut state = State::new(rec.header.state.clone());
            for ev in &rec.events {
                state.apply(ev);
            }
            let report = connscope::report::Report::of(&state);
            for f in [Format::Text, Format::Json, Format::Markdown, Format::Junit] {
                let _ = render(f, &report, &Context::default());
            }
            let mut p = Player::new(rec, 1.0);
            let mut out = Vec::new();
            p.begin(&mut out);
            p.next_alert(&mut out);
            p.seek(-30, &mut out);
            p.to_end(&mut out);
            p.step(&mut out);
            let _ = p.until_next();
        }
    }
}
