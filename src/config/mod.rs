//! Configuration: built-in environment profiles, a TOML file, environment variables and flags,
//! merged in that order of increasing precedence into one `Settings`, with the source of every
//! value kept for `config show` and for error messages (`file:line:col: what is wrong`).

pub(crate) mod duration;
mod findings;
mod layers;
pub(crate) mod schema;
mod source;
pub mod target;
mod validate;
mod zone;

use std::collections::BTreeMap;
use std::time::Duration;

use toml::{Table, Value};

pub use findings::{ConfigFinding, FindingLevel};
pub use schema::*;
pub use source::Source;
pub use target::{ChannelBinding, DbHost, DbTarget, EnvSnapshot, SslMode, TargetSessionAttrs};
pub use zone::LogZone;

use layers::{FileLayer, Layered};

const PROFILES: &str = include_str!("profiles.toml");
pub(crate) const ENVIRONMENTS: [&str; 4] = ["development", "test", "staging", "production"];
const DEFAULT_ENVIRONMENT: &str = "development";

/// A configuration problem, located where the bad value was given.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {}", crate::secret::scrub(.message))]
pub struct ConfigError {
    pub location: String,
    pub message: String,
    /// The bad value was given as a command-line flag: a usage error (exit 64), not 78.
    pub(crate) from_flag: bool,
    /// The error beneath (the file system's, the connection string's), said after `message`.
    #[source]
    pub cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ConfigError {
    pub fn at(source: Source, message: impl Into<String>) -> Self {
        Self {
            location: source.location(),
            message: message.into(),
            from_flag: matches!(source, Source::Flag { .. }),
            cause: None,
        }
    }

    fn plain(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
            from_flag: false,
            cause: None,
        }
    }

    fn caused_by(self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            cause: Some(Box::new(cause)),
            ..self
        }
    }
}

/// A configuration file larger than this is refused before it is parsed: a real one is a few
/// kilobytes, and parsing is what would cost memory (a 100 MB file of comments took 1 GB).
pub(crate) const MAX_FILE_BYTES: u64 = 1 << 20;

/// A value given on the command line, as the dotted key it overrides.
#[derive(Debug, Clone)]
pub struct FlagOverride {
    pub key: &'static str,
    pub value: Value,
    pub flag: &'static str,
}

#[derive(Debug, Default, Clone)]
pub struct LoadOptions {
    pub file: Option<String>,
    pub flags: Vec<FlagOverride>,
    pub env: EnvSnapshot,
    /// Values the lab sets for its scenario (addresses, time-scaled timeouts): above the file
    /// and environment, below flags.
    pub lab: Vec<(String, Value)>,
}

impl LoadOptions {
    pub(crate) fn from_process(file: Option<String>, flags: Vec<FlagOverride>) -> Self {
        Self {
            file,
            flags,
            env: std::env::vars().collect(),
            lab: Vec::new(),
        }
    }
}

/// The effective configuration and where each value came from.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub(crate) sources: BTreeMap<String, Source>,
    pub file: Option<String>,
    pub database: Option<DbTarget>,
}

/// The concurrency a capacity test may use without `--force`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CapacityCap {
    pub limit: u32,
    pub safety_margin: f64,
    pub reserved: u32,
    pub cap: u32,
}

impl Config {
    pub fn load(opts: &LoadOptions) -> Result<Config, ConfigError> {
        let file = match &opts.file {
            Some(path) => Some(FileLayer::parse(path, read_text(path)?)?),
            None => None,
        };
        let (environment, env_source) = pick_environment(opts, file.as_ref())?;
        let mut layered = Layered::default();
        layered.overlay(profile_table(&environment)?, &|_| Source::Profile {
            env: environment.clone(),
        });
        layered.set(
            "environment",
            Value::String(environment.clone()),
            env_source,
        );
        if let Some(f) = &file {
            let mut table = f.table.clone();
            table.remove("environment");
            layered.overlay(table, &|path| f.source(path, false));
        }
        overlay_env(&mut layered, &opts.env);
        for (key, value) in opts.lab.iter().filter(|(k, _)| k != "environment") {
            layered.set(key, value.clone(), Source::Lab);
        }
        for flag in &opts.flags {
            layered.set(
                flag.key,
                flag.value.clone(),
                Source::Flag {
                    flag: flag.flag.into(),
                },
            );
        }
        let settings = deserialize(&layered, file.as_ref())?;
        register_secrets(&settings);
        validate::settings(&settings, &|key| {
            locate(&layered, file.as_ref(), key, false)
        })?;
        let database = resolve_database(&settings, &layered, file.as_ref(), &opts.env)?;
        Ok(Config {
            settings,
            sources: layered.sources,
            file: opts.file.clone(),
            database,
        })
    }

    pub fn source(&self, key: &str) -> Source {
        let mut p = key.to_string();
        loop {
            if let Some(s) = self.sources.get(&p) {
                return s.clone();
            }
            match p.rfind(['.', '[']) {
                Some(cut) => p.truncate(cut),
                None => return Source::Default,
            }
        }
    }

    /// `base + VPC scaling buffer + capacity buffer × base` on Cloud SQL; `base` elsewhere.
    pub fn capacity_aware(&self, base: Duration) -> Duration {
        capacity_aware(&self.settings, base)
    }

    pub(crate) fn capacity_cap(&self) -> CapacityCap {
        let s = &self.settings;
        let limit = s
            .capacity
            .concurrent_limit
            .or(s.vpc_connector.map(|v| v.concurrent_connection_limit))
            .unwrap_or(s.pool.size.saturating_add(s.pool.max_overflow));
        let margin = s.pool.safety_margin;
        let reserved = s.pool.reserved_for_scaling;
        let usable = (f64::from(limit) * margin + 1e-9).floor() as u32;
        CapacityCap {
            limit,
            safety_margin: margin,
            reserved,
            cap: usable.saturating_sub(reserved),
        }
    }

    pub fn findings(&self) -> Vec<ConfigFinding> {
        findings::of(self)
    }
}

/// Saturating: every input is bounded at the door, but no sum of durations may panic.
pub fn capacity_aware(s: &Settings, base: Duration) -> Duration {
    match (s.cloud_sql, s.capacity_aware) {
        (true, Some(ca)) => base
            .saturating_add(ca.vpc_scaling_buffer)
            .saturating_add(duration::mul_f64(base, ca.capacity_buffer)),
        _ => base,
    }
}

/// A config file as text, at most `MAX_FILE_BYTES` of it (also from a pipe or a device,
/// which is read no further than that); bytes that are not UTF-8 are reported where they start.
fn read_text(path: &str) -> Result<String, ConfigError> {
    use std::io::Read as _;
    let cannot =
        |e: std::io::Error| ConfigError::plain(path, "cannot read config file").caused_by(e);
    let file = std::fs::File::open(path).map_err(cannot)?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(ConfigError::plain(
            path,
            "cannot read config file: it is a directory",
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ConfigError::plain(
            path,
            format!(
                "config file is larger than {} KiB; refused before parsing",
                MAX_FILE_BYTES / 1024
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let before =
            std::str::from_utf8(e.as_bytes().get(..valid).unwrap_or_default()).unwrap_or_default();
        let (line, col) = source::line_col(before, before.len());
        ConfigError::at(
            Source::File {
                path: path.to_string(),
                line,
                col,
            },
            "not valid UTF-8 (a TOML file must be UTF-8 text)",
        )
    })
}

fn profiles() -> Result<Table, ConfigError> {
    toml::from_str(PROFILES).map_err(|e| ConfigError::plain("built-in profiles", e.message()))
}

/// The built-in profile for `env` as a partial configuration table.
pub(crate) fn profile_table(env: &str) -> Result<Table, ConfigError> {
    match profiles()?.remove(env) {
        Some(Value::Table(t)) => Ok(t),
        _ => Err(ConfigError::plain(
            "environment",
            format!("unknown environment `{env}`"),
        )),
    }
}

fn pick_environment(
    opts: &LoadOptions,
    file: Option<&FileLayer>,
) -> Result<(String, Source), ConfigError> {
    let flag = opts.flags.iter().find(|f| f.key == "environment");
    let lab = opts.lab.iter().find(|(k, _)| k == "environment");
    let (name, source) = if let Some(f) = flag {
        (
            f.value.as_str().unwrap_or_default().to_string(),
            Source::Flag {
                flag: f.flag.into(),
            },
        )
    } else if let Some((_, v)) = lab {
        (v.as_str().unwrap_or_default().to_string(), Source::Lab)
    } else if let Some(v) = opts.env.get("CONNSCOPE_ENV").filter(|v| !v.is_empty()) {
        (
            v.clone(),
            Source::Env {
                var: "CONNSCOPE_ENV".into(),
            },
        )
    } else if let Some(f) = file.filter(|f| f.table.contains_key("environment")) {
        let name = f.table["environment"].as_str().ok_or_else(|| {
            ConfigError::at(
                f.source("environment", false),
                "`environment` must be a string",
            )
        })?;
        (name.to_string(), f.source("environment", false))
    } else {
        (DEFAULT_ENVIRONMENT.to_string(), Source::Default)
    };
    if !ENVIRONMENTS.contains(&name.as_str()) {
        return Err(ConfigError::at(
            source,
            format!(
                "unknown environment `{name}`; expected one of {}",
                ENVIRONMENTS.join(", ")
            ),
        ));
    }
    Ok((name, source))
}

/// `DATABASE_URL`, and `CONNSCOPE_SECTION__KEY=value` for any key (`__` separates levels).
fn overlay_env(layered: &mut Layered, env: &EnvSnapshot) {
    if let Some(url) = env.get("DATABASE_URL").filter(|v| !v.is_empty()) {
        layered.set(
            "database.url",
            Value::String(url.clone()),
            Source::Env {
                var: "DATABASE_URL".into(),
            },
        );
    }
    for (var, raw) in env {
        let Some(rest) = var.strip_prefix("CONNSCOPE_") else {
            continue;
        };
        if rest == "ENV" || rest == "CONFIG" || !rest.contains("__") {
            continue;
        }
        let key = rest
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
            .join(".");
        layered.set(&key, env_value(raw), Source::Env { var: var.clone() });
    }
}

/// An environment variable's text as a TOML value: `5` is a number, `true` a boolean,
/// `["a","b"]` a list; anything else (`2s`, a URL) is a string.
fn env_value(raw: &str) -> Value {
    toml::from_str::<Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

fn locate(layered: &Layered, file: Option<&FileLayer>, path: &str, key_span: bool) -> Source {
    match (layered.source_of(path), file) {
        (Some(Source::File { .. }), Some(f)) => f.source(path, key_span),
        (Some(s), _) => s.clone(),
        (None, _) => Source::Default,
    }
}

fn deserialize(layered: &Layered, file: Option<&FileLayer>) -> Result<Settings, ConfigError> {
    let value = Value::Table(layered.table.clone());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().message().trim().to_string();
        let unknown = message
            .strip_prefix("unknown field `")
            .and_then(|m| m.split('`').next())
            .map(|field| {
                if path == "." || path.ends_with(field) {
                    path.clone()
                } else {
                    format!("{path}.{field}")
                }
            });
        let (at, key_span) = match unknown {
            Some(p) => (p.trim_start_matches('.').to_string(), true),
            None => (path.clone(), false),
        };
        let source = locate(layered, file, &at, key_span);
        let what = if key_span { at.clone() } else { path };
        ConfigError::at(source, format!("{what}: {message}"))
    })
}

/// Every credential the settings carry, known to the scrubber before anything can print it:
/// the database password, passwords and tokens in endpoint and WebSocket URLs, and those on
/// the startup log command's line. (The resolved database target registers its own.)
fn register_secrets(s: &Settings) {
    if let Some(pw) = &s.database.password {
        crate::secret::register(pw);
    }
    if let Some(url) = &s.database.url {
        crate::secret::register_url(url);
    }
    let urls = s
        .endpoints
        .iter()
        .flat_map(|e| std::iter::once(&e.url).chain(e.websocket.as_ref()))
        .chain(&s.websockets);
    for u in urls {
        crate::secret::register_url(u);
    }
    if let Some(c) = &s.startup.command {
        crate::secret::register_command(c);
    }
}

fn resolve_database(
    s: &Settings,
    layered: &Layered,
    file: Option<&FileLayer>,
    env: &EnvSnapshot,
) -> Result<Option<DbTarget>, ConfigError> {
    let r = target::Resolve {
        url: s.database.url.as_deref(),
        config_password: s.database.password.as_deref(),
        application_name: &s.database.application_name,
        env,
    };
    target::resolve(&r).map_err(|e| {
        let source = match (&e.var, s.database.url.is_some()) {
            (Some(var), _) => Source::Env { var: var.clone() },
            (None, true) => locate(layered, file, "database.url", false),
            (None, false) => Source::Env {
                var: "PG* environment".into(),
            },
        };
        // A connection string that cannot be used is a configuration error (78) wherever it
        // was given, as libpq treats it — not a usage error of the flag that carried it.
        ConfigError {
            from_flag: false,
            ..ConfigError::at(source, "database.url").caused_by(e)
        }
    })
}

#[cfg(test)]
mod tests;
