//! The connector stand-in: a TCP proxy in front of the database that injects the faults a VPC
//! connector shows under trouble. Faults live in a `watch` channel, so a scenario switch reaches
//! connections that are already open (a black hole that lifts lets held traffic through, the way
//! TCP retransmits once a path is back; a reset that starts resets every open connection).
//!
//! Over its connection cap the proxy either *holds* a new connection (accepted, nothing
//! forwarded, until a slot frees — what a saturated connector looks like from the client: a
//! connection that opens and then hangs) or *resets* it at once; `OverCap` chooses.
//!
//! Known limit of doing this in user space: the kernel completes the TCP handshake before the
//! proxy sees a connection, so a black hole shows up as a hang *after* TCP connect (in the
//! Postgres startup / handshake step), not as an unanswered SYN.

mod conn;
mod pump;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What to do with a connection beyond the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverCap {
    /// Accept it and forward nothing until a slot frees; the client's own timeout decides.
    #[default]
    Wait,
    /// Close it at once with a TCP reset.
    Reset,
}

/// The faults in force, in real time (already time-scaled).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Faults {
    /// Added to every chunk in each direction (so a request-response round trip gains 2×).
    pub latency: Duration,
    /// Latency varies uniformly within ± this, never below zero; chunks are never reordered.
    pub jitter: Duration,
    /// Wait before a new connection is forwarded at all (the connector scaling up).
    pub connect_delay: Duration,
    pub connect_jitter: Duration,
    pub max_connections: Option<u32>,
    pub over_cap: OverCap,
    pub black_hole: bool,
    pub reset: bool,
    /// Per connection and direction.
    pub bandwidth_bytes_per_sec: Option<u64>,
}

impl Faults {
    fn sample_latency(&self) -> Duration {
        jittered(self.latency, self.jitter)
    }

    fn sample_connect_delay(&self) -> Duration {
        jittered(self.connect_delay, self.connect_jitter)
    }
}

fn jittered(base: Duration, jitter: Duration) -> Duration {
    if jitter.is_zero() {
        return base;
    }
    let offset = (fastrand::f64() * 2.0 - 1.0) * jitter.as_secs_f64();
    Duration::from_secs_f64((base.as_secs_f64() + offset).max(0.0))
}

/// Counters for the dashboard and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ProxyStats {
    /// Connections holding a slot (being delayed, held in a black hole or forwarding).
    pub active: usize,
    /// Connections over the cap, held until a slot frees.
    pub waiting: usize,
    pub accepted: u64,
    pub resets: u64,
}

struct Shared {
    upstream: SocketAddr,
    faults: watch::Receiver<Faults>,
    active: AtomicUsize,
    waiting: AtomicUsize,
    accepted: AtomicU64,
    resets: AtomicU64,
    slot_freed: Notify,
    cancel: CancellationToken,
}

pub struct Proxy {
    addr: SocketAddr,
    faults: watch::Sender<Faults>,
    shared: Arc<Shared>,
    tasks: TaskTracker,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr, faults: Faults) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(faults);
        let shared = Arc::new(Shared {
            upstream,
            faults: rx,
            active: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            slot_freed: Notify::new(),
            cancel: CancellationToken::new(),
        });
        let tasks = TaskTracker::new();
        tasks.spawn(accept_loop(listener, shared.clone(), tasks.clone()));
        Ok(Proxy {
            addr,
            faults: tx,
            shared,
            tasks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// Applies new faults to new and open connections at once.
    pub fn set_faults(&self, faults: Faults) {
        self.faults.send_replace(faults);
        // A raised cap must wake connections waiting for a slot.
        self.shared.slot_freed.notify_waiters();
    }

    pub fn faults(&self) -> Faults {
        self.faults.borrow().clone()
    }

    pub fn stats(&self) -> ProxyStats {
        let s = &self.shared;
        ProxyStats {
            active: s.active.load(Ordering::SeqCst),
            waiting: s.waiting.load(Ordering::SeqCst),
            accepted: s.accepted.load(Ordering::SeqCst),
            resets: s.resets.load(Ordering::SeqCst),
        }
    }

    /// Stops accepting, ends every connection and waits (bounded) for their tasks.
    pub async fn shutdown(&self) {
        crate::shutdown::stop_tracked(
            &self.shared.cancel,
            &self.tasks,
            "lab proxy: connection tasks",
        )
        .await;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tasks: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            () = shared.cancel.cancelled() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, _)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                tasks.spawn(conn::serve(stream, shared.clone()));
            }
            Err(e) => {
                // Out of file descriptors and the like: pause instead of spinning.
                tracing::warn!("lab proxy: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
