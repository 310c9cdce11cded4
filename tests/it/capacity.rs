//! The capacity test against a real PostgreSQL: real 53300s at a low max_connections, the
//! safety cap and --force, backing off, and no connection left behind however it ends.

use crate::common;

use std::time::Duration;

use common::pg::{PgOptions, TempPg};
use common::{bin, init};
use connscope::event::EventBody;
use connscope::probe::Ctx;
use connscope::probe::capacity::{self, CapacityParams};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn check(args: &[&str]) -> (Option<i32>, Value) {
    let o = bin()
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .output()
        .expect("run");
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
        "--format",
        "json",
    ]);
    let c = &v["capacity"];
    assert_eq!(c["requested"], 10);
    assert_eq!(c["attempted"], 10);
    assert_eq!(c["succeeded"], 6, "{c}");
    assert_eq!(c["failed"], 4);
    assert_eq!(c["capacity_errors"], 4);
    assert_eq!(c["errors_by_class"]["too_many_connections"], 4);
    assert_eq!(c["server_max_connections"], 6);
    assert_eq!(
        c["server_connections_in_use"], 0,
        "nobody else, and not our own stats session"
    );
    assert_eq!(c["capped"], false);
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
    // 5 slots: 11 of the first wave of 16 are refused, and nothing is opened after it.
    assert!(
        c["attempted"].as_u64().is_some_and(|n| n <= 16),
        "stopped opening after the first wave: {c}"
    );
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
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pg.sessions("connscope"), 12, "all held while the test runs");
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
