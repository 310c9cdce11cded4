//! The concurrent-capacity test: N connections at once, each held for a while running
//! `SELECT 1`, the way the outage plan probed Cloud SQL's limits. Plain single connections,
//! opened and timed like every database attempt (never a pool: its retries would turn 53300
//! into a silent wait).
//!
//! First, do no harm: before the test the server's headroom is read (`conn::headroom`) and,
//! without `--force`, at most `min(profile cap, floor(free ordinary slots × safety margin))`
//! connections are opened — never the reserved slots, so a superuser and an ordinary login
//! still get in while the test holds. At most 16 connects are in flight; opening stops once
//! the server refuses (also with `--force`); every connection is closed when the test ends,
//! fails or is cancelled.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::Ctx;
use super::conn::classify;
use super::conn::connect::{self, ConnectParams, Session};
use super::conn::headroom;
use crate::config::{Config, DbTarget};
use crate::event::{
    CapacityConn, CapacityFinished, CapacityStarted, ErrorClass, EventBody, Failure, Headroom, Step,
};

/// How long a closed session's backend takes to give its slot back, with room to spare.
const STATS_SLOT_RELEASE: Duration = Duration::from_millis(50);

/// Connections opened per wave before checking whether the server is refusing.
const WAVE: u32 = 16;

#[derive(Clone)]
pub struct CapacityParams {
    pub target: DbTarget,
    pub requested: u32,
    pub hold: Duration,
    /// The profile's cap (limit × margin − reserved); the server's headroom may lower it.
    pub cap: u32,
    /// The profile's safety margin, applied to the server's free ordinary slots.
    pub margin: f64,
    pub force: bool,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
}

impl CapacityParams {
    pub fn from_config(c: &Config, target: &DbTarget, force: bool) -> Self {
        let s = &c.settings;
        Self {
            target: target.clone(),
            requested: s.capacity.connections,
            hold: s.capacity.hold,
            cap: c.capacity_cap().cap,
            margin: s.pool.safety_margin,
            force,
            connect_timeout: s.timeouts.connection,
            statement_timeout: s.database.statement_timeout,
        }
    }

    /// How many connections the test opens under `cap`: the request, capped unless forced.
    pub fn planned(&self, cap: u32) -> (u32, bool) {
        if self.force || self.requested <= cap {
            (self.requested, false)
        } else {
            (cap, true)
        }
    }
}

/// Refusals (53300, 57P03) are judged among the most recent finished connects, so the
/// successes from before the server filled up do not dilute them: opening stops once at least
/// 3 of the last 10 (30 %) were refused.
#[derive(Default)]
struct Judge {
    recent: VecDeque<bool>,
}

impl Judge {
    const WINDOW: usize = 10;
    const MIN_REFUSED: usize = 3;

    /// Records one finished connect; `true` when opening more should stop.
    fn record(&mut self, refused: bool) -> bool {
        if self.recent.len() == Self::WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(refused);
        let n = self.recent.iter().filter(|r| **r).count();
        n >= Self::MIN_REFUSED && n * 10 >= self.recent.len() * 3
    }

    fn refused(&self) -> usize {
        self.recent.iter().filter(|r| **r).count()
    }
}

/// Fired once a connection is past its connect step: `true` when the server refused for
/// capacity or because it is restarting.
type Connected = tokio::sync::oneshot::Sender<bool>;

/// One connection of the test: connect, hold, `SELECT 1`, close — cancellable at every wait.
/// The connection is opened and timed step by step like every database attempt, so a failure
/// says where it happened (a black-holed connector hangs in the handshake, not in TCP).
async fn one(
    ctx: &Ctx,
    run: u64,
    index: u32,
    cp: &ConnectParams,
    p: &CapacityParams,
    connected: Connected,
) -> CapacityConn {
    let t = Instant::now();
    let attempt = tokio::select! {
        a = connect::attempt(&p.target, cp) => a,
        () = ctx.cancel.cancelled() => {
            let _ = connected.send(false);
            return CapacityConn { run, index, ok: false, connect_ms: ms(t), error: Some(cancelled()) };
        }
    };
    let connect_ms = ms(t);
    let session = match attempt.result {
        Ok(s) => {
            let _ = connected.send(false);
            s
        }
        Err(f) => {
            let _ = connected.send(f.class.wants_backoff());
            return CapacityConn {
                run,
                index,
                ok: false,
                connect_ms,
                error: Some(f),
            };
        }
    };
    let held = tokio::select! {
        () = tokio::time::sleep(p.hold) => true,
        () = ctx.cancel.cancelled() => false,
    };
    let error = if held {
        select_one(&session, p.statement_timeout).await
    } else {
        Some(cancelled())
    };
    session.close().await;
    CapacityConn {
        run,
        index,
        ok: error.is_none(),
        connect_ms,
        error,
    }
}

async fn select_one(session: &Session, limit: Duration) -> Option<Failure> {
    match tokio::time::timeout(
        limit + Duration::from_secs(1),
        session.client.simple_query("SELECT 1"),
    )
    .await
    {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(connect::pg_failure(Step::Query, &e)),
        Err(_) => Some(classify::timeout(Step::Query, limit)),
    }
}

fn ms(t: Instant) -> f64 {
    connect::ms(t)
}

fn cancelled() -> Failure {
    classify::failure(ErrorClass::Other, Step::Query, None, "test cancelled")
}

/// The test's first event: what it asked for, what it will open, and the headroom behind it.
fn started(
    run: u64,
    p: &CapacityParams,
    room: &Headroom,
    limits: Option<headroom::ServerLimits>,
    (planned, capped): (u32, bool),
) -> CapacityStarted {
    CapacityStarted {
        run,
        requested: p.requested,
        planned,
        cap: room.cap,
        capped,
        forced: p.force && p.requested > room.cap,
        hold_ms: p.hold.as_secs_f64() * 1000.0,
        server_max_connections: limits.map(|l| l.max_connections),
        server_connections_in_use: limits.map(|l| l.sessions),
        server_reserved_connections: limits.map(|l| l.reserved_slots()),
        headroom: Some(room.clone()),
    }
}

pub async fn run(ctx: Ctx, run: u64, p: CapacityParams) {
    let start = Instant::now();
    let m = headroom::read(
        &p.target,
        p.connect_timeout,
        p.statement_timeout,
        p.cap,
        p.margin,
    )
    .await;
    let mut room = m.headroom;
    let (planned, capped) = p.planned(room.cap);
    room.left = room.free_ordinary.map(|f| f.saturating_sub(planned));
    // The stats session's slot comes back a moment after its Terminate; when the test could
    // reach the limit, wait for it so it is not counted against the database.
    if room.free_ordinary.unwrap_or(0) <= planned.saturating_add(1) {
        tokio::time::sleep(STATS_SLOT_RELEASE).await;
    }
    let first = started(run, &p, &room, m.limits, (planned, capped));
    if !ctx.send(EventBody::CapacityStarted(first)).await {
        return;
    }
    // A server that refused the check itself for capacity: that refusal is the result, and
    // it has no free slot (a forced test then goes one connection at a time).
    let mut free = room.free_ordinary;
    if let Some((connect_ms, f)) = m.refused {
        free = Some(0);
        let conn = CapacityConn {
            run,
            index: 0,
            ok: false,
            connect_ms,
            error: Some(f),
        };
        if !ctx.send(EventBody::CapacityConn(conn)).await {
            return;
        }
    }
    let (aborted, reason) = if planned == 0 {
        (true, Some(format!("nothing opened: {}", room.reason)))
    } else {
        open_all(&ctx, run, planned, free, Arc::new(p)).await
    };
    ctx.send(EventBody::CapacityFinished(CapacityFinished {
        run,
        elapsed_ms: ms(start),
        aborted,
        reason,
    }))
    .await;
}

/// How many connects may be in flight: `WAVE`, but one at a time once the test holds as many
/// connections as the server had free ordinary slots (a forced test going past its headroom),
/// so the `Judge` sees each refusal before the next connect is made.
fn in_flight_limit(open: u32, free: Option<u32>) -> usize {
    if free.is_some_and(|f| open >= f) {
        1
    } else {
        WAVE as usize
    }
}

/// Opens `planned` connections: a first wave of `WAVE` at once, then a sliding window of
/// connects in flight (`in_flight_limit`), a new one launched as each finishes (the holds
/// overlap, so all connections are open together). After every finished connect the `Judge`
/// decides whether to stop opening. Every task is awaited, so no connection outlives the test.
async fn open_all(
    ctx: &Ctx,
    run: u64,
    planned: u32,
    free: Option<u32>,
    p: Arc<CapacityParams>,
) -> (bool, Option<String>) {
    let cp = match ConnectParams::new(&p.target, p.connect_timeout, p.statement_timeout) {
        Ok(cp) => Arc::new(cp),
        Err(e) => return (true, Some(format!("cannot connect: {e}"))),
    };
    let mut tasks = JoinSet::new();
    let mut connecting = FuturesUnordered::new();
    let (mut launched, mut decided) = (0u32, 0u32);
    let mut judge = Judge::default();
    let mut stop = None;
    let first_wave = WAVE.min(planned);
    let open = Arc::new(AtomicU32::new(0));
    loop {
        while launched < planned
            && connecting.len() < in_flight_limit(open.load(Ordering::SeqCst), free)
            && (launched < first_wave || decided >= first_wave)
            && stop.is_none()
            && !ctx.cancel.is_cancelled()
        {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let (c, cp, pp, index) = (ctx.clone(), cp.clone(), p.clone(), launched);
            let open = open.clone();
            open.fetch_add(1, Ordering::SeqCst);
            tasks.spawn(async move {
                let res = one(&c, run, index, &cp, &pp, tx).await;
                open.fetch_sub(1, Ordering::SeqCst);
                c.send(EventBody::CapacityConn(res)).await;
            });
            connecting.push(rx);
            launched += 1;
        }
        // Every task answers its signal (true = refused for capacity), even when cancelled.
        let Some(signal) = connecting.next().await else {
            break;
        };
        decided += 1;
        if judge.record(signal.unwrap_or(false)) && stop.is_none() && launched < planned {
            stop = Some(format!(
                "backed off: {} of the last {} connects were refused (53300 / 57P03); {launched} of {planned} attempted",
                judge.refused(),
                judge.recent.len()
            ));
        }
    }
    while tasks.join_next().await.is_some() {}
    let cancelled = ctx.cancel.is_cancelled();
    (
        stop.is_some() || cancelled,
        stop.or_else(|| cancelled.then(|| "cancelled".to_string())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_after_many_successes_still_stop_the_test() {
        let mut j = Judge::default();
        for _ in 0..17 {
            assert!(!j.record(false));
        }
        assert!(!j.record(true));
        assert!(!j.record(true));
        assert!(j.record(true), "3 of the last 10 refused");
    }

    #[test]
    fn a_lone_refusal_does_not_stop_it() {
        let mut j = Judge::default();
        assert!(!j.record(true));
        for _ in 0..20 {
            assert!(!j.record(false));
        }
        assert!(!j.record(true) && !j.record(true), "2 of 10");
    }
}
