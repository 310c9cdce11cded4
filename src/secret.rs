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

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

pub(crate) const MASK: &str = "***";

static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers a secret value so `scrub` removes it from any output. Values shorter than 4
/// characters are not scrubbed textually (they would mangle ordinary words); they are still
/// never printed by connscope itself.
pub(crate) fn register(value: &str) {
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
pub(crate) fn scrub(text: &str) -> Cow<'_, str> {
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
/// query parameters named like credentials (`is_secret_name`) — so a server echoing them back
/// is scrubbed too.
pub(crate) fn register_url(raw: &str) {
    let Ok(u) = url::Url::parse(raw) else { return };
    if let Some(pw) = u.password() {
        register(pw);
        register(&decode(pw));
    }
    if let Some(header) = basic_auth(&u) {
        register(header.trim_start_matches("Basic "));
    }
    if let Some(q) = u.query() {
        for pair in q.split('&') {
            if let Some((k, v)) = pair.split_once('=')
                && is_secret_name(&decode(k))
            {
                register(v);
                register(&decode(v));
            }
        }
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The `Authorization` header value for the credentials in `url` (`Basic base64(user:pass)`,
/// both percent-decoded, as reqwest builds it for the HTTP probe); `None` without a password.
pub(crate) fn basic_auth(url: &url::Url) -> Option<String> {
    use base64::Engine as _;
    let pass = decode(url.password()?);
    let user = decode(url.username());
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    Some(format!("Basic {token}"))
}

/// Words in a name that make its value a credential, wherever the name appears: a query
/// parameter, a `key=value` word on a command line, a `--option value` pair. Case and `_` / `-`
/// are ignored, so `api_key`, `X-Amz-Signature`, `client_secret`, `PGPASSWORD` all match.
const SECRET_WORDS: [&str; 9] = [
    "pass", "pwd", "secret", "token", "key", "sig", "auth", "cred", "session",
];

/// Names that contain a secret word but are known not to hold one (libpq's parameters for
/// file paths and session routing): masking them would hide useful facts, and registering
/// their values (`primary`, `read-write`) would scrub ordinary words everywhere.
const NOT_SECRET: [&str; 11] = [
    "targetsessionattrs",
    "sslkey",
    "sslcert",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslcertmode",
    "sslkeylogfile",
    "requireauth",
    "krbsrvname",
    "passfile",
];

/// Whether a parameter, option or variable called `name` holds a credential (see
/// `SECRET_WORDS`).
pub(crate) fn is_secret_name(name: &str) -> bool {
    let n: String = name
        .trim_start_matches('-')
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    !n.is_empty() && !NOT_SECRET.contains(&n.as_str()) && SECRET_WORDS.iter().any(|w| n.contains(w))
}

/// Words of a command line that assign a credential: the key names one (`--password=…`,
/// `PGPASSWORD=…`, `api_token=…`). Returns (key, value).
pub(crate) fn credential_assignment(word: &str) -> Option<(&str, &str)> {
    let (key, value) = word.split_once('=')?;
    is_secret_name(key).then_some((key, value))
}

/// An option word whose *next* word is a credential: `--password VALUE`, `--token VALUE`,
/// `-p VALUE` (a `-p` followed by a number is taken as psql's port and left alone).
fn credential_option(word: &str, next: &str) -> bool {
    if !word.starts_with('-') || word.contains('=') || next.starts_with('-') {
        return false;
    }
    if word == "-p" {
        return !next.bytes().all(|b| b.is_ascii_digit());
    }
    word.starts_with("--") && is_secret_name(word)
}

fn unquote(word: &str) -> &str {
    word.trim_matches(|c| c == '\'' || c == '"')
}

/// What in a command line is a credential, word by word (split on whitespace): `Some(value)`
/// for a word that is or carries one. URLs are handled by the caller.
fn command_secrets(cmd: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let mut prev_is_option = false;
    (0..words.len()).map(move |i| {
        let word = words[i];
        let inner = unquote(word);
        let secret = if prev_is_option {
            Some(inner)
        } else {
            credential_assignment(inner).map(|(_, v)| unquote(v))
        };
        prev_is_option = words
            .get(i + 1)
            .is_some_and(|next| credential_option(inner, unquote(next)));
        (word, secret)
    })
}

/// Registers the credentials in a command line: passwords and tokens of URLs in it, the
/// values of credential assignments and of credential options (see `credential_option`).
pub(crate) fn register_command(cmd: &str) {
    for url in urls_in(cmd) {
        register_url(url);
    }
    for (_, secret) in command_secrets(cmd) {
        if let Some(v) = secret {
            register(v);
        }
    }
}

/// A command fit to show: URL passwords and credential query values masked, credential
/// assignments and options masked (`--password=***`, `--password ***`), and registered
/// secrets scrubbed.
pub fn redact_command(cmd: &str) -> String {
    let words: Vec<String> = command_secrets(cmd)
        .map(|(word, secret)| match secret {
            None => word.to_string(),
            Some(_) => match word.split_once('=') {
                Some((key, _)) if credential_assignment(unquote(word)).is_some() => {
                    format!("{key}={MASK}")
                }
                _ => MASK.to_string(),
            },
        })
        .collect();
    scrub(&redact_urls_in(&words.join(" "))).into_owned()
}

/// Registers the credentials of the command line connscope was started with, before it is
/// parsed: a usage error quotes the offending value back, and the scrubber must know it.
pub(crate) fn register_args(args: impl IntoIterator<Item = std::ffi::OsString>) {
    let line: Vec<String> = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // Each argument is one word even when it contains spaces.
    for (i, arg) in line.iter().enumerate() {
        for url in urls_in(arg) {
            register_url(url);
        }
        if let Some((_, v)) = credential_assignment(arg) {
            register(v);
        }
        if let Some(next) = line.get(i + 1)
            && credential_option(arg, next)
        {
            register(next);
        }
    }
}

/// Every `scheme://…` in free text, to the next space, quote or backtick.
fn urls_in(text: &str) -> impl Iterator<Item = &str> {
    let is_scheme = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.');
    let ends = |c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '`' | '<' | '>');
    text.match_indices("://").filter_map(move |(at, _)| {
        let before = &text[..at];
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_scheme(*c))
            .last()
            .map(|(i, _)| i)?;
        let rest = &text[at..];
        let end = rest.find(ends).map_or(text.len(), |e| at + e);
        before[start..]
            .starts_with(|c: char| c.is_ascii_alphabetic())
            .then(|| &text[start..end])
    })
}

/// `text` with every URL in it redacted (see `redact_url`): a last defence for text that
/// quotes a value connscope could not parse (a usage error), whatever secrets are registered.
pub(crate) fn redact_urls_in(text: &str) -> String {
    let mut out = text.to_string();
    for url in urls_in(text) {
        let shown = redact_url(url);
        if shown != url {
            out = out.replace(url, &shown);
        }
    }
    out
}

/// A URL fit to print: password replaced by `***`, credential query values masked. A URL that
/// does not parse has its `user:password@` part masked by shape.
pub fn redact_url(raw: &str) -> String {
    let mut url = match url::Url::parse(raw) {
        // `postgres:://u:pw@h` parses as an opaque path, not as credentials: mask by shape.
        Ok(u) if !u.cannot_be_a_base() => u,
        _ => return scrub(&mask_userinfo(raw)).into_owned(),
    };
    if url.password().is_some() {
        let _ = url.set_password(Some(MASK));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let secret = is_secret_name(&k);
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

/// `scheme://user:secret@rest` → `scheme://user:***@rest`, by shape.
fn mask_userinfo(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return raw.to_string();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:{MASK}{}", &rest[at..]),
        None => raw.to_string(),
    }
}

/// An excerpt of text received from outside (a body, a reply, a log message) fit to store and
/// show: secrets scrubbed *before* it is cut to `max_chars`, so a secret straddling the cut is
/// still recognised whole; and a secret's beginning left at the very end — because the text
/// was already cut where it was read (a body limit, a line limit) or is cut here — is masked
/// too. Every excerpt connscope keeps goes through here.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let scrubbed = mask_trailing_part(&scrub(text));
    let cut = match scrubbed.char_indices().nth(max_chars) {
        Some((i, _)) => &scrubbed[..i],
        None => scrubbed.as_str(),
    };
    mask_trailing_part(cut)
}

/// The shortest beginning of a secret worth masking at the end of a text: shorter ones are
/// too likely ordinary text, and 3 characters give little away.
const MIN_PART: usize = 4;

/// Masks the end of `text` when it is the beginning of a registered secret.
fn mask_trailing_part(text: &str) -> String {
    let Ok(known) = KNOWN.read() else {
        return text.to_string();
    };
    for k in known.iter() {
        let longest = k
            .char_indices()
            .map(|(i, _)| i)
            .filter(|i| *i >= MIN_PART)
            .rev()
            .find(|i| text.ends_with(&k[..*i]));
        if let Some(i) = longest {
            return format!("{}{MASK}", &text[..text.len() - i]);
        }
    }
    text.to_string()
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

    #[test]
    fn secrets_are_known_by_the_shape_of_their_name() {
        for name in [
            "api_key",
            "apikey",
            "auth_token",
            "client_secret",
            "key",
            "sig",
            "X-Amz-Signature",
            "X-Amz-Credential",
            "sessionid",
            "PGPASSWORD",
            "--password",
            "pwd",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["sslmode", "host", "target_session_attrs", "sslkey", "x", ""] {
            assert!(!is_secret_name(name), "{name}");
        }
        assert_eq!(
            redact_url(
                "https://s.example/h?api_key=k1&apikey=k2&auth_token=k3&client_secret=k4&key=k5&sig=k6&X-Amz-Signature=k7&page=2"
            ),
            "https://s.example/h?api_key=***&apikey=***&auth_token=***&client_secret=***&key=***&sig=***&X-Amz-Signature=***&page=2"
        );
        assert_eq!(
            redact_url("postgres://a@h/d?target_session_attrs=read-write"),
            "postgres://a@h/d?target_session_attrs=read-write"
        );
    }

    #[test]
    fn credential_query_values_are_registered_whatever_their_name() {
        register_url("https://s.example/h?X-Amz-Signature=Zq7sig-value-9&page=2");
        assert_eq!(scrub("echo Zq7sig-value-9!"), "echo ***!");
    }

    #[test]
    fn command_lines_lose_options_followed_by_their_value() {
        assert_eq!(
            redact_command("svc --password Zq5-space-pw --user app -p Zq5pw2 --port 5432"),
            "svc --password *** --user app -p *** --port 5432"
        );
        assert_eq!(redact_command("psql -p 5432 -h db"), "psql -p 5432 -h db");
        assert_eq!(
            redact_command("tail --api-token=abc 'https://u:Zq5url-pw@h/x' --session-key 'k e'"),
            "tail --api-token=*** 'https://u:***@h/x' --session-key *** e'"
        );
        register_command("svc --password Zq5-space-pw2 -p Zq5-dash-p");
        assert_eq!(scrub("Zq5-space-pw2 Zq5-dash-p"), "*** ***");
    }

    #[test]
    fn arguments_are_registered_before_they_are_parsed() {
        let args = [
            "connscope",
            "check",
            "--endpoint",
            "http://u:Zq6-arg-pw@host/x",
            "--db-url=postgres://a:Zq6-url-pw@h/d",
            "--token",
            "Zq6-tok",
        ]
        .map(std::ffi::OsString::from);
        register_args(args);
        assert_eq!(
            scrub("got `http://u:Zq6-arg-pw@host/x` Zq6-url-pw Zq6-tok"),
            "got `http://u:***@host/x` *** ***"
        );
    }

    #[test]
    fn urls_in_free_text_are_redacted_even_unregistered() {
        assert_eq!(
            redact_urls_in("bad value 'http://u:pw@host/x' and `ws://a:b@h/?token=t1` ok"),
            "bad value 'http://u:***@host/x' and `ws://a:***@h/?token=***` ok"
        );
        assert_eq!(mask_userinfo("http://u:pw@[::1"), "http://u:***@[::1");
        // Found by tests/it/url_fuzz.rs: parses, but as a path.
        assert_eq!(
            redact_url("postgres:://:ZqaaaAaa@localhost/"),
            "postgres:://:***@localhost/"
        );
    }

    #[test]
    fn basic_auth_is_built_from_decoded_credentials() {
        let u = url::Url::parse("ws://us%65r:p%40ss@h/ws").expect("url");
        assert_eq!(basic_auth(&u).as_deref(), Some("Basic dXNlcjpwQHNz"));
        assert_eq!(
            basic_auth(&url::Url::parse("ws://h/ws").expect("url")),
            None
        );
    }

    #[test]
    fn an_excerpt_is_scrubbed_before_it_is_cut() {
        register("Zq9-excerpt-secret-token");
        let text = format!("{}Zq9-excerpt-secret-token tail", ".".repeat(500));
        assert_eq!(excerpt(&text, 512), format!("{}*** tail", ".".repeat(500)));
        assert_eq!(excerpt(&text, 502), format!("{}**", ".".repeat(500)));
        // Already cut where it was read: the beginning of a secret at the very end.
        assert_eq!(excerpt("body Zq9-excerpt-se", 512), "body ***");
        assert_eq!(excerpt("short", 512), "short");
        assert_eq!(excerpt("ééé", 2), "éé");
    }

    /// Every way connscope cuts text from outside: where it was read (a body limit, a line
    /// limit) and where the excerpt is cut (512 for bodies and replies, 1024 for messages).
    const CUTS: [usize; 5] = [64, 120, 512, 1024, 4096];

    fn pieces(secret: &str) -> Vec<String> {
        let chars: Vec<char> = secret.chars().collect();
        chars.windows(4).map(|w| w.iter().collect()).collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// A known secret at every offset around every cut-off, the text also cut where it
        /// was read: no 4-character piece of it survives in the excerpt.
        #[test]
        fn no_piece_of_a_secret_survives_any_cut(
            body in "[a-zA-Z0-9]{6,38}",
            filler in proptest::sample::select(vec!['.', ' ', '#', 'é']),
        ) {
            let secret = format!("Zq{body}");
            register(&secret);
            let len = secret.chars().count();
            for cut in CUTS {
                for read_limit in [cut, cut + 7, usize::MAX] {
                    for offset in cut.saturating_sub(len + 2)..=cut + 2 {
                        let mut text: String = std::iter::repeat_n(filler, offset).collect();
                        text.push_str(&secret);
                        text.extend(std::iter::repeat_n(filler, 9));
                        let read: String = text.chars().take(read_limit).collect();
                        let out = excerpt(&read, cut);
                        for p in pieces(&secret) {
                            proptest::prop_assert!(
                                !out.contains(&p),
                                "cut {} read {} offset {}: `{}` in ...{}",
                                cut, read_limit, offset, p,
                                out.chars().rev().take(60).collect::<String>().chars().rev().collect::<String>()
                            );
                        }
                    }
                }
            }
        }

        /// The URL helpers never panic, whatever the text, and never let a password through.
        #[test]
        fn any_url_text_is_redacted_without_panicking(
            prefix in "\\PC{0,12}",
            scheme in "[a-z][a-z0-9+.-]{0,6}",
            user in "[a-z%0-9]{0,6}",
            host in "\\PC{0,12}",
            rest in "\\PC{0,16}",
        ) {
            let pw = "Zq8UrlPw";
            let raw = format!("{scheme}://{user}:{pw}@{host}{rest}");
            let text = format!("{prefix} '{raw}' x");
            let shown = redact_urls_in(&text);
            let direct = redact_url(&raw);
            if !host.contains(['@', '/', '?', '#', '\\', ' ', '\'', '"', '`', '<', '>'])
                && !user.is_empty()
            {
                proptest::prop_assert!(!shown.contains(pw), "{}", shown);
                proptest::prop_assert!(!direct.contains(pw), "{}", direct);
            }
        }
    }
}
