//! The agent's one consumer of its probes' events: each event is counted for `/metrics`,
//! applied to the agent's `State` (what `/metrics` gauges and `/state` read from the judge),
//! kept for the backfill of dashboards that attach later, and sent to those attached now.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::metrics::Metrics;
use crate::event::{Event, EventBody};
use crate::record::Header;
use crate::state::State;

/// Events in flight to one attached dashboard; one that falls this far behind is dropped (it
/// reconnects and gets a fresh backfill) so it never slows the probes or the others.
const LIVE_QUEUE: usize = 1024;
/// The most startup-log events and capacity-test events kept beyond the history window.
const STARTUP_KEPT: usize = 256;
const CAPACITY_KEPT: usize = 1024;

type Line = Arc<str>;

/// One event kept for the backfill: its number in the stream, its time, its JSON line.
#[derive(Clone)]
struct Kept {
    seq: u64,
    at: DateTime<Utc>,
    line: Line,
}

/// What a dashboard attaching now is sent before live events: the last `history.window` of
/// events (at most `cap`), and — older than that but still what the state judges — the
/// probes the agent runs, the newest startup runs, the newest capacity test and the newest
/// word of each kind that is sent once (init result, startup-log counts, a probe's end).
struct Backfill {
    recent: VecDeque<Kept>,
    cap: usize,
    window: chrono::Duration,
    once: Vec<(String, Kept)>,
    startup: VecDeque<Kept>,
    capacity: VecDeque<Kept>,
    seq: u64,
}

impl Backfill {
    fn new(state: &State) -> Self {
        let h = &state.cfg.history;
        Self {
            recent: VecDeque::new(),
            cap: h.samples.max(100).saturating_mul(4),
            window: chrono::Duration::from_std(h.window).unwrap_or(chrono::Duration::hours(1)),
            once: Vec::new(),
            startup: VecDeque::new(),
            capacity: VecDeque::new(),
            seq: 0,
        }
    }

    fn push(&mut self, ev: &Event, line: Line) {
        self.seq += 1;
        let k = Kept {
            seq: self.seq,
            at: ev.at,
            line,
        };
        match &ev.body {
            EventBody::ProbesStarted(_) => self.keep_once("probes".into(), &k),
            EventBody::LabScenario(_) => self.keep_once("lab".into(), &k),
            EventBody::StartupLog(_) => self.keep_once("startup_log".into(), &k),
            EventBody::Init(_) => self.keep_once("init".into(), &k),
            EventBody::ProbeEnded(e) => self.keep_once(format!("ended:{}", e.probe), &k),
            EventBody::StartupPhase(_) | EventBody::StartupExit(_) => {
                bounded_push(&mut self.startup, k.clone(), STARTUP_KEPT);
            }
            EventBody::CapacityStarted(_) => {
                self.capacity.clear();
                self.capacity.push_back(k.clone());
            }
            EventBody::CapacityConn(_) | EventBody::CapacityFinished(_) => {
                bounded_push(&mut self.capacity, k.clone(), CAPACITY_KEPT);
            }
            _ => {}
        }
        bounded_push(&mut self.recent, k, self.cap);
        let oldest = ev.at - self.window;
        while self.recent.front().is_some_and(|f| f.at < oldest) {
            self.recent.pop_front();
        }
    }

    fn keep_once(&mut self, key: String, k: &Kept) {
        match self.once.iter_mut().find(|(name, _)| *name == key) {
            Some((_, old)) => *old = k.clone(),
            None => self.once.push((key, k.clone())),
        }
    }

    /// Every kept event once, in the order the agent applied them.
    fn lines(&self) -> Vec<Line> {
        let mut all: Vec<&Kept> = self
            .recent
            .iter()
            .chain(self.startup.iter())
            .chain(self.capacity.iter())
            .chain(self.once.iter().map(|(_, k)| k))
            .collect();
        all.sort_by_key(|k| k.seq);
        all.dedup_by_key(|k| k.seq);
        all.into_iter().map(|k| k.line.clone()).collect()
    }
}

fn bounded_push(q: &mut VecDeque<Kept>, k: Kept, cap: usize) {
    if q.len() >= cap {
        q.pop_front();
    }
    q.push_back(k);
}

struct Inner {
    state: State,
    backfill: Backfill,
}

pub(crate) struct Hub {
    inner: Mutex<Inner>,
    live: broadcast::Sender<Line>,
    header: Header,
    metrics: Metrics,
    clients: AtomicUsize,
}

/// What a dashboard attaching gets: the header (saying how many backfill events follow), the
/// backfill, and the live events after it — taken together, so none is missed or sent twice.
pub(crate) struct Subscription {
    pub header: String,
    pub backfill: Vec<Line>,
    pub live: broadcast::Receiver<Line>,
    _client: ClientGuard,
}

/// Counts attached dashboards for `connscope_agent_clients`.
struct ClientGuard(Arc<Hub>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Hub {
    pub(crate) fn new(header: Header, state: State) -> Arc<Self> {
        let (live, _) = broadcast::channel(LIVE_QUEUE);
        Arc::new(Self {
            inner: Mutex::new(Inner {
                backfill: Backfill::new(&state),
                state,
            }),
            live,
            header,
            metrics: Metrics::new(),
            clients: AtomicUsize::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding it leaves the state as it was: keep serving it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One event from the agent's probes.
    pub(crate) fn ingest(&self, ev: &Event) {
        let text = serde_json::to_string(ev).unwrap_or_default();
        let line: Line = crate::secret::scrub(&text).into();
        self.metrics.observe(ev);
        let mut inner = self.lock();
        inner.state.apply(ev);
        inner.backfill.push(ev, line.clone());
        // Nobody attached is not an error.
        let _ = self.live.send(line);
    }

    pub(crate) fn subscribe(self: &Arc<Self>) -> Subscription {
        self.clients.fetch_add(1, Ordering::Relaxed);
        let guard = ClientGuard(self.clone());
        let inner = self.lock();
        let backfill = inner.backfill.lines();
        let live = self.live.subscribe();
        drop(inner);
        let mut header = self.header.clone();
        header.backfill = Some(backfill.len() as u64);
        let text = serde_json::to_string(&header).unwrap_or_default();
        Subscription {
            header: crate::secret::scrub(&text).into_owned(),
            backfill,
            live,
            _client: guard,
        }
    }

    /// Dashboards attached now.
    pub(crate) fn clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// The exposition, judged now.
    pub(crate) fn metrics(&self) -> String {
        let inner = self.lock();
        let j = inner.state.judge(Some(Utc::now()));
        let text = self
            .metrics
            .render(&inner.state, &j, self.clients.load(Ordering::Relaxed));
        crate::secret::scrub(&text).into_owned()
    }

    /// The `check --format json` document of the agent's window, judged now.
    pub(crate) fn state_json(&self) -> String {
        let inner = self.lock();
        let j = inner.state.judge(Some(Utc::now()));
        let report = crate::report::Report::build(&inner.state, j);
        crate::report::to_json(&report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::*;

    #[test]
    fn the_backfill_keeps_the_window_and_what_is_older_but_still_judged() {
        let mut cfg = staging_config();
        cfg.history.window = std::time::Duration::from_secs(60);
        let s = State::new(cfg);
        let mut b = Backfill::new(&s);
        let probes = EventBody::ProbesStarted(crate::event::ProbesStarted {
            probes: vec!["db".into()],
        });
        let events = [
            (0.0, probes),
            (1.0, phase(1, crate::event::PhaseStatus::Started, 1.0, None)),
        ]
        .into_iter()
        .chain((0..100u32).map(|i| {
            (
                2.0 + f64::from(i),
                ok_attempt(u64::from(i), 0.1, 0.2, 1.0, 0.2),
            )
        }));
        for (at, body) in events {
            let ev = Event::at(t(at), body);
            b.push(&ev, serde_json::to_string(&ev).unwrap_or_default().into());
        }
        let lines = b.lines();
        assert!(lines[0].contains("probes_started"), "{}", lines[0]);
        assert!(lines[1].contains("startup_phase"), "{}", lines[1]);
        // 100 attempts at 1/s, a 60 s window: the last 61 (the window's edges included).
        assert_eq!(lines.len(), 2 + 61);
    }
}
