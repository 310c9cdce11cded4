//! Cross-vantage findings: when the database fails from one vantage point and answers from
//! another, the database itself is up and the fault lies on the failing side's path — which
//! segment of it, the failure's class and step say ("from vpc every handshake times out after
//! TCP while from bastion connections succeed in 4 ms → the connector path"). Only vantages
//! whose numbers speak for now (live) are compared.

use chrono::{DateTime, Utc};

use super::VantageJudgement;
use crate::event::{DbAttempt, ErrorClass, Failure, Step};
use crate::state::State;
use crate::state::diagnosis::{Confidence, Finding};
use crate::state::judge::{DbStatus, Judgement};
use crate::state::verdict::Verdict;
use crate::units;

/// One place the database is reached from, with the judge's view of it.
struct Path<'a> {
    name: &'a str,
    state: &'a State,
    j: &'a Judgement,
}

/// What the attempts that judge now say about a path.
enum Reading {
    Works {
        ok: usize,
        of: usize,
        avg_ms: f64,
    },
    Fails {
        failure: Failure,
        count: usize,
        of: usize,
        tcp_ms: Option<f64>,
        first: DateTime<Utc>,
        last: DateTime<Utc>,
    },
    Unknown,
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn read(p: &Path<'_>) -> Reading {
    let attempts = p.state.db.now_attempts(p.state.cfg.alerts.window as usize);
    let failing = p.j.db.status == DbStatus::Down || p.j.db.rate == Some(Verdict::Fail);
    let working = p.j.db.status == DbStatus::Up && p.j.db.rate == Some(Verdict::Pass);
    if failing {
        return fails(&attempts);
    }
    let ok: Vec<f64> = attempts
        .iter()
        .filter(|(_, a)| a.ok)
        .map(|(_, a)| a.total_ms)
        .collect();
    match mean(&ok) {
        Some(avg_ms) if working => Reading::Works {
            ok: ok.len(),
            of: attempts.len(),
            avg_ms,
        },
        _ => Reading::Unknown,
    }
}

/// The most frequent failure (class and step) among the failed attempts.
fn fails(attempts: &[(DateTime<Utc>, &DbAttempt)]) -> Reading {
    let failed: Vec<(DateTime<Utc>, &Failure, &DbAttempt)> = attempts
        .iter()
        .filter_map(|(t, a)| a.error.as_ref().map(|e| (*t, e, *a)))
        .collect();
    let key = |f: &Failure| (f.class, f.step);
    let mut counts: Vec<((ErrorClass, Option<Step>), usize)> = Vec::new();
    for (_, f, _) in &failed {
        match counts.iter_mut().find(|(k, _)| *k == key(f)) {
            Some((_, n)) => *n += 1,
            None => counts.push((key(f), 1)),
        }
    }
    let Some((top, count)) = counts.into_iter().max_by_key(|(_, n)| *n) else {
        return Reading::Unknown;
    };
    let same: Vec<_> = failed.iter().filter(|(_, f, _)| key(f) == top).collect();
    let tcp: Vec<f64> = same.iter().filter_map(|(_, _, a)| a.steps_ms.tcp).collect();
    match (same.first(), same.last()) {
        (Some(first), Some(last)) => Reading::Fails {
            failure: first.1.clone(),
            count,
            of: attempts.len(),
            tcp_ms: mean(&tcp),
            first: first.0,
            last: last.0,
        },
        _ => Reading::Unknown,
    }
}

/// The failure in words ("every handshake times out after TCP connects") and the segment it
/// puts the fault on; `None` for what is the server's own state (capacity, a restart), which
/// no path explains.
fn segment(f: &Failure, bad: &str) -> Option<(&'static str, String)> {
    use ErrorClass as C;
    Some(match (f.class, f.step) {
        (C::Timeout, Some(Step::Tls | Step::Handshake | Step::Query)) => (
            "times out after TCP connects",
            format!(
                "the connector path: the VPC connector (or a proxy) between {bad} and the database accepts \
                 TCP, then the connection stalls inside it"
            ),
        ),
        (C::Timeout, Some(Step::Dns)) | (C::Dns, _) => (
            "fails to resolve the database host name",
            format!("name resolution at {bad}: its DNS, or a private zone it cannot see"),
        ),
        (C::Timeout, _) | (C::Unreachable, _) => (
            "times out or finds no route before TCP connects",
            format!(
                "the network path from {bad}: the VPC connector, a firewall rule or routing on its side \
                 drops the connections"
            ),
        ),
        (C::Refused, _) => (
            "is refused",
            format!(
                "{bad}'s way to the database ends at nothing listening: a wrong host or port in its \
                 configuration, or a proxy on its path that is down"
            ),
        ),
        (C::Protocol, _) => (
            "is cut during the handshake",
            format!("a proxy or connector on {bad}'s path cuts the connections"),
        ),
        (C::Tls, _) => (
            "fails its TLS handshake",
            format!(
                "TLS at {bad}: its sslmode or root certificate, or something on its path intercepting TLS"
            ),
        ),
        (C::Auth, _) => (
            "is refused at authentication",
            format!("{bad}'s credentials, or the pg_hba.conf entry for its address"),
        ),
        _ => return None,
    })
}

fn every(count: usize, of: usize) -> String {
    if count == of {
        "every attempt".to_string()
    } else {
        format!("{count} of the last {}", units::count(of as u64, "attempt"))
    }
}

/// One finding per failing path that another path shows to be the only one failing.
fn one_side(
    bad: &Path<'_>,
    failing: &Reading,
    good: &Path<'_>,
    works: &Reading,
) -> Option<Finding> {
    let (
        Reading::Fails {
            failure,
            count,
            of,
            tcp_ms,
            first,
            last,
        },
        Reading::Works {
            ok,
            of: good_of,
            avg_ms,
        },
    ) = (failing, works)
    else {
        return None;
    };
    let (what, segment) = segment(failure, bad.name)?;
    let cause = format!(
        "The path from {bad} is at fault — {segment}. From {bad} {} {what}, while from {good} connections \
         succeed in {}: the database itself answers",
        every(*count, *of),
        units::ms(*avg_ms),
        bad = bad.name,
        good = good.name,
    );
    let tcp = tcp_ms
        .map(|t| format!(" (TCP connected in {})", units::ms(t)))
        .unwrap_or_default();
    let evidence = vec![
        format!(
            "{}: {} of the last {} failed: {}{tcp}",
            bad.name,
            count,
            units::count(*of as u64, "attempt"),
            failure.headline()
        ),
        format!(
            "{}: {ok} of the last {} succeeded, {} on average",
            good.name,
            units::count(*good_of as u64, "attempt"),
            units::ms(*avg_ms)
        ),
    ];
    let confidence = if *count >= 3 && *ok >= 3 {
        Confidence::High
    } else {
        Confidence::Medium
    };
    Some(
        Finding::present("vantage_path", cause, confidence)
            .evidence(evidence)
            .during(Some(*first), Some(*last)),
    )
}

/// Every vantage fails: no path is to blame alone.
fn everywhere(paths: &[(Path<'_>, Reading)]) -> Option<Finding> {
    if paths.len() < 2
        || !paths
            .iter()
            .all(|(_, r)| matches!(r, Reading::Fails { .. }))
    {
        return None;
    }
    let names: Vec<&str> = paths.iter().map(|(p, _)| p.name).collect();
    let evidence = paths
        .iter()
        .filter_map(|(p, r)| match r {
            Reading::Fails {
                failure, count, of, ..
            } => Some(format!(
                "{}: {} failed: {}",
                p.name,
                every(*count, *of),
                failure.headline()
            )),
            _ => None,
        })
        .collect();
    Some(
        Finding::present(
            "vantage_everywhere",
            format!(
                "From every vantage point ({}) connections fail: the database itself, or a segment every \
                 path shares, is at fault — no single path explains it",
                names.join(", ")
            ),
            Confidence::Medium,
        )
        .evidence(evidence),
    )
}

/// The cross-vantage findings: this host (when it probes the database) and every live vantage.
pub(super) fn findings(
    s: &State,
    local: Option<&Judgement>,
    vantages: &[VantageJudgement],
) -> Vec<Finding> {
    let mut paths: Vec<Path<'_>> = Vec::new();
    if let Some(j) = local.filter(|_| s.db.series.count() > 0) {
        paths.push(Path {
            name: "local",
            state: s,
            j,
        });
    }
    for v in vantages.iter().filter(|v| !v.stale) {
        let state = s.vantages.get(&v.name).and_then(|x| x.state.as_ref());
        if let (Some(state), Some(j)) = (state, v.judgement.as_ref()) {
            paths.push(Path {
                name: &v.name,
                state,
                j,
            });
        }
    }
    let read: Vec<(Path<'_>, Reading)> = paths
        .into_iter()
        .map(|p| {
            let r = read(&p);
            (p, r)
        })
        .filter(|(_, r)| !matches!(r, Reading::Unknown))
        .collect();
    let mut out = Vec::new();
    // The fastest working path is the witness that the database answers.
    let good = read
        .iter()
        .filter(|(_, r)| matches!(r, Reading::Works { .. }))
        .min_by(|a, b| avg(&a.1).total_cmp(&avg(&b.1)));
    if let Some((gp, gr)) = good {
        for (bp, br) in &read {
            out.extend(one_side(bp, br, gp, gr));
        }
    }
    out.extend(everywhere(&read));
    out
}

fn avg(r: &Reading) -> f64 {
    match r {
        Reading::Works { avg_ms, .. } => *avg_ms,
        _ => f64::INFINITY,
    }
}
