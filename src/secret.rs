//! Secrets never reach the screen, a recording, a report or a log. Two defences: a `Secret`
//! type that cannot be printed, and a process-wide scrubber that every output path runs its
//! text through, so a password echoed back inside some library's error message is still caught.

use std::borrow::Cow;
use std::fmt;
use std::sync::RwLock;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value);
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

pub const MASK: &str = "***";

static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers a secret value so `scrub` removes it from any output. Values shorter than 4
/// characters are not scrubbed textually (they would mangle ordinary words); they are still
/// never printed by connscope itself.
pub fn register(value: &str) {
    if value.len() < 4 {
        return;
    }
    if let Ok(mut known) = KNOWN.write()
        && !known.iter().any(|k| k == value)
    {
        known.push(value.to_string());
        // Longest first so a secret that contains another is replaced whole.
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// Replaces every registered secret in `text` with `***`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let Ok(known) = KNOWN.read() else {
        return Cow::Borrowed(text);
    };
    if !known.iter().any(|k| text.contains(k.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for k in known.iter() {
        out = out.replace(k.as_str(), MASK);
    }
    Cow::Owned(out)
}

/// Registers the credentials a URL carries: the password (as written, decoded, and as the
/// base64 `user:password` of the basic-auth header a client builds from it) and the values of
/// credential query parameters — so a server echoing them back is scrubbed too.
pub fn register_url(raw: &str) {
    use base64::Engine as _;
    let Ok(u) = url::Url::parse(raw) else { return };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    if let Some(pw) = u.password() {
        let (user, pass) = (decode(u.username()), decode(pw));
        register(pw);
        register(&pass);
        register(&base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")));
    }
    if let Some(q) = u.query() {
        for pair in q.split('&') {
            if let Some((k, v)) = pair.split_once('=')
                && is_secret_param(&decode(k))
            {
                register(v);
                register(&decode(v));
            }
        }
    }
}

/// Words of a command line that assign a credential: the key names one (`--password=…`,
/// `PGPASSWORD=…`, `api_token=…`). Returns (key, value).
pub fn credential_assignment(word: &str) -> Option<(&str, &str)> {
    const CREDENTIAL_KEYS: [&str; 5] = ["password", "passwd", "token", "secret", "apikey"];
    let (key, value) = word.split_once('=')?;
    let k = key
        .trim_start_matches('-')
        .to_ascii_lowercase()
        .replace(['_', '-'], "");
    CREDENTIAL_KEYS
        .iter()
        .any(|c| k.contains(c))
        .then_some((key, value))
}

/// Registers the credentials in a command line: passwords and tokens of URLs in it, and the
/// values of credential assignments (see `credential_assignment`).
pub fn register_command(cmd: &str) {
    let quote = |c: char| c == '\'' || c == '"';
    for word in cmd.split_whitespace() {
        let inner = word.trim_matches(quote);
        if inner.contains("://") {
            register_url(inner);
        } else if let Some((_, value)) = credential_assignment(inner) {
            register(value.trim_matches(quote));
        }
    }
}

fn is_secret_param(k: &str) -> bool {
    SECRET_PARAMS.iter().any(|s| k.eq_ignore_ascii_case(s))
}

/// Query parameters whose values are credentials.
const SECRET_PARAMS: [&str; 7] = [
    "password",
    "pass",
    "pwd",
    "token",
    "access_token",
    "secret",
    "sslpassword",
];

/// A URL fit to print: password replaced by `***`, credential query values masked.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return scrub(raw).into_owned();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some(MASK));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let secret = is_secret_param(&k);
                (
                    k.into_owned(),
                    if secret {
                        MASK.to_string()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    scrub(url.as_str()).replace("%2A%2A%2A", MASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2-debug");
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }

    #[test]
    fn scrub_removes_registered_values() {
        register("s3cr3t-value");
        assert_eq!(
            scrub("auth failed for s3cr3t-value!"),
            "auth failed for ***!"
        );
        assert_eq!(scrub("nothing here"), "nothing here");
    }

    #[test]
    fn urls_lose_passwords_and_tokens() {
        assert_eq!(
            redact_url("postgres://app:pw123456@db.example:5432/app?sslmode=require"),
            "postgres://app:***@db.example:5432/app?sslmode=require"
        );
        assert_eq!(
            redact_url("https://svc.example/health?token=abc&x=1"),
            "https://svc.example/health?token=***&x=1"
        );
    }
}
