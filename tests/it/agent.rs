//! `connscope agent` as a user runs it: a real Prometheus scraping it and answering PromQL,
//! promtool linting a real scrape, the token on every path but /healthz, the refusal to
//! listen beyond loopback without one, TLS, and `check --agent` judging its window.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::agent::{Agent, Prometheus, command, get, get_with};
use crate::common::certs;
use crate::common::pg::TempPg;

const TOKEN: &str = "agent-token-Zq81vX";

fn db_agent(pg: &TempPg, env: &[(&str, &str)]) -> Agent {
    let url = pg.url("postgres", "postgres");
    Agent::start(
        &["--db-url", &url, "--only", "db", "--interval", "200ms"],
        env,
    )
}

/// Polls `f` until it gives `Some`, at most `limit`.
fn until<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn prometheus_scrapes_a_real_agent_and_answers_promql() {
    let pg = TempPg::start();
    let agent = db_agent(&pg, &[("CONNSCOPE_AGENT_TOKEN", TOKEN)]);
    let prom = Prometheus::start(&[format!("127.0.0.1:{}", agent.port)], Some(TOKEN));
    let result = until(
        Duration::from_secs(60),
        "connscope_db_attempts_total in Prometheus",
        || {
            let r = prom.query("connscope_db_attempts_total{result=\"ok\"}");
            (!r.is_empty()).then_some(r)
        },
    );
    let sample = &result[0];
    assert_eq!(sample["metric"]["class"], "none", "{sample}");
    assert_eq!(sample["metric"]["job"], "connscope", "{sample}");
    let value: f64 = sample["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(value >= 1.0, "{sample}");
    // The judge's reading, scraped too: the database is up, the verdict a pass.
    let up = until(Duration::from_secs(30), "connscope_db_up", || {
        prom.query("connscope_db_up").first().cloned()
    });
    assert_eq!(up["value"][1], "1", "{up}");
    let scraped = until(Duration::from_secs(30), "up == 1", || {
        prom.query("up{job=\"connscope\"} == 1").first().cloned()
    });
    assert_eq!(scraped["value"][1], "1");
}

#[test]
fn promtool_finds_nothing_wrong_in_a_real_scrape() {
    let pg = TempPg::start();
    let agent = db_agent(&pg, &[]);
    let metrics = format!("{}/metrics", agent.url());
    let body = until(Duration::from_secs(30), "a scrape with attempts", || {
        let (_, b) = get(&metrics, None).ok()?;
        b.contains("connscope_db_attempts_total{").then_some(b)
    });
    for name in [
        "connscope_db_step_duration_seconds_bucket{step=\"tcp\"",
        "connscope_verdict 0",
        "connscope_db_up 1",
        "connscope_build_info{version=",
        "connscope_alert_active{level=\"critical\",rule=\"db_success_rate\"} 0",
    ] {
        assert!(body.contains(name), "{name} not in the scrape:\n{body}");
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian: apt-get install prometheus)");
    use std::io::Write as _;
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write");
    let out = promtool.wait_with_output().expect("promtool ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );
}

#[test]
fn the_token_is_required_on_every_path_but_healthz_and_never_shown() {
    let pg = TempPg::start();
    let agent = db_agent(&pg, &[("CONNSCOPE_AGENT_TOKEN", TOKEN)]);
    let u = agent.url();
    assert_eq!(get(&format!("{u}/healthz"), None).map(|r| r.0), Ok(200));
    for path in ["/metrics", "/state", "/events"] {
        let url = format!("{u}{path}");
        assert_eq!(
            get(&url, None).map(|r| r.0),
            Ok(401),
            "{path} without a token"
        );
        assert_eq!(
            get(&url, Some("agent-token-Zq81vY")).map(|r| r.0),
            Ok(401),
            "{path} wrong token"
        );
        assert_eq!(
            get(&url, Some("agent-token-Zq81v")).map(|r| r.0),
            Ok(401),
            "{path} a prefix"
        );
    }
    let (code, metrics) = get(&format!("{u}/metrics"), Some(TOKEN)).expect("metrics");
    assert_eq!(code, 200);
    let (code, state) = get(&format!("{u}/state"), Some(TOKEN)).expect("state");
    assert_eq!(code, 200);
    let state: serde_json::Value = serde_json::from_str(&state).expect("/state is JSON");
    assert!(
        state["verdict"].is_string() && state["database"].is_object(),
        "{state}"
    );
    // A check attached without the token is refused, and says how to give one.
    let out = command(
        &["check", "--agent", &format!("a={u}"), "--format", "json"],
        &[],
    )
    .output()
    .expect("check runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["vantages"][0]["link"], "lost", "{report}");
    let msg = report["vantages"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(msg.contains("401"), "{msg}");
    // With the token file: the agent's window, judged here.
    let dir = tempfile::tempdir().expect("dir");
    let file = certs::write(dir.path(), "token", &format!("{TOKEN}\n"), 0o600);
    let file = file.to_string_lossy();
    let out = command(
        &[
            "check",
            "--agent",
            &format!("a={u}"),
            "--agent-token-file",
            &file,
            "--format",
            "json",
        ],
        &[],
    )
    .output()
    .expect("check runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["vantages"][0]["link"], "live", "{report}");
    assert_eq!(
        report["vantages"][0]["report"]["database"]["status"], "up",
        "{report}"
    );
    assert_eq!(out.status.code(), Some(0), "{report}");
    for text in [&metrics, &report.to_string(), &agent.stderr_text()] {
        assert!(!text.contains("Zq81"), "the token leaked: {text}");
    }
}

#[test]
fn beyond_loopback_without_a_token_is_refused_with_78() {
    let out = command(
        &[
            "agent",
            "--listen",
            "0.0.0.0:0",
            "--endpoint",
            "api=http://127.0.0.1:1",
        ],
        &[],
    )
    .output()
    .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0") && err.contains("without a token"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // With a token it starts (and stops on SIGTERM with 0).
    let mut a = Agent::start_on(
        crate::common::pg::free_port(),
        &["--endpoint", "api=http://127.0.0.1:1"],
        &[("CONNSCOPE_AGENT_TOKEN", TOKEN)],
        false,
    );
    assert_eq!(a.stop().code(), Some(0), "{}", a.stderr_text());
}

#[test]
fn an_agent_over_tls_is_reached_with_its_ca_and_refused_without() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = certs::ca("connscope test CA");
    let leaf = ca.leaf(&["127.0.0.1", "localhost"], "agent", 2);
    let cert = certs::write(dir.path(), "agent.crt", &leaf.cert, 0o644);
    let key = certs::write(dir.path(), "agent.key", &leaf.key, 0o600);
    let ca_file = certs::write(dir.path(), "ca.crt", &ca.pem, 0o644);
    let port = crate::common::pg::free_port();
    let (cert, key, ca_path) = (
        cert.to_string_lossy(),
        key.to_string_lossy(),
        ca_file.to_string_lossy(),
    );
    let _a = Agent::start_on(
        port,
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--endpoint",
            "api=http://127.0.0.1:1",
            "--tries-interval",
            "1s",
        ],
        &[],
        true,
    );
    let https = format!("https://127.0.0.1:{port}");
    until(Duration::from_secs(30), "https /healthz", || {
        get_with(&format!("{https}/healthz"), None, Some(&ca.pem))
            .ok()
            .filter(|(c, _)| *c == 200)
    });
    let (code, body) = get_with(&format!("{https}/metrics"), None, Some(&ca.pem)).expect("metrics");
    assert_eq!(code, 200);
    assert!(body.contains("connscope_endpoint_checks_total"), "{body}");
    assert!(
        get(&format!("http://127.0.0.1:{port}/healthz"), None).is_err(),
        "plain HTTP on the TLS port"
    );
    let check = |extra: &[&str]| -> serde_json::Value {
        let agent = format!("a={https}");
        let mut args = vec!["check", "--agent", &agent, "--format", "json"];
        args.extend_from_slice(extra);
        let out = command(&args, &[]).output().expect("check runs");
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let with_ca = check(&["--agent-ca", &ca_path]);
    assert_eq!(with_ca["vantages"][0]["link"], "live", "{with_ca}");
    assert!(
        with_ca["vantages"][0]["report"]["endpoints"].is_array(),
        "{with_ca}"
    );
    let without = check(&[]);
    assert_eq!(without["vantages"][0]["link"], "lost", "{without}");
    let msg = without["vantages"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");
}

#[test]
fn events_are_the_recording_format_and_attached_dashboards_are_counted() {
    use futures::StreamExt;
    let pg = TempPg::start();
    let agent = db_agent(&pg, &[]);
    let metrics = format!("{}/metrics", agent.url());
    let events = format!("ws://127.0.0.1:{}/events", agent.port);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ws = rt.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(events.as_str())
            .await
            .expect("attaches");
        let mut next = async || -> String {
            let m = tokio::time::timeout(Duration::from_secs(20), ws.next())
                .await
                .expect("a message within 20 s")
                .expect("open")
                .expect("readable");
            m.into_text().expect("text").to_string()
        };
        let header: serde_json::Value = serde_json::from_str(&next().await).expect("json");
        assert_eq!(header["format"], "connscope-recording", "{header}");
        assert_eq!(header["command"], "agent", "{header}");
        let backfill = header["backfill"].as_u64().expect("says its backfill");
        assert!(backfill >= 1, "{header}");
        let first: serde_json::Value = serde_json::from_str(&next().await).expect("json");
        assert_eq!(first["kind"], "probes_started", "{first}");
        // Live events keep coming after the backfill.
        let mut attempts = 0;
        for _ in 0..(backfill + 20) {
            let ev: serde_json::Value = serde_json::from_str(&next().await).expect("json");
            attempts += usize::from(ev["kind"] == "db_attempt");
        }
        assert!(attempts > 0);
        ws
    });
    let (_, body) = get(&metrics, None).expect("scrape");
    assert!(body.contains("connscope_agent_clients 1"), "{body}");
    rt.block_on(async move { drop(ws) });
    until(
        Duration::from_secs(10),
        "the dashboard counted as gone",
        || {
            let (_, body) = get(&metrics, None).ok()?;
            body.contains("connscope_agent_clients 0").then_some(())
        },
    );
}
