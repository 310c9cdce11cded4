//! TLS and handshake time of connscope beside libpq (psql, and pgbench -C) on a delayed path.
//!
//! PostgreSQL with TLS sits behind the lab's connector stand-in adding 0, 20 and 50 ms to every
//! chunk in each direction (round trips of ~0, 40 and 100 ms). In front of it, on loopback and
//! without delay, a relay timestamps what passes, so every client is measured by one clock:
//! `tls` runs from the SSLRequest to the client's first encrypted record (its Finished), and
//! `handshake` from the SSLRequest to the server's ReadyForQuery (the last server bytes before
//! the client's query) — for psql (libpq: a fresh OpenSSL client in a new process per
//! connection) and for connscope, whose own `tls` / `handshake` steps are printed beside the
//! relay's view of them. pgbench -C gives libpq's own "average connection time" for the path.
//!
//! A fresh TLS 1.3 client pays PostgreSQL's HelloRetryRequest (the server wants P-256; X25519
//! is offered first): SSLRequest + 2 round trips = 3 RTT. A rustls client that keeps one
//! `ClientConfig` remembers the group and pays 2 RTT from its second connection: the last line
//! measures that, to show what a fresh configuration per attempt costs and why.
//!
//! Medians of interleaved rounds (this 2-core machine is shared with builds); any failed
//! connection fails the bench. Run: `cargo bench --bench tls_timing` (needs PostgreSQL's
//! server binaries, psql and pgbench, like the tests).

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::pg::{PgOptions, TempPg};
use connscope::lab::proxy::{Faults, Proxy};
use connscope::probe::conn::connect::{self, ConnectParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ROUNDS: usize = 21;
/// Added per chunk in each direction: loopback (the clients' own cost), then two delayed paths.
const LATENCIES_MS: [u64; 3] = [0, 20, 50];

/// One chunk through the relay: when, from the client?, the bytes.
type Chunk = (Instant, bool, Vec<u8>);
/// What passed through the relay on one connection.
type Trace = Arc<Mutex<Vec<Chunk>>>;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A timestamping relay to `upstream`; each accepted connection's trace is pushed to `traces`.
async fn relay(upstream: std::net::SocketAddr, traces: Arc<Mutex<Vec<Trace>>>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
    let port = l.local_addr().expect("relay addr").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = l.accept().await {
            let trace: Trace = Arc::default();
            traces.lock().expect("traces").push(trace.clone());
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let up = pump(cr, sw, trace.clone(), true);
                let down = pump(sr, cw, trace, false);
                let _ = tokio::join!(up, down);
            });
        }
    });
    port
}

async fn pump(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    trace: Trace,
    from_client: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default().to_vec();
        trace
            .lock()
            .expect("trace")
            .push((Instant::now(), from_client, chunk.clone()));
        if w.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = w.shutdown().await;
}

/// (tls, handshake) in ms as the relay saw one connection, or why it cannot tell.
fn phases(trace: &Trace) -> Result<(f64, f64), String> {
    let ev = trace.lock().map_err(|_| "poisoned")?.clone();
    let t0 = ev.iter().find(|e| e.1).ok_or("no client bytes")?.0;
    // Client flights: a new one starts when the client sends after the server has.
    let mut flight = 0usize;
    let mut last_from_client = false;
    let mut flights = Vec::new();
    for e in &ev {
        if e.1 && !last_from_client {
            flight += 1;
        }
        last_from_client = e.1;
        flights.push(flight);
    }
    // The client's TLS records after the 8-byte SSLRequest: the first application-data
    // record (type 23) is its Finished.
    let client: Vec<(usize, &Chunk)> = ev.iter().enumerate().filter(|(_, e)| e.1).collect();
    let mut stream = Vec::new();
    let mut owner = Vec::new();
    for (i, e) in &client {
        stream.extend_from_slice(&e.2);
        owner.extend(std::iter::repeat_n(*i, e.2.len()));
    }
    let mut at = 8;
    let finished = loop {
        let (Some(&kind), Some(len)) = (stream.get(at), stream.get(at + 3..at + 5)) else {
            return Err("no encrypted client record".into());
        };
        if kind == 23 {
            break *owner.get(at).ok_or("record owner")?;
        }
        at += 5 + usize::from(u16::from_be_bytes([len[0], len[1]]));
    };
    let tls = ms(ev[finished].0 - t0);
    let tls_flight = flights[finished];
    let ready = ev
        .iter()
        .zip(&flights)
        .take_while(|(e, f)| !(e.1 && **f > tls_flight))
        .filter(|(e, _)| !e.1)
        .last()
        .ok_or("no server answer")?
        .0
        .0;
    Ok((tls, ms(ready - t0)))
}

fn last_trace(traces: &Arc<Mutex<Vec<Trace>>>) -> Trace {
    traces
        .lock()
        .expect("traces")
        .last()
        .cloned()
        .expect("a connection went through the relay")
}

fn psql_once(port: u16) {
    let home = tempfile::tempdir().expect("home");
    let p = common::oracle::psql(
        &format!("host=127.0.0.1 port={port} user=app dbname=app sslmode=require"),
        home.path(),
        &[],
    );
    assert!(p.ok, "psql failed: {}", p.stderr);
}

/// pgbench -C: libpq's own average connection time over `n` connections.
fn pgbench(port: u16, n: usize) -> f64 {
    let dir = tempfile::tempdir().expect("script dir");
    let script = dir.path().join("select1.sql");
    std::fs::write(&script, "select 1;\n").expect("script");
    let out = std::process::Command::new(common::pg::pg_bin().join("pgbench"))
        .args(["-n", "-C", "-c", "1", "-j", "1", "-t", &n.to_string(), "-f"])
        .arg(&script)
        .arg(format!(
            "host=127.0.0.1 port={port} user=app dbname=app sslmode=require"
        ))
        .env("HOME", dir.path())
        .output()
        .expect("run pgbench");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pgbench failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| l.strip_prefix("average connection time = "))
        .and_then(|v| v.trim_end_matches(" ms").trim().parse().ok())
        .unwrap_or_else(|| panic!("no connection time in: {text}"))
}

/// A rustls client that keeps one `ClientConfig` (and so its remembered key-exchange group):
/// SSLRequest + TLS handshake only, timed like connscope's `tls` step.
async fn reused_config_tls(port: u16, config: Arc<rustls::ClientConfig>) -> f64 {
    let t = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let _ = s.set_nodelay(true);
    let t_ssl = Instant::now();
    s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        .await
        .expect("SSLRequest");
    let mut b = [0u8; 1];
    s.read_exact(&mut b).await.expect("answer");
    assert_eq!(b[0], b'S', "the server does TLS");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, s)
        .await
        .expect("handshake");
    let took = ms(t_ssl.elapsed());
    drop(tls);
    let _ = t;
    took
}

#[derive(Debug)]
struct Insecure;

impl rustls::client::danger::ServerCertVerifier for Insecure {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn row(label: &str, tls: f64, hs: f64, base: Option<(f64, f64)>) {
    let diff = base
        .map(|(bt, bh)| {
            format!(
                "   ({:+.2} % / {:+.2} %)",
                (tls - bt) / bt * 100.0,
                (hs - bh) / bh * 100.0
            )
        })
        .unwrap_or_default();
    println!("  {label:<44} tls {tls:>7.2}  handshake {hs:>7.2} ms{diff}");
}

/// Medians of (tls, handshake).
fn med(v: &[(f64, f64)]) -> (f64, f64) {
    (
        median(v.iter().map(|x| x.0).collect()),
        median(v.iter().map(|x| x.1).collect()),
    )
}

fn verdict(a: f64, b: f64) -> &'static str {
    if ((a - b) / b).abs() <= 0.02 {
        "within 2 %"
    } else {
        "OUTSIDE 2 %"
    }
}

/// Interleaved rounds of psql and connscope through the relay; prints the medians and
/// returns connscope's (tls, handshake) difference to psql's in ms.
async fn compare(port: u16, traces: &Arc<Mutex<Vec<Trace>>>) -> (f64, f64) {
    let url = format!("postgres://app@127.0.0.1:{port}/app?sslmode=require");
    let t = common::target(&url);
    let cp =
        ConnectParams::new(&t, Duration::from_secs(10), Duration::from_secs(5)).expect("params");
    let (mut psql_v, mut ours_v, mut ours_relay, mut ours_total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        tokio::task::spawn_blocking(move || psql_once(port))
            .await
            .expect("psql thread");
        psql_v.push(
            phases(&last_trace(traces)).unwrap_or_else(|e| panic!("psql round {round}: {e}")),
        );
        let a = connect::attempt(&t, &cp).await;
        let s = a
            .result
            .unwrap_or_else(|e| panic!("connscope round {round}: {e:?}"));
        s.close().await;
        let steps = a.steps;
        ours_v.push((steps.tls.expect("tls"), steps.handshake.expect("handshake")));
        ours_total.push(steps.tcp.unwrap_or(0.0) + steps.handshake.unwrap_or(0.0));
        ours_relay.push(
            phases(&last_trace(traces)).unwrap_or_else(|e| panic!("connscope round {round}: {e}")),
        );
    }
    let libpq = med(&psql_v);
    row("psql (libpq), seen at the relay", libpq.0, libpq.1, None);
    let ours = med(&ours_v);
    row("connscope, its own steps", ours.0, ours.1, Some(libpq));
    let seen = med(&ours_relay);
    row("connscope, seen at the relay", seen.0, seen.1, Some(libpq));
    let bench = tokio::task::spawn_blocking(move || pgbench(port, ROUNDS))
        .await
        .expect("pgbench");
    println!(
        "  pgbench -C average connection time {bench:.2} ms; connscope tcp + handshake median {:.2} ms ({:+.2} %)",
        median(ours_total.clone()),
        (median(ours_total) - bench) / bench * 100.0
    );
    println!(
        "  => tls {}, handshake {} of psql's; difference {:+.2} / {:+.2} ms",
        verdict(ours.0, libpq.0),
        verdict(ours.1, libpq.1),
        ours.0 - libpq.0,
        ours.1 - libpq.1
    );
    (ours.0 - libpq.0, ours.1 - libpq.1)
}

#[tokio::main]
async fn main() {
    common::init();
    let pg = TempPg::start_with(PgOptions {
        tls: Some(common::pg::self_signed_tls()),
        ..PgOptions::default()
    });
    let proxy = Proxy::start(([127, 0, 0, 1], pg.port).into(), Faults::default())
        .await
        .expect("delaying proxy");
    let traces: Arc<Mutex<Vec<Trace>>> = Arc::default();
    let port = relay(proxy.addr(), traces.clone()).await;
    println!(
        "PostgreSQL {} with TLS (sslmode=require) behind a delaying proxy; {ROUNDS} interleaved rounds each",
        pg.psql("SHOW server_version"),
    );
    for latency in LATENCIES_MS {
        proxy.set_faults(Faults {
            latency: Duration::from_millis(latency),
            ..Faults::default()
        });
        println!("+{latency} ms per chunk each way (RTT {} ms):", 2 * latency);
        compare(port, &traces).await;
    }
    // rustls's defaults, as connscope had them before: one configuration for every attempt.
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(Insecure))
    .with_no_client_auth();
    let shared = Arc::new(cfg);
    let mut reused = Vec::new();
    for _ in 0..=ROUNDS {
        reused.push(reused_config_tls(port, shared.clone()).await);
    }
    let first = reused.remove(0);
    println!(
        "a rustls ClientConfig kept across connections (rustls defaults), at the last delay: first tls {first:.2} ms, then {:.2} ms (one round trip less: no HelloRetryRequest)",
        median(reused)
    );
    proxy.shutdown().await;
}
