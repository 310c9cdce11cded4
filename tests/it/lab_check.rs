//! The lab as the on-call engineer meets it: the real binary `connscope lab --headless` serves a
//! scenario, and ordinary `connscope check --format json` runs (the real binary, the same
//! probes that face real outages) look at it through its addresses, with the staging timeouts
//! scaled by the scenarios' time scale (0.1). Then the connector stand-in's faults one by one as
//! `check` reports them, clean shutdown on SIGINT / SIGTERM / SIGKILL, and the committed sample
//! recording `assets/outage.jsonl`.
//!
//! Everything runs on loopback; every wait is bounded; every lab, cluster and child is stopped
//! (and checked for) before a test ends.

use crate::common::lab_headless;

use std::time::Duration;

use connscope::lab::pg::{PgCluster, find_binaries};
use connscope::lab::{Faults, OverCap, Proxy, pgconn};
use serde_json::Value;

use crate::common::lab_support::sim_behind_proxy;
use crate::common::wait_until;
use lab_headless::*;

/// Bound on one `check` run (the longest: initialization 7.5 s plus three tries of the health
/// endpoints, on a loaded machine).
const CHECK_LIMIT: Duration = Duration::from_secs(90);

fn ms(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

// ================================================================ scenarios through `check`

/// `healthy`: everything answers. Waits for the service to log phase 7 completed (the lab's
/// service starts in about 0.6 s at scale 0.1) so the endpoints are past "starting".
fn healthy(database: &str) {
    let lab = HeadlessLab::start("healthy", database);
    assert_eq!(lab.banner.database, database);
    wait_log(&lab.banner.startup_log, Duration::from_secs(30), |v| {
        v["phase"] == 7 && v["status"] == "completed"
    });
    let mut flags = lab.check_flags();
    flags.extend(strs(&[
        "--attempts",
        "3",
        "--interval",
        "200ms",
        "--tries",
        "2",
        "--tries-interval",
        "200ms",
    ]));
    let (run, v) = check(&flags, CHECK_LIMIT);
    // Nothing inherent in the lab warrants a warning: the connector adds ~20 ms, far under
    // every scaled target, and the lab's own timeouts are staging's scaled.
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(v["verdict"], "pass", "{:#}", v["reasons"]);
    assert_eq!(v["environment"], "staging");
    assert!(
        v["alerts"].as_array().is_some_and(Vec::is_empty),
        "{:#}",
        v["alerts"]
    );

    let atts = attempts(&v);
    assert_eq!(atts.len(), 3);
    for a in &atts {
        assert_eq!(a["ok"], true, "{a:#}");
        for s in ["tcp", "handshake", "query"] {
            assert!(step(a, s).is_some(), "step {s} timed: {a:#}");
        }
    }
    assert_eq!(v["init"]["ok"], true, "{:#}", v["init"]);
    // The lab's database (either kind) has max_connections = 20: proof it is the lab's.
    assert_eq!(v["init"]["server_max_connections"], 20);

    let endpoints = v["endpoints"].as_array().expect("endpoints");
    let names: Vec<&str> = endpoints
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["api", "auth", "backend"]);
    for e in endpoints {
        let checks = e["checks"].as_array().expect("checks");
        assert_eq!(
            checks.len(),
            4,
            "2 tries × /health and /health/database: {e:#}"
        );
        for c in checks {
            assert_eq!(c["status"], 200, "{c:#}");
            assert_eq!(c["startup_failure"], false);
        }
    }
    let ws = &v["websockets"][0];
    assert_eq!(ws["ok"], true, "{ws:#}");
    assert!(ws["rtt_ms"].as_f64().is_some());

    let startup = &v["startup"];
    let phases = startup["phases"].as_array().expect("phases");
    assert_eq!(phases.len(), 7);
    for p in phases {
        assert_eq!(p["verdict"], "pass", "{p:#}");
    }
    assert_eq!(startup["runs"], 1);
    assert!(startup["exit_code"].is_null());
    eprintln!(
        "healthy/{database}: avg connect {:.1} ms (handshake median {:.1} ms), startup {:.2} s",
        ms(&v["database"]["summary"]["avg_ms"]),
        median(atts.iter().filter_map(|a| step(a, "handshake")).collect()),
        ms(&startup["total_s"]),
    );
}

#[test]
fn healthy_passes_every_probe_on_real_postgres() {
    healthy("postgres");
}

#[test]
fn healthy_passes_every_probe_on_the_simulated_database() {
    healthy("sim");
}

/// `db-capacity`: the hog holds every slot. Attempts through the connector and straight to
/// the database are refused by the server itself with 53300 before authentication; a
/// capacity test sees nothing but capacity errors and raises the capacity alert.
fn db_capacity(database: &str) {
    let lab = HeadlessLab::start("db-capacity", database);
    let mut flags = db_flags(&lab.banner.database_url);
    flags.extend(strs(&[
        "--only",
        "db,init",
        "--attempts",
        "3",
        "--interval",
        "200ms",
    ]));
    let (run, v) = check(&flags, CHECK_LIMIT);
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(v["verdict"], "fail");
    let atts = attempts(&v);
    assert_eq!(atts.len(), 3);
    for a in &atts {
        assert_eq!(a["ok"], false);
        let e = &a["error"];
        assert_eq!(e["class"], "too_many_connections", "{a:#}");
        assert_eq!(e["sqlstate"], "53300", "{a:#}");
        assert_eq!(
            e["step"], "handshake",
            "refused before authentication: {a:#}"
        );
        assert!(step(a, "tcp").is_some(), "TCP connected: {a:#}");
    }
    assert_eq!(v["database"]["errors_by_class"]["too_many_connections"], 3);
    assert_eq!(v["init"]["error"]["class"], "too_many_connections");
    assert!(
        rules(&v).contains(&"capacity".to_string()),
        "{:?}",
        rules(&v)
    );
    assert!(
        v["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["rule"] == "db_success_rate")),
        "{:#}",
        v["alerts"]
    );

    // Straight to the database: the same refusal, so it is the database, not the connector.
    let mut direct = db_flags(&lab.banner.direct_database_url);
    direct.extend(strs(&["--only", "db", "--attempts", "1"]));
    let (_, d) = check(&direct, CHECK_LIMIT);
    assert_eq!(attempts(&d)[0]["error"]["sqlstate"], "53300", "{d:#}");

    let mut cap = db_flags(&lab.banner.database_url);
    cap.extend(strs(&["--only", "capacity", "--capacity", "10"]));
    let (run, c) = check(&cap, CHECK_LIMIT);
    // A capacity alert is a warning; with not one connection through, the verdict may judge the
    // capacity test itself a failure. Either way the process exits with the verdict's code.
    assert!(c["verdict"] == "warn" || c["verdict"] == "fail", "{c:#}");
    assert_eq!(
        run.code,
        c["exit_code"].as_i64().and_then(|n| i32::try_from(n).ok()),
        "{}",
        run.stderr
    );
    let capacity = &c["capacity"];
    assert_eq!(capacity["requested"], 10);
    assert!(
        capacity["capacity_errors"].as_u64().is_some_and(|n| n > 0),
        "{capacity:#}"
    );
    assert_eq!(capacity["succeeded"], 0, "{capacity:#}");
    assert_eq!(capacity["running"], false);
    assert!(
        c["alerts"].as_array().is_some_and(|a| a
            .iter()
            .any(|a| a["level"] == "capacity" && a["rule"] == "capacity_errors")),
        "{:#}",
        c["alerts"]
    );
    eprintln!(
        "db-capacity/{database}: {} of {} capacity-test connections refused with 53300",
        capacity["capacity_errors"], capacity["attempted"]
    );
}

#[test]
fn db_capacity_is_53300_and_a_capacity_alert_on_real_postgres() {
    db_capacity("postgres");
}

#[test]
fn db_capacity_is_53300_and_a_capacity_alert_on_the_simulated_database() {
    db_capacity("sim");
}

/// `startup-timeout`: the outage. The proxy accepts TCP and then black-holes everything, so
/// connscope's attempts connect TCP in well under a millisecond and then time out in the next
/// step — `tls` (the SSLRequest of sslmode=prefer is never answered), or `handshake` with TLS
/// off. Phase 3 of the service runs out its 7.5 s initialization timeout, logs the failure,
/// exits with code 3 and is restarted; the health endpoints answer 503 naming the startup
/// failure. The check runs once the first exit 3 is in the log, so the failed run is either
/// the current one or in `startup.previous_runs`.
fn startup_timeout(database: &str) {
    let lab = HeadlessLab::start("startup-timeout", database);
    wait_log(&lab.banner.startup_log, Duration::from_secs(40), |v| {
        v["event"] == "exit" && v["code"] == 3
    });
    let mut flags = lab.check_flags();
    flags.extend(strs(&[
        "--attempts",
        "2",
        "--interval",
        "200ms",
        "--tries",
        "3",
        "--tries-interval",
        "300ms",
    ]));
    let (run, v) = check(&flags, CHECK_LIMIT);
    assert_eq!(run.code, Some(2), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(v["verdict"], "fail");

    for a in attempts(&v) {
        let e = &a["error"];
        assert_eq!(e["class"], "timeout", "{a:#}");
        assert!(e["step"] == "tls" || e["step"] == "handshake", "{a:#}");
        assert!(
            step(&a, "tcp").is_some_and(|t| t < 500.0),
            "TCP connects: {a:#}"
        );
        let total = ms(&a["total_ms"]);
        assert!(
            (3500.0..4500.0).contains(&total),
            "bounded by 3.5 s: {total}"
        );
    }
    let init = &v["init"];
    assert_eq!(init["timed_out"], true, "{init:#}");
    assert_eq!(init["near_configured_timeout"], true, "{init:#}");
    let elapsed = ms(&init["elapsed_ms"]);
    assert!(
        (7500.0..8500.0).contains(&elapsed),
        "init after {elapsed} ms"
    );

    for e in v["endpoints"].as_array().expect("endpoints") {
        for c in e["checks"].as_array().expect("checks") {
            assert_eq!(c["status"], 503, "{c:#}");
            assert_eq!(c["startup_failure"], true, "{c:#}");
        }
        for p in e["paths"].as_array().expect("paths") {
            assert_eq!(p["of"], 3, "{p:#}");
            assert_eq!(p["failed"], 3, "{p:#}");
            assert_eq!(p["consistent_failure"], true, "{p:#}");
        }
    }
    assert_eq!(v["websockets"][0]["ok"], false);

    // Phase 3 failed after ≈ 7.5 s and the service exited with 3: in this run or an earlier one.
    let startup = &v["startup"];
    let failed_now = startup["phases"][2]["verdict"] == "failed" && startup["exit_code"] == 3;
    let earlier: Vec<&Value> = startup["previous_runs"]
        .as_array()
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    let failed_before = earlier.iter().any(|r| {
        r["exit_code"] == 3
            && r["failed_phase_number"] == 3
            && r["failed_after_s"]
                .as_f64()
                .is_some_and(|s| (7.5 * 0.9..=7.5 + 2.0).contains(&s))
    });
    assert!(failed_now || failed_before, "{startup:#}");

    let found = rules(&v);
    // The service 503s while this host cannot reach the database either: the shared path.
    for rule in ["outage_signature", "shared_path"] {
        assert!(found.contains(&rule.to_string()), "{rule} in {found:?}");
    }
    let alerts: Vec<&str> = v["alerts"]
        .as_array()
        .map(|a| a.iter().filter_map(|a| a["rule"].as_str()).collect())
        .unwrap_or_default();
    assert!(alerts.contains(&"db_success_rate"), "{alerts:?}");
    assert!(alerts.contains(&"db_timeout_violations"), "{alerts:?}");
    eprintln!(
        "startup-timeout/{database}: attempts time out at step {} after {:.0} ms, init after {elapsed:.0} ms, \
         {} earlier run(s) in the log, findings {found:?}",
        attempts(&v)[0]["error"]["step"],
        ms(&attempts(&v)[0]["total_ms"]),
        earlier.len(),
    );
}

#[test]
fn startup_timeout_shows_the_outage_signature_on_real_postgres() {
    startup_timeout("postgres");
}

#[test]
fn startup_timeout_shows_the_outage_signature_on_the_simulated_database() {
    startup_timeout("sim");
}

/// `connector-saturation`: each new connection waits 1–4 s for the connector (25 ± 15 s × 0.1)
/// against a 3.5 s connection timeout, so attempts through the proxy are slow and some time out
/// — while the same database straight is fast. Three checks run side by side per round, and
/// rounds repeat (at most 3) until a timeout has been seen.
#[test]
fn connector_saturation_is_slow_through_the_connector_and_fast_direct() {
    let lab = HeadlessLab::start("connector-saturation", "auto");
    let mut through = db_flags(&lab.banner.database_url);
    through.extend(strs(&[
        "--only",
        "db",
        "--attempts",
        "4",
        "--interval",
        "100ms",
    ]));
    let mut direct = db_flags(&lab.banner.direct_database_url);
    direct.extend(strs(&[
        "--only",
        "db",
        "--attempts",
        "4",
        "--interval",
        "100ms",
    ]));

    let mut proxied: Vec<Value> = Vec::new();
    let mut straight: Vec<Value> = Vec::new();
    for _round in 0..3 {
        let runs: Vec<(Run, Value)> = std::thread::scope(|s| {
            let mut handles: Vec<_> = (0..3)
                .map(|_| s.spawn(|| check(&through, CHECK_LIMIT)))
                .collect();
            handles.push(s.spawn(|| check(&direct, CHECK_LIMIT)));
            handles
                .into_iter()
                .map(|h| h.join().expect("check thread"))
                .collect()
        });
        for (i, (_, v)) in runs.iter().enumerate() {
            if i < 3 {
                proxied.extend(attempts(v));
            } else {
                straight.extend(attempts(v));
            }
        }
        if proxied.iter().any(|a| a["error"]["class"] == "timeout") {
            break;
        }
    }

    let ok: Vec<&Value> = proxied.iter().filter(|a| a["ok"] == true).collect();
    let timeouts: Vec<&Value> = proxied
        .iter()
        .filter(|a| a["error"]["class"] == "timeout")
        .collect();
    assert_eq!(
        ok.len() + timeouts.len(),
        proxied.len(),
        "only slow or timed out: {proxied:#?}"
    );
    assert!(!timeouts.is_empty(), "some attempts time out: {proxied:#?}");
    assert!(!ok.is_empty(), "some attempts get through: {proxied:#?}");
    // The wait comes after TCP; the clock runs out in whichever step it then reached (an attempt
    // let through at 3.45 s times out in its query).
    for a in &timeouts {
        let s = a["error"]["step"].as_str().unwrap_or_default();
        assert!(["tls", "handshake", "query"].contains(&s), "{a:#}");
    }
    for a in &proxied {
        assert!(
            step(a, "tcp").is_some_and(|t| t < 500.0),
            "TCP is fast, the wait comes after: {a:#}"
        );
    }
    // The connector's wait lands in the first step after TCP: at least its 1 s minimum.
    let waits: Vec<f64> = ok.iter().filter_map(|a| step(a, "handshake")).collect();
    for w in &waits {
        assert!(
            *w >= 950.0,
            "a connection through the saturated connector waited {w} ms"
        );
    }
    assert!(straight.iter().all(|a| a["ok"] == true), "{straight:#?}");
    let direct_total = median(straight.iter().map(|a| ms(&a["total_ms"])).collect());
    let proxied_total = median(ok.iter().map(|a| ms(&a["total_ms"])).collect());
    assert!(
        direct_total * 10.0 < proxied_total,
        "direct {direct_total} ms vs through the connector {proxied_total} ms"
    );
    eprintln!(
        "connector-saturation: {} attempts through the connector, {} timed out; ok ones median {proxied_total:.0} ms \
         (handshake incl. TLS {:.0}..{:.0} ms; proxy setting: connect delay 2.5 s ± 1.5 s, latency 30 ± 20 ms per chunk); \
         direct median {direct_total:.1} ms",
        proxied.len(),
        timeouts.len(),
        waits.iter().copied().fold(f64::INFINITY, f64::min),
        waits.iter().copied().fold(0.0, f64::max),
    );
}

/// `flapping`: the path is black-holed 4 s out of every 8 (40 s × 0.1). Attempts every 200 ms
/// for longer than one period see both states: fast successes, and timeouts for the attempt
/// that starts as the black hole begins (it would wait ≈ 4 s for the path against 3.5 s).
#[test]
fn flapping_shows_both_successes_and_failures() {
    let lab = HeadlessLab::start("flapping", "auto");
    let mut flags = db_flags(&lab.banner.database_url);
    flags.extend(strs(&[
        "--only",
        "db",
        "--attempts",
        "40",
        "--interval",
        "200ms",
    ]));
    let (_, v) = check(&flags, CHECK_LIMIT);
    let atts = attempts(&v);
    let ok = atts.iter().filter(|a| a["ok"] == true).count();
    let failed: Vec<&Value> = atts.iter().filter(|a| a["ok"] == false).collect();
    assert!(ok > 0, "{atts:#?}");
    assert!(!failed.is_empty(), "{atts:#?}");
    for a in &failed {
        assert_eq!(a["error"]["class"], "timeout", "{a:#}");
    }
    let rate = ms(&v["database"]["summary"]["success_rate"]);
    assert!(rate > 0.0 && rate < 1.0, "{rate}");
    eprintln!(
        "flapping: {} attempts over {:.1} s, {ok} ok, {} timed out",
        atts.len(),
        ms(&v["duration_s"]),
        failed.len()
    );
}

// ================================================================ proxy faults, one by one

/// A real PostgreSQL cluster and a proxy in front of it with `faults`.
struct FaultBench {
    cluster: PgCluster,
    proxy: Proxy,
}

impl FaultBench {
    async fn start(faults: Faults) -> FaultBench {
        crate::common::init();
        let bin = find_binaries().expect("PostgreSQL server binaries are installed here");
        let cluster = PgCluster::start(&bin, 20).await.expect("cluster starts");
        let proxy = Proxy::start(cluster.addr(), faults)
            .await
            .expect("proxy starts");
        FaultBench { cluster, proxy }
    }

    fn url(&self, through_proxy: bool) -> String {
        let addr = if through_proxy {
            self.proxy.addr()
        } else {
            self.cluster.addr()
        };
        format!("postgres://app@{addr}/app")
    }

    async fn stop(mut self) {
        self.proxy.shutdown().await;
        self.cluster.stop().await.expect("cluster stops");
    }
}

/// `check --only db` in a blocking thread, so the proxy keeps running on the runtime.
async fn check_db(url: String, extra: &[&str]) -> Value {
    let mut flags = strs(&["--db-url", &url, "--only", "db"]);
    if !extra.contains(&"--connect-timeout") {
        flags.extend(strs(&["--connect-timeout", "3s"]));
    }
    flags.extend(strs(extra));
    tokio::task::spawn_blocking(move || check(&flags, CHECK_LIMIT).1)
        .await
        .expect("check thread")
}

fn median_step(v: &Value, name: &str) -> f64 {
    median(attempts(v).iter().filter_map(|a| step(a, name)).collect())
}

/// Added latency: every chunk waits L each way, so each round trip of the protocol gains 2 L.
/// `SELECT 1` is one round trip (query step +2 L); the handshake is two without TLS
/// (SSLRequest answered `N`, then startup → ReadyForQuery: +4 L). Each bound leaves L of
/// slack above the right figure — half a round trip short of a wrong one; how close the
/// figures really are is measured in `benches/fidelity.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_latency_shows_in_the_handshake_and_query_steps() {
    let latency = Duration::from_millis(200);
    let l = latency.as_secs_f64() * 1000.0;
    let bench = FaultBench::start(Faults {
        latency,
        ..Faults::default()
    })
    .await;
    let args = ["--attempts", "3", "--interval", "50ms"];
    let direct = check_db(bench.url(false), &args).await;
    let proxied = check_db(bench.url(true), &args).await;
    for v in [&direct, &proxied] {
        assert!(attempts(v).iter().all(|a| a["ok"] == true), "{v:#}");
    }
    let tls_added = median_step(&proxied, "tls") - median_step(&direct, "tls");
    let hs_added = median_step(&proxied, "handshake") - median_step(&direct, "handshake");
    let q_added = median_step(&proxied, "query") - median_step(&direct, "query");
    eprintln!(
        "latency {l} ms per direction: TLS step +{tls_added:.1} ms, handshake +{hs_added:.1} ms, \
         query +{q_added:.1} ms (direct handshake {:.1} ms, query {:.1} ms)",
        median_step(&direct, "handshake"),
        median_step(&direct, "query"),
    );
    assert!(
        (2.0 * l * 0.95..3.0 * l).contains(&q_added),
        "query +{q_added}"
    );
    assert!(
        (4.0 * l * 0.95..5.0 * l).contains(&hs_added),
        "handshake +{hs_added}"
    );
    bench.stop().await;
}

/// Connect delay (the connector scaling up): nothing is forwarded for D after accept, so the
/// first step after TCP (the SSLRequest, `tls`) grows by ≈ D and TCP itself stays fast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_delay_shows_in_the_first_step_after_tcp() {
    let delay = Duration::from_millis(700);
    let d = delay.as_secs_f64() * 1000.0;
    let bench = FaultBench::start(Faults {
        connect_delay: delay,
        ..Faults::default()
    })
    .await;
    let args = ["--attempts", "3", "--interval", "50ms"];
    let direct = check_db(bench.url(false), &args).await;
    let proxied = check_db(bench.url(true), &args).await;
    let added = median_step(&proxied, "tls") - median_step(&direct, "tls");
    let total_added = median(
        attempts(&proxied)
            .iter()
            .map(|a| ms(&a["total_ms"]))
            .collect(),
    ) - median(
        attempts(&direct)
            .iter()
            .map(|a| ms(&a["total_ms"]))
            .collect(),
    );
    eprintln!("connect delay {d} ms: TLS step +{added:.1} ms, total +{total_added:.1} ms");
    // The delay once, in `tls`, and not in `tcp` (half the delay of slack each way).
    assert!((d * 0.98..d * 1.5).contains(&added), "tls +{added}");
    assert!(median_step(&proxied, "tcp") < d / 2.0, "{proxied:#}");
    assert!(attempts(&proxied).iter().all(|a| a["ok"] == true));
    bench.stop().await;
}

/// Black hole: TCP connects (the kernel accepts), then nothing comes back; the attempt is a
/// `timeout` at the step it was in when the connection timeout fired — `tls` with the default
/// sslmode=prefer, `handshake` with TLS off — and lasts the connection timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_hole_is_a_timeout_after_tcp() {
    let bench = FaultBench::start(Faults {
        black_hole: true,
        ..Faults::default()
    })
    .await;
    let args = ["--attempts", "1", "--connect-timeout", "1s"];
    for (suffix, expected_step) in [("", "tls"), ("?sslmode=disable", "handshake")] {
        let v = check_db(format!("{}{suffix}", bench.url(true)), &args).await;
        let a = &attempts(&v)[0];
        assert_eq!(a["error"]["class"], "timeout", "{a:#}");
        assert_eq!(a["error"]["step"], expected_step, "{a:#}");
        // TCP connects at once (the kernel accepts); the second is all in the later step.
        assert!(step(a, "tcp").is_some_and(|t| t < 500.0), "{a:#}");
        let total = ms(&a["total_ms"]);
        assert!((1000.0..1500.0).contains(&total), "{total}");
        assert!(
            rules(&v).contains(&"handshake_timeout".to_string()),
            "{:?}",
            rules(&v)
        );
    }
    bench.stop().await;
}

/// Reset: the proxy closes each connection with a TCP RST right after accept. connscope
/// classifies a reset mid-handshake as `protocol` (a connection that could not be opened at all
/// would be `refused`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_is_a_fast_protocol_failure() {
    let bench = FaultBench::start(Faults {
        reset: true,
        ..Faults::default()
    })
    .await;
    let v = check_db(bench.url(true), &["--attempts", "2", "--interval", "50ms"]).await;
    for a in attempts(&v) {
        let class = a["error"]["class"].as_str().unwrap_or_default().to_string();
        assert!(class == "protocol" || class == "refused", "{a:#}");
        assert!(ms(&a["total_ms"]) < 1000.0, "fails fast: {a:#}");
        eprintln!(
            "reset: class {class}, step {}, message {}",
            a["error"]["step"], a["error"]["message"]
        );
    }
    assert!(bench.proxy.stats().resets >= 2);
    bench.stop().await;
}

/// The connector's connection cap. In `wait` mode a connection beyond it is accepted and held
/// until a slot frees: with the only slot taken, an attempt times out after TCP. A capacity
/// test through a cap of 2 (each connection held 1 s) sees the extra connections wait and time
/// out. In `reset` mode the extra connection fails at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cap_makes_extra_connections_wait_or_fail() {
    let bench = FaultBench::start(Faults {
        max_connections: Some(1),
        over_cap: OverCap::Wait,
        ..Faults::default()
    })
    .await;
    let config = pgconn::config("app", "app", "connscope-lab-check-test");
    let (client, conn) = tokio::time::timeout(
        Duration::from_secs(10),
        pgconn::connect(&config, bench.proxy.addr()),
    )
    .await
    .expect("in time")
    .expect("the first connection takes the only slot");
    let conn_task = tokio::spawn(conn);
    let v = check_db(
        bench.url(true),
        &["--attempts", "1", "--connect-timeout", "1s"],
    )
    .await;
    let a = &attempts(&v)[0];
    assert_eq!(a["error"]["class"], "timeout", "{a:#}");
    assert!(step(a, "tcp").is_some(), "{a:#}");
    assert!(
        bench.proxy.stats().waiting <= 1,
        "the held attempt leaves the queue once connscope gives up"
    );

    bench.proxy.set_faults(Faults {
        max_connections: Some(1),
        over_cap: OverCap::Reset,
        ..Faults::default()
    });
    let v = check_db(bench.url(true), &["--attempts", "1"]).await;
    let a = &attempts(&v)[0];
    let class = a["error"]["class"].as_str().unwrap_or_default();
    assert!(class == "protocol" || class == "refused", "{a:#}");
    drop(client);
    conn_task.abort();

    bench.proxy.set_faults(Faults {
        max_connections: Some(2),
        over_cap: OverCap::Wait,
        ..Faults::default()
    });
    let url = bench.url(true);
    let flags = strs(&[
        "--db-url",
        &url,
        "--only",
        "capacity",
        "--capacity",
        "5",
        "--hold",
        "1s",
        "--connect-timeout",
        "500ms",
    ]);
    let c = tokio::task::spawn_blocking(move || check(&flags, CHECK_LIMIT).1)
        .await
        .expect("check thread");
    let cap = &c["capacity"];
    eprintln!("capacity test through a cap of 2: {cap}");
    assert_eq!(cap["attempted"], 5, "{cap:#}");
    assert_eq!(cap["succeeded"], 2, "two fit under the cap: {cap:#}");
    assert_eq!(cap["errors_by_class"]["timeout"], 3, "{cap:#}");
    assert_eq!(
        cap["capacity_errors"], 0,
        "the database itself has room: {cap:#}"
    );
    bench.stop().await;
}

/// Bandwidth: bytes are paced per direction. The handshake (a few hundred bytes of server
/// parameters) takes time inversely proportional to the rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_limit_slows_the_handshake_in_proportion() {
    let bench = FaultBench::start(Faults::default()).await;
    let url = format!("{}?sslmode=disable", bench.url(true));
    let args = ["--attempts", "2", "--interval", "50ms"];
    let mut took = Vec::new();
    for rate in [4000u64, 1000] {
        bench.proxy.set_faults(Faults {
            bandwidth_bytes_per_sec: Some(rate),
            ..Faults::default()
        });
        let v = check_db(url.clone(), &args).await;
        assert!(attempts(&v).iter().all(|a| a["ok"] == true), "{v:#}");
        took.push(median_step(&v, "handshake"));
    }
    let (fast, slow) = (took[0], took[1]);
    eprintln!("bandwidth: handshake {fast:.1} ms at 4000 B/s, {slow:.1} ms at 1000 B/s");
    assert!(slow > 100.0, "{slow}");
    assert!(slow > fast * 2.5, "4× less bandwidth: {fast} → {slow}");
    bench.stop().await;
}

/// The simulated database behind the proxy behaves the same for a black hole (the lab's
/// `--database sim` path): the fault belongs to the connector, not the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_hole_in_front_of_the_simulated_database_is_the_same_timeout() {
    crate::common::init();
    let (sim, proxy) = sim_behind_proxy(
        5,
        Faults {
            black_hole: true,
            ..Faults::default()
        },
    )
    .await;
    let v = check_db(
        format!("postgres://app@{}/app", proxy.addr()),
        &["--attempts", "1", "--connect-timeout", "1s"],
    )
    .await;
    let a = &attempts(&v)[0];
    assert_eq!(a["error"]["class"], "timeout", "{a:#}");
    assert_eq!(a["error"]["step"], "tls", "{a:#}");
    proxy.shutdown().await;
    sim.shutdown().await;
}

// ================================================================ clean shutdown

/// SIGINT or SIGTERM: exit 0 promptly, no postmaster of the lab's left, its directories
/// removed, nothing listening on its addresses.
fn stops_cleanly(sig: libc::c_int, database: &str) {
    let mut lab = HeadlessLab::start("startup-timeout", database);
    let dirs = lab.dirs();
    let expected_dirs = if database == "postgres" { 2 } else { 1 };
    assert_eq!(dirs.len(), expected_dirs, "{dirs:?}");
    if database == "postgres" {
        assert_eq!(
            postmasters_of(lab.pid).len(),
            1,
            "the lab's postmaster runs"
        );
    }
    // Stop it mid-outage: phase 3 waiting in the black hole, its connection held.
    let log = lab.banner.startup_log.clone();
    let in_phase_3 = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|t| {
            t.lines()
                .any(|l| l.contains(r#""phase":3"#) && l.contains(r#""status":"started""#))
        })
    });
    assert!(in_phase_3, "phase 3 never started: {}", log.display());
    let listening = lab.listening();
    let (status, took) = lab.stop(sig);
    eprintln!("lab --headless ({database}) stopped by signal {sig} in {took:?}: {status}");
    assert_eq!(status.code(), Some(0), "stderr: {}", lab.stderr_text());
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(
        postmasters_of(lab.pid).is_empty(),
        "{:?}",
        postmasters_of(lab.pid)
    );
    for d in &dirs {
        assert!(!d.exists(), "{} removed", d.display());
    }
    for addr in listening {
        assert!(
            std::net::TcpStream::connect_timeout(
                &addr.parse().expect("an address"),
                Duration::from_secs(1)
            )
            .is_err(),
            "{addr} closed"
        );
    }
}

#[test]
fn sigint_stops_the_lab_cleanly_on_real_postgres() {
    stops_cleanly(libc::SIGINT, "postgres");
}

#[test]
fn sigterm_stops_the_lab_cleanly_on_real_postgres() {
    stops_cleanly(libc::SIGTERM, "postgres");
}

#[test]
fn sigterm_stops_the_lab_cleanly_on_the_simulated_database() {
    stops_cleanly(libc::SIGTERM, "sim");
}

// ================================================================ the sample recording

fn asset() -> String {
    format!("{}/assets/outage.jsonl", env!("CARGO_MANIFEST_DIR"))
}

/// `assets/outage.jsonl` is what the README's replay / report demo uses: it must still parse
/// with today's reader, judge `fail`, and carry the outage's signature and evidence.
#[test]
fn the_committed_sample_recording_still_reports_the_outage() {
    let path = asset();
    let size = std::fs::metadata(&path)
        .expect("assets/outage.jsonl exists")
        .len();
    assert!(size < 200 * 1024, "{size} bytes");
    let header: Value = serde_json::from_str(
        std::fs::read_to_string(&path)
            .expect("readable")
            .lines()
            .next()
            .expect("a header line"),
    )
    .expect("the header is JSON");
    assert_eq!(header["format"], "connscope-recording");

    let run = run_bounded(&strs(&["report", &path, "--format", "json"]), CHECK_LIMIT);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.trim().is_empty(),
        "no damage notes: {}",
        run.stderr
    );
    let v = run.json();
    assert_eq!(v["verdict"], "fail");
    assert!(
        rules(&v).contains(&"outage_signature".to_string()),
        "{:?}",
        rules(&v)
    );
    assert!(v["init"]["timed_out"] == true, "{:#}", v["init"]);
    let startup = &v["startup"];
    let exits: Vec<&Value> = startup["previous_runs"]
        .as_array()
        .map(|r| r.iter().filter(|r| r["exit_code"] == 3).collect())
        .unwrap_or_default();
    assert!(!exits.is_empty(), "the restart loop is in it: {startup:#}");
    assert!(
        v["endpoints"]
            .as_array()
            .is_some_and(|e| e.iter().all(|e| e["checks"]
                .as_array()
                .is_some_and(|c| c.iter().all(|c| c["status"] == 503)))),
        "every health check 503"
    );
    assert!(!v["alerts"].as_array().is_some_and(Vec::is_empty));

    let md = run_bounded(
        &strs(&["report", &path, "--format", "markdown"]),
        CHECK_LIMIT,
    );
    assert_eq!(md.code, Some(2));
    for needle in ["outage", "503", "phase 3"] {
        assert!(
            md.stdout.to_lowercase().contains(needle),
            "markdown mentions {needle}:\n{}",
            md.stdout
        );
    }
}

/// SIGKILL: no handler, no `Drop` — the lab itself cannot clean up. Its watchdog children
/// (`src/lab/watchdog.rs`) see the lab's pipe close, stop the real cluster (`pg_ctl stop -m
/// immediate`) and remove the directories. Without them the postmaster (a daemon started by
/// `pg_ctl`, not the lab's child) would keep running on its port with its data directory.
fn sigkill_leaves_nothing_behind(database: &str) {
    HeadlessLab::start("healthy", database).kill_and_assert_nothing_left(database, false);
}

#[test]
fn sigkill_leaves_no_cluster_and_no_directory_on_real_postgres() {
    sigkill_leaves_nothing_behind("postgres");
}

#[test]
fn sigkill_leaves_no_directory_on_the_simulated_database() {
    sigkill_leaves_nothing_behind("sim");
}

/// `assets/lab-scaled.toml` (used to make the sample recording, and documented for checking the
/// headless lab by hand) says what the lab applies to its own dashboard: the staging profile's
/// timeouts, minimums, alert and target thresholds and phase budgets, × 0.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_scaled_config_matches_what_the_lab_applies_to_itself() {
    use connscope::config::{Config, LoadOptions};
    crate::common::init();
    let lab = connscope::lab::Lab::start(connscope::lab::LabOptions {
        database: connscope::lab::DatabaseKind::Sim,
        ..connscope::lab::LabOptions::default()
    })
    .await
    .expect("lab starts");
    let settings = lab.suggested_settings().expect("settings");
    lab.shutdown().await.expect("lab stops");
    let from_lab = Config::load(&LoadOptions {
        lab: settings,
        ..LoadOptions::default()
    })
    .expect("the lab's settings load")
    .settings;
    let from_file = Config::load(&LoadOptions {
        file: Some(format!(
            "{}/assets/lab-scaled.toml",
            env!("CARGO_MANIFEST_DIR")
        )),
        ..LoadOptions::default()
    })
    .expect("assets/lab-scaled.toml loads")
    .settings;
    let (lab_v, file_v) = (
        serde_json::to_value(&from_lab).expect("json"),
        serde_json::to_value(&from_file).expect("json"),
    );
    for key in [
        "environment",
        "timeouts",
        "minimums",
        "capacity_aware",
        "vpc_connector",
        "alerts",
        "targets",
        "pool_probe",
    ] {
        assert_eq!(lab_v[key], file_v[key], "{key}");
    }
    for key in ["phases", "total_budget"] {
        assert_eq!(
            lab_v["startup"][key], file_v["startup"][key],
            "startup.{key}"
        );
    }
}
