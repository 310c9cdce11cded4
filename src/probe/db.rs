//! Repeated, step-timed connection attempts to the database (the "Database attempts" panel).
//! One connection per attempt, closed right after `SELECT 1`; never a pool, which would hide
//! 53300 / 57P03 behind its own retries. After failures the interval grows with jitter so the
//! probe never adds to a struggling server's load.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::conn::connect::{self, ConnectParams};
use super::conn::schedule::harmful;
use super::{Backoff, Control, Ctx, Mode};
use crate::config::{Config, DbTarget};
use crate::event::{DbAttempt, EventBody};

#[derive(Clone)]
pub struct DbParams {
    pub target: DbTarget,
    pub connect: ConnectParams,
    pub attempts: u32,
    pub interval: Duration,
    pub max_backoff: Duration,
    /// `check` with the pool probe: after its attempts, keep attempting until this is
    /// cancelled (the pool run ended), so what lies beneath the pool is seen all through it.
    pub until: Option<CancellationToken>,
}

impl DbParams {
    pub fn from_config(c: &Config, target: &DbTarget) -> Result<Self, String> {
        let s = &c.settings;
        Ok(Self {
            target: target.clone(),
            connect: ConnectParams::new(
                target,
                s.timeouts.connection,
                s.database.statement_timeout,
            )?,
            attempts: s.database.attempts,
            interval: s.database.interval,
            max_backoff: s.database.max_backoff,
            until: None,
        })
    }
}

/// One attempt as an event body; the session, if any, is closed before returning.
pub async fn attempt_once(seq: u64, p: &DbParams) -> DbAttempt {
    let a = connect::attempt(&p.target, &p.connect).await;
    let error = match a.result {
        Ok(session) => {
            session.close().await;
            None
        }
        Err(f) => Some(f),
    };
    DbAttempt {
        seq,
        ok: error.is_none(),
        total_ms: a.total_ms,
        steps_ms: a.steps,
        timeout_ms: p.connect.timeout.as_secs_f64() * 1000.0,
        error,
        tries: a.tries,
    }
}

pub async fn run(ctx: Ctx, mut ctl: Control, mode: Mode, p: DbParams) {
    let mut backoff = Backoff::new(p.interval, p.max_backoff.max(p.interval));
    for seq in 1u64.. {
        let a = tokio::select! {
            a = attempt_once(seq, &p) => a,
            () = ctx.cancel.cancelled() => return,
        };
        match &a.error {
            None => tracing::debug!(seq, total_ms = a.total_ms, "database attempt ok"),
            Some(e) => tracing::debug!(
                seq,
                total_ms = a.total_ms,
                class = e.class.as_str(),
                step = e.step.map(|s| s.as_str()),
                "database attempt failed"
            ),
        }
        // Only where probing could harm: otherwise the plan's spacing, so recovery shows at once.
        match &a.error {
            Some(e) if harmful(e) => backoff.failure(),
            _ => backoff.success(),
        }
        if !ctx.send(EventBody::DbAttempt(a)).await {
            return;
        }
        let done = mode == Mode::Once && seq >= u64::from(p.attempts);
        let wait = ctl.wait(backoff.next_delay(), &ctx.cancel);
        let go_on = match (&p.until, done) {
            (_, false) => wait.await,
            (None, true) => false,
            (Some(until), true) => tokio::select! {
                w = wait => w && !until.is_cancelled(),
                () = until.cancelled() => false,
            },
        };
        if !go_on {
            return;
        }
    }
}
