//! Event builders and ready-made states (healthy, the outage's signature, capacity exhausted)
//! for tests, snapshots and documentation. Deterministic: fixed clock, fixed numbers.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{State, StateConfig};
use crate::config::{AlertRules, History, Phase, Targets};
use crate::event::*;

/// 2026-11-25T10:00:00Z plus `secs`.
pub fn t(secs: f64) -> DateTime<Utc> {
    let base = DateTime::from_timestamp(1_795_600_800, 0).unwrap_or_default();
    base + chrono::Duration::microseconds((secs * 1e6) as i64)
}

pub fn staging_config() -> StateConfig {
    StateConfig {
        environment: "staging".into(),
        cloud_sql: true,
        target: Some("postgres://app@10.20.0.3:5432/app?sslmode=require".into()),
        connection_timeout: Duration::from_secs(35),
        initialization_timeout: Duration::from_secs(75),
        health_timeout: Duration::from_secs(20),
        alerts: AlertRules::default(),
        targets: Targets::default(),
        phases: Phase::outage_defaults(),
        total_budget: Duration::from_secs(120),
        history: History::default(),
        capacity_cap: 35,
        endpoints: vec![
            (
                "backend".into(),
                "https://backend.staging.example.com".into(),
            ),
            ("api".into(), "https://api.staging.example.com".into()),
            ("auth".into(), "https://auth.staging.example.com".into()),
        ],
        websockets: vec!["wss://backend.staging.example.com/ws".into()],
        tries: 3,
        pool_wait_warn: None,
    }
}

pub fn ok_attempt(seq: u64, dns: f64, tcp: f64, handshake: f64, query: f64) -> EventBody {
    EventBody::DbAttempt(DbAttempt {
        seq,
        ok: true,
        total_ms: dns + tcp + handshake + query,
        steps_ms: DbSteps {
            dns: Some(dns),
            tcp: Some(tcp),
            tls: None,
            handshake: Some(handshake),
            query: Some(query),
        },
        timeout_ms: 35_000.0,
        error: None,
        tries: Vec::new(),
    })
}

pub fn failure(class: ErrorClass, step: Step, sqlstate: Option<&str>, message: &str) -> Failure {
    Failure {
        class,
        step: Some(step),
        sqlstate: sqlstate.map(str::to_string),
        message: message.into(),
    }
}

pub fn failed_attempt(seq: u64, total_ms: f64, steps: DbSteps, f: Failure) -> EventBody {
    EventBody::DbAttempt(DbAttempt {
        seq,
        ok: false,
        total_ms,
        steps_ms: steps,
        timeout_ms: 35_000.0,
        error: Some(f),
        tries: Vec::new(),
    })
}

/// A TCP-connect timeout at the connection timeout (the connector dropping SYNs).
pub fn tcp_timeout(seq: u64) -> EventBody {
    failed_attempt(
        seq,
        35_000.0,
        DbSteps {
            dns: Some(1.2),
            ..DbSteps::default()
        },
        failure(
            ErrorClass::Timeout,
            Step::Tcp,
            None,
            "no TCP connection within 35s",
        ),
    )
}

pub fn http(endpoint: &str, path: &str, status: u16, latency_ms: f64, body: &str) -> EventBody {
    let ok = (200..300).contains(&status);
    EventBody::HttpCheck(HttpCheck {
        endpoint: endpoint.into(),
        url: format!("https://{endpoint}.staging.example.com"),
        path: path.into(),
        requested_path: path.into(),
        fell_back: false,
        attempt: 1,
        tries: 1,
        status: Some(status),
        ok,
        latency_ms,
        steps_ms: HttpSteps {
            dns: Some(2.0),
            connect: Some(10.0),
            tls: Some(20.0),
            first_byte: Some(latency_ms - 5.0),
            total: Some(latency_ms),
        },
        timeout_ms: 20_000.0,
        startup_failure: false,
        body_excerpt: Some(body.into()),
        error: (!ok).then(|| Failure {
            class: ErrorClass::HttpStatus,
            step: None,
            sqlstate: None,
            message: format!("HTTP {status}"),
        }),
    })
}

pub fn ws(ok: bool) -> EventBody {
    EventBody::WsCheck(WsCheck {
        url: "wss://backend.staging.example.com/ws".into(),
        ok,
        connect_ms: ok.then_some(42.0),
        rtt_ms: ok.then_some(8.5),
        reply_excerpt: ok.then(|| "{\"type\":\"pong\"}".into()),
        error: (!ok).then(|| Failure {
            class: ErrorClass::Refused,
            step: Some(Step::Connect),
            sqlstate: None,
            message: "connection refused".into(),
        }),
    })
}

pub fn phase(n: u8, status: PhaseStatus, at: f64, message: Option<&str>) -> EventBody {
    let name = Phase::outage_defaults()
        .get(usize::from(n) - 1)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    EventBody::StartupPhase(StartupPhase {
        source: StartupSource::Log,
        phase: n,
        name,
        status,
        ts: t(at),
        message: message.map(str::to_string),
    })
}

pub fn build(cfg: StateConfig, events: &[(f64, EventBody)]) -> State {
    let mut s = State::new(cfg);
    for (at, body) in events {
        s.apply(&Event::at(t(*at), body.clone()));
    }
    s
}

/// Everything fine: fast attempts, healthy endpoints, a full startup within budgets.
pub fn healthy() -> Vec<(f64, EventBody)> {
    let mut ev = Vec::new();
    for i in 0..5u32 {
        ev.push((
            f64::from(i) * 2.0,
            ok_attempt(u64::from(i) + 1, 1.1, 2.3, 18.4 + f64::from(i), 0.9),
        ));
    }
    let starts = [0.0, 0.4, 3.4, 5.0, 5.6, 7.0, 7.5, 8.0];
    for n in 1..=7u8 {
        let i = usize::from(n - 1);
        ev.push((starts[i], phase(n, PhaseStatus::Started, starts[i], None)));
        ev.push((
            starts[i + 1],
            phase(n, PhaseStatus::Completed, starts[i + 1], None),
        ));
    }
    for name in ["backend", "api", "auth"] {
        ev.push((9.0, http(name, "/health", 200, 84.0, "{\"status\":\"ok\"}")));
        ev.push((
            9.1,
            http(name, "/health/database", 200, 96.0, "{\"database\":\"ok\"}"),
        ));
    }
    ev.push((9.5, ws(true)));
    ev.sort_by(|a, b| a.0.total_cmp(&b.0));
    ev
}

/// The outage: TCP timeouts through the connector, phase 3 failing at 75 s, exit 3, 503s.
pub fn outage() -> Vec<(f64, EventBody)> {
    let mut ev = vec![
        (0.0, phase(1, PhaseStatus::Started, 0.0, None)),
        (0.3, phase(1, PhaseStatus::Completed, 0.3, None)),
        (0.3, phase(2, PhaseStatus::Started, 0.3, None)),
        (2.1, phase(2, PhaseStatus::Completed, 2.1, None)),
        (2.1, phase(3, PhaseStatus::Started, 2.1, None)),
    ];
    for i in 0..5u64 {
        ev.push((37.0 + i as f64 * 37.0, tcp_timeout(i + 1)));
    }
    ev.push((
        77.1,
        phase(
            3,
            PhaseStatus::Failed,
            77.1,
            Some("database initialization timeout after 75.0s"),
        ),
    ));
    ev.push((
        77.2,
        EventBody::StartupExit(StartupExit {
            source: StartupSource::Log,
            code: 3,
            ts: t(77.2),
        }),
    ));
    let body = "startup failed: database initialization timeout (Cloud SQL)";
    for name in ["backend", "api", "auth"] {
        ev.push((80.0, http(name, "/health", 503, 120.0, body)));
    }
    ev.push((80.5, ws(false)));
    ev.sort_by(|a, b| a.0.total_cmp(&b.0));
    ev
}

/// A capacity test where most connections hit 53300.
pub fn capacity_exhausted() -> Vec<(f64, EventBody)> {
    let mut ev = vec![(0.0, ok_attempt(1, 1.0, 2.0, 20.0, 1.0))];
    ev.push((
        1.0,
        EventBody::CapacityStarted(CapacityStarted {
            run: 1,
            requested: 10,
            planned: 10,
            cap: 35,
            capped: false,
            forced: false,
            hold_ms: 1000.0,
            server_max_connections: Some(6),
            server_connections_in_use: Some(3),
            server_reserved_connections: Some(0),
            headroom: None,
        }),
    ));
    for i in 0..10u32 {
        let ok = i < 3;
        let error = (!ok).then(|| {
            failure(
                ErrorClass::TooManyConnections,
                Step::Handshake,
                Some("53300"),
                "sorry, too many clients already",
            )
        });
        ev.push((
            1.1 + f64::from(i) * 0.01,
            EventBody::CapacityConn(CapacityConn {
                run: 1,
                index: i,
                ok,
                connect_ms: 4.0 + f64::from(i),
                error,
            }),
        ));
    }
    ev.push((
        2.3,
        EventBody::CapacityFinished(CapacityFinished {
            run: 1,
            elapsed_ms: 1300.0,
            aborted: false,
            reason: None,
        }),
    ));
    ev
}

#[cfg(test)]
/// A pool probe run's first event: the staging pool (10 + 15), 30 borrowers, 45 s acquire.
pub(crate) fn pool_started(run: u64) -> EventBody {
    EventBody::PoolStarted(PoolStarted {
        run,
        requested: 25,
        max_connections: 25,
        min_connections: 0,
        capped: false,
        forced: false,
        acquire_timeout_ms: 45_000.0,
        borrowers: 30,
        hold_ms: 0.0,
        duration_ms: 10_000.0,
        max_lifetime_ms: None,
        test_before_acquire: false,
        headroom: None,
    })
}

#[cfg(test)]
/// Pool figures: acquisitions, timeouts, and waits p50 / p95 / max.
pub(crate) fn pool_figures(
    acquisitions: u64,
    timeouts: u64,
    waits: (f64, f64, f64),
) -> PoolFigures {
    PoolFigures {
        acquisitions,
        timeouts,
        wait_p50_ms: Some(waits.0),
        wait_p95_ms: Some(waits.1),
        wait_max_ms: Some(waits.2),
        opened: 25,
        size: 25,
        idle: 25,
        ..PoolFigures::default()
    }
}

#[cfg(test)]
pub(crate) fn pool_sample(
    run: u64,
    elapsed_ms: f64,
    timeouts: u64,
    wait_ms: f64,
    totals: PoolFigures,
) -> EventBody {
    EventBody::PoolSample(PoolSample {
        run,
        elapsed_ms,
        acquired: 40,
        timeouts,
        errors: 0,
        wait_p95_ms: Some(wait_ms),
        wait_max_ms: Some(wait_ms),
        waiting: 5,
        longest_wait_ms: wait_ms,
        totals,
    })
}

#[cfg(test)]
pub(crate) fn pool_finished(run: u64, totals: PoolFigures) -> EventBody {
    EventBody::PoolFinished(PoolFinished {
        run,
        elapsed_ms: 55_000.0,
        totals,
        aborted: false,
        reason: None,
    })
}

#[cfg(test)]
/// The line: a pool run whose acquires time out while every raw attempt beneath it
/// is refused with 53300 before authentication (12 of them).
pub(crate) fn pool_timeouts_beneath_capacity() -> Vec<(f64, EventBody)> {
    let mut ev = vec![
        (0.0, ok_attempt(1, 1.0, 2.0, 20.0, 1.0)),
        (1.0, pool_started(1)),
    ];
    let full = failure(
        ErrorClass::TooManyConnections,
        Step::Handshake,
        Some("53300"),
        "sorry, too many clients already",
    );
    for i in 0..12u32 {
        let at = 2.0 + f64::from(i) * 4.0;
        let d = DbSteps::default();
        ev.push((at, failed_attempt(u64::from(i) + 2, 3.0, d, full.clone())));
        let totals = pool_figures(40, u64::from(i / 2), (2.0, 45_000.0, 45_000.0));
        ev.push((
            at + 0.5,
            pool_sample(1, at * 1000.0, u64::from(i % 2), 45_000.0, totals),
        ));
    }
    ev.push((
        56.0,
        pool_finished(1, pool_figures(40, 7, (2.0, 45_000.0, 45_003.0))),
    ));
    ev
}

/// Remote vantage points: two agents, `vpc` whose handshakes time out after TCP and `bastion`
/// that connects in ~4 ms, no local probe.
#[cfg(test)]
pub(crate) mod vantages {
    use super::*;
    use crate::event::{Event, LinkStatus, ProbesStarted, VantageLink};

    pub(crate) fn link(status: LinkStatus, config: bool) -> EventBody {
        EventBody::Vantage(VantageLink {
            status,
            url: "https://10.8.0.5:9466/".into(),
            message: (status == LinkStatus::Lost).then(|| "connection reset".into()),
            config: config.then(|| Box::new(staging_config())),
        })
    }

    pub(crate) fn handshake_timeout(seq: u64) -> EventBody {
        failed_attempt(
            seq,
            35_000.0,
            DbSteps {
                dns: None,
                tcp: Some(1.2),
                tls: None,
                handshake: None,
                query: None,
            },
            failure(
                ErrorClass::Timeout,
                Step::Handshake,
                None,
                "no handshake within 35s",
            ),
        )
    }

    pub(crate) fn at(secs: f64, vantage: &str, body: EventBody) -> Event {
        Event::at(t(secs), body).with_vantage(vantage)
    }

    pub(crate) fn probes() -> EventBody {
        EventBody::ProbesStarted(ProbesStarted {
            probes: vec!["db".into()],
        })
    }

    /// Two agents and no local probe: vpc's handshakes time out, bastion connects in ~4 ms.
    pub(crate) fn attached(n: u64) -> State {
        let mut s = State::new(staging_config());
        s.apply(&Event::at(
            t(0.0),
            EventBody::ProbesStarted(ProbesStarted { probes: vec![] }),
        ));
        for v in ["vpc", "bastion"] {
            s.apply(&at(0.0, v, link(LinkStatus::Connecting, false)));
            s.apply(&at(0.1, v, link(LinkStatus::Live, true)));
            s.apply(&at(0.1, v, probes()));
        }
        for i in 0..n {
            let secs = 1.0 + i as f64;
            s.apply(&at(secs, "vpc", handshake_timeout(i + 1)));
            s.apply(&at(secs, "bastion", ok_attempt(i + 1, 0.2, 0.5, 3.0, 0.3)));
        }
        s
    }
}
