//! The concurrent-capacity test: N connections at once, each held for a while running
//! `SELECT 1`, the way the outage plan probed Cloud SQL's limits. Plain single connections,
//! opened and timed like every database attempt (never a pool: its retries would turn 53300
//! into a silent wait).
//!
//! First, do no harm: the test never exceeds the safety cap (limit × margin − reserved) without
//! `--force`; it has at most 16 connects in flight and stops opening more once the server
//! refuses for capacity; and every connection is closed when the test ends, fails or is
//! cancelled.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::Ctx;
use super::conn::classify;
use super::conn::connect::{self, ConnectParams, Session};
use crate::config::{Config, DbTarget};
use crate::event::{
    CapacityConn, CapacityFinished, CapacityStarted, ErrorClass, EventBody, Failure, Step,
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
    pub cap: u32,
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
            force,
            connect_timeout: s.timeouts.connection,
            statement_timeout: s.database.statement_timeout,
        }
    }

    /// How many connections the test will open: the request, capped unless forced.
    pub fn planned(&self) -> (u32, bool) {
        if self.force || self.requested <= self.cap {
            (self.requested, false)
        } else {
            (self.cap, true)
        }
    }
}

/// max_connections, superuser_reserved_connections and client connections in use, read on a
/// connection of our own before the test (so it never needs a slot the test took).
async fn server_stats(p: &CapacityParams, planned: u32) -> (Option<u32>, Option<u32>, Option<u32>) {
    let Ok(cp) = ConnectParams::new(&p.target, p.connect_timeout, p.statement_timeout) else {
        return (None, None, None);
    };
    let Ok(session) = connect::attempt(&p.target, &cp).await.result else {
        return (None, None, None);
    };
    let first = |rows: Vec<tokio_postgres::SimpleQueryMessage>| {
        rows.into_iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                r.get(0).and_then(|v| v.parse::<u32>().ok())
            }
            _ => None,
        })
    };
    let q = |sql: &'static str| {
        let c = &session.client;
        async move {
            tokio::time::timeout(Duration::from_secs(5), c.simple_query(sql))
                .await
                .ok()?
                .ok()
                .and_then(first)
        }
    };
    let max = q("SHOW max_connections").await;
    let reserved = q("SHOW superuser_reserved_connections").await;
    // Our own stats session is not "in use" by anyone else.
    let in_use = match q(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    )
    .await
    {
        Some(n) => Some(n),
        None => q("SELECT count(*) FROM pg_stat_activity").await.map(|n| n.saturating_sub(1)),
    };
    session.close().await;
    // The server frees the stats session's slot when its backend exits, a moment after
    // Terminate; when the test could reach the limit, this pause keeps that slot from being
    // counted against the database. With room to spare (or numbers unknown: be careful) it
    // would only slow the test down.
    let room = match (max, reserved, in_use) {
        (Some(m), Some(r), Some(u)) => m.saturating_sub(r).saturating_sub(u),
        _ => 0,
    };
    if room <= planned.saturating_add(1) {
        tokio::time::sleep(STATS_SLOT_RELEASE).await;
    }
    (max, reserved, in_use)
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

pub async fn run(ctx: Ctx, run: u64, p: CapacityParams) {
    let start = Instant::now();
    let (planned, capped) = p.planned();
    let (max, reserved, in_use) = server_stats(&p, planned).await;
    let started = CapacityStarted {
        run,
        requested: p.requested,
        planned,
        cap: p.cap,
        capped,
        forced: p.force && p.requested > p.cap,
        hold_ms: p.hold.as_secs_f64() * 1000.0,
        server_max_connections: max,
        server_connections_in_use: in_use,
        server_reserved_connections: reserved,
    };
    if !ctx.send(EventBody::CapacityStarted(started)).await {
        return;
    }
    let (aborted, reason) = open_all(&ctx, run, planned, Arc::new(p)).await;
    ctx.send(EventBody::CapacityFinished(CapacityFinished {
        run,
        elapsed_ms: ms(start),
        aborted,
        reason,
    }))
    .await;
}

/// Opens `planned` connections: a first wave of `WAVE` at once, judged when all of it has
/// connected or failed; then a sliding window of at most `WAVE` connects in flight, a new one
/// launched as each finishes (the holds overlap, so all connections are open together). After
/// the first wave, and after every decision since, when 30 % or more of the decided were
/// refused for capacity nothing more is launched — so no more than `WAVE` connects ever follow
/// the refusals that stop the test. Every task is awaited, so no connection outlives the test.
async fn open_all(
    ctx: &Ctx,
    run: u64,
    planned: u32,
    p: Arc<CapacityParams>,
) -> (bool, Option<String>) {
    let cp = match ConnectParams::new(&p.target, p.connect_timeout, p.statement_timeout) {
        Ok(cp) => Arc::new(cp),
        Err(e) => return (true, Some(format!("cannot connect: {e}"))),
    };
    let mut tasks = JoinSet::new();
    let mut connecting = FuturesUnordered::new();
    let (mut launched, mut decided, mut refused) = (0u32, 0u32, 0u32);
    let mut stop = None;
    let first_wave = WAVE.min(planned);
    loop {
        while launched < planned
            && connecting.len() < WAVE as usize
            && (launched < first_wave || decided >= first_wave)
            && stop.is_none()
            && !ctx.cancel.is_cancelled()
        {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let (c, cp, pp, index) = (ctx.clone(), cp.clone(), p.clone(), launched);
            tasks.spawn(async move {
                let res = one(&c, run, index, &cp, &pp, tx).await;
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
        refused += u32::from(signal.unwrap_or(false));
        if stop.is_none()
            && decided >= first_wave
            && refused > 0
            && refused * 10 >= decided * 3
            && launched < planned
        {
            stop = Some(format!(
                "backed off after {refused} of {decided} connections were refused (53300 / 57P03)"
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
