//! The real binary: exit codes, located configuration errors, the JSON schema scripts rely on,
//! and secrets kept out of every output.

use crate::common;

use std::process::Output;

use common::fault_bin;
use common::pg::{PgOptions, TempPg};
use serde_json::Value;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = fault_bin::command();
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run connscope")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o.stdout)))
}

#[test]
fn config_show_json_has_values_sources_and_capacity_aware_timeouts() {
    let o = run(
        &["config", "show", "--env", "staging", "--format", "json"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v = json(&o);
    let settings = v["settings"].as_array().expect("settings");
    let find = |k: &str| {
        settings
            .iter()
            .find(|e| e["key"] == k)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(find("timeouts.initialization")["value"], "75s");
    assert_eq!(find("timeouts.initialization")["capacity_aware"], "110s");
    assert_eq!(find("timeouts.connection")["source"]["kind"], "profile");
    assert_eq!(find("environment")["source"]["kind"], "flag");
    assert_eq!(find("capacity.cap")["value"], 35);
    assert_eq!(
        find("vpc_connector.concurrent_connection_limit")["value"],
        50
    );
}

#[test]
fn a_bad_config_file_is_exit_78_with_file_line_col() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "environment = \"staging\"\n[timeouts]\nconnection = \"fast\"\n",
    )
    .expect("write");
    let o = run(
        &["--config", path.to_str().expect("utf8"), "config", "show"],
        &[],
    );
    assert_eq!(o.status.code(), Some(78));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!(
            "{}:3:14: timeouts.connection: invalid duration `fast`",
            path.display()
        )),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn bad_flags_are_exit_64() {
    for args in [
        &["check", "--interval", "soon"][..],
        &["check", "--only", "nope"],
        &["frobnicate"],
    ] {
        let o = run(args, &[]);
        assert_eq!(o.status.code(), Some(64), "{args:?}: {}", text(&o.stderr));
    }
}

#[test]
fn nothing_to_check_is_a_configuration_error() {
    let o = run(&["check"], &[]);
    assert_eq!(o.status.code(), Some(78));
    assert!(text(&o.stderr).contains("nothing to check"));
    let o = run(
        &[
            "check",
            "--db-url",
            "postgres://a@127.0.0.1:1/d",
            "--only",
            "http",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(78));
    assert!(
        text(&o.stderr).contains("--only http: needs endpoints"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn config_check_fails_under_the_regression_minimum() {
    let o = run(
        &[
            "config",
            "check",
            "--env",
            "staging",
            "--connect-timeout",
            "20s",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert_eq!(v["findings"][0]["level"], "fail");
    assert_eq!(v["findings"][0]["key"], "timeouts.connection");
}

#[test]
fn check_against_a_healthy_database_passes_with_the_documented_schema() {
    let pg = TempPg::start();
    let url = pg.url("app", "app");
    let o = run(
        &[
            "check",
            "--db-url",
            &url,
            "--attempts",
            "3",
            "--interval",
            "50ms",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let v = json(&o);
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["environment"], "development");
    let attempts = v["database"]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3);
    for a in attempts {
        assert_eq!(a["ok"], true);
        assert!(a["total_ms"].as_f64().is_some());
        for step in ["dns", "tcp", "handshake", "query"] {
            assert!(a["steps_ms"].get(step).is_some(), "steps_ms.{step} present");
        }
        assert!(a["error"].is_null());
    }
    let s = &v["database"]["summary"];
    for k in [
        "attempts",
        "successes",
        "success_rate",
        "avg_ms",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "timeout_violation_rate",
    ] {
        assert!(s.get(k).is_some(), "summary.{k}");
    }
    assert_eq!(s["success_rate"], 1.0);
    assert_eq!(v["init"]["ok"], true);
    assert!(v["alerts"].as_array().is_some_and(Vec::is_empty));
    assert_eq!(
        pg.wait_sessions_gone("connscope"),
        0,
        "every probe connection closed"
    );
}

#[test]
fn check_against_a_closed_port_fails_with_exit_2() {
    let closed = common::ClosedPort::new();
    let port = closed.port();
    let url = format!("postgres://app@127.0.0.1:{port}/app?sslmode=disable");
    let o = run(
        &[
            "check",
            "--db-url",
            &url,
            "--attempts",
            "2",
            "--interval",
            "10ms",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let v = json(&o);
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["database"]["attempts"][0]["error"]["class"], "refused");
    assert_eq!(v["database"]["attempts"][0]["error"]["step"], "tcp");
    assert_eq!(v["alerts"][0]["level"], "critical");
    assert!(
        v["findings"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["rule"] == "refused"))
    );
}

#[test]
fn a_password_never_appears_in_output_errors_or_recordings() {
    let secret = "pw-Zq81-never-print";
    let pg = TempPg::start_with(PgOptions {
        app_password: Some(secret),
        ..PgOptions::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    let rec = dir.path().join("rec.jsonl");
    let log = dir.path().join("log.txt");
    let pgpass = dir.path().join("pgpass");
    std::fs::write(&pgpass, format!("127.0.0.1:{}:app:app:{secret}\n", pg.port)).expect("pgpass");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let url_with_pw = format!(
        "postgres://app:{secret}@127.0.0.1:{}/app?sslmode=disable",
        pg.port
    );
    let url_without = format!("postgres://app@127.0.0.1:{}/app?sslmode=disable", pg.port);
    let wrong_db = format!(
        "postgres://app:{secret}@127.0.0.1:{}/nope?sslmode=disable",
        pg.port
    );
    // Each case with what must come of it: the password was really read and used (the
    // attempt connected, exit 0), or the server refused the database (3D000, exit 2) — a
    // password ignored would fail authentication instead, and pass the leak check unseen.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (vec!["--db-url", &url_with_pw], vec![], None),
        (
            vec!["--db-url", &url_without],
            vec![("PGPASSWORD", secret)],
            None,
        ),
        (
            vec!["--db-url", &url_without],
            vec![("PGPASSFILE", pgpass.to_str().expect("utf8"))],
            None,
        ),
        (
            vec!["--db-url", &wrong_db],
            vec![],
            Some("database_missing"),
        ),
        (vec![], vec![("DATABASE_URL", &url_with_pw)], None),
    ];
    for (i, (args, env, failure)) in cases.iter().enumerate() {
        for format in ["text", "json"] {
            let mut a = vec![
                "check",
                "--attempts",
                "1",
                "--format",
                format,
                "--record",
                rec.to_str().expect("utf8"),
            ];
            a.extend(["--log-file", log.to_str().expect("utf8")]);
            a.extend(args.iter().copied());
            let o = run(
                &a,
                &[env.as_slice(), &[("CONNSCOPE_LOG", "debug")]].concat(),
            );
            let all = format!(
                "{}{}{}",
                text(&o.stdout),
                text(&o.stderr),
                std::fs::read_to_string(&rec).unwrap_or_default()
            );
            assert!(
                !all.contains(secret),
                "case {i} {format} leaked the password:\n{all}"
            );
            let code = if failure.is_some() { 2 } else { 0 };
            assert_eq!(o.status.code(), Some(code), "case {i} {format}: {all}");
            if format == "json" {
                let attempt = &json(&o)["database"]["attempts"][0];
                assert_eq!(
                    attempt["error"]["class"].as_str(),
                    *failure,
                    "case {i}: {attempt}"
                );
            }
        }
        let show = run(
            &[&["config", "show", "--format", "json"][..], args.as_slice()].concat(),
            env,
        );
        assert!(
            !text(&show.stdout).contains(secret),
            "config show leaked in case {i}"
        );
    }
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!log.contains(secret), "log file leaked");
    // The log is worth having: connscope's own lifecycle, and the client library's `log`
    // records (tokio-postgres) bridged in.
    for want in [
        "probes started",
        "database attempt ok",
        "probes shut down",
        "tokio_postgres",
    ] {
        assert!(log.contains(want), "no `{want}` in the debug log:\n{log}");
    }
}

/// The text report (what `check` prints by default) says what the JSON report says: the same
/// verdict and exit code, every reason, alert, finding and failure message, every phase.
#[test]
fn the_text_report_says_everything_the_json_report_says() {
    let sample = format!(
        "{}/tests/fixtures/recordings/outage.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let report = |format: &str| run(&["report", &sample, "--format", format], &[]);
    let (t, j) = (report("text"), report("json"));
    assert_eq!(t.status.code(), j.status.code());
    let v = json(&j);
    let out = text(&t.stdout);
    let code = v["exit_code"].as_i64().expect("exit code");
    let verdict = v["verdict"].as_str().expect("verdict").to_uppercase();
    assert!(
        out.contains(&format!("Verdict: {verdict} (exit {code})")),
        "{out}"
    );
    let strings = |path: &[&str], key: &str| -> Vec<String> {
        let mut node = &v;
        for p in path {
            node = &node[*p];
        }
        node.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| (if key.is_empty() { x } else { &x[key] }).as_str())
            .map(str::to_string)
            .collect()
    };
    let said = [
        strings(&["reasons"], ""),
        strings(&["alerts"], "message"),
        strings(&["findings"], "cause"),
        strings(&["startup", "phases"], "name"),
    ]
    .concat();
    assert!(said.len() > 10, "the sample has plenty to say: {said:?}");
    for s in &said {
        assert!(
            out.contains(s.as_str()),
            "the text report lacks `{s}`:\n{out}"
        );
    }
    let attempts = v["database"]["attempts"].as_array().expect("attempts");
    for a in attempts {
        if let Some(m) = a["error"]["message"].as_str() {
            assert!(
                out.contains(m),
                "attempt {}: `{m}` missing:\n{out}",
                a["seq"]
            );
        }
    }
    let s = &v["database"]["summary"];
    assert!(
        out.contains(&format!(
            "{} of {} succeeded",
            s["successes"], s["attempts"]
        )),
        "{out}"
    );
}

/// `check` without `--format` prints the text report of the live run.
#[test]
fn check_prints_the_text_report_by_default() {
    let pg = TempPg::start();
    let o = run(
        &[
            "check",
            "--only",
            "db",
            "--db-url",
            &pg.url("app", "app"),
            "--attempts",
            "2",
            "--interval",
            "50ms",
        ],
        &[],
    );
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    assert!(out.contains("Database connection attempts"), "{out}");
    assert!(out.contains("2 of 2 succeeded (100 %)"), "{out}");
    assert!(out.contains("Verdict: PASS (exit 0)"), "{out}");
    assert!(!out.trim_start().starts_with('{'), "not JSON: {out}");
}
