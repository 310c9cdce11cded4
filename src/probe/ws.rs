//! WebSocket: connect, send `{"type":"ping"}`, wait for any reply, close politely.
//!
//! - `connect_ms`: the whole opening handshake — name resolution (same resolver as the HTTP
//!   probe, `.invalid` answered locally), TCP connect (addresses tried in order), TLS for
//!   `wss://` (tokio-rustls, run by the probe itself so a TLS failure is classed `tls`; webpki
//!   roots unless `WsParams::tls` says otherwise), and the HTTP upgrade until the 101 response
//!   was read. Bounded by `websocket.connect_timeout` (10 s by default).
//! - `rtt_ms`: from just before the ping is written until the first text or binary message
//!   arrives (server pings/pongs are not a reply). Bounded by `websocket.reply_timeout` (5 s);
//!   when it fires the failure is class `timeout`, step `reply`.
//!
//! Failure classes: `dns`, `refused` / `unreachable` (TCP), `tls`, `timeout` (step connect or
//! reply), `http_status` when the server answers the upgrade with an ordinary HTTP response
//! (any status but 101 — e.g. a plain web server at that path), `protocol` when the upgrade
//! or the conversation is malformed or the server closes instead of answering, `other`.
//!
//! Credentials in the URL are sent as HTTP basic auth on the upgrade request (like the HTTP
//! probe); they are registered secrets, never shown.
//!
//! Every opened socket gets a close frame and a bounded wait for the server's, on every path
//! (after a cancel, at most 100 ms of it, so quitting is never held up by a silent server).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::conn::net;
use super::{Control, Ctx, Mode};
use crate::config::Settings;
use crate::event::{ErrorClass, EventBody, Failure, Step, WsCheck};
use crate::probe::conn::classify::{failure, io_failure, timeout};

pub const PING: &str = r#"{"type":"ping"}"#;
const EXCERPT_CHARS: usize = 512;
/// After a cancel: time to send the close frame and take the server's answer if it is quick.
const CANCELLED_CLOSE: Duration = Duration::from_millis(100);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Debug, Clone)]
pub struct WsParams {
    pub urls: Vec<String>,
    pub connect_timeout: Duration,
    pub reply_timeout: Duration,
    /// How long to wait for the server's close frame after sending ours.
    pub close_timeout: Duration,
    /// Between rounds in live mode.
    pub interval: Duration,
    /// The message sent (`websocket.message`); empty: a protocol ping, its pong the reply.
    pub message: String,
    /// TLS client configuration to use instead of the built-in one (ring, webpki roots).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl WsParams {
    /// Each endpoint's `websocket`, then the extra `websockets`, without duplicates.
    pub fn from_settings(s: &Settings) -> Self {
        let mut urls: Vec<String> = Vec::new();
        let all = s
            .endpoints
            .iter()
            .filter_map(|e| e.websocket.clone())
            .chain(s.websockets.iter().cloned());
        for u in all {
            if !urls.contains(&u) {
                urls.push(u);
            }
        }
        Self {
            urls,
            connect_timeout: s.websocket.connect_timeout,
            reply_timeout: s.websocket.reply_timeout,
            close_timeout: Duration::from_secs(1),
            interval: s.health.interval,
            message: s.websocket.message.clone(),
            tls: None,
        }
    }
}

/// `Once`: one check per URL. `Live`: a round every `interval` until cancelled.
pub async fn run(ctx: Ctx, mut ctl: Control, mode: Mode, p: WsParams) {
    if p.urls.is_empty() {
        return;
    }
    loop {
        let checks = p.urls.iter().map(|u| check_and_send(&ctx, &p, u));
        let all_sent = futures::future::join_all(checks)
            .await
            .into_iter()
            .all(|ok| ok);
        if !all_sent || mode == Mode::Once || !ctl.wait(p.interval, &ctx.cancel).await {
            return;
        }
    }
}

async fn check_and_send(ctx: &Ctx, p: &WsParams, url: &str) -> bool {
    match check(url, p, &ctx.cancel).await {
        Some(c) => ctx.send(EventBody::WsCheck(c)).await,
        None => false,
    }
}

/// One check of one URL. `None` when cancelled.
pub async fn check(url: &str, p: &WsParams, cancel: &CancellationToken) -> Option<WsCheck> {
    let mut out = WsCheck {
        url: crate::secret::redact_url(url),
        ok: false,
        connect_ms: None,
        rtt_ms: None,
        reply_excerpt: None,
        error: None,
    };
    let start = Instant::now();
    let mut reached = Reached::Nothing;
    let connected = tokio::select! {
        r = tokio::time::timeout(p.connect_timeout, open(url, p.tls.as_ref(), &mut reached)) => r,
        () = cancel.cancelled() => return None,
    };
    let mut ws = match connected {
        Ok(Ok(ws)) => ws,
        Ok(Err(f)) => return Some(failed(out, f)),
        Err(_) => return Some(failed(out, connect_timeout(p, reached))),
    };
    out.connect_ms = Some(ms(start.elapsed()));
    let replied = tokio::select! {
        r = tokio::time::timeout(p.reply_timeout, ping(&mut ws, &p.message)) => Some(r),
        () = cancel.cancelled() => None,
    };
    // Cancelled: the close frame still goes out, but a server that does not answer it must not
    // hold up quitting for the whole close timeout.
    let close_limit = match replied {
        Some(_) => p.close_timeout,
        None => p.close_timeout.min(CANCELLED_CLOSE),
    };
    close(&mut ws, close_limit).await;
    match replied? {
        Ok(Ok((rtt, text))) => {
            out.ok = true;
            out.rtt_ms = Some(ms(rtt));
            out.reply_excerpt = Some(excerpt(&text));
        }
        Ok(Err(f)) => out.error = Some(f),
        Err(_) => out.error = Some(no_reply(p)),
    }
    Some(out)
}

/// How far the opening handshake got when its deadline fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reached {
    Nothing,
    Resolved,
    TcpConnected,
}

/// The opening handshake's deadline. A name that never resolved is a `dns` timeout; past it,
/// the step is `connect` (the whole opening handshake) and the message says how far it got,
/// so a server that accepts and never upgrades is not mistaken for an unreachable one.
fn connect_timeout(p: &WsParams, reached: Reached) -> Failure {
    match reached {
        Reached::Nothing => return timeout(Step::Dns, p.connect_timeout),
        Reached::Resolved => return timeout(Step::Connect, p.connect_timeout),
        Reached::TcpConnected => {}
    }
    failure(
        ErrorClass::Timeout,
        Step::Connect,
        None,
        format!(
            "TCP connected, but no WebSocket handshake (101 Switching Protocols) within {}",
            crate::config::duration::format(p.connect_timeout)
        ),
    )
}

fn failed(mut out: WsCheck, f: Failure) -> WsCheck {
    out.error = Some(f);
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// DNS, TCP, then TLS (for `wss://`) and the upgrade over that stream. Resolving and connecting
/// ourselves is what lets a DNS failure be told apart from a refused port.
async fn open(
    raw: &str,
    tls_config: Option<&Arc<ClientConfig>>,
    reached: &mut Reached,
) -> Result<Ws, Failure> {
    let url = Url::parse(raw).map_err(|e| bad_url(raw, e.to_string()))?;
    let tls = match url.scheme() {
        "ws" => false,
        "wss" => true,
        other => return Err(bad_url(raw, format!("scheme {other} is not ws or wss"))),
    };
    let host = url
        .host_str()
        .ok_or_else(|| bad_url(raw, "no host".into()))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| bad_url(raw, "no port".into()))?;
    let addrs = net::lookup(host, port)
        .await
        .map_err(|e| failure(ErrorClass::Dns, Step::Dns, None, e.to_string()))?;
    *reached = Reached::Resolved;
    let tcp = connect_any(&addrs).await?;
    *reached = Reached::TcpConnected;
    let stream = if tls {
        MaybeTlsStream::Rustls(tls_handshake(&url, tcp, tls_config).await?)
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    let (ws, _response) =
        tokio_tungstenite::client_async_with_config(upgrade_request(&url)?, stream, None)
            .await
            .map_err(|e| handshake_failure(&e))?;
    Ok(ws)
}

/// The upgrade request for `url`. Credentials in the URL (`ws://user:pass@host/ws`) are sent
/// as HTTP basic auth, as the HTTP probe does, and never in the request line.
fn upgrade_request(url: &Url) -> Result<tungstenite::handshake::client::Request, Failure> {
    use tungstenite::client::IntoClientRequest as _;
    use tungstenite::http::{HeaderValue, header::AUTHORIZATION};
    let mut plain = url.clone();
    let _ = plain.set_username("");
    let _ = plain.set_password(None);
    let mut request = plain
        .as_str()
        .into_client_request()
        .map_err(|e| handshake_failure(&e))?;
    if let Some(auth) = crate::secret::basic_auth(url) {
        let value = HeaderValue::from_str(&auth)
            .map_err(|_| bad_url(url.as_str(), "credentials not fit for a header".into()))?;
        request.headers_mut().insert(AUTHORIZATION, value);
    }
    Ok(request)
}

/// TLS on our own, rather than inside tungstenite, so that a TLS failure is reported as such
/// and not as an I/O error of the upgrade.
async fn tls_handshake(
    url: &Url,
    tcp: TcpStream,
    config: Option<&Arc<ClientConfig>>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Failure> {
    let tls_failure = |m: String| failure(ErrorClass::Tls, Step::Tls, None, m);
    let name = match url.host() {
        Some(url::Host::Domain(d)) => ServerName::try_from(d.to_string())
            .map_err(|e| tls_failure(format!("not a TLS server name: {e}")))?,
        Some(url::Host::Ipv4(ip)) => ServerName::from(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => ServerName::from(std::net::IpAddr::V6(ip)),
        None => return Err(tls_failure("no host".into())),
    };
    let config = match config {
        Some(c) => c.clone(),
        None => net::tls_config().map_err(tls_failure)?,
    };
    let connector = tokio_rustls::TlsConnector::from(config);
    connector.connect(name, tcp).await.map_err(|e| {
        // tokio-rustls wraps rustls' own error in an io::Error; an I/O failure (reset) stays one.
        match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(r) => tls_failure(format!("TLS handshake failed: {r}")),
            None => io_failure(Step::Tls, &e),
        }
    })
}

fn bad_url(raw: &str, why: String) -> Failure {
    let shown = crate::secret::redact_url(raw);
    failure(
        ErrorClass::Other,
        Step::Connect,
        None,
        format!("invalid WebSocket URL {shown}: {why}"),
    )
}

/// Addresses in the resolver's order; the first that accepts wins, the last error is kept.
async fn connect_any(addrs: &[std::net::SocketAddr]) -> Result<TcpStream, Failure> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(io_failure(Step::Connect, &e)),
        }
    }
    Err(last.unwrap_or_else(|| failure(ErrorClass::Dns, Step::Dns, None, "no addresses")))
}

fn handshake_failure(e: &tungstenite::Error) -> Failure {
    use tungstenite::Error as E;
    match e {
        E::Io(io) => io_failure(Step::Handshake, io),
        E::Tls(t) => failure(ErrorClass::Tls, Step::Tls, None, t.to_string()),
        // An ordinary HTTP answer where a 101 was needed: the path is not a WebSocket (or a
        // proxy / the service in trouble answered instead), and the status says which.
        E::Http(resp) => failure(
            ErrorClass::HttpStatus,
            Step::Handshake,
            None,
            format!(
                "HTTP {} instead of 101 Switching Protocols",
                resp.status().as_u16()
            ),
        ),
        E::Protocol(p) => failure(ErrorClass::Protocol, Step::Handshake, None, p.to_string()),
        E::HttpFormat(h) => failure(ErrorClass::Protocol, Step::Handshake, None, h.to_string()),
        other => failure(ErrorClass::Other, Step::Handshake, None, other.to_string()),
    }
}

/// The reply timed out; a service that answers no message can still be checked by its pong.
fn no_reply(p: &WsParams) -> Failure {
    let mut f = timeout(Step::Reply, p.reply_timeout);
    if !p.message.is_empty() {
        f.message = format!(
            "{} — a service that answers no such message is checked by a protocol ping with \
             websocket.message = \"\"",
            f.message
        );
    }
    f
}

/// Sends the message (or a protocol ping when it is empty) and waits for the first data
/// message (or the pong). The time starts before the write, so it covers what a client of the
/// service would wait.
async fn ping(ws: &mut Ws, message: &str) -> Result<(Duration, String), Failure> {
    let sent = Instant::now();
    let protocol = message.is_empty();
    let out = if protocol {
        Message::Ping(PING.as_bytes().to_vec().into())
    } else {
        Message::text(message)
    };
    ws.send(out).await.map_err(|e| talk_failure(&e))?;
    loop {
        let msg = match ws.next().await {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(talk_failure(&e)),
            None => return Err(closed("the connection ended without a reply")),
        };
        match msg {
            Message::Text(t) => return Ok((sent.elapsed(), t.as_str().to_owned())),
            Message::Binary(b) => {
                return Ok((sent.elapsed(), String::from_utf8_lossy(&b).into_owned()));
            }
            Message::Close(frame) => {
                let why = frame
                    .map(|f| format!(" ({} {})", u16::from(f.code), f.reason))
                    .unwrap_or_default();
                return Err(closed(&format!("the server closed without a reply{why}")));
            }
            Message::Pong(p) if protocol => {
                return Ok((sent.elapsed(), String::from_utf8_lossy(&p).into_owned()));
            }
            // Pings are answered by tungstenite itself; neither they nor stray pongs reply.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

fn closed(message: &str) -> Failure {
    failure(ErrorClass::Protocol, Step::Reply, None, message)
}

fn talk_failure(e: &tungstenite::Error) -> Failure {
    match e {
        tungstenite::Error::Io(io) => io_failure(Step::Reply, io),
        other => failure(ErrorClass::Protocol, Step::Reply, None, other.to_string()),
    }
}

/// Close frame, then read until the server's close frame (or the end), all within `limit`.
/// Errors are ignored: the check's result is already decided, this only leaves the server a
/// clean connection to tear down.
async fn close(ws: &mut Ws, limit: Duration) {
    let _ = tokio::time::timeout(limit, async {
        if ws.close(None).await.is_err() {
            return;
        }
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

fn excerpt(text: &str) -> String {
    crate::secret::excerpt(text, EXCERPT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Endpoint, LoadOptions};

    #[test]
    fn urls_come_from_endpoints_then_extras_without_duplicates() {
        let mut s = Config::load(&LoadOptions::default())
            .expect("the built-in profile loads")
            .settings;
        let ep = |name: &str, ws: Option<&str>| Endpoint {
            name: name.into(),
            url: format!("https://{name}.example"),
            websocket: ws.map(str::to_string),
        };
        s.endpoints = vec![
            ep("backend", Some("wss://backend.example/ws")),
            ep("api", None),
        ];
        s.websockets = vec![
            "wss://backend.example/ws".into(),
            "wss://extra.example/ws".into(),
        ];
        let p = WsParams::from_settings(&s);
        assert_eq!(
            p.urls,
            vec!["wss://backend.example/ws", "wss://extra.example/ws"]
        );
        assert_eq!(p.connect_timeout, Duration::from_secs(10));
        assert_eq!(p.reply_timeout, Duration::from_secs(5));
        assert_eq!(p.interval, s.health.interval);
    }
}
