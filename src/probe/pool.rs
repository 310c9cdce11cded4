//! The application's-eye view: a sqlx `PgPool` built the way the service's pool is, borrowed
//! from by a light workload, measuring what the service's requests feel — the wait for a
//! connection, acquire timeouts, errors. The raw database probe keeps attempting beside it;
//! the state lines the two up ("beneath"), because the pool hides the cause: sqlx retries
//! refused connects, 53300 and 57P03 quietly until `acquire_timeout`, then says only
//! `PoolTimedOut` (like SQLAlchemy's QueuePool).
//!
//! The service's pool in SQLAlchemy's terms, and what this pool takes from each:
//!
//! | SQLAlchemy (QueuePool) | sqlx (`PgPoolOptions`) | here |
//! |---|---|---|
//! | `pool_size` + `max_overflow` | `max_connections` | `pool.size + pool.max_overflow`, within the headroom's cap unless `--force` |
//! | (opens lazily) | `min_connections` | 0 |
//! | `pool_timeout` | `acquire_timeout` | `timeouts.pool` |
//! | `pool_recycle` | `max_lifetime` | `pool_probe.recycle` (none by default, as SQLAlchemy's −1) |
//! | `pool_pre_ping` | `test_before_acquire` | `pool_probe.pre_ping` (false by default, as SQLAlchemy) |
//!
//! The workload is light on purpose: each borrower pauses `pool_probe.pause` (50 ms ± 50 %)
//! between a release and its next acquire, so what it measures is the pool, not a load test.
//!
//! Not mirrored: SQLAlchemy closes an overflow connection when it is returned and keeps at most
//! `pool_size` idle; sqlx keeps every connection until `idle_timeout` (off here), so after a
//! burst this pool holds up to `max_connections` idle ones. sqlx has no connect timeout (a new
//! connection is bounded only by what is left of the acquire timeout), no host list (the first
//! host is used) and no `target_session_attrs`.
//!
//! Do no harm: the server's headroom is read first (`conn::headroom`, the capacity test's
//! rule) and the pool opens at most its cap without `--force`; sessions carry
//! `application_name=connscope-pool`; a borrower whose acquire fails at once pauses (back-off
//! with jitter) before the next; the pool is closed, bounded by a timeout, however the run ends.

mod connect;
mod tally;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use connect::APPLICATION_NAME;
use tally::{Outcome, Tally};

use super::conn::classify;
use super::conn::headroom;
use super::{Backoff, Ctx};
use crate::config::{Config, DbTarget};
use crate::event::{Event, EventBody, Headroom, PoolFigures, PoolFinished, PoolStarted, Step};

/// Never more than this many connections or borrowers, whatever the profile says.
const MAX_CONNECTIONS: u32 = 10_000;
/// Samples per run at most (the interval grows with the run), at most one each half second.
const MAX_SAMPLES: u32 = 120;
const MIN_SAMPLE_EVERY: Duration = Duration::from_millis(500);
/// `pool.close()` waits for every connection to come back; past this the pool is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// A borrower whose acquire failed at once (a refused login, a TLS error) waits between
/// these before trying again, so a broken pool does not become a connection storm.
const ERROR_PAUSE: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

#[derive(Clone)]
pub struct PoolParams {
    pub target: DbTarget,
    pub size: u32,
    pub max_overflow: u32,
    pub acquire_timeout: Duration,
    /// None: the pool's max + 20 %.
    pub borrowers: Option<u32>,
    pub hold: Duration,
    pub duration: Duration,
    /// Between a release and the next acquire (±50 % jitter).
    pub pause: Duration,
    pub recycle: Option<Duration>,
    pub pre_ping: bool,
    /// The profile's cap and margin: the capacity test's headroom rule.
    pub cap: u32,
    pub margin: f64,
    pub force: bool,
    /// For the headroom check's own connection.
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
}

impl PoolParams {
    pub fn from_config(c: &Config, target: &DbTarget, force: bool) -> Self {
        let s = &c.settings;
        let pp = &s.pool_probe;
        Self {
            target: target.clone(),
            size: s.pool.size,
            max_overflow: s.pool.max_overflow,
            acquire_timeout: s.timeouts.pool,
            borrowers: pp.borrowers,
            hold: pp.hold,
            duration: pp.duration,
            pause: pp.pause,
            recycle: pp.recycle,
            pre_ping: pp.pre_ping,
            cap: c.capacity_cap().cap,
            margin: s.pool.safety_margin,
            force,
            connect_timeout: s.timeouts.connection,
            statement_timeout: s.database.statement_timeout,
        }
    }

    /// What the service's pool may open: size + overflow.
    pub fn requested(&self) -> u32 {
        self.size
            .saturating_add(self.max_overflow)
            .min(MAX_CONNECTIONS)
    }

    /// The pool's `max_connections` under `cap`: the request, capped unless forced.
    pub fn planned(&self, cap: u32) -> (u32, bool) {
        let want = self.requested();
        if self.force || want <= cap {
            (want, false)
        } else {
            (cap, true)
        }
    }

    /// Borrowers for a pool of `max`: as configured, or `max` + 20 % (rounded up).
    pub(crate) fn borrowers_for(&self, max: u32) -> u32 {
        let default = (f64::from(max) * 1.2 - 1e-9).ceil() as u32;
        self.borrowers.unwrap_or(default).clamp(1, MAX_CONNECTIONS)
    }

    /// One sample per interval, at most `MAX_SAMPLES` over the longest the run can take.
    fn sample_every(&self) -> Duration {
        let longest = self
            .duration
            .saturating_add(self.acquire_timeout)
            .saturating_add(self.hold);
        (longest / MAX_SAMPLES).max(MIN_SAMPLE_EVERY)
    }
}

fn ms(since: Instant) -> f64 {
    super::conn::connect::ms(since)
}

fn started(
    run: u64,
    p: &PoolParams,
    room: Headroom,
    (max, capped): (u32, bool),
    borrowers: u32,
) -> PoolStarted {
    let millis = |d: Duration| d.as_secs_f64() * 1000.0;
    PoolStarted {
        run,
        requested: p.requested(),
        max_connections: max,
        min_connections: 0,
        capped,
        forced: p.force && p.requested() > room.cap,
        acquire_timeout_ms: millis(p.acquire_timeout),
        borrowers,
        hold_ms: millis(p.hold),
        duration_ms: millis(p.duration),
        max_lifetime_ms: p.recycle.map(millis),
        test_before_acquire: p.pre_ping,
        headroom: Some(room),
    }
}

/// The last event of a run: sent normally, or — once the run is being shut down and nobody
/// waits for sends any more — offered without waiting, so a recording still says how it ended.
async fn finish(ctx: &Ctx, f: PoolFinished) {
    if ctx.cancel.is_cancelled() {
        let _ = ctx.tx.try_send(Event::now(EventBody::PoolFinished(f)));
    } else {
        ctx.send(EventBody::PoolFinished(f)).await;
    }
}

/// One run: headroom, the pool, the workload, the pool closed. `stop` ends it early (the
/// dashboard's `o`, or the run's cancellation, of which it is a child).
pub async fn run(ctx: Ctx, stop: CancellationToken, run: u64, p: PoolParams) {
    let start = Instant::now();
    let check = headroom::read(
        &p.target,
        p.connect_timeout,
        p.statement_timeout,
        p.cap,
        p.margin,
    );
    // Stopped before anything was opened: its own connection is dropped with the future.
    let m = tokio::select! {
        m = check => m,
        () = stop.cancelled() => return,
    };
    let mut room = m.headroom;
    let (max, capped) = p.planned(room.cap);
    room.left = room.free_ordinary.map(|f| f.saturating_sub(max));
    let reason_none = format!("nothing opened: {}", room.reason);
    let borrowers = p.borrowers_for(max);
    let first = started(run, &p, room, (max, capped), borrowers);
    if !ctx.send(EventBody::PoolStarted(first)).await {
        return;
    }
    let opts = connect::options(&p.target, p.statement_timeout);
    let (totals, reason) = match opts {
        _ if max == 0 => (PoolFigures::default(), Some(reason_none)),
        Err(e) => (
            PoolFigures::default(),
            Some(format!("sqlx cannot connect as the raw probe does: {e}")),
        ),
        Ok(o) => {
            let r = Run {
                ctx: &ctx,
                stop: &stop,
                run,
                p: &p,
                start,
            };
            r.drive(max, borrowers, o).await
        }
    };
    let f = PoolFinished {
        run,
        elapsed_ms: ms(start),
        totals,
        aborted: reason.is_some(),
        reason,
    };
    finish(&ctx, f).await;
}

struct Run<'a> {
    ctx: &'a Ctx,
    stop: &'a CancellationToken,
    run: u64,
    p: &'a PoolParams,
    start: Instant,
}

/// The pool as the service builds it (see the table above); `opened` counts its connects.
fn build(p: &PoolParams, max: u32, opts: PgConnectOptions, opened: Arc<AtomicU32>) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max)
        .min_connections(0)
        .acquire_timeout(p.acquire_timeout)
        .max_lifetime(p.recycle)
        .idle_timeout(None)
        .test_before_acquire(p.pre_ping)
        // Slow acquires are what this probe measures, not warnings for connscope's own log.
        .acquire_slow_level(log::LevelFilter::Off)
        .acquire_time_level(log::LevelFilter::Off)
        .after_connect(move |_conn, _meta| {
            opened.fetch_add(1, Ordering::Relaxed);
            Box::pin(async { Ok(()) })
        })
        .connect_lazy_with(opts)
}

/// Connections opened, open now, idle now.
fn counts(pool: &PgPool, opened: &AtomicU32) -> (u32, u32, u32) {
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
    (opened.load(Ordering::Relaxed), pool.size(), idle)
}

/// Closes the pool (every idle connection says goodbye); bounded, then dropped.
async fn close(pool: PgPool) {
    if tokio::time::timeout(CLOSE_TIMEOUT, pool.close())
        .await
        .is_err()
    {
        tracing::warn!("the pool did not close within {CLOSE_TIMEOUT:?}: dropped");
    }
}

impl Run<'_> {
    /// The workload, sampled at an interval, until every borrower is done; then the pool is
    /// closed. Returns the totals and why it stopped early, if it did.
    async fn drive(
        &self,
        max: u32,
        borrowers: u32,
        opts: PgConnectOptions,
    ) -> (PoolFigures, Option<String>) {
        let opened = Arc::new(AtomicU32::new(0));
        let pool = build(self.p, max, opts, opened.clone());
        let tally = Tally::new(borrowers);
        let until = Instant::now() + self.p.duration;
        let mut tasks = JoinSet::new();
        for index in 0..borrowers as usize {
            let b = Borrower {
                index,
                pool: pool.clone(),
                tally: tally.clone(),
                until,
                stop: self.stop.clone(),
                hold: self.p.hold,
                pause: self.p.pause,
                acquire_timeout: self.p.acquire_timeout,
                statement_timeout: self.p.statement_timeout,
            };
            tasks.spawn(b.work());
        }
        let every = self.p.sample_every();
        let mut tick = tokio::time::interval_at(Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                j = tasks.join_next() => if j.is_none() { break },
                _ = tick.tick() => {
                    let s = tally.sample(self.run, ms(self.start), counts(&pool, &opened));
                    if !self.ctx.send(EventBody::PoolSample(s)).await {
                        self.stop.cancel();
                    }
                }
            }
        }
        // The last interval (the acquires that ended after the newest sample: often the
        // timeouts themselves), so the chart shows them.
        let last = tally.sample(self.run, ms(self.start), counts(&pool, &opened));
        let totals = last.totals.clone();
        if last.acquired + last.timeouts + last.errors > 0 && !self.ctx.cancel.is_cancelled() {
            self.ctx.send(EventBody::PoolSample(last)).await;
        }
        close(pool).await;
        let reason = if self.ctx.cancel.is_cancelled() {
            Some(PoolFinished::CANCELLED.to_string())
        } else if self.stop.is_cancelled() {
            Some(PoolFinished::STOPPED.to_string())
        } else {
            None
        };
        (totals, reason)
    }
}

/// One borrower: acquire → (hold) → `SELECT 1` → release, until the duration is over.
struct Borrower {
    index: usize,
    pool: PgPool,
    tally: Tally,
    until: Instant,
    stop: CancellationToken,
    hold: Duration,
    pause: Duration,
    acquire_timeout: Duration,
    statement_timeout: Duration,
}

impl Borrower {
    async fn work(self) {
        let mut pause = Backoff::new(ERROR_PAUSE.0, ERROR_PAUSE.1);
        while Instant::now() < self.until && !self.stop.is_cancelled() {
            let t = Instant::now();
            self.tally.waiting(self.index, Some(t));
            let got = tokio::select! {
                g = self.pool.acquire() => g,
                () = self.stop.cancelled() => {
                    self.tally.waiting(self.index, None);
                    return;
                }
            };
            let wait = t.elapsed();
            match got {
                Ok(conn) => {
                    self.tally.acquire(self.index, wait, Outcome::Acquired);
                    pause.success();
                    if !self.use_connection(conn).await {
                        return;
                    }
                    let jittered = self.pause.mul_f64(0.5 + fastrand::f64());
                    if !self.pause.is_zero() && !self.sleep(jittered).await {
                        return;
                    }
                }
                Err(sqlx::Error::PoolTimedOut) => {
                    self.tally.acquire(self.index, wait, Outcome::TimedOut);
                }
                Err(e) => {
                    let f = classify::sqlx_failure(Step::Acquire, &e, self.acquire_timeout);
                    self.tally.acquire(self.index, wait, Outcome::Failed(f));
                    if matches!(e, sqlx::Error::PoolClosed) {
                        return;
                    }
                    pause.failure();
                    if !self.sleep(pause.next_delay()).await {
                        return;
                    }
                }
            }
        }
    }

    async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => true,
            () = self.stop.cancelled() => false,
        }
    }

    /// Hold, `SELECT 1`, release. A connection whose query failed is closed instead of going
    /// back (SQLAlchemy invalidates it likewise). False when stopped while holding.
    async fn use_connection(&self, mut conn: sqlx::pool::PoolConnection<sqlx::Postgres>) -> bool {
        if !self.hold.is_zero() && !self.sleep(self.hold).await {
            return false;
        }
        let limit = self.statement_timeout + Duration::from_secs(1);
        let q = tokio::time::timeout(limit, sqlx::raw_sql("SELECT 1").execute(&mut *conn)).await;
        let failure = match q {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(classify::sqlx_failure(
                Step::Query,
                &e,
                self.acquire_timeout,
            )),
            Err(_) => Some(classify::timeout(Step::Query, limit)),
        };
        if let Some(f) = failure {
            conn.close_on_drop();
            self.tally.query_failed(f);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(size: u32, overflow: u32, force: bool) -> PoolParams {
        let env = crate::config::EnvSnapshot::default();
        let target = crate::config::target::resolve(&crate::config::target::Resolve {
            url: Some("postgres://app@127.0.0.1:5432/app"),
            config_password: None,
            env: &env,
            application_name: "connscope",
        })
        .expect("resolves")
        .expect("a target");
        PoolParams {
            target,
            size,
            max_overflow: overflow,
            acquire_timeout: Duration::from_secs(45),
            borrowers: None,
            hold: Duration::ZERO,
            duration: Duration::from_secs(10),
            pause: Duration::from_millis(50),
            recycle: None,
            pre_ping: false,
            cap: 35,
            margin: 0.8,
            force,
            connect_timeout: Duration::from_secs(35),
            statement_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn the_service_pool_within_the_headroom_unless_forced() {
        let p = params(10, 15, false);
        assert_eq!(p.requested(), 25);
        assert_eq!(p.planned(35), (25, false));
        assert_eq!(p.planned(13), (13, true), "capped at the headroom's cap");
        assert_eq!(p.planned(0), (0, true), "a full server gets nothing");
        assert_eq!(params(10, 15, true).planned(0), (25, false));
        assert_eq!(params(0, 0, false).planned(35), (0, false));
    }

    #[test]
    fn borrowers_are_the_pool_plus_a_fifth_rounded_up() {
        let p = params(10, 15, false);
        assert_eq!(p.borrowers_for(25), 30);
        assert_eq!(p.borrowers_for(10), 12);
        assert_eq!(p.borrowers_for(1), 2);
        assert_eq!(p.borrowers_for(0), 1, "never none");
        let mut p = p;
        p.borrowers = Some(7);
        assert_eq!(p.borrowers_for(25), 7);
    }

    #[test]
    fn samples_are_bounded_in_count() {
        let mut p = params(10, 15, false);
        assert_eq!(p.sample_every(), MIN_SAMPLE_EVERY, "55 s / 120 < 0.5 s");
        p.duration = Duration::from_secs(7 * 24 * 3600);
        let n = (p.duration + p.acquire_timeout).as_secs_f64() / p.sample_every().as_secs_f64();
        assert!(n <= f64::from(MAX_SAMPLES) + 1.0, "{n}");
    }
}
