//! `config show` and `config check`.

use std::fmt::Write;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::cli::{ConfigCommand, Format, Global};
use crate::config::{Config, FindingLevel, Source, duration};
use crate::error::{AppError, AppResult};
use crate::exit::ExitCode;

pub(super) fn run(g: &Global, c: &ConfigCommand) -> AppResult<ExitCode> {
    let config = super::load_config(g)?;
    match c {
        ConfigCommand::Show { format } => show(&config, *format),
        ConfigCommand::Check { format } => check(&config, *format),
    }
}

#[derive(Serialize)]
struct Entry {
    key: String,
    value: Value,
    source: Source,
    /// For timeouts: the capacity-aware value (base + 20 s + 20 % on Cloud SQL).
    #[serde(skip_serializing_if = "Option::is_none")]
    capacity_aware: Option<String>,
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        _ => out.push((prefix.to_string(), v.clone())),
    }
}

fn entries(c: &Config) -> Vec<Entry> {
    let mut flat = Vec::new();
    flatten("", &crate::record::redacted_settings(c), &mut flat);
    let mut out: Vec<Entry> = flat
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(key, value)| {
            let capacity_aware = key
                .strip_prefix("timeouts.")
                .and_then(|_| value.as_str())
                .and_then(|s| duration::parse(s).ok())
                .map(|d| duration::format(c.capacity_aware(d)));
            Entry {
                source: c.source(&key),
                key,
                value,
                capacity_aware,
            }
        })
        .collect();
    let cap = c.capacity_cap();
    out.push(Entry {
        key: "capacity.cap".into(),
        value: Value::from(cap.cap),
        source: Source::Derived,
        capacity_aware: None,
    });
    if let Some(t) = &c.database {
        for (part, from) in &t.origin {
            out.push(Entry {
                key: format!("database.target.{part}"),
                value: Value::String(if *part == "password" {
                    crate::secret::MASK.into()
                } else {
                    target_part(t, part)
                }),
                source: origin_source(c, from),
                capacity_aware: None,
            });
        }
    }
    out
}

/// Where a part of the database target came from, in the words `config show` uses.
fn origin_source(c: &Config, from: &str) -> Source {
    match from {
        "url" => c.source("database.url"),
        "database.password" => c.source("database.password"),
        "default" => Source::Default,
        v if v.starts_with("PG") => Source::Env { var: v.to_string() },
        path => Source::PasswordFile {
            path: path.to_string(),
        },
    }
}

fn target_part(t: &crate::config::DbTarget, part: &str) -> String {
    match part {
        "host" => t.endpoint_label(),
        "port" => t.port.to_string(),
        "user" => t.user.clone(),
        "dbname" => t.dbname.clone(),
        "sslmode" => t.sslmode.as_str().into(),
        _ => String::new(),
    }
}

fn show(c: &Config, format: Format) -> AppResult<ExitCode> {
    let entries = entries(c);
    match format {
        Format::Json => {
            let mut m = Map::new();
            m.insert(
                "environment".into(),
                Value::String(c.settings.environment.clone()),
            );
            m.insert(
                "file".into(),
                c.file.clone().map_or(Value::Null, Value::String),
            );
            m.insert(
                "target".into(),
                c.database
                    .as_ref()
                    .map_or(Value::Null, |t| Value::String(t.redacted())),
            );
            m.insert(
                "settings".into(),
                serde_json::to_value(&entries).unwrap_or(Value::Null),
            );
            let json = serde_json::to_string_pretty(&Value::Object(m)).unwrap_or_default();
            crate::output::stdout(&format!("{json}\n"))?;
        }
        Format::Text => crate::output::stdout(&show_text(c, &entries))?,
        Format::Markdown | Format::Junit | Format::Html => {
            return Err(AppError::usage(
                "config show supports --format text or json",
            ));
        }
    }
    Ok(ExitCode::Pass)
}

fn show_text(c: &Config, entries: &[Entry]) -> String {
    let mut o = String::new();
    let cloud = if c.settings.cloud_sql {
        "Cloud SQL"
    } else {
        "no Cloud SQL"
    };
    let _ = writeln!(
        o,
        "environment {} ({cloud}){}",
        c.settings.environment,
        c.file
            .as_deref()
            .map(|f| format!(", file {f}"))
            .unwrap_or_default()
    );
    if let Some(t) = &c.database {
        let _ = writeln!(o, "target      {}", t.redacted());
    }
    let width = entries.iter().map(|e| e.key.len()).max().unwrap_or(10);
    let mut section = "";
    for e in entries {
        let top = e.key.split('.').next().unwrap_or("");
        if top != section {
            let _ = writeln!(o);
            section = top;
        }
        let value = match &e.value {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        let aware = e
            .capacity_aware
            .as_deref()
            .map(|a| format!("  (capacity-aware {a})"))
            .unwrap_or_default();
        let _ = writeln!(o, "{:<width$}  {value}{aware}  ← {}", e.key, e.source);
    }
    o
}

fn check(c: &Config, format: Format) -> AppResult<ExitCode> {
    let findings = c.findings();
    let worst = findings.iter().map(|f| f.level).max();
    let code = match worst {
        Some(FindingLevel::Fail) => ExitCode::Fail,
        Some(FindingLevel::Warn) => ExitCode::Warn,
        _ => ExitCode::Pass,
    };
    match format {
        Format::Json => {
            let v = serde_json::json!({ "valid": true, "environment": c.settings.environment, "findings": findings, "exit_code": code });
            let json = serde_json::to_string_pretty(&v).unwrap_or_default();
            crate::output::stdout(&format!("{json}\n"))?;
        }
        Format::Text => {
            let mut o = format!(
                "configuration is valid (environment {})\n",
                c.settings.environment
            );
            for f in &findings {
                let level = match f.level {
                    FindingLevel::Fail => "FAIL",
                    FindingLevel::Warn => "warn",
                    FindingLevel::Info => "info",
                };
                let _ = writeln!(o, "  [{level}] {}: {}", f.key, f.message);
            }
            if findings.is_empty() {
                o.push_str("  no findings\n");
            }
            crate::output::stdout(&o)?;
        }
        Format::Markdown | Format::Junit | Format::Html => {
            return Err(AppError::usage(
                "config check supports --format text or json",
            ));
        }
    }
    Ok(code)
}
