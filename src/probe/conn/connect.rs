//! One PostgreSQL connection attempt, timed step by step — DNS, TCP (or the unix socket), TLS,
//! startup + authentication, `SELECT 1` — and made the way libpq makes it:
//! - hosts (`host=a,b port=1,2`) and each name's addresses are tried in order; libpq moves on
//!   only when a connection cannot be opened (name, TCP, `connect_timeout`) or the server is of
//!   the wrong kind (`target_session_attrs`), never after the server has refused the login;
//! - `sslmode=prefer` retries without TLS when the TLS handshake fails or the server refuses
//!   before authentication over TLS; `allow` retries with TLS likewise; `require` and up fail;
//! - `connect_timeout` bounds each address; connscope's own connection timeout bounds the
//!   whole attempt, and the socket is dropped the moment it passes.
//!
//! We open and time the stream ourselves and hand it to tokio-postgres (`connect_raw`),
//! because no client library exposes these steps. Nothing here retries beyond what libpq does.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};
use tokio::time::{Instant, timeout_at};

use super::classify::{self, failure};
use super::startup::{self, StartupError};
pub use super::startup::{Session, pg_failure};
use super::tls;
use super::wire::{SslAnswer, Stream};
use crate::config::target::HostSpec;
use crate::config::{DbHost, DbTarget, SslMode, TargetSessionAttrs};
use crate::event::{ConnTry, DbSteps, ErrorClass, Failure, Step};

/// Everything an attempt needs besides the target.
#[derive(Clone)]
pub struct ConnectParams {
    pub timeout: Duration,
    pub statement_timeout: Duration,
}

impl ConnectParams {
    /// TLS is set up per connection (see `tls`), so nothing here can fail any more; the
    /// `Result` stays for callers that check it.
    pub fn new(
        _target: &DbTarget,
        timeout: Duration,
        statement_timeout: Duration,
    ) -> Result<Self, String> {
        Ok(Self {
            timeout,
            statement_timeout,
        })
    }
}

/// The result of one attempt: the steps of its last connection, and the session or why there
/// is none. `tries` lists every connection opened when there was more than one.
pub struct Attempt {
    pub steps: DbSteps,
    pub total_ms: f64,
    pub result: Result<Session, Failure>,
    pub tries: Vec<ConnTry>,
}

/// Milliseconds since `since`, to the microsecond (finer digits are noise, not precision).
pub fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e6).round() / 1000.0
}

/// A deadline and how to word its expiry: connscope's attempt timeout, or libpq's
/// `connect_timeout` for one address (after which the next address is tried).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub at: Instant,
    pub limit: Duration,
    pub(crate) per_address: bool,
}

impl Deadline {
    pub(crate) fn timeout(&self, step: Step) -> Failure {
        let mut f = classify::timeout(step, self.limit);
        if self.per_address {
            f.message.push_str(" (connect_timeout)");
        }
        f
    }
}

/// Connects, authenticates and runs `SELECT 1`, all within `p.timeout`.
pub async fn attempt(target: &DbTarget, p: &ConnectParams) -> Attempt {
    let start = Instant::now();
    let mut run = Run {
        t: target,
        p,
        overall: Deadline {
            at: start + p.timeout,
            limit: p.timeout,
            per_address: false,
        },
        steps: DbSteps::default(),
        tries: Vec::new(),
    };
    let result = match run.hosts().await {
        Ok(session) => run.select_one(session).await,
        Err(f) => Err(f),
    };
    let tries = if run.tries.len() > 1 {
        run.tries
    } else {
        Vec::new()
    };
    Attempt {
        steps: run.steps,
        total_ms: ms(start),
        result,
        tries,
    }
}

/// Where one host's connections end: connected, move on (libpq's "try the next host"), or
/// stop trying altogether.
enum HostEnd {
    Connected(Session),
    Next(Failure),
    Stop(Failure),
}

/// How one connection failed, as libpq's fallback rules see it.
enum ConnEnd {
    /// It could not be opened (refused, unreachable): the next address.
    Unopened(Failure),
    /// A deadline passed; `per_address` ones move on to the next address.
    Timeout(Failure, Deadline),
    /// TLS could not be set up after the server agreed to it (prefer retries without).
    Tls(Failure),
    /// The server refused before authentication succeeded (prefer / allow retry once).
    RefusedBeforeAuth(Failure),
    /// Not the kind of server target_session_attrs wants: the next host.
    WrongKind(Failure),
    /// Anything else ends the attempt.
    Fatal(Failure),
}

enum Addr {
    Ip(IpAddr),
    Unix(PathBuf),
}

struct Run<'a> {
    t: &'a DbTarget,
    p: &'a ConnectParams,
    overall: Deadline,
    steps: DbSteps,
    tries: Vec<ConnTry>,
}

impl Run<'_> {
    async fn hosts(&mut self) -> Result<Session, Failure> {
        let passes: &[TargetSessionAttrs] = match self.t.target_session_attrs {
            TargetSessionAttrs::PreferStandby => {
                &[TargetSessionAttrs::Standby, TargetSessionAttrs::Any]
            }
            _ => std::slice::from_ref(&self.t.target_session_attrs),
        };
        let mut last = None;
        for want in passes {
            for host in &self.t.hosts {
                match self.host(host, *want).await {
                    HostEnd::Connected(s) => return Ok(s),
                    HostEnd::Next(f) => last = Some(f),
                    HostEnd::Stop(f) => return Err(self.summary(f)),
                }
            }
        }
        let last = last.unwrap_or_else(|| {
            failure(ErrorClass::Other, Step::Tcp, None, "no host to connect to")
        });
        Err(self.summary(last))
    }

    /// The final failure: the last one's class and step, every connection's reason in order
    /// (as libpq lists them) when there was more than one.
    fn summary(&self, mut last: Failure) -> Failure {
        let failed: Vec<String> = self
            .tries
            .iter()
            .filter_map(|t| {
                t.error
                    .as_ref()
                    .map(|e| format!("{}: {}", t.server, e.message))
            })
            .collect();
        if failed.len() > 1 {
            last.message = failed.join("; ");
        }
        last
    }

    async fn host(&mut self, host: &HostSpec, want: TargetSessionAttrs) -> HostEnd {
        let addrs = match self.addresses(host).await {
            Ok(a) => a,
            Err(end) => return end,
        };
        let mut last = None;
        for addr in addrs {
            let dl = self.deadline();
            match self.address(host, &addr, want, dl).await {
                Ok(s) => return HostEnd::Connected(s),
                Err(ConnEnd::Unopened(f)) => last = Some(f),
                Err(ConnEnd::Timeout(f, d)) if d.per_address => last = Some(f),
                Err(ConnEnd::WrongKind(f)) => return HostEnd::Next(f),
                Err(
                    ConnEnd::Timeout(f, _)
                    | ConnEnd::Tls(f)
                    | ConnEnd::RefusedBeforeAuth(f)
                    | ConnEnd::Fatal(f),
                ) => return HostEnd::Stop(f),
            }
        }
        match last {
            Some(f) => HostEnd::Next(f),
            None => HostEnd::Next(failure(ErrorClass::Dns, Step::Dns, None, "no address")),
        }
    }

    /// This address's deadline: `connect_timeout` from now, within the attempt's.
    fn deadline(&self) -> Deadline {
        match self.t.connect_timeout {
            Some(ct) if Instant::now() + ct < self.overall.at => Deadline {
                at: Instant::now() + ct,
                limit: ct,
                per_address: true,
            },
            _ => self.overall,
        }
    }

    /// The addresses to try for `host`: the socket, `hostaddr`, an IP literal, or DNS.
    async fn addresses(&mut self, host: &HostSpec) -> Result<Vec<Addr>, HostEnd> {
        let name = match (&host.host, host.hostaddr) {
            (DbHost::Unix(dir), _) => {
                return Ok(vec![Addr::Unix(DbTarget::socket_path(dir, host.port))]);
            }
            (_, Some(ip)) => return Ok(vec![Addr::Ip(ip)]),
            (DbHost::Tcp(h), None) => h,
        };
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![Addr::Ip(ip)]);
        }
        let t = Instant::now();
        // The resolver every probe shares: `.invalid` is answered here, never sent off the machine.
        let r = timeout_at(self.overall.at, super::net::lookup(name, host.port)).await;
        self.steps.dns = Some(ms(t));
        match r {
            Ok(Ok(addrs)) => Ok(addrs.into_iter().map(|a| Addr::Ip(a.ip())).collect()),
            Ok(Err(e)) => {
                let f = failure(
                    ErrorClass::Dns,
                    Step::Dns,
                    None,
                    format!("could not translate host name \"{name}\" to address: {e}"),
                );
                self.record(host.label(), false, t, Some(&f));
                Err(HostEnd::Next(f))
            }
            Err(_) => Err(HostEnd::Stop(self.overall.timeout(Step::Dns))),
        }
    }

    /// One address, with libpq's sslmode fallbacks (at most one retry).
    async fn address(
        &mut self,
        host: &HostSpec,
        addr: &Addr,
        want: TargetSessionAttrs,
        dl: Deadline,
    ) -> Result<Session, ConnEnd> {
        let mode = self.t.sslmode;
        let mut use_tls = mode.tries_tls() && matches!(addr, Addr::Ip(_));
        let mut retried = false;
        loop {
            let t = Instant::now();
            let r = self.connection(host, addr, use_tls, want, dl).await;
            let label = match (addr, &host.host) {
                (Addr::Ip(ip), DbHost::Tcp(n)) if n != &ip.to_string() && !n.is_empty() => {
                    format!("{} ({ip})", host.label())
                }
                _ => host.label(),
            };
            self.record(label, use_tls, t, r.as_ref().err().map(end_failure));
            match r {
                Err(ConnEnd::Tls(_)) if mode == SslMode::Prefer && !retried => use_tls = false,
                Err(ConnEnd::RefusedBeforeAuth(_))
                    if !retried
                        && ((mode == SslMode::Prefer && use_tls)
                            || (mode == SslMode::Allow
                                && !use_tls
                                && matches!(addr, Addr::Ip(_)))) =>
                {
                    use_tls = !use_tls;
                }
                other => return other,
            }
            retried = true;
        }
    }

    fn record(&mut self, server: String, tls: bool, since: Instant, error: Option<&Failure>) {
        self.tries.push(ConnTry {
            server,
            tls,
            ok: error.is_none(),
            ms: ms(since),
            error: error.cloned(),
        });
    }

    /// One TCP (or unix socket) connection: open, TLS if asked, startup, kind check.
    async fn connection(
        &mut self,
        host: &HostSpec,
        addr: &Addr,
        use_tls: bool,
        want: TargetSessionAttrs,
        dl: Deadline,
    ) -> Result<Session, ConnEnd> {
        self.steps = DbSteps {
            dns: self.steps.dns,
            ..DbSteps::default()
        };
        let t = Instant::now();
        let opened = open(addr, host.port, self.t, dl).await;
        self.steps.tcp = Some(ms(t));
        let stream = opened?;
        let t = Instant::now();
        let (stream, tls) = match addr {
            Addr::Ip(peer) if use_tls => {
                let r = negotiate(self.t, stream, host, *peer, dl).await;
                self.steps.tls = Some(ms(t));
                r?
            }
            _ => (stream, None),
        };
        let password = host.password.as_ref().map(|p| p.expose());
        let started =
            startup::run(self.t, password, self.p.statement_timeout, stream, tls, dl).await;
        let opened = match started {
            Ok(o) => o,
            Err(e) => {
                self.steps.handshake = Some(ms(t));
                return Err(startup_end(e, dl));
            }
        };
        let kind = startup::check_attrs(&opened, want, dl).await;
        self.steps.handshake = Some(ms(t));
        match kind {
            Ok(()) => Ok(opened.session),
            Err(f) => {
                opened.session.close().await;
                Err(if f.class == ErrorClass::Timeout {
                    ConnEnd::Timeout(f, dl)
                } else {
                    ConnEnd::WrongKind(f)
                })
            }
        }
    }

    async fn select_one(&mut self, session: Session) -> Result<Session, Failure> {
        let q = Instant::now();
        let r = timeout_at(self.overall.at, session.client.simple_query("SELECT 1")).await;
        self.steps.query = Some(ms(q));
        match r {
            Ok(Ok(_)) => Ok(session),
            Ok(Err(e)) => {
                session.close().await;
                Err(pg_failure(Step::Query, &e))
            }
            Err(_) => {
                session.abort();
                Err(self.overall.timeout(Step::Query))
            }
        }
    }
}

fn startup_end(e: StartupError, dl: Deadline) -> ConnEnd {
    if e.failure.class == ErrorClass::Timeout {
        ConnEnd::Timeout(e.failure, dl)
    } else if e.server_error_before_auth {
        ConnEnd::RefusedBeforeAuth(e.failure)
    } else {
        ConnEnd::Fatal(e.failure)
    }
}

/// Opens the TCP connection (with the keepalive settings) or the unix socket.
async fn open(addr: &Addr, port: u16, t: &DbTarget, dl: Deadline) -> Result<Stream, ConnEnd> {
    match addr {
        Addr::Unix(path) => match timeout_at(dl.at, UnixStream::connect(path)).await {
            Ok(Ok(s)) => Ok(Stream(Box::new(s))),
            Ok(Err(e)) => Err(ConnEnd::Unopened(socket_failure(path, &e))),
            Err(_) => Err(ConnEnd::Timeout(dl.timeout(Step::Tcp), dl)),
        },
        Addr::Ip(ip) => {
            let sa = SocketAddr::new(*ip, port);
            match timeout_at(dl.at, TcpStream::connect(sa)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    super::net::keepalives(&s, &t.keepalives);
                    Ok(Stream(Box::new(s)))
                }
                Ok(Err(e)) => Err(ConnEnd::Unopened(failure(
                    classify::io_class(&e),
                    Step::Tcp,
                    None,
                    format!("{sa}: {e}"),
                ))),
                Err(_) => Err(ConnEnd::Timeout(dl.timeout(Step::Tcp), dl)),
            }
        }
    }
}

/// A unix socket that is not there says so in its own words, not as a refused TCP port.
fn socket_failure(path: &std::path::Path, e: &std::io::Error) -> Failure {
    let dir = path.parent().unwrap_or(path);
    let message = if e.kind() != std::io::ErrorKind::NotFound {
        format!(
            "connection to server on socket \"{}\" failed: {e}",
            path.display()
        )
    } else if !dir.is_dir() {
        format!(
            "no socket directory {}: nothing is mounted or listening there (for Cloud SQL, is \
             the Auth Proxy / connector running?)",
            dir.display()
        )
    } else {
        format!(
            "no server socket \"{}\": is the server running locally and accepting connections \
             on that socket?",
            path.display()
        )
    };
    failure(classify::io_class(e), Step::Tcp, None, message)
}

/// SSLRequest and, if the server agrees, the TLS handshake with a fresh client configuration.
/// Returns the stream to start up on and, when TLS is on, its channel-binding hash.
async fn negotiate(
    t: &DbTarget,
    mut stream: Stream,
    host: &HostSpec,
    peer: IpAddr,
    dl: Deadline,
) -> Result<(Stream, Option<Option<Vec<u8>>>), ConnEnd> {
    let answer = match timeout_at(dl.at, super::wire::ssl_request(&mut stream)).await {
        Err(_) => return Err(ConnEnd::Timeout(dl.timeout(Step::Tls), dl)),
        Ok(Err(e)) => return Err(ConnEnd::Fatal(io_failure(Step::Tls, &e))),
        Ok(Ok(a)) => a,
    };
    match answer {
        SslAnswer::Error(se) => {
            let code = se.code.unwrap_or_default();
            let message = match &se.detail {
                Some(d) => format!("{} — DETAIL: {d}", se.message),
                None => se.message.clone(),
            };
            Err(ConnEnd::Fatal(failure(
                classify::sqlstate_class(&code, &se.message, se.detail.as_deref()),
                Step::Tls,
                Some(code),
                message,
            )))
        }
        SslAnswer::No if t.sslmode.requires_tls() => Err(ConnEnd::Fatal(failure(
            ErrorClass::Tls,
            Step::Tls,
            None,
            format!(
                "server does not support SSL, but SSL was required (sslmode={})",
                t.sslmode.as_str()
            ),
        ))),
        SslAnswer::No => Ok((stream, None)),
        SslAnswer::Yes => {
            let (config, name) = tls::client_config(t, host, peer)
                .map_err(|m| ConnEnd::Tls(failure(ErrorClass::Tls, Step::Tls, None, m)))?;
            let connector = tokio_rustls::TlsConnector::from(config);
            match timeout_at(dl.at, connector.connect(name, stream)).await {
                Err(_) => Err(ConnEnd::Timeout(dl.timeout(Step::Tls), dl)),
                Ok(Err(e)) => Err(ConnEnd::Tls(tls_failure(&e))),
                Ok(Ok(s)) => {
                    let binding = s
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(tls::server_end_point);
                    Ok((Stream(Box::new(s)), Some(binding)))
                }
            }
        }
    }
}

fn io_failure(step: Step, e: &std::io::Error) -> Failure {
    if let Some(np) = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<super::wire::NotPostgres>())
    {
        return failure(ErrorClass::Protocol, step, None, &np.0);
    }
    classify::io_failure(step, e)
}

fn tls_failure(e: &std::io::Error) -> Failure {
    let is_tls = e
        .get_ref()
        .is_some_and(|i| i.downcast_ref::<rustls::Error>().is_some());
    let class = if is_tls {
        ErrorClass::Tls
    } else {
        classify::io_class(e)
    };
    failure(
        class,
        Step::Tls,
        None,
        format!("TLS handshake failed: {}", tls::describe(e)),
    )
}

fn end_failure(e: &ConnEnd) -> &Failure {
    match e {
        ConnEnd::Unopened(f)
        | ConnEnd::Timeout(f, _)
        | ConnEnd::Tls(f)
        | ConnEnd::RefusedBeforeAuth(f)
        | ConnEnd::WrongKind(f)
        | ConnEnd::Fatal(f) => f,
    }
}
