//! Running totals plus a bounded window of recent samples: memory stays flat however long the
//! run, and percentiles over the whole run stay exact to 3 significant figures (HdrHistogram).

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest recordable value: one hour, in microseconds. Longer waits are clamped to it.
const MAX_US: u64 = 3_600_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub ms: f64,
    /// Counted against the timeout-violation rate.
    pub violation: bool,
}

/// Summary numbers a person and a script read; rates are fractions 0..1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub attempts: u64,
    pub successes: u64,
    pub success_rate: Option<f64>,
    /// Mean time of every attempt until it succeeded or failed (a timeout counts in full).
    pub avg_ms: Option<f64>,
    /// Mean time of successful attempts only: the time to a working connection.
    pub ok_avg_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub(crate) max_ms: Option<f64>,
    pub timeout_violation_rate: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Series {
    count: u64,
    ok: u64,
    violations: u64,
    sum_ms: f64,
    ok_sum_ms: f64,
    /// The exact maximum: the histogram's is rounded up to its bucket's edge.
    max_ms: f64,
    hist: Histogram<u64>,
    recent: VecDeque<Sample>,
    cap: usize,
    window: chrono::Duration,
}

impl Series {
    pub fn new(cap: usize, window: std::time::Duration) -> Self {
        // Constant, valid bounds: construction cannot fail.
        let hist = Histogram::new_with_bounds(1, MAX_US, 3).expect("constant histogram bounds");
        Self {
            count: 0,
            ok: 0,
            violations: 0,
            sum_ms: 0.0,
            ok_sum_ms: 0.0,
            max_ms: 0.0,
            hist,
            recent: VecDeque::with_capacity(cap.min(1024)),
            cap: cap.max(1),
            window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::hours(1)),
        }
    }

    pub fn record(&mut self, s: Sample) {
        self.count += 1;
        self.ok += u64::from(s.ok);
        self.violations += u64::from(s.violation);
        self.sum_ms += s.ms;
        self.max_ms = self.max_ms.max(s.ms);
        if s.ok {
            self.ok_sum_ms += s.ms;
        }
        let us = ((s.ms * 1000.0).round().max(1.0) as u64).min(MAX_US);
        self.hist.saturating_record(us);
        self.recent.push_back(s);
        self.evict(s.at);
    }

    fn evict(&mut self, now: DateTime<Utc>) {
        while self.recent.len() > self.cap {
            self.recent.pop_front();
        }
        while self
            .recent
            .front()
            .is_some_and(|f| now - f.at > self.window)
        {
            self.recent.pop_front();
        }
    }

    pub fn recent(&self) -> &VecDeque<Sample> {
        &self.recent
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn summary(&self) -> Summary {
        let n = self.count;
        if n == 0 {
            return Summary::default();
        }
        // HDR buckets round up: a percentile can come out above the largest value seen.
        let q = |p: f64| Some((self.hist.value_at_quantile(p) as f64 / 1000.0).min(self.max_ms));
        Summary {
            attempts: n,
            successes: self.ok,
            success_rate: Some(self.ok as f64 / n as f64),
            avg_ms: Some(self.sum_ms / n as f64),
            ok_avg_ms: (self.ok > 0).then(|| self.ok_sum_ms / self.ok as f64),
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            max_ms: Some(self.max_ms),
            timeout_violation_rate: Some(self.violations as f64 / n as f64),
        }
    }
}

/// Exact summary of a handful of samples (sorted percentiles, nearest-rank).
pub(crate) fn summarize(samples: &[&Sample]) -> Summary {
    let n = samples.len();
    if n == 0 {
        return Summary::default();
    }
    let mut ms: Vec<f64> = samples.iter().map(|s| s.ms).collect();
    ms.sort_by(f64::total_cmp);
    let ok: Vec<f64> = samples.iter().filter(|s| s.ok).map(|s| s.ms).collect();
    let rank = |p: f64| Some(ms[((p * n as f64).ceil() as usize).clamp(1, n) - 1]);
    let viol = samples.iter().filter(|s| s.violation).count();
    Summary {
        attempts: n as u64,
        successes: ok.len() as u64,
        success_rate: Some(ok.len() as f64 / n as f64),
        avg_ms: Some(ms.iter().sum::<f64>() / n as f64),
        ok_avg_ms: (!ok.is_empty()).then(|| ok.iter().sum::<f64>() / ok.len() as f64),
        p50_ms: rank(0.50),
        p95_ms: rank(0.95),
        p99_ms: rank(0.99),
        max_ms: ms.last().copied(),
        timeout_violation_rate: Some(viol as f64 / n as f64),
    }
}

/// A ring that keeps the newest `cap` items.
#[derive(Debug, Clone)]
pub struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
}

impl<T> Ring<T> {
    pub fn new(cap: usize) -> Self {
        Self {
            items: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    pub fn push(&mut self, item: T) {
        if self.items.len() == self.cap {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    pub fn last(&self) -> Option<&T> {
        self.items.back()
    }

    pub fn last_mut(&mut self) -> Option<&mut T> {
        self.items.back_mut()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Drops items from the front while `old` says so (age-based eviction).
    pub(crate) fn evict_while(&mut self, old: impl Fn(&T) -> bool) {
        while self.items.front().is_some_and(&old) {
            self.items.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).expect("valid")
    }

    fn sample(t: i64, ok: bool, ms: f64) -> Sample {
        Sample {
            at: at(t),
            ok,
            ms,
            violation: !ok && ms >= 1000.0,
        }
    }

    #[test]
    fn summary_matches_hand_computed_numbers() {
        let mut s = Series::new(100, std::time::Duration::from_secs(3600));
        for (i, ms) in [10.0, 20.0, 30.0, 40.0].into_iter().enumerate() {
            s.record(sample(i as i64, true, ms));
        }
        s.record(sample(5, false, 1000.0));
        let m = s.summary();
        assert_eq!(m.attempts, 5);
        assert_eq!(m.successes, 4);
        assert_eq!(m.success_rate, Some(0.8));
        assert_eq!(m.avg_ms, Some(220.0));
        assert_eq!(m.ok_avg_ms, Some(25.0));
        assert_eq!(m.timeout_violation_rate, Some(0.2));
        let p50 = m.p50_ms.expect("p50");
        assert!((p50 - 30.0).abs() < 0.05, "{p50}");
        let p99 = m.p99_ms.expect("p99");
        assert!((p99 - 1000.0).abs() < 1.0, "{p99}");
    }

    #[test]
    fn percentiles_never_exceed_the_maximum() {
        let mut s = Series::new(100, std::time::Duration::from_secs(3600));
        // 3.0123 ms falls in a bucket whose upper edge is above it.
        for i in 0..10 {
            s.record(sample(i, true, 3.0123));
        }
        let m = s.summary();
        assert_eq!(m.max_ms, Some(3.0123));
        for p in [m.p50_ms, m.p95_ms, m.p99_ms] {
            assert!(p.expect("a percentile") <= 3.0123, "{m:?}");
        }
    }

    #[test]
    fn recent_window_is_bounded_by_count_and_age() {
        let mut s = Series::new(3, std::time::Duration::from_secs(10));
        for t in 0..5 {
            s.record(sample(t, true, 1.0));
        }
        assert_eq!(s.recent().len(), 3);
        s.record(sample(100, true, 1.0));
        assert_eq!(s.recent().len(), 1, "older than the window");
        assert_eq!(s.count(), 6, "totals are kept");
    }

    #[test]
    fn ring_keeps_the_newest() {
        let mut r = Ring::new(2);
        for i in 0..5 {
            r.push(i);
        }
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![3, 4]);
    }
}
