//! The privacy mask: hosts, users, database names, socket paths and URLs disappear from
//! everything drawn — header, panels, log, findings — so a screen can be shared mid-incident.
//!
//! Two nets in one pass: the exact names from the configuration (so a user called `app` is
//! hidden in a server message too), and shapes that look like a location whatever their origin
//! (URLs, IP addresses, dotted host names, `/cloudsql/…`, `user "x"` in Postgres messages).

use std::borrow::Cow;
use std::collections::HashMap;

use regex::{Captures, Regex};

use crate::state::StateConfig;

pub(crate) const HOST: &str = "‹host›";
pub(crate) const USER: &str = "‹user›";
pub(crate) const DB: &str = "‹db›";
pub(crate) const SOCKET: &str = "/cloudsql/‹instance›";
pub(crate) const NAME: &str = "‹name›";

/// Names shorter than this are not hidden as bare words: `\bdb\b` would eat ordinary text.
/// They are still hidden inside URLs and Postgres messages, which have their own patterns.
const MIN_WORD: usize = 3;

#[derive(Debug, Clone)]
pub(crate) struct Masker {
    /// `None` only if the pattern could not be built (e.g. a size limit): then every
    /// text is hidden whole — failing closed, never open.
    re: Option<Regex>,
    words: HashMap<String, &'static str>,
}

/// The parts of `scheme://user@host:port/path?query`, without a URL parser: Postgres URLs
/// with an empty host (`postgres://app@/db?host=/cloudsql/…`) are not valid to `url`.
#[derive(Debug, Default, PartialEq)]
struct UrlParts<'a> {
    scheme: &'a str,
    user: Option<&'a str>,
    host: &'a str,
    port: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

fn split_url(s: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = s.split_once("://")?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u.split(':').next().unwrap_or(u)), h),
        None => (None, authority),
    };
    // A port only after the closing bracket of an IPv6 literal.
    let after_bracket = hostport.rfind(']').map_or(0, |i| i + 1);
    let (host, port) = match hostport[after_bracket..].rfind(':') {
        Some(i) => {
            let at = after_bracket + i;
            (&hostport[..at], Some(&hostport[at + 1..]))
        }
        None => (hostport, None),
    };
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    Some(UrlParts {
        scheme,
        user,
        host,
        port,
        path,
        query,
    })
}

/// Keeps what a reviewer needs (scheme, port, that there is a path) and nothing that locates
/// the system.
fn mask_url(s: &str) -> String {
    let Some(p) = split_url(s) else {
        return HOST.to_string();
    };
    let mut out = format!("{}://", p.scheme);
    if p.user.is_some() {
        out.push_str(USER);
        out.push('@');
    }
    if !p.host.is_empty() {
        out.push_str(HOST);
    }
    if let Some(port) = p.port.filter(|x| x.chars().all(|c| c.is_ascii_digit())) {
        out.push(':');
        out.push_str(port);
    }
    if p.path.len() > 1 {
        out.push('/');
        out.push_str(if p.scheme.starts_with("postgres") {
            DB
        } else {
            "…"
        });
    }
    if p.query.is_some() {
        out.push_str("?…");
    }
    out
}

fn query_value<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The configuration's host names (longest first) and its user and database names, each
/// long enough to mask without hiding ordinary words.
fn known_names(cfg: &StateConfig) -> (Vec<String>, HashMap<String, &'static str>) {
    let mut hosts: Vec<String> = Vec::new();
    let mut words: HashMap<String, &'static str> = HashMap::new();
    if let Some(p) = cfg.target.as_deref().and_then(split_url) {
        hosts.push(p.host.trim_matches(['[', ']']).to_string());
        hosts.extend(query_value(p.query, "host").map(str::to_string));
        if let Some(u) = p.user {
            words.insert(u.to_string(), USER);
        }
        let db = p.path.trim_start_matches('/');
        if !db.is_empty() {
            words.insert(db.to_string(), DB);
        }
    }
    let urls = cfg
        .endpoints
        .iter()
        .map(|(_, u)| u)
        .chain(cfg.websockets.iter());
    for u in urls {
        if let Some(p) = split_url(u) {
            hosts.push(p.host.trim_matches(['[', ']']).to_string());
        }
    }
    hosts.retain(|h| h.len() >= MIN_WORD);
    hosts.sort_by_key(|h| std::cmp::Reverse(h.len()));
    hosts.dedup();
    words.retain(|w, _| w.len() >= MIN_WORD);
    (hosts, words)
}

/// ASCII word boundaries (`(?-u:\b)`) throughout: a Unicode `\b` makes the regex engine leave
/// its fast DFA on the first non-ASCII character (`—`, `‹`), which every frame has. A name
/// ending in a non-ASCII letter gets no boundary (hidden even inside a longer word: more
/// hidden, never less).
fn bounded(s: &str) -> String {
    let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let e = regex::escape(s);
    let start = if s.starts_with(word_char) {
        r"(?-u:\b)"
    } else {
        ""
    };
    let end = if s.ends_with(word_char) {
        r"(?-u:\b)"
    } else {
        ""
    };
    format!("{start}{e}{end}")
}

fn alt(items: Vec<String>) -> String {
    if items.is_empty() {
        // Matches nothing: keeps the group so capture names stay valid.
        r"[^\s\S]".to_string()
    } else {
        items.join("|")
    }
}

impl Masker {
    pub(crate) fn new(cfg: &StateConfig) -> Self {
        let (hosts, words) = known_names(cfg);
        let mut word_list: Vec<&String> = words.keys().collect();
        word_list.sort_by_key(|w| std::cmp::Reverse(w.len()));
        let host_alt = alt(hosts.iter().map(|h| bounded(h)).collect());
        let word_alt = alt(word_list.iter().map(|w| bounded(w)).collect());
        // Order matters: at one position the first branch that matches wins.
        let pattern = format!(
            r#"(?P<url>[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>(){{}}]*[^\s"'<>(){{}}.,;:!?])|(?P<sock>/cloudsql/[^\s"'&?]+)|(?P<kw>(?-u:\b)(?:user|role|database|host)\s+")(?P<kwv>[^"]{{1,128}})"|(?P<host>{host_alt})|(?P<ip6>\[[0-9A-Fa-f:.]+\])|(?P<ip4>(?-u:\b)(?:\d{{1,3}}\.){{3}}\d{{1,3}}(?-u:\b))|(?P<dns>(?-u:\b)(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.){{2,}}[A-Za-z]{{2,}}(?-u:\b))|(?P<word>{word_alt})"#
        );
        Self {
            re: Regex::new(&pattern).ok(),
            words,
        }
    }

    /// The text with everything that locates the system replaced.
    pub(crate) fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(re) = &self.re else {
            return if text.trim().is_empty() {
                Cow::Borrowed(text)
            } else {
                Cow::Borrowed("‹masked›")
            };
        };
        re.replace_all(text, |c: &Captures<'_>| {
            if let Some(m) = c.name("url") {
                mask_url(m.as_str())
            } else if c.name("sock").is_some() {
                SOCKET.to_string()
            } else if let Some(kw) = c.name("kw") {
                format!("{}{NAME}\"", kw.as_str())
            } else if let Some(w) = c.name("word") {
                self.words
                    .get(w.as_str())
                    .copied()
                    .unwrap_or(NAME)
                    .to_string()
            } else {
                HOST.to_string()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::staging_config;

    fn m() -> Masker {
        Masker::new(&staging_config())
    }

    #[test]
    fn target_keeps_scheme_and_port_only() {
        assert_eq!(
            m().apply("postgres://app@10.20.0.3:5432/app?sslmode=require"),
            "postgres://‹user›@‹host›:5432/‹db›?…"
        );
    }

    #[test]
    fn urls_in_text_lose_host_and_path_but_not_trailing_punctuation() {
        assert_eq!(
            m().apply("wss://backend.staging.example.com/ws: refused"),
            "wss://‹host›/…: refused"
        );
    }

    #[test]
    fn names_from_config_are_hidden_in_server_messages() {
        let s = m();
        assert_eq!(
            s.apply(r#"password authentication failed for user "bob""#),
            r#"password authentication failed for user "‹name›""#
        );
        assert_eq!(
            s.apply("connected to app at 10.20.0.3"),
            "connected to ‹db› at ‹host›"
        );
        assert_eq!(
            s.apply("application_name connscope"),
            "application_name connscope"
        );
        assert_eq!(s.apply("backend.staging.example.com"), "‹host›");
        assert_eq!(s.apply("db.internal.corp"), "‹host›");
        assert_eq!(
            s.apply("socket /cloudsql/proj:eu:inst/.s.PGSQL.5432"),
            "socket /cloudsql/‹instance›"
        );
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let s = m();
        for t in [
            "phase 3 database failed after 75.0 s (budget 1m 30s)",
            "no pg_hba.conf entry allows this",
            "p95 12.3 ms · 0.9 × timeout",
        ] {
            assert_eq!(s.apply(t), t);
        }
    }

    #[test]
    fn unix_socket_targets() {
        let mut c = staging_config();
        c.target = Some("postgres://svc@/orders?host=/cloudsql/p:r:i".into());
        let s = Masker::new(&c);
        assert_eq!(
            s.apply("postgres://svc@/orders?host=/cloudsql/p:r:i"),
            "postgres://‹user›@/‹db›?…"
        );
        assert_eq!(
            s.apply("database orders, user svc"),
            "database ‹db›, user ‹user›"
        );
    }

    #[test]
    fn non_ascii_names_are_still_hidden() {
        let mut c = staging_config();
        c.target = Some("postgres://josé@db.internal.example:5432/café".into());
        let s = Masker::new(&c);
        assert_eq!(
            s.apply("user josé, database café."),
            "user ‹user›, database ‹db›."
        );
    }

    #[test]
    fn ipv6_targets() {
        assert_eq!(
            mask_url("postgres://u@[fd00::3]:6432/x"),
            "postgres://‹user›@‹host›:6432/‹db›"
        );
    }
}
