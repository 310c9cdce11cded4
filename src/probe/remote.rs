//! The attach client: `watch --agent NAME=URL` and `check --agent NAME=URL` read an agent's
//! `/events` WebSocket — the recording format, read by the recording's own parser — and put
//! every event into the same channel as the local probes, tagged with the vantage's name, so
//! the same `State` judges it. The link itself is told by events too: connecting, live (with
//! the agent's judging configuration), lost. A lost link is retried with back-off and jitter
//! until the run ends; nothing here waits without a bound.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, http};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use url::Url;

use super::{Backoff, Ctx};
use crate::event::{Event, EventBody, LinkStatus, VantageLink};
use crate::record::Header;

/// Connecting and the agent's first message (its header) must each come within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A live link that says nothing for this long is taken as lost (agents send every event;
/// WebSocket pings from the client keep an idle one open).
const IDLE: Duration = Duration::from_secs(20);
/// Reconnect back-off: from 1 s, doubling with jitter, at most 30 s.
const RETRY_BASE: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// One agent to attach to.
#[derive(Clone)]
pub(crate) struct AgentTarget {
    pub name: String,
    /// Its `/events` URL (`ws://` or `wss://`).
    events: Url,
    /// The URL as given, credentials removed: what screens and recordings show.
    pub shown: String,
    token: Option<String>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for AgentTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgentTarget({}={})", self.name, self.shown)
    }
}

impl AgentTarget {
    /// `http(s)://host:port[/prefix]` (or `ws(s)://…`); the token is sent as a bearer token,
    /// `ca` is trusted beside the built-in web roots for `https`.
    pub(crate) fn new(
        name: &str,
        raw: &str,
        token: Option<&str>,
        ca: Option<&Path>,
    ) -> Result<Self, String> {
        let shown = crate::secret::redact_url(raw);
        let bad = |why: String| format!("--agent {name}={shown}: {why}");
        let mut url = Url::parse(raw).map_err(|e| bad(e.to_string()))?;
        let scheme = match url.scheme() {
            "http" | "ws" => "ws",
            "https" | "wss" => "wss",
            other => return Err(bad(format!("expected http:// or https://, not {other}://"))),
        };
        url.set_scheme(scheme)
            .map_err(|()| bad("cannot use this URL".into()))?;
        if !url.path().ends_with("/events") {
            let path = format!("{}/events", url.path().trim_end_matches('/'));
            url.set_path(&path);
        }
        let tls = if scheme == "wss" {
            Some(client_config(ca).map_err(bad)?)
        } else {
            None
        };
        Ok(Self {
            name: name.to_string(),
            events: url,
            shown,
            token: token.map(str::to_string),
            tls,
        })
    }
}

/// The built-in web roots, and the CA file when given.
fn client_config(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect)
            .map_err(|e| format!("{}: cannot read the CA certificate: {e}", path.display()))?;
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("{}: not a usable CA certificate: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
        .map_err(|e| format!("TLS client setup failed: {e}"))
}

/// How long an attach client keeps at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// `check`: the agent's window (its backfill), once; no reconnect.
    Window,
    /// `watch`: live, reconnecting until cancelled.
    Live,
}

/// The first word about an agent, sent by the caller before the clients start, so vantages
/// appear in the order they were given.
pub(crate) fn connecting(t: &AgentTarget) -> Event {
    let body = EventBody::Vantage(VantageLink {
        status: LinkStatus::Connecting,
        url: t.shown.clone(),
        message: None,
        config: None,
    });
    Event::now(body).with_vantage(&t.name)
}

/// Runs one attach client until cancelled (`Live`) or until the agent's window is read.
pub(crate) async fn run(ctx: Ctx, t: AgentTarget, reach: Reach) {
    let mut backoff = Backoff::new(RETRY_BASE, RETRY_MAX);
    loop {
        let why = match session(&ctx, &t, reach, &mut backoff).await {
            Ended::Cancelled | Ended::WindowRead => return,
            Ended::Lost(why) => why,
        };
        if ctx.cancel.is_cancelled() {
            return;
        }
        tracing::debug!(agent = %t.name, "agent link lost: {why}");
        backoff.failure();
        if !link(&ctx, &t, LinkStatus::Lost, Some(why), None).await || reach == Reach::Window {
            return;
        }
        if !ctx.sleep(backoff.next_delay()).await {
            return;
        }
    }
}

enum Ended {
    Cancelled,
    /// `check`: every backfill event was read.
    WindowRead,
    Lost(String),
}

/// One connection: the header, then events until it ends.
async fn session(ctx: &Ctx, t: &AgentTarget, reach: Reach, backoff: &mut Backoff) -> Ended {
    let mut ws = match bounded(ctx, connect(t)).await {
        None => return Ended::Cancelled,
        Some(Err(why)) => return Ended::Lost(why),
        Some(Ok(ws)) => ws,
    };
    let header = match bounded(ctx, first_message(&mut ws, t)).await {
        None => return close(ws, Ended::Cancelled).await,
        Some(Err(why)) => return close(ws, Ended::Lost(why)).await,
        Some(Ok(h)) => h,
    };
    let window = header.backfill.unwrap_or(0);
    if !link(ctx, t, LinkStatus::Live, None, Some(header.state)).await {
        return close(ws, Ended::Cancelled).await;
    }
    backoff.success();
    relay(ctx, t, ws, (reach == Reach::Window).then_some(window)).await
}

/// Events from the agent into the channel until the link ends — or, for `check`, until the
/// `window` of backfill events has been read.
async fn relay(ctx: &Ctx, t: &AgentTarget, mut ws: Socket, window: Option<u64>) -> Ended {
    let mut read = 0u64;
    let mut quiet = 0u32;
    loop {
        if window.is_some_and(|w| read >= w) {
            return close(ws, Ended::WindowRead).await;
        }
        let next = tokio::select! {
            () = ctx.cancel.cancelled() => return close(ws, Ended::Cancelled).await,
            n = tokio::time::timeout(IDLE, ws.next()) => n,
        };
        quiet = if next.is_err() { quiet + 1 } else { 0 };
        let text = match next {
            // Quiet is fine (a healthy agent between probes) while it answers a ping.
            Err(_) if quiet >= 2 => {
                let why = "no answer from the agent, not even to a ping".into();
                return close(ws, Ended::Lost(why)).await;
            }
            Err(_) => match ping(&mut ws).await {
                true => continue,
                false => return Ended::Lost("the agent stopped answering".into()),
            },
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(Message::Close(frame)))) => {
                let why = frame.map_or_else(|| "closed".to_string(), |f| f.reason.to_string());
                return Ended::Lost(format!("the agent closed the connection: {why}"));
            }
            Ok(Some(Ok(_))) => continue,
            Ok(None) => return Ended::Lost("the agent closed the connection".into()),
            Ok(Some(Err(e))) => return Ended::Lost(describe(&e)),
        };
        read += 1;
        // A line the recording reader cannot read is skipped, as in a recording.
        if let Some(ev) = crate::record::parse_event(text.as_bytes())
            && !forward(ctx, ev, &t.name).await
        {
            return close(ws, Ended::Cancelled).await;
        }
    }
}

async fn ping(ws: &mut Socket) -> bool {
    let ping = ws.send(Message::Ping(Vec::new().into()));
    matches!(
        tokio::time::timeout(CONNECT_TIMEOUT, ping).await,
        Ok(Ok(()))
    )
}

/// Waits for `f` unless the run is cancelled first (`None`).
async fn bounded<T>(ctx: &Ctx, f: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::select! {
        () = ctx.cancel.cancelled() => None,
        v = f => Some(v),
    }
}

async fn connect(t: &AgentTarget) -> Result<Socket, String> {
    let mut req = t
        .events
        .as_str()
        .into_client_request()
        .map_err(|e| e.to_string())?;
    if let Some(token) = &t.token {
        let value = http::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "the agent token is not a valid header value".to_string())?;
        req.headers_mut().insert(http::header::AUTHORIZATION, value);
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(crate::record::MAX_LINE))
        .max_frame_size(Some(crate::record::MAX_LINE));
    let connector = t.tls.clone().map(Connector::Rustls);
    let connecting =
        tokio_tungstenite::connect_async_tls_with_config(req, Some(config), true, connector);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Err(_) => Err(format!(
            "no connection within {}",
            crate::units::duration(CONNECT_TIMEOUT)
        )),
        Ok(Err(e)) => Err(describe(&e)),
        Ok(Ok((ws, _))) => Ok(ws),
    }
}

fn describe(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error as E;
    let text = match e {
        E::Http(resp) if resp.status() == http::StatusCode::UNAUTHORIZED => {
            "401 Unauthorized: the agent wants a token (--agent-token-file or CONNSCOPE_AGENT_TOKEN)".into()
        }
        E::Http(resp) => format!("HTTP {} instead of a WebSocket", resp.status()),
        other => other.to_string(),
    };
    crate::secret::scrub(&text).into_owned()
}

/// The agent's recording header, read by the recording reader's own header check.
async fn first_message(ws: &mut Socket, t: &AgentTarget) -> Result<Header, String> {
    let msg = tokio::time::timeout(CONNECT_TIMEOUT, ws.next())
        .await
        .map_err(|_| "no header from the agent".to_string())?;
    match msg {
        Some(Ok(Message::Text(text))) => {
            crate::record::parse_header(text.as_bytes(), &t.shown).map_err(|e| e.to_string())
        }
        Some(Ok(_)) => Err("the agent's first message is not a header".into()),
        Some(Err(e)) => Err(describe(&e)),
        None => Err("the agent closed the connection before its header".into()),
    }
}

async fn close(mut ws: Socket, ended: Ended) -> Ended {
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    ended
}

async fn forward(ctx: &Ctx, ev: Event, name: &str) -> bool {
    tokio::select! {
        r = ctx.tx.send(ev.with_vantage(name)) => r.is_ok(),
        () = ctx.cancel.cancelled() => false,
    }
}

async fn link(
    ctx: &Ctx,
    t: &AgentTarget,
    status: LinkStatus,
    message: Option<String>,
    config: Option<crate::state::StateConfig>,
) -> bool {
    let body = EventBody::Vantage(VantageLink {
        status,
        url: t.shown.clone(),
        message,
        config: config.map(Box::new),
    });
    forward(ctx, Event::now(body), &t.name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_urls_become_their_events_websocket() {
        let t = AgentTarget::new("vpc", "http://127.0.0.1:9466", None, None).expect("parses");
        assert_eq!(t.events.as_str(), "ws://127.0.0.1:9466/events");
        let t = AgentTarget::new("vpc", "https://u:pw@10.8.0.5:9466/agent/", None, None)
            .expect("parses");
        assert_eq!(t.events.as_str(), "wss://u:pw@10.8.0.5:9466/agent/events");
        assert!(!t.shown.contains("pw"), "{}", t.shown);
        assert!(AgentTarget::new("x", "ftp://h", None, None).is_err());
        assert!(AgentTarget::new("x", "not a url", None, None).is_err());
    }
}
