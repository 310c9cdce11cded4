//! The WebSocket probe against real loopback servers, asserting on the events it sends.

use crate::common;
use crate::common::http_servers;
use crate::common::http_tls;
use crate::common::probe_task;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use connscope::event::{ErrorClass, EventBody, Step, WsCheck};
use connscope::probe::ws::{self, PING, WsParams};
use connscope::probe::{Control, Ctx, Mode};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use common::init;
use http_servers::{eventually, serve, serve_on, silent};

const REPLY_DELAY: Duration = Duration::from_millis(100);

fn params(url: &str) -> WsParams {
    WsParams {
        urls: vec![url.to_string()],
        connect_timeout: Duration::from_secs(10),
        reply_timeout: Duration::from_millis(300),
        close_timeout: Duration::from_secs(1),
        interval: Duration::from_secs(3600),
        message: PING.into(),
        tls: None,
    }
}

async fn run_once(p: WsParams) -> (Vec<WsCheck>, Duration) {
    init();
    probe_task::once(
        |ctx| ws::run(ctx, Control::inert(), Mode::Once, p),
        Duration::from_secs(20),
        |body| match body {
            EventBody::WsCheck(c) => Ok(c),
            other => Err(Box::new(other)),
        },
    )
    .await
}

async fn one(p: WsParams) -> (WsCheck, Duration) {
    let (mut checks, took) = run_once(p).await;
    assert_eq!(checks.len(), 1, "{checks:?}");
    (checks.remove(0), took)
}

fn class(c: &WsCheck) -> Option<(ErrorClass, Option<Step>)> {
    c.error.as_ref().map(|e| (e.class, e.step))
}

/// What the server saw: the probe's ping, and a close frame from it.
#[derive(Default)]
struct Seen {
    ping: AtomicBool,
    close: AtomicBool,
}

/// Answers the first text message with a pong after `REPLY_DELAY` (or never), then notes a
/// close frame if one comes.
async fn conversation(mut socket: WebSocket, seen: Arc<Seen>, reply: bool) {
    while let Some(Ok(msg)) = socket.recv().await {
        match msg {
            Message::Text(t) => {
                seen.ping.store(t.as_str() == PING, Ordering::SeqCst);
                if reply {
                    tokio::time::sleep(REPLY_DELAY).await;
                    let _ = socket.send(Message::text(r#"{"type":"pong"}"#)).await;
                }
            }
            Message::Close(_) => {
                seen.close.store(true, Ordering::SeqCst);
                break;
            }
            _ => {}
        }
    }
}

fn ws_router(reply: bool) -> (Router, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    let handler = move |up: WebSocketUpgrade| {
        let s = s.clone();
        async move { up.on_upgrade(move |socket| conversation(socket, s, reply)) }
    };
    (Router::new().route("/ws", get(handler)), seen)
}

async fn ws_server(reply: bool) -> (http_servers::Server, Arc<Seen>) {
    let (router, seen) = ws_router(reply);
    (serve(router).await, seen)
}

fn ws_url(s: &http_servers::Server) -> String {
    format!("ws://localhost:{}/ws", s.addr.port())
}

#[tokio::test]
async fn a_replying_server_gives_connect_and_round_trip_times() {
    let (s, seen) = ws_server(true).await;
    let (c, _) = one(params(&ws_url(&s))).await;
    assert!(c.ok, "{c:?}");
    assert_eq!(c.error, None);
    let rtt = c.rtt_ms.expect("a round trip");
    let connect = c.connect_ms.expect("a handshake");
    assert!(
        (100.0..250.0).contains(&rtt),
        "rtt {rtt} ms for a 100 ms server"
    );
    assert!(connect > 0.0 && connect < 1000.0, "{c:?}");
    assert_eq!(c.reply_excerpt.as_deref(), Some(r#"{"type":"pong"}"#));
    assert!(seen.ping.load(Ordering::SeqCst), "the server got the ping");
    let closed = eventually(Duration::from_secs(2), || seen.close.load(Ordering::SeqCst)).await;
    assert!(closed, "the probe did not send a close frame");
    eprintln!("100 ms WebSocket server: connect {connect:.1} ms, rtt {rtt:.1} ms");
}

#[tokio::test]
async fn a_server_that_never_replies_times_out_in_the_reply_step() {
    let (s, seen) = ws_server(false).await;
    let p = params(&ws_url(&s));
    let limit = p.reply_timeout;
    let (c, took) = one(p).await;
    assert!(!c.ok);
    assert_eq!(class(&c), Some((ErrorClass::Timeout, Some(Step::Reply))));
    assert!(c.connect_ms.is_some() && c.rtt_ms.is_none(), "{c:?}");
    let said = c.error.as_ref().map(|e| e.message.as_str()).unwrap_or("");
    assert!(said.contains(r#"websocket.message = """#), "{said}");
    assert!(took >= limit, "{took:?}");
    // The reply timeout plus a polite close that the server answers at once.
    assert!(took < limit + Duration::from_millis(500), "{took:?}");
    assert!(
        seen.close.load(Ordering::SeqCst),
        "closed politely after the timeout"
    );
}

/// A service that answers no message: `websocket.message = ""` sends a protocol ping, and
/// the pong its WebSocket library sends by itself is the reply.
#[tokio::test]
async fn an_empty_message_is_a_protocol_ping_answered_by_its_pong() {
    let (s, _) = ws_server(false).await;
    let mut p = params(&ws_url(&s));
    p.message = String::new();
    let (c, _) = one(p).await;
    assert!(c.ok, "{c:?}");
    assert!(c.rtt_ms.is_some_and(|r| r < 300.0), "{c:?}");
    assert_eq!(
        c.reply_excerpt.as_deref(),
        Some(PING),
        "the pong echoes the ping's payload"
    );
}

#[tokio::test]
async fn a_closed_port_is_refused() {
    let closed = common::ClosedPort::new();
    let (c, _) = one(params(&format!("ws://127.0.0.1:{}/ws", closed.port()))).await;
    assert_eq!(class(&c), Some((ErrorClass::Refused, Some(Step::Connect))));
    assert_eq!(c.connect_ms, None);
}

#[tokio::test]
async fn a_plain_http_server_is_an_http_status_failure() {
    let s = serve(Router::new().route("/ws", get(|| async { "not a websocket" }))).await;
    let (c, _) = one(params(&ws_url(&s))).await;
    assert_eq!(
        class(&c),
        Some((ErrorClass::HttpStatus, Some(Step::Handshake)))
    );
    let msg = c.error.map(|e| e.message).unwrap_or_default();
    assert_eq!(msg, "HTTP 200 instead of 101 Switching Protocols");
}

#[tokio::test]
async fn a_handshake_that_never_completes_times_out_in_connect() {
    let (s, seen) = silent().await;
    let mut p = params(&format!("ws://{}/ws", s.addr));
    p.connect_timeout = Duration::from_millis(300);
    let (c, took) = one(p).await;
    assert_eq!(class(&c), Some((ErrorClass::Timeout, Some(Step::Connect))));
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 1);
    assert!(
        common::fired_at(took, Duration::from_millis(300)),
        "{took:?}"
    );
}

#[tokio::test]
async fn an_invalid_host_fails_in_dns() {
    let (c, _) = one(params("wss://backend.invalid/ws")).await;
    assert_eq!(class(&c), Some((ErrorClass::Dns, Some(Step::Dns))));
}

#[tokio::test]
async fn wss_to_a_plain_server_is_a_tls_failure() {
    let (s, _) = ws_server(true).await;
    let (c, _) = one(params(&format!("wss://{}/ws", s.addr))).await;
    assert_eq!(class(&c), Some((ErrorClass::Tls, Some(Step::Tls))), "{c:?}");
}

#[tokio::test]
async fn secrets_in_the_url_are_not_in_the_event() {
    let (s, _) = ws_server(true).await;
    let url = format!("ws://{}/ws?token=ws-s3cr3t-tok", s.addr);
    let (c, _) = one(params(&url)).await;
    assert!(c.ok, "{c:?}");
    assert!(!c.url.contains("ws-s3cr3t-tok"), "{}", c.url);
}

#[tokio::test]
async fn live_mode_checks_every_url_until_cancelled() {
    init();
    let (s, _) = ws_server(true).await;
    let mut p = params(&ws_url(&s));
    let closed = common::ClosedPort::new();
    p.urls.push(format!("ws://127.0.0.1:{}/ws", closed.port()));
    p.interval = Duration::from_millis(20);
    let oks = probe_task::live(
        |ctx| ws::run(ctx, Control::inert(), Mode::Live, p),
        4,
        |body| match body {
            EventBody::WsCheck(c) => Some(c.ok),
            _ => None,
        },
    )
    .await;
    // Two rounds of two URLs: one up, one refused, in each.
    assert_eq!(oks.iter().filter(|ok| **ok).count(), 2, "{oks:?}");
}

#[tokio::test]
async fn wss_with_a_trusted_certificate_counts_tls_in_the_handshake() {
    init();
    let cert = http_tls::cert();
    let l = http_tls::TlsListener::bind(&cert, Duration::from_millis(200)).await;
    let (router, seen) = ws_router(true);
    let s = serve_on(l, router);
    let mut p = params(&format!("wss://localhost:{}/ws", s.addr.port()));
    p.tls = Some(http_tls::client_config(&cert));
    let (c, _) = one(p).await;
    assert!(c.ok, "{c:?}");
    let connect = c.connect_ms.expect("a handshake");
    assert!((200.0..500.0).contains(&connect), "connect {connect} ms");
    assert!(c.rtt_ms.is_some_and(|r| r >= 100.0));
    let closed = eventually(Duration::from_secs(2), || seen.close.load(Ordering::SeqCst)).await;
    assert!(closed, "no close frame over TLS");
}

#[tokio::test]
async fn cancelling_while_waiting_for_a_reply_closes_and_sends_nothing() {
    init();
    let (s, seen) = ws_server(false).await;
    let mut p = params(&ws_url(&s));
    p.reply_timeout = Duration::from_secs(20);
    let (tx, mut rx) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(ws::run(
        Ctx::new(tx, cancel.clone()),
        Control::inert(),
        Mode::Once,
        p,
    ));
    let pinged = eventually(Duration::from_secs(2), || seen.ping.load(Ordering::SeqCst)).await;
    assert!(pinged);
    cancel.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(2), task).await;
    assert!(matches!(ended, Ok(Ok(()))), "the probe did not stop");
    assert!(
        rx.recv().await.is_none(),
        "an interrupted check is not an event"
    );
    let closed = eventually(Duration::from_secs(2), || seen.close.load(Ordering::SeqCst)).await;
    assert!(closed, "no close frame after cancelling");
}
