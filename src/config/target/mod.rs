//! The database to probe, resolved the way libpq resolves it: a URI or `key=value` string, the
//! PG* environment variables for whatever it leaves out, then the password file. Every libpq
//! parameter is either supported with libpq's meaning or refused by name (exit 78) — see
//! `params.rs` for the list and the README's "Connection parameters" section.

mod conninfo;
mod params;
mod pgpass;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::secret::{MASK, Secret};
use params::Params;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbHost {
    Tcp(String),
    /// A directory holding `.s.PGSQL.<port>` (e.g. `/cloudsql/PROJECT:REGION:INSTANCE`).
    Unix(PathBuf),
}

impl DbHost {
    fn label(&self, port: u16) -> String {
        match self {
            DbHost::Tcp(h) if h.contains(':') => format!("[{h}]:{port}"),
            DbHost::Tcp(h) => format!("{h}:{port}"),
            DbHost::Unix(d) => d.display().to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the first connection asks for TLS (`allow` starts without it, as libpq does).
    pub(crate) fn tries_tls(self) -> bool {
        !matches!(self, SslMode::Disable | SslMode::Allow)
    }

    /// Whether the connection must fail when the server will not do TLS.
    pub(crate) fn requires_tls(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }

    pub(crate) fn verifies_chain(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// libpq's `target_session_attrs`: which kind of server a host must be to be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetSessionAttrs {
    Any,
    ReadWrite,
    ReadOnly,
    Primary,
    Standby,
    /// A standby if any host is one, else any host (two passes over the list).
    PreferStandby,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelBinding {
    Disable,
    Prefer,
    Require,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TlsVersion {
    V12,
    V13,
}

/// `sslrootcert`: a file, the system's roots (`system`, libpq 16), or libpq's default
/// `~/.postgresql/root.crt`, looked at (like libpq) when the server agrees to TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootCert {
    Default,
    File(PathBuf),
    System,
}

/// Everything TLS needs besides the host: the files are read per connection, as libpq does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub(crate) rootcert: RootCert,
    /// `sslcert` / `sslkey`; `None` means libpq's `~/.postgresql/postgresql.crt` / `.key`.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// `sslcrl`; `None` means `~/.postgresql/root.crl` (used only if it exists).
    pub crl: Option<PathBuf>,
    /// Where `~` is for the defaults (`HOME`); none, no default files.
    pub home: Option<PathBuf>,
    pub(crate) sni: bool,
    pub(crate) min_version: Option<TlsVersion>,
    pub(crate) max_version: Option<TlsVersion>,
}

impl TlsFiles {
    /// libpq's default path under `~/.postgresql/` for `name`.
    pub(crate) fn default_file(&self, name: &str) -> Option<PathBuf> {
        self.home.as_ref().map(|h| h.join(".postgresql").join(name))
    }
}

/// TCP keepalive settings (libpq's `keepalives*` and `tcp_user_timeout`); `None` keeps the
/// system default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keepalives {
    pub(crate) enabled: bool,
    pub idle: Option<Duration>,
    pub interval: Option<Duration>,
    pub count: Option<u32>,
    pub(crate) user_timeout: Option<Duration>,
}

/// One host of the host list, with its own port and password (libpq looks the password up in
/// the password file per host).
#[derive(Debug, Clone)]
pub struct HostSpec {
    pub host: DbHost,
    /// `hostaddr`: connect here without a name lookup; `host` still names the server for TLS
    /// verification and the password file.
    pub(crate) hostaddr: Option<IpAddr>,
    pub port: u16,
    pub password: Option<Secret>,
}

impl HostSpec {
    /// `10.1.2.3:5432`, `[::1]:5432`, or the socket directory.
    pub fn label(&self) -> String {
        match (&self.host, self.hostaddr) {
            (DbHost::Tcp(h), _) if !h.is_empty() => self.host.label(self.port),
            (_, Some(a)) => DbHost::Tcp(a.to_string()).label(self.port),
            (h, None) => h.label(self.port),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DbTarget {
    /// The first host of `hosts` (and its port), for everything that names one server.
    pub host: DbHost,
    pub port: u16,
    /// Every host, tried in order (libpq's `host=a,b port=1,2`).
    pub hosts: Vec<HostSpec>,
    pub user: String,
    /// The first host's password.
    pub password: Option<Secret>,
    pub dbname: String,
    pub sslmode: SslMode,
    pub tls: TlsFiles,
    pub application_name: String,
    /// libpq's `options`: command-line options for the server session.
    pub options: Option<String>,
    /// libpq's `connect_timeout`, per host and address (≥ 2 s, as libpq rounds it).
    pub connect_timeout: Option<Duration>,
    pub target_session_attrs: TargetSessionAttrs,
    pub channel_binding: ChannelBinding,
    pub(crate) keepalives: Keepalives,
    /// Where connscope looked for a password and found none, for the "no password supplied"
    /// failure (e.g. a password file ignored because others can read it).
    pub(crate) password_note: Option<String>,
    /// Where each part came from: `url`, `PGHOST`, `~/.pgpass`, `default`, …
    pub(crate) origin: BTreeMap<&'static str, String>,
}

impl DbTarget {
    pub(crate) fn is_cloud_sql_socket(&self) -> bool {
        matches!(&self.host, DbHost::Unix(p) if p.starts_with("/cloudsql"))
    }

    /// The socket file inside a unix socket directory.
    pub(crate) fn socket_path(dir: &Path, port: u16) -> PathBuf {
        dir.join(format!(".s.PGSQL.{port}"))
    }

    /// A connection string fit to print: the password, if any, shows as `***`.
    pub fn redacted(&self) -> String {
        let pw = if self.password.is_some() {
            format!(":{MASK}")
        } else {
            String::new()
        };
        let tcp: Vec<String> = self
            .hosts
            .iter()
            .filter(|h| matches!(h.host, DbHost::Tcp(_)))
            .map(HostSpec::label)
            .collect();
        let mut s = if tcp.len() == self.hosts.len() {
            format!(
                "postgres://{}{pw}@{}/{}",
                self.user,
                tcp.join(","),
                self.dbname
            )
        } else {
            let dirs: Vec<String> = self.hosts.iter().map(|h| h.host.label(h.port)).collect();
            let mut s = format!(
                "postgres://{}{pw}@/{}?host={}",
                self.user,
                self.dbname,
                dirs.join(",")
            );
            if self.port != 5432 {
                s.push_str(&format!("&port={}", self.port));
            }
            s
        };
        if self.sslmode != SslMode::Prefer {
            s.push(if s.contains('?') { '&' } else { '?' });
            s.push_str("sslmode=");
            s.push_str(self.sslmode.as_str());
        }
        s
    }

    /// Host label for panels: `10.1.2.3:5432` or the socket directory (the first host, with
    /// `+N` when there are more).
    pub(crate) fn endpoint_label(&self) -> String {
        let first = self
            .hosts
            .first()
            .map_or_else(|| self.host.label(self.port), HostSpec::label);
        match self.hosts.len() {
            0 | 1 => first,
            n => format!("{first} (+{} more)", n - 1),
        }
    }
}

/// A connection string problem: where (a character of the string, or the environment variable
/// that gave the value) and what. Never contains a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    /// The environment variable the bad value came from.
    pub var: Option<String>,
    /// The 1-based character of the connection string where the bad part starts.
    pub at: Option<usize>,
    pub message: String,
}

impl TargetError {
    fn at(at: usize, message: impl Into<String>) -> Self {
        Self {
            var: None,
            at: Some(at),
            message: message.into(),
        }
    }

    fn env(var: &str, message: impl Into<String>) -> Self {
        Self {
            var: Some(var.to_string()),
            at: None,
            message: message.into(),
        }
    }

    fn plain(message: impl Into<String>) -> Self {
        Self {
            var: None,
            at: None,
            message: message.into(),
        }
    }
}

impl std::error::Error for TargetError {}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(at) => write!(f, "{} (at character {at})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The process environment as seen by resolution (a snapshot, so tests can inject one).
pub type EnvSnapshot = BTreeMap<String, String>;

/// Inputs to resolution beyond the connection string itself.
pub struct Resolve<'a> {
    pub url: Option<&'a str>,
    pub config_password: Option<&'a str>,
    pub application_name: &'a str,
    pub env: &'a EnvSnapshot,
}

/// Resolves the target, or `Ok(None)` when nothing names a database at all.
pub fn resolve(r: &Resolve<'_>) -> Result<Option<DbTarget>, TargetError> {
    let env = |k: &str| r.env.get(k).filter(|v| !v.is_empty()).cloned();
    if r.url.is_none() && env("PGHOST").is_none() && env("PGDATABASE").is_none() {
        return Ok(None);
    }
    let raw = match r.url.map(str::trim) {
        Some(u) => conninfo::parse(u).map_err(|e| TargetError::at(e.at, e.message))?,
        None => Vec::new(),
    };
    let p = Params::collect(raw, r.env)?;
    params::check_fixed(&p)?;
    let mut origin = BTreeMap::new();
    for (field, key) in [
        ("host", "host"),
        ("port", "port"),
        ("user", "user"),
        ("dbname", "dbname"),
        ("sslmode", "sslmode"),
    ] {
        if let Some(g) = p.get(key) {
            origin.insert(field, g.origin());
        }
    }
    let hosts = host_list(&p, &mut origin)?;
    let user = p.value("user").map(str::to_string).unwrap_or_else(|| {
        origin.insert("user", "default".into());
        env("USER")
            .or_else(|| env("LOGNAME"))
            .unwrap_or_else(|| "postgres".into())
    });
    let dbname = p
        .value("dbname")
        .map_or_else(|| user.clone(), str::to_string);
    let tls = tls_files(&p, r.env)?;
    let sslmode = sslmode(&p, &tls)?;
    let (first_host, first_port) = hosts
        .first()
        .map(|h| (h.host.clone(), h.port))
        .ok_or_else(|| TargetError::plain("no host"))?;
    let mut target = DbTarget {
        host: first_host,
        port: first_port,
        hosts,
        user,
        password: None,
        dbname,
        sslmode,
        tls,
        application_name: application_name(&p, r),
        options: p.value("options").map(str::to_string),
        connect_timeout: connect_timeout(&p)?,
        target_session_attrs: params::session_attrs(&p)?,
        channel_binding: params::channel_binding(&p)?,
        keepalives: keepalives(&p)?,
        password_note: None,
        origin,
    };
    passwords(&mut target, &p, r);
    Ok(Some(target))
}

fn default_socket_dir() -> PathBuf {
    let debian = Path::new("/var/run/postgresql");
    if debian.is_dir() {
        debian.to_path_buf()
    } else {
        PathBuf::from("/tmp")
    }
}

/// `host`, `hostaddr` and `port` lists, matched element by element as libpq does (one port
/// applies to every host).
fn host_list(
    p: &Params,
    origin: &mut BTreeMap<&'static str, String>,
) -> Result<Vec<HostSpec>, TargetError> {
    let split = |key: &str| -> Vec<String> {
        p.value(key)
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default()
    };
    let lists = (split("host"), split("hostaddr"), split("port"));
    let n = matched_length(p, &lists)?;
    if lists.0.is_empty() && lists.1.is_empty() {
        origin.insert("host", "default".into());
    }
    (0..n).map(|i| host_spec(p, i, &lists)).collect()
}

/// The `host`, `hostaddr` and `port` lists as given, split at commas.
type HostLists = (Vec<String>, Vec<String>, Vec<String>);

/// How many hosts the lists name, or which list does not match the others.
fn matched_length(p: &Params, (hosts, addrs, ports): &HostLists) -> Result<usize, TargetError> {
    if !hosts.is_empty() && !addrs.is_empty() && hosts.len() != addrs.len() {
        let g = p
            .get("hostaddr")
            .ok_or_else(|| TargetError::plain("hostaddr"))?;
        return Err(g.err(format!(
            "could not match {} host names to {} hostaddr values",
            hosts.len(),
            addrs.len()
        )));
    }
    let n = hosts.len().max(addrs.len()).max(1);
    if ports.len() > 1 && ports.len() != n {
        let g = p.get("port").ok_or_else(|| TargetError::plain("port"))?;
        return Err(g.err(format!(
            "could not match {} port numbers to {n} hosts",
            ports.len()
        )));
    }
    Ok(n)
}

/// The `i`th host of the lists, with libpq's defaults for what they leave out.
fn host_spec(
    p: &Params,
    i: usize,
    (hosts, addrs, ports): &HostLists,
) -> Result<HostSpec, TargetError> {
    let port = match ports.get(if ports.len() == 1 { 0 } else { i }) {
        Some(s) if !s.is_empty() => parse_port(p, i, s)?,
        _ => 5432,
    };
    let hostaddr = match addrs.get(i).filter(|a| !a.is_empty()) {
        Some(a) => Some(a.parse::<IpAddr>().map_err(|_| {
            p.get("hostaddr").map_or_else(
                || TargetError::plain("invalid hostaddr"),
                |g| g.err_item(i, format!("could not parse network address `{a}`")),
            )
        })?),
        None => None,
    };
    let host = match hosts.get(i).filter(|h| !h.is_empty()) {
        Some(h) if h.starts_with('/') => DbHost::Unix(PathBuf::from(h)),
        Some(h) => DbHost::Tcp(h.clone()),
        None if hostaddr.is_some() => DbHost::Tcp(String::new()),
        None => DbHost::Unix(default_socket_dir()),
    };
    Ok(HostSpec {
        host,
        hostaddr,
        port,
        password: None,
    })
}

fn parse_port(p: &Params, i: usize, s: &str) -> Result<u16, TargetError> {
    s.parse::<u16>().ok().filter(|v| *v > 0).ok_or_else(|| {
        // Text that is not a number is not echoed: in a URL it is often the tail of a password
        // with an unencoded `:` or `/`.
        let message = if s.bytes().all(|b| b.is_ascii_digit()) {
            format!("invalid port `{s}` (1-65535)")
        } else {
            "invalid port number: not a number; if this is part of a password, percent-encode \
             its `/`, `:`, `@` or `?`"
                .to_string()
        };
        p.get("port").map_or_else(
            || TargetError::plain(message.clone()),
            |g| g.err_item(i, message.clone()),
        )
    })
}

fn tls_files(p: &Params, env: &EnvSnapshot) -> Result<TlsFiles, TargetError> {
    let path = |k: &str| p.value(k).map(PathBuf::from);
    let rootcert = match p.value("sslrootcert") {
        None => RootCert::Default,
        Some("system") => RootCert::System,
        Some(f) => RootCert::File(PathBuf::from(f)),
    };
    let min_version = params::tls_version(p, "ssl_min_protocol_version")?;
    let max_version = params::tls_version(p, "ssl_max_protocol_version")?;
    if let (Some(lo), Some(hi)) = (min_version, max_version)
        && lo > hi
    {
        let g = p
            .get("ssl_max_protocol_version")
            .ok_or_else(|| TargetError::plain("ssl_max_protocol_version"))?;
        return Err(g.err("invalid SSL protocol version range"));
    }
    Ok(TlsFiles {
        rootcert,
        cert: path("sslcert"),
        key: path("sslkey"),
        crl: path("sslcrl"),
        home: env.get("HOME").filter(|h| !h.is_empty()).map(PathBuf::from),
        sni: p.value("sslsni") != Some("0"),
        min_version,
        max_version,
    })
}

/// libpq 16: `sslrootcert=system` makes `verify-full` the default and refuses weaker modes.
fn sslmode(p: &Params, tls: &TlsFiles) -> Result<SslMode, TargetError> {
    let system = tls.rootcert == RootCert::System;
    let default = if system {
        SslMode::VerifyFull
    } else {
        SslMode::Prefer
    };
    let mode = params::sslmode(p, default)?;
    if system && mode != SslMode::VerifyFull {
        let g = p
            .get("sslmode")
            .ok_or_else(|| TargetError::plain("sslmode"))?;
        return Err(g.err(format!(
            "weak sslmode `{}` may not be used with sslrootcert=system (use `verify-full`)",
            mode.as_str()
        )));
    }
    Ok(mode)
}

/// The connection string's name, else PGAPPNAME, else its `fallback_application_name`, else
/// connscope's own (`database.application_name`, default `connscope`) — libpq's order, with
/// connscope's setting playing the part of the program's fallback name.
fn application_name(p: &Params, r: &Resolve<'_>) -> String {
    p.value("application_name")
        .or_else(|| p.value("fallback_application_name"))
        .unwrap_or(r.application_name)
        .to_string()
}

/// libpq: a whole number of seconds, per host and address; under 2 s counts as 2 s, zero or
/// negative means no limit (connscope's own connection timeout still bounds the attempt).
fn connect_timeout(p: &Params) -> Result<Option<Duration>, TargetError> {
    Ok(p.int("connect_timeout")?
        .filter(|s| *s > 0)
        .map(|s| Duration::from_secs(u64::try_from(s.max(2)).unwrap_or(2))))
}

fn keepalives(p: &Params) -> Result<Keepalives, TargetError> {
    Ok(Keepalives {
        enabled: p.int("keepalives")?.is_none_or(|v| v != 0),
        idle: p.duration("keepalives_idle", Duration::from_secs(1))?,
        interval: p.duration("keepalives_interval", Duration::from_secs(1))?,
        count: p
            .int("keepalives_count")?
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v > 0),
        user_timeout: p.duration("tcp_user_timeout", Duration::from_millis(1))?,
    })
}

/// One password for every host when given (connection string, `database.password`,
/// PGPASSWORD); otherwise each host's line of the password file.
fn passwords(t: &mut DbTarget, p: &Params, r: &Resolve<'_>) {
    let given = match (p.get("password"), r.config_password) {
        (Some(g), _) if g.from != params::From::Env("PGPASSWORD") => {
            Some((g.value.clone(), g.origin()))
        }
        (_, Some(pw)) => Some((pw.to_string(), "database.password".into())),
        (Some(g), None) => Some((g.value.clone(), g.origin())),
        (None, None) => None,
    };
    if let Some((pw, from)) = given {
        for h in &mut t.hosts {
            h.password = Some(Secret::new(pw.clone()));
        }
        t.origin.insert("password", from);
    } else {
        from_password_file(t, p, r);
    }
    t.password = t.hosts.first().and_then(|h| h.password.clone());
}

fn from_password_file(t: &mut DbTarget, p: &Params, r: &Resolve<'_>) {
    let file = p
        .value("passfile")
        .map(PathBuf::from)
        .or_else(|| r.env.get("HOME").map(|h| Path::new(h).join(".pgpass")));
    let Some(file) = file else {
        t.password_note = Some("no password given and no home directory for ~/.pgpass".into());
        return;
    };
    let mut notes = Vec::new();
    for (i, h) in t.hosts.iter_mut().enumerate() {
        let host = match (&h.host, h.hostaddr) {
            (DbHost::Tcp(n), _) if !n.is_empty() => n.clone(),
            (DbHost::Unix(d), _) if d.as_path() != default_socket_dir() => d.display().to_string(),
            (DbHost::Tcp(_), Some(a)) => a.to_string(),
            _ => "localhost".into(),
        };
        let key = pgpass::Key {
            host: &host,
            port: h.port,
            dbname: &t.dbname,
            user: &t.user,
        };
        match pgpass::lookup(&file, &key) {
            pgpass::Lookup::Found(pw) => {
                h.password = Some(Secret::new(pw));
                if i == 0 {
                    t.origin.insert("password", file.display().to_string());
                }
            }
            pgpass::Lookup::NoMatch => {
                notes.push(format!("no line for {host} in {}", file.display()))
            }
            pgpass::Lookup::Missing => notes.push(format!("no password file {}", file.display())),
            pgpass::Lookup::Ignored(why) => notes.push(format!("{why} (ignored)")),
        }
    }
    notes.dedup();
    if !notes.is_empty() {
        t.password_note = Some(format!(
            "no password in the connection string, database.password or PGPASSWORD; {}",
            notes.join("; ")
        ));
    }
}
