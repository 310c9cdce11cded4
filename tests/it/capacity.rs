//! The capacity test against a real PostgreSQL: real 53300s at a low max_connections, the
//! headroom cap (and logins that still get in while the test holds), sessions counted as an
//! ordinary role sees them, the profile cap and --force, backing off, and no connection left
//! behind however it ends.

use crate::common;

use std::time::Duration;

use common::oracle::psql;
use common::pg::{PgOptions, TempPg};
use common::{fault_bin, init};
use connscope::event::EventBody;
use connscope::probe::Ctx;
use connscope::probe::capacity::{self, CapacityParams};
use connscope::probe::conn::connect::{self, ConnectParams};
use connscope::probe::conn::headroom;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn check(args: &[&str]) -> (Option<i32>, Value) {
    let o = fault_bin::command().args(args).output().expect("run");
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code(), v)
}

#[test]
fn over_max_connections_the_server_really_refuses_and_the_alert_fires() {
    let pg = TempPg::start_with(PgOptions {
        max_connections: 6,
        superuser_reserved: 0,
        ..PgOptions::default()
    });
    let url = pg.url("app", "app");
    let (code, v) = check(&[
        "check",
        "--db-url",
        &url,
        "--only",
        "capacity",
        "--capacity",
        "10",
        "--hold",
        "1s",
        // Past the headroom cap (6 free × 0.8 = 4), to make the server refuse.
        "--force",
        "--format",
        "json",
    ]);
    let c = &v["capacity"];
    assert_eq!(c["requested"], 10);
    // 6 free slots, then one connect at a time past them: the third refusal stops it.
    assert_eq!(c["attempted"], 9, "{c}");
    assert_eq!(c["succeeded"], 6, "{c}");
    assert_eq!(c["failed"], 3);
    assert_eq!(c["capacity_errors"], 3);
    assert_eq!(c["errors_by_class"]["too_many_connections"], 3);
    assert_eq!(c["aborted"], true);
    assert_eq!(c["server_max_connections"], 6);
    assert_eq!(
        c["server_connections_in_use"], 0,
        "nobody else, and not our own stats session"
    );
    assert_eq!(c["capped"], false);
    assert_eq!(c["forced"], true);
    assert!(
        v["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["level"] == "capacity")),
        "{}",
        v["alerts"]
    );
    assert_eq!(code, Some(1), "capacity alert is a warning");
    assert!(
        v["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["rule"] == "capacity_test"))
    );
    assert_eq!(pg.wait_sessions_gone("connscope"), 0);
}

#[test]
fn the_safety_cap_holds_unless_forced() {
    let pg = TempPg::start_with(PgOptions {
        max_connections: 100,
        ..PgOptions::default()
    });
    let url = pg.url("app", "app");
    let (_, v) = check(&[
        "check",
        "--env",
        "staging",
        "--db-url",
        &url,
        "--only",
        "capacity",
        "--capacity",
        "50",
        "--hold",
        "0s",
        "--format",
        "json",
    ]);
    assert_eq!(v["capacity"]["cap"], 35);
    assert_eq!(v["capacity"]["capped"], true);
    assert_eq!(v["capacity"]["attempted"], 35);
    assert_eq!(v["capacity"]["succeeded"], 35);
    let (_, v) = check(&[
        "check",
        "--env",
        "staging",
        "--db-url",
        &url,
        "--only",
        "capacity",
        "--capacity",
        "50",
        "--hold",
        "0s",
        "--force",
        "--format",
        "json",
    ]);
    assert_eq!(v["capacity"]["capped"], false);
    assert_eq!(v["capacity"]["forced"], true);
    assert_eq!(v["capacity"]["attempted"], 50);
    assert_eq!(v["capacity"]["succeeded"], 50);
    assert_eq!(pg.wait_sessions_gone("connscope"), 0);
}

#[test]
fn it_backs_off_instead_of_hammering_a_full_server() {
    let pg = TempPg::start_with(PgOptions {
        max_connections: 5,
        ..PgOptions::default()
    });
    let url = pg.url("app", "app");
    let (_, v) = check(&[
        "check",
        "--db-url",
        &url,
        "--only",
        "capacity",
        "--capacity",
        "60",
        "--hold",
        "1s",
        "--force",
        "--format",
        "json",
    ]);
    let c = &v["capacity"];
    assert_eq!(c["aborted"], true, "{c}");
    assert!(
        c["abort_reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("backed off")),
        "{c}"
    );
    // 5 slots: 5 at once, then one at a time until three are refused.
    assert_eq!(c["attempted"], 8, "stopped after three refusals: {c}");
    assert_eq!(pg.wait_sessions_gone("connscope"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_mid_test_closes_every_connection() {
    init();
    let pg = TempPg::start_with(PgOptions {
        max_connections: 30,
        ..PgOptions::default()
    });
    let target = common::target(&pg.url("app", "app"));
    let p = CapacityParams {
        target,
        requested: 12,
        hold: Duration::from_secs(30),
        cap: 35,
        margin: 0.8,
        force: false,
        connect_timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(5),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(capacity::run(Ctx::new(tx, cancel.clone()), 1, p));
    assert_eq!(
        pg.wait_sessions("connscope", 12),
        12,
        "all held while the test runs"
    );
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("ends promptly")
        .expect("no panic");
    assert_eq!(pg.wait_sessions_gone("connscope"), 0);
    let mut started = false;
    while let Ok(ev) = rx.try_recv() {
        started |= matches!(ev.body, EventBody::CapacityStarted(_));
    }
    assert!(started);
}

/// The server: 20 slots, 3 reserved for superusers. `--env production --capacity 35`
/// without --force opens floor(17 × 0.8) = 13, and while they are held an ordinary role and
/// a superuser both still log in.
#[test]
fn on_a_20_slot_server_ordinary_and_superuser_logins_still_get_in() {
    let pg = TempPg::start_with(PgOptions {
        max_connections: 20,
        superuser_reserved: 3,
        settings: vec!["autovacuum=off".into()],
        ..PgOptions::default()
    });
    pg.psql("CREATE ROLE dba LOGIN");
    // The headroom counts every session it sees: psql's backend must have left first.
    assert_eq!(pg.wait_no_clients(), 0, "psql's backend has left");
    let url = pg.url("app", "app");
    let child = fault_bin::command()
        .args([
            "--env",
            "production",
            "check",
            "--db-url",
            &url,
            "--only",
            "capacity",
            "--capacity",
            "35",
            // Long enough that all 13 are open at once, and stay open through the logins
            // below, even when connecting is slow on a loaded machine.
            "--hold",
            "10s",
            "--format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    let mut child = child;
    // Counted from /proc: a polling psql would hold a slot the check's headroom then counts.
    let held = pg.wait_clients(Duration::from_secs(30), |n| n >= 13) >= 13;
    if !held {
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait");
        panic!(
            "the test holds its connections: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let home = tempfile::tempdir().expect("home");
    for user in ["dba", "postgres"] {
        let login = psql(
            &format!(
                "host=127.0.0.1 port={} user={user} dbname=app sslmode=disable",
                pg.port
            ),
            home.path(),
            &[],
        );
        assert!(
            login.ok,
            "{user} logs in while the test holds: {}",
            login.stderr
        );
    }
    assert_eq!(
        pg.sessions("connscope"),
        13,
        "never more than the headroom cap"
    );
    let out = child.wait_with_output().expect("wait");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let c = &v["capacity"];
    assert_eq!(
        (
            c["cap"].as_u64(),
            c["attempted"].as_u64(),
            c["succeeded"].as_u64()
        ),
        (Some(13), Some(13), Some(13)),
        "{c}"
    );
    assert_eq!(c["capped"], true);
    let h = &c["headroom"];
    assert_eq!(
        (
            h["free_ordinary"].as_u64(),
            h["reserved_slots"].as_u64(),
            h["left"].as_u64()
        ),
        (Some(17), Some(3), Some(4)),
        "{h}"
    );
    assert_eq!(h["profile_cap"], 35);
    assert!(
        h["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("17 free ordinary slots × 0.8 = 13")),
        "{h}"
    );
    assert_eq!(pg.wait_sessions_gone("connscope"), 0);
}

/// Opens `n` sessions as `user` on `db`, held until closed.
async fn hold(pg: &TempPg, user: &str, db: &str, n: usize) -> Vec<connect::Session> {
    let t = common::target(&pg.url(user, db));
    let cp =
        ConnectParams::new(&t, Duration::from_secs(5), Duration::from_secs(5)).expect("params");
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(connect::attempt(&t, &cp).await.result.expect("a session"));
    }
    held
}

/// Waits (bounded) until `app` has `n` sessions: a closed session's backend leaves
/// pg_stat_activity a moment after its Terminate.
fn settle(pg: &TempPg, n: u32) {
    let want = n.to_string();
    let ok = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        pg.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'") == want
    });
    assert!(ok, "app's sessions settled at {n}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_are_counted_as_an_ordinary_role_sees_them_and_limits_bind() {
    init();
    let pg = TempPg::start_with(PgOptions {
        max_connections: 30,
        settings: vec!["autovacuum=off".into()],
        ..PgOptions::default()
    });
    pg.psql("CREATE ROLE other LOGIN");
    let others = hold(&pg, "other", "postgres", 5).await;
    let app = common::target(&pg.url("app", "app"));
    let cp =
        ConnectParams::new(&app, Duration::from_secs(5), Duration::from_secs(5)).expect("params");
    // What `app` sees of the other role's sessions: rows without a backend_type.
    let s = connect::attempt(&app, &cp).await.result.expect("session");
    let visible = s
        .client
        .simple_query("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
        .await
        .expect("query");
    let visible = visible.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    });
    assert_eq!(
        visible.as_deref(),
        Some("0"),
        "an ordinary role cannot see other roles' backend_type"
    );
    s.close().await;
    settle(&pg, 0);
    // The superuser psql that settled it may still be leaving (its backend exits after the
    // client does): measure until only the five held sessions remain, bounded.
    let mut m = headroom::measure(&app, &cp, 100, 0.8).await;
    for _ in 0..50 {
        if m.limits.as_ref().is_some_and(|l| l.sessions == 5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        m = headroom::measure(&app, &cp, 100, 0.8).await;
    }
    let (h, l) = (m.headroom, m.limits.expect("limits read"));
    assert_eq!((l.sessions, l.superuser), (5, false), "{h:?}");
    assert_eq!((h.free_ordinary, h.cap), (Some(25), 20));
    pg.psql("ALTER ROLE app CONNECTION LIMIT 6");
    pg.psql("ALTER DATABASE app CONNECTION LIMIT 10");
    let mine = hold(&pg, "app", "app", 2).await;
    settle(&pg, 2);
    let h = headroom::measure(&app, &cp, 100, 0.8).await.headroom;
    assert_eq!(
        (h.role_limit, h.role_sessions, h.free_ordinary, h.cap),
        (Some(6), Some(2), Some(4), 3),
        "{h:?}"
    );
    assert!(
        h.reason.contains("the role's CONNECTION LIMIT"),
        "{}",
        h.reason
    );
    pg.psql("ALTER ROLE app CONNECTION LIMIT -1");
    pg.psql("ALTER DATABASE app CONNECTION LIMIT 4");
    settle(&pg, 2);
    let h = headroom::measure(&app, &cp, 100, 0.8).await.headroom;
    assert_eq!(
        (h.db_limit, h.db_sessions, h.cap),
        (Some(4), Some(2), 1),
        "{h:?}"
    );
    for s in others.into_iter().chain(mine) {
        s.close().await;
    }
}

#[test]
fn a_forced_test_still_stops_opening_once_the_server_refuses() {
    let pg = TempPg::start_with(PgOptions {
        max_connections: 20,
        superuser_reserved: 3,
        ..PgOptions::default()
    });
    let url = pg.url("app", "app");
    let (_, v) = check(&[
        "check",
        "--db-url",
        &url,
        "--only",
        "capacity",
        "--capacity",
        "60",
        "--hold",
        "2s",
        "--force",
        "--format",
        "json",
    ]);
    let c = &v["capacity"];
    assert_eq!(c["aborted"], true, "{c}");
    assert!(
        c["abort_reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("backed off")),
        "{c}"
    );
    // 17 free ordinary slots, then one connect at a time: three refusals and it stops.
    assert_eq!(
        (c["succeeded"].as_u64(), c["capacity_errors"].as_u64()),
        (Some(17), Some(3)),
        "{c}"
    );
    assert_eq!(c["attempted"], 20, "{c}");
    assert_eq!(pg.wait_sessions_gone("connscope"), 0);
}
