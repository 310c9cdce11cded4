//! Loopback servers for the HTTP and WebSocket probe tests: real sockets on port 0, stopped
//! when their guard is dropped.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running server; aborting its task on drop closes the listener and its connections.
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port")
}

pub async fn serve(router: Router) -> Server {
    serve_on(listener().await, router)
}

/// Serves `router` on any axum listener (plain TCP, or the TLS one in `http_tls.rs`).
pub fn serve_on<L>(l: L, router: Router) -> Server
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let addr = axum::serve::Listener::local_addr(&l).expect("local addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(l, router).await;
    });
    Server { addr, task }
}

/// What a silent server saw.
#[derive(Default)]
pub struct Silence {
    pub accepted: AtomicUsize,
    /// Connections the client closed (read returned end of stream).
    pub closed_by_client: AtomicUsize,
}

/// Accepts connections and never writes a byte; it only drains what the client sends, to
/// notice when the client hangs up. Connections are dropped with the server.
pub async fn silent() -> (Server, Arc<Silence>) {
    let l = listener().await;
    let addr = l.local_addr().expect("local addr");
    let seen = Arc::new(Silence::default());
    let trace = seen.clone();
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((s, _)) = l.accept().await {
            trace.accepted.fetch_add(1, Ordering::SeqCst);
            conns.spawn(drain(s, trace.clone()));
        }
    });
    (Server { addr, task }, seen)
}

async fn drain(mut s: tokio::net::TcpStream, trace: Arc<Silence>) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    trace.closed_by_client.fetch_add(1, Ordering::SeqCst);
}

/// What a streaming body handler saw: bytes it produced and whether the stream was dropped
/// before its end (the client hung up).
#[derive(Default)]
pub struct StreamTrace {
    pub produced: AtomicU64,
    pub finished: AtomicBool,
    pub dropped_early: AtomicBool,
}

/// A body of `total` bytes in pieces of `chunk`, made only as the client reads them, traced
/// in `trace`: how much was produced, whether it all went out, whether the client hung up.
pub fn traced_body(total: u64, chunk: usize, trace: Arc<StreamTrace>) -> Body {
    let chunks = futures::stream::unfold((0u64, DropFlag(trace)), move |(sent, flag)| async move {
        if sent >= total {
            flag.0.finished.store(true, Ordering::SeqCst);
            return None;
        }
        flag.0.produced.fetch_add(chunk as u64, Ordering::SeqCst);
        let piece = Ok::<_, std::io::Error>(Bytes::from(vec![b'a'; chunk]));
        Some((piece, (sent + chunk as u64, flag)))
    });
    Body::from_stream(chunks)
}

/// A body that trickles: its first byte at once (so the headers go out), then one byte every
/// `every`, `bytes` in all.
pub fn trickle_body(bytes: u32, every: Duration) -> Body {
    let drip = futures::stream::unfold(0u32, move |n| async move {
        if n >= bytes {
            return None;
        }
        if n > 0 {
            tokio::time::sleep(every).await;
        }
        Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), n + 1))
    });
    Body::from_stream(drip)
}

/// Marks `dropped_early` when the body stream is dropped before it finished.
pub struct DropFlag(pub Arc<StreamTrace>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        if !self.0.finished.load(Ordering::SeqCst) {
            self.0.dropped_early.store(true, Ordering::SeqCst);
        }
    }
}

/// Waits (bounded) until `f` holds.
pub async fn eventually(limit: Duration, f: impl Fn() -> bool) -> bool {
    let step = Duration::from_millis(10);
    let mut waited = Duration::ZERO;
    while waited < limit {
        if f() {
            return true;
        }
        tokio::time::sleep(step).await;
        waited += step;
    }
    f()
}
