//! Timing fidelity: does a known, injected delay show up in the step it belongs to, at its size?
//! And what does connscope's own measurement add on top of the network?
//!
//! - Postgres: a throwaway cluster behind a loopback proxy that holds back the server's first
//!   byte by 0 or 200 ms. The first server byte is the answer to the startup (or SSL) request,
//!   so the whole hold belongs to `handshake`, and `tcp` / `query` must not move.
//!   Target: handshake grows by 200 ms ± 2 %.
//! - HTTP: a server that answers /slow after 300 ms. Target: `first_byte` = 300 ms + < 5 ms.
//! - Overhead: connscope's `tcp` step against a bare `TcpStream::connect` to the same port, and
//!   its HTTP `first_byte` against a hand-written HTTP/1.1 GET on a bare socket, interleaved so
//!   both see the same machine. The difference is what the probe's bookkeeping costs.
//!
//! Medians of interleaved rounds, because this 2-core machine is shared with builds. Every
//! attempt must succeed: a failed one is counted and reported, and the bench exits 1 — a
//! median of the attempts that happened to work would describe another run.
//! Run: `cargo bench --bench fidelity` (needs PostgreSQL's initdb/pg_ctl, like the tests).

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use common::pg::TempPg;
use connscope::probe::db;
use connscope::probe::http::{HttpEndpoint, HttpParams, fetch};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const ROUNDS: usize = 21;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Forwards to `upstream`, holding the server's first byte of each connection for `hold` ms.
async fn holding_proxy(upstream: String, hold: Arc<AtomicU64>) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = l.local_addr().expect("proxy addr");
    tokio::spawn(async move {
        while let Ok((client, _)) = l.accept().await {
            let (upstream, hold) = (upstream.clone(), hold.load(Ordering::Relaxed));
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = tokio::io::copy(&mut cr, &mut sw);
                let down = async {
                    let mut buf = vec![0u8; 16 * 1024];
                    let n = sr.read(&mut buf).await?;
                    tokio::time::sleep(Duration::from_millis(hold)).await;
                    cw.write_all(&buf[..n]).await?;
                    tokio::io::copy(&mut sr, &mut cw).await
                };
                let _ = tokio::join!(up, down);
            });
        }
    });
    addr
}

struct DbRound {
    tcp: f64,
    handshake: f64,
    query: f64,
}

/// What failed during the bench: said at the end, and the bench fails.
#[derive(Default)]
struct Failures(std::sync::Mutex<Vec<String>>);

impl Failures {
    fn add(&self, what: String) {
        eprintln!("FAILED: {what}");
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(what);
    }

    fn count(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

async fn db_rounds(url: &str, n: usize, failures: &Failures) -> Vec<DbRound> {
    let p = common::db_params(url, Duration::from_secs(10));
    let mut out = Vec::with_capacity(n);
    for seq in 0..n {
        let a = db::attempt_once(seq as u64, &p).await;
        let s = &a.steps_ms;
        match (a.ok, s.tcp, s.handshake, s.query) {
            (true, Some(tcp), Some(handshake), Some(query)) => out.push(DbRound {
                tcp,
                handshake,
                query,
            }),
            _ => failures.add(format!("database attempt to {url}: {:?}", a.error)),
        }
    }
    out
}

fn summarize(label: &str, r: &[DbRound]) -> (f64, f64, f64) {
    let tcp = median(r.iter().map(|x| x.tcp).collect());
    let hs = median(r.iter().map(|x| x.handshake).collect());
    let q = median(r.iter().map(|x| x.query).collect());
    println!(
        "  {label:<22} tcp {tcp:>7.2}  handshake {hs:>8.2}  query {q:>6.2} ms (median of {})",
        r.len()
    );
    (tcp, hs, q)
}

async fn postgres(pg: &TempPg, failures: &Failures) {
    println!("Postgres: first server byte held back by a loopback proxy");
    let hold = Arc::new(AtomicU64::new(0));
    let proxy = holding_proxy(format!("127.0.0.1:{}", pg.port), hold.clone()).await;
    let url = |port: u16| format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable");
    let mut base = Vec::new();
    let mut held = Vec::new();
    // Interleaved: each held attempt next to an unheld one, so drift hits both alike.
    for _ in 0..ROUNDS {
        hold.store(0, Ordering::Relaxed);
        base.extend(db_rounds(&url(proxy.port()), 1, failures).await);
        hold.store(200, Ordering::Relaxed);
        held.extend(db_rounds(&url(proxy.port()), 1, failures).await);
    }
    let (t0, h0, q0) = summarize("through proxy, +0 ms", &base);
    let (t1, h1, q1) = summarize("through proxy, +200 ms", &held);
    let grew = h1 - h0;
    println!(
        "  handshake grew {grew:.2} ms for 200 ms held ({:+.2} %); tcp moved {:+.2} ms, query {:+.2} ms",
        (grew - 200.0) / 2.0,
        t1 - t0,
        q1 - q0
    );
    println!(
        "  => {}",
        if (grew - 200.0).abs() <= 4.0 {
            "within ±2 %"
        } else {
            "OUTSIDE ±2 %"
        }
    );

    // The tcp step against a bare connect to the same server, interleaved.
    // A parsed address: with a string, tokio would resolve it on a blocking thread first.
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], pg.port));
    let mut bare = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let s = TcpStream::connect(addr).await.expect("bare connect");
        bare.push(ms(t.elapsed()));
        drop(s);
        ours.extend(
            db_rounds(&url(pg.port), 1, failures)
                .await
                .into_iter()
                .map(|r| r.tcp),
        );
    }
    let (b, o) = (median(bare), median(ours));
    println!(
        "  overhead: tcp step {o:.3} ms vs bare TcpStream::connect {b:.3} ms => {:+.3} ms",
        o - b
    );
}

/// A hand-written GET on a bare socket: time to the first response byte.
async fn bare_first_byte(addr: std::net::SocketAddr) -> f64 {
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut b = [0u8; 1];
    let _ = s.read(&mut b).await;
    ms(t.elapsed())
}

async fn http(failures: &Failures) {
    println!("HTTP: a server answering after 300 ms");
    let app = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            "ok"
        }),
    );
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
    let addr = l.local_addr().expect("http addr");
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    let p = HttpParams {
        endpoints: vec![HttpEndpoint {
            name: "bench".into(),
            url: format!("http://{addr}"),
        }],
        paths: vec!["/slow".into()],
        tries: 1,
        tries_interval: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
        body_limit: 64 * 1024,
        interval: Duration::from_secs(1),
        tls: None,
    };
    let url = url::Url::parse(&format!("http://{addr}/slow")).expect("url");
    let cancel = CancellationToken::new();
    let (mut fb, mut total, mut bare) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let f = fetch(&url, &p, &cancel).await.expect("not cancelled");
        match (f.status, f.steps.first_byte) {
            (Some(200), Some(v)) => {
                fb.push(v);
                total.push(f.latency_ms);
            }
            _ => failures.add(format!("HTTP request: {:?} {:?}", f.status, f.error)),
        }
        bare.push(bare_first_byte(addr).await);
    }
    let (f, t, b) = (median(fb), median(total), median(bare));
    println!(
        "  first_byte {f:.2} ms ({:+.2} ms over 300), total {t:.2} ms",
        f - 300.0
    );
    println!(
        "  => {}",
        if f - 300.0 < 5.0 {
            "within 300 ms + 5 ms"
        } else {
            "OVER 300 ms + 5 ms"
        }
    );
    println!(
        "  overhead: first_byte {f:.2} ms vs bare socket GET {b:.2} ms => {:+.2} ms",
        f - b
    );
}

fn main() {
    common::init();
    let pg = TempPg::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let failures = Failures::default();
    rt.block_on(async {
        postgres(&pg, &failures).await;
        http(&failures).await;
    });
    let failed = failures.count();
    println!("failed attempts: {failed}");
    if failed > 0 {
        eprintln!("{failed} attempt(s) failed: these figures are not this machine's; run again");
        std::process::exit(1);
    }
}
