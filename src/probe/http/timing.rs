//! The three hooks that let one reqwest request be timed by step, and the marks they leave.
//!
//! Every hook records the instant of its first call only: a check builds a fresh client whose
//! single request opens a single connection, so "first" is "this request's".

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rustls::NamedGroup;
use rustls::client::{ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls::pki_types::ServerName;
use tower_layer::Layer;
use tower_service::Service;

use crate::probe::conn::net;

/// Instants observed while one request runs.
#[derive(Debug, Default, Clone)]
pub(super) struct Instants {
    pub(crate) dns_start: Option<Instant>,
    pub(crate) dns_end: Option<Instant>,
    /// The resolver's own error; set only when resolution failed.
    pub(crate) dns_error: Option<String>,
    pub(crate) connect_start: Option<Instant>,
    pub(crate) tls_start: Option<Instant>,
    pub(crate) connect_end: Option<Instant>,
    pub(crate) connect_ok: Option<bool>,
}

/// Shared between the hooks (which run inside reqwest's connector) and the check.
#[derive(Debug, Default)]
pub(super) struct Marks(Mutex<Instants>);

impl Marks {
    pub(super) fn shared() -> Arc<Marks> {
        Arc::new(Marks::default())
    }

    /// A copy of what has been observed so far.
    pub(super) fn snapshot(&self) -> Instants {
        self.0.lock().map(|g| g.clone()).unwrap_or_default()
    }

    fn edit(&self, f: impl FnOnce(&mut Instants)) {
        // A poisoned lock only means another hook panicked; the marks are still plain data.
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g);
    }

    fn first(slot: &mut Option<Instant>) {
        slot.get_or_insert_with(Instant::now);
    }
}

/// reqwest's DNS hook: the system resolver (see `net::lookup`), timed.
pub(super) struct TimedResolver(pub Arc<Marks>);

impl Resolve for TimedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let marks = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            marks.edit(|m| Marks::first(&mut m.dns_start));
            let result = net::lookup(&host, 0).await;
            marks.edit(|m| {
                Marks::first(&mut m.dns_end);
                if let Err(e) = &result {
                    m.dns_error.get_or_insert_with(|| e.to_string());
                }
            });
            let addrs: Addrs = Box::new(result?.into_iter());
            Ok(addrs)
        })
    }
}

/// A tower layer around reqwest's whole connector (resolution, TCP, TLS): its start and end
/// bound the connection setup of the request.
#[derive(Clone)]
pub(super) struct TimingLayer(pub Arc<Marks>);

impl<S> Layer<S> for TimingLayer {
    type Service = Timed<S>;

    fn layer(&self, inner: S) -> Timed<S> {
        Timed {
            inner,
            marks: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub(super) struct Timed<S> {
    inner: S,
    marks: Arc<Marks>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, R> Service<R> for Timed<S>
where
    S: Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.marks.edit(|m| Marks::first(&mut m.connect_start));
        let fut = self.inner.call(req);
        let marks = self.marks.clone();
        Box::pin(async move {
            let r = fut.await;
            marks.edit(|m| {
                Marks::first(&mut m.connect_end);
                m.connect_ok.get_or_insert(r.is_ok());
            });
            r
        })
    }
}

/// A TLS session store that stores nothing and notes when rustls first asks it for something.
///
/// Why this marks the start of TLS: rustls consults the store (`kx_hint`, then
/// `take_tls13_ticket` / `tls12_session`) while it builds the ClientHello, inside
/// `ClientConnection::new`, which the TLS connector calls as soon as the TCP connection is up
/// and before anything is sent. Storing nothing also means no session resumption, so every
/// check pays (and shows) a full handshake, as a new client of the service would.
pub(super) struct TlsStart(pub Arc<Marks>);

impl fmt::Debug for TlsStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsStart")
    }
}

impl TlsStart {
    fn mark(&self) {
        self.0.edit(|m| Marks::first(&mut m.tls_start));
    }
}

impl ClientSessionStore for TlsStart {
    fn set_kx_hint(&self, _: ServerName<'static>, _: NamedGroup) {}

    fn kx_hint(&self, _: &ServerName<'_>) -> Option<NamedGroup> {
        self.mark();
        None
    }

    fn set_tls12_session(&self, _: ServerName<'static>, _: Tls12ClientSessionValue) {}

    fn tls12_session(&self, _: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.mark();
        None
    }

    fn remove_tls12_session(&self, _: &ServerName<'static>) {}

    fn insert_tls13_ticket(&self, _: ServerName<'static>, _: Tls13ClientSessionValue) {}

    fn take_tls13_ticket(&self, _: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        self.mark();
        None
    }
}

/// Milliseconds between two marks, when both exist.
pub(super) fn span_ms(from: Option<Instant>, to: Option<Instant>) -> Option<f64> {
    match (from, to) {
        (Some(a), Some(b)) => Some(b.saturating_duration_since(a).as_secs_f64() * 1e3),
        _ => None,
    }
}
