//! Recordings made for tests and benches: the committed sample, and long ones built from it.

#![allow(dead_code)] // each user needs a different subset

use std::path::{Path, PathBuf};

/// The committed sample recording of the outage (`tests/fixtures/recordings/outage.jsonl`).
pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings/outage.jsonl")
}

/// A recording of a long watch: the sample's events again and again, 200 s apart, to `bytes`.
pub fn long(path: &Path, bytes: usize) {
    use std::io::Write as _;
    let text = std::fs::read_to_string(sample()).expect("fixture");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let events: Vec<serde_json::Value> =
        lines.filter_map(|l| serde_json::from_str(l).ok()).collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    writeln!(out, "{header}").expect("write");
    let mut written = header.len();
    for round in 0i64.. {
        for ev in &events {
            let mut ev = ev.clone();
            let at = ev["at"]
                .as_str()
                .and_then(|a| chrono::DateTime::parse_from_rfc3339(a).ok())
                .expect("event time");
            ev["at"] = serde_json::Value::String(
                (at + chrono::Duration::seconds(200 * round)).to_rfc3339(),
            );
            let line = ev.to_string();
            writeln!(out, "{line}").expect("write");
            written += line.len() + 1;
        }
        if written >= bytes {
            break;
        }
    }
    out.flush().expect("flush");
}

/// What `busy` wrote.
#[derive(Debug, Clone, Copy)]
pub struct Busy {
    pub events: u64,
    pub attempts: u64,
    pub failed: u64,
}

/// A generated recording of a long, busy watch on staging: `secs` seconds of database
/// attempts at `per_sec` (fast successes with a rare spike; an outage of timeouts from 60 s
/// to 300 s, a burst of 53300 from 420 s to 440 s, a refused attempt now and then), health
/// checks of three endpoints and a WebSocket every 10 s (503 while the service cannot
/// start), the service's startup failing at phase 3 in a restart loop until the database is
/// back, and a capacity test at 425 s. Deterministic.
pub fn busy(path: &Path, secs: u32, per_sec: u32) -> Busy {
    use connscope::event::{
        CapacityConn, CapacityFinished, CapacityStarted, DbSteps, ErrorClass, Event, EventBody,
        PhaseStatus, StartupExit, StartupSource, Step,
    };
    use connscope::state::fixtures::{failed_attempt, failure, http, ok_attempt, phase, t, ws};
    use std::io::Write as _;

    let mut rng = fastrand::Rng::with_seed(18);
    let mut ev: Vec<(f64, EventBody)> = Vec::new();
    let (mut attempts, mut failed) = (0u64, 0u64);
    for i in 0..u64::from(secs * per_sec) {
        let at = i as f64 / f64::from(per_sec);
        attempts += 1;
        let body = if (60.0..300.0).contains(&at) {
            failed += 1;
            let steps = DbSteps {
                tcp: Some(0.4),
                ..DbSteps::default()
            };
            let f = failure(
                ErrorClass::Timeout,
                Step::Tls,
                None,
                "no TLS handshake within 35s",
            );
            failed_attempt(i, 35_000.0, steps, f)
        } else if (420.0..440.0).contains(&at) {
            failed += 1;
            let steps = DbSteps {
                tcp: Some(0.4),
                ..DbSteps::default()
            };
            let f = failure(
                ErrorClass::TooManyConnections,
                Step::Handshake,
                Some("53300"),
                "sorry, too many clients already",
            );
            failed_attempt(i, 2.1, steps, f)
        } else if rng.u32(0..2000) == 0 {
            failed += 1;
            let f = failure(ErrorClass::Refused, Step::Tcp, None, "connection refused");
            failed_attempt(i, 0.3, DbSteps::default(), f)
        } else {
            let spike = if rng.u32(0..500) == 0 { 200.0 } else { 0.0 };
            ok_attempt(
                i,
                0.0,
                rng.f64() + 0.3,
                6.0 + 4.0 * rng.f64() + spike,
                0.3 + rng.f64(),
            )
        };
        ev.push((at, body));
    }
    for k in 0..secs / 10 {
        let at = f64::from(k * 10) + 1.0;
        let down = (60.0..310.0).contains(&at);
        for (j, name) in ["backend", "api", "auth"].into_iter().enumerate() {
            for path in ["/health", "/health/database"] {
                let (status, body) = if down {
                    (
                        503,
                        r#"{"status":"unavailable","error":"startup failed: database initialization timeout"}"#,
                    )
                } else {
                    (200, r#"{"status":"ok"}"#)
                };
                ev.push((
                    at + j as f64 * 0.01,
                    http(name, path, status, 12.0 + rng.f64() * 5.0, body),
                ));
            }
        }
        ev.push((at + 0.5, ws(!down)));
    }
    // Runs of the service's startup: phase 3 times out at 75 s while the database is down.
    let mut run_at = 0.0;
    while run_at < f64::from(secs) {
        ev.push((run_at, phase(1, PhaseStatus::Started, run_at, None)));
        ev.push((
            run_at + 0.4,
            phase(1, PhaseStatus::Completed, run_at + 0.4, None),
        ));
        ev.push((
            run_at + 0.4,
            phase(2, PhaseStatus::Started, run_at + 0.4, None),
        ));
        ev.push((
            run_at + 2.4,
            phase(2, PhaseStatus::Completed, run_at + 2.4, None),
        ));
        ev.push((
            run_at + 2.4,
            phase(3, PhaseStatus::Started, run_at + 2.4, None),
        ));
        if run_at + 2.4 < 300.0 {
            let end = run_at + 77.4;
            let msg = Some("database initialization timeout after 75.0s");
            ev.push((end, phase(3, PhaseStatus::Failed, end, msg)));
            let exit = StartupExit {
                source: StartupSource::Log,
                code: 3,
                ts: t(end + 0.1),
            };
            ev.push((end + 0.1, EventBody::StartupExit(exit)));
            run_at = end + 1.1;
            continue;
        }
        let mut at = run_at + 2.9;
        ev.push((at, phase(3, PhaseStatus::Completed, at, None)));
        for n in 4..=7u8 {
            ev.push((at, phase(n, PhaseStatus::Started, at, None)));
            at += 0.8;
            ev.push((at, phase(n, PhaseStatus::Completed, at, None)));
        }
        break;
    }
    let cap = 425.0;
    ev.push((
        cap,
        EventBody::CapacityStarted(CapacityStarted {
            run: 1,
            requested: 10,
            planned: 10,
            cap: 35,
            capped: false,
            forced: false,
            hold_ms: 1000.0,
            server_max_connections: Some(20),
            server_connections_in_use: Some(19),
            server_reserved_connections: Some(3),
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
            cap + 0.1,
            EventBody::CapacityConn(CapacityConn {
                run: 1,
                index: i,
                ok,
                connect_ms: 3.0,
                error,
            }),
        ));
    }
    ev.push((
        cap + 1.3,
        EventBody::CapacityFinished(CapacityFinished {
            run: 1,
            elapsed_ms: 1300.0,
            aborted: false,
            reason: None,
        }),
    ));
    ev.sort_by(|a, b| a.0.total_cmp(&b.0));

    let state = connscope::state::fixtures::staging_config();
    let header = connscope::record::Header {
        format: connscope::record::FORMAT.into(),
        version: connscope::record::VERSION,
        connscope: env!("CARGO_PKG_VERSION").into(),
        command: "watch".into(),
        started_at: t(0.0),
        environment: "staging".into(),
        config: serde_json::json!({"environment": "staging", "cloud_sql": true}),
        state,
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    writeln!(out, "{}", serde_json::to_string(&header).expect("header")).expect("write");
    for (at, body) in &ev {
        let line = serde_json::to_string(&Event::at(t(*at), body.clone())).expect("event");
        writeln!(out, "{line}").expect("write");
    }
    out.flush().expect("flush");
    Busy {
        events: ev.len() as u64,
        attempts,
        failed,
    }
}

/// Failed attempts the page's database timeline marks: the sum of its marks' counts (each
/// mark's tooltip says `…: N × class …`).
pub fn marked_failures(page: &str) -> u64 {
    let re = regex::Regex::new(r#"class="mark mark-[a-z]+"[^>]*><title>[^<]*?: (\d+) × "#)
        .expect("regex");
    re.captures_iter(page)
        .filter_map(|c| c[1].parse::<u64>().ok())
        .sum()
}
