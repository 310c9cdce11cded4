//! Secrets against the real binary: a token echoed back right across every cut-off an excerpt
//! has (HTTP body 512 characters and the body limit, WebSocket reply 512, startup message
//! 1024) leaves no 4-character piece in the JSON, the recording or any report; credentials
//! named by shape (`api_key`, `X-Amz-Signature`, `--password VALUE`) are masked everywhere;
//! usage errors do not quote a password back; WebSocket credentials go out as basic auth.

use crate::common;
use crate::common::fault_bin;
use crate::common::http_servers::{self, serve};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use connscope::probe::ws::{self, WsParams};
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(60);

/// Every 4-character piece of `secret`.
fn pieces(secret: &str) -> Vec<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars.windows(4).map(|w| w.iter().collect()).collect()
}

fn assert_no_piece(secret: &str, what: &str, text: &str) {
    for p in pieces(secret) {
        assert!(
            !text.contains(&p),
            "{what}: `{p}` (a piece of the secret) in:\n{text}"
        );
    }
}

/// Filler that shares no character with the tokens below.
fn filler(n: usize) -> String {
    ".".repeat(n)
}

/// `/health` answers 503 with `offset` dots, the token, more dots; `/ws` replies the same.
async fn echo_server(token: &'static str, offset: Arc<AtomicUsize>) -> http_servers::Server {
    let body =
        move |o: &AtomicUsize| format!("{}{token}{}", filler(o.load(Ordering::SeqCst)), filler(40));
    let (o1, o2) = (offset.clone(), offset);
    let health = move || {
        let text = body(&o1);
        async move { (StatusCode::SERVICE_UNAVAILABLE, text) }
    };
    let ws = move |up: WebSocketUpgrade| {
        let text = body(&o2);
        async move {
            up.on_upgrade(move |mut socket| async move {
                if let Some(Ok(_ping)) = socket.recv().await {
                    let _ = socket.send(Message::text(text)).await;
                }
                while let Some(Ok(_)) = socket.recv().await {}
            })
        }
    };
    serve(
        Router::new()
            .route("/health", get(health.clone()))
            .route("/health/database", get(health))
            .route("/ws", get(ws)),
    )
    .await
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `check` of the echoing endpoint and WebSocket, then (when `reports`) every report format
/// of its recording: the whole text a person or a script could see.
fn outputs(base: &str, token: &str, body_limit: &str, reports: bool) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let rec = dir.path().join("rec.jsonl");
    let rec_s = rec.to_str().expect("utf8");
    let endpoint = format!("api={base}/?api_key={token}");
    let ws_url = format!("{}/ws?api_key={token}", base.replace("http", "ws"));
    let env = [("CONNSCOPE_HEALTH__BODY_LIMIT", body_limit)];
    let check = fault_bin::run(
        &[
            "check",
            "--endpoint",
            &endpoint,
            "--ws",
            &ws_url,
            "--only",
            "http,ws",
            "--format",
            "json",
            "--record",
            rec_s,
        ],
        &env,
        LIMIT,
    );
    assert_eq!(check.code, Some(2), "503 fails: {}", check.stderr);
    let recording = read(&rec);
    // Not vacuous: both excerpts were kept, up to the cut.
    for field in ["\"body_excerpt\":\".", "\"reply_excerpt\":\"."] {
        assert!(recording.contains(field), "no {field} in:\n{recording}");
    }
    let mut all = format!("{}{recording}", check.all_output());
    if reports {
        for format in ["json", "junit", "markdown", "text", "html"] {
            let r = fault_bin::run(&["report", rec_s, "--format", format], &[], LIMIT);
            assert!(r.code.is_some_and(|c| c <= 2), "{format}: {}", r.stderr);
            all.push_str(&r.all_output());
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_echoed_across_every_cut_off_reaches_no_output() {
    common::init();
    const TOKEN: &str = "Zq4hW2vN8cYt5LpX3d";
    let offset = Arc::new(AtomicUsize::new(0));
    let server = echo_server(TOKEN, offset.clone()).await;
    let base = server.url();
    let len = TOKEN.len();
    // The excerpt's own cut (512 characters) with the default 4 KiB body limit, then a body
    // limit of 500 bytes: the text is already cut where it was read.
    for (cut, limit) in [(512, "4096"), (500, "500")] {
        for o in (cut - len - 1)..=(cut + 1) {
            offset.store(o, Ordering::SeqCst);
            let (base, reports) = (base.clone(), o == cut - len / 2);
            let all = tokio::task::spawn_blocking(move || outputs(&base, TOKEN, limit, reports))
                .await
                .expect("run");
            assert_no_piece(TOKEN, &format!("cut {cut}, offset {o}"), &all);
        }
    }
}

#[test]
fn a_startup_message_cut_across_a_password_keeps_none_of_it() {
    const PASSWORD: &str = "Zq4x9KwQv7Tb2mPjR8";
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("startup.log");
    let rec = dir.path().join("rec.jsonl");
    let len = PASSWORD.len();
    for o in (1024 - len - 1)..=1025 {
        let message = format!("{}{PASSWORD}{}", filler(o), filler(30));
        let lines = [
            serde_json::json!({"timestamp": "2026-11-25T10:00:00Z", "phase": 1, "status": "started"}),
            serde_json::json!({"timestamp": "2026-11-25T10:00:01Z", "phase": 1, "status": "failed", "message": message}),
            serde_json::json!({"timestamp": "2026-11-25T10:00:02Z", "event": "exit", "code": 3}),
        ];
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&log, text).expect("write log");
        // The password reaches connscope as `--password VALUE` (space, not `=`) on the
        // startup command line; `sh` ignores the comment.
        let command = format!("cat {} # --password {PASSWORD}", log.display());
        let check = fault_bin::run(
            &[
                "check",
                "--only",
                "startup",
                "--format",
                "json",
                "--record",
                rec.to_str().expect("utf8"),
            ],
            &[("CONNSCOPE_STARTUP__COMMAND", &command)],
            LIMIT,
        );
        assert_eq!(check.code, Some(2), "phase failed: {}", check.stderr);
        let mut all = format!("{}{}", check.all_output(), read(&rec));
        if o == 1024 - len / 2 {
            for format in ["junit", "markdown", "text", "html"] {
                let r = fault_bin::run(
                    &["report", rec.to_str().expect("utf8"), "--format", format],
                    &[],
                    LIMIT,
                );
                all.push_str(&r.all_output());
            }
            let show = fault_bin::run(
                &["config", "show"],
                &[("CONNSCOPE_STARTUP__COMMAND", &command)],
                LIMIT,
            );
            assert!(show.stdout.contains("--password ***"), "{}", show.stdout);
            all.push_str(&show.all_output());
        }
        assert_no_piece(PASSWORD, &format!("offset {o}"), &all);
    }
}

#[test]
fn usage_errors_do_not_quote_a_password_back() {
    for (args, secret) in [
        (
            vec!["check", "--endpoint", "http://u:Zq4UsagePass@host/x"],
            "Zq4UsagePass",
        ),
        (vec!["check", "--endpoint", "http://u:abc@host/x"], "u:abc@"),
        (
            vec!["check", "--ws", "ws://h/ws?token=Zq4WsTok", "--bogus"],
            "Zq4WsTok",
        ),
        (
            vec![
                "check",
                "--db-url",
                "postgres://a:Zq4DbPw@h/d",
                "--attempts",
                "x",
            ],
            "Zq4DbPw",
        ),
    ] {
        let r = fault_bin::run(&args, &[], LIMIT);
        assert_eq!(r.code, Some(64), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.is_empty());
        assert!(!r.all_output().contains(secret), "{args:?}:\n{}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
    }
}

#[test]
fn credentials_named_by_shape_are_masked_in_config_show() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("c.toml");
    let values = [
        "Zq4ApiKeyValue",
        "Zq4ApikeyValue",
        "Zq4AuthTokenVal",
        "Zq4ClientSecret",
        "Zq4PlainKeyVal",
        "Zq4SigValue12",
        "Zq4AmzSignature",
        "Zq4CmdPassword",
        "Zq4WsSession",
    ];
    let config = format!(
        r#"[[endpoints]]
name = "api"
url = "https://api.example/?api_key={}&apikey={}&auth_token={}&client_secret={}&key={}&sig={}&X-Amz-Signature={}&page=2"
websocket = "wss://api.example/ws?session_id={}"

[startup]
command = "svc --password {} --verbose"
"#,
        values[0],
        values[1],
        values[2],
        values[3],
        values[4],
        values[5],
        values[6],
        values[8],
        values[7]
    );
    std::fs::write(&path, config).expect("write");
    for format in ["text", "json"] {
        let r = fault_bin::run(
            &[
                "--config",
                path.to_str().expect("utf8"),
                "config",
                "show",
                "--format",
                format,
            ],
            &[],
            LIMIT,
        );
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        for v in values {
            assert!(
                !r.all_output().contains(v),
                "{format} shows {v}:\n{}",
                r.stdout
            );
        }
        assert!(
            r.stdout.contains("page=2"),
            "ordinary values stay: {}",
            r.stdout
        );
        assert!(r.stdout.contains("--verbose"), "{}", r.stdout);
    }
}

/// Requires `Authorization: Basic base64(user:pass)` on the upgrade; 401 otherwise.
async fn auth_ws_server(expected: &'static str) -> http_servers::Server {
    let handler = move |headers: HeaderMap, up: WebSocketUpgrade| async move {
        let given = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if given != expected {
            return (StatusCode::UNAUTHORIZED, format!("got `{given}`")).into_response();
        }
        up.on_upgrade(|mut socket| async move {
            if let Some(Ok(_)) = socket.recv().await {
                let _ = socket.send(Message::text("pong")).await;
            }
            while let Some(Ok(_)) = socket.recv().await {}
        })
    };
    serve(Router::new().route("/ws", get(handler))).await
}

#[tokio::test]
async fn websocket_credentials_are_sent_as_basic_auth() {
    common::init();
    // base64("ws-user:p@ss word") — the URL carries both percent-encoded.
    let server = auth_ws_server("Basic d3MtdXNlcjpwQHNzIHdvcmQ=").await;
    let url = format!("ws://ws-user:p%40ss%20word@{}/ws", server.addr);
    let p = WsParams {
        urls: vec![url.clone()],
        connect_timeout: Duration::from_secs(10),
        reply_timeout: Duration::from_secs(5),
        close_timeout: Duration::from_secs(1),
        interval: Duration::from_secs(3600),
        message: ws::PING.into(),
        tls: None,
    };
    let c = ws::check(&url, &p, &CancellationToken::new())
        .await
        .expect("not cancelled");
    assert!(c.ok, "the server accepted the credentials: {c:?}");
    assert_eq!(c.reply_excerpt.as_deref(), Some("pong"));
    assert!(!c.url.contains("p%40ss"), "{}", c.url);
    let wrong = format!("ws://ws-user:nope@{}/ws", server.addr);
    let c = ws::check(&wrong, &p, &CancellationToken::new())
        .await
        .expect("not cancelled");
    assert!(!c.ok, "wrong credentials are refused: {c:?}");
}
