//! The pool probe judged from events: the line, each cause beneath it, history.

use crate::event::{DbSteps, ErrorClass, EventBody, LabScenario, PoolFinished, Step};
use crate::state::diagnosis::{Confidence, diagnose};
use crate::state::fixtures::*;
use crate::state::verdict::Verdict;

fn judged(events: &[(f64, EventBody)]) -> crate::state::Judgement {
    build(staging_config(), events).judge(None)
}

fn finding(j: &crate::state::Judgement) -> Option<&crate::state::diagnosis::Finding> {
    j.findings.iter().find(|f| f.rule == "pool_beneath")
}

#[test]
fn acquire_timeouts_fail_with_53300_beneath_in_one_line() {
    let j = judged(&pool_timeouts_beneath_capacity());
    let p = j.pool.as_ref().expect("a pool judgement");
    assert_eq!(p.verdict, Verdict::Fail);
    assert_eq!(
        p.line,
        "pool: 7 acquire timeouts (45.0 s) — beneath: too_many_connections (53300) ×12, before authentication"
    );
    assert_eq!(j.verdict, Verdict::Fail);
    assert!(j.reasons.contains(&p.line), "{:?}", j.reasons);
    let f = finding(&j).expect("a pool finding");
    assert!(f.cause.contains("database's capacity"), "{}", f.cause);
    assert_eq!(f.confidence, Confidence::High);
    assert!(!f.past);
}

/// A run with no trouble: `raw` beneath it, waits of `p95` ms.
fn clean_run(p95: f64, raw: Vec<EventBody>) -> Vec<(f64, EventBody)> {
    let mut ev = vec![(0.0, pool_started(1))];
    for (i, a) in raw.into_iter().enumerate() {
        ev.push((1.0 + i as f64, a));
    }
    let totals = pool_figures(5000, 0, (1.0, p95, p95 * 2.0));
    ev.push((20.0, pool_finished(1, totals)));
    ev
}

#[test]
fn a_clean_run_passes_and_says_what_it_did() {
    let j = judged(&clean_run(3.0, vec![ok_attempt(1, 0.5, 1.0, 3.0, 0.5)]));
    let p = j.pool.as_ref().expect("judged");
    assert_eq!(p.verdict, Verdict::Pass);
    assert_eq!(
        p.line,
        "pool: 5000 acquisitions, waits p95 3.0 ms — beneath: no errors, 1 connect avg 5.0 ms (max 5.0 ms)"
    );
    assert_eq!(j.verdict, Verdict::Pass, "{:?}", j.reasons);
    assert!(finding(&j).is_none());
}

#[test]
fn slow_waits_warn_and_slow_connects_beneath_are_latency() {
    // A tenth of 45 s is the default threshold: 4.5 s.
    let slow = ok_attempt(1, 0.5, 400.0, 2500.0, 100.0);
    let j = judged(&clean_run(5000.0, vec![slow.clone(), slow]));
    let p = j.pool.as_ref().expect("judged");
    assert_eq!(p.verdict, Verdict::Warn);
    assert!(
        p.line
            .starts_with("pool: acquire waits p95 5.00 s (max 10.0 s) over 4.50 s"),
        "{}",
        p.line
    );
    assert_eq!(j.verdict, Verdict::Warn);
    let f = finding(&j).expect("a finding");
    assert!(f.cause.contains("connection latency"), "{}", f.cause);
    assert!(f.cause.contains("3.00 s"), "{}", f.cause);
    let mut cfg = staging_config();
    cfg.pool_wait_warn = Some(std::time::Duration::from_secs(6));
    let ev = clean_run(5000.0, vec![]);
    assert_eq!(
        build(cfg, &ev).judge(None).pool.expect("judged").verdict,
        Verdict::Pass
    );
}

#[test]
fn quick_connects_beneath_slow_waits_mean_the_pool_is_too_small() {
    let j = judged(&clean_run(5000.0, vec![ok_attempt(1, 0.5, 1.0, 3.0, 0.5)]));
    let f = finding(&j).expect("a finding");
    assert!(f.cause.contains("too small for its load"), "{}", f.cause);
}

#[test]
fn a_restart_beneath_is_named() {
    let starting = failure(
        ErrorClass::StartingUp,
        Step::Handshake,
        Some("57P03"),
        "the database system is starting up",
    );
    let mut ev = vec![(0.0, pool_started(1))];
    ev.push((1.0, failed_attempt(1, 2.0, DbSteps::default(), starting)));
    ev.push((
        5.0,
        pool_finished(1, pool_figures(10, 3, (1.0, 45_000.0, 45_000.0))),
    ));
    let j = judged(&ev);
    let p = j.pool.as_ref().expect("judged");
    assert!(
        p.line.ends_with("beneath: starting_up (57P03) ×1"),
        "{}",
        p.line
    );
    assert!(finding(&j).expect("finding").cause.contains("restart"));
}

#[test]
fn attempts_before_or_after_the_run_are_not_beneath_it() {
    let full = failure(
        ErrorClass::TooManyConnections,
        Step::Handshake,
        Some("53300"),
        "sorry",
    );
    let d = DbSteps::default();
    let ev = vec![
        (0.0, failed_attempt(1, 2.0, d, full.clone())),
        (1.0, pool_started(1)),
        (2.0, ok_attempt(2, 0.5, 1.0, 3.0, 0.5)),
        (3.0, pool_finished(1, pool_figures(10, 0, (1.0, 2.0, 3.0)))),
        (4.0, failed_attempt(3, 2.0, d, full)),
    ];
    let s = build(staging_config(), &ev);
    let b = &s.pool.last.as_ref().expect("a run").beneath;
    assert_eq!((b.attempts, b.ok), (1, 1));
}

#[test]
fn a_run_that_could_not_open_anything_warns_with_why() {
    let mut ev = vec![(0.0, pool_started(1))];
    if let EventBody::PoolStarted(s) = &mut ev[0].1 {
        s.max_connections = 0;
        s.capped = true;
    }
    ev.push((
        1.0,
        EventBody::PoolFinished(PoolFinished {
            run: 1,
            elapsed_ms: 3.0,
            totals: Default::default(),
            aborted: true,
            reason: Some("nothing opened: the server refused the headroom check".into()),
        }),
    ));
    let j = judged(&ev);
    let p = j.pool.as_ref().expect("judged");
    assert_eq!(p.verdict, Verdict::Warn);
    assert!(
        p.line
            .starts_with("pool: nothing opened: the server refused"),
        "{}",
        p.line
    );
    assert!(
        finding(&j).is_none(),
        "nothing measured, nothing to diagnose"
    );
}

#[test]
fn a_lab_scenario_switch_makes_the_run_history() {
    let mut ev = pool_timeouts_beneath_capacity();
    ev.push((
        60.0,
        EventBody::LabScenario(LabScenario {
            name: "a".into(),
            description: String::new(),
        }),
    ));
    ev.push((
        61.0,
        EventBody::LabScenario(LabScenario {
            name: "healthy".into(),
            description: String::new(),
        }),
    ));
    ev.push((62.0, ok_attempt(20, 0.5, 1.0, 3.0, 0.5)));
    let j = judged(&ev);
    let p = j.pool.as_ref().expect("judged");
    assert!(p.past);
    assert!(
        !j.reasons.iter().any(|r| r.starts_with("pool:")),
        "{:?}",
        j.reasons
    );
    let f = finding(&j).expect("told in the past tense");
    assert!(
        f.past && f.cause.starts_with("A pool run at"),
        "{}",
        f.cause
    );
    let all = diagnose(&build(staging_config(), &ev), None);
    assert!(all.last().is_some_and(|f| f.past));
}

#[test]
fn a_pool_run_is_evidence_once_finished() {
    let mut ev = vec![(
        0.0,
        EventBody::ProbesStarted(crate::event::ProbesStarted {
            probes: vec!["pool".into()],
        }),
    )];
    ev.push((0.5, pool_started(1)));
    let status = |ev: &[(f64, EventBody)]| judged(ev).evidence[0].status;
    use crate::state::evidence::EvidenceStatus;
    assert_eq!(status(&ev), EvidenceStatus::Waiting);
    ev.push((5.0, pool_finished(1, pool_figures(10, 0, (1.0, 2.0, 3.0)))));
    assert_eq!(status(&ev), EvidenceStatus::Seen);
}

#[test]
fn borrowers_stuck_in_acquire_warn_while_it_runs() {
    let mut ev = vec![(0.0, pool_started(1))];
    // 5 borrowers waiting, the longest 45 s: over a tenth of the acquire timeout.
    ev.push((
        5.0,
        pool_sample(1, 5000.0, 0, 45_000.0, pool_figures(40, 0, (1.0, 2.0, 3.0))),
    ));
    let p = judged(&ev).pool.expect("judged");
    assert_eq!(p.verdict, Verdict::Warn);
    assert!(
        p.line.starts_with(
            "pool: 5 borrowers waiting for a connection, the longest 45.0 s (over 4.50 s) (running)"
        ),
        "{}",
        p.line
    );
}
