//! What the borrowers measure, shared behind one lock held for a few instructions at a time:
//! every acquire wait (HdrHistogram, exact to 3 significant figures however many), the waits
//! of the current interval for the chart, counts by outcome, and who is waiting right now.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use crate::event::{Failure, PoolFigures, PoolSample};

/// Highest recordable wait: one hour, in microseconds (longer ones are clamped to it).
const MAX_US: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    // Constant, valid bounds: construction cannot fail.
    Histogram::new_with_bounds(1, MAX_US, 3).expect("constant histogram bounds")
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(MAX_US)
        .clamp(1, MAX_US)
}

fn ms_at(h: &Histogram<u64>, q: f64, max_ms: f64) -> Option<f64> {
    // HDR buckets round up: a percentile never reads above the largest wait seen.
    (!h.is_empty()).then(|| (h.value_at_quantile(q) as f64 / 1000.0).min(max_ms))
}

/// How one acquire ended.
pub(crate) enum Outcome {
    Acquired,
    TimedOut,
    Failed(Failure),
}

struct Inner {
    all: Histogram<u64>,
    all_max_ms: f64,
    interval: Histogram<u64>,
    interval_max_ms: f64,
    figures: PoolFigures,
    int_acquired: u64,
    int_timeouts: u64,
    int_errors: u64,
    /// When each borrower began its current acquire, while it waits.
    waiting: Vec<Option<Instant>>,
}

/// Cloned into every borrower.
#[derive(Clone)]
pub(crate) struct Tally(Arc<Mutex<Inner>>);

impl Tally {
    pub(super) fn new(borrowers: u32) -> Self {
        Self(Arc::new(Mutex::new(Inner {
            all: histogram(),
            all_max_ms: 0.0,
            interval: histogram(),
            interval_max_ms: 0.0,
            figures: PoolFigures::default(),
            int_acquired: 0,
            int_timeouts: 0,
            int_errors: 0,
            waiting: vec![None; borrowers as usize],
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A borrower that panicked mid-update leaves counts that are still counts.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn waiting(&self, borrower: usize, since: Option<Instant>) {
        if let Some(w) = self.lock().waiting.get_mut(borrower) {
            *w = since;
        }
    }

    /// One acquire, from the call until it returned (or gave up).
    pub(super) fn acquire(&self, borrower: usize, wait: Duration, outcome: Outcome) {
        let mut g = self.lock();
        if let Some(w) = g.waiting.get_mut(borrower) {
            *w = None;
        }
        let (v, ms) = (us(wait), wait.as_secs_f64() * 1000.0);
        g.all.saturating_record(v);
        g.interval.saturating_record(v);
        g.all_max_ms = g.all_max_ms.max(ms);
        g.interval_max_ms = g.interval_max_ms.max(ms);
        match outcome {
            Outcome::Acquired => {
                g.figures.acquisitions += 1;
                g.int_acquired += 1;
            }
            Outcome::TimedOut => {
                g.figures.timeouts += 1;
                g.int_timeouts += 1;
            }
            Outcome::Failed(f) => g.failed(f),
        }
    }

    /// A failure on a borrowed connection (its `SELECT 1`).
    pub(super) fn query_failed(&self, f: Failure) {
        self.lock().failed(f);
    }

    /// The interval's figures (then started afresh) and the totals so far.
    pub(super) fn sample(&self, run: u64, elapsed_ms: f64, pool: (u32, u32, u32)) -> PoolSample {
        let mut g = self.lock();
        let now = Instant::now();
        let (waiting, longest) = g
            .waiting
            .iter()
            .flatten()
            .fold((0u32, 0.0f64), |(n, l), t| {
                (n + 1, l.max(now.duration_since(*t).as_secs_f64() * 1000.0))
            });
        let s = PoolSample {
            run,
            elapsed_ms,
            acquired: g.int_acquired,
            timeouts: g.int_timeouts,
            errors: g.int_errors,
            wait_p95_ms: ms_at(&g.interval, 0.95, g.interval_max_ms),
            wait_max_ms: (!g.interval.is_empty()).then_some(g.interval_max_ms),
            waiting,
            longest_wait_ms: (longest * 1000.0).round() / 1000.0,
            totals: g.totals(pool.0, pool.1, pool.2),
        };
        g.interval.reset();
        g.interval_max_ms = 0.0;
        (g.int_acquired, g.int_timeouts, g.int_errors) = (0, 0, 0);
        s
    }
}

impl Inner {
    fn failed(&mut self, f: Failure) {
        *self.figures.errors.entry(f.class).or_default() += 1;
        self.figures.last_error = Some(f);
        self.int_errors += 1;
    }

    fn totals(&self, opened: u32, size: u32, idle: u32) -> PoolFigures {
        PoolFigures {
            wait_p50_ms: ms_at(&self.all, 0.5, self.all_max_ms),
            wait_p95_ms: ms_at(&self.all, 0.95, self.all_max_ms),
            wait_max_ms: (!self.all.is_empty()).then_some(self.all_max_ms),
            opened,
            size,
            idle,
            ..self.figures.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ErrorClass, Step};

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn waits_count_every_outcome_and_intervals_start_afresh() {
        let t = Tally::new(3);
        for w in 1..=100 {
            t.acquire(0, ms(w), Outcome::Acquired);
        }
        t.acquire(1, ms(4500), Outcome::TimedOut);
        let f = crate::probe::conn::classify::failure(ErrorClass::Auth, Step::Acquire, None, "x");
        t.acquire(2, ms(3), Outcome::Failed(f));
        let s = t.sample(1, 1000.0, (25, 20, 5));
        assert_eq!((s.acquired, s.timeouts, s.errors), (100, 1, 1));
        assert_eq!(s.wait_max_ms, Some(4500.0));
        let tot = &s.totals;
        assert_eq!(
            (tot.acquisitions, tot.timeouts, tot.errors_total()),
            (100, 1, 1)
        );
        assert_eq!((tot.opened, tot.size, tot.idle), (25, 20, 5));
        let p50 = tot.wait_p50_ms.expect("p50");
        assert!((50.0..=52.0).contains(&p50), "{p50}");
        let p95 = tot.wait_p95_ms.expect("p95");
        assert!((94.0..=97.0).contains(&p95), "{p95}");
        let next = t.sample(1, 2000.0, (25, 25, 25));
        assert_eq!((next.acquired, next.timeouts, next.errors), (0, 0, 0));
        assert_eq!((next.wait_p95_ms, next.wait_max_ms), (None, None));
        assert_eq!(next.totals.acquisitions, 100, "totals are kept");
        assert_eq!(next.totals.errors.get(&ErrorClass::Auth), Some(&1));
    }

    #[test]
    fn who_is_waiting_is_counted_until_their_acquire_ends() {
        let t = Tally::new(2);
        t.waiting(0, Some(Instant::now()));
        t.waiting(1, Some(Instant::now()));
        assert_eq!(t.sample(1, 0.0, (0, 0, 0)).waiting, 2);
        t.acquire(0, ms(1), Outcome::Acquired);
        assert_eq!(t.sample(1, 0.0, (0, 0, 0)).waiting, 1);
    }
}
