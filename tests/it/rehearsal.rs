//! The startup rehearsal through the real binary: connscope runs the service's 7 phases itself
//! against a real PostgreSQL and loopback HTTP / WebSocket servers, timed against the budgets.

use crate::common;

use std::process::Output;

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::routing::get;
use common::http_servers::{Server, serve};
use common::pg::TempPg;
use serde_json::Value;

async fn service() -> Server {
    let ws = get(|up: WebSocketUpgrade| async move {
        up.on_upgrade(|mut socket| async move {
            while let Some(Ok(Message::Text(t))) = socket.recv().await {
                if socket
                    .send(Message::Text(format!("pong:{t}").into()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        })
    });
    serve(
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/ws", ws),
    )
    .await
}

fn check(args: &[&str]) -> (Output, Value) {
    let o = common::fault_bin::command()
        .args(["check", "--only", "rehearsal", "--format", "json"])
        .args(args)
        .output()
        .expect("run connscope");
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o, v)
}

fn verdicts(v: &Value) -> Vec<String> {
    v["startup"]["phases"]
        .as_array()
        .map(|p| {
            p.iter()
                .map(|p| p["verdict"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_environment_passes_every_phase_and_skips_what_is_not_configured() {
    let pg = TempPg::start();
    let svc = service().await;
    let api = format!("api={}", svc.url());
    let ws = format!("ws://{}/ws", svc.addr);
    let url = pg.url("app", "app");
    let (o, v) = tokio::task::spawn_blocking(move || {
        check(&[
            "--db-url",
            url.as_str(),
            "--endpoint",
            api.as_str(),
            "--ws",
            ws.as_str(),
        ])
    })
    .await
    .expect("join");
    assert_eq!(v["startup"]["source"], "rehearsal");
    // No cache is configured: nothing to rehearse there, which is not a pass either.
    assert_eq!(
        verdicts(&v),
        ["pass", "pass", "pass", "skipped", "pass", "pass", "pass"],
        "{}",
        v["startup"]
    );
    let phases = &v["startup"]["phases"];
    assert_eq!(phases[3]["message"], "no cache configured");
    assert!(
        phases[2]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("connected and warmed up"))
    );
    assert!(
        phases[4]["message"]
            .as_str()
            .is_some_and(|m| m.contains("HTTP 200"))
    );
    assert!(
        phases[5]["message"]
            .as_str()
            .is_some_and(|m| m.contains("round trip"))
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(pg.wait_sessions_gone("connscope"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_database_port_fails_the_dependencies_phase_and_stops_there() {
    let svc = service().await;
    let api = format!("api={}", svc.url());
    let closed = common::ClosedPort::new();
    let port = closed.port();
    let url = format!("postgres://app@127.0.0.1:{port}/app?sslmode=disable");
    let (o, v) = tokio::task::spawn_blocking(move || {
        check(&["--db-url", url.as_str(), "--endpoint", api.as_str()])
    })
    .await
    .expect("join");
    // Dependencies reach every host:port first — the closed database port fails there.
    let verdicts = verdicts(&v);
    assert_eq!(verdicts[0], "pass");
    assert_eq!(verdicts[1], "failed", "{}", v["startup"]);
    assert!(
        verdicts[2..].iter().all(|v| v == "not_reached"),
        "{verdicts:?}"
    );
    let msg = v["startup"]["phases"][1]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        msg.contains("database 127.0.0.1") && msg.contains("unreachable"),
        "{msg}"
    );
    assert_eq!(o.status.code(), Some(2));
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["rule"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        !rules.contains(&"startup_timeout_mismatch"),
        "a refusal is not a timeout: {rules:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_refuses_logins_fails_the_database_phase() {
    let pg = TempPg::start();
    let url = format!(
        "postgres://app@127.0.0.1:{}/no_such_db?sslmode=disable",
        pg.port
    );
    let (o, v) = tokio::task::spawn_blocking(move || check(&["--db-url", url.as_str()]))
        .await
        .expect("join");
    let verdicts = verdicts(&v);
    assert_eq!(
        &verdicts[..3],
        ["pass", "pass", "failed"],
        "{}",
        v["startup"]
    );
    let msg = v["startup"]["phases"][2]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(msg.contains("database_missing"), "{msg}");
    assert_eq!(o.status.code(), Some(2));
}
