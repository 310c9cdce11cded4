//! The sample recording `tests/fixtures/recordings/outage.jsonl`, built deterministically: the
//! outage as an on-call engineer watching staging saw it. Two good connection attempts, then
//! TCP connects timing out through the connector (an infrastructure alert first, critical and
//! warning once most attempts fail), the initialization probe timing out at 75 s, startup
//! phase 3 failing at 75 s and the service exiting with code 3, health endpoints answering 503
//! three tries out of three, the WebSocket refused, the container restarting and failing the
//! same way, and a capacity test whose connections all time out.
//!
//! The committed file must equal what this builds (a test checks); after changing it, run
//! `CONNSCOPE_UPDATE_FIXTURES=1 cargo test review::sample` to rewrite the file.

use connscope::cli::Global;
use connscope::config::{Config, LoadOptions};
use connscope::event::*;
use connscope::record::Header;
use connscope::state::StateConfig;
use connscope::state::fixtures::{failure, http, ok_attempt, phase, t, tcp_timeout, ws};

pub const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/recordings/outage.jsonl"
);

/// The staging configuration the engineer ran with (no environment, no files: flags only).
fn config() -> Config {
    let g = Global {
        env: Some("staging".into()),
        db_url: Some("postgres://app@10.20.0.3:5432/app?sslmode=require".into()),
        endpoint: ["backend", "api", "auth"]
            .iter()
            .map(|n| (n.to_string(), format!("https://{n}.staging.example.com")))
            .collect(),
        ws: vec!["wss://backend.staging.example.com/ws".into()],
        tries: Some(3),
        startup_log: Some("/var/log/backend/startup.log".into()),
        ..Global::default()
    };
    let opts = LoadOptions {
        flags: g.overrides(),
        ..LoadOptions::default()
    };
    Config::load(&opts).expect("the sample configuration loads")
}

fn header() -> Header {
    let config = config();
    let state = StateConfig::from_config(&config);
    let mut h = Header::new("watch", &config, &state);
    // Fixed, so the file is the same on every build.
    h.connscope = "0.1.0".into();
    h.started_at = t(-0.4);
    h
}

fn with_try(body: EventBody, attempt: u32) -> EventBody {
    match body {
        EventBody::HttpCheck(mut c) => {
            c.attempt = attempt;
            c.tries = 3;
            EventBody::HttpCheck(c)
        }
        other => other,
    }
}

fn startup_run(ev: &mut Vec<(f64, EventBody)>, t0: f64) {
    let msg = "database initialization timeout after 75.0s";
    ev.extend([
        (t0, phase(1, PhaseStatus::Started, t0, None)),
        (t0 + 0.3, phase(1, PhaseStatus::Completed, t0 + 0.3, None)),
        (t0 + 0.3, phase(2, PhaseStatus::Started, t0 + 0.3, None)),
        (t0 + 2.1, phase(2, PhaseStatus::Completed, t0 + 2.1, None)),
        (t0 + 2.1, phase(3, PhaseStatus::Started, t0 + 2.1, None)),
        (
            t0 + 77.1,
            phase(3, PhaseStatus::Failed, t0 + 77.1, Some(msg)),
        ),
        (
            t0 + 77.2,
            EventBody::StartupExit(StartupExit {
                source: StartupSource::Log,
                code: 3,
                ts: t(t0 + 77.2),
            }),
        ),
    ]);
}

fn attempts(ev: &mut Vec<(f64, EventBody)>) {
    ev.push((0.5, ok_attempt(1, 1.1, 2.3, 48.0, 1.2)));
    ev.push((2.9, ok_attempt(2, 1.2, 2.4, 2410.0, 1.3)));
    // Each timeout is observed 35 s after it began; the next begins 2 s later.
    for (i, at) in [39.9, 76.9, 113.9, 150.9, 187.9, 224.9]
        .into_iter()
        .enumerate()
    {
        ev.push((at, tcp_timeout(i as u64 + 3)));
    }
}

fn init() -> EventBody {
    EventBody::Init(InitResult {
        ok: false,
        elapsed_ms: 75_012.4,
        timeout_ms: 75_000.0,
        steps_ms: DbSteps {
            dns: Some(1.3),
            ..DbSteps::default()
        },
        warmup_ms: None,
        server_version: None,
        server_max_connections: None,
        error: Some(failure(
            ErrorClass::Timeout,
            Step::Tcp,
            None,
            "no TCP connection within 75s",
        )),
    })
}

fn health(ev: &mut Vec<(f64, EventBody)>) {
    let body = "startup failed: database initialization timeout (Cloud SQL)";
    for (k, at) in [(1u32, 80.0), (2, 90.0), (3, 100.0)] {
        for name in ["backend", "api", "auth"] {
            ev.push((at, with_try(http(name, "/health", 503, 118.0, body), k)));
            let db = http(name, "/health/database", 503, 131.0, body);
            ev.push((at + 0.2, with_try(db, k)));
        }
        ev.push((at + 0.5, ws(false)));
    }
}

fn capacity(ev: &mut Vec<(f64, EventBody)>) {
    ev.push((
        160.0,
        EventBody::CapacityStarted(CapacityStarted {
            run: 1,
            requested: 10,
            planned: 10,
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
    for i in 0..10u32 {
        let error = failure(
            ErrorClass::Timeout,
            Step::Tcp,
            None,
            "no TCP connection within 35s",
        );
        ev.push((
            195.0 + f64::from(i) * 0.01,
            EventBody::CapacityConn(CapacityConn {
                run: 1,
                index: i,
                ok: false,
                connect_ms: 35_000.0 + f64::from(i),
                error: Some(error),
            }),
        ));
    }
    ev.push((
        195.2,
        EventBody::CapacityFinished(CapacityFinished {
            run: 1,
            elapsed_ms: 35_200.0,
            aborted: false,
            reason: None,
        }),
    ));
}

pub fn events() -> Vec<(f64, EventBody)> {
    let mut ev = Vec::new();
    startup_run(&mut ev, 0.0);
    startup_run(&mut ev, 120.0);
    attempts(&mut ev);
    ev.push((75.3, init()));
    health(&mut ev);
    capacity(&mut ev);
    ev.push((
        197.3,
        EventBody::StartupLog(StartupLog {
            source: "/var/log/backend/startup.log".into(),
            lines: 48,
            skipped: 3,
            ended: false,
            format: Some("json".into()),
        }),
    ));
    // Stable: events at one time keep the order written above.
    ev.sort_by(|a, b| a.0.total_cmp(&b.0));
    ev
}

/// The file's text: the header line, then one event per line.
pub fn build() -> String {
    let mut out = serde_json::to_string(&header()).expect("header encodes");
    out.push('\n');
    for (at, body) in events() {
        let line = serde_json::to_string(&Event::at(t(at), body)).expect("event encodes");
        out.push_str(&line);
        out.push('\n');
    }
    out
}
