//! libpq parity without TLS (tls_pg.rs has the TLS cases): every case runs psql — libpq
//! itself — beside connscope on the same real servers, with the same connection string,
//! environment and home directory, and checks that connscope connects or refuses for the same
//! reason: connect_timeout per address, host lists, no failover after a refused login,
//! target_session_attrs against a real standby, a standby with hot_standby off, no password,
//! a peer that is not PostgreSQL, a missing socket, options and application_name, channel
//! binding without TLS, a role's CONNECTION LIMIT and reserved slots, and connection strings
//! connscope refuses (exit 78).

use crate::common;

use std::time::Duration;

use common::fault_net::BlackHole;
use common::oracle::{self, Parity, home};
use common::pg::{PgOptions, TempPg};
use connscope::event::{ErrorClass, Step};

const T: Duration = Duration::from_secs(20);
const P: Parity = Parity { limit: T };

#[tokio::test(flavor = "multi_thread")]
async fn connect_timeout_bounds_each_address_then_the_next_host_is_tried() {
    common::init();
    let pg = TempPg::start();
    // Accepts and never answers, like a black-holed connector.
    let hole = BlackHole::start();
    let quiet = hole.port();
    let h = home();
    let one = format!(
        "host=127.0.0.1 port={quiet} user=app dbname=app sslmode=disable connect_timeout=2"
    );
    let (p, c) = P
        .agree_fail(
            &one,
            h.path(),
            &[],
            "timeout expired",
            ErrorClass::Timeout,
            "(connect_timeout)",
        )
        .await;
    assert!(p.took >= Duration::from_secs(2), "psql waited {:?}", p.took);
    assert_eq!(c.error.as_ref().and_then(|e| e.step), Some(Step::Handshake));
    assert!(
        c.total_ms >= 2000.0 && c.total_ms < 0.9 * T.as_millis() as f64,
        "connect_timeout=2 bounds the attempt, not the 20 s timeout: {} ms",
        c.total_ms
    );
    let two = format!(
        "host=127.0.0.1,127.0.0.1 port={quiet},{} user=app dbname=app sslmode=disable connect_timeout=2",
        pg.port
    );
    let c = P.agree_ok(&two, h.path(), &[]).await;
    assert_eq!(c.tries.len(), 2, "{:?}", c.tries);
    assert_eq!(
        c.tries[0].error.as_ref().map(|e| e.class),
        Some(ErrorClass::Timeout)
    );
    assert!(c.total_ms >= 2000.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn host_lists_are_tried_in_order_until_one_connects() {
    common::init();
    let pg = TempPg::start();
    let closed = common::ClosedPort::new();
    let h = home();
    let kv = format!(
        "host=127.0.0.1,127.0.0.1 port={},{} user=app dbname=app sslmode=disable",
        closed.port(),
        pg.port
    );
    let c = P.agree_ok(&kv, h.path(), &[]).await;
    assert_eq!(c.tries.len(), 2, "{:?}", c.tries);
    assert_eq!(
        c.tries[0].error.as_ref().map(|e| e.class),
        Some(ErrorClass::Refused)
    );
    let uri = format!(
        "postgres://app@127.0.0.1:{},localhost:{}/app?sslmode=disable",
        closed.port(),
        pg.port
    );
    P.agree_ok(&uri, h.path(), &[]).await;
    let other = common::ClosedPort::new();
    let none = format!(
        "host=127.0.0.1,127.0.0.1 port={},{} user=app dbname=app sslmode=disable",
        closed.port(),
        other.port()
    );
    let (_, c) = P
        .agree_fail(
            &none,
            h.path(),
            &[],
            "Connection refused",
            ErrorClass::Refused,
            "refused",
        )
        .await;
    let (_, message) = c.failed();
    assert!(
        message.contains(&closed.port().to_string()) && message.contains(&other.port().to_string()),
        "each host is reported: {message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_login_does_not_move_on_to_the_next_host() {
    common::init();
    let rejecting = TempPg::start_with(PgOptions {
        hba: Some("local all all trust\nhost all app 127.0.0.1/32 reject\nhost all all 127.0.0.1/32 trust\n".into()),
        ..PgOptions::default()
    });
    let fine = TempPg::start();
    let h = home();
    let both_hosts = format!(
        "host=127.0.0.1,127.0.0.1 port={},{} user=app dbname=app sslmode=disable",
        rejecting.port, fine.port
    );
    let (_, c) = P
        .agree_fail(
            &both_hosts,
            h.path(),
            &[],
            "pg_hba.conf rejects connection",
            ErrorClass::Auth,
            "pg_hba.conf rejects connection",
        )
        .await;
    assert!(
        c.tries.is_empty(),
        "one connection, no failover: {:?}",
        c.tries
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn target_session_attrs_and_a_standby_without_hot_standby() {
    common::init();
    let primary = TempPg::start();
    let mut standby = primary.standby("");
    primary.psql("CREATE ROLE ro LOGIN");
    primary.psql("ALTER ROLE ro SET default_transaction_read_only = on");
    let h = home();
    let (p, s) = (primary.port, standby.port);
    let tsa = |ports: &str, user: &str, attrs: &str| {
        format!(
            "host=127.0.0.1,127.0.0.1 port={ports} user={user} dbname=app sslmode=disable target_session_attrs={attrs}"
        )
    };
    let one = |port: u16, attrs: &str| {
        format!(
            "host=127.0.0.1 port={port} user=app dbname=app sslmode=disable target_session_attrs={attrs}"
        )
    };
    // The standby is in the list first; these skip it, as libpq does.
    for attrs in ["read-write", "primary"] {
        let c = P
            .agree_ok(&tsa(&format!("{s},{p}"), "app", attrs), h.path(), &[])
            .await;
        assert_eq!(c.tries.len(), 2, "{attrs}: {:?}", c.tries);
    }
    let c = P
        .agree_ok(&tsa(&format!("{p},{s}"), "app", "standby"), h.path(), &[])
        .await;
    let why = c.tries[0]
        .error
        .as_ref()
        .map(|e| e.message.clone())
        .unwrap_or_default();
    assert_eq!(why, "server is not in hot standby mode");
    P.agree_ok(&one(p, "prefer-standby"), h.path(), &[]).await;
    P.agree_ok(&one(s, "read-only"), h.path(), &[]).await;
    let not_ro = "session is not read-only";
    P.agree_fail(
        &one(p, "read-only"),
        h.path(),
        &[],
        not_ro,
        ErrorClass::Other,
        not_ro,
    )
    .await;
    let not_sb = "server is not in hot standby mode";
    P.agree_fail(
        &one(p, "standby"),
        h.path(),
        &[],
        not_sb,
        ErrorClass::Other,
        not_sb,
    )
    .await;
    let ro = "session is read-only";
    P.agree_fail(
        &tsa(&p.to_string(), "ro", "read-write"),
        h.path(),
        &[],
        ro,
        ErrorClass::Other,
        ro,
    )
    .await;
    // hot_standby = off: 57P03 with its DETAIL, not "starting up".
    standby.restart_with("-c hot_standby=off");
    let (_, c) = P.agree_fail(
        &one(s, "any"),
        h.path(),
        &[],
        "Hot standby mode is disabled",
        ErrorClass::NotAccepting,
        "the database system is not accepting connections — DETAIL: Hot standby mode is disabled.",
    )
    .await;
    assert_eq!(c.error.and_then(|e| e.sqlstate).as_deref(), Some("57P03"));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_password_is_an_auth_failure_in_libpqs_words() {
    common::init();
    let pg = TempPg::start_with(PgOptions {
        app_password: Some("app-pw-0815"),
        ..PgOptions::default()
    });
    let h = home();
    let pgpass = common::certs::write(h.path(), ".pgpass", "*:*:*:app:app-pw-0815\n", 0o644);
    let url = format!("postgres://app@127.0.0.1:{}/app?sslmode=disable", pg.port);
    let (p, _) = P
        .agree_fail(
            &url,
            h.path(),
            &[],
            "fe_sendauth: no password supplied",
            ErrorClass::Auth,
            "fe_sendauth: no password supplied",
        )
        .await;
    assert!(
        p.stderr.contains("has group or world access"),
        "{}",
        p.stderr
    );
    let (_, c) = P.both(&url, h.path(), &[]).await;
    assert!(
        c.failed().1.contains("has group or world access"),
        "{:?}",
        c.error
    );
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    P.agree_ok(&url, h.path(), &[]).await;
    let elsewhere = tempfile::tempdir().expect("dir");
    let file = common::certs::write(
        elsewhere.path(),
        "pw",
        "127.0.0.1:*:app:app:app-pw-0815\n",
        0o600,
    );
    let empty = home();
    P.agree_ok(
        &format!("{url}&passfile={}", file.display()),
        empty.path(),
        &[],
    )
    .await;
    P.agree_ok(&url, empty.path(), &[("PGPASSWORD", "app-pw-0815")])
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_that_is_not_postgres_is_named_at_once() {
    common::init();
    let http = common::http_servers::serve(axum::Router::new()).await;
    let h = home();
    for (mode, libpq) in [
        (
            "disable",
            "expected authentication request from server, but received H",
        ),
        ("prefer", "received invalid response to SSL negotiation: H"),
    ] {
        let url = format!(
            "postgres://app@127.0.0.1:{}/app?sslmode={mode}",
            http.addr.port()
        );
        let (_, c) = P
            .agree_fail(
                &url,
                h.path(),
                &[],
                libpq,
                ErrorClass::Protocol,
                "not a PostgreSQL server: it answered \"HTTP/1.1 400 Bad Request",
            )
            .await;
        assert!(
            c.total_ms < 0.5 * T.as_millis() as f64,
            "{mode}: told at once, not after the {T:?} timeout: {} ms",
            c.total_ms
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_unix_socket_says_so() {
    common::init();
    let h = home();
    let dir = tempfile::tempdir().expect("socket dir");
    let url = format!(
        "postgres://app@/app?host={}&port=5999",
        dir.path().display()
    );
    P.agree_fail(
        &url,
        h.path(),
        &[],
        "No such file or directory",
        ErrorClass::Refused,
        "no server socket",
    )
    .await;
    let gone = format!(
        "postgres://app@/app?host={}/cloudsql/p:r:i",
        dir.path().display()
    );
    P.agree_fail(
        &gone,
        h.path(),
        &[],
        "No such file or directory",
        ErrorClass::Refused,
        "no socket directory",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn options_and_application_name_reach_the_server() {
    common::init();
    let pg = TempPg::start();
    let h = home();
    let url = format!(
        "host=127.0.0.1 port={} user=app dbname=app sslmode=disable options='-c search_path=s1 -c work_mem=5MB' application_name=probe-x",
        pg.port
    );
    P.agree_ok(&url, h.path(), &[]).await;
    let a = oracle::attempt(&url, h.path(), &[], T).await;
    let s = a.result.expect("connects");
    let show = |rows: Vec<tokio_postgres::SimpleQueryMessage>| {
        rows.into_iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .unwrap_or_default()
    };
    let q = "SELECT current_setting('search_path') || ' ' || current_setting('work_mem') || ' ' \
             || current_setting('application_name') || ' ' || current_setting('statement_timeout')";
    let got = show(s.client.simple_query(q).await.expect("query"));
    assert_eq!(
        got, "s1 5MB probe-x 5s",
        "the options, the name, and connscope's statement_timeout"
    );
    s.close().await;
    let fb = format!(
        "host=127.0.0.1 port={} user=app dbname=app fallback_application_name=fb",
        pg.port
    );
    let a = oracle::attempt(&fb, h.path(), &[], T).await;
    let s = a.result.expect("connects");
    assert_eq!(
        show(
            s.client
                .simple_query("SHOW application_name")
                .await
                .expect("query")
        ),
        "fb"
    );
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn channel_binding_without_tls_fails_in_libpqs_words() {
    common::init();
    let pg = TempPg::start_with(PgOptions {
        app_password: Some("cb-pw-2024"),
        ..PgOptions::default()
    });
    let h = home();
    let url = format!(
        "host=127.0.0.1 port={} user=app dbname=app sslmode=disable channel_binding=require",
        pg.port
    );
    let words = "channel binding required, but SSL not in use";
    P.agree_fail(
        &url,
        h.path(),
        &[("PGPASSWORD", "cb-pw-2024")],
        words,
        ErrorClass::Auth,
        words,
    )
    .await;
}

/// Runs `connscope check --only db` with `url`; (exit code, stderr).
fn check_url(url: &str) -> (Option<i32>, String) {
    let run = common::fault_bin::check_db(url, &[]);
    (run.code, run.stderr)
}

#[test]
fn malformed_or_unsupported_connection_strings_exit_78_by_name_and_position() {
    for (url, says) in [
        (
            "postgres://app:s3cr@t-pw@db.example.com/app",
            "character 20",
        ),
        (
            "postgres://app:s3cr%zt-pw@db.example.com/app",
            "invalid percent-encoded token",
        ),
        (
            "postgres://app@db.example.com/app?sslpassword=x",
            "`sslpassword`",
        ),
        (
            "postgres://app@db.example.com/app?service=prod",
            "`service`",
        ),
        ("host=db.example.com gssencmode=require", "gssencmode"),
        (
            "host=db.example.com frobnicate=1",
            "unknown connection parameter `frobnicate`",
        ),
        ("host=db.example.com connect_timeout=2s", "connect_timeout"),
    ] {
        let (code, err) = check_url(url);
        assert_eq!(code, Some(78), "{url}: {err}");
        assert!(
            err.contains("--db-url") && err.contains(says),
            "{url}: {err}"
        );
        for secret in ["s3cr", "t-pw", "%zt"] {
            assert!(!err.contains(secret), "{url}: {err}");
        }
    }
}

/// A role's CONNECTION LIMIT and the reserved slots refuse after authentication (53300), for
/// psql and connscope alike; a superuser still gets a reserved slot.
#[tokio::test(flavor = "multi_thread")]
async fn connection_limits_and_reserved_slots_refuse_alike() {
    common::init();
    let pg = TempPg::start_with(PgOptions {
        max_connections: 4,
        superuser_reserved: 1,
        ..PgOptions::default()
    });
    pg.psql("CREATE ROLE limited LOGIN CONNECTION LIMIT 1");
    pg.wait_no_clients();
    let h = home();
    let url = |user: &str| {
        format!(
            "host=127.0.0.1 port={} user={user} dbname=app sslmode=disable",
            pg.port
        )
    };
    let first = oracle::attempt(&url("limited"), h.path(), &[], T).await;
    let held = first.result.expect("the role's one session");
    let too_many = "too many connections for role \"limited\"";
    P.agree_fail(
        &url("limited"),
        h.path(),
        &[],
        too_many,
        ErrorClass::TooManyConnections,
        too_many,
    )
    .await;
    // The refused backends leave before the slots are counted on.
    pg.wait_clients(T, |n| n <= 1);
    // Two more ordinary sessions fill the 3 ordinary slots; the last one is reserved.
    let mut more = Vec::new();
    for _ in 0..2 {
        more.push(
            oracle::attempt(&url("app"), h.path(), &[], T)
                .await
                .result
                .expect("a slot"),
        );
    }
    let reserved = "remaining connection slots are reserved";
    P.agree_fail(
        &url("app"),
        h.path(),
        &[],
        reserved,
        ErrorClass::TooManyConnections,
        reserved,
    )
    .await;
    pg.wait_clients(T, |n| n <= 3);
    P.agree_ok(&url("postgres"), h.path(), &[]).await;
    for s in more.into_iter().chain([held]) {
        s.close().await;
    }
}
