//! One Postgres connection, timed step by step on the same connection: DNS, TCP (or unix
//! socket) connect, TLS, startup + authentication, `SELECT 1`. We open and time the stream
//! ourselves and hand it to tokio-postgres's `connect_raw`, because no Postgres client library
//! exposes these steps (sqlx has no connect timeout at all). Nothing here retries: a failure is
//! reported as it happened, and the socket is dropped the moment the deadline passes.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};
use tokio_postgres::NoTls;

use super::classify::{self, failure, io_failure};
use crate::config::{DbHost, DbTarget};
use crate::event::{DbSteps, ErrorClass, Failure, Step};

/// An open stream of any of the kinds a connection can take.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A boxed stream; `connect_raw` needs one concrete type whatever the transport.
pub struct Stream(Box<dyn Io>);

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

/// Everything an attempt needs besides the target.
#[derive(Clone)]
pub struct ConnectParams {
    pub timeout: Duration,
    pub statement_timeout: Duration,
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl ConnectParams {
    pub fn new(
        target: &DbTarget,
        timeout: Duration,
        statement_timeout: Duration,
    ) -> Result<Self, String> {
        let tls = if target.sslmode.tries_tls() {
            Some(super::tls::postgres_config(
                target.sslmode,
                target.sslrootcert.as_deref(),
            )?)
        } else {
            None
        };
        Ok(Self {
            timeout,
            statement_timeout,
            tls,
        })
    }
}

/// An open, authenticated session. Close it with `close` so the server sees a Terminate.
pub struct Session {
    pub client: tokio_postgres::Client,
    conn: JoinHandle<()>,
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
}

/// The result of one attempt: the steps that ran, and the session or why there is none.
pub struct Attempt {
    pub steps: DbSteps,
    pub total_ms: f64,
    pub result: Result<Session, Failure>,
}

/// Milliseconds since `since`, to the microsecond (finer digits are noise, not precision).
pub fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e6).round() / 1000.0
}

/// Connects, authenticates and runs `SELECT 1`, all within `p.timeout`.
pub async fn attempt(target: &DbTarget, p: &ConnectParams) -> Attempt {
    let start = Instant::now();
    let deadline = start + p.timeout;
    let mut steps = DbSteps::default();
    let result = run_steps(target, p, deadline, &mut steps).await;
    Attempt {
        steps,
        total_ms: ms(start),
        result,
    }
}

async fn run_steps(
    target: &DbTarget,
    p: &ConnectParams,
    deadline: Instant,
    steps: &mut DbSteps,
) -> Result<Session, Failure> {
    let stream = open(target, deadline, p.timeout, steps).await?;
    let t = Instant::now();
    let stream = match (&target.host, &p.tls) {
        (DbHost::Tcp(host), Some(tls)) => {
            let s = negotiate_tls(stream, host, tls.clone(), target, deadline, p.timeout).await;
            steps.tls = Some(ms(t));
            s?
        }
        _ => Stream(Box::new(stream)),
    };
    let session = startup(target, p, stream, deadline).await;
    steps.handshake = Some(ms(t));
    let session = session?;
    let q = Instant::now();
    let r = timeout_at(deadline, session.client.simple_query("SELECT 1")).await;
    steps.query = Some(ms(q));
    match r {
        Ok(Ok(_)) => Ok(session),
        Ok(Err(e)) => {
            session.close().await;
            Err(pg_failure(Step::Query, &e))
        }
        Err(_) => {
            session.conn.abort();
            Err(classify::timeout(Step::Query, p.timeout))
        }
    }
}

/// DNS and TCP (or the unix socket), each timed.
async fn open(
    target: &DbTarget,
    deadline: Instant,
    limit: Duration,
    steps: &mut DbSteps,
) -> Result<Stream, Failure> {
    match &target.host {
        DbHost::Unix(dir) => {
            let path = DbTarget::socket_path(dir, target.port);
            let t = Instant::now();
            let r = timeout_at(deadline, UnixStream::connect(&path)).await;
            steps.tcp = Some(ms(t));
            match r {
                Ok(Ok(s)) => Ok(Stream(Box::new(s))),
                Ok(Err(e)) => Err(failure(
                    classify::io_class(&e),
                    Step::Tcp,
                    None,
                    format!("{}: {e}", path.display()),
                )),
                Err(_) => Err(classify::timeout(Step::Tcp, limit)),
            }
        }
        DbHost::Tcp(host) => {
            let addrs = resolve(host, target.port, deadline, limit, steps).await?;
            let t = Instant::now();
            let r = connect_any(&addrs, deadline, limit).await;
            steps.tcp = Some(ms(t));
            r.map(|s| Stream(Box::new(s)))
        }
    }
}

async fn resolve(
    host: &str,
    port: u16,
    deadline: Instant,
    limit: Duration,
    steps: &mut DbSteps,
) -> Result<Vec<SocketAddr>, Failure> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let t = Instant::now();
    // The resolver every probe shares: `.invalid` is answered here, never sent off the machine.
    let r = timeout_at(deadline, super::net::lookup(host, port)).await;
    steps.dns = Some(ms(t));
    match r {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(failure(
            ErrorClass::Dns,
            Step::Dns,
            None,
            format!("cannot resolve {host}: {e}"),
        )),
        Err(_) => Err(classify::timeout(Step::Dns, limit)),
    }
}

/// Tries each address in turn, as libpq does, within the one deadline.
async fn connect_any(
    addrs: &[SocketAddr],
    deadline: Instant,
    limit: Duration,
) -> Result<TcpStream, Failure> {
    let mut last = None;
    for addr in addrs {
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => {
                last = Some(failure(
                    classify::io_class(&e),
                    Step::Tcp,
                    None,
                    format!("{addr}: {e}"),
                ))
            }
            Err(_) => return Err(classify::timeout(Step::Tcp, limit)),
        }
    }
    Err(last.unwrap_or_else(|| {
        failure(
            ErrorClass::Other,
            Step::Tcp,
            None,
            "no address to connect to",
        )
    }))
}

/// The 8-byte SSLRequest: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

async fn negotiate_tls(
    mut s: Stream,
    host: &str,
    tls: Arc<rustls::ClientConfig>,
    target: &DbTarget,
    deadline: Instant,
    limit: Duration,
) -> Result<Stream, Failure> {
    let answer = timeout_at(deadline, async {
        s.write_all(&SSL_REQUEST).await?;
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.map(|_| b[0])
    })
    .await;
    let answer = match answer {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return Err(io_failure(Step::Tls, &e)),
        Err(_) => return Err(classify::timeout(Step::Tls, limit)),
    };
    match answer {
        b'S' => {}
        b'N' if target.sslmode.requires_tls() => {
            return Err(failure(
                ErrorClass::Tls,
                Step::Tls,
                None,
                format!(
                    "the server does not support TLS, but sslmode={} requires it",
                    target.sslmode.as_str()
                ),
            ));
        }
        b'N' => return Ok(s),
        other => {
            return Err(failure(
                ErrorClass::Protocol,
                Step::Tls,
                None,
                format!("unexpected answer {other:#04x} to SSLRequest"),
            ));
        }
    }
    let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
        failure(
            ErrorClass::Tls,
            Step::Tls,
            None,
            format!("invalid TLS server name {host}: {e}"),
        )
    })?;
    let connector = tokio_rustls::TlsConnector::from(tls);
    match timeout_at(deadline, connector.connect(name, s)).await {
        Ok(Ok(tls)) => Ok(Stream(Box::new(tls))),
        Ok(Err(e)) => Err(failure(
            ErrorClass::Tls,
            Step::Tls,
            None,
            format!("TLS handshake failed: {e}"),
        )),
        Err(_) => Err(classify::timeout(Step::Tls, limit)),
    }
}

async fn startup(
    target: &DbTarget,
    p: &ConnectParams,
    stream: Stream,
    deadline: Instant,
) -> Result<Session, Failure> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.user(&target.user)
        .dbname(&target.dbname)
        .application_name(&target.application_name)
        .options(format!(
            "-c statement_timeout={}",
            p.statement_timeout.as_millis()
        ))
        .ssl_mode(tokio_postgres::config::SslMode::Disable);
    if let Some(pw) = &target.password {
        cfg.password(pw.expose());
    }
    match timeout_at(deadline, cfg.connect_raw(stream, NoTls)).await {
        Ok(Ok((client, connection))) => {
            let conn = tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(Session { client, conn })
        }
        Ok(Err(e)) => Err(pg_failure(Step::Handshake, &e)),
        Err(_) => Err(classify::timeout(Step::Handshake, p.timeout)),
    }
}

/// Classifies a tokio-postgres error: SQLSTATE first, then the I/O error underneath.
pub fn pg_failure(step: Step, e: &tokio_postgres::Error) -> Failure {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return failure(
            classify::sqlstate_class(code, db.message()),
            step,
            Some(code.to_string()),
            db.message(),
        );
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return failure(classify::io_class(io), step, None, format!("{e}: {io}"));
        }
        source = s.source();
    }
    let text = e.to_string();
    let class = if e.is_closed() || text.contains("unexpected EOF") || text.contains("closed") {
        ErrorClass::Protocol
    } else if text.contains("password") || text.contains("authentication") {
        ErrorClass::Auth
    } else {
        ErrorClass::Other
    };
    failure(class, step, None, text)
}
