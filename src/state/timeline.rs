//! What the report's charts draw over time, for the whole recording and in bounded memory:
//! database attempts in time buckets that widen as the recording grows (every failure kept,
//! by class), the outages with their down and recovered times, each health path's and
//! WebSocket's status as runs of equal answers, finished capacity tests, and the pool
//! probe's earlier runs (the newest is the pool state's).
//!
//! The rest of the state keeps the newest attempts (600) and the judgement; this keeps the
//! story. It is not reset by a lab scenario switch (an outage open at the switch is cut
//! there), so a recording of several scenarios draws them all.

use chrono::{DateTime, Utc};

use super::capacity::CapacityState;
use super::db::{DbState, Outage};
use super::endpoints::{Health, health};
use super::pool::PoolRun;
use super::stats::Ring;
use crate::event::{DbAttempt, ErrorClass, HttpCheck, Step, WsCheck};

/// Buckets of attempts kept at most; the bucket width doubles when the recording outgrows
/// them (100 ms for the first 102 s, 800 ms for a 10-minute recording).
pub(crate) const BUCKETS: usize = 1024;
const FIRST_WIDTH_MS: i64 = 100;
const OUTAGES_KEPT: usize = 200;
const SEGMENTS_KEPT: usize = 500;
const CAPACITY_TESTS_KEPT: usize = 50;
/// Earlier pool runs kept, each with its samples (at most `pool::SAMPLES_KEPT`).
pub(crate) const POOL_RUNS_KEPT: usize = 10;

/// The drawn steps of a successful attempt, in connection order; `handshake` here is the part
/// after TLS (startup + authentication), so the five stack to the attempt's time.
pub(crate) const STEPS: [&str; 5] = ["dns", "tcp", "tls", "handshake", "query"];

/// The failures of one class (and step) inside a bucket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FailMark {
    pub class: ErrorClass,
    pub step: Option<Step>,
    pub sqlstate: Option<String>,
    pub count: u32,
    pub first: DateTime<Utc>,
    /// The longest of them (a timeout: the time it waited).
    pub(crate) max_ms: f64,
}

/// Attempts that fell into one slice of time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bucket {
    index: i64,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub attempts: u32,
    pub ok: u32,
    /// Per step of `STEPS`, the sum over successful attempts (a step that did not run adds 0).
    pub(crate) ok_steps_ms: [f64; 5],
    pub(crate) ok_total_ms: f64,
    pub(crate) ok_max_ms: f64,
    pub failures: Vec<FailMark>,
}

impl Bucket {
    fn new(index: i64, at: DateTime<Utc>) -> Self {
        Self {
            index,
            first: at,
            last: at,
            attempts: 0,
            ok: 0,
            ok_steps_ms: [0.0; 5],
            ok_total_ms: 0.0,
            ok_max_ms: 0.0,
            failures: Vec::new(),
        }
    }

    /// Mean of each step over the successful attempts.
    #[cfg(test)]
    pub(crate) fn ok_step_means(&self) -> Option<[f64; 5]> {
        (self.ok > 0).then(|| self.ok_steps_ms.map(|v| v / f64::from(self.ok)))
    }

    fn add(&mut self, at: DateTime<Utc>, a: &DbAttempt) {
        self.first = self.first.min(at);
        self.last = self.last.max(at);
        self.attempts += 1;
        match &a.error {
            None if a.ok => {
                self.ok += 1;
                for (sum, v) in self.ok_steps_ms.iter_mut().zip(drawn_steps(a)) {
                    *sum += v;
                }
                self.ok_total_ms += a.total_ms;
                self.ok_max_ms = self.ok_max_ms.max(a.total_ms);
            }
            e => self.failed(at, a.total_ms, e.as_ref()),
        }
    }

    /// One failed attempt (no allocation unless its class and step are new to the bucket).
    fn failed(&mut self, at: DateTime<Utc>, ms: f64, e: Option<&crate::event::Failure>) {
        let (class, step) = e.map_or((ErrorClass::Other, None), |e| (e.class, e.step));
        match self
            .failures
            .iter_mut()
            .find(|f| f.class == class && f.step == step)
        {
            Some(f) => {
                f.count += 1;
                f.first = f.first.min(at);
                f.max_ms = f.max_ms.max(ms);
            }
            None => self.failures.push(FailMark {
                class,
                step,
                sqlstate: e.and_then(|e| e.sqlstate.clone()),
                count: 1,
                first: at,
                max_ms: ms,
            }),
        }
    }

    fn fail(&mut self, m: FailMark) {
        match self
            .failures
            .iter_mut()
            .find(|f| f.class == m.class && f.step == m.step)
        {
            Some(f) => {
                f.count += m.count;
                f.first = f.first.min(m.first);
                f.max_ms = f.max_ms.max(m.max_ms);
            }
            None => self.failures.push(m),
        }
    }

    fn merge(&mut self, o: Bucket) {
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        self.attempts += o.attempts;
        self.ok += o.ok;
        for (a, b) in self.ok_steps_ms.iter_mut().zip(o.ok_steps_ms) {
            *a += b;
        }
        self.ok_total_ms += o.ok_total_ms;
        self.ok_max_ms = self.ok_max_ms.max(o.ok_max_ms);
        for f in o.failures {
            self.fail(f);
        }
    }
}

/// dns, tcp, tls, the handshake after TLS, query — each 0 when it did not run.
fn drawn_steps(a: &DbAttempt) -> [f64; 5] {
    let s = &a.steps_ms;
    let tls = s.tls.unwrap_or(0.0);
    let after_tls = s.handshake.map_or(0.0, |h| (h - tls).max(0.0));
    [
        s.dns.unwrap_or(0.0),
        s.tcp.unwrap_or(0.0),
        tls,
        after_tls,
        s.query.unwrap_or(0.0),
    ]
}

/// Database attempts over the whole recording in at most `BUCKETS` buckets.
#[derive(Debug, Clone)]
pub struct AttemptTimeline {
    origin: Option<DateTime<Utc>>,
    width_ms: i64,
    /// Non-empty buckets by index, ascending.
    buckets: Vec<Bucket>,
    attempts: u64,
}

impl Default for AttemptTimeline {
    fn default() -> Self {
        Self {
            origin: None,
            width_ms: FIRST_WIDTH_MS,
            buckets: Vec::new(),
            attempts: 0,
        }
    }
}

impl AttemptTimeline {
    pub(crate) fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    #[cfg(test)]
    pub(crate) fn width_ms(&self) -> i64 {
        self.width_ms
    }

    pub fn attempts(&self) -> u64 {
        self.attempts
    }

    pub fn add(&mut self, at: DateTime<Utc>, a: &DbAttempt) {
        self.attempts += 1;
        let origin = *self.origin.get_or_insert(at);
        // An attempt stamped before the first one (probes report out of order) joins the first bucket.
        let offset = (at - origin).num_milliseconds().max(0);
        while offset / self.width_ms >= BUCKETS as i64 {
            self.widen();
        }
        let index = offset / self.width_ms;
        let pos = self.buckets.partition_point(|b| b.index < index);
        if self.buckets.get(pos).is_none_or(|b| b.index != index) {
            self.buckets.insert(pos, Bucket::new(index, at));
        }
        self.buckets[pos].add(at, a);
    }

    /// Doubles the bucket width, merging each pair of neighbours.
    fn widen(&mut self) {
        self.width_ms = self.width_ms.saturating_mul(2);
        let mut merged: Vec<Bucket> = Vec::with_capacity(self.buckets.len());
        for mut b in self.buckets.drain(..) {
            b.index /= 2;
            match merged.last_mut() {
                Some(last) if last.index == b.index => last.merge(b),
                _ => merged.push(b),
            }
        }
        self.buckets = merged;
    }
}

/// An outage as the charts show it: from its first failure to its recovery.
#[derive(Debug, Clone, PartialEq)]
pub struct OutageSpan {
    pub outage: Outage,
    /// The lab switched scenario while it lasted: it ends there, not by a recovery.
    pub(crate) cut_at: Option<DateTime<Utc>>,
}

/// A run of equal answers from one health path or WebSocket.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub from: DateTime<Utc>,
    /// The newest answer of the run.
    pub to: DateTime<Utc>,
    pub health: Health,
    /// What the answers said: `200`, `503`, `timeout at connect`.
    pub(crate) detail: String,
    pub checks: u32,
}

/// The status of one health path (`backend /health`) or WebSocket over time.
#[derive(Debug, Clone)]
pub struct Strip {
    pub name: String,
    pub path: Option<String>,
    pub segments: Ring<Segment>,
}

impl Strip {
    fn new(name: &str, path: Option<&str>) -> Self {
        Self {
            name: name.into(),
            path: path.map(str::to_string),
            segments: Ring::new(SEGMENTS_KEPT),
        }
    }

    fn add(&mut self, at: DateTime<Utc>, health: Health, detail: String) {
        let same = self
            .segments
            .last()
            .is_some_and(|s| s.health == health && s.detail == detail && at >= s.to);
        if let Some(s) = self.segments.last_mut().filter(|_| same) {
            s.to = at;
            s.checks += 1;
            return;
        }
        self.segments.push(Segment {
            from: at,
            to: at,
            health,
            detail,
            checks: 1,
        });
    }
}

/// A capacity test that finished, as a bar: how many connected, hit 53300, failed otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityBar {
    pub run: u64,
    pub started_at: DateTime<Utc>,
    pub(crate) finished_at: Option<DateTime<Utc>>,
    pub planned: u32,
    pub cap: u32,
    pub succeeded: u32,
    pub capacity_errors: u32,
    pub(crate) other_failures: u32,
    pub aborted: bool,
}

impl CapacityBar {
    pub fn of(run: &super::capacity::CapacityRun) -> Self {
        Self {
            run: run.started.run,
            started_at: run.started_at,
            finished_at: run.finished.as_ref().map(|(t, _)| *t),
            planned: run.started.planned,
            cap: run.started.cap,
            succeeded: run.succeeded,
            capacity_errors: run.capacity_errors,
            other_failures: run.failed.saturating_sub(run.capacity_errors),
            aborted: run.finished.as_ref().is_some_and(|(_, f)| f.aborted),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub db: AttemptTimeline,
    /// Ended (recovered or cut) outages, oldest first; the one going on is the database
    /// state's `current_outage`.
    pub outages: Vec<OutageSpan>,
    pub(crate) outages_dropped: u64,
    /// The database state was down after the previous attempt.
    was_down: bool,
    pub health: Vec<Strip>,
    pub websockets: Vec<Strip>,
    pub capacity: Vec<CapacityBar>,
    /// Pool runs a newer one replaced, oldest first.
    pub pool: Vec<PoolRun>,
    pub(crate) pool_dropped: u64,
}

impl Timeline {
    /// After `db` applied the attempt: the attempt, and an outage that ended with it.
    pub fn db_attempt(&mut self, at: DateTime<Utc>, a: &DbAttempt, db: &DbState) {
        self.db.add(at, a);
        if self.was_down
            && !db.down
            && let Some(o) = db.outages.last()
        {
            self.end_outage(o.clone(), None);
        }
        self.was_down = db.down;
    }

    /// A lab scenario switch starts the database state over: the outage `old` was in, if
    /// any, ends here.
    pub(crate) fn scenario_switch(&mut self, at: DateTime<Utc>, old: &DbState) {
        if let Some(o) = old.current_outage() {
            self.end_outage(o.clone(), Some(at));
        }
        self.was_down = false;
    }

    fn end_outage(&mut self, outage: Outage, cut_at: Option<DateTime<Utc>>) {
        if self.outages.len() == OUTAGES_KEPT {
            self.outages.remove(0);
            self.outages_dropped += 1;
        }
        self.outages.push(OutageSpan { outage, cut_at });
    }

    pub fn http(&mut self, at: DateTime<Utc>, c: &HttpCheck) {
        let judged = health(c);
        let detail = match (c.status, &c.error) {
            (Some(s), _) => s.to_string(),
            (None, Some(e)) => e.headline(),
            (None, None) => "no answer".into(),
        };
        let path = c.requested_path.as_str();
        let i = match self
            .health
            .iter()
            .position(|s| s.name == c.endpoint && s.path.as_deref() == Some(path))
        {
            Some(i) => i,
            None => {
                self.health.push(Strip::new(&c.endpoint, Some(path)));
                self.health.len() - 1
            }
        };
        self.health[i].add(at, judged.health, detail);
    }

    pub fn ws(&mut self, at: DateTime<Utc>, c: &WsCheck) {
        let (h, detail) = match &c.error {
            _ if c.ok => (Health::Ok, "reply".to_string()),
            Some(e) => (Health::Failing, e.headline()),
            None => (Health::Failing, "failed".to_string()),
        };
        let i = match self.websockets.iter().position(|s| s.name == c.url) {
            Some(i) => i,
            None => {
                self.websockets.push(Strip::new(&c.url, None));
                self.websockets.len() - 1
            }
        };
        self.websockets[i].add(at, h, detail);
    }

    /// After `cap` applied a test's end.
    pub(crate) fn capacity_finished(&mut self, cap: &CapacityState) {
        let Some(run) = cap.last.as_ref().filter(|r| !r.running()) else {
            return;
        };
        if self.capacity.len() == CAPACITY_TESTS_KEPT {
            self.capacity.remove(0);
        }
        self.capacity.push(CapacityBar::of(run));
    }

    /// A new pool run begins: the one it replaces (as it ended, or as far as it got) is kept.
    pub(crate) fn pool_replaced(&mut self, old: Option<PoolRun>) {
        let Some(old) = old else { return };
        if self.pool.len() == POOL_RUNS_KEPT {
            self.pool.remove(0);
            self.pool_dropped += 1;
        }
        self.pool.push(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventBody;
    use crate::state::fixtures::*;

    fn attempt(body: EventBody) -> DbAttempt {
        match body {
            EventBody::DbAttempt(a) => a,
            _ => unreachable!("an attempt"),
        }
    }

    #[test]
    fn a_long_recording_widens_buckets_and_keeps_every_failure() {
        let mut tl = AttemptTimeline::default();
        let n = 30_000u64;
        for i in 0..n {
            let at = t(i as f64 * 0.02);
            let body = if i % 997 == 0 {
                tcp_timeout(i)
            } else {
                ok_attempt(i, 0.5, 1.0, 3.0, 0.5)
            };
            tl.add(at, &attempt(body));
        }
        assert!(tl.buckets().len() <= BUCKETS, "{}", tl.buckets().len());
        assert_eq!(tl.width_ms(), 800, "600 s in at most 1024 buckets");
        let attempts: u64 = tl.buckets().iter().map(|b| u64::from(b.attempts)).sum();
        assert_eq!(attempts, n);
        let failed: u32 = tl
            .buckets()
            .iter()
            .flat_map(|b| &b.failures)
            .map(|f| f.count)
            .sum();
        assert_eq!(failed, n.div_ceil(997) as u32, "every failure is kept");
        let b = &tl.buckets()[1];
        let means = b.ok_step_means().expect("successes");
        assert!((means.iter().sum::<f64>() - 5.0).abs() < 1e-9, "{means:?}");
    }

    #[test]
    fn an_out_of_order_attempt_joins_its_bucket() {
        let mut tl = AttemptTimeline::default();
        tl.add(t(1.0), &attempt(ok_attempt(1, 1.0, 1.0, 1.0, 1.0)));
        tl.add(t(5.0), &attempt(ok_attempt(2, 1.0, 1.0, 1.0, 1.0)));
        tl.add(t(3.0), &attempt(tcp_timeout(3)));
        tl.add(t(0.5), &attempt(tcp_timeout(4)));
        let idx: Vec<i64> = tl.buckets().iter().map(|b| b.index).collect();
        assert_eq!(idx, vec![0, 20, 40]);
        assert_eq!(
            tl.buckets()[0].attempts,
            2,
            "before the origin: the first bucket"
        );
    }

    #[test]
    fn handshake_is_drawn_after_tls() {
        let mut a = attempt(ok_attempt(1, 1.0, 2.0, 30.0, 4.0));
        a.steps_ms.tls = Some(20.0);
        assert_eq!(drawn_steps(&a), [1.0, 2.0, 20.0, 10.0, 4.0]);
    }

    #[test]
    fn strips_merge_equal_answers() {
        let mut tl = Timeline::default();
        for (s, status) in [
            (0.0, 200),
            (10.0, 200),
            (20.0, 503),
            (30.0, 503),
            (40.0, 200),
        ] {
            if let EventBody::HttpCheck(c) = http("api", "/health", status, 20.0, "") {
                tl.http(t(s), &c);
            }
        }
        let segs: Vec<(u32, &str)> = tl.health[0]
            .segments
            .iter()
            .map(|s| (s.checks, s.detail.as_str()))
            .collect();
        assert_eq!(segs, vec![(2, "200"), (2, "503"), (1, "200")]);
    }

    #[test]
    fn earlier_pool_runs_are_kept_with_their_samples_and_bounded() {
        let mut ev = pool_timeouts_beneath_capacity();
        ev.push((60.0, pool_started(2)));
        let s = build(staging_config(), &ev);
        let tl = &s.timeline;
        assert_eq!(tl.pool.len(), 1, "the first run, replaced by the second");
        let first = &tl.pool[0];
        assert_eq!(first.started.run, 1);
        assert_eq!(first.samples.len(), 12, "with every sample");
        assert!(!first.running(), "as it ended");
        assert_eq!(first.beneath.attempts, 12, "and what lay beneath it");
        assert_eq!(s.pool.last.as_ref().map(|r| r.started.run), Some(2));

        let n = POOL_RUNS_KEPT as u64 + 3;
        let many: Vec<(f64, EventBody)> = (1..=n).map(|r| (r as f64, pool_started(r))).collect();
        let s = build(staging_config(), &many);
        let runs: Vec<u64> = s.timeline.pool.iter().map(|r| r.started.run).collect();
        assert_eq!(runs.len(), POOL_RUNS_KEPT);
        assert_eq!(runs.first(), Some(&3), "the oldest dropped first");
        assert_eq!(s.timeline.pool_dropped, 2);
        assert_eq!(s.pool.last.as_ref().map(|r| r.started.run), Some(n));
    }

    #[test]
    fn outages_are_recovered_or_cut_by_a_scenario_switch() {
        use crate::event::LabScenario;
        let lab = |name: &str| {
            EventBody::LabScenario(LabScenario {
                name: name.into(),
                description: String::new(),
            })
        };
        let mut ev = vec![(0.0, lab("healthy"))];
        ev.extend((1..=3u32).map(|i| (f64::from(i), tcp_timeout(u64::from(i)))));
        ev.push((4.0, lab("flapping")));
        ev.extend((5..=7u32).map(|i| (f64::from(i), tcp_timeout(u64::from(i)))));
        let s = build(staging_config(), &ev);
        let tl = &s.timeline;
        assert_eq!(tl.outages.len(), 1);
        assert_eq!(tl.outages[0].cut_at, Some(t(4.0)), "cut by the switch");
        assert_eq!(tl.outages[0].outage.recovered_at, None);
        let open = s.db.current_outage().map(|o| o.from);
        assert_eq!(open, Some(t(5.0)), "going on: the database state's");
        let mut more = ev.clone();
        more.extend(
            (8..=10u32).map(|i| (f64::from(i), ok_attempt(u64::from(i), 1.0, 1.0, 1.0, 1.0))),
        );
        let s = build(staging_config(), &more);
        let tl = &s.timeline;
        assert!(s.db.current_outage().is_none());
        assert_eq!(tl.outages.len(), 2);
        assert_eq!(tl.outages[1].outage.recovered_at, Some(t(8.0)));
        assert_eq!(tl.outages[1].cut_at, None);
        assert_eq!(tl.db.attempts(), 9, "the timeline is not started over");
    }
}
