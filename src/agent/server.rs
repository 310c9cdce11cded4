//! The agent's HTTP side: `/metrics`, `/events` (WebSocket), `/state`, `/healthz`, behind the
//! bearer token when one is set.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::auth::{self, Token};
use super::hub::{Hub, Subscription};

/// A dashboard that does not take a message within this time is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct App {
    hub: Arc<Hub>,
    shutdown: CancellationToken,
}

pub(crate) fn router(hub: Arc<Hub>, token: Option<Token>, shutdown: CancellationToken) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/events", get(events))
        .route("/state", get(state))
        .route("/healthz", get(healthz))
        .with_state(App { hub, shutdown })
        .layer(axum::middleware::from_fn_with_state(token, auth::require))
}

async fn metrics(State(app): State<App>) -> Response {
    // Judging under the state's lock takes microseconds: inline, no hop to another thread.
    let text = app.hub.metrics();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn state(State(app): State<App>) -> Response {
    let json = app.hub.state_json();
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn events(State(app): State<App>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| stream(socket, app))
}

/// The recording header, the backfill, then live events, one JSON text message each.
async fn stream(mut socket: WebSocket, app: App) {
    // Held whole to the end: it also counts this dashboard as attached.
    let mut sub: Subscription = app.hub.subscribe();
    let first = std::iter::once(sub.header.clone().into())
        .chain(sub.backfill.iter().map(|l| l.to_string().into()));
    let first: Vec<Message> = first.map(Message::Text).collect();
    sub.backfill = Vec::new();
    for m in first {
        if !send(&mut socket, m).await {
            return;
        }
    }
    let live = &mut sub.live;
    loop {
        tokio::select! {
            () = app.shutdown.cancelled() => {
                close(&mut socket, "the agent is shutting down").await;
                return;
            }
            next = live.recv() => match next {
                Ok(line) => {
                    if !send(&mut socket, Message::Text(line.to_string().into())).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    close(&mut socket, &format!("{n} events behind: reconnect for a fresh window")).await;
                    return;
                }
                Err(RecvError::Closed) => {
                    close(&mut socket, "the agent's probes have stopped").await;
                    return;
                }
            },
            incoming = socket.recv() => match incoming {
                // Pings are answered by axum; anything else from a dashboard is ignored.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn send(socket: &mut WebSocket, m: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(m)).await,
        Ok(Ok(()))
    )
}

async fn close(socket: &mut WebSocket, why: &str) {
    let frame = CloseFrame {
        code: axum::extract::ws::close_code::AWAY,
        reason: why.into(),
    };
    let _ = send(socket, Message::Close(Some(frame))).await;
}
