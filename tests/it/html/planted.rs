//! Secrets planted in a recording — in a URL's password and query, a server's message, a
//! health body, a startup message, the log's name and the recorded configuration — reach
//! neither the HTML page nor the markdown's chart files: no 4-character piece of any.

use serde_json::Value;

use crate::common::fault_bin;

/// Each secret, in a shape a credential has where it is planted.
const SECRETS: [&str; 8] = [
    "Zq4x9KwQv7Tb", // a database URL's password (an error message, the header's config)
    "Hm3rT8cYw2Lp", // an endpoint URL's password
    "Jd6nB1sXe9Kf", // a `token` query parameter
    "Vt2gW7qNz4Rc", // `api_key=` in a health body
    "Pb8kF3mUa6Ys", // `--password VALUE` in a health body
    "Gx5hC9vLd2Qw", // `password=` in a startup phase's message
    "Ne7yR4tKj1Bz", // a WebSocket URL's password
    "Uw1pM6bHs8Dc", // `--token VALUE` in the startup log's name
];

fn pieces(secret: &str) -> Vec<&str> {
    (0..=secret.len() - 4).map(|i| &secret[i..i + 4]).collect()
}

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        for p in pieces(s) {
            assert!(!text.contains(p), "{what} holds `{p}` of {s}");
        }
    }
}

fn plant(ev: &mut Value) {
    let [db, url_pw, token, key, opt, phase, ws, src] = SECRETS;
    match ev["kind"].as_str() {
        Some("db_attempt") => {
            ev["error"]["message"] = Value::String(format!(
                "no TLS handshake with postgres://app:{db}@10.0.0.5/app within 3500ms"
            ));
        }
        Some("http_check") => {
            let url = format!("http://ops:{url_pw}@127.0.0.1:42583/api?token={token}");
            ev["url"] = Value::String(url);
            let body = ev["body_excerpt"].as_str().unwrap_or_default().to_string();
            ev["body_excerpt"] =
                Value::String(format!("{body} api_key={key} retry --password {opt}"));
        }
        Some("startup_phase") => {
            ev["message"] = Value::String(format!("connecting with password={phase}"));
        }
        Some("ws_check") => {
            ev["url"] = Value::String(format!("ws://ops:{ws}@127.0.0.1:42583/ws"));
        }
        Some("startup_log") => {
            ev["source"] = Value::String(format!("tail -F /var/log/app.log --token {src}"));
        }
        _ => {}
    }
}

fn planted_recording(path: &std::path::Path) {
    let text = std::fs::read_to_string(super::sample()).expect("the sample");
    let mut lines = text.lines();
    let mut header: Value = serde_json::from_str(lines.next().expect("header")).expect("json");
    let url = format!("postgres://app:{}@10.0.0.5/app", SECRETS[0]);
    header["config"]["database"]["url"] = Value::String(url.clone());
    header["state"]["target"] = Value::String(url);
    let mut out = format!("{header}\n");
    for line in lines {
        let mut ev: Value = serde_json::from_str(line).expect("an event");
        plant(&mut ev);
        out.push_str(&format!("{ev}\n"));
    }
    std::fs::write(path, out).expect("write the recording");
}

#[test]
fn secrets_planted_in_a_recording_reach_neither_page_nor_chart_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let rec = dir.path().join("planted.jsonl");
    planted_recording(&rec);
    let text = std::fs::read_to_string(&rec).expect("read");
    assert!(SECRETS.iter().all(|s| text.contains(s)), "planted");
    let (code, page) = super::html_of(&rec, &[]);
    assert_eq!(code, Some(2));
    assert!(page.contains("Configuration in force") && page.contains("<svg"));
    assert!(page.contains("***"), "masked where they were");
    assert_clean("the HTML page", &page);
    let assets = dir.path().join("charts");
    let r = fault_bin::run(
        &[
            "report",
            super::path_str(&rec),
            "--format",
            "markdown",
            "--assets",
            super::path_str(&assets),
        ],
        &[],
        super::LIMIT,
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    let mut files = 0;
    for entry in std::fs::read_dir(&assets).expect("the charts") {
        let path = entry.expect("entry").path();
        assert_clean(
            &path.display().to_string(),
            &std::fs::read_to_string(&path).expect("read"),
        );
        files += 1;
    }
    assert_eq!(files, 3);
}
