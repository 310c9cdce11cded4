//! The database to probe, resolved the way libpq would: a URL or `key=value` string, then the
//! PG* environment variables for whatever it leaves out, then ~/.pgpass for the password.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::secret::{MASK, Secret};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbHost {
    Tcp(String),
    /// A directory holding `.s.PGSQL.<port>` (e.g. `/cloudsql/PROJECT:REGION:INSTANCE`).
    Unix(PathBuf),
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
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

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

    /// Whether a TLS handshake is attempted at all (`allow` starts without TLS, as libpq does).
    pub fn tries_tls(self) -> bool {
        !matches!(self, SslMode::Disable | SslMode::Allow)
    }

    /// Whether the connection must fail when the server will not do TLS.
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }

    pub fn verifies_chain(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

#[derive(Debug, Clone)]
pub struct DbTarget {
    pub host: DbHost,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    pub application_name: String,
    /// Where each part came from: `url`, `PGHOST`, `~/.pgpass`, `default`, …
    pub origin: BTreeMap<&'static str, String>,
}

impl DbTarget {
    pub fn is_cloud_sql_socket(&self) -> bool {
        matches!(&self.host, DbHost::Unix(p) if p.starts_with("/cloudsql"))
    }

    /// The socket file inside a unix socket directory.
    pub fn socket_path(dir: &Path, port: u16) -> PathBuf {
        dir.join(format!(".s.PGSQL.{port}"))
    }

    /// A connection string fit to print: the password, if any, shows as `***`.
    pub fn redacted(&self) -> String {
        let pw = if self.password.is_some() {
            format!(":{MASK}")
        } else {
            String::new()
        };
        let mut s = match &self.host {
            DbHost::Tcp(h) if h.contains(':') => {
                format!(
                    "postgres://{}{pw}@[{h}]:{}/{}",
                    self.user, self.port, self.dbname
                )
            }
            DbHost::Tcp(h) => format!(
                "postgres://{}{pw}@{h}:{}/{}",
                self.user, self.port, self.dbname
            ),
            DbHost::Unix(dir) => format!(
                "postgres://{}{pw}@/{}?host={}{}",
                self.user,
                self.dbname,
                dir.display(),
                if self.port == 5432 {
                    String::new()
                } else {
                    format!("&port={}", self.port)
                }
            ),
        };
        if self.sslmode != SslMode::Prefer {
            s.push(if s.contains('?') { '&' } else { '?' });
            s.push_str("sslmode=");
            s.push_str(self.sslmode.as_str());
        }
        s
    }

    /// Host label for panels: `10.1.2.3:5432` or the socket directory.
    pub fn endpoint_label(&self) -> String {
        match &self.host {
            DbHost::Tcp(h) => format!("{h}:{}", self.port),
            DbHost::Unix(d) => d.display().to_string(),
        }
    }
}

/// What a connection string said, before the environment fills in the rest.
#[derive(Debug, Default)]
struct Parts {
    host: Option<String>,
    port: Option<String>,
    user: Option<String>,
    password: Option<String>,
    dbname: Option<String>,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
    application_name: Option<String>,
}

/// libpq parameters accepted in a connection string but not used by a probe.
const IGNORED_PARAMS: [&str; 12] = [
    "connect_timeout",
    "options",
    "target_session_attrs",
    "gssencmode",
    "channel_binding",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "fallback_application_name",
    "client_encoding",
    "hostaddr",
];

impl Parts {
    fn set(&mut self, key: &str, value: String) -> Result<(), String> {
        let slot = match key {
            "host" => &mut self.host,
            "port" => &mut self.port,
            "user" => &mut self.user,
            "password" => &mut self.password,
            "dbname" => &mut self.dbname,
            "sslmode" => &mut self.sslmode,
            "sslrootcert" => &mut self.sslrootcert,
            "application_name" => &mut self.application_name,
            k if IGNORED_PARAMS.contains(&k) => return Ok(()),
            k => return Err(format!("unknown connection parameter `{k}`")),
        };
        *slot = Some(value);
        Ok(())
    }
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn parse_uri(uri: &str) -> Result<Parts, String> {
    let rest = uri
        .strip_prefix("postgresql://")
        .or_else(|| uri.strip_prefix("postgres://"))
        .ok_or("a database URL starts with postgres:// or postgresql://")?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let mut p = Parts::default();
    if let Some(ui) = userinfo {
        let (u, pw) = ui
            .split_once(':')
            .map_or((ui, None), |(u, pw)| (u, Some(pw)));
        p.user = Some(decode(u)).filter(|s| !s.is_empty());
        p.password = pw.map(decode);
    }
    if hostport.contains(',') {
        return Err("several hosts in one URL are not supported; probe one host at a time".into());
    }
    let (host, port) = split_host_port(hostport)?;
    p.host = host.map(|h| decode(&h)).filter(|s| !s.is_empty());
    p.port = port;
    p.dbname = Some(decode(path)).filter(|s| !s.is_empty());
    for pair in query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        p.set(&decode(k), decode(v))?;
    }
    Ok(p)
}

fn split_host_port(hp: &str) -> Result<(Option<String>, Option<String>), String> {
    if let Some(rest) = hp.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("unclosed `[` in the host")?;
        let port = after.strip_prefix(':').map(str::to_string);
        return Ok((Some(h.to_string()), port));
    }
    Ok(match hp.rsplit_once(':') {
        Some((h, port)) => (Some(h.to_string()), Some(port.to_string())),
        None => (Some(hp.to_string()), None),
    })
}

/// libpq's `key=value key='quoted value'` form.
fn parse_keyvalue(s: &str) -> Result<Parts, String> {
    let mut p = Parts::default();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(p);
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|&c| c != '=' && !c.is_whitespace())).collect();
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("expected `=` after `{key}`"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("unterminated quote in the value of `{key}`")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        p.set(&key, value)?;
    }
}

fn parse_any(raw: &str) -> Result<Parts, String> {
    let raw = raw.trim();
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        parse_uri(raw)
    } else if raw.starts_with('/') {
        // A bare socket directory, the way Cloud SQL mounts are usually written down.
        Ok(Parts {
            host: Some(raw.to_string()),
            ..Parts::default()
        })
    } else if raw.contains('=') {
        parse_keyvalue(raw)
    } else {
        Err("expected postgres://user@host:port/db, key=value pairs, or a socket directory".into())
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
pub fn resolve(r: &Resolve<'_>) -> Result<Option<DbTarget>, String> {
    let env = |k: &str| r.env.get(k).filter(|v| !v.is_empty()).cloned();
    if r.url.is_none() && env("PGHOST").is_none() && env("PGDATABASE").is_none() {
        return Ok(None);
    }
    let parts = match r.url {
        Some(u) => parse_any(u)?,
        None => Parts::default(),
    };
    let mut origin = BTreeMap::new();
    let mut pick = |field: &'static str, from_url: Option<String>, var: &str| -> Option<String> {
        if from_url.is_some() {
            origin.insert(field, "url".to_string());
            return from_url;
        }
        let v = env(var);
        if v.is_some() {
            origin.insert(field, var.to_string());
        }
        v
    };
    let host_s = pick("host", parts.host, "PGHOST");
    let port_s = pick("port", parts.port, "PGPORT");
    let user = pick("user", parts.user, "PGUSER");
    let dbname = pick("dbname", parts.dbname, "PGDATABASE");
    let sslmode_s = pick("sslmode", parts.sslmode, "PGSSLMODE");
    let rootcert = pick("sslrootcert", parts.sslrootcert, "PGSSLROOTCERT");

    let port = match port_s {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or(format!("invalid port `{p}`"))?,
        None => 5432,
    };
    let host = match host_s {
        Some(h) if h.starts_with('/') => DbHost::Unix(PathBuf::from(h)),
        Some(h) => DbHost::Tcp(h),
        None => {
            origin.insert("host", "default".into());
            DbHost::Unix(default_socket_dir())
        }
    };
    let user = user.unwrap_or_else(|| {
        origin.insert("user", "default".into());
        env("USER")
            .or_else(|| env("LOGNAME"))
            .unwrap_or_else(|| "postgres".into())
    });
    let dbname = dbname.unwrap_or_else(|| user.clone());
    let sslmode = match sslmode_s {
        Some(s) => SslMode::parse(&s).ok_or(format!(
            "invalid sslmode `{s}` (disable, allow, prefer, require, verify-ca, verify-full)"
        ))?,
        None => SslMode::Prefer,
    };
    let mut target = DbTarget {
        host,
        port,
        user,
        password: None,
        dbname,
        sslmode,
        sslrootcert: rootcert.map(PathBuf::from),
        application_name: parts
            .application_name
            .unwrap_or_else(|| r.application_name.to_string()),
        origin,
    };
    if let Some((pw, from)) = find_password(&target, parts.password, r) {
        target.origin.insert("password", from);
        target.password = Some(Secret::new(pw));
    }
    Ok(Some(target))
}

fn find_password(
    t: &DbTarget,
    from_url: Option<String>,
    r: &Resolve<'_>,
) -> Option<(String, String)> {
    if let Some(pw) = from_url {
        return Some((pw, "url".into()));
    }
    if let Some(pw) = r.config_password {
        return Some((pw.to_string(), "database.password".into()));
    }
    if let Some(pw) = r.env.get("PGPASSWORD").filter(|v| !v.is_empty()) {
        return Some((pw.clone(), "PGPASSWORD".into()));
    }
    let file = r
        .env
        .get("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| r.env.get("HOME").map(|h| Path::new(h).join(".pgpass")))?;
    let text = read_private(&file)?;
    pgpass_lookup(&text, t).map(|pw| (pw, file.display().to_string()))
}

/// libpq ignores a password file that others can read; so do we.
fn read_private(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).ok()?;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                "ignoring {}: readable by group or others (chmod 0600)",
                path.display()
            );
            return None;
        }
    }
    std::fs::read_to_string(path).ok()
}

fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields
                .last_mut()
                .into_iter()
                .for_each(|f| f.extend(chars.next())),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().into_iter().for_each(|f| f.push(c)),
        }
    }
    fields
}

fn pgpass_lookup(text: &str, t: &DbTarget) -> Option<String> {
    let host = match &t.host {
        DbHost::Tcp(h) => h.clone(),
        DbHost::Unix(d) => d.display().to_string(),
    };
    let port = t.port.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .find_map(|line| {
            let f = pgpass_fields(line);
            let [h, p, d, u, pw] = <[String; 5]>::try_from(f).ok()?;
            let host_ok =
                h == "*" || h == host || (h == "localhost" && matches!(t.host, DbHost::Unix(_)));
            let ok = host_ok
                && (p == "*" || p == port)
                && (d == "*" || d == t.dbname)
                && (u == "*" || u == t.user);
            ok.then_some(pw)
        })
}

fn default_socket_dir() -> PathBuf {
    let debian = Path::new("/var/run/postgresql");
    if debian.is_dir() {
        debian.to_path_buf()
    } else {
        PathBuf::from("/tmp")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn resolve_with(url: Option<&str>, e: &EnvSnapshot) -> Result<Option<DbTarget>, String> {
        resolve(&Resolve {
            url,
            config_password: None,
            application_name: "connscope",
            env: e,
        })
    }

    #[test]
    fn url_parts_are_read_and_decoded() {
        let e = env(&[]);
        let t = resolve_with(
            Some("postgres://app:p%40ss@10.1.2.3:6543/app_db?sslmode=require"),
            &e,
        )
        .expect("valid")
        .expect("configured");
        assert_eq!(t.host, DbHost::Tcp("10.1.2.3".into()));
        assert_eq!(t.port, 6543);
        assert_eq!(t.user, "app");
        assert_eq!(t.password.as_ref().map(Secret::expose), Some("p@ss"));
        assert_eq!(t.dbname, "app_db");
        assert_eq!(t.sslmode, SslMode::Require);
        assert_eq!(
            t.redacted(),
            "postgres://app:***@10.1.2.3:6543/app_db?sslmode=require"
        );
    }

    #[test]
    fn cloud_sql_socket_directory_in_the_host_parameter() {
        let e = env(&[]);
        let t = resolve_with(
            Some("postgres://app@/app?host=/cloudsql/proj:us-central1:pg"),
            &e,
        )
        .expect("valid")
        .expect("configured");
        assert_eq!(t.host, DbHost::Unix("/cloudsql/proj:us-central1:pg".into()));
        assert!(t.is_cloud_sql_socket());
        assert_eq!(
            t.redacted(),
            "postgres://app@/app?host=/cloudsql/proj:us-central1:pg"
        );
    }

    #[test]
    fn environment_fills_what_the_url_leaves_out() {
        let e = env(&[
            ("PGHOST", "db.internal"),
            ("PGUSER", "svc"),
            ("PGPASSWORD", "envpw-1234"),
            ("PGPORT", "5433"),
        ]);
        let t = resolve_with(Some("postgres:///orders"), &e)
            .expect("valid")
            .expect("configured");
        assert_eq!(t.host, DbHost::Tcp("db.internal".into()));
        assert_eq!(t.port, 5433);
        assert_eq!(t.user, "svc");
        assert_eq!(t.dbname, "orders");
        assert_eq!(t.origin["password"], "PGPASSWORD");
        assert_eq!(t.origin["host"], "PGHOST");
    }

    #[test]
    fn nothing_configured_means_no_target() {
        assert!(
            resolve_with(None, &env(&[("USER", "me")]))
                .expect("valid")
                .is_none()
        );
        assert!(
            resolve_with(None, &env(&[("PGHOST", "/tmp")]))
                .expect("valid")
                .is_some()
        );
    }

    #[test]
    fn keyvalue_form_with_quotes() {
        let t = resolve_with(
            Some("host=h1 port=5 user='a b' dbname=d sslmode=disable"),
            &env(&[]),
        )
        .expect("valid")
        .expect("configured");
        assert_eq!(t.user, "a b");
        assert_eq!(t.port, 5);
        assert_eq!(t.sslmode, SslMode::Disable);
    }

    #[test]
    fn bad_strings_say_what_is_wrong() {
        let e = env(&[]);
        assert!(
            resolve_with(Some("mysql://x"), &e)
                .unwrap_err()
                .contains("postgres://")
        );
        assert!(
            resolve_with(Some("postgres://h:99999/d"), &e)
                .unwrap_err()
                .contains("invalid port")
        );
        assert!(
            resolve_with(Some("postgres://h/d?sslmode=maybe"), &e)
                .unwrap_err()
                .contains("sslmode")
        );
        assert!(
            resolve_with(Some("postgres://h/d?frobnicate=1"), &e)
                .unwrap_err()
                .contains("frobnicate")
        );
    }

    #[test]
    fn pgpass_matches_with_wildcards_and_escapes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:*:*:*:nope\nh1:5432:*:app:pa\\:ss-word\n",
        )
        .expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        let e = env(&[("PGPASSFILE", file.to_str().expect("utf8"))]);
        let t = resolve_with(Some("postgres://app@h1/app"), &e)
            .expect("valid")
            .expect("configured");
        assert_eq!(t.password.as_ref().map(Secret::expose), Some("pa:ss-word"));
        assert_eq!(t.origin["password"], file.display().to_string());
    }

    #[test]
    fn world_readable_pgpass_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "*:*:*:*:leaky-pw\n").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
        let e = env(&[("PGPASSFILE", file.to_str().expect("utf8"))]);
        let t = resolve_with(Some("postgres://app@h1/app"), &e)
            .expect("valid")
            .expect("configured");
        assert!(t.password.is_none());
    }
}
