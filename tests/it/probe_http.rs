//! The HTTP health probe against real loopback servers, asserting on the events it sends.

use crate::common;
use crate::common::http_servers;
use crate::common::http_tls;
use crate::common::probe_task;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use connscope::config::{Config, Endpoint, LoadOptions};
use connscope::event::{ErrorClass, EventBody, HttpCheck, Step};
use connscope::probe::http::{self, HttpEndpoint, HttpParams};
use connscope::probe::{Control, Ctx, Mode};
use connscope::state::endpoints::{Health, health};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use common::init;
use http_servers::{StreamTrace, eventually, serve, serve_on, silent, traced_body, trickle_body};

fn params(url: &str, paths: &[&str], timeout: Duration) -> HttpParams {
    HttpParams {
        endpoints: vec![HttpEndpoint {
            name: "backend".into(),
            url: url.into(),
        }],
        paths: paths.iter().map(|p| p.to_string()).collect(),
        tries: 1,
        tries_interval: Duration::from_millis(50),
        timeout,
        body_limit: 4096,
        interval: Duration::from_secs(3600),
        tls: None,
    }
}

/// Runs the probe once to the end and returns its checks and how long it took.
async fn run_once(p: HttpParams) -> (Vec<HttpCheck>, Duration) {
    init();
    probe_task::once(
        |ctx| http::run(ctx, Control::inert(), Mode::Once, p),
        Duration::from_secs(30),
        |body| match body {
            EventBody::HttpCheck(c) => Ok(c),
            other => Err(Box::new(other)),
        },
    )
    .await
}

async fn one(p: HttpParams) -> HttpCheck {
    let (mut checks, _) = run_once(p).await;
    assert_eq!(checks.len(), 1, "{checks:?}");
    checks.remove(0)
}

fn class(c: &HttpCheck) -> Option<(ErrorClass, Option<Step>)> {
    c.error.as_ref().map(|e| (e.class, e.step))
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_healthy_endpoint_is_ok_with_every_plain_http_step_timed() {
    let s = serve(Router::new().route("/health", get(|| async { "ok" }))).await;
    // `localhost` so that a real lookup happens and is timed.
    let url = format!("http://localhost:{}", s.addr.port());
    let c = one(params(&url, &["/health"], T)).await;
    assert!(c.ok, "{c:?}");
    assert_eq!(c.status, Some(200));
    assert_eq!(c.error, None);
    assert_eq!(c.body_excerpt.as_deref(), Some("ok"));
    assert_eq!(health(&c).health, Health::Ok);
    assert_eq!((c.attempt, c.tries), (1, 1));
    assert_eq!(
        (c.path.as_str(), c.requested_path.as_str()),
        ("/health", "/health")
    );
    let st = c.steps_ms;
    assert!(st.dns.is_some(), "{st:?}");
    assert!(st.connect.is_some(), "{st:?}");
    assert_eq!(st.tls, None, "plain HTTP has no TLS step");
    let (fb, total) = (st.first_byte.unwrap_or(-1.0), st.total.unwrap_or(-1.0));
    assert!(fb >= 0.0 && total >= fb, "{st:?}");
    assert!(
        fb >= st.dns.unwrap_or(0.0) + st.connect.unwrap_or(0.0),
        "{st:?}"
    );
    assert!((c.latency_ms - total).abs() < 1.0, "{c:?}");
    assert_eq!(c.timeout_ms, 5000.0);
}

#[tokio::test]
async fn an_ip_literal_needs_no_dns_step() {
    let s = serve(Router::new().route("/health", get(|| async { "ok" }))).await;
    let c = one(params(&s.url(), &["/health"], T)).await;
    assert!(c.ok, "{c:?}");
    assert_eq!(c.steps_ms.dns, None);
    assert!(c.steps_ms.connect.is_some());
}

#[tokio::test]
async fn a_503_naming_the_database_is_a_startup_failure() {
    let body =
        r#"{"status":"unhealthy","error":"startup failed: database initialization timeout"}"#;
    let s = serve(Router::new().route(
        "/health",
        get(move || async move { (StatusCode::SERVICE_UNAVAILABLE, body) }),
    ))
    .await;
    let c = one(params(&s.url(), &["/health"], T)).await;
    assert!(!c.ok);
    assert_eq!(c.status, Some(503));
    // The probe reports what it saw; the judge reads it as a startup failure.
    assert_eq!(health(&c).health, Health::StartupFailure);
    assert_eq!(c.body_excerpt.as_deref(), Some(body));
    let e = c.error.expect("a failure");
    assert_eq!(
        (e.class, e.message.as_str()),
        (ErrorClass::HttpStatus, "HTTP 503")
    );
}

#[tokio::test]
async fn a_missing_database_path_falls_back_to_health() {
    let s = serve(Router::new().route("/health", get(|| async { "fine" }))).await;
    let (checks, _) = run_once(params(&s.url(), &["/health", "/health/database"], T)).await;
    assert_eq!(checks.len(), 2, "{checks:?}");
    let first = &checks[0];
    assert!(!first.fell_back && first.ok && first.path == "/health");
    let fb = &checks[1];
    assert!(fb.fell_back, "{fb:?}");
    assert_eq!(fb.requested_path, "/health/database");
    assert_eq!(fb.path, "/health");
    assert_eq!(fb.status, Some(200));
    assert!(fb.ok);
}

#[tokio::test]
async fn a_present_database_path_is_used_as_is() {
    let s = serve(
        Router::new()
            .route("/health", get(|| async { "fine" }))
            .route(
                "/health/database",
                get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "database down") }),
            ),
    )
    .await;
    let (checks, _) = run_once(params(&s.url(), &["/health", "/health/database"], T)).await;
    let db = &checks[1];
    assert!(!db.fell_back);
    assert_eq!(
        (db.path.as_str(), db.status),
        ("/health/database", Some(503))
    );
    assert_eq!(health(db).health, Health::StartupFailure);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_on_time() {
    let (s, seen) = silent().await;
    let limit = Duration::from_secs(1);
    let (checks, took) = run_once(params(&s.url(), &["/health"], limit)).await;
    let c = &checks[0];
    assert_eq!(class(c), Some((ErrorClass::Timeout, Some(Step::FirstByte))));
    assert_eq!(c.status, None);
    assert!(c.steps_ms.connect.is_some(), "TCP did connect: {c:?}");
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 1);
    let hung_up = eventually(Duration::from_secs(2), || {
        seen.closed_by_client.load(Ordering::SeqCst) == 1
    })
    .await;
    assert!(hung_up, "the probe left its socket open after the timeout");
    assert!(
        common::fired_at(took, limit),
        "took {took:?} for a {limit:?} timeout"
    );
    let latency = Duration::from_secs_f64(c.latency_ms / 1000.0);
    assert!(common::fired_at(latency, limit), "{c:?}");
}

#[tokio::test]
async fn a_closed_port_is_refused() {
    let closed = common::ClosedPort::new();
    let c = one(params(
        &format!("http://127.0.0.1:{}", closed.port()),
        &["/health"],
        T,
    ))
    .await;
    assert_eq!(class(&c), Some((ErrorClass::Refused, Some(Step::Connect))));
    assert_eq!(
        c.steps_ms.connect, None,
        "a refused connect has no connect time"
    );
    assert!(c.latency_ms < 1000.0, "{c:?}");
    let msg = c.error.map(|e| e.message).unwrap_or_default();
    assert!(msg.contains("refused"), "{msg}");
}

#[tokio::test]
async fn a_slow_server_shows_in_first_byte_and_latency() {
    let s = serve(Router::new().route(
        "/health",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "slow but fine"
        }),
    ))
    .await;
    let c = one(params(&s.url(), &["/health"], T)).await;
    assert!(c.ok, "{c:?}");
    let fb = c.steps_ms.first_byte.expect("headers arrived");
    assert!(fb >= 300.0, "first byte after {fb} ms");
    // A few bytes of body after the headers: latency is the first byte and next to nothing.
    let slack = common::DEADLINE_SLACK.as_secs_f64() * 1000.0;
    assert!(c.latency_ms >= fb && c.latency_ms <= fb + slack, "{c:?}");
    eprintln!(
        "300 ms server: first_byte {fb:.1} ms, latency {:.1} ms",
        c.latency_ms
    );
}

#[tokio::test]
async fn a_huge_body_is_cut_at_the_limit_and_the_connection_dropped() {
    const TOTAL: u64 = 50 * 1024 * 1024;
    const CHUNK: usize = 64 * 1024;
    let trace = Arc::new(StreamTrace::default());
    let t = trace.clone();
    let handler = move || {
        let t = t.clone();
        async move { traced_body(TOTAL, CHUNK, t) }
    };
    let s = serve(Router::new().route("/health", get(handler))).await;
    let c = one(params(&s.url(), &["/health"], T)).await;
    assert!(c.ok, "{c:?}");
    let excerpt = c.body_excerpt.clone().unwrap_or_default();
    assert_eq!(excerpt.chars().count(), http::EXCERPT_CHARS);
    assert!(c.latency_ms < 2000.0, "{c:?}");
    let hung_up = eventually(Duration::from_secs(5), || {
        trace.dropped_early.load(Ordering::SeqCst)
    })
    .await;
    assert!(hung_up, "the server never saw the client hang up");
    let produced = trace.produced.load(Ordering::SeqCst);
    assert!(!trace.finished.load(Ordering::SeqCst));
    assert!(produced < TOTAL / 2, "server produced {produced} bytes");
    eprintln!(
        "50 MB body: server produced {} KiB before the hang-up",
        produced / 1024
    );
}

#[tokio::test]
async fn a_trickling_body_times_out_in_the_body_step() {
    // The first byte at once so the headers go out; then one byte every 100 ms.
    let handler = || async { trickle_body(100, Duration::from_millis(100)) };
    let s = serve(Router::new().route("/health", get(handler))).await;
    let limit = Duration::from_millis(500);
    let (checks, took) = run_once(params(&s.url(), &["/health"], limit)).await;
    let c = &checks[0];
    assert_eq!(class(c), Some((ErrorClass::Timeout, Some(Step::Body))));
    assert_eq!(c.status, Some(200));
    assert!(!c.ok);
    assert!(
        c.steps_ms.first_byte.is_some() && c.steps_ms.total.is_none(),
        "{c:?}"
    );
    let excerpt = c.body_excerpt.clone().unwrap_or_default();
    assert!(
        (3..=6).contains(&excerpt.len()),
        "bytes read before the deadline: {excerpt:?}"
    );
    assert!(common::fired_at(took, limit), "{took:?}");
}

#[tokio::test]
async fn an_invalid_host_fails_in_dns_without_leaving_the_machine() {
    let start = Instant::now();
    let c = one(params("http://backend.invalid:8080", &["/health"], T)).await;
    assert_eq!(class(&c), Some((ErrorClass::Dns, Some(Step::Dns))));
    assert_eq!(c.steps_ms.dns, None);
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn tries_give_one_event_per_path_and_round() {
    let s = serve(
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/health/database", get(|| async { "ok" })),
    )
    .await;
    let mut p = params(&s.url(), &["/health", "/health/database"], T);
    p.tries = 3;
    let (checks, took) = run_once(p).await;
    assert_eq!(checks.len(), 6, "{checks:?}");
    for path in ["/health", "/health/database"] {
        let attempts: Vec<(u32, u32)> = checks
            .iter()
            .filter(|c| c.requested_path == path)
            .map(|c| (c.attempt, c.tries))
            .collect();
        assert_eq!(attempts, vec![(1, 3), (2, 3), (3, 3)], "{path}");
    }
    assert!(
        took >= Duration::from_millis(100),
        "two 50 ms gaps: {took:?}"
    );
}

#[tokio::test]
async fn https_to_a_plain_http_server_fails_in_tls_after_tcp_connected() {
    let s = serve(Router::new().route("/health", get(|| async { "ok" }))).await;
    let c = one(params(&format!("https://{}", s.addr), &["/health"], T)).await;
    assert_eq!(class(&c), Some((ErrorClass::Tls, Some(Step::Tls))), "{c:?}");
    assert!(c.steps_ms.connect.is_some(), "TCP completed: {c:?}");
    assert_eq!(c.steps_ms.tls, None, "TLS did not complete");
}

#[tokio::test]
async fn a_tls_handshake_that_never_completes_times_out_in_tls() {
    let (s, _) = silent().await;
    let c = one(params(
        &format!("https://{}", s.addr),
        &["/health"],
        Duration::from_millis(500),
    ))
    .await;
    assert_eq!(
        class(&c),
        Some((ErrorClass::Timeout, Some(Step::Tls))),
        "{c:?}"
    );
    assert!(c.steps_ms.connect.is_some());
}

#[tokio::test]
async fn credentials_never_reach_the_event() {
    // The server echoes the Authorization header it got (basic auth from the URL).
    let s = serve(Router::new().route(
        "/health",
        get(|h: HeaderMap| async move {
            let auth = h
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_string();
            (StatusCode::SERVICE_UNAVAILABLE, format!("got {auth}"))
        }),
    ))
    .await;
    let url = format!("http://probe:pw-s3cr3t-1@{}/?token=tok-s3cr3t-2", s.addr);
    let mut settings = Config::load(&LoadOptions::default())
        .expect("the built-in profile loads")
        .settings;
    settings.endpoints = vec![Endpoint {
        name: "backend".into(),
        url,
        websocket: None,
    }];
    settings.health.paths = vec!["/health".into()];
    settings.health.tries = 1;
    let p = HttpParams::from_settings(&settings).with_timeout(T);
    let c = one(p).await;
    let json = serde_json::to_string(&c).expect("serialises");
    assert!(!json.contains("pw-s3cr3t-1"), "{json}");
    assert!(!json.contains("tok-s3cr3t-2"), "{json}");
    assert!(!json.contains("cHJvYmU6cHctczNjcjN0LTE="), "{json}");
    assert_eq!(c.body_excerpt.as_deref(), Some("got Basic ***"));
}

#[tokio::test]
async fn live_mode_repeats_until_cancelled() {
    init();
    let s = serve(Router::new().route("/health", get(|| async { "ok" }))).await;
    let mut p = params(&s.url(), &["/health"], T);
    p.interval = Duration::from_millis(20);
    let attempts = probe_task::live(
        |ctx| http::run(ctx, Control::inert(), Mode::Live, p),
        3,
        |body| match body {
            EventBody::HttpCheck(c) => Some(c.attempt),
            _ => None,
        },
    )
    .await;
    assert_eq!(attempts, vec![1, 2, 3]);
}

#[tokio::test]
async fn https_steps_split_tcp_connect_from_a_slow_tls_handshake() {
    init();
    let cert = http_tls::cert();
    let delay = Duration::from_millis(200);
    let l = http_tls::TlsListener::bind(&cert, delay).await;
    let s = serve_on(l, Router::new().route("/health", get(|| async { "ok" })));
    let mut p = params(
        &format!("https://localhost:{}", s.addr.port()),
        &["/health"],
        T,
    );
    p.tls = Some(http_tls::client_config(&cert));
    let c = one(p).await;
    assert!(c.ok, "{c:?}");
    let st = c.steps_ms;
    let (dns, connect, tls) = (
        st.dns.expect("dns"),
        st.connect.expect("connect"),
        st.tls.expect("tls"),
    );
    // The server accepts TCP at once and holds the handshake for 200 ms: all of it is TLS,
    // none of it the connect (the exact figures are measured in benches/fidelity.rs).
    let held = delay.as_secs_f64() * 1000.0;
    let slack = common::DEADLINE_SLACK.as_secs_f64() * 1000.0;
    assert!(connect < held, "connect {connect} ms");
    assert!((held..held + slack).contains(&tls), "tls {tls} ms");
    let fb = st.first_byte.expect("first byte");
    assert!(fb >= dns + connect + tls, "{st:?}");
    eprintln!(
        "200 ms TLS server: dns {dns:.2} connect {connect:.2} tls {tls:.1} first_byte {fb:.1} ms"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_failure() {
    init();
    let cert = http_tls::cert();
    let l = http_tls::TlsListener::bind(&cert, Duration::ZERO).await;
    let s = serve_on(l, Router::new().route("/health", get(|| async { "ok" })));
    // The built-in roots (webpki) do not include a self-signed test certificate.
    let c = one(params(
        &format!("https://localhost:{}", s.addr.port()),
        &["/health"],
        T,
    ))
    .await;
    assert_eq!(class(&c), Some((ErrorClass::Tls, Some(Step::Tls))), "{c:?}");
    let msg = c.error.map(|e| e.message).unwrap_or_default();
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");
}

#[tokio::test]
async fn cancelling_stops_a_check_in_flight_without_an_event() {
    init();
    let (s, seen) = silent().await;
    let (tx, mut rx) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let p = params(&s.url(), &["/health"], Duration::from_secs(20));
    let task = tokio::spawn(http::run(
        Ctx::new(tx, cancel.clone()),
        Control::inert(),
        Mode::Once,
        p,
    ));
    let connected = eventually(Duration::from_secs(2), || {
        seen.accepted.load(Ordering::SeqCst) == 1
    })
    .await;
    assert!(connected);
    let start = Instant::now();
    cancel.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(2), task).await;
    assert!(matches!(ended, Ok(Ok(()))), "the probe did not stop");
    // At once, not at the check's 20 s timeout; a second is scheduling on a loaded machine.
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(
        rx.recv().await.is_none(),
        "an interrupted check is not an event"
    );
}

#[tokio::test]
async fn nothing_configured_ends_at_once_even_live() {
    init();
    let mut p = params("http://127.0.0.1:9", &["/health"], T);
    p.endpoints.clear();
    let (tx, _rx) = mpsc::channel(1);
    let run = http::run(
        Ctx::new(tx, CancellationToken::new()),
        Control::inert(),
        Mode::Live,
        p,
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(1), run)
            .await
            .is_ok()
    );
}
