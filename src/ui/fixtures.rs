//! A busy state for the render benchmark and the size sweep: every panel populated, the
//! history rings full, an outage band, spikes, a restart loop and a running capacity test.
//! Deterministic (no randomness, fixed clock).

use crate::event::*;
use crate::state::State;
use crate::state::fixtures::{
    build, failed_attempt, failure, http, ok_attempt, phase, staging_config, t, tcp_timeout, ws,
};

/// `n` attempts two seconds apart, then everything else.
pub fn busy(n: u32) -> State {
    let mut ev: Vec<(f64, EventBody)> = Vec::new();
    for i in 0..n {
        let at = f64::from(i) * 2.0;
        let seq = u64::from(i) + 1;
        let body = match i {
            // A ten-minute-ish outage band in the middle: the connector drops SYNs.
            i if (n / 2..n / 2 + n / 10).contains(&i) => tcp_timeout(seq),
            i if i % 97 == 13 => failed_attempt(
                seq,
                6.0,
                DbSteps {
                    dns: Some(1.0),
                    tcp: Some(2.0),
                    ..DbSteps::default()
                },
                failure(
                    ErrorClass::TooManyConnections,
                    Step::Handshake,
                    Some("53300"),
                    "sorry, too many clients already",
                ),
            ),
            i if i % 131 == 7 => failed_attempt(
                seq,
                0.4,
                DbSteps {
                    dns: Some(0.4),
                    ..DbSteps::default()
                },
                failure(ErrorClass::Refused, Step::Tcp, None, "connection refused"),
            ),
            // Spikes: one slow handshake in fifty.
            i if i % 50 == 25 => ok_attempt(seq, 1.0, 2.5, 1800.0 + f64::from(i % 7) * 40.0, 1.0),
            i => ok_attempt(
                seq,
                1.0,
                2.0 + f64::from(i % 3),
                15.0 + f64::from(i % 11),
                0.8,
            ),
        };
        ev.push((at, body));
    }
    let end = f64::from(n) * 2.0;
    // A restart loop: run 1 dies in phase 3 with exit 3, run 2 is in phase 5.
    let mut s = 10.0;
    for n in 1..=3u8 {
        ev.push((s, phase(n, PhaseStatus::Started, s, None)));
        s += if n == 3 { 75.0 } else { 1.5 };
        let status = if n == 3 {
            PhaseStatus::Failed
        } else {
            PhaseStatus::Completed
        };
        let msg = (n == 3).then_some("database initialization timeout after 75.0s");
        ev.push((s, phase(n, status, s, msg)));
    }
    ev.push((
        s + 0.1,
        EventBody::StartupExit(StartupExit {
            source: StartupSource::Log,
            code: 3,
            ts: t(s + 0.1),
        }),
    ));
    let mut s = end - 30.0;
    for n in 1..=5u8 {
        ev.push((s, phase(n, PhaseStatus::Started, s, None)));
        if n < 5 {
            s += 2.0;
            ev.push((s, phase(n, PhaseStatus::Completed, s, None)));
        }
    }
    for k in 0..3u32 {
        let at = end - 20.0 + f64::from(k) * 5.0;
        for name in ["backend", "api", "auth"] {
            let bad = name == "backend" && k > 0;
            let (status, body) = if bad {
                (503, "startup failed: database initialization timeout")
            } else {
                (200, "{\"status\":\"ok\"}")
            };
            ev.push((at, http(name, "/health", status, 80.0 + f64::from(k), body)));
            ev.push((at + 0.1, http(name, "/health/database", status, 95.0, body)));
        }
        ev.push((at + 0.2, ws(k != 1)));
    }
    ev.push((
        end - 5.0,
        EventBody::CapacityStarted(CapacityStarted {
            run: 1,
            requested: 40,
            planned: 35,
            cap: 35,
            capped: true,
            forced: false,
            hold_ms: 1000.0,
            server_max_connections: Some(100),
            server_connections_in_use: Some(62),
            server_reserved_connections: Some(3),
            headroom: None,
        }),
    ));
    for i in 0..20u32 {
        let ok = i % 4 != 3;
        ev.push((
            end - 4.9 + f64::from(i) * 0.01,
            EventBody::CapacityConn(CapacityConn {
                run: 1,
                index: i,
                ok,
                connect_ms: 5.0 + f64::from(i),
                error: (!ok).then(|| {
                    failure(
                        ErrorClass::TooManyConnections,
                        Step::Handshake,
                        Some("53300"),
                        "remaining connection slots are reserved for roles with the SUPERUSER attribute",
                    )
                }),
            }),
        ));
    }
    ev.sort_by(|a, b| a.0.total_cmp(&b.0));
    build(staging_config(), &ev)
}
