//! The judge's rules, each against the situation that used to fool it.

use crate::event::*;
use crate::state::endpoints::Health;
use crate::state::fixtures::*;
use crate::state::judge::DbStatus;
use crate::state::verdict::Verdict;

fn refused(seq: u64) -> EventBody {
    failed_attempt(
        seq,
        0.4,
        DbSteps::default(),
        failure(ErrorClass::Refused, Step::Tcp, None, "connection refused"),
    )
}

fn ok(seq: u64) -> EventBody {
    ok_attempt(seq, 0.1, 0.3, 2.0, 0.3)
}

/// `n` healthy attempts one second apart from `t0`, numbered from `seq`.
fn oks(t0: f64, seq: u64, n: u64) -> Vec<(f64, EventBody)> {
    (0..n).map(|i| (t0 + i as f64, ok(seq + i))).collect()
}

fn has(reasons: &[String], prefix: &str) -> bool {
    reasons.iter().any(|r| r.starts_with(prefix))
}

#[test]
fn three_failures_in_a_row_are_down_at_once_and_three_successes_bring_it_back() {
    let mut ev = oks(0.0, 1, 20);
    ev.push((20.0, refused(21)));
    ev.push((21.0, refused(22)));
    let s = build(staging_config(), &ev);
    let j = s.judge(None);
    assert_eq!(j.db.status, DbStatus::Up, "two failures are not down");
    // Only the rates speak: 18 of the last 20 misses the 90 % target.
    assert_eq!(j.verdict, Verdict::Warn, "{:?}", j.reasons);
    assert!(!has(&j.reasons, "database down"), "{:?}", j.reasons);

    ev.push((22.0, refused(23)));
    let s = build(staging_config(), &ev);
    let j = s.judge(None);
    assert_eq!(j.db.status, DbStatus::Down);
    assert_eq!(j.verdict, Verdict::Fail, "down at once, the rates not yet");
    assert!(
        has(
            &j.reasons,
            "database down since 10:00:20 UTC: 3 attempts in a row failed (refused ×3)"
        ),
        "{:?}",
        j.reasons
    );

    ev.extend([(23.0, ok(24)), (24.0, ok(25))]);
    let s = build(staging_config(), &ev);
    assert_eq!(
        s.judge(None).db.status,
        DbStatus::Down,
        "two successes are not up"
    );
    ev.push((25.0, ok(26)));
    let s = build(staging_config(), &ev);
    let j = s.judge(None);
    assert_eq!(j.db.status, DbStatus::Up);
    assert_eq!(j.verdict, Verdict::Pass, "{:?}", j.reasons);
    // The outage is history now: left out of "now", told in the past tense.
    assert_eq!(j.db.now.success_rate, Some(1.0));
    assert_eq!(j.db.total.attempts, 26, "the totals keep it");
    let past = j
        .findings
        .iter()
        .find(|f| f.rule == "db_outage")
        .expect("the outage is a finding");
    assert!(past.past);
    assert!(
        past.cause.starts_with(
            "The database was down 10:00:20–10:00:22 UTC (3.0 s): 3 attempts failed (refused ×3)"
        ),
        "{}",
        past.cause
    );
    let log: Vec<&str> = s.log.entries().map(|e| e.text.as_str()).collect();
    assert!(
        log.iter()
            .any(|t| t.starts_with("database down: 3 attempts in a row failed")),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|t| t.starts_with("database reachable again after 3.0 s down")),
        "{log:?}"
    );
}

#[test]
fn the_target_the_alert_and_the_headline_judge_the_same_attempts() {
    // 40 good attempts, then 20 in which every other one fails (never 3 in a row).
    let mut ev = oks(0.0, 1, 40);
    for i in 0..20u64 {
        let body = if i % 2 == 0 && i < 18 {
            ok(41 + i)
        } else {
            refused(41 + i)
        };
        ev.push((40.0 + i as f64, body));
    }
    let s = build(staging_config(), &ev);
    let j = s.judge(None);
    assert_eq!(j.db.now.attempts, 20);
    assert_eq!(j.db.now.success_rate, Some(0.45));
    assert_eq!(
        j.db.total.success_rate,
        Some(49.0 / 60.0),
        "cumulative, shown as such"
    );
    assert_eq!(j.db.rate, Some(Verdict::Fail));
    let alert = j
        .alerts
        .iter()
        .find(|a| a.rule == "db_success_rate")
        .expect("critical alert");
    assert!(
        alert.message.contains("45 % (9 of the last 20)"),
        "{}",
        alert.message
    );
    let target = j
        .targets
        .iter()
        .find(|t| t.name == "db_success_rate")
        .expect("target");
    assert_eq!(target.actual.as_deref(), Some("45 % (last 20)"));
    assert_eq!(target.met, Some(false));
}

#[test]
fn a_capacity_test_where_nothing_connected_is_history_once_the_database_answers() {
    let mut ev = vec![(0.0, ok(1))];
    ev.push((
        10.0,
        EventBody::CapacityStarted(CapacityStarted {
            run: 1,
            requested: 4,
            planned: 4,
            cap: 35,
            capped: false,
            forced: false,
            hold_ms: 1000.0,
            server_max_connections: None,
            server_connections_in_use: None,
            server_reserved_connections: None,
            headroom: None,
        }),
    ));
    for index in 0..4 {
        ev.push((
            11.0,
            EventBody::CapacityConn(CapacityConn {
                run: 1,
                index,
                ok: false,
                connect_ms: 35_000.0,
                error: Some(failure(
                    ErrorClass::Timeout,
                    Step::Tcp,
                    None,
                    "no TCP connection",
                )),
            }),
        ));
    }
    ev.push((
        46.0,
        EventBody::CapacityFinished(CapacityFinished {
            run: 1,
            elapsed_ms: 36_000.0,
            aborted: false,
            reason: None,
        }),
    ));
    let s = build(staging_config(), &ev);
    let j = s.judge(None);
    assert!(
        has(&j.reasons, "capacity test: none of 4 connections succeeded"),
        "{:?}",
        j.reasons
    );
    assert_eq!(j.capacity.as_ref().map(|c| c.past), Some(false));
    let done = s
        .log
        .entries()
        .find(|e| e.text.starts_with("capacity test done"))
        .expect("logged");
    assert_eq!(
        done.level,
        crate::state::event_log::Level::Error,
        "the failure the verdict names is an error in the log too"
    );

    ev.push((60.0, ok(2)));
    let s = build(staging_config(), &ev);
    let j = s.judge(None);
    assert!(!has(&j.reasons, "capacity test"), "{:?}", j.reasons);
    let c = j.capacity.expect("still shown");
    assert!(c.past);
    assert_eq!(
        c.past_because.as_deref(),
        Some("the database has answered since (10:01:00 UTC)")
    );
}

#[test]
fn a_lab_scenario_switch_makes_the_capacity_test_history() {
    let mut s = build(staging_config(), &capacity_exhausted());
    assert!(
        s.judge(None)
            .alerts
            .iter()
            .any(|a| a.rule == "capacity_errors")
    );
    let at = s.last_at.unwrap_or_default();
    for (i, name) in ["db-capacity", "healthy"].iter().enumerate() {
        s.apply(&Event::at(
            at + chrono::Duration::seconds(i as i64 + 1),
            EventBody::LabScenario(LabScenario {
                name: (*name).into(),
                description: String::new(),
            }),
        ));
    }
    let j = s.judge(None);
    assert!(
        j.alerts.iter().all(|a| a.rule != "capacity_errors"),
        "{:?}",
        j.alerts
    );
    let c = j.capacity.expect("kept, in the past");
    assert_eq!(
        c.past_because.as_deref(),
        Some("the lab scenario changed to healthy")
    );
    let f = j
        .findings
        .iter()
        .find(|f| f.rule == "capacity_test")
        .expect("finding");
    assert!(f.past && f.cause.starts_with("A capacity test at"), "{f:?}");
}

#[test]
fn an_init_failure_is_history_once_the_database_answers() {
    let init = |ok: bool| {
        EventBody::Init(InitResult {
            ok,
            elapsed_ms: 5000.0,
            timeout_ms: 5000.0,
            steps_ms: DbSteps::default(),
            warmup_ms: None,
            server_version: None,
            server_max_connections: None,
            error: (!ok).then(|| failure(ErrorClass::Refused, Step::Tcp, None, "refused")),
        })
    };
    let mut ev = vec![(0.0, refused(1)), (0.5, init(false))];
    let j = build(staging_config(), &ev).judge(None);
    assert!(has(&j.reasons, "initialization failed"), "{:?}", j.reasons);
    ev.extend([(1.0, ok(2)), (2.0, ok(3)), (3.0, ok(4))]);
    let j = build(staging_config(), &ev).judge(None);
    assert!(!has(&j.reasons, "initialization failed"), "{:?}", j.reasons);
}

fn started(probes: &[&str]) -> (f64, EventBody) {
    (
        0.0,
        EventBody::ProbesStarted(ProbesStarted {
            probes: probes.iter().map(|p| (*p).to_string()).collect(),
        }),
    )
}

fn run_ended(at: f64, interrupted: bool) -> (f64, EventBody) {
    (at, EventBody::RunEnded(RunEnded { interrupted }))
}

#[test]
fn every_selected_probe_must_bring_evidence() {
    let mut ev = vec![started(&["db", "init"])];
    ev.extend(oks(1.0, 1, 3));
    let j = build(staging_config(), &ev).judge(None);
    assert_eq!(j.verdict, Verdict::Warn, "init has not answered yet");
    assert!(has(&j.reasons, "init: no result yet"), "{:?}", j.reasons);
    ev.push(run_ended(5.0, false));
    let j = build(staging_config(), &ev).judge(None);
    assert!(
        has(&j.reasons, "init: no evidence — it ended without a result"),
        "{:?}",
        j.reasons
    );
    assert_eq!(j.exit_code, crate::exit::ExitCode::Warn);
}

#[test]
fn a_crashed_probe_fails_the_run() {
    let ev = vec![
        started(&["db"]),
        (
            0.1,
            EventBody::ProbeEnded(ProbeEnded {
                probe: "db".into(),
                how: ProbeEnd::Panicked,
                message: Some("overflow when adding duration to instant".into()),
            }),
        ),
        run_ended(0.2, false),
    ];
    let s = build(staging_config(), &ev);
    let j = s.judge(None);
    assert_eq!(j.verdict, Verdict::Fail);
    assert_eq!(
        j.reasons[0],
        "db probe crashed (panicked: overflow when adding duration to instant): nothing it measures can be judged"
    );
    assert!(
        s.log
            .entries()
            .any(|e| e.text.starts_with("the db probe crashed"))
    );
}

#[test]
fn an_interrupted_run_says_so_and_exits_130() {
    let mut ev = vec![started(&["db", "capacity"])];
    ev.extend(oks(1.0, 1, 5));
    ev.push(run_ended(6.0, true));
    let j = build(staging_config(), &ev).judge(None);
    assert!(j.interrupted);
    assert_eq!(j.exit_code, crate::exit::ExitCode::Interrupted);
    assert_eq!(j.verdict, Verdict::Warn);
    assert!(
        has(
            &j.reasons,
            "interrupted: the run was stopped by a signal before it finished (no result from capacity)"
        ),
        "{:?}",
        j.reasons
    );
    assert!(
        has(
            &j.reasons,
            "capacity: no evidence — the run was interrupted before it produced a result"
        ),
        "{:?}",
        j.reasons
    );
}

#[test]
fn nothing_measured_is_not_a_pass() {
    let s = build(staging_config(), &[]);
    let j = s.judge(None);
    assert_eq!(j.verdict, Verdict::Warn);
    assert_eq!(
        j.reasons,
        ["nothing was measured: no probe produced a result"]
    );
}

#[test]
fn database_evidence_that_stopped_coming_is_stale() {
    let s = build(staging_config(), &oks(0.0, 1, 3));
    let later = s.last_at.map(|t| t + chrono::Duration::minutes(5));
    let j = s.judge(later);
    assert!(
        has(&j.reasons, "db: no attempt for 5 min 00 s"),
        "{:?}",
        j.reasons
    );
    assert_eq!(s.judge(None).verdict, Verdict::Pass);
}

fn with_tries(body: EventBody, attempt: u32) -> EventBody {
    match body {
        EventBody::HttpCheck(mut c) => {
            c.attempt = attempt;
            EventBody::HttpCheck(c)
        }
        other => other,
    }
}

const STARTING: &str = r#"{"status":"starting","phase":3,"phase_name":"database","detail":"database initialization in progress"}"#;

#[test]
fn a_service_still_starting_is_starting_not_a_startup_failure() {
    let mut ev = oks(0.0, 1, 5);
    ev.push((5.0, http("backend", "/health", 503, 12.0, STARTING)));
    let s = build(staging_config(), &ev);
    let j = s.judge(None);
    let p = j
        .endpoints
        .iter()
        .find(|p| p.endpoint == "backend")
        .expect("path");
    assert_eq!(p.health, Some(Health::Starting));
    assert_eq!(p.phase.as_deref(), Some("phase 3 database"));
    assert_eq!(j.verdict, Verdict::Warn);
    assert!(
        has(
            &j.reasons,
            "backend /health: starting (phase 3 database), not serving yet"
        ),
        "{:?}",
        j.reasons
    );
    assert!(
        j.findings
            .iter()
            .all(|f| f.rule != "service_path" && f.rule != "service_startup"),
        "no failure evidence, no service-path finding: {:?}",
        j.findings
    );
    // Starting for longer than a whole startup may take is a failure.
    let late = s.last_at.map(|t| t + chrono::Duration::seconds(121));
    let j = s.judge(late);
    assert_eq!(j.verdict, Verdict::Fail);
    assert!(
        has(
            &j.reasons,
            "backend /health: still starting (phase 3 database) after 2 min 01 s"
        ),
        "{:?}",
        j.reasons
    );
}

#[test]
fn a_degraded_service_is_unhealthy_and_one_failed_try_is_not_intermittent() {
    let mut ev = oks(0.0, 1, 5);
    ev.push((
        5.0,
        http(
            "api",
            "/health",
            503,
            12.0,
            r#"{"status":"degraded","database":"unreachable"}"#,
        ),
    ));
    let j = build(staging_config(), &ev).judge(None);
    assert!(
        has(&j.reasons, "api /health: HTTP 503 (unhealthy)"),
        "{:?}",
        j.reasons
    );
    assert!(
        j.reasons
            .iter()
            .all(|r| !r.contains("intermittent") && !r.contains("startup failure")),
        "1 of 1 tries is no pattern: {:?}",
        j.reasons
    );
    // Two tries, one failed: now it is intermittent (a warning).
    ev.push((15.0, with_tries(http("api", "/health", 200, 12.0, "ok"), 2)));
    let j = build(staging_config(), &ev).judge(None);
    assert_eq!(j.verdict, Verdict::Warn, "{:?}", j.reasons);
    assert!(
        has(
            &j.reasons,
            "api /health: HTTP 503 (unhealthy) (1 of 2 tries failed, intermittent)"
        ),
        "{:?}",
        j.reasons
    );
}
