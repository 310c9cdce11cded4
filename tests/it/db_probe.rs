//! The database probe against a real PostgreSQL and real faults — every class here comes from
//! a real failure, never a hand-built error: a closed port and a missing socket (refused), a
//! full accept queue dropping SYNs (timeout at tcp), a server that accepts and says nothing
//! (timeout at handshake / tls), SCRAM and pg_hba refusals (auth), a missing database, slots
//! really held (53300), TLS refused or untrusted. A name under `.invalid` is refused by
//! connscope itself before any query (RFC 6761); the system resolver's own failures — SERVFAIL,
//! NXDOMAIN, no answer — come from a real DNS server in `faults.rs` (`common::dns`).

use crate::common;

use std::time::{Duration, Instant};

use common::fault_net::BlackHole;
use common::pg::{PgOptions, TempPg};
use common::{db_params, init};
use connscope::event::{ErrorClass, Step};
use connscope::probe::db::attempt_once;

#[tokio::test]
async fn succeeds_over_tcp_with_every_step_timed() {
    init();
    let pg = TempPg::start();
    let a = attempt_once(1, &db_params(&pg.url("app", "app"), Duration::from_secs(5))).await;
    assert!(a.ok, "{:?}", a.error);
    let s = a.steps_ms;
    assert_eq!(s.dns, None, "an IP address needs no DNS step");
    for (name, v) in [
        ("tcp", s.tcp),
        ("handshake", s.handshake),
        ("query", s.query),
    ] {
        let v = v.unwrap_or_else(|| panic!("{name} not measured"));
        assert!(v > 0.0 && v < a.total_ms, "{name} = {v}");
    }
    assert!(
        s.tcp.unwrap_or(0.0) + s.handshake.unwrap_or(0.0) + s.query.unwrap_or(0.0)
            <= a.total_ms + 0.01
    );
    assert_eq!(
        pg.wait_sessions_gone("connscope"),
        0,
        "the probe closed its connection"
    );
}

#[tokio::test]
async fn a_host_name_gets_a_dns_step() {
    init();
    let pg = TempPg::start();
    let url = format!("postgres://app@localhost:{}/app?sslmode=disable", pg.port);
    let a = attempt_once(1, &db_params(&url, Duration::from_secs(5))).await;
    assert!(a.ok, "{:?}", a.error);
    assert!(a.steps_ms.dns.is_some());
}

#[tokio::test]
async fn succeeds_over_the_unix_socket() {
    init();
    let pg = TempPg::start();
    let url = format!(
        "postgres://app@/app?host={}&port={}",
        pg.socket_dir().display(),
        pg.port
    );
    let a = attempt_once(1, &db_params(&url, Duration::from_secs(5))).await;
    assert!(a.ok, "{:?}", a.error);
    assert_eq!(a.steps_ms.dns, None);
    assert!(a.steps_ms.tcp.is_some() && a.steps_ms.query.is_some());
}

#[tokio::test]
async fn a_missing_socket_is_refused() {
    init();
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("postgres://app@/app?host={}", dir.path().display());
    let a = attempt_once(1, &db_params(&url, Duration::from_secs(2))).await;
    let e = a.error.expect("fails");
    assert_eq!((e.class, e.step), (ErrorClass::Refused, Some(Step::Tcp)));
}

#[tokio::test]
async fn a_closed_port_is_refused_at_tcp() {
    init();
    let closed = common::ClosedPort::new();
    let port = closed.port();
    let url = format!("postgres://app@127.0.0.1:{port}/app?sslmode=disable");
    let a = attempt_once(1, &db_params(&url, Duration::from_secs(2))).await;
    let e = a.error.expect("fails");
    assert_eq!(
        (e.class, e.step, e.sqlstate),
        (ErrorClass::Refused, Some(Step::Tcp), None)
    );
}

#[tokio::test]
async fn a_silent_server_times_out_in_the_handshake_within_the_bound() {
    init();
    // Accepts and never says a word: the deadline must fire, in the step it hung.
    let hole = BlackHole::start();
    let port = hole.port();
    for (mode, step) in [("disable", Step::Handshake), ("prefer", Step::Tls)] {
        let url = format!("postgres://app@127.0.0.1:{port}/app?sslmode={mode}");
        let t = Instant::now();
        let a = attempt_once(1, &db_params(&url, Duration::from_millis(800))).await;
        let took = t.elapsed();
        let e = a.error.expect("fails");
        assert_eq!(
            (e.class, e.step),
            (ErrorClass::Timeout, Some(step)),
            "{mode}"
        );
        assert!(a.steps_ms.tcp.is_some(), "TCP connected before the silence");
        assert!(
            common::fired_at(took, Duration::from_millis(800)),
            "{mode}: {took:?}"
        );
    }
}

#[tokio::test]
async fn an_unresolvable_name_is_a_dns_failure() {
    init();
    // RFC 6761: .invalid never resolves; connscope answers that itself, so no query leaves the
    // machine (the resolver's own failures: `faults.rs`, against a real DNS server).
    let a = attempt_once(
        1,
        &db_params(
            "postgres://app@db.connscope.invalid:5432/app",
            Duration::from_secs(5),
        ),
    )
    .await;
    let e = a.error.expect("fails");
    assert_eq!((e.class, e.step), (ErrorClass::Dns, Some(Step::Dns)));
    assert!(a.steps_ms.dns.is_some() && a.steps_ms.tcp.is_none());
}

#[tokio::test]
async fn a_wrong_password_with_scram_is_auth_28p01() {
    init();
    let pg = TempPg::start_with(PgOptions {
        app_password: Some("right-password-1"),
        ..PgOptions::default()
    });
    let url = format!(
        "postgres://app:wrong-password-2@127.0.0.1:{}/app?sslmode=disable",
        pg.port
    );
    let a = attempt_once(1, &db_params(&url, Duration::from_secs(5))).await;
    let e = a.error.expect("fails");
    assert_eq!(
        (e.class, e.step, e.sqlstate.as_deref()),
        (ErrorClass::Auth, Some(Step::Handshake), Some("28P01"))
    );
    assert!(!e.message.contains("wrong-password-2"));
    let ok = format!(
        "postgres://app:right-password-1@127.0.0.1:{}/app?sslmode=disable",
        pg.port
    );
    let a = attempt_once(2, &db_params(&ok, Duration::from_secs(5))).await;
    assert!(a.ok, "scram with the right password: {:?}", a.error);
}

#[tokio::test]
async fn no_pg_hba_entry_is_auth_28000() {
    init();
    let pg = TempPg::start_with(PgOptions {
        app_password: Some("pw-for-hba"),
        ..PgOptions::default()
    });
    pg.psql("CREATE ROLE ghost LOGIN");
    std::fs::write(
        pg.dir.path().join("data/pg_hba.conf"),
        "local all all trust\nhost all postgres 127.0.0.1/32 trust\n",
    )
    .expect("hba");
    pg.reload();
    let a = attempt_once(
        1,
        &db_params(&pg.url("ghost", "app"), Duration::from_secs(5)),
    )
    .await;
    let e = a.error.expect("fails");
    assert_eq!(
        (e.class, e.sqlstate.as_deref()),
        (ErrorClass::Auth, Some("28000"))
    );
}

#[tokio::test]
async fn a_missing_database_is_3d000() {
    init();
    let pg = TempPg::start();
    let a = attempt_once(
        1,
        &db_params(&pg.url("app", "no_such_db"), Duration::from_secs(5)),
    )
    .await;
    let e = a.error.expect("fails");
    assert_eq!(
        (e.class, e.sqlstate.as_deref()),
        (ErrorClass::DatabaseMissing, Some("3D000"))
    );
}

#[tokio::test]
async fn too_many_connections_with_the_slots_really_held() {
    init();
    let pg = TempPg::start_with(PgOptions {
        max_connections: 3,
        superuser_reserved: 0,
        ..PgOptions::default()
    });
    let mut held = Vec::new();
    for i in 0..3u64 {
        let a = connscope::probe::conn::connect::attempt(
            &common::target(&pg.url("app", "app")),
            &db_params(&pg.url("app", "app"), Duration::from_secs(5)).connect,
        )
        .await;
        held.push(a.result.unwrap_or_else(|e| panic!("slot {i}: {e:?}")));
    }
    let a = attempt_once(9, &db_params(&pg.url("app", "app"), Duration::from_secs(5))).await;
    let e = a.error.expect("no slot left");
    assert_eq!(
        (e.class, e.step, e.sqlstate.as_deref()),
        (
            ErrorClass::TooManyConnections,
            Some(Step::Handshake),
            Some("53300")
        )
    );
    for s in held {
        s.close().await;
    }
    assert_eq!(
        pg.wait_no_clients(),
        0,
        "the closed sessions' backends have left"
    );
    let a = attempt_once(
        10,
        &db_params(&pg.url("app", "app"), Duration::from_secs(5)),
    )
    .await;
    assert!(a.ok, "slots free again: {:?}", a.error);
}

#[tokio::test]
async fn tls_required_against_a_server_without_it_is_a_tls_failure() {
    init();
    let pg = TempPg::start();
    let url = format!("postgres://app@127.0.0.1:{}/app?sslmode=require", pg.port);
    let a = attempt_once(1, &db_params(&url, Duration::from_secs(5))).await;
    let e = a.error.expect("fails");
    assert_eq!((e.class, e.step), (ErrorClass::Tls, Some(Step::Tls)));
    let prefer = format!("postgres://app@127.0.0.1:{}/app?sslmode=prefer", pg.port);
    assert!(
        attempt_once(2, &db_params(&prefer, Duration::from_secs(5)))
            .await
            .ok,
        "prefer falls back to plain"
    );
}

#[tokio::test]
async fn tls_is_negotiated_and_timed_and_verification_follows_sslmode() {
    init();
    let pg = TempPg::start_with(PgOptions {
        tls: Some(common::pg::self_signed_tls()),
        ..PgOptions::default()
    });
    let url = format!("postgres://app@127.0.0.1:{}/app?sslmode=require", pg.port);
    let a = attempt_once(1, &db_params(&url, Duration::from_secs(5))).await;
    assert!(a.ok, "{:?}", a.error);
    let tls = a.steps_ms.tls.expect("tls timed");
    assert!(
        tls > 0.0 && tls <= a.steps_ms.handshake.unwrap_or(0.0),
        "tls {tls} within handshake"
    );
    let strict = format!(
        "postgres://app@localhost:{}/app?sslmode=verify-full",
        pg.port
    );
    let e = attempt_once(2, &db_params(&strict, Duration::from_secs(5)))
        .await
        .error
        .expect("self-signed is not trusted");
    assert_eq!((e.class, e.step), (ErrorClass::Tls, Some(Step::Tls)));
}

/// SYNs dropped (a full accept queue; see `SynBlackHole`): TCP never connects, and the attempt
/// is a `timeout` at `tcp` when the connection timeout fires — no hand-built error.
#[tokio::test]
async fn dropped_syns_time_out_at_tcp_within_the_bound() {
    init();
    let hole = common::fault_net::SynBlackHole::start();
    let url = format!(
        "postgres://app@127.0.0.1:{}/app?sslmode=disable",
        hole.port()
    );
    let limit = Duration::from_millis(800);
    let t = Instant::now();
    let a = attempt_once(1, &db_params(&url, limit)).await;
    let took = t.elapsed();
    let e = a.error.expect("fails");
    assert_eq!(
        (e.class, e.step),
        (ErrorClass::Timeout, Some(Step::Tcp)),
        "{e:?}"
    );
    // The whole wait was in TCP (a failed step carries the time spent in it); nothing after.
    let in_tcp = a
        .steps_ms
        .tcp
        .map(|ms| Duration::from_secs_f64(ms / 1000.0));
    assert!(
        in_tcp.is_some_and(|t| common::fired_at(t, limit)),
        "{:?}",
        a.steps_ms
    );
    assert_eq!((a.steps_ms.handshake, a.steps_ms.query), (None, None));
    assert!(common::fired_at(took, limit), "{took:?}");
}
