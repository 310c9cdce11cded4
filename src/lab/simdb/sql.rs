//! The few statements the simulated database understands: what connscope's probes and the
//! lab's own service send. Anything else is an error with SQLSTATE 0A000 (not supported), never
//! a made-up answer.

use pgwire::api::Type;
use pgwire::error::{ErrorInfo, PgWireError};

/// A recognised statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SimQuery {
    /// `SELECT 1` (any integer literal).
    Literal(i32),
    /// `SHOW x` / `SELECT current_setting('x')`, optionally cast to an integer.
    Setting {
        name: String,
        column: String,
        int: bool,
    },
    /// `SELECT count(*) FROM pg_stat_activity …`: connections in use; `others` when the query
    /// leaves out its own session (`pid <> pg_backend_pid()`).
    ActiveConnections {
        others: bool,
    },
    Version,
    /// `SET`, `RESET`, `BEGIN`, `COMMIT`, `ROLLBACK`, `DISCARD`: acknowledged, no effect.
    Command(String),
}

/// A value in a one-row answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cell {
    Int4(i32),
    Int8(i64),
    Text(String),
}

impl Cell {
    pub(super) fn pg_type(&self) -> Type {
        match self {
            Cell::Int4(_) => Type::INT4,
            Cell::Int8(_) => Type::INT8,
            Cell::Text(_) => Type::TEXT,
        }
    }
}

/// The live numbers an answer may need.
#[derive(Debug, Clone, Copy)]
pub(super) struct Facts {
    pub max_connections: u32,
    pub in_use: u32,
}

pub(super) const SERVER_VERSION: &str = "16.6";

impl SimQuery {
    pub(super) fn parse(sql: &str) -> Result<SimQuery, PgWireError> {
        let norm = normalize(sql);
        parse_normalized(&norm).ok_or_else(|| unsupported(sql))
    }

    /// Column name and type, known before running (for Describe).
    pub(super) fn column(&self) -> Option<(String, Type)> {
        let (name, ty) = match self {
            SimQuery::Literal(_) => ("?column?".to_string(), Type::INT4),
            SimQuery::Setting { column, int, .. } => {
                (column.clone(), if *int { Type::INT4 } else { Type::TEXT })
            }
            SimQuery::ActiveConnections { .. } => ("count".to_string(), Type::INT8),
            SimQuery::Version => ("version".to_string(), Type::TEXT),
            SimQuery::Command(_) => return None,
        };
        Some((name, ty))
    }

    /// The single cell of the answer, or `None` for a command.
    pub(super) fn answer(&self, facts: Facts) -> Result<Option<Cell>, PgWireError> {
        let cell = match self {
            SimQuery::Literal(n) => Cell::Int4(*n),
            SimQuery::ActiveConnections { others } => {
                Cell::Int8(i64::from(facts.in_use.saturating_sub(u32::from(*others))))
            }
            SimQuery::Version => Cell::Text(format!(
                "PostgreSQL {SERVER_VERSION} (connscope lab simulated database)"
            )),
            SimQuery::Setting { name, int, .. } => {
                let value = setting(name, facts).ok_or_else(|| unknown_setting(name))?;
                if *int {
                    Cell::Int4(value.parse().map_err(|_| unknown_setting(name))?)
                } else {
                    Cell::Text(value)
                }
            }
            SimQuery::Command(_) => return Ok(None),
        };
        Ok(Some(cell))
    }
}

fn setting(name: &str, facts: Facts) -> Option<String> {
    let v = match name {
        "max_connections" => facts.max_connections.to_string(),
        "superuser_reserved_connections" | "reserved_connections" => "0".into(),
        "server_version" => SERVER_VERSION.into(),
        "server_version_num" => "160006".into(),
        "statement_timeout" => "0".into(),
        "application_name" => String::new(),
        _ => return None,
    };
    Some(v)
}

fn normalize(sql: &str) -> String {
    let lower = sql.trim().trim_end_matches(';').trim().to_ascii_lowercase();
    lower.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn parse_normalized(q: &str) -> Option<SimQuery> {
    let first = q.split(' ').next().unwrap_or_default();
    if matches!(
        first,
        "set" | "reset" | "begin" | "commit" | "rollback" | "discard"
    ) {
        return Some(SimQuery::Command(first.to_ascii_uppercase()));
    }
    if let Some(name) = q.strip_prefix("show ") {
        return Some(SimQuery::Setting {
            name: name.to_string(),
            column: name.to_string(),
            int: false,
        });
    }
    let rest = q.strip_prefix("select ")?;
    if rest == "version()" {
        return Some(SimQuery::Version);
    }
    if rest.starts_with("count(*) from pg_stat_activity") {
        let others = rest.contains("pg_backend_pid()");
        return Some(SimQuery::ActiveConnections { others });
    }
    if let Some(setting) = parse_current_setting(rest) {
        return Some(setting);
    }
    rest.parse::<i32>().ok().map(SimQuery::Literal)
}

/// `current_setting('name')`, optionally followed by `::int` / `::integer` / `::int4`.
fn parse_current_setting(rest: &str) -> Option<SimQuery> {
    let inner = rest.strip_prefix("current_setting('")?;
    let (name, tail) = inner.split_once("')")?;
    let int = match tail.trim() {
        "" => false,
        "::int" | "::integer" | "::int4" => true,
        _ => return None,
    };
    Some(SimQuery::Setting {
        name: name.to_string(),
        column: "current_setting".to_string(),
        int,
    })
}

fn error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        message,
    )))
}

fn unsupported(sql: &str) -> PgWireError {
    let shown: String = sql.chars().take(80).collect();
    error(
        "0A000",
        format!(
            "the lab's simulated database does not support `{shown}`; it answers SELECT 1, \
             SHOW / current_setting(...), SELECT count(*) FROM pg_stat_activity, SELECT version()"
        ),
    )
}

fn unknown_setting(name: &str) -> PgWireError {
    error(
        "42704",
        format!("unrecognized configuration parameter \"{name}\""),
    )
}

/// Splits a simple-query string into statements (no quoting rules: the vocabulary has none
/// that contain `;`).
pub(super) fn statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(';').filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTS: Facts = Facts {
        max_connections: 20,
        in_use: 3,
    };

    fn answer(sql: &str) -> Option<Cell> {
        SimQuery::parse(sql).ok()?.answer(FACTS).ok()?
    }

    #[test]
    fn the_probe_vocabulary_is_answered() {
        assert_eq!(answer("SELECT 1"), Some(Cell::Int4(1)));
        assert_eq!(answer("select  1 ;"), Some(Cell::Int4(1)));
        assert_eq!(
            answer("SHOW max_connections"),
            Some(Cell::Text("20".into()))
        );
        assert_eq!(
            answer("SELECT current_setting('max_connections')"),
            Some(Cell::Text("20".into()))
        );
        assert_eq!(
            answer("SELECT current_setting('max_connections')::int"),
            Some(Cell::Int4(20))
        );
        assert_eq!(
            answer("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"),
            Some(Cell::Int8(3))
        );
        assert_eq!(answer("SET statement_timeout = 5000"), None);
    }

    #[test]
    fn anything_else_is_an_error_not_an_answer() {
        fn code<T>(r: Result<T, PgWireError>) -> Option<String> {
            r.err().map(|e| e.code().to_string())
        }
        assert_eq!(
            code(SimQuery::parse("SELECT * FROM users")).as_deref(),
            Some("0A000")
        );
        assert_eq!(
            code(SimQuery::parse("DROP TABLE x")).as_deref(),
            Some("0A000")
        );
        let unknown = SimQuery::parse("SHOW work_mem").and_then(|q| q.answer(FACTS));
        assert_eq!(code(unknown).as_deref(), Some("42704"));
    }

    #[test]
    fn statements_are_split_on_semicolons() {
        let parts: Vec<&str> = statements("SET a = 1; SELECT 1;").collect();
        assert_eq!(parts, vec!["SET a = 1", " SELECT 1"]);
    }
}
