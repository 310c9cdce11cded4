//! One proxied connection: cap, connect delay, black hole, upstream connect, then the pump.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{Faults, OverCap, Shared, pump};

/// The database is on loopback: if it does not accept within this, it is not coming.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Closed,
    Reset,
}

pub(super) async fn serve(mut client: TcpStream, shared: Arc<Shared>) {
    let mut faults = shared.faults.clone();
    let outcome = tokio::select! {
        o = run(&mut client, &shared, &mut faults) => o,
        () = shared.cancel.cancelled() => Outcome::Closed,
    };
    if outcome == Outcome::Reset {
        shared.resets.fetch_add(1, Ordering::SeqCst);
        // SO_LINGER 0 makes the close send RST instead of FIN: the client sees "connection
        // reset by peer", as with a connector dropping the flow.
        if let Err(e) = client.set_zero_linger() {
            tracing::debug!("lab proxy: cannot set SO_LINGER 0: {e}");
        }
    }
}

async fn run(
    client: &mut TcpStream,
    shared: &Arc<Shared>,
    faults: &mut watch::Receiver<Faults>,
) -> Outcome {
    if faults.borrow_and_update().reset {
        return Outcome::Reset;
    }
    // What the client sends while it is held (over the cap, delayed, black-holed) is kept here
    // and forwarded once the path opens.
    let mut pending = Vec::new();
    let Some(slot) = hold(client, &mut pending, acquire_slot(shared, faults)).await else {
        return Outcome::Closed;
    };
    let Some(_slot) = slot else {
        return Outcome::Reset;
    };
    let delay = faults.borrow().sample_connect_delay();
    if hold(client, &mut pending, tokio::time::sleep(delay))
        .await
        .is_none()
    {
        return Outcome::Closed;
    }
    match hold(client, &mut pending, wait_passable(faults)).await {
        None => return Outcome::Closed,
        Some(Some(outcome)) => return outcome,
        Some(None) => {}
    }
    let upstream = tokio::time::timeout(
        UPSTREAM_CONNECT_TIMEOUT,
        TcpStream::connect(shared.upstream),
    )
    .await;
    let mut upstream = match upstream {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!("lab proxy: upstream connect failed: {e}");
            return Outcome::Reset;
        }
        Err(_) => return Outcome::Reset,
    };
    // Small protocol messages must not sit in Nagle's buffer on top of the injected latency.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    if !pending.is_empty() {
        let latency = faults.borrow().sample_latency();
        tokio::time::sleep(latency).await;
        if upstream.write_all(&pending).await.is_err() {
            return Outcome::Reset;
        }
    }
    pump::bidirectional(client, &mut upstream, faults.clone()).await
}

/// Keeps at most this much of what a held client sends; beyond it, the client waits on TCP.
const MAX_PENDING: usize = 64 * 1024;

/// Waits for `until` while reading what the client sends into `pending`, so a client that
/// gives up and closes is noticed (`None`) instead of holding a slot and a task until the
/// fault clears.
async fn hold<T>(
    client: &mut TcpStream,
    pending: &mut Vec<u8>,
    until: impl Future<Output = T>,
) -> Option<T> {
    tokio::pin!(until);
    let mut buf = [0u8; 4096];
    loop {
        let room = pending.len() < MAX_PENDING;
        tokio::select! {
            v = &mut until => return Some(v),
            r = client.read(&mut buf), if room => match r {
                Ok(0) | Err(_) => return None,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            },
        }
    }
}

/// Waits while the path is black-holed. `Some` when the connection must end instead.
async fn wait_passable(faults: &mut watch::Receiver<Faults>) -> Option<Outcome> {
    loop {
        {
            let f = faults.borrow_and_update();
            if f.reset {
                return Some(Outcome::Reset);
            }
            if !f.black_hole {
                return None;
            }
        }
        if faults.changed().await.is_err() {
            return Some(Outcome::Closed);
        }
    }
}

/// A connection's place under the cap; frees it (and wakes a waiter) on drop.
struct Slot(Arc<Shared>);

impl Slot {
    fn try_take(shared: &Arc<Shared>, cap: Option<u32>) -> Option<Slot> {
        let limit = cap.map_or(usize::MAX, |c| c as usize);
        shared
            .active
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |a| {
                (a < limit).then_some(a + 1)
            })
            .ok()
            .map(|_| Slot(shared.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        self.0.slot_freed.notify_waiters();
    }
}

struct Waiting(Arc<Shared>);

impl Waiting {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(shared.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// `None` when the connection is to be reset instead (over the cap in reset mode, or a reset
/// fault started while it waited).
async fn acquire_slot(shared: &Arc<Shared>, faults: &mut watch::Receiver<Faults>) -> Option<Slot> {
    let mut waiting = None;
    loop {
        // Registered before the check so a slot freed in between still wakes us.
        let notified = shared.slot_freed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (cap, over_cap, reset) = {
            let f = faults.borrow_and_update();
            (f.max_connections, f.over_cap, f.reset)
        };
        if reset {
            return None;
        }
        if let Some(slot) = Slot::try_take(shared, cap) {
            return Some(slot);
        }
        if over_cap == OverCap::Reset {
            return None;
        }
        waiting.get_or_insert_with(|| Waiting::new(shared));
        tokio::select! {
            () = &mut notified => {}
            r = faults.changed() => if r.is_err() { return None },
        }
    }
}
