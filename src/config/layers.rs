//! Merging profile → file → environment → flags into one TOML table while remembering, for
//! every leaf, which layer set it. Arrays are leaves: a layer that sets `endpoints` replaces
//! the whole list, as a person editing a file would expect.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::{Table, Value};

use super::source::{Source, line_col};

#[derive(Debug, Default, Clone)]
pub(super) struct Layered {
    pub table: Table,
    pub(crate) sources: BTreeMap<String, Source>,
}

impl Layered {
    /// Deep-merges `layer` on top, attributing each leaf it sets with `source_of(key_path)`.
    pub(super) fn overlay(&mut self, layer: Table, source_of: &dyn Fn(&str) -> Source) {
        merge(&mut self.table, layer, "", &mut self.sources, source_of);
    }

    /// Sets one dotted key, creating tables on the way.
    pub(super) fn set(&mut self, key: &str, value: Value, source: Source) {
        let mut layer = Table::new();
        let mut parts: Vec<&str> = key.split('.').collect();
        let last = parts.pop().unwrap_or(key);
        let mut cursor = &mut layer;
        for part in parts {
            cursor = match cursor
                .entry(part.to_string())
                .or_insert_with(|| Value::Table(Table::new()))
            {
                Value::Table(t) => t,
                _ => return,
            };
        }
        cursor.insert(last.to_string(), value);
        self.overlay(layer, &|_| source.clone());
    }

    /// The source of `path`, of its nearest attributed ancestor, or (for a table) of its
    /// first attributed descendant.
    pub(super) fn source_of(&self, path: &str) -> Option<&Source> {
        let below = format!("{path}.");
        if let Some((_, s)) = self
            .sources
            .range(below.clone()..)
            .next()
            .filter(|(k, _)| k.starts_with(&below))
        {
            return Some(s);
        }
        let mut p = path.to_string();
        loop {
            if let Some(s) = self.sources.get(&p) {
                return Some(s);
            }
            let cut = p.rfind(['.', '['])?;
            p.truncate(cut);
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn merge(
    dst: &mut Table,
    src: Table,
    prefix: &str,
    sources: &mut BTreeMap<String, Source>,
    source_of: &dyn Fn(&str) -> Source,
) {
    for (key, value) in src {
        let path = join(prefix, &key);
        match (dst.get_mut(&key), value) {
            (Some(Value::Table(d)), Value::Table(s)) => merge(d, s, &path, sources, source_of),
            (_, value) => {
                sources.retain(|k, _| !(k == &path || k.starts_with(&format!("{path}."))));
                attribute(&value, &path, sources, source_of);
                dst.insert(key, value);
            }
        }
    }
}

fn attribute(
    value: &Value,
    path: &str,
    sources: &mut BTreeMap<String, Source>,
    source_of: &dyn Fn(&str) -> Source,
) {
    match value {
        Value::Table(t) if !t.is_empty() => {
            for (k, v) in t {
                attribute(v, &join(path, k), sources, source_of);
            }
        }
        _ => {
            sources.insert(path.to_string(), source_of(path));
        }
    }
}

/// Byte spans of every key and value in a TOML document, by path (`a.b`, `list[0].c`).
#[derive(Debug, Default, Clone)]
pub(super) struct Spans {
    pub keys: BTreeMap<String, Range<usize>>,
    pub values: BTreeMap<String, Range<usize>>,
}

impl Spans {
    pub(super) fn collect(doc: &DeTable<'_>) -> Self {
        let mut spans = Spans::default();
        spans.walk_table(doc, "");
        spans
    }

    fn walk_table(&mut self, table: &DeTable<'_>, prefix: &str) {
        for (key, value) in table.iter() {
            let path = join(prefix, key.get_ref());
            self.keys.insert(path.clone(), key.span());
            self.walk_value(value.get_ref(), value.span(), &path);
        }
    }

    fn walk_value(&mut self, value: &DeValue<'_>, span: Range<usize>, path: &str) {
        self.values.insert(path.to_string(), span);
        match value {
            DeValue::Table(t) => self.walk_table(t, path),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    self.keys.entry(p.clone()).or_insert_with(|| item.span());
                    self.walk_value(item.get_ref(), item.span(), &p);
                }
            }
            _ => {}
        }
    }
}

/// A parsed config file: its values, and a way to turn a key path into `file:line:col`.
pub(super) struct FileLayer {
    pub path: String,
    pub text: String,
    pub table: Table,
    pub spans: Spans,
}

impl FileLayer {
    pub(super) fn parse(path: &str, text: String) -> Result<Self, super::ConfigError> {
        let spans = match DeTable::parse(&text) {
            Ok(doc) => Spans::collect(doc.get_ref()),
            Err(e) => return Err(Self::syntax_error(path, &text, &e)),
        };
        let table: Table =
            toml::from_str(&text).map_err(|e| Self::syntax_error(path, &text, &e))?;
        Ok(Self {
            path: path.to_string(),
            text,
            table,
            spans,
        })
    }

    fn syntax_error(path: &str, text: &str, e: &toml::de::Error) -> super::ConfigError {
        let (line, col) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        super::ConfigError::at(
            Source::File {
                path: path.into(),
                line,
                col,
            },
            format!("TOML syntax error: {}", e.message().trim()),
        )
    }

    /// Location of the value at `path` (or of the key, for an unknown key).
    pub(super) fn source(&self, path: &str, key_span: bool) -> Source {
        let map = if key_span {
            &self.spans.keys
        } else {
            &self.spans.values
        };
        let span = map.get(path).or_else(|| self.spans.keys.get(path));
        let (line, col) = span.map_or((1, 1), |s| line_col(&self.text, s.start));
        Source::File {
            path: self.path.clone(),
            line,
            col,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        toml::from_str(text).expect("valid toml")
    }

    #[test]
    fn later_layers_win_and_are_attributed_leaf_by_leaf() {
        let mut l = Layered::default();
        let profile = || Source::Profile {
            env: "staging".into(),
        };
        l.overlay(table("[t]\na = 1\nb = 2\n"), &|_| profile());
        l.overlay(table("[t]\nb = 3\n"), &|_| Source::Flag {
            flag: "--b".into(),
        });
        assert_eq!(l.table["t"]["a"].as_integer(), Some(1));
        assert_eq!(l.table["t"]["b"].as_integer(), Some(3));
        assert_eq!(l.sources["t.a"], profile());
        assert_eq!(l.sources["t.b"], Source::Flag { flag: "--b".into() });
    }

    #[test]
    fn arrays_are_replaced_whole() {
        let mut l = Layered::default();
        l.overlay(table("xs = [1, 2, 3]"), &|_| Source::Default);
        l.overlay(table("xs = [9]"), &|_| Source::Env { var: "X".into() });
        assert_eq!(l.table["xs"].as_array().map(Vec::len), Some(1));
        assert_eq!(l.source_of("xs[0]"), Some(&Source::Env { var: "X".into() }));
    }

    #[test]
    fn set_creates_nested_tables() {
        let mut l = Layered::default();
        l.set(
            "a.b.c",
            Value::Integer(5),
            Source::Flag { flag: "--c".into() },
        );
        assert_eq!(l.table["a"]["b"]["c"].as_integer(), Some(5));
        assert_eq!(
            l.source_of("a.b.c"),
            Some(&Source::Flag { flag: "--c".into() })
        );
    }

    #[test]
    fn spans_locate_keys_and_values() {
        let text = "[timeouts]\nconnection = \"oops\"\n[[endpoints]]\nname = \"api\"\n";
        let f = FileLayer::parse("x.toml", text.into()).expect("parses");
        assert_eq!(
            f.source("timeouts.connection", false),
            Source::File {
                path: "x.toml".into(),
                line: 2,
                col: 14
            }
        );
        assert_eq!(
            f.source("endpoints[0].name", true),
            Source::File {
                path: "x.toml".into(),
                line: 4,
                col: 1
            }
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = FileLayer::parse("bad.toml", "a = 1\nb = = 2\n".into())
            .err()
            .expect("fails");
        assert!(err.to_string().starts_with("bad.toml:2:"), "{err}");
    }
}
