//! The lab, for real, on loopback: the simulated and the real database, every proxy fault one
//! by one, the stand-in service per scenario, the startup log, and clean shutdown.

use crate::common::lab_support;

use std::time::{Duration, Instant};

use connscope::lab::pg::{PgCluster, find_binaries};
use connscope::lab::{DatabaseKind, Faults, Lab, LabOptions, OverCap, Proxy, SimDb, pgconn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::error::SqlState;

use crate::common::lab_headless::processes_mentioning;
use lab_support::*;

fn code_of(r: Result<Pg, pgconn::ConnectError>) -> Option<SqlState> {
    r.err().and_then(|e| e.code().cloned())
}

// ---------------------------------------------------------------- simulated database

#[tokio::test]
async fn sim_database_speaks_the_protocol_and_refuses_like_postgres() {
    let sim = SimDb::start(3).await.expect("sim starts");
    let a = pg(sim.addr(), "app").await.expect("first connection");
    assert_eq!(select_one(&a).await, 1, "extended protocol");
    let simple = a
        .client
        .simple_query("SELECT 1")
        .await
        .expect("simple query");
    assert!(!simple.is_empty());
    let max: String = a
        .client
        .query_one("SHOW max_connections", &[])
        .await
        .expect("show")
        .get(0);
    assert_eq!(max, "3");
    let max: String = a
        .client
        .query_one("SELECT current_setting('max_connections')", &[])
        .await
        .expect("current_setting")
        .get(0);
    assert_eq!(max, "3");
    let in_use: i64 = a
        .client
        .query_one("SELECT count(*) FROM pg_stat_activity", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(in_use, 1);
    let unsupported = a.client.simple_query("SELECT * FROM users").await.err();
    assert_eq!(
        unsupported.and_then(|e| e.code().cloned()),
        Some(SqlState::FEATURE_NOT_SUPPORTED)
    );

    // The limit changes live: new connections are refused before authentication.
    sim.set_limit(1);
    let refused = pg(sim.addr(), "app").await;
    let message = refused
        .as_ref()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(code_of(refused), Some(SqlState::TOO_MANY_CONNECTIONS));
    assert!(message.contains("too many clients"), "{message}");
    sim.set_limit(5);
    let b = pg(sim.addr(), "app").await.expect("room again");
    assert_eq!(sim.in_use(), 2);

    sim.set_starting_up(true);
    assert_eq!(
        code_of(pg(sim.addr(), "app").await),
        Some(SqlState::CANNOT_CONNECT_NOW)
    );
    sim.set_starting_up(false);
    drop((a, b));
    sim.shutdown().await;
    assert!(
        TcpStream::connect(sim.addr()).await.is_err(),
        "nothing listens after shutdown"
    );
}

/// sqlx is what many services connect with (named prepared statements, its own startup): the simulated
/// database must satisfy it too.
#[tokio::test]
async fn sim_database_serves_sqlx() {
    use sqlx::Connection;
    crate::common::init();
    let sim = SimDb::start(2).await.expect("sim starts");
    let url = format!("postgres://app@{}/app", sim.addr());
    let mut conn = tokio::time::timeout(STEP, sqlx::PgConnection::connect(&url))
        .await
        .expect("in time")
        .expect("sqlx connects");
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .expect("SELECT 1");
    assert_eq!(one, 1);
    let max: String = sqlx::query_scalar("SHOW max_connections")
        .fetch_one(&mut conn)
        .await
        .expect("SHOW");
    assert_eq!(max, "2");
    sim.set_limit(1);
    let refused = tokio::time::timeout(STEP, sqlx::PgConnection::connect(&url))
        .await
        .expect("in time")
        .err()
        .and_then(|e| {
            e.as_database_error()
                .and_then(|d| d.code().map(|c| c.to_string()))
        });
    assert_eq!(refused.as_deref(), Some("53300"));
    conn.close().await.expect("closes");
    sim.shutdown().await;
}

// ---------------------------------------------------------------- real database

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_postgres_cluster_starts_reaches_capacity_and_leaves_nothing_behind() {
    let bin = find_binaries().expect("PostgreSQL server binaries are installed on this machine");
    let mut cluster = PgCluster::start(&bin, 4).await.expect("cluster starts");
    let dir = cluster.dir().to_path_buf();
    let data = dir.join("data").display().to_string();
    assert!(!processes_mentioning(&data).is_empty(), "postmaster runs");

    let mut held = Vec::new();
    for _ in 0..4 {
        let c = pg(cluster.addr(), "app").await.expect("a slot is free");
        assert_eq!(select_one(&c).await, 1);
        held.push(c);
    }
    let max: String = held[0]
        .client
        .query_one("SHOW max_connections", &[])
        .await
        .expect("show")
        .get(0);
    assert_eq!(max, "4");
    // superuser_reserved_connections=0: the fifth connection is refused with a real 53300.
    assert_eq!(
        code_of(pg(cluster.addr(), "app").await),
        Some(SqlState::TOO_MANY_CONNECTIONS)
    );
    drop(held);

    cluster.stop().await.expect("stops");
    assert!(!dir.exists(), "{} removed", dir.display());
    assert!(
        processes_mentioning(&data).is_empty(),
        "no postgres process left"
    );
}

// ---------------------------------------------------------------- proxy faults, one by one

async fn proxy_to_echo(faults: Faults) -> (Upstream, Proxy) {
    let up = Upstream::start().await;
    let proxy = Proxy::start(up.addr, faults).await.expect("proxy starts");
    (up, proxy)
}

async fn median_echo(addr: std::net::SocketAddr) -> Duration {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.set_nodelay(true).expect("nodelay");
    echo(&mut s, b"warm-up").await.expect("echo");
    let mut times = Vec::new();
    for _ in 0..5 {
        times.push(echo(&mut s, b"ping").await.expect("echo"));
    }
    times.sort();
    times[2]
}

#[tokio::test]
async fn proxy_adds_the_configured_latency_in_each_direction() {
    let latency = Duration::from_millis(100);
    let (up, proxy) = proxy_to_echo(Faults {
        latency,
        ..Faults::default()
    })
    .await;
    let direct = median_echo(up.addr).await;
    let proxied = median_echo(proxy.addr()).await;
    let added = proxied.saturating_sub(direct);
    eprintln!("echo round trip: direct {direct:?}, proxied {proxied:?}, added {added:?}");
    // One chunk each way: 2 × 100 ms. Latency applied twice per chunk would be 400 ms; the
    // median of the rounds gets everything in between as scheduling slack.
    assert!(added >= Duration::from_millis(195), "added {added:?}");
    assert!(added < Duration::from_millis(400), "added {added:?}");

    // Through the proxy to a database: SELECT 1 is one round trip more than direct.
    let (sim, db_proxy) = sim_behind_proxy(
        5,
        Faults {
            latency,
            ..Faults::default()
        },
    )
    .await;
    let c = pg(db_proxy.addr(), "app")
        .await
        .expect("connect through proxy");
    let started = Instant::now();
    c.client.simple_query("SELECT 1").await.expect("query");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(195), "SELECT 1 took {took:?}");
    drop(c);
    db_proxy.shutdown().await;
    proxy.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn proxy_jitter_varies_latency_without_reordering() {
    let (_up, proxy) = proxy_to_echo(Faults {
        latency: Duration::from_millis(40),
        jitter: Duration::from_millis(30),
        ..Faults::default()
    })
    .await;
    let mut s = TcpStream::connect(proxy.addr()).await.expect("connect");
    let mut times = Vec::new();
    for i in 0..12u8 {
        times.push(echo(&mut s, &[b'a' + i; 3]).await.expect("echo in order"));
    }
    let min = times.iter().min().copied().unwrap_or_default();
    let max = times.iter().max().copied().unwrap_or_default();
    eprintln!("jittered round trips: {min:?}..{max:?}");
    assert!(min >= Duration::from_millis(20), "min {min:?}");
    assert!(
        max - min >= Duration::from_millis(15),
        "no variation: {min:?}..{max:?}"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn proxy_black_hole_times_out_and_releases_when_lifted() {
    let (sim, proxy) = sim_behind_proxy(
        5,
        Faults {
            black_hole: true,
            ..Faults::default()
        },
    )
    .await;
    let started = Instant::now();
    let r = pg_within(proxy.addr(), Duration::from_millis(400)).await;
    assert!(r.is_none(), "a black-holed connection never completes");
    assert!(started.elapsed() < Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(2);
    while proxy.stats().active > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        proxy.stats().active,
        0,
        "the proxy notices the client gave up"
    );

    // A connection caught in the black hole goes through once it lifts (TCP retransmits).
    let accepted = proxy.stats().accepted;
    let pending = tokio::spawn(pg_within(proxy.addr(), Duration::from_secs(5)));
    let deadline = Instant::now() + Duration::from_secs(2);
    while proxy.stats().accepted == accepted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        proxy.stats().accepted > accepted,
        "the proxy took the connection"
    );
    assert!(!pending.is_finished(), "caught in the black hole");
    proxy.set_faults(Faults::default());
    let c = pending
        .await
        .expect("task")
        .expect("in time")
        .expect("connects");
    assert_eq!(select_one(&c).await, 1);
    drop(c);
    proxy.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn proxy_reset_closes_with_rst() {
    let (_up, proxy) = proxy_to_echo(Faults {
        reset: true,
        ..Faults::default()
    })
    .await;
    let mut s = TcpStream::connect(proxy.addr())
        .await
        .expect("the kernel accepts");
    let _ = s.write_all(b"hello").await;
    let mut buf = [0u8; 8];
    let r = tokio::time::timeout(STEP, s.read(&mut buf))
        .await
        .expect("answers in time");
    let kind = r.err().map(|e| e.kind());
    assert_eq!(kind, Some(std::io::ErrorKind::ConnectionReset));

    // Turning reset on also resets connections that are already open.
    proxy.set_faults(Faults::default());
    let mut open = TcpStream::connect(proxy.addr()).await.expect("connect");
    echo(&mut open, b"ok").await.expect("echo works");
    proxy.set_faults(Faults {
        reset: true,
        ..Faults::default()
    });
    let r = tokio::time::timeout(STEP, open.read(&mut buf))
        .await
        .expect("answers in time");
    assert_eq!(
        r.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionReset)
    );
    assert!(proxy.stats().resets >= 2);

    // A Postgres client sees an error, not a hang.
    let (sim, db_proxy) = sim_behind_proxy(
        5,
        Faults {
            reset: true,
            ..Faults::default()
        },
    )
    .await;
    let r = pg_within(db_proxy.addr(), STEP).await.expect("fails fast");
    let err = r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        err.to_lowercase().contains("reset") || err.contains("closed"),
        "{err}"
    );
    db_proxy.shutdown().await;
    sim.shutdown().await;
    proxy.shutdown().await;
}

#[tokio::test]
async fn proxy_cap_holds_extra_connections_or_resets_them() {
    let (_up, proxy) = proxy_to_echo(Faults {
        max_connections: Some(2),
        over_cap: OverCap::Wait,
        ..Faults::default()
    })
    .await;
    let mut a = TcpStream::connect(proxy.addr()).await.expect("a");
    let mut b = TcpStream::connect(proxy.addr()).await.expect("b");
    echo(&mut a, b"a").await.expect("a echoes");
    echo(&mut b, b"b").await.expect("b echoes");
    let mut c = TcpStream::connect(proxy.addr())
        .await
        .expect("c is accepted");
    c.write_all(b"c").await.expect("write");
    let mut buf = [0u8; 1];
    let held = tokio::time::timeout(Duration::from_millis(300), c.read(&mut buf)).await;
    assert!(held.is_err(), "over the cap nothing is forwarded");
    let stats = proxy.stats();
    assert_eq!((stats.active, stats.waiting), (2, 1), "{stats:?}");
    drop(a);
    let r = tokio::time::timeout(STEP, c.read_exact(&mut buf))
        .await
        .expect("released in time");
    assert!(
        r.is_ok() && buf == *b"c",
        "c is forwarded once a slot frees"
    );

    proxy.set_faults(Faults {
        max_connections: Some(2),
        over_cap: OverCap::Reset,
        ..Faults::default()
    });
    let mut d = TcpStream::connect(proxy.addr())
        .await
        .expect("d is accepted");
    let _ = d.write_all(b"d").await;
    let r = tokio::time::timeout(STEP, d.read(&mut buf))
        .await
        .expect("answers in time");
    assert_eq!(
        r.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionReset)
    );
    drop((b, c));
    proxy.shutdown().await;
}

#[tokio::test]
async fn proxy_bandwidth_limit_slows_a_transfer() {
    let rate = 400_000u64;
    let size = 200_000usize;
    let (up, proxy) = proxy_to_echo(Faults {
        bandwidth_bytes_per_sec: Some(rate),
        ..Faults::default()
    })
    .await;
    async fn blast(addr: std::net::SocketAddr, size: usize) -> Duration {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let started = Instant::now();
        s.write_all(format!("BLAST {size}\n").as_bytes())
            .await
            .expect("ask");
        let mut got = Vec::new();
        tokio::time::timeout(STEP, s.read_to_end(&mut got))
            .await
            .expect("transfer ends in time")
            .expect("transfer works");
        assert_eq!(got.len(), size);
        started.elapsed()
    }
    let direct = blast(up.addr, size).await;
    let limited = blast(proxy.addr(), size).await;
    let expected = Duration::from_secs_f64(size as f64 / rate as f64);
    eprintln!("{size} bytes: direct {direct:?}, at {rate} B/s {limited:?} (ideal {expected:?})");
    assert!(limited >= expected.mul_f64(0.9), "{limited:?}");
    assert!(limited <= expected.mul_f64(1.6), "{limited:?}");
    assert!(direct < expected / 4, "{direct:?}");
    proxy.shutdown().await;
}

#[tokio::test]
async fn proxy_connect_delay_postpones_the_first_byte() {
    let delay = Duration::from_millis(300);
    let (_up, proxy) = proxy_to_echo(Faults {
        connect_delay: delay,
        ..Faults::default()
    })
    .await;
    let mut s = TcpStream::connect(proxy.addr()).await.expect("connect");
    let first = echo(&mut s, b"first").await.expect("echo");
    let second = echo(&mut s, b"second").await.expect("echo");
    assert!(first >= delay, "first {first:?}");
    // Only the first byte waits: the second echo does not pay the delay again.
    assert!(second < delay, "second {second:?}");
    proxy.shutdown().await;
}

#[tokio::test]
async fn proxy_shutdown_ends_every_connection() {
    let (_up, proxy) = proxy_to_echo(Faults::default()).await;
    let mut open = TcpStream::connect(proxy.addr()).await.expect("connect");
    echo(&mut open, b"x").await.expect("echo");
    proxy.set_faults(Faults {
        black_hole: true,
        ..Faults::default()
    });
    let mut stuck = TcpStream::connect(proxy.addr()).await.expect("connect");
    stuck.write_all(b"y").await.expect("write");
    let started = Instant::now();
    proxy.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2));
    let mut buf = [0u8; 1];
    for s in [&mut open, &mut stuck] {
        let r = tokio::time::timeout(STEP, s.read(&mut buf))
            .await
            .expect("closed in time");
        assert!(matches!(r, Ok(0) | Err(_)), "connection ended: {r:?}");
    }
    assert!(
        TcpStream::connect(proxy.addr()).await.is_err(),
        "no longer listening"
    );
}

// ---------------------------------------------------------------- the whole lab

const FAST: f64 = 0.02;

fn options(scenario: &str, database: DatabaseKind) -> LabOptions {
    LabOptions {
        scenario: scenario.into(),
        database,
        max_connections: 12,
        time_scale: Some(FAST),
    }
}

async fn assert_healthy(lab: &Lab) {
    let a = lab.addresses();
    for base in a.endpoints.values() {
        wait_status(base, "/health", 200, Duration::from_secs(10)).await;
        let body = wait_status(base, "/health/database", 200, Duration::from_secs(5)).await;
        assert!(body.contains("connected"), "{body}");
    }
    let reply = ws_ping(&a.websocket).await.expect("websocket answers");
    assert_eq!(reply, r#"{"type":"pong"}"#);
    wait_log_line(&a.startup_log, Duration::from_secs(1), |v| {
        v["phase"] == 7 && v["status"] == "completed"
    })
    .await;
}

/// At 0.02, the 75 s initialization timeout is 1.5 s.
async fn assert_startup_timeout(lab: &Lab) {
    let a = lab.addresses();
    let failed = wait_log_line(&a.startup_log, Duration::from_secs(10), |v| {
        v["phase"] == 3 && v["status"] == "failed"
    })
    .await;
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("database initialization timeout after 1.5 s"),
        "{message}"
    );
    assert!(
        failed["timestamp"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
    );
    wait_log_line(&a.startup_log, Duration::from_secs(2), |v| {
        v["event"] == "exit" && v["code"] == 3
    })
    .await;
    for base in a.endpoints.values() {
        for path in ["/health", "/health/database"] {
            let (status, body) = http_get(base, path).await;
            assert_eq!(status, 503, "{base}{path}: {body}");
            assert!(
                body.contains("startup failed: database initialization timeout"),
                "{body}"
            );
        }
    }
    assert!(
        ws_ping(&a.websocket).await.is_err(),
        "no WebSocket while failing"
    );
    let through = pg_within(addr_of(&a.database_url), Duration::from_millis(300)).await;
    assert!(through.is_none(), "the proxy black-holes everyone");
}

async fn assert_capacity(lab: &Lab) {
    let a = lab.addresses();
    assert!(lab.hog_held().await > 0);
    for url in [&a.database_url, &a.direct_database_url] {
        let r = pg_within(addr_of(url), STEP)
            .await
            .expect("answers in time");
        assert_eq!(code_of(r), Some(SqlState::TOO_MANY_CONNECTIONS), "{url}");
    }
    // The running service keeps the connection it holds.
    let (status, body) = http_get(&a.endpoints["backend"], "/health/database").await;
    assert_eq!(status, 200, "{body}");
}

/// `db-capacity` keeps the server full: a slot given up (`held`, opened before the switch, so
/// the hog filled the server around it) is the hog's again, and a new connection is refused.
async fn assert_slot_taken_back(lab: &Lab, held: Pg) {
    let before = lab.hog_held().await;
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    while lab.hog_held().await <= before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        lab.hog_held().await,
        before + 1,
        "the hog took the slot back"
    );
    let direct = addr_of(&lab.addresses().direct_database_url);
    let r = pg_within(direct, STEP).await.expect("answers in time");
    assert_eq!(code_of(r), Some(SqlState::TOO_MANY_CONNECTIONS));
}

async fn assert_cleaned_up(lab: Lab) {
    let dirs = lab.temp_dirs();
    assert!(dirs.iter().all(|d| d.exists()));
    let needles: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    lab.shutdown().await.expect("shutdown");
    for (dir, needle) in dirs.iter().zip(&needles) {
        assert!(!dir.exists(), "{} removed", dir.display());
        assert!(
            processes_mentioning(needle).is_empty(),
            "no process uses {needle}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_on_the_simulated_database_plays_every_scenario() {
    crate::common::init();
    let lab = Lab::start(options("healthy", DatabaseKind::Sim))
        .await
        .expect("lab starts");
    assert_eq!(lab.database().as_str(), "sim");
    let a = lab.addresses();
    for url in [&a.database_url, &a.direct_database_url] {
        let u = url::Url::parse(url).expect("parses");
        assert_eq!(
            (u.username(), u.password()),
            ("app", None),
            "no password in {url}"
        );
    }
    for url in [&a.database_url, &a.direct_database_url] {
        let c = pg(addr_of(url), "app").await.expect("connects");
        assert_eq!(select_one(&c).await, 1);
    }
    assert_healthy(&lab).await;

    let held = pg(addr_of(&a.direct_database_url), "app")
        .await
        .expect("connects");
    lab.switch("db-capacity").await.expect("switch");
    assert_eq!(lab.current().name, "db-capacity");
    assert_capacity(&lab).await;
    assert_slot_taken_back(&lab, held).await;

    lab.switch("startup-timeout").await.expect("switch");
    assert_eq!(lab.hog_held().await, 0, "the hog lets go");
    assert_startup_timeout(&lab).await;

    lab.switch("healthy").await.expect("switch");
    assert_healthy(&lab).await;
    assert_cleaned_up(lab).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_on_real_postgres_fails_phase_three_then_recovers() {
    crate::common::init();
    let lab = Lab::start(options("startup-timeout", DatabaseKind::Postgres))
        .await
        .expect("lab starts with real PostgreSQL");
    assert_eq!(lab.database().as_str(), "postgres");
    assert_startup_timeout(&lab).await;
    let direct = pg(addr_of(&lab.addresses().direct_database_url), "app")
        .await
        .expect("direct works");
    assert_eq!(select_one(&direct).await, 1);
    drop(direct);

    lab.switch("healthy").await.expect("switch");
    assert_healthy(&lab).await;
    let held = pg(addr_of(&lab.addresses().direct_database_url), "app")
        .await
        .expect("connects");
    lab.switch("db-capacity").await.expect("switch");
    assert_capacity(&lab).await;
    assert_slot_taken_back(&lab, held).await;
    assert_cleaned_up(lab).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_lab_without_shutdown_still_stops_postgres_and_removes_its_files() {
    let lab = Lab::start(options("healthy", DatabaseKind::Postgres))
        .await
        .expect("lab starts with real PostgreSQL");
    let dirs = lab.temp_dirs();
    assert_eq!(dirs.len(), 2, "database and run directories: {dirs:?}");
    drop(lab);
    for dir in &dirs {
        assert!(!dir.exists(), "{} removed", dir.display());
        let needle = dir.display().to_string();
        assert!(
            processes_mentioning(&needle).is_empty(),
            "no process uses {needle}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flapping_toggles_the_black_hole_and_saturation_delays_connections() {
    let lab = Lab::start(options("flapping", DatabaseKind::Sim))
        .await
        .expect("lab starts");
    // every = 40 s × 0.02 = 0.8 s.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = (false, false);
    while Instant::now() < deadline && !(seen.0 && seen.1) {
        if lab.proxy().faults().black_hole {
            seen.0 = true;
        } else if seen.0 {
            seen.1 = true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, (true, true), "black hole came and went");

    lab.switch("connector-saturation").await.expect("switch");
    assert!(!lab.proxy().faults().black_hole, "flapping stopped");
    assert_eq!(lab.proxy().faults().max_connections, Some(12));
    // connect delay 25 s ± 15 s × 0.02: 0.2 s to 0.8 s before anything is forwarded.
    let started = Instant::now();
    let c = pg_within(addr_of(&lab.addresses().database_url), STEP)
        .await
        .expect("in time")
        .expect("connects");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "connect took {took:?}");
    drop(c);
    assert_cleaned_up(lab).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn banner_and_suggested_settings_describe_the_lab() {
    let lab = Lab::start(LabOptions {
        database: DatabaseKind::Sim,
        ..LabOptions::default()
    })
    .await
    .expect("lab starts");
    let banner = serde_json::to_value(connscope::lab::Banner::of(&lab)).expect("serialises");
    let keys: Vec<&str> = banner
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut expected = vec![
        "database",
        "database_url",
        "direct_database_url",
        "endpoints",
        "scenario",
        "startup_log",
        "websocket",
    ];
    expected.sort();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(sorted, expected);
    assert_eq!(banner["database"], "sim");
    assert_eq!(banner["scenario"], "healthy");
    assert!(
        banner["database_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("postgres://app@127.0.0.1:"))
    );
    let endpoints = banner["endpoints"].as_object().expect("a map");
    assert_eq!(endpoints.len(), 3);
    assert!(
        banner["websocket"]
            .as_str()
            .is_some_and(|u| u.starts_with("ws://127.0.0.1:"))
    );

    // The settings load on top of the staging profile and keep its ratios, scaled by 0.1.
    let settings = lab.suggested_settings().expect("settings");
    let config = connscope::config::Config::load(&connscope::config::LoadOptions {
        lab: settings,
        ..Default::default()
    })
    .expect("lab settings are a valid configuration");
    assert_eq!(
        config.source("timeouts.connection"),
        connscope::config::Source::Lab
    );
    let t = config.settings.timeouts;
    assert_eq!(t.initialization, Duration::from_millis(7500));
    assert_eq!(t.connection, Duration::from_millis(3500));
    assert_eq!(t.health_check, Duration::from_secs(2));
    assert_eq!(
        config.settings.startup.phases[2].budget,
        Duration::from_secs(9)
    );
    assert_eq!(config.settings.endpoints.len(), 3);
    // Scaling keeps every judgement of the profile: the same findings as staging itself
    // (apart from staging's "no database URL", which the lab fills in).
    let staging = connscope::config::Config::load(&connscope::config::LoadOptions {
        flags: vec![connscope::config::FlagOverride {
            key: "environment",
            value: toml::Value::String("staging".into()),
            flag: "test",
        }],
        ..Default::default()
    })
    .expect("staging loads");
    let judged = |c: &connscope::config::Config| {
        let mut v: Vec<(String, String)> = c
            .findings()
            .iter()
            .filter(|f| f.key != "database.url")
            .map(|f| (f.key.clone(), format!("{:?}", f.level)))
            .collect();
        v.sort();
        v
    };
    assert_eq!(judged(&config), judged(&staging));
    assert_cleaned_up(lab).await;
}

#[tokio::test]
async fn headless_returns_after_shutdown_and_rejects_unknown_scenarios() {
    let unknown = connscope::lab::run_headless(
        LabOptions {
            scenario: "nope".into(),
            database: DatabaseKind::Sim,
            ..LabOptions::default()
        },
        std::future::ready(()),
    )
    .await;
    let err = unknown.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("unknown scenario `nope`"), "{err}");
    let ran = tokio::time::timeout(
        Duration::from_secs(10),
        connscope::lab::run_headless(
            LabOptions {
                database: DatabaseKind::Sim,
                ..LabOptions::default()
            },
            tokio::time::sleep(Duration::from_millis(200)),
        ),
    )
    .await
    .expect("stops in time");
    assert!(ran.is_ok(), "{ran:?}");
}
