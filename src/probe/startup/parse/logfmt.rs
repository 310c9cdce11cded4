//! logfmt lines (`ts=… level=info phase=3 status=failed msg="database timeout"`), read as the
//! JSON record they would be: the same keys mean the same things.

use serde_json::{Map, Value};

/// Keys that make a `key=value` line a log record worth reading (not any text with an `=`).
const KNOWN: [&str; 12] = [
    "phase",
    "phase_number",
    "phase_name",
    "status",
    "state",
    "event",
    "level",
    "msg",
    "message",
    "ts",
    "time",
    "code",
];

/// The line's pairs as a JSON object, when it is logfmt: at least two `key=value` pairs, one
/// of them a key connscope reads. Values may be double-quoted with `\"` escapes.
pub(super) fn record(line: &str) -> Option<Map<String, Value>> {
    let pairs = pairs(line);
    let known = pairs.iter().any(|(k, _)| KNOWN.contains(&k.as_str()));
    (pairs.len() >= 2 && known).then(|| {
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect()
    })
}

fn pairs(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        // A key: letters, digits, `_`, `.`, `-` up to `=`; anything else skips the word.
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_alphanumeric() || matches!(c, '_' | '.' | '-') {
                end = i + c.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let key = &line[start..end];
        if key.is_empty() || chars.peek().map(|&(_, c)| c) != Some('=') {
            skip_word(&mut chars);
            continue;
        }
        chars.next();
        out.push((key.to_string(), value(&mut chars)));
    }
    out
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn skip_word(chars: &mut Chars<'_>) {
    while chars.next_if(|&(_, c)| !c.is_whitespace()).is_some() {}
}

fn value(chars: &mut Chars<'_>) -> String {
    let mut v = String::new();
    if chars.next_if(|&(_, c)| c == '"').is_none() {
        while let Some((_, c)) = chars.next_if(|&(_, c)| !c.is_whitespace()) {
            v.push(c);
        }
        return v;
    }
    while let Some((_, c)) = chars.next() {
        match c {
            '"' => break,
            '\\' => {
                if let Some((_, e)) = chars.next() {
                    v.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        e => e,
                    });
                }
            }
            c => v.push(c),
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_quoted_values_and_what_is_not_logfmt() {
        let r = record(r#"ts=2026-11-30T04:14:04Z level=error phase=3 status=failed msg="database \"db\" timeout after 75.0s""#)
            .expect("logfmt");
        assert_eq!(r["phase"], "3");
        assert_eq!(r["status"], "failed");
        assert_eq!(r["msg"], r#"database "db" timeout after 75.0s"#);
        assert!(record("a=1 b=2").is_none(), "no key connscope reads");
        assert!(record("phase=3").is_none(), "one pair is not a record");
        assert!(record("2026-11-30 INFO retries=3 of phase=3").is_some());
        assert!(record(r#"msg="unterminated phase=3"#).is_none());
    }
}
