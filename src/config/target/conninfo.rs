//! libpq's two connection-string forms, read into (key, value) pairs with the position of
//! every value, so a mistake can be pointed at without printing what surrounds it (a password
//! with an unencoded `@` must not end up in an error message as a "host name").
//!
//! URI: `postgres[ql]://[user[:password]@][host[:port][,host[:port]…]][/dbname][?k=v&…]`, every
//! part percent-decoded; `key=value` pairs with `'quoted values'` and backslash escapes.

/// One parameter as written: its value (decoded) and where it starts (1-based character).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Raw {
    pub key: String,
    pub value: String,
    pub at: usize,
    /// For a list written as separate URI host specs: where each element starts.
    pub(crate) items_at: Vec<usize>,
}

/// A mistake in a connection string: where (1-based character) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub at: usize,
    pub message: String,
}

fn err(s: &str, byte: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        at: col(s, byte),
        message: message.into(),
    }
}

/// The 1-based character position of byte offset `byte` in `s`.
pub(crate) fn col(s: &str, byte: usize) -> usize {
    s.get(..byte).map_or(0, |p| p.chars().count()) + 1
}

/// Parses either form; a bare absolute path is a socket directory (how Cloud SQL mounts are
/// usually written down).
pub(crate) fn parse(s: &str) -> Result<Vec<Raw>, ParseError> {
    if let Some(rest) = uri_rest(s) {
        parse_uri(s, s.len() - rest.len())
    } else if s.starts_with('/') {
        Ok(vec![raw("host", s.to_string(), 1)])
    } else if s.contains('=') {
        parse_keyvalue(s)
    } else {
        Err(ParseError {
            at: 1,
            message:
                "expected postgres://user@host:port/db, key=value pairs, or a socket directory"
                    .into(),
        })
    }
}

/// What follows `://` in a PostgreSQL URI: libpq's `postgres[ql]://`, and the forms a
/// service's own configuration holds it in — SQLAlchemy's `postgresql+asyncpg://` (any
/// driver) and JDBC's `jdbc:postgresql://` — whose rest is libpq's form; a parameter only
/// the driver knows (asyncpg's `ssl=`, JDBC's `loginTimeout=`) is then refused by name.
fn uri_rest(s: &str) -> Option<&str> {
    let (scheme, rest) = s.split_once("://")?;
    let scheme = scheme.strip_prefix("jdbc:").unwrap_or(scheme);
    let base = match scheme.split_once('+') {
        Some((base, driver))
            if !driver.is_empty()
                && driver
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            base
        }
        Some(_) => return None,
        None => scheme,
    };
    matches!(base, "postgres" | "postgresql").then_some(rest)
}

fn raw(key: &str, value: String, at: usize) -> Raw {
    Raw {
        key: key.to_string(),
        value,
        at,
        items_at: Vec::new(),
    }
}

/// Percent-decoding as libpq does it: `%` must be followed by two hex digits and `%00` is
/// refused. The token is never echoed, since it may be part of a password.
fn decode(s: &str, start: usize, part: &str) -> Result<String, ParseError> {
    let text = s.get(start..start + part.len()).unwrap_or(part);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(0) => {
                return Err(err(
                    s,
                    start + i,
                    "forbidden value %00 in a percent-encoded value",
                ));
            }
            Some(v) => out.push(v),
            None => {
                return Err(err(
                    s,
                    start + i,
                    "invalid percent-encoded token: `%` must be followed by two hex digits \
                     (write a literal `%` as %25)",
                ));
            }
        }
        i += 3;
    }
    String::from_utf8(out).map_err(|_| err(s, start, "percent-encoded bytes are not UTF-8"))
}

fn parse_uri(s: &str, body: usize) -> Result<Vec<Raw>, ParseError> {
    let mut out = Vec::new();
    let rest = &s[body..];
    // libpq takes the user info up to the first `@` before any `/`.
    let hosts_start = match rest.find(['@', '/']) {
        Some(i) if rest.as_bytes().get(i) == Some(&b'@') => {
            user_info(s, body, &rest[..i], &mut out)?;
            body + i + 1
        }
        _ => body,
    };
    let after = &s[hosts_start..];
    let hosts_end = hosts_start + after.find(['/', '?']).unwrap_or(after.len());
    if let Some(second) = s[hosts_start..hosts_end].find('@') {
        // The first `@` is the one inside the user name or password.
        return Err(err(
            s,
            hosts_start - 1,
            format!(
                "unencoded `@` in the user name or password (another follows at character {}): \
                 percent-encode it as %40",
                col(s, hosts_start + second)
            ),
        ));
    }
    host_specs(s, hosts_start, hosts_end, &mut out)?;
    let mut pos = hosts_end;
    if s.as_bytes().get(pos) == Some(&b'/') {
        let from = pos + 1;
        let end = from + s[from..].find('?').unwrap_or(s.len() - from);
        let db = decode(s, from, &s[from..end])?;
        if !db.is_empty() {
            out.push(raw("dbname", db, col(s, from)));
        }
        pos = end;
    }
    if s.as_bytes().get(pos) == Some(&b'?') {
        query(s, pos + 1, &mut out)?;
    }
    Ok(out)
}

fn user_info(s: &str, start: usize, ui: &str, out: &mut Vec<Raw>) -> Result<(), ParseError> {
    let (user, pw) = match ui.find(':') {
        Some(i) => (&ui[..i], Some((start + i + 1, &ui[i + 1..]))),
        None => (ui, None),
    };
    let u = decode(s, start, user)?;
    if !u.is_empty() {
        out.push(raw("user", u, col(s, start)));
    }
    if let Some((at, pw)) = pw {
        out.push(raw("password", decode(s, at, pw)?, col(s, at)));
    }
    Ok(())
}

/// `host[:port]` or `[v6]:port`, comma-separated; becomes `host=a,b port=1,2` as in libpq.
fn host_specs(s: &str, start: usize, end: usize, out: &mut Vec<Raw>) -> Result<(), ParseError> {
    if start == end {
        return Ok(());
    }
    let (mut hosts, mut ports) = (Vec::new(), Vec::new());
    let (mut hosts_at, mut ports_at) = (Vec::new(), Vec::new());
    let mut pos = start;
    loop {
        let spec_end = next_spec_end(s, pos, end)?;
        let spec = &s[pos..spec_end];
        let (host, host_at, port) = if let Some(v6) = spec.strip_prefix('[') {
            let close = v6
                .find(']')
                .ok_or_else(|| err(s, pos, "unclosed `[` in an IPv6 host address"))?;
            let after = &v6[close + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some((pos + close + 3, p)),
                None if after.is_empty() => None,
                None => return Err(err(s, pos + close + 2, "unexpected text after `]`")),
            };
            (v6[..close].to_string(), pos + 1, port)
        } else {
            let (h, p) = match spec.find(':') {
                Some(i) => (&spec[..i], Some((pos + i + 1, &spec[i + 1..]))),
                None => (spec, None),
            };
            (decode(s, pos, h)?, pos, p)
        };
        hosts.push(host);
        hosts_at.push(col(s, host_at));
        let (p, p_at) = match port {
            Some((at, p)) => (decode(s, at, p)?, at),
            None => (String::new(), spec_end),
        };
        ports.push(p);
        ports_at.push(col(s, p_at));
        if spec_end >= end {
            break;
        }
        pos = spec_end + 1;
    }
    let list = |key: &str, v: Vec<String>, at: Vec<usize>| Raw {
        key: key.to_string(),
        value: v.join(","),
        at: at.first().copied().unwrap_or(1),
        items_at: at,
    };
    if hosts.iter().any(|h| !h.is_empty()) {
        out.push(list("host", hosts, hosts_at));
    }
    if ports.iter().any(|p| !p.is_empty()) {
        out.push(list("port", ports, ports_at));
    }
    Ok(())
}

/// The end of one host spec: the next `,` outside brackets.
fn next_spec_end(s: &str, pos: usize, end: usize) -> Result<usize, ParseError> {
    let mut in_brackets = false;
    for (i, c) in s[pos..end].char_indices() {
        match c {
            '[' => in_brackets = true,
            ']' => in_brackets = false,
            ',' if !in_brackets => return Ok(pos + i),
            _ => {}
        }
    }
    if in_brackets {
        return Err(err(s, pos, "unclosed `[` in an IPv6 host address"));
    }
    Ok(end)
}

fn query(s: &str, start: usize, out: &mut Vec<Raw>) -> Result<(), ParseError> {
    let mut pos = start;
    for pair in s[start..].split('&') {
        let here = pos;
        pos += pair.len() + 1;
        if pair.is_empty() {
            continue;
        }
        let Some(eq) = pair.find('=') else {
            return Err(err(
                s,
                here,
                "missing key/value separator `=` in a URI query parameter",
            ));
        };
        if pair[eq + 1..].contains('=') {
            return Err(err(
                s,
                here + eq + 1,
                "extra key/value separator `=` in a URI query parameter (percent-encode it as %3D)",
            ));
        }
        let key = decode(s, here, &pair[..eq])?;
        let value = decode(s, here + eq + 1, &pair[eq + 1..])?;
        // libpq reads JDBC's `ssl=true` as `sslmode=require`.
        let (key, value) = if key == "ssl" && value == "true" {
            ("sslmode".to_string(), "require".to_string())
        } else {
            (key, value)
        };
        out.push(Raw {
            key,
            value,
            at: col(s, here + eq + 1),
            items_at: Vec::new(),
        });
    }
    Ok(())
}

/// `key = value key='quoted \' value'`: whitespace around `=`, backslash escapes everywhere.
fn parse_keyvalue(s: &str) -> Result<Vec<Raw>, ParseError> {
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    let skip_ws = |it: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    };
    loop {
        skip_ws(&mut it);
        let Some(&(key_at, _)) = it.peek() else {
            return Ok(out);
        };
        let mut key = String::new();
        while let Some((_, c)) = it.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        skip_ws(&mut it);
        if it.next().map(|(_, c)| c) != Some('=') {
            return Err(err(s, key_at, format!("missing `=` after `{key}`")));
        }
        skip_ws(&mut it);
        let value_at = it.peek().map_or(s.len(), |(i, _)| *i);
        let value = if it.next_if(|(_, c)| *c == '\'').is_some() {
            quoted(s, &mut it, value_at)?
        } else {
            let mut v = String::new();
            while let Some((_, c)) = it.next_if(|(_, c)| !c.is_whitespace()) {
                if c == '\\' {
                    v.extend(it.next().map(|(_, c)| c));
                } else {
                    v.push(c);
                }
            }
            v
        };
        out.push(raw(&key, value, col(s, value_at)));
    }
}

fn quoted(
    s: &str,
    it: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    at: usize,
) -> Result<String, ParseError> {
    let mut v = String::new();
    loop {
        match it.next().map(|(_, c)| c) {
            Some('\\') => v.extend(it.next().map(|(_, c)| c)),
            Some('\'') => return Ok(v),
            Some(c) => v.push(c),
            None => return Err(err(s, at, "unterminated quoted string")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(v: &'a [Raw], k: &str) -> Option<&'a str> {
        v.iter()
            .rev()
            .find(|r| r.key == k)
            .map(|r| r.value.as_str())
    }

    #[test]
    fn uri_parts_hosts_and_params() {
        let v = parse("postgres://app:p%40ss@a:1,[::1]:2,c/db?sslmode=require&ssl=true")
            .expect("valid");
        assert_eq!(get(&v, "user"), Some("app"));
        assert_eq!(get(&v, "password"), Some("p@ss"));
        assert_eq!(get(&v, "host"), Some("a,::1,c"));
        assert_eq!(get(&v, "port"), Some("1,2,"));
        assert_eq!(get(&v, "dbname"), Some("db"));
        assert_eq!(get(&v, "sslmode"), Some("require"));
        let host = v.iter().find(|r| r.key == "host").expect("host");
        assert_eq!(host.items_at, vec![23, 28, 35]);
    }

    #[test]
    fn an_unencoded_at_is_refused_with_its_position_and_no_text() {
        let e = parse("postgres://app:se@cret@db.example.com/app").expect_err("refused");
        assert_eq!(e.at, 18);
        assert!(e.message.contains("character 23"), "{e:?}");
        assert!(
            !e.message.contains("cret") && !e.message.contains("se@"),
            "{e:?}"
        );
    }

    #[test]
    fn bad_percent_escapes_are_refused() {
        let e = parse("postgres://app:pa%zzss@h/d").expect_err("bad escape");
        assert_eq!(e.at, 18);
        assert!(!e.message.contains("zz"));
        assert!(parse("postgres://h/d%00").is_err());
        assert!(parse("postgres://h/d?sslmode").is_err());
        assert!(parse("postgres://h/d?a=b=c").is_err());
    }

    #[test]
    fn keyvalue_form_with_quotes_escapes_and_spaces() {
        let v = parse(r"host = h1  user='a b\'c' password=x\ y dbname=d").expect("valid");
        assert_eq!(get(&v, "host"), Some("h1"));
        assert_eq!(get(&v, "user"), Some("a b'c"));
        assert_eq!(get(&v, "password"), Some("x y"));
        assert!(parse("host=h user='open").is_err());
        assert!(parse("host").is_err());
    }

    #[test]
    fn a_socket_directory_alone() {
        let v = parse("/cloudsql/p:r:i").expect("valid");
        assert_eq!(get(&v, "host"), Some("/cloudsql/p:r:i"));
    }
}
