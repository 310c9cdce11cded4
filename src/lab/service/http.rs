//! The service's HTTP side: health endpoints and the WebSocket.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::startup::STARTUP_FAILED;
use super::{Ctx, ServiceState, ServiceStatus};
use crate::config::Phase;

/// The outage's three endpoints are paths of this one service: `""` is the backend.
pub(super) const PREFIXES: [&str; 3] = ["", "/api", "/auth"];

pub(super) async fn serve(listener: TcpListener, ctx: Arc<Ctx>) {
    let cancel = ctx.cancel.clone();
    let mut app = Router::new().route("/ws", get(websocket));
    for prefix in PREFIXES {
        app = app
            .route(&format!("{prefix}/health"), get(health))
            .route(&format!("{prefix}/health/database"), get(health_database));
    }
    let app = app.with_state(ctx);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
    {
        tracing::warn!("lab service: HTTP server stopped: {e}");
    }
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn phase_name(n: u8) -> String {
    Phase::outage_defaults()
        .get(usize::from(n).wrapping_sub(1))
        .map_or_else(|| "unknown".into(), |p| p.name.clone())
}

/// 503 while not started: "starting" during a first run, the startup failure once one failed.
fn unavailable(status: &ServiceStatus) -> Response {
    let phase = status.phase.unwrap_or(0);
    let body = match &status.last_failure {
        Some(failure) => json!({
            "status": "unavailable",
            "error": STARTUP_FAILED,
            "detail": failure,
            "phase": phase,
            "phase_name": phase_name(phase),
            "exit_code": 3,
        }),
        None => json!({
            "status": "starting",
            "phase": phase,
            "phase_name": phase_name(phase),
            "message": format!("service starting: phase {phase} ({}) in progress", phase_name(phase)),
        }),
    };
    json_response(StatusCode::SERVICE_UNAVAILABLE, body)
}

async fn health(State(ctx): State<Arc<Ctx>>) -> Response {
    let status = ctx.status();
    if status.state != ServiceState::Healthy {
        return unavailable(&status);
    }
    json_response(StatusCode::OK, json!({"status": "ok", "runs": status.runs}))
}

/// Healthy: a live `SELECT 1` on the service's own connection (reconnecting if it was lost),
/// bounded by the scenario's check timeout.
async fn health_database(State(ctx): State<Arc<Ctx>>) -> Response {
    let status = ctx.status();
    if status.state != ServiceState::Healthy {
        return unavailable(&status);
    }
    let limit = ctx.behaviour().db_check_timeout;
    let started = Instant::now();
    let mut slot = ctx.db.lock().await;
    let check = async {
        if slot.is_none() {
            *slot = Some(ctx.connect(limit).await?);
        }
        match slot.as_ref() {
            Some(client) => client
                .simple_query("SELECT 1")
                .await
                .map(|_| ())
                .map_err(super::describe),
            None => Err("no connection".to_string()),
        }
    };
    let result = tokio::time::timeout(limit, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {:.1} s", limit.as_secs_f64())));
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(()) => json_response(
            StatusCode::OK,
            json!({"status": "ok", "database": "connected", "latency_ms": ms}),
        ),
        Err(e) => {
            // A connection that failed a check is not trusted again.
            slot.take();
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"status": "degraded", "database": "unreachable", "error": format!("database check failed: {e}")}),
            )
        }
    }
}

async fn websocket(
    State(ctx): State<Arc<Ctx>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let status = ctx.status();
    if status.state != ServiceState::Healthy {
        return unavailable(&status);
    }
    match upgrade {
        Ok(u) => {
            let cancel = ctx.cancel.clone();
            u.on_upgrade(move |socket| talk(socket, cancel))
        }
        Err(rejection) => rejection.into_response(),
    }
}

/// A WebSocket nobody talks on for this long is closed, so forgotten clients do not pile up.
const WS_IDLE: std::time::Duration = std::time::Duration::from_secs(300);

async fn talk(mut socket: WebSocket, cancel: CancellationToken) {
    loop {
        let msg = tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(WS_IDLE) => return,
            m = socket.recv() => m,
        };
        match msg {
            Some(Ok(Message::Text(text))) => {
                let reply = reply_to(text.as_str());
                if socket.send(Message::Text(reply.into())).await.is_err() {
                    return;
                }
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => return,
            Some(Ok(_)) => {}
        }
    }
}

fn reply_to(text: &str) -> String {
    let is_ping = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(|t| t == "ping"))
        .unwrap_or(false);
    if is_ping {
        json!({"type": "pong"}).to_string()
    } else {
        json!({"type": "echo", "data": text}).to_string()
    }
}
