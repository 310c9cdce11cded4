//! Every libpq connection parameter connscope knows: where its environment variable is, and
//! whether connscope supports it. A parameter that is not supported is refused by name — never
//! read and ignored — so a connection string copied from the application cannot silently mean
//! something else here than there.

use std::collections::BTreeMap;
use std::time::Duration;

use super::conninfo::Raw;
use super::{ChannelBinding, EnvSnapshot, SslMode, TargetError, TargetSessionAttrs, TlsVersion};

struct Spec {
    key: &'static str,
    env: Option<&'static str>,
    /// Why connscope refuses it, when it does.
    refused: Option<&'static str>,
}

const fn yes(key: &'static str, env: Option<&'static str>) -> Spec {
    Spec {
        key,
        env,
        refused: None,
    }
}

const fn no(key: &'static str, env: Option<&'static str>, why: &'static str) -> Spec {
    Spec {
        key,
        env,
        refused: Some(why),
    }
}

const SPECS: &[Spec] = &[
    yes("host", Some("PGHOST")),
    yes("hostaddr", Some("PGHOSTADDR")),
    yes("port", Some("PGPORT")),
    yes("dbname", Some("PGDATABASE")),
    yes("user", Some("PGUSER")),
    yes("password", Some("PGPASSWORD")),
    yes("passfile", Some("PGPASSFILE")),
    yes("channel_binding", Some("PGCHANNELBINDING")),
    yes("connect_timeout", Some("PGCONNECT_TIMEOUT")),
    yes("options", Some("PGOPTIONS")),
    yes("application_name", Some("PGAPPNAME")),
    yes("fallback_application_name", None),
    yes("keepalives", None),
    yes("keepalives_idle", None),
    yes("keepalives_interval", None),
    yes("keepalives_count", None),
    yes("tcp_user_timeout", None),
    yes("client_encoding", Some("PGCLIENTENCODING")),
    yes("sslmode", Some("PGSSLMODE")),
    yes("sslcompression", Some("PGSSLCOMPRESSION")),
    yes("sslcert", Some("PGSSLCERT")),
    yes("sslkey", Some("PGSSLKEY")),
    yes("sslrootcert", Some("PGSSLROOTCERT")),
    yes("sslcrl", Some("PGSSLCRL")),
    yes("sslsni", Some("PGSSLSNI")),
    yes("ssl_min_protocol_version", Some("PGSSLMINPROTOCOLVERSION")),
    yes("ssl_max_protocol_version", Some("PGSSLMAXPROTOCOLVERSION")),
    yes("sslnegotiation", Some("PGSSLNEGOTIATION")),
    yes("gssencmode", Some("PGGSSENCMODE")),
    yes("target_session_attrs", Some("PGTARGETSESSIONATTRS")),
    yes("load_balance_hosts", Some("PGLOADBALANCEHOSTS")),
    no(
        "sslpassword",
        None,
        "encrypted client keys are not supported: give sslkey an unencrypted key (mode 0600)",
    ),
    no(
        "sslcrldir",
        Some("PGSSLCRLDIR"),
        "CRL directories are not supported: give the CRL file as sslcrl",
    ),
    no(
        "sslcertmode",
        Some("PGSSLCERTMODE"),
        "sslcertmode is not supported: a client certificate is sent whenever sslcert (or ~/.postgresql/postgresql.crt) exists",
    ),
    no(
        "requirepeer",
        Some("PGREQUIREPEER"),
        "requirepeer (checking the server process's user on a Unix socket) is not supported",
    ),
    no(
        "krbsrvname",
        Some("PGKRBSRVNAME"),
        "GSSAPI / Kerberos is not supported",
    ),
    no("gsslib", Some("PGGSSLIB"), "GSSAPI / SSPI is not supported"),
    no(
        "gssdelegation",
        Some("PGGSSDELEGATION"),
        "GSSAPI is not supported",
    ),
    no(
        "require_auth",
        Some("PGREQUIREAUTH"),
        "require_auth is not supported: connscope accepts whatever authentication the server asks for",
    ),
    no(
        "service",
        Some("PGSERVICE"),
        "connection service files (pg_service.conf) are not supported: write the parameters out",
    ),
    no(
        "replication",
        None,
        "replication connections are not probed",
    ),
];

/// Where a parameter's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum From {
    /// The connection string, at this character.
    Url {
        at: usize,
        items_at: Vec<usize>,
    },
    Env(&'static str),
}

#[derive(Debug, Clone)]
pub(super) struct Given {
    pub value: String,
    pub from: From,
}

impl Given {
    /// An error about this value, located where it was given.
    pub(super) fn err(&self, message: impl Into<String>) -> TargetError {
        self.err_item(0, message)
    }

    /// An error about element `i` of a comma-separated list.
    pub(super) fn err_item(&self, i: usize, message: impl Into<String>) -> TargetError {
        match &self.from {
            From::Url { at, items_at } => TargetError {
                var: None,
                at: Some(items_at.get(i).copied().unwrap_or(*at)),
                message: message.into(),
            },
            From::Env(var) => TargetError {
                var: Some((*var).to_string()),
                at: None,
                message: message.into(),
            },
        }
    }

    pub(super) fn origin(&self) -> String {
        match &self.from {
            From::Url { .. } => "url".into(),
            From::Env(v) => (*v).to_string(),
        }
    }
}

/// The parameters given, from the connection string or else the environment, every one known.
pub(super) struct Params(BTreeMap<&'static str, Given>);

impl Params {
    pub(super) fn collect(raw: Vec<Raw>, env: &EnvSnapshot) -> Result<Self, TargetError> {
        let mut map = BTreeMap::new();
        for r in raw {
            let Some(spec) = SPECS.iter().find(|s| s.key == r.key) else {
                return Err(TargetError::at(
                    r.at,
                    format!("unknown connection parameter `{}`", r.key),
                ));
            };
            if let Some(why) = spec.refused {
                return Err(TargetError::at(r.at, format!("`{}`: {why}", spec.key)));
            }
            let from = From::Url {
                at: r.at,
                items_at: r.items_at,
            };
            map.insert(
                spec.key,
                Given {
                    value: r.value,
                    from,
                },
            );
        }
        for spec in SPECS {
            let Some(var) = spec.env else { continue };
            let Some(v) = env.get(var).filter(|v| !v.is_empty()) else {
                continue;
            };
            if map.contains_key(spec.key) {
                continue;
            }
            if let Some(why) = spec.refused {
                return Err(TargetError::env(var, format!("`{}`: {why}", spec.key)));
            }
            let from = From::Env(var);
            map.insert(
                spec.key,
                Given {
                    value: v.clone(),
                    from,
                },
            );
        }
        Ok(Params(map))
    }

    /// A value, unless absent or empty (libpq treats an empty value as not given).
    pub(super) fn get(&self, key: &str) -> Option<&Given> {
        self.0.get(key).filter(|g| !g.value.is_empty())
    }

    pub(super) fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(|g| g.value.as_str())
    }

    pub(super) fn int(&self, key: &str) -> Result<Option<i64>, TargetError> {
        let Some(g) = self.get(key) else {
            return Ok(None);
        };
        g.value.trim().parse::<i64>().map(Some).map_err(|_| {
            g.err(format!(
                "invalid integer value `{}` for connection option `{key}`",
                g.value
            ))
        })
    }

    /// Seconds (or milliseconds for `tcp_user_timeout`); zero or less means "system default".
    pub(super) fn duration(
        &self,
        key: &str,
        unit: Duration,
    ) -> Result<Option<Duration>, TargetError> {
        Ok(self
            .int(key)?
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v > 0)
            .map(|v| unit * v))
    }

    pub(super) fn choice<T: Copy>(
        &self,
        key: &str,
        options: &[(&str, T)],
        default: T,
    ) -> Result<T, TargetError> {
        let Some(g) = self.get(key) else {
            return Ok(default);
        };
        options
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&g.value))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                g.err(format!(
                    "invalid {key} `{}` (one of {})",
                    g.value,
                    names.join(", ")
                ))
            })
    }

    /// A value connscope only supports in some of its settings: the others are refused by name.
    pub(super) fn only(&self, key: &str, supported: &[&str], why: &str) -> Result<(), TargetError> {
        match self.get(key) {
            Some(g)
                if !supported
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(g.value.trim())) =>
            {
                Err(g.err(format!("`{key}={}` is not supported: {why}", g.value)))
            }
            _ => Ok(()),
        }
    }
}

pub(super) fn sslmode(p: &Params, default: SslMode) -> Result<SslMode, TargetError> {
    p.choice(
        "sslmode",
        &[
            ("disable", SslMode::Disable),
            ("allow", SslMode::Allow),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ],
        default,
    )
}

pub(super) fn session_attrs(p: &Params) -> Result<TargetSessionAttrs, TargetError> {
    use TargetSessionAttrs as T;
    p.choice(
        "target_session_attrs",
        &[
            ("any", T::Any),
            ("read-write", T::ReadWrite),
            ("read-only", T::ReadOnly),
            ("primary", T::Primary),
            ("standby", T::Standby),
            ("prefer-standby", T::PreferStandby),
        ],
        T::Any,
    )
}

pub(super) fn channel_binding(p: &Params) -> Result<ChannelBinding, TargetError> {
    p.choice(
        "channel_binding",
        &[
            ("disable", ChannelBinding::Disable),
            ("prefer", ChannelBinding::Prefer),
            ("require", ChannelBinding::Require),
        ],
        ChannelBinding::Prefer,
    )
}

/// `ssl_min_protocol_version` / `ssl_max_protocol_version`: rustls speaks TLS 1.2 and 1.3 only.
pub(super) fn tls_version(p: &Params, key: &str) -> Result<Option<TlsVersion>, TargetError> {
    p.only(
        key,
        &["TLSv1.2", "TLSv1.3"],
        "connscope's TLS (rustls) speaks TLS 1.2 and 1.3 only",
    )?;
    Ok(p.value(key).map(|v| {
        if v.eq_ignore_ascii_case("TLSv1.3") {
            TlsVersion::V13
        } else {
            TlsVersion::V12
        }
    }))
}

/// The parameters connscope accepts only in the setting it behaves as: checked so that any
/// other setting is refused by name.
pub(super) fn check_fixed(p: &Params) -> Result<(), TargetError> {
    p.only(
        "client_encoding",
        &["UTF8", "UTF-8", "unicode", "auto"],
        "connscope always talks UTF8 (as libpq does with `auto` in a UTF-8 locale)",
    )?;
    p.only(
        "gssencmode",
        &["disable", "prefer"],
        "GSSAPI encryption is not supported (`prefer` behaves as libpq without Kerberos credentials)",
    )?;
    p.only(
        "sslcompression",
        &["0"],
        "TLS compression is not supported (OpenSSL builds of libpq do not compress either)",
    )?;
    p.only(
        "load_balance_hosts",
        &["disable"],
        "hosts are tried in the order given",
    )?;
    p.only(
        "sslnegotiation",
        &["postgres"],
        "direct TLS negotiation (PostgreSQL 17) is not supported",
    )?;
    p.only("sslsni", &["0", "1"], "sslsni is 0 or 1")?;
    Ok(())
}
