//! Vantages judged by the same judge: per-vantage results, the cross-vantage finding, a lost
//! agent never judged as now, and a reconnect that does not count its backfill twice.

use chrono::{DateTime, Utc};

use crate::event::*;
use crate::state::State;
use crate::state::fixtures::vantages::*;
use crate::state::fixtures::*;
use crate::state::verdict::Verdict;

#[test]
fn one_path_failing_where_another_succeeds_names_the_connector_path() {
    let s = attached(5);
    let j = s.judge(None);
    assert_eq!(j.vantages.len(), 2);
    let vpc = j.vantages[0].judgement.as_ref().expect("vpc judged");
    let bastion = j.vantages[1].judgement.as_ref().expect("bastion judged");
    assert_eq!(vpc.verdict, Verdict::Fail, "{:?}", vpc.reasons);
    assert_eq!(bastion.verdict, Verdict::Pass, "{:?}", bastion.reasons);
    assert_eq!(j.verdict, Verdict::Fail);
    assert!(
        j.reasons.iter().all(|r| r.starts_with("vpc: ")),
        "{:?}",
        j.reasons
    );
    let f = &j.findings[0];
    assert_eq!(f.rule, "vantage_path", "{:?}", j.findings);
    assert!(f.cause.contains("the connector path"), "{}", f.cause);
    assert!(
        f.cause
            .contains("From vpc every attempt times out after TCP connects"),
        "{}",
        f.cause
    );
    assert!(
        f.cause.contains("from bastion connections succeed in 4"),
        "{}",
        f.cause
    );
    // No local probe ran: no "nothing measured" reason for this host.
    assert!(
        !j.reasons.iter().any(|r| r.contains("nothing was measured")),
        "{:?}",
        j.reasons
    );
    // Each vantage's own findings are told with its name.
    assert!(
        j.findings
            .iter()
            .any(|f| f.vantage.as_deref() == Some("vpc") && f.rule == "handshake_timeout")
    );
}

#[test]
fn a_lost_agent_is_stale_and_judged_as_of_when_it_was_lost() {
    let mut s = attached(5);
    s.apply(&at(10.0, "vpc", link(LinkStatus::Lost, false)));
    // Later the other agent still answers: the clock moves on.
    s.apply(&at(400.0, "bastion", ok_attempt(99, 0.2, 0.5, 3.0, 0.3)));
    let j = s.judge(None);
    let vpc = &j.vantages[0];
    assert!(vpc.stale);
    assert_eq!(vpc.since, t(10.0));
    assert_eq!(vpc.judgement.as_ref().and_then(|x| x.at), Some(t(10.0)));
    // Its failures are not judged as now; the loss itself is a warning.
    assert_eq!(j.verdict, Verdict::Warn, "{:?}", j.reasons);
    assert!(
        j.reasons[0].starts_with("vpc: agent lost since "),
        "{:?}",
        j.reasons
    );
    assert!(
        !j.findings.iter().any(|f| f.rule == "vantage_path"),
        "{:?}",
        j.findings
    );
    // Repeated losses while reconnecting keep the first moment.
    s.apply(&at(20.0, "vpc", link(LinkStatus::Lost, false)));
    assert_eq!(s.vantages.get("vpc").map(|v| v.since), Some(t(10.0)));
}

#[test]
fn a_reconnect_starts_the_vantage_over_from_its_backfill_without_telling_it_twice() {
    let mut s = attached(5);
    let logged = |s: &State| {
        s.log
            .entries()
            .filter(|e| e.source.starts_with("vpc/"))
            .count()
    };
    let before = logged(&s);
    assert!(before > 0, "the vpc outage is in the combined log");
    s.apply(&at(10.0, "vpc", link(LinkStatus::Lost, false)));
    s.apply(&at(12.0, "vpc", link(LinkStatus::Live, true)));
    s.apply(&at(12.0, "vpc", probes()));
    for i in 0..5u64 {
        s.apply(&at(1.0 + i as f64, "vpc", handshake_timeout(i + 1)));
    }
    let vpc = s
        .vantages
        .get("vpc")
        .and_then(|v| v.state.as_ref())
        .expect("state");
    assert_eq!(vpc.db.series.count(), 5, "the backfill replaced, not added");
    assert_eq!(logged(&s), before, "nothing told twice");
    assert!(s.judge(None).vantages[0].judgement.is_some());
}

#[test]
fn without_vantages_the_judgement_is_unchanged_and_old_lines_parse() {
    let s = build(staging_config(), &outage());
    let j = s.judge(None);
    assert!(j.vantages.is_empty());
    let json = serde_json::to_value(&j).expect("serialises");
    assert!(json.get("vantages").is_none());
    let line =
        r#"{"at":"2026-11-25T10:00:00Z","kind":"note","probe":"db","level":"warn","message":"x"}"#;
    let ev: Event = serde_json::from_str(line).expect("an old line parses");
    assert_eq!(ev.vantage, None);
}

#[test]
fn local_probes_beside_agents_are_a_vantage_too() {
    let mut s = attached(5);
    let first: DateTime<Utc> = t(0.0);
    s.apply(&Event::at(first, probes()));
    for i in 0..5u64 {
        s.apply(&Event::at(t(1.0 + i as f64), tcp_timeout(i + 1)));
    }
    let j = s.judge(None);
    let local = j
        .findings
        .iter()
        .find(|f| f.cause.starts_with("The path from local"));
    let local = local.expect("local compared with bastion");
    assert!(
        local.cause.contains("the network path from local"),
        "{}",
        local.cause
    );
}
