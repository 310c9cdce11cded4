//! The pool's connect options, from connscope's own resolved target, so the pool connects
//! where the raw probe does: the first host (or socket directory) and its port, user,
//! password, database, sslmode, root and client certificates, `options`, and
//! `application_name=connscope-pool`. What sqlx cannot take is said, never dropped silently:
//! an `options` word other than a server setting refuses the pool probe with its reason.

use std::path::PathBuf;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::config::target::{HostSpec, RootCert};
use crate::config::{DbHost, DbTarget, SslMode};

/// How the pool's sessions are tagged in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "connscope-pool";

fn ssl_mode(m: SslMode) -> PgSslMode {
    match m {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Allow => PgSslMode::Allow,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require => PgSslMode::Require,
        SslMode::VerifyCa => PgSslMode::VerifyCa,
        SslMode::VerifyFull => PgSslMode::VerifyFull,
    }
}

/// `-c name=value` pairs from libpq's `options` (also `-cname=value`, `--name=value`), with
/// libpq's backslash escapes undone (sqlx escapes them again).
pub(crate) fn option_pairs(options: &str) -> Result<Vec<(String, String)>, String> {
    let words = split_escaped(options);
    let mut pairs = Vec::new();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let setting = if w == "-c" {
            it.next()
                .ok_or_else(|| "`-c` at the end of options, with no setting".to_string())?
                .as_str()
        } else if let Some(s) = w.strip_prefix("--").or_else(|| w.strip_prefix("-c")) {
            s
        } else {
            return Err(format!(
                "the options word `{w}` is not a `-c name=value` setting, which is all sqlx can send"
            ));
        };
        let (k, v) = setting
            .split_once('=')
            .ok_or_else(|| format!("the options setting `{setting}` has no `=`"))?;
        pairs.push((k.to_string(), v.to_string()));
    }
    Ok(pairs)
}

/// Words split on unescaped whitespace, `\x` read as `x` (libpq's rule for `options`).
fn split_escaped(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.extend(chars.next()),
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// The file itself, or libpq's default under `~/.postgresql/` when it exists.
fn file_or_default(t: &DbTarget, set: Option<&PathBuf>, default: &str) -> Option<PathBuf> {
    set.cloned()
        .or_else(|| t.tls.default_file(default).filter(|p| p.is_file()))
}

/// Where the pool connects: the first host. `hostaddr` is used as the address unless
/// `verify-full` needs the name (sqlx verifies the name it connects to).
fn with_host(o: PgConnectOptions, t: &DbTarget, h: &HostSpec) -> PgConnectOptions {
    match (&h.host, h.hostaddr) {
        (DbHost::Unix(dir), _) => o.socket(dir),
        (DbHost::Tcp(name), Some(a)) if name.is_empty() || t.sslmode != SslMode::VerifyFull => {
            o.host(&a.to_string())
        }
        (DbHost::Tcp(name), _) => o.host(name),
    }
}

/// The pool's connect options. sqlx also reads `PG*` variables and `~/.pgpass` for what is
/// not set here; everything connscope resolved is set, so those agree with the raw probe.
pub(crate) fn options(
    t: &DbTarget,
    statement_timeout: Duration,
) -> Result<PgConnectOptions, String> {
    // sqlx has no host list: the first host, where libpq (and the raw probe) starts too.
    let first = t.hosts.first().ok_or("no host to connect to")?;
    let mut o = PgConnectOptions::new_without_pgpass()
        .port(first.port)
        .username(&t.user)
        .database(&t.dbname)
        .ssl_mode(ssl_mode(t.sslmode))
        .application_name(APPLICATION_NAME)
        // Statement times are measured here; sqlx's own statement logs would only be noise.
        .log_statements(log::LevelFilter::Off)
        .log_slow_statements(log::LevelFilter::Off, Duration::MAX);
    o = with_host(o, t, first);
    if let Some(pw) = first.password.as_ref().or(t.password.as_ref()) {
        o = o.password(pw.expose());
    }
    match &t.tls.rootcert {
        RootCert::File(p) => o = o.ssl_root_cert(p),
        RootCert::Default => {
            if let Some(p) = file_or_default(t, None, "root.crt") {
                o = o.ssl_root_cert(p);
            }
        }
        // sqlx verifies against its bundled web roots: the closest it has to the system's.
        RootCert::System => {}
    }
    if let Some(c) = file_or_default(t, t.tls.cert.as_ref(), "postgresql.crt") {
        o = o.ssl_client_cert(c);
    }
    if let Some(k) = file_or_default(t, t.tls.key.as_ref(), "postgresql.key") {
        o = o.ssl_client_key(k);
    }
    // The raw probe's statement_timeout first, so the target's own options win, as there.
    let mut pairs = vec![(
        "statement_timeout".to_string(),
        statement_timeout.as_millis().to_string(),
    )];
    if let Some(extra) = &t.options {
        pairs.extend(option_pairs(extra)?);
    }
    Ok(o.options(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_as_libpq_writes_them() {
        let p = option_pairs(r"-c search_path=s1 -cgeqo=off --work_mem=4MB -c a=x\ y").expect("ok");
        let want = [
            ("search_path", "s1"),
            ("geqo", "off"),
            ("work_mem", "4MB"),
            ("a", "x y"),
        ];
        assert_eq!(
            p,
            want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec()
        );
        assert!(option_pairs("-B 100").is_err_and(|e| e.contains("`-B`")));
        assert!(option_pairs("-c").is_err());
        assert!(option_pairs("-c geqo").is_err_and(|e| e.contains("no `=`")));
    }

    fn target(url: &str) -> DbTarget {
        let env = crate::config::EnvSnapshot::default();
        crate::config::target::resolve(&crate::config::target::Resolve {
            url: Some(url),
            config_password: None,
            env: &env,
            application_name: "connscope",
        })
        .expect("resolves")
        .expect("a target")
    }

    #[test]
    fn the_pool_connects_where_the_raw_probe_does() {
        let t = target(
            "postgres://app:pw@db.example:6543/appdb?sslmode=verify-full&application_name=x",
        );
        let o = options(&t, Duration::from_secs(5)).expect("options");
        assert_eq!(o.get_host(), "db.example");
        assert_eq!(o.get_port(), 6543);
        assert_eq!(o.get_username(), "app");
        assert_eq!(o.get_database(), Some("appdb"));
        assert!(matches!(o.get_ssl_mode(), PgSslMode::VerifyFull));
        assert_eq!(o.get_application_name(), Some(APPLICATION_NAME));
        assert_eq!(o.get_options(), Some("-c statement_timeout=5000"));
        let t = target("host=/cloudsql/p:r:i port=5433 user=app dbname=app options='-c geqo=off'");
        let o = options(&t, Duration::from_secs(5)).expect("options");
        assert_eq!(
            o.get_socket().map(|p| p.display().to_string()).as_deref(),
            Some("/cloudsql/p:r:i")
        );
        assert_eq!(
            o.get_options(),
            Some("-c statement_timeout=5000 -c geqo=off")
        );
    }
}
