//! Everything connscope knows, built only from events, and the one judge of it.
//!
//! `State::apply(&Event)` is pure (no I/O, no clock), so live, headless, replay and report
//! build the same state from the same events.
//!
//! # The judge
//!
//! `State::judge(now) -> Judgement` concludes everything, once, as of `now` — the wall clock
//! for a live source (`watch`, `lab`, `check`), `None` for the state's own clock (the newest
//! event; replay and report pass the recording's clock or their window's end). Outputs read
//! the `Judgement` and never judge; the dashboard recomputes it when events arrive or its
//! clock moves. What it holds:
//!
//! - `verdict`, `reasons` (failures first), `exit_code` (130 when `interrupted`).
//! - `evidence`: each probe the run selected and whether it measured anything (`seen`,
//!   `waiting`, `missing`, `crashed`) with why; a probe without evidence keeps the verdict
//!   from passing (a crash fails it).
//! - `db`: `status` `up` / `down` / `unknown` with `since` (down after `alerts.down_after`
//!   failures in a row, up again after as many successes), `now` (the summary the rules
//!   judge: the last `alerts.window` attempts, without outages that have ended), `total`
//!   (cumulative, shown as such), and `rate` (pass / warn / fail colour of the now rate).
//! - `alerts` (active), `targets` (met / missed; database targets judge "now").
//! - `findings`: each with `since` / `until` and `past` (contradicted by newer evidence: told
//!   in the past tense, judges nothing); present ones first.
//! - `endpoints`: per health path, the `health` of its newest answer (`ok`, `starting` with
//!   its `phase`, `unhealthy`, `startup_failure`, `failing`), `consistency` over the tries
//!   (`intermittent` needs at least two tries with mixed outcomes) and `starting_since`.
//! - `startup`: the primary track's newest run as of `now` (phases age with the clock:
//!   `running` → `over_budget` → `stalled`), earlier runs, and the `restart_loop`.
//! - `capacity`: when the newest test ran and whether it is history (`past`, why).
//! - `vantages`: with remote vantage points attached (`--agent`), each judged by the same
//!   judge from a `State` of its own (`state.vantages`; every other field is this host's);
//!   the verdict, reasons, alerts and findings above are then every vantage's together, the
//!   cross-vantage findings first (`vantage::cross`). A lost agent is judged as of its loss.
//! - `pool`: the newest pool probe run — its line with what lay beneath it, its weight
//!   (timeouts and errors fail, waits over the threshold warn) and whether it is history.
//!
//! Beside the judge, `timeline` keeps what the report's charts draw over the whole recording
//! (attempt buckets that widen as it grows, outages, status runs, capacity tests, earlier
//! pool runs), bounded.

pub(crate) mod alerts;
pub(crate) mod capacity;
pub(crate) mod db;
pub(crate) mod diagnosis;
pub mod endpoints;
pub(crate) mod event_log;
pub(crate) mod evidence;
pub(crate) mod judge;
pub(crate) mod pool;
pub mod startup;
pub(crate) mod stats;
pub(crate) mod targets;
pub(crate) mod timeline;
pub(crate) mod vantage;
pub mod verdict;

pub use judge::Judgement;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{self, AlertRules, Config, History, Phase, Targets};
use crate::event::{Event, EventBody, InitResult, LabScenario};

/// What the state needs from the configuration to judge events. It travels in a recording's
/// header, so a replay judges with the thresholds the live run had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateConfig {
    pub environment: String,
    pub cloud_sql: bool,
    /// The database target, redacted.
    pub target: Option<String>,
    #[serde(with = "config::duration")]
    pub(crate) connection_timeout: std::time::Duration,
    #[serde(with = "config::duration")]
    pub(crate) initialization_timeout: std::time::Duration,
    #[serde(with = "config::duration")]
    pub(crate) health_timeout: std::time::Duration,
    pub alerts: AlertRules,
    pub targets: Targets,
    pub phases: Vec<Phase>,
    #[serde(with = "config::duration")]
    pub total_budget: std::time::Duration,
    pub history: History,
    pub(crate) capacity_cap: u32,
    /// Endpoint names and (redacted) URLs, so panels list them before the first check.
    #[serde(default)]
    pub endpoints: Vec<(String, String)>,
    #[serde(default)]
    pub websockets: Vec<String>,
    #[serde(default)]
    pub tries: u32,
    /// Pool probe: an acquire wait (p95) above this warns; none: a tenth of its acquire timeout.
    #[serde(
        default,
        with = "config::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) pool_wait_warn: Option<std::time::Duration>,
}

impl StateConfig {
    pub fn from_config(c: &Config) -> Self {
        let s = &c.settings;
        let mut websockets: Vec<String> = s
            .endpoints
            .iter()
            .filter_map(|e| e.websocket.as_deref())
            .map(crate::secret::redact_url)
            .collect();
        websockets.extend(s.websockets.iter().map(|u| crate::secret::redact_url(u)));
        Self {
            environment: s.environment.clone(),
            cloud_sql: s.cloud_sql,
            target: c.database.as_ref().map(|t| t.redacted()),
            connection_timeout: s.timeouts.connection,
            initialization_timeout: s.timeouts.initialization,
            health_timeout: s.timeouts.health_check,
            alerts: s.alerts.clone(),
            targets: s.targets.clone(),
            phases: s.startup.phases.clone(),
            total_budget: s.startup.total_budget,
            history: s.history.clone(),
            capacity_cap: c.capacity_cap().cap,
            endpoints: s
                .endpoints
                .iter()
                .map(|e| (e.name.clone(), crate::secret::redact_url(&e.url)))
                .collect(),
            websockets,
            tries: s.health.tries,
            pool_wait_warn: s.pool_probe.warn_wait,
        }
    }
}

#[derive(Debug, Clone)]
pub struct State {
    pub cfg: StateConfig,
    pub(crate) first_at: Option<DateTime<Utc>>,
    pub(crate) last_at: Option<DateTime<Utc>>,
    pub events: u64,
    pub db: db::DbState,
    pub init: Option<(DateTime<Utc>, InitResult)>,
    pub capacity: capacity::CapacityState,
    pub pool: pool::PoolState,
    pub endpoints: endpoints::EndpointsState,
    pub startup: startup::StartupState,
    pub alerts: alerts::AlertBook,
    pub log: event_log::EventLog,
    pub lab: Option<LabScenario>,
    pub evidence: evidence::Evidence,
    /// Remote vantage points (agents), each with a state of its own; every field above is
    /// this host's ("local") vantage.
    pub vantages: vantage::Vantages,
    /// What the report's charts draw: the whole recording over time, bounded.
    pub timeline: timeline::Timeline,
}

impl State {
    pub fn new(cfg: StateConfig) -> Self {
        let h = &cfg.history;
        Self {
            db: db::DbState::new(h, cfg.alerts.down_after),
            capacity: capacity::CapacityState::default(),
            pool: pool::PoolState::default(),
            endpoints: endpoints::EndpointsState::new(&cfg),
            startup: startup::StartupState::new(&cfg.phases),
            alerts: alerts::AlertBook::default(),
            log: event_log::EventLog::new(h.log_lines),
            first_at: None,
            last_at: None,
            events: 0,
            init: None,
            lab: None,
            evidence: evidence::Evidence::default(),
            vantages: vantage::Vantages::default(),
            timeline: timeline::Timeline::default(),
            cfg,
        }
    }

    pub fn apply(&mut self, ev: &Event) {
        match &ev.vantage {
            Some(name) => {
                self.count(ev.at);
                self.vantages.apply(name, ev.at, &ev.body, &mut self.log);
            }
            None => self.apply_at(ev.at, &ev.body),
        }
    }

    fn count(&mut self, at: DateTime<Utc>) {
        self.events += 1;
        self.first_at.get_or_insert(at);
        self.last_at = Some(self.last_at.map_or(at, |l| l.max(at)));
    }

    /// One event measured by this state's own vantage.
    pub(crate) fn apply_at(&mut self, at: DateTime<Utc>, body: &EventBody) {
        self.count(at);
        match body {
            EventBody::DbAttempt(a) => {
                self.db.apply(at, a, &mut self.log);
                self.pool.db_attempt(a);
                self.timeline.db_attempt(at, a, &self.db);
            }
            EventBody::Init(r) => self.init(at, r),
            EventBody::CapacityStarted(s) => self.capacity.started(at, s, &mut self.log),
            EventBody::CapacityConn(c) => self.capacity.conn(c),
            EventBody::CapacityFinished(f) => {
                self.capacity.finished(at, f, &mut self.log);
                self.timeline.capacity_finished(&self.capacity);
            }
            EventBody::PoolStarted(p) => {
                self.timeline.pool_replaced(self.pool.last.take());
                self.pool.started(at, p, &mut self.log);
            }
            EventBody::PoolSample(p) => self.pool.sample(at, p),
            EventBody::PoolFinished(f) => self.pool.finished(at, f, &mut self.log),
            EventBody::HttpCheck(c) => {
                self.endpoints.http(at, c, &mut self.log);
                self.timeline.http(at, c);
            }
            EventBody::WsCheck(c) => {
                self.endpoints.ws(at, c, &mut self.log);
                self.timeline.ws(at, c);
            }
            EventBody::StartupPhase(p) => self.startup.phase(at, p, &mut self.log),
            EventBody::StartupExit(x) => self.startup.exit(at, x, &mut self.log),
            EventBody::StartupLog(l) => self.startup.log_stats(l),
            EventBody::Note(n) => {
                self.evidence.note(n);
                self.log.note(at, n);
            }
            EventBody::LabScenario(s) => self.lab_scenario(at, s),
            EventBody::ProbesStarted(p) => self.evidence.started(&p.probes),
            EventBody::ProbeEnded(e) => {
                self.evidence.ended(e);
                self.log.probe_ended(at, e);
            }
            EventBody::RunEnded(r) => {
                if r.interrupted {
                    self.log.push(
                        at,
                        event_log::Level::Warn,
                        "run",
                        "interrupted by a signal before it finished".into(),
                    );
                }
                self.evidence.run_ended = Some(r.clone());
            }
            // A link event names its vantage, so `apply` routes it there.
            EventBody::Vantage(_) => {}
        }
        let fired = alerts::evaluate(self);
        self.alerts.update(at, fired, &mut self.log);
    }

    /// Logged when it changes (first result, failure, recovery), not on every repeat.
    fn init(&mut self, at: DateTime<Utc>, r: &InitResult) {
        if self.init.as_ref().is_none_or(|(_, old)| old.ok != r.ok) {
            self.log.init(at, r);
        }
        self.init = Some((at, r.clone()));
    }

    fn lab_scenario(&mut self, at: DateTime<Utc>, s: &LabScenario) {
        if self.lab.as_ref().is_some_and(|l| l.name != s.name) {
            self.start_scenario_over(at, &s.name);
        }
        self.log.push(
            at,
            event_log::Level::Info,
            "lab",
            format!("scenario: {} — {}", s.name, s.description),
        );
        self.lab = Some(s.clone());
    }

    /// A lab scenario switch: what the probes measure starts over, so the new scenario is
    /// judged on its own attempts and checks, not on the last one's for the next 20 attempts.
    /// The log, the alert history (alerts that no longer hold clear on this very event) and
    /// the startup runs (the service's own restarts tell them apart) are kept; the newest
    /// capacity test and pool run are kept as history.
    fn start_scenario_over(&mut self, at: DateTime<Utc>, name: &str) {
        let old = std::mem::replace(
            &mut self.db,
            db::DbState::new(&self.cfg.history, self.cfg.alerts.down_after),
        );
        self.timeline.scenario_switch(at, &old);
        self.init = None;
        self.endpoints = endpoints::EndpointsState::new(&self.cfg);
        self.capacity
            .supersede(at, format!("the lab scenario changed to {name}"));
        self.pool
            .supersede(at, format!("the lab scenario changed to {name}"));
    }

    /// Seconds since the first event, by event time.
    pub(crate) fn elapsed_s(&self) -> f64 {
        match (self.first_at, self.last_at) {
            (Some(a), Some(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
            _ => 0.0,
        }
    }
}

pub mod fixtures;
#[cfg(test)]
mod tests;
