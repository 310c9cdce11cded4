//! `/metrics`: Prometheus text format 0.0.4 (TiKV's `prometheus`, which `promtool check
//! metrics` and every scraper read). Two kinds of numbers, and no judging of its own:
//!
//! - counters and histograms, updated from the same events that feed the agent's `State`
//!   (`observe`): monotonic by construction, so `rate()` works across scrapes;
//! - gauges read from the judge's result at scrape time (`render`): verdict, active alerts,
//!   database up, endpoint health, startup phases — built fresh for each scrape, so a value
//!   the judge no longer holds disappears instead of going stale.
//!
//! Labels are bounded: result and class words, step and phase names, the configured endpoint
//! names and paths; never an error message, a URL or a per-attempt value. The target appears
//! only redacted, in `connscope_target_info`.

mod judged;

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
};

use crate::event::{CapacityConn, DbAttempt, Event, EventBody, HttpCheck, WsCheck};
use crate::state::State;
use crate::state::judge::Judgement;

/// Connection steps take from under a millisecond (loopback) to the connection timeout
/// (35 s on staging, 45 s in production): buckets span both.
const SECONDS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 35.0, 60.0,
];

pub(crate) struct Metrics {
    registry: Registry,
    db: DbMetrics,
    init: IntCounterVec,
    capacity_conns: IntCounterVec,
    capacity_errors: IntCounter,
    capacity_tests: IntCounter,
    endpoint_checks: IntCounterVec,
    endpoint_steps: HistogramVec,
    ws_checks: IntCounterVec,
    ws_steps: HistogramVec,
    restarts: IntCounter,
    events: IntCounter,
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("a valid metric name");
    register(r, &c);
    c
}

fn counters(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric name");
    register(r, &c);
    c
}

fn histograms(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(SECONDS.to_vec());
    let h = HistogramVec::new(opts, labels).expect("a valid metric name");
    register(r, &h);
    h
}

pub(super) fn register<C: Collector + Clone + 'static>(r: &Registry, c: &C) {
    // Names are constants of this file, registered once: a clash is a bug caught by the tests.
    r.register(Box::new(c.clone()))
        .expect("each metric registered once");
}

/// The database attempts: results by class, step and whole-attempt times, timeout violations.
struct DbMetrics {
    attempts: IntCounterVec,
    steps: HistogramVec,
    duration: Histogram,
    timeout_violations: IntCounter,
}

impl DbMetrics {
    fn new(r: &Registry) -> Self {
        let duration = HistogramOpts::new(
            "connscope_db_attempt_duration_seconds",
            "Whole database connection attempts (connect, authenticate, SELECT 1), failed ones until they failed.",
        )
        .buckets(SECONDS.to_vec());
        let duration = Histogram::with_opts(duration).expect("a valid metric name");
        register(r, &duration);
        Self {
            attempts: counters(
                r,
                "connscope_db_attempts_total",
                "Database connection attempts by result (ok, failed) and failure class (none when ok).",
                &["result", "class"],
            ),
            steps: histograms(
                r,
                "connscope_db_step_duration_seconds",
                "Time of each step of a database connection: dns, tcp, tls, handshake (TLS + startup + auth), query.",
                &["step"],
            ),
            duration,
            timeout_violations: counter(
                r,
                "connscope_db_timeout_violations_total",
                "Attempts that timed out or took longer than the connection timeout.",
            ),
        }
    }

    fn observe(&self, a: &DbAttempt) {
        let class = a.error.as_ref().map_or("none", |e| e.class.as_str());
        self.attempts
            .with_label_values(&[result(a.ok), class])
            .inc();
        self.duration.observe(a.total_ms / 1000.0);
        let s = &a.steps_ms;
        for (step, ms) in [
            ("dns", s.dns),
            ("tcp", s.tcp),
            ("tls", s.tls),
            ("handshake", s.handshake),
            ("query", s.query),
        ] {
            if let Some(ms) = ms {
                self.steps.with_label_values(&[step]).observe(ms / 1000.0);
            }
        }
        let timed_out = a
            .error
            .as_ref()
            .is_some_and(|e| e.class == crate::event::ErrorClass::Timeout);
        if timed_out || a.total_ms > a.timeout_ms {
            self.timeout_violations.inc();
        }
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let r = Registry::new();
        Self {
            db: DbMetrics::new(&r),
            init: counters(
                &r,
                "connscope_init_attempts_total",
                "Initialization probes (connect and warm up within the initialization timeout) by result.",
                &["result"],
            ),
            capacity_conns: counters(
                &r,
                "connscope_capacity_connections_total",
                "Connections opened by capacity tests, by result.",
                &["result"],
            ),
            capacity_errors: counter(
                &r,
                "connscope_capacity_errors_total",
                "Capacity-test connections refused for capacity (SQLSTATE 53300).",
            ),
            capacity_tests: counter(
                &r,
                "connscope_capacity_tests_total",
                "Capacity tests started.",
            ),
            endpoint_checks: counters(
                &r,
                "connscope_endpoint_checks_total",
                "Health-endpoint requests by endpoint, path asked for and result (ok, failed).",
                &["endpoint", "path", "result"],
            ),
            endpoint_steps: histograms(
                &r,
                "connscope_endpoint_duration_seconds",
                "Health-endpoint request time by phase: dns, connect, tls, first_byte, total.",
                &["endpoint", "phase"],
            ),
            ws_checks: counters(
                &r,
                "connscope_websocket_checks_total",
                "WebSocket checks (connect, ping, reply) by result.",
                &["result"],
            ),
            ws_steps: histograms(
                &r,
                "connscope_websocket_duration_seconds",
                "WebSocket check time by phase: connect (DNS + TCP + TLS + upgrade), rtt (ping to reply).",
                &["phase"],
            ),
            restarts: counter(
                &r,
                "connscope_startup_restarts_total",
                "Startup runs of the service after its first (read from its startup log).",
            ),
            events: counter(
                &r,
                "connscope_events_total",
                "Events the agent's probes produced.",
            ),
            registry: r,
        }
    }

    /// Counts one event: the same stream the agent's state is built from.
    pub(crate) fn observe(&self, ev: &Event) {
        self.events.inc();
        match &ev.body {
            EventBody::DbAttempt(a) => self.db.observe(a),
            EventBody::Init(r) => self.init.with_label_values(&[result(r.ok)]).inc(),
            EventBody::CapacityStarted(_) => self.capacity_tests.inc(),
            EventBody::CapacityConn(c) => self.capacity(c),
            EventBody::HttpCheck(c) => self.http(c),
            EventBody::WsCheck(c) => self.ws(c),
            _ => {}
        }
    }

    fn capacity(&self, c: &CapacityConn) {
        self.capacity_conns.with_label_values(&[result(c.ok)]).inc();
        if c.error.as_ref().is_some_and(|e| e.class.is_capacity()) {
            self.capacity_errors.inc();
        }
    }

    fn http(&self, c: &HttpCheck) {
        self.endpoint_checks
            .with_label_values(&[
                &c.endpoint,
                &c.requested_path,
                result(crate::state::endpoints::healthy(c)),
            ])
            .inc();
        let s = &c.steps_ms;
        for (phase, ms) in [
            ("dns", s.dns),
            ("connect", s.connect),
            ("tls", s.tls),
            ("first_byte", s.first_byte),
            ("total", s.total),
        ] {
            if let Some(ms) = ms {
                self.endpoint_steps
                    .with_label_values(&[&c.endpoint, phase])
                    .observe(ms / 1000.0);
            }
        }
    }

    fn ws(&self, c: &WsCheck) {
        self.ws_checks.with_label_values(&[result(c.ok)]).inc();
        for (phase, ms) in [("connect", c.connect_ms), ("rtt", c.rtt_ms)] {
            if let Some(ms) = ms {
                self.ws_steps
                    .with_label_values(&[phase])
                    .observe(ms / 1000.0);
            }
        }
    }

    /// The exposition: the counters, and the judge's result `j` of `s` as gauges.
    pub(crate) fn render(&self, s: &State, j: &Judgement, clients: usize) -> String {
        // The startup log's own count of runs only grows; the counter follows it.
        let restarts = u64::from(s.startup.log.runs.saturating_sub(1));
        self.restarts
            .inc_by(restarts.saturating_sub(self.restarts.get()));
        let judged = Registry::new();
        judged::gauges(&judged, s, j, clients);
        let mut families = self.registry.gather();
        families.extend(judged.gather());
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        // Encoding into memory cannot fail for the families gathered above.
        let _ = TextEncoder::new().encode(&families, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

fn result(ok: bool) -> &'static str {
    if ok { "ok" } else { "failed" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::*;

    #[test]
    fn counters_follow_events_and_gauges_read_the_judge() {
        let m = Metrics::new();
        let s = build(staging_config(), &outage());
        for ev in outage() {
            m.observe(&crate::event::Event::at(t(ev.0), ev.1));
        }
        let j = s.judge(None);
        let text = m.render(&s, &j, 0);
        assert!(
            text.contains("# TYPE connscope_db_attempts_total counter"),
            "{text}"
        );
        assert!(
            text.contains("connscope_db_attempts_total{class=\"timeout\",result=\"failed\"}"),
            "{text}"
        );
        assert!(
            text.contains(&format!("connscope_verdict {}", j.verdict.exit_code())),
            "{text}"
        );
        assert!(text.contains("connscope_db_up 0"), "{text}");
        assert!(
            text.contains("connscope_alert_active{level=\"critical\",rule=\"db_success_rate\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "connscope_db_step_duration_seconds_bucket{step=\"dns\",le=\"0.0025\"} 5"
            ),
            "{text}"
        );
    }

    /// The pool probe's newest run: 40 acquired, 7 acquire timeouts at 45 s, judged a failure.
    #[test]
    fn the_newest_pool_run_is_gauged_as_judged() {
        let m = Metrics::new();
        let s = build(staging_config(), &pool_timeouts_beneath_capacity());
        let j = s.judge(None);
        let text = m.render(&s, &j, 0);
        for line in [
            "connscope_pool_verdict 2",
            "connscope_pool_running 0",
            "connscope_pool_acquisitions 40",
            "connscope_pool_acquire_timeouts 7",
            "connscope_pool_errors 0",
            "connscope_pool_acquire_wait_p95_seconds 45",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        let none = m.render(&build(staging_config(), &outage()), &j, 0);
        assert!(
            !none.contains("connscope_pool_"),
            "no pool run, no pool gauges"
        );
    }
}
