//! One step-timed GET: a fresh client, one connection, a bounded body, one deadline.

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;
use std::time::Instant;

use rustls::client::Resumption;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::HttpParams;
use super::timing::{Instants, Marks, TimedResolver, TimingLayer, TlsStart, span_ms};
use crate::event::{ErrorClass, Failure, HttpSteps, Step};
use crate::probe::conn::classify::{failure, io_class, timeout};
use crate::probe::conn::net;

/// What one request produced, success or not.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: Option<u16>,
    /// From the start of the request until its outcome (body read, limit reached, or failure).
    pub latency_ms: f64,
    pub steps: HttpSteps,
    /// At most the body limit, never more.
    pub body: Vec<u8>,
    /// Where a redirect pointed (3xx `Location`), for the person to see: it is not followed.
    pub location: Option<String>,
    pub error: Option<Failure>,
}

/// What the exchange got to before it ended; kept outside the future so a deadline that
/// drops the future still leaves it readable.
#[derive(Debug, Default)]
struct Progress {
    headers_at: Option<Instant>,
    status: Option<u16>,
    location: Option<String>,
    body: Vec<u8>,
    body_end: Option<Instant>,
}

/// Runs one GET of `url`. `None` when cancelled: an interrupted check is not a measurement.
/// Deadline, body limit and TLS configuration come from `p`.
pub async fn fetch(url: &Url, p: &HttpParams, cancel: &CancellationToken) -> Option<Fetched> {
    let (limit, body_limit) = (p.timeout, p.body_limit);
    let marks = Marks::shared();
    let client = match build_client(&marks, p.tls.as_ref()) {
        Ok(c) => c,
        Err(msg) => return Some(setup_failed(msg)),
    };
    let start = Instant::now();
    let mut progress = Progress::default();
    let outcome = tokio::select! {
        r = tokio::time::timeout(limit, exchange(&client, url, body_limit, &mut progress)) => r,
        () = cancel.cancelled() => return None,
    };
    let seen = marks.snapshot();
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(classify(e, &seen, &progress)),
        Err(_) => Some(timeout(step_reached(&seen, &progress), limit)),
    };
    Some(Fetched {
        status: progress.status,
        latency_ms: start.elapsed().as_secs_f64() * 1e3,
        steps: steps(start, &seen, &progress),
        body: progress.body,
        location: progress.location,
        error,
    })
}

/// A client for exactly one request: no pool, no proxy (its DNS and connect would be timed
/// instead of the target's), no redirects (a redirect is a second request with its own steps;
/// a 3xx is reported as it is), and the three timing hooks.
fn build_client(
    marks: &Arc<Marks>,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<reqwest::Client, String> {
    let base = match tls {
        Some(t) => t.clone(),
        None => net::tls_config()?,
    };
    let mut tls = (*base).clone();
    tls.resumption = Resumption::store(Arc::new(TlsStart(marks.clone())));
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(Arc::new(TimedResolver(marks.clone())))
        .connector_layer(TimingLayer(marks.clone()))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .user_agent(concat!("connscope/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client setup failed: {}", e.without_url()))
}

pub(super) fn setup_failed(message: String) -> Fetched {
    Fetched {
        status: None,
        latency_ms: 0.0,
        steps: HttpSteps::default(),
        body: Vec::new(),
        location: None,
        error: Some(failure(ErrorClass::Other, Step::Connect, None, message)),
    }
}

/// Sends the request and reads at most `body_limit` bytes of the body, chunk by chunk, so a
/// huge body is never buffered; returning early drops the response and closes the connection.
async fn exchange(
    client: &reqwest::Client,
    url: &Url,
    body_limit: usize,
    p: &mut Progress,
) -> Result<(), reqwest::Error> {
    let mut resp = client.get(url.clone()).send().await?;
    p.headers_at = Some(Instant::now());
    p.status = Some(resp.status().as_u16());
    if resp.status().is_redirection() {
        p.location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|v| crate::secret::excerpt(&String::from_utf8_lossy(v.as_bytes()), 120));
    }
    while p.body.len() < body_limit {
        let Some(chunk) = resp.chunk().await? else {
            break;
        };
        let take = chunk.len().min(body_limit - p.body.len());
        p.body.extend_from_slice(&chunk[..take]);
    }
    p.body_end = Some(Instant::now());
    Ok(())
}

/// Durations of the steps that completed; a step that failed or never ran stays `None`.
fn steps(start: Instant, i: &Instants, p: &Progress) -> HttpSteps {
    let dns_ok = i.dns_error.is_none();
    let tcp_start = if dns_ok { i.dns_end } else { None }.or(i.connect_start);
    let connected = i.connect_ok == Some(true);
    // TCP is done once TLS starts; without TLS, when the connector returned successfully.
    let tcp_end = i.tls_start.or(if connected { i.connect_end } else { None });
    HttpSteps {
        dns: if dns_ok {
            span_ms(i.dns_start, i.dns_end)
        } else {
            None
        },
        connect: span_ms(tcp_start, tcp_end),
        tls: if connected {
            span_ms(i.tls_start, i.connect_end)
        } else {
            None
        },
        first_byte: span_ms(Some(start), p.headers_at),
        total: span_ms(Some(start), p.body_end),
    }
}

/// The step in progress when the request stopped.
fn step_reached(i: &Instants, p: &Progress) -> Step {
    if p.headers_at.is_some() {
        Step::Body
    } else if i.connect_ok == Some(true) {
        Step::FirstByte
    } else if i.tls_start.is_some() {
        Step::Tls
    } else if i.dns_start.is_some() && i.dns_end.is_none() {
        Step::Dns
    } else {
        Step::Connect
    }
}

fn classify(e: reqwest::Error, i: &Instants, p: &Progress) -> Failure {
    if let Some(msg) = &i.dns_error {
        return failure(ErrorClass::Dns, Step::Dns, None, msg);
    }
    let step = step_reached(i, p);
    let e = e.without_url();
    let root = root_message(&e);
    let class = if find::<rustls::Error>(&e).is_some() {
        ErrorClass::Tls
    } else if let Some(io) = deepest_io(&e) {
        io_class(io)
    } else if step >= Step::FirstByte {
        // The connection was up and the HTTP exchange broke (e.g. closed before a response).
        ErrorClass::Protocol
    } else {
        ErrorClass::Other
    };
    let what = match step {
        Step::Tls => "TLS handshake failed",
        Step::Connect | Step::Dns => "connection failed",
        Step::Body => "reading the body failed",
        _ => "no response",
    };
    failure(class, step, None, format!("{what}: {root}"))
}

fn causes<'a>(
    e: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    // `io::Error::source` skips the error it wraps, so look inside it explicitly.
    std::iter::successors(Some(e), |&e: &&'a (dyn StdError + 'static)| match e
        .downcast_ref::<io::Error>()
    {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
        None => e.source(),
    })
}

fn find<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    causes(e).find_map(|c| c.downcast_ref::<T>())
}

fn deepest_io<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a io::Error> {
    causes(e)
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .last()
}

/// The innermost message: the one that names the actual cause ("Connection refused"), without
/// reqwest's and hyper's wrapping.
fn root_message(e: &(dyn StdError + 'static)) -> String {
    causes(e)
        .last()
        .map(|c| c.to_string())
        .unwrap_or_else(|| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_step_reached_follows_the_marks() {
        let now = Instant::now();
        let mut i = Instants::default();
        let p = Progress::default();
        assert_eq!(step_reached(&i, &p), Step::Connect);
        i.dns_start = Some(now);
        assert_eq!(step_reached(&i, &p), Step::Dns);
        i.dns_end = Some(now);
        assert_eq!(step_reached(&i, &p), Step::Connect);
        i.tls_start = Some(now);
        assert_eq!(step_reached(&i, &p), Step::Tls);
        i.connect_ok = Some(true);
        assert_eq!(step_reached(&i, &p), Step::FirstByte);
        let p = Progress {
            headers_at: Some(now),
            ..Progress::default()
        };
        assert_eq!(step_reached(&i, &p), Step::Body);
    }

    #[test]
    fn steps_split_connect_and_tls_at_the_tls_start() {
        let t0 = Instant::now();
        let at = |ms: u64| Some(t0 + Duration::from_millis(ms));
        let i = Instants {
            dns_start: at(1),
            dns_end: at(3),
            connect_start: at(0),
            tls_start: at(10),
            connect_end: at(30),
            connect_ok: Some(true),
            dns_error: None,
        };
        let p = Progress {
            headers_at: at(50),
            body_end: at(60),
            ..Progress::default()
        };
        let s = steps(t0, &i, &p);
        assert_eq!(s.dns, Some(2.0));
        assert_eq!(s.connect, Some(7.0));
        assert_eq!(s.tls, Some(20.0));
        assert_eq!(s.first_byte, Some(50.0));
        assert_eq!(s.total, Some(60.0));
    }

    #[test]
    fn a_failed_connect_reports_no_connect_time() {
        let t0 = Instant::now();
        let i = Instants {
            connect_start: Some(t0),
            connect_end: Some(t0 + Duration::from_millis(1)),
            connect_ok: Some(false),
            ..Instants::default()
        };
        let s = steps(t0, &i, &Progress::default());
        assert_eq!(s.connect, None);
        assert_eq!(s.tls, None);
    }

    #[test]
    fn the_deepest_cause_is_found_through_io_errors() {
        let inner = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        let outer = io::Error::other(inner);
        assert!(find::<rustls::Error>(&outer).is_some());
        assert_eq!(
            deepest_io(&outer).map(io::Error::kind),
            Some(io::ErrorKind::InvalidData)
        );
    }
}
