//! Where each configuration value came from, so `config show` can say it and errors can point
//! at it.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// connscope's own default (not part of any profile).
    Default,
    Profile {
        env: String,
    },
    File {
        path: String,
        line: usize,
        col: usize,
    },
    Env {
        var: String,
    },
    Flag {
        flag: String,
    },
    /// Computed from other values (capacity cap, capacity-aware timeouts).
    Derived,
    /// Set by the lab for the scenario it runs.
    Lab,
    /// A libpq password file (~/.pgpass or PGPASSFILE).
    PasswordFile {
        path: String,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::Profile { env } => write!(f, "profile {env}"),
            Source::File { path, line, col } => write!(f, "file {path}:{line}:{col}"),
            Source::Env { var } => write!(f, "env {var}"),
            Source::Flag { flag } => write!(f, "flag {flag}"),
            Source::Derived => f.write_str("derived"),
            Source::Lab => f.write_str("lab"),
            Source::PasswordFile { path } => write!(f, "password file {path}"),
        }
    }
}

impl Source {
    /// The prefix of an error message about a value from this source: `file:line:col`, the
    /// variable or the flag.
    pub fn location(&self) -> String {
        match self {
            Source::File { path, line, col } => format!("{path}:{line}:{col}"),
            Source::Env { var } => var.clone(),
            Source::Flag { flag } => flag.clone(),
            Source::Profile { env } => format!("built-in profile `{env}`"),
            Source::PasswordFile { path } => path.clone(),
            Source::Default | Source::Derived | Source::Lab => "configuration".into(),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 11), (2, 6));
        assert_eq!(line_col(text, 999), (3, 1));
    }
}
