//! Property tests of the database-URL parser as it is (`config::target::resolve`, the public
//! entry point): whatever a URL or libpq `key=value` string holds, resolving it never panics,
//! and a password in it never reaches the printed form of the target or of the URL.

use crate::common::resolve_url;
use proptest::prelude::*;

fn url_like() -> impl Strategy<Value = (String, String)> {
    (
        prop::sample::select(vec!["postgres", "postgresql", "http", "", "postgres:"]),
        "[a-z%0-9._-]{0,8}",
        "[A-Za-z0-9]{6,12}",
        prop::sample::select(vec![
            "localhost",
            "10.1.2.3",
            "[::1]",
            "",
            "h:",
            "a,b",
            "%2Ftmp",
        ]),
        prop::option::of(0u32..100_000),
        "[a-z0-9%/._-]{0,10}",
        prop::collection::vec(("[a-z_]{1,12}", "[\\PC]{0,8}"), 0..4),
    )
        .prop_map(|(scheme, user, pw, host, port, db, params)| {
            let pw = format!("Zq{pw}");
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let q = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", query.join("&"))
            };
            (format!("{scheme}://{user}:{pw}@{host}{port}/{db}{q}"), pw)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_resolves_or_is_refused_without_panicking(text in "\\PC{0,80}") {
        let _ = resolve_url(&text);
    }

    #[test]
    fn a_password_in_a_url_never_reaches_its_printed_forms((url, pw) in url_like()) {
        if let Ok(Some(t)) = resolve_url(&url) {
            prop_assert!(!t.redacted().contains(&pw), "{}", t.redacted());
        }
        let shown = connscope::secret::redact_url(&url);
        prop_assert!(!shown.contains(&pw), "{}", shown);
    }

    #[test]
    fn a_password_in_key_value_form_never_reaches_the_target(
        pw in "[A-Za-z0-9]{6,12}",
        host in prop::sample::select(vec!["localhost", "10.1.2.3", "/tmp", ""]),
        extra in "[a-z_]{0,10}=[\\PC]{0,6}",
    ) {
        let pw = format!("Zq{pw}");
        let text = format!("host={host} user=app password={pw} dbname=app {extra}");
        if let Ok(Some(t)) = resolve_url(&text) {
            prop_assert!(!t.redacted().contains(&pw), "{}", t.redacted());
        }
    }
}
