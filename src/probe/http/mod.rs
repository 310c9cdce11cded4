//! Endpoint health: GET each configured path of each endpoint, time the request by step,
//! read a bounded excerpt of the body, and send one `HttpCheck` per requested path.
//!
//! # What each step time measures
//!
//! Every check builds a fresh reqwest client for its single request (no pool, no proxy, no
//! redirects), so the one connection that request opens is the one being timed. Three hooks
//! observe it (see `timing.rs`); nothing is estimated or measured on a second connection.
//!
//! - `dns`: reqwest's DNS hook (`ClientBuilder::dns_resolver`) runs the system resolver
//!   (getaddrinfo); from the call to its answer. `None` for an IP-literal host (no lookup).
//! - `connect`: TCP connection. Starts when resolution ends (or, without DNS, when reqwest's
//!   connector is called — a tower layer via `ClientBuilder::connector_layer` marks that),
//!   ends when TLS starts; for plain `http://`, when the connector returns. With several
//!   addresses it includes the failed ones before the one that answered (happy eyeballs).
//! - `tls`: from the moment rustls builds the ClientHello (it consults the session store, which
//!   is ours and stores nothing, so no resumption either) until the connector returns with the
//!   handshake done. `None` for plain HTTP.
//! - `first_byte`: from the start of the request until the response headers were parsed —
//!   cumulative, like curl's `time_starttransfer`, so it includes the steps above.
//! - `total` (= `latency_ms` on success): from the start until the body was read to its end or
//!   to the body limit, whichever came first. Also cumulative.
//!
//! A step that failed or never ran is `None`; `latency_ms` is always the time until the
//! outcome. One deadline (`timeout`) covers the whole request; when it fires, the failure's
//! step is the one in progress: dns, connect, tls, first_byte or body.
//!
//! "The start of the request" is the call to reqwest's `send()`, after the client was built
//! (building it is not counted). Anything between marks that is not network time — reqwest
//! and hyper handing over between steps, microseconds — falls into the next step.
//!
//! # Failure classes
//!
//! `dns` (the resolver failed; `.invalid` names fail locally, RFC 6761), `refused` /
//! `unreachable` (TCP, from the OS error), `tls` (rustls rejected the handshake: certificate,
//! protocol), `timeout` with its step, `protocol` (the connection broke during the HTTP
//! exchange), `http_status` for a non-2xx answer (message `HTTP 503`, no step: every step
//! completed), `other`.
//!
//! # Choices that keep the numbers honest
//!
//! System proxies are ignored (their DNS and connect would be timed instead of the
//! endpoint's) and redirects are not followed (a 3xx is reported as it is). TLS trusts the
//! webpki roots unless `HttpParams::tls` supplies another configuration (a private CA);
//! HTTP/2 is used when the server picks it through ALPN.
//!
//! A path after the first that answers 404 falls back to the first (`/health/database` →
//! `/health`): the event then carries the fallback request's numbers, `fell_back: true`; the
//! 404 request itself is not reported.

mod request;
mod timing;

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::{Control, Ctx, Mode};
use crate::config::Settings;
use crate::event::{ErrorClass, EventBody, Failure, HttpCheck};

pub use request::{Fetched, fetch};

/// Characters of body kept in an event.
pub const EXCERPT_CHARS: usize = 512;

/// Paths checked when the configuration lists none.
pub(crate) const DEFAULT_PATHS: [&str; 2] = ["/health", "/health/database"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpEndpoint {
    pub name: String,
    /// Base URL; paths are appended to its path.
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct HttpParams {
    pub endpoints: Vec<HttpEndpoint>,
    /// In order; every path after the first falls back to the first when it answers 404.
    pub paths: Vec<String>,
    pub tries: u32,
    pub tries_interval: Duration,
    /// One deadline for each request, connection to last body byte read.
    pub timeout: Duration,
    pub body_limit: usize,
    /// Between rounds in live mode.
    pub interval: Duration,
    /// TLS client configuration to use instead of the built-in one (ring, webpki roots), e.g.
    /// to trust a private CA. Its session store and ALPN are replaced per check.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl HttpParams {
    pub fn from_settings(s: &Settings) -> Self {
        // A password in an endpoint URL is sent (as basic auth) but must never be shown, even
        // when a server echoes it back in a body or an error. (Loading the configuration has
        // registered it already; this keeps params built by hand covered too.)
        for e in &s.endpoints {
            crate::secret::register_url(&e.url);
        }
        let paths = if s.health.paths.is_empty() {
            DEFAULT_PATHS.iter().map(|p| p.to_string()).collect()
        } else {
            s.health.paths.clone()
        };
        Self {
            endpoints: s
                .endpoints
                .iter()
                .map(|e| HttpEndpoint {
                    name: e.name.clone(),
                    url: e.url.clone(),
                })
                .collect(),
            paths,
            tries: s.health.tries.max(1),
            tries_interval: s.health.tries_interval,
            timeout: s.timeouts.health_check,
            body_limit: s.health.body_limit,
            interval: s.health.interval,
            tls: None,
        }
    }

    /// `--health-timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// `Once`: `tries` rounds, `tries_interval` apart. `Live`: a round every `interval` (or when
/// "run now" is pressed) until cancelled. Returns early when cancelled or nobody listens.
pub async fn run(ctx: Ctx, mut ctl: Control, mode: Mode, p: HttpParams) {
    if p.endpoints.is_empty() || p.paths.is_empty() {
        return;
    }
    let tries = p.tries.max(1);
    let mut attempt = 1;
    loop {
        if !round(&ctx, &p, attempt).await {
            return;
        }
        let more = match mode {
            Mode::Once if attempt >= tries => false,
            Mode::Once => ctx.sleep(p.tries_interval).await,
            Mode::Live => ctl.wait(p.interval, &ctx.cancel).await,
        };
        if !more {
            return;
        }
        attempt += 1;
    }
}

/// Every endpoint at once (a hung one must not delay the others); its paths one after another,
/// so no service gets more than one probe request at a time. False when the run is over.
async fn round(ctx: &Ctx, p: &HttpParams, attempt: u32) -> bool {
    let all = p
        .endpoints
        .iter()
        .map(|ep| check_endpoint(ctx, p, ep, attempt));
    futures::future::join_all(all)
        .await
        .into_iter()
        .all(|ok| ok)
}

async fn check_endpoint(ctx: &Ctx, p: &HttpParams, ep: &HttpEndpoint, attempt: u32) -> bool {
    for i in 0..p.paths.len() {
        let Some(check) = check_path(ctx, p, ep, i, attempt).await else {
            return false;
        };
        if !ctx.send(EventBody::HttpCheck(check)).await {
            return false;
        }
    }
    true
}

/// One requested path, with the 404 fallback. `None` when cancelled.
pub(crate) async fn check_path(
    ctx: &Ctx,
    p: &HttpParams,
    ep: &HttpEndpoint,
    index: usize,
    attempt: u32,
) -> Option<HttpCheck> {
    let requested = p.paths.get(index)?;
    let mut answered = requested.clone();
    let mut fetched = fetch_path(ctx, p, &ep.url, requested).await?;
    let first = p.paths.first().filter(|_| index > 0);
    let mut fell_back = false;
    if let Some(first) = first
        && fetched.status == Some(404)
    {
        fetched = fetch_path(ctx, p, &ep.url, first).await?;
        answered = first.clone();
        fell_back = true;
    }
    Some(to_check(
        p, ep, requested, answered, fell_back, attempt, fetched,
    ))
}

async fn fetch_path(ctx: &Ctx, p: &HttpParams, base: &str, path: &str) -> Option<Fetched> {
    match join_path(base, path) {
        Ok(url) => fetch(&url, p, &ctx.cancel).await,
        Err(msg) => Some(request::setup_failed(msg)),
    }
}

/// Appends `path` to the base URL's path, so a base behind a prefix (`https://gw/api`) is
/// checked at `https://gw/api/health`, not at the host's root.
pub(crate) fn join_path(base: &str, path: &str) -> Result<Url, String> {
    let mut url = Url::parse(base)
        .map_err(|e| format!("invalid URL {}: {e}", crate::secret::redact_url(base)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "not an http(s) URL: {}",
            crate::secret::redact_url(base)
        ));
    }
    let joined = format!(
        "{}/{}",
        url.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    Ok(url)
}

fn to_check(
    p: &HttpParams,
    ep: &HttpEndpoint,
    requested: &str,
    answered: String,
    fell_back: bool,
    attempt: u32,
    f: Fetched,
) -> HttpCheck {
    let body = String::from_utf8_lossy(&f.body);
    let ok = f.error.is_none() && f.status.is_some_and(|s| (200..300).contains(&s));
    let error = f
        .error
        .or_else(|| status_failure(f.status, f.location.as_deref()));
    HttpCheck {
        endpoint: ep.name.clone(),
        url: crate::secret::redact_url(&ep.url),
        path: answered,
        requested_path: requested.to_string(),
        fell_back,
        attempt,
        tries: p.tries.max(1),
        status: f.status,
        ok,
        latency_ms: f.latency_ms,
        steps_ms: f.steps,
        timeout_ms: p.timeout.as_secs_f64() * 1e3,
        // The state judges what the answer means (starting, unhealthy, startup failure).
        startup_failure: false,
        body_excerpt: excerpt(&body),
        error,
    }
}

/// A non-2xx answer: the request worked, the service says it is not healthy. No step, as in
/// the state's fixtures: every step completed.
fn status_failure(status: Option<u16>, location: Option<&str>) -> Option<Failure> {
    let s = status.filter(|s| !(200..300).contains(s))?;
    // A redirect is another request with its own steps: said where it points, not followed.
    let message = match location {
        Some(to) => format!("HTTP {s} → {to} (a redirect, not followed: is that the health path?)"),
        None => format!("HTTP {s}"),
    };
    Some(Failure {
        class: ErrorClass::HttpStatus,
        step: None,
        sqlstate: None,
        message,
    })
}

fn excerpt(body: &str) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    Some(crate::secret::excerpt(body, EXCERPT_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_appended_to_the_base_path() {
        let u = |b, p| join_path(b, p).map(|u| u.to_string());
        assert_eq!(
            u("https://svc.example", "/health").as_deref(),
            Ok("https://svc.example/health")
        );
        assert_eq!(
            u("https://gw.example/api/", "/health/database").as_deref(),
            Ok("https://gw.example/api/health/database")
        );
        assert_eq!(
            u("http://127.0.0.1:8080/x?k=v", "health").as_deref(),
            Ok("http://127.0.0.1:8080/x/health?k=v")
        );
        assert!(join_path("ftp://x", "/health").is_err());
        assert!(join_path("not a url", "/health").is_err());
    }

    #[test]
    fn the_excerpt_is_bounded_in_characters_and_scrubbed() {
        crate::secret::register("hunter2-excerpt");
        let long = "é".repeat(2000);
        let e = excerpt(&long).unwrap_or_default();
        assert_eq!(e.chars().count(), EXCERPT_CHARS);
        assert_eq!(
            excerpt("token hunter2-excerpt here").as_deref(),
            Some("token *** here")
        );
        assert_eq!(excerpt(""), None);
    }

    #[test]
    fn params_follow_the_settings() {
        let mut s = crate::config::Config::load(&Default::default())
            .expect("the built-in profile loads")
            .settings;
        s.health.paths.clear();
        s.health.tries = 0;
        let p = HttpParams::from_settings(&s);
        assert_eq!(p.paths, DEFAULT_PATHS.map(String::from).to_vec());
        assert_eq!(p.tries, 1, "at least one try");
        assert_eq!(p.timeout, s.timeouts.health_check);
        assert_eq!(p.body_limit, s.health.body_limit);
        let p = p.with_timeout(Duration::from_secs(3));
        assert_eq!(p.timeout, Duration::from_secs(3));
    }

    #[test]
    fn only_non_2xx_is_a_status_failure() {
        assert_eq!(status_failure(Some(200), None), None);
        assert_eq!(status_failure(None, None), None);
        let f = status_failure(Some(503), None);
        assert_eq!(f.as_ref().map(|f| f.class), Some(ErrorClass::HttpStatus));
        assert_eq!(f.map(|f| f.message).as_deref(), Some("HTTP 503"));
        let f = status_failure(Some(307), Some("/health/"));
        assert_eq!(
            f.map(|f| f.message).as_deref(),
            Some("HTTP 307 → /health/ (a redirect, not followed: is that the health path?)")
        );
    }
}
