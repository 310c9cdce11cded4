//! Startup and authentication by tokio-postgres over a stream we opened (and, when TLS is on,
//! already encrypted): tokio-postgres is told the TLS is "direct", so it does not send its own
//! SSLRequest, and it is handed the server certificate's channel-binding hash, so SCRAM-PLUS
//! and `channel_binding=require` work as with libpq. Then libpq's `target_session_attrs` check.

use std::future::{Ready, ready};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::JoinHandle;
use tokio::time::timeout_at;
use tokio_postgres::config::{SslMode as PgSslMode, SslNegotiation};
use tokio_postgres::tls::{ChannelBinding as PgBinding, TlsConnect, TlsStream};

use super::classify::{self, failure};
use super::connect::Deadline;
use super::wire::{NotPostgres, Seen, Stream, Watched};
use crate::config::{ChannelBinding, DbTarget, TargetSessionAttrs};
use crate::event::{ErrorClass, Failure, Step};

/// An open, authenticated session. Close it with `close` so the server sees a Terminate.
pub struct Session {
    pub client: tokio_postgres::Client,
    pub(crate) conn: JoinHandle<()>,
}

impl Session {
    /// Sends Terminate and waits (briefly) for the connection to finish.
    pub async fn close(self) {
        drop(self.client);
        let mut conn = self.conn;
        if tokio::time::timeout(Duration::from_secs(1), &mut conn)
            .await
            .is_err()
        {
            conn.abort();
        }
    }

    pub(crate) fn abort(self) {
        self.conn.abort();
    }
}

/// The stream tokio-postgres sees: ours, with the channel binding it asks a TLS stream for.
struct Bound {
    inner: Watched<Stream>,
    binding: Option<Vec<u8>>,
}

impl AsyncRead for Bound {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Bound {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl TlsStream for Bound {
    fn channel_binding(&self) -> PgBinding {
        match &self.binding {
            Some(b) => PgBinding::tls_server_end_point(b.clone()),
            None => PgBinding::none(),
        }
    }
}

/// The "TLS connector" that finds the work already done.
struct AlreadyNegotiated(Option<Vec<u8>>);

impl TlsConnect<Watched<Stream>> for AlreadyNegotiated {
    type Stream = Bound;
    type Error = io::Error;
    type Future = Ready<io::Result<Bound>>;

    fn connect(self, inner: Watched<Stream>) -> Self::Future {
        ready(Ok(Bound {
            inner,
            binding: self.0,
        }))
    }
}

/// How a startup went wrong, with what libpq's retry rules need to know.
pub(crate) struct StartupError {
    pub failure: Failure,
    /// The server sent an error before authentication succeeded (libpq's sslmode fallbacks
    /// retry exactly these).
    pub(crate) server_error_before_auth: bool,
}

pub(crate) struct Opened {
    pub session: Session,
    /// ParameterStatus values libpq's target_session_attrs reads (PostgreSQL 14+).
    hot_standby: Option<bool>,
    read_only: Option<bool>,
}

/// Startup and authentication on `stream` (TLS already negotiated when `tls`).
pub(crate) async fn run(
    t: &DbTarget,
    password: Option<&str>,
    statement_timeout: Duration,
    stream: Stream,
    tls: Option<Option<Vec<u8>>>,
    dl: Deadline,
) -> Result<Opened, StartupError> {
    let mut cfg = tokio_postgres::Config::new();
    let mut options = format!("-c statement_timeout={}", statement_timeout.as_millis());
    if let Some(o) = &t.options {
        options.push(' ');
        options.push_str(o);
    }
    cfg.user(&t.user)
        .dbname(&t.dbname)
        .application_name(&t.application_name)
        .options(options)
        .ssl_mode(PgSslMode::Require)
        .ssl_negotiation(SslNegotiation::Direct)
        .channel_binding(match t.channel_binding {
            ChannelBinding::Disable => tokio_postgres::config::ChannelBinding::Disable,
            ChannelBinding::Prefer => tokio_postgres::config::ChannelBinding::Prefer,
            ChannelBinding::Require => tokio_postgres::config::ChannelBinding::Require,
        });
    if let Some(pw) = password {
        cfg.password(pw);
    }
    let (watched, seen) = Watched::new(stream);
    let is_tls = tls.is_some();
    let connector = AlreadyNegotiated(tls.flatten());
    match timeout_at(dl.at, cfg.connect_raw(watched, connector)).await {
        Ok(Ok((client, connection))) => {
            let flag = |name: &str| connection.parameter(name).map(|v| v == "on");
            let (hot_standby, read_only) = (
                flag("in_hot_standby"),
                flag("default_transaction_read_only"),
            );
            let conn = tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(Opened {
                session: Session { client, conn },
                hot_standby,
                read_only,
            })
        }
        Ok(Err(e)) => Err(startup_error(t, &e, &seen, is_tls, password.is_some())),
        Err(_) => Err(StartupError {
            failure: dl.timeout(Step::Handshake),
            server_error_before_auth: false,
        }),
    }
}

fn startup_error(
    t: &DbTarget,
    e: &tokio_postgres::Error,
    seen: &Arc<Seen>,
    tls: bool,
    have_password: bool,
) -> StartupError {
    let text = full_text(e);
    let failure = if text.contains("password missing") && !have_password {
        let mut m = "fe_sendauth: no password supplied".to_string();
        if let Some(note) = &t.password_note {
            m.push_str(&format!(" ({note})"));
        }
        failure(ErrorClass::Auth, Step::Handshake, None, m)
    } else if text.contains("did not use channel binding") {
        let m = if tls {
            "channel binding required, but server authenticated client without channel binding"
        } else {
            "channel binding required, but SSL not in use"
        };
        failure(ErrorClass::Auth, Step::Handshake, None, m)
    } else {
        pg_failure(Step::Handshake, e)
    };
    StartupError {
        server_error_before_auth: e.as_db_error().is_some() && !seen.auth_ok(),
        failure,
    }
}

/// The error and every cause below it (tokio-postgres keeps the interesting part, such as
/// "password missing", in the cause).
fn full_text(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Classifies a tokio-postgres error: SQLSTATE first (DETAIL kept), then the I/O error below.
pub fn pg_failure(step: Step, e: &tokio_postgres::Error) -> Failure {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let message = match db.detail() {
            Some(d) => format!("{} — DETAIL: {d}", db.message()),
            None => db.message().to_string(),
        };
        return failure(
            classify::sqlstate_class(code, db.message(), db.detail()),
            step,
            Some(code.to_string()),
            message,
        );
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            if let Some(np) = io.get_ref().and_then(|i| i.downcast_ref::<NotPostgres>()) {
                return failure(ErrorClass::Protocol, step, None, &np.0);
            }
            return failure(classify::io_class(io), step, None, format!("{e}: {io}"));
        }
        source = s.source();
    }
    let text = full_text(e);
    let class = if e.is_closed() || text.contains("unexpected EOF") || text.contains("closed") {
        ErrorClass::Protocol
    } else if text.contains("password") || text.contains("authentication") {
        ErrorClass::Auth
    } else {
        ErrorClass::Other
    };
    let text = if e.is_closed() {
        "server closed the connection unexpectedly".to_string()
    } else {
        text
    };
    failure(class, step, None, text)
}

/// libpq's target_session_attrs check on an open session: `Ok`, or its words for the mismatch
/// (the caller moves on to the next host). Servers before 14 report no `in_hot_standby`; then
/// it asks, as libpq does.
pub(crate) async fn check_attrs(
    o: &Opened,
    want: TargetSessionAttrs,
    dl: Deadline,
) -> Result<(), Failure> {
    use TargetSessionAttrs as T;
    let ask = |sql: &'static str| async move {
        let rows = timeout_at(dl.at, o.session.client.simple_query(sql))
            .await
            .map_err(|_| dl.timeout(Step::Handshake))?
            .map_err(|e| pg_failure(Step::Handshake, &e))?;
        Ok::<bool, Failure>(rows.iter().any(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                matches!(r.get(0), Some("on") | Some("t"))
            }
            _ => false,
        }))
    };
    let (ok, why) = match want {
        T::Any => return Ok(()),
        T::ReadWrite | T::ReadOnly => {
            let ro = match (o.read_only, o.hot_standby) {
                (Some(r), Some(h)) => r || h,
                _ => ask("SHOW transaction_read_only").await?,
            };
            if want == T::ReadWrite {
                (!ro, "session is read-only")
            } else {
                (ro, "session is not read-only")
            }
        }
        T::Primary | T::Standby | T::PreferStandby => {
            let hs = match o.hot_standby {
                Some(h) => h,
                None => ask("SELECT pg_catalog.pg_is_in_recovery()").await?,
            };
            if want == T::Primary {
                (!hs, "server is in hot standby mode")
            } else {
                (hs, "server is not in hot standby mode")
            }
        }
    };
    if ok {
        Ok(())
    } else {
        Err(failure(ErrorClass::Other, Step::Handshake, None, why))
    }
}
