use super::fixtures::*;
use super::verdict::Verdict;
use super::*;
use crate::event::*;

#[test]
fn healthy_state_passes_everything() {
    let s = build(staging_config(), &healthy());
    let sum = s.db.summary();
    assert_eq!(sum.attempts, 5);
    assert_eq!(sum.success_rate, Some(1.0));
    assert!(s.alerts.active.is_empty());
    let j = s.judge(None);
    assert_eq!(j.verdict, Verdict::Pass, "{:?}", j.reasons);
    assert!(
        s.judge(None).targets.iter().all(|t| t.met == Some(true)),
        "{:?}",
        s.judge(None).targets
    );
    assert!(diagnosis::diagnose(&s, None).is_empty());
}

#[test]
fn outage_raises_critical_warning_and_infrastructure_alerts() {
    let s = build(staging_config(), &outage());
    let levels: Vec<_> = s.alerts.active.iter().map(|a| a.level).collect();
    use alerts::AlertLevel::*;
    assert_eq!(levels, vec![Critical, Warning, Infrastructure]);
    assert_eq!(s.judge(None).verdict, Verdict::Fail);
    let sum = s.db.summary();
    assert_eq!(sum.timeout_violation_rate, Some(1.0));
    assert_eq!(sum.avg_ms, Some(35_000.0));
}

#[test]
fn outage_diagnosis_names_the_network_path_and_the_signature() {
    let s = build(staging_config(), &outage());
    let f = diagnosis::diagnose(&s, None);
    let rules: Vec<_> = f.iter().map(|f| f.rule).collect();
    assert!(rules.contains(&"tcp_timeout"), "{rules:?}");
    assert!(rules.contains(&"outage_signature"), "{rules:?}");
    let sig = f
        .iter()
        .find(|f| f.rule == "outage_signature")
        .expect("signature");
    assert!(
        sig.evidence
            .iter()
            .any(|e| e.contains("failed after 75.0 s")),
        "{:?}",
        sig.evidence
    );
    assert!(sig.evidence.iter().any(|e| e.contains("code 3")));
}

#[test]
fn startup_phase_verdicts_follow_the_log_clock() {
    let s = build(staging_config(), &outage());
    let run = s.startup.log.current.as_ref().expect("a run");
    use startup::PhaseVerdict::*;
    assert_eq!(
        run.verdicts(None),
        vec![
            Pass, Pass, Failed, NotReached, NotReached, NotReached, NotReached
        ]
    );
    assert_eq!(run.exit.map(|e| e.0), Some(3));
    let d = run.phases[2].duration_s(None).expect("ended");
    assert!((d - 75.0).abs() < 1e-6, "{d}");
}

#[test]
fn a_restart_begins_a_new_run_and_keeps_the_old_one() {
    let mut ev = outage();
    ev.push((90.0, fixtures::phase(1, PhaseStatus::Started, 90.0, None)));
    let s = build(staging_config(), &ev);
    assert_eq!(s.startup.log.runs, 2);
    let prev = s.startup.log.previous.last().expect("previous run");
    assert_eq!(prev.exit_code, Some(3));
    assert_eq!(prev.failed_phase.as_deref(), Some("database"));
}

#[test]
fn alerts_clear_when_the_database_recovers() {
    let mut ev = outage();
    for i in 0..25u64 {
        ev.push((
            300.0 + i as f64 * 2.0,
            ok_attempt(100 + i, 1.0, 2.0, 20.0, 1.0),
        ));
    }
    let s = build(staging_config(), &ev);
    assert!(
        s.alerts
            .active
            .iter()
            .all(|a| a.level != alerts::AlertLevel::Critical)
    );
    let cleared = s.alerts.timeline.iter().filter(|c| !c.raised).count();
    assert_eq!(cleared, 3, "critical, warning and infrastructure cleared");
    assert!(
        s.log
            .entries()
            .any(|e| e.text.starts_with("database reachable again after"))
    );
}

#[test]
fn capacity_run_is_aggregated_and_alerts() {
    let s = build(staging_config(), &capacity_exhausted());
    let run = s.capacity.last.as_ref().expect("a run");
    assert_eq!(
        (
            run.attempted,
            run.succeeded,
            run.failed,
            run.capacity_errors
        ),
        (10, 3, 7, 7)
    );
    assert_eq!(
        run.errors_by_class.get(&ErrorClass::TooManyConnections),
        Some(&7)
    );
    assert!(!run.running());
    assert!(
        s.alerts
            .active
            .iter()
            .any(|a| a.level == alerts::AlertLevel::Capacity)
    );
    assert!(
        diagnosis::diagnose(&s, None)
            .iter()
            .any(|f| f.rule == "capacity_test")
    );
}

#[test]
fn endpoint_503_while_database_is_fine_points_at_the_service_path() {
    let mut ev = healthy();
    ev.push((
        20.0,
        fixtures::http(
            "backend",
            "/health/database",
            503,
            50.0,
            "startup failed: database initialization timeout",
        ),
    ));
    let s = build(staging_config(), &ev);
    let f = diagnosis::diagnose(&s, None);
    assert_eq!(f.first().map(|f| f.rule), Some("service_path"), "{f:?}");
}

#[test]
fn consistent_failure_needs_two_of_three() {
    let mut ev = Vec::new();
    for (i, st) in [503u16, 200, 503].iter().enumerate() {
        ev.push((
            i as f64 * 10.0,
            fixtures::http("api", "/health", *st, 30.0, "database timeout"),
        ));
    }
    let s = build(staging_config(), &ev);
    let p = &s
        .endpoints
        .endpoints
        .iter()
        .find(|e| e.name == "api")
        .expect("api")
        .paths[0];
    let c = p.consistency(3).expect("some checks");
    assert_eq!((c.failed, c.of, c.consistent), (2, 3, true));
    let mut ev2 = ev.clone();
    ev2.push((40.0, fixtures::http("api", "/health", 200, 30.0, "ok")));
    let s = build(staging_config(), &ev2);
    let p = &s
        .endpoints
        .endpoints
        .iter()
        .find(|e| e.name == "api")
        .expect("api")
        .paths[0];
    assert!(!p.consistency(3).expect("checks").consistent);
}

#[test]
fn memory_stays_bounded_under_a_long_run() {
    let mut cfg = staging_config();
    cfg.history.samples = 100;
    let mut s = State::new(cfg);
    for i in 0..20_000u64 {
        s.apply(&Event::at(
            t(i as f64 * 0.02),
            ok_attempt(i, 1.0, 1.0, 1.0, 1.0),
        ));
    }
    assert_eq!(s.db.summary().attempts, 20_000);
    assert!(s.db.attempts.len() <= 100);
    assert!(s.db.series.recent().len() <= 100);
}

fn scenario(name: &str) -> EventBody {
    EventBody::LabScenario(LabScenario {
        name: name.into(),
        description: format!("{name} scenario"),
    })
}

#[test]
fn a_lab_scenario_switch_judges_the_new_scenario_on_its_own_attempts() {
    let mut events = vec![(0.0, scenario("startup-timeout"))];
    events.extend(
        outage()
            .into_iter()
            .filter(|(_, b)| matches!(b, EventBody::DbAttempt(_) | EventBody::HttpCheck(_))),
    );
    let mut s = build(staging_config(), &events);
    assert!(!s.alerts.active.is_empty(), "the outage fires alerts");
    let raised = |s: &State| s.alerts.timeline.iter().filter(|c| c.raised).count();
    let raised_before = raised(&s);
    let last = s.last_at.unwrap_or_default();
    let next = |k: i64| last + chrono::Duration::seconds(k);
    s.apply(&Event::at(next(1), scenario("healthy")));
    for seq in 1..=3 {
        s.apply(&Event::at(
            next(1 + seq),
            ok_attempt(seq as u64, 0.1, 1.0, 8.0, 0.5),
        ));
    }
    let sum = s.db.summary();
    assert_eq!(sum.attempts, 3, "only the new scenario's attempts count");
    assert_eq!(sum.success_rate, Some(1.0));
    assert!(
        s.alerts.active.iter().all(|a| a.rule != "db_success_rate"),
        "{:?}",
        s.alerts.active
    );
    assert_eq!(raised(&s), raised_before, "the alert history is kept");
    let texts: Vec<&str> = s.log.entries().map(|e| e.text.as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("scenario: startup-timeout"))
    );
    assert!(texts.iter().any(|t| t.contains("scenario: healthy")));

    // The same scenario announced again (the lab's first event, a reconnect) changes nothing.
    s.apply(&Event::at(next(9), scenario("healthy")));
    assert_eq!(s.db.summary().attempts, 3);
}
