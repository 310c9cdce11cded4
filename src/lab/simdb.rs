//! A simulated PostgreSQL for machines without server binaries: a pgwire server that speaks the
//! real wire protocol (startup, trust authentication, simple and extended queries) for the
//! statements connscope sends, with a connection limit that can be changed while it runs and a
//! "starting up" mode. Refusals happen where a real server puts them — after the startup packet
//! and before authentication — with the real SQLSTATEs (53300, 57P03), so a probe cannot tell
//! the difference by protocol.

mod handlers;
mod sql;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use handlers::{ConnHandlers, Queries, Refusal, Startup};
use sql::Facts;

const TOO_MANY: Refusal = ("53300", "sorry, too many clients already");
const STARTING_UP: Refusal = ("57P03", "the database system is starting up");

struct SimShared {
    limit: AtomicU32,
    in_use: AtomicU32,
    starting_up: AtomicBool,
    cancel: CancellationToken,
}

pub struct SimDb {
    addr: SocketAddr,
    shared: Arc<SimShared>,
    tasks: TaskTracker,
}

impl SimDb {
    /// Listens on a free loopback port with room for `max_connections` sessions.
    pub async fn start(max_connections: u32) -> std::io::Result<SimDb> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(SimShared {
            limit: AtomicU32::new(max_connections),
            in_use: AtomicU32::new(0),
            starting_up: AtomicBool::new(false),
            cancel: CancellationToken::new(),
        });
        let tasks = TaskTracker::new();
        tasks.spawn(accept_loop(listener, shared.clone(), tasks.clone()));
        Ok(SimDb {
            addr,
            shared,
            tasks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies to connections accepted from now on; open sessions stay, as on a real server.
    pub fn set_limit(&self, max_connections: u32) {
        self.shared.limit.store(max_connections, Ordering::SeqCst);
    }

    pub fn limit(&self) -> u32 {
        self.shared.limit.load(Ordering::SeqCst)
    }

    pub fn set_starting_up(&self, on: bool) {
        self.shared.starting_up.store(on, Ordering::SeqCst);
    }

    /// Sessions holding a connection slot.
    pub fn in_use(&self) -> u32 {
        self.shared.in_use.load(Ordering::SeqCst)
    }

    pub async fn shutdown(&self) {
        crate::shutdown::stop_tracked(
            &self.shared.cancel,
            &self.tasks,
            "lab sim database: sessions",
        )
        .await;
    }
}

impl Drop for SimDb {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}

/// A session's connection slot, released when the session ends.
struct SlotGuard(Arc<SimShared>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.in_use.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Decided when the connection arrives, like the postmaster's `canAcceptConnections`.
fn admit(shared: &Arc<SimShared>) -> Result<SlotGuard, Refusal> {
    if shared.starting_up.load(Ordering::SeqCst) {
        return Err(STARTING_UP);
    }
    let limit = shared.limit.load(Ordering::SeqCst);
    shared
        .in_use
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < limit).then_some(n + 1)
        })
        .map(|_| SlotGuard(shared.clone()))
        .map_err(|_| TOO_MANY)
}

async fn accept_loop(listener: TcpListener, shared: Arc<SimShared>, tasks: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            () = shared.cancel.cancelled() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, _)) => {
                tasks.spawn(session(stream, shared.clone()));
            }
            Err(e) => {
                tracing::warn!("lab sim database: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn session(stream: TcpStream, shared: Arc<SimShared>) {
    let _ = stream.set_nodelay(true);
    let (slot, refusal) = match admit(&shared) {
        Ok(slot) => (Some(slot), None),
        Err(refusal) => (None, Some(refusal)),
    };
    let facts_from = shared.clone();
    let handlers = ConnHandlers {
        startup: Arc::new(Startup { refusal }),
        queries: Arc::new(Queries {
            facts: Box::new(move || Facts {
                max_connections: facts_from.limit.load(Ordering::SeqCst),
                in_use: facts_from.in_use.load(Ordering::SeqCst),
            }),
        }),
    };
    tokio::select! {
        r = pgwire::tokio::process_socket(stream, None, handlers) => {
            if let Err(e) = r {
                tracing::debug!("lab sim database: session ended: {e}");
            }
        }
        () = shared.cancel.cancelled() => {}
    }
    drop(slot);
}
