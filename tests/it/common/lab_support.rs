//! Helpers for the lab tests: loopback-only clients with timeouts, and a tiny upstream server
//! for testing the proxy on its own. Everything started here stops on drop.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use connscope::lab::{Faults, Proxy, SimDb, pgconn};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const STEP: Duration = Duration::from_secs(5);

/// The simulated database with `slots` connection slots, behind the lab's proxy injecting
/// `faults`: the connector in front of the database.
pub async fn sim_behind_proxy(slots: u32, faults: Faults) -> (SimDb, Proxy) {
    let sim = SimDb::start(slots)
        .await
        .expect("the simulated database starts");
    let proxy = Proxy::start(sim.addr(), faults)
        .await
        .expect("the proxy starts");
    (sim, proxy)
}

pub fn addr_of(url: &str) -> SocketAddr {
    let u = url::Url::parse(url).expect("lab URLs parse");
    let host = u.host_str().expect("lab URLs have a host");
    let port = u.port().expect("lab URLs have a port");
    format!("{host}:{port}")
        .parse()
        .expect("lab hosts are IP literals")
}

/// A connected client whose connection task is aborted when this is dropped.
pub struct Pg {
    pub client: tokio_postgres::Client,
    task: JoinHandle<()>,
}

impl Drop for Pg {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn pg(addr: SocketAddr, user: &str) -> Result<Pg, pgconn::ConnectError> {
    let config = pgconn::config(user, "app", "connscope-lab-test");
    let (client, conn) = pgconn::connect(&config, addr).await?;
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(Pg { client, task })
}

/// Connect within `limit`; `None` when the limit ran out.
pub async fn pg_within(
    addr: SocketAddr,
    limit: Duration,
) -> Option<Result<Pg, pgconn::ConnectError>> {
    tokio::time::timeout(limit, pg(addr, "app")).await.ok()
}

pub async fn select_one(pg: &Pg) -> i32 {
    let row = tokio::time::timeout(STEP, pg.client.query_one("SELECT 1", &[]))
        .await
        .expect("SELECT 1 answers in time")
        .expect("SELECT 1 succeeds");
    row.get(0)
}

/// `GET base+path` over a fresh HTTP/1.1 connection: (status, body).
pub async fn http_get(base: &str, path: &str) -> (u16, String) {
    let u = url::Url::parse(base).expect("base URL parses");
    let addr = addr_of(base);
    let full = format!("{}{path}", u.path().trim_end_matches('/'));
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        let req = format!("GET {full} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        Ok::<Vec<u8>, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(STEP, exchange)
        .await
        .expect("HTTP answers in time")
        .expect("HTTP exchange works");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Polls `GET base+path` until it answers `want`, for at most `limit`.
pub async fn wait_status(base: &str, path: &str, want: u16, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = http_get(base, path).await;
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{base}{path} still {status} after {limit:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `{"type":"ping"}` and returns the first text reply.
pub async fn ws_ping(url: &str) -> Result<String, String> {
    let talk = async {
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| e.to_string())?;
        ws.send(tokio_tungstenite::tungstenite::Message::Text(
            r#"{"type":"ping"}"#.into(),
        ))
        .await
        .map_err(|e| e.to_string())?;
        while let Some(msg) = ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(t) =
                msg.map_err(|e| e.to_string())?
            {
                let _ = ws.close(None).await;
                return Ok(t.to_string());
            }
        }
        Err("closed without a reply".to_string())
    };
    tokio::time::timeout(STEP, talk)
        .await
        .unwrap_or_else(|_| Err("no reply in time".into()))
}

/// Waits until the file contains a line satisfying `pred`, for at most `limit`.
pub async fn wait_log_line(
    path: &Path,
    limit: Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("startup log line is not JSON ({e}): {line}"));
            if pred(&v) {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no matching line in {} after {limit:?}:\n{text}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A loopback server for proxy tests: echoes what it reads, or — when the first bytes are
/// `BLAST <n>\n` — sends `n` bytes and closes.
pub struct Upstream {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    pub async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((s, _)) = listener.accept().await {
                conns.spawn(serve(s));
            }
        });
        Upstream { addr, task }
    }
}

async fn serve(mut s: TcpStream) {
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; 16 * 1024];
    let Ok(n) = s.read(&mut buf).await else {
        return;
    };
    if let Some(rest) = buf[..n].strip_prefix(b"BLAST ") {
        let len: usize = String::from_utf8_lossy(rest).trim().parse().unwrap_or(0);
        let _ = s.write_all(&vec![b'x'; len]).await;
        return;
    }
    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
        return;
    }
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// One echo round trip on an open stream.
pub async fn echo(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<Duration> {
    let started = Instant::now();
    s.write_all(msg).await?;
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).await?;
    assert_eq!(got, msg);
    Ok(started.elapsed())
}
