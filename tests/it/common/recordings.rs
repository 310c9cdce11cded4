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

type Timed = Vec<(f64, connscope::event::EventBody)>;

/// A generated recording of a long, busy watch on staging: `secs` seconds of database
/// attempts at `per_sec` (fast successes with a rare spike; an outage of timeouts from 60 s
/// to 300 s, a burst of 53300 from 420 s to 440 s, a refused attempt now and then), health
/// checks of three endpoints and a WebSocket every 10 s (503 while the service cannot
/// start), the service's startup failing at phase 3 in a restart loop until the database is
/// back, and a capacity test at 425 s. Deterministic.
pub fn busy(path: &Path, secs: u32, per_sec: u32) -> Busy {
    let mut rng = fastrand::Rng::with_seed(18);
    let mut ev = Timed::new();
    let failed = db_attempts(&mut ev, &mut rng, secs, per_sec);
    health_checks(&mut ev, &mut rng, secs);
    startup_runs(&mut ev, secs);
    capacity_test(&mut ev, 425.0);
    ev.sort_by(|a, b| a.0.total_cmp(&b.0));
    write_recording(path, &ev);
    Busy {
        events: ev.len() as u64,
        attempts: u64::from(secs * per_sec),
        failed,
    }
}

fn too_many() -> connscope::event::Failure {
    use connscope::event::{ErrorClass, Step};
    connscope::state::fixtures::failure(
        ErrorClass::TooManyConnections,
        Step::Handshake,
        Some("53300"),
        "sorry, too many clients already",
    )
}

/// Returns how many failed.
fn db_attempts(ev: &mut Timed, rng: &mut fastrand::Rng, secs: u32, per_sec: u32) -> u64 {
    use connscope::event::{DbSteps, ErrorClass, Step};
    use connscope::state::fixtures::{failed_attempt, failure, ok_attempt};
    let tcp_only = DbSteps {
        tcp: Some(0.4),
        ..DbSteps::default()
    };
    let mut failed = 0;
    for i in 0..u64::from(secs * per_sec) {
        let at = i as f64 / f64::from(per_sec);
        let failure = if (60.0..300.0).contains(&at) {
            let f = failure(
                ErrorClass::Timeout,
                Step::Tls,
                None,
                "no TLS handshake within 35s",
            );
            Some((35_000.0, tcp_only, f))
        } else if (420.0..440.0).contains(&at) {
            Some((2.1, tcp_only, too_many()))
        } else if rng.u32(0..2000) == 0 {
            let f = failure(ErrorClass::Refused, Step::Tcp, None, "connection refused");
            Some((0.3, DbSteps::default(), f))
        } else {
            None
        };
        let body = match failure {
            Some((ms, steps, f)) => {
                failed += 1;
                failed_attempt(i, ms, steps, f)
            }
            None => {
                let spike = if rng.u32(0..500) == 0 { 200.0 } else { 0.0 };
                let handshake = 6.0 + 4.0 * rng.f64() + spike;
                ok_attempt(i, 0.0, rng.f64() + 0.3, handshake, 0.3 + rng.f64())
            }
        };
        ev.push((at, body));
    }
    failed
}

fn health_checks(ev: &mut Timed, rng: &mut fastrand::Rng, secs: u32) {
    use connscope::state::fixtures::{http, ws};
    let failed =
        r#"{"status":"unavailable","error":"startup failed: database initialization timeout"}"#;
    for k in 0..secs / 10 {
        let at = f64::from(k * 10) + 1.0;
        let down = (60.0..310.0).contains(&at);
        let (status, body) = if down {
            (503, failed)
        } else {
            (200, r#"{"status":"ok"}"#)
        };
        for (j, name) in ["backend", "api", "auth"].into_iter().enumerate() {
            for path in ["/health", "/health/database"] {
                let latency = 12.0 + rng.f64() * 5.0;
                ev.push((
                    at + j as f64 * 0.01,
                    http(name, path, status, latency, body),
                ));
            }
        }
        ev.push((at + 0.5, ws(!down)));
    }
}

/// Phase 3 times out at 75 s (and the service exits with 3) while the database is down; the
/// first run after it completes every phase.
fn startup_runs(ev: &mut Timed, secs: u32) {
    use connscope::event::{EventBody, PhaseStatus, StartupExit, StartupSource};
    use connscope::state::fixtures::{phase, t};
    let mut at = 0.0;
    while at < f64::from(secs) {
        for (n, len) in [(1u8, 0.4), (2, 2.0)] {
            ev.push((at, phase(n, PhaseStatus::Started, at, None)));
            at += len;
            ev.push((at, phase(n, PhaseStatus::Completed, at, None)));
        }
        ev.push((at, phase(3, PhaseStatus::Started, at, None)));
        if at >= 300.0 {
            at += 0.5;
            ev.push((at, phase(3, PhaseStatus::Completed, at, None)));
            for n in 4..=7u8 {
                ev.push((at, phase(n, PhaseStatus::Started, at, None)));
                at += 0.8;
                ev.push((at, phase(n, PhaseStatus::Completed, at, None)));
            }
            return;
        }
        at += 75.0;
        let msg = Some("database initialization timeout after 75.0s");
        ev.push((at, phase(3, PhaseStatus::Failed, at, msg)));
        let exit = StartupExit {
            source: StartupSource::Log,
            code: 3,
            ts: t(at + 0.1),
        };
        ev.push((at + 0.1, EventBody::StartupExit(exit)));
        at += 1.1;
    }
}

/// Ten connections, seven refused with 53300.
fn capacity_test(ev: &mut Timed, at: f64) {
    use connscope::event::{CapacityConn, CapacityFinished, CapacityStarted, EventBody};
    let started = CapacityStarted {
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
    };
    ev.push((at, EventBody::CapacityStarted(started)));
    for index in 0..10u32 {
        let ok = index < 3;
        let conn = CapacityConn {
            run: 1,
            index,
            ok,
            connect_ms: 3.0,
            error: (!ok).then(too_many),
        };
        ev.push((at + 0.1, EventBody::CapacityConn(conn)));
    }
    let finished = CapacityFinished {
        run: 1,
        elapsed_ms: 1300.0,
        aborted: false,
        reason: None,
    };
    ev.push((at + 1.3, EventBody::CapacityFinished(finished)));
}

/// A `watch` recording on the staging state configuration, starting at the fixtures' clock.
fn write_recording(path: &Path, ev: &Timed) {
    use connscope::event::Event;
    use connscope::state::fixtures::t;
    use std::io::Write as _;
    let header = connscope::record::Header {
        format: connscope::record::FORMAT.into(),
        version: connscope::record::VERSION,
        connscope: env!("CARGO_PKG_VERSION").into(),
        command: "watch".into(),
        started_at: t(0.0),
        environment: "staging".into(),
        config: serde_json::json!({"environment": "staging", "cloud_sql": true}),
        state: connscope::state::fixtures::staging_config(),
        backfill: None,
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    writeln!(out, "{}", serde_json::to_string(&header).expect("header")).expect("write");
    for (at, body) in ev {
        let line = serde_json::to_string(&Event::at(t(*at), body.clone())).expect("event");
        writeln!(out, "{line}").expect("write");
    }
    out.flush().expect("flush");
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
