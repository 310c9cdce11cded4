//! The gauges of one scrape: what the judge concluded, read from its `Judgement` (and the
//! state's own newest results), built fresh for each scrape so that what the judge no longer
//! holds disappears instead of going stale.

use prometheus::{Gauge, GaugeVec, Opts, Registry};

use super::register;
use crate::state::State;
use crate::state::endpoints::Health;
use crate::state::judge::{DbStatus, Judgement};
use crate::state::startup::PhaseVerdict;

/// Every alert rule the judge knows, so each is exported as 0 while it does not hold.
const RULES: [(&str, &str); 4] = [
    ("db_success_rate", "critical"),
    ("db_avg_connect", "warning"),
    ("db_timeout_violations", "infrastructure"),
    ("capacity_errors", "capacity"),
];

fn gauge(r: &Registry, name: &str, help: &str, v: f64) {
    let g = Gauge::new(name, help).expect("a valid metric name");
    g.set(v);
    register(r, &g);
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(Opts::new(name, help), labels).expect("a valid metric name");
    register(r, &g);
    g
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Everything the judge concluded, as gauges of this scrape.
pub(super) fn gauges(r: &Registry, s: &State, j: &Judgement, clients: usize) {
    let info = gauge_vec(
        r,
        "connscope_build_info",
        "connscope's version (always 1).",
        &["version"],
    );
    info.with_label_values(&[env!("CARGO_PKG_VERSION")])
        .set(1.0);
    let target = gauge_vec(
        r,
        "connscope_target_info",
        "What the agent probes (always 1): environment and the database target, redacted.",
        &["environment", "target"],
    );
    let t = s.cfg.target.as_deref().unwrap_or("");
    target
        .with_label_values(&[s.cfg.environment.as_str(), &crate::secret::scrub(t)])
        .set(1.0);
    gauge(
        r,
        "connscope_verdict",
        "The judge's verdict now: 0 pass, 1 warn, 2 fail.",
        f64::from(j.verdict.exit_code().code()),
    );
    let alerts = gauge_vec(
        r,
        "connscope_alert_active",
        "1 while the judge holds the alert rule, else 0.",
        &["rule", "level"],
    );
    for (rule, level) in RULES {
        let on = j.alerts.iter().any(|a| a.rule == rule);
        alerts.with_label_values(&[rule, level]).set(flag(on));
    }
    gauge(
        r,
        "connscope_agent_clients",
        "Dashboards attached to /events now.",
        clients as f64,
    );
    db_gauges(r, s, j);
    endpoint_gauges(r, s, j);
    startup_gauges(r, j);
    capacity_gauges(r, s);
    pool_gauges(r, s, j);
}

/// The newest pool run (`--only pool`, `[pool_probe]`): what the service's pool would feel.
/// Gauges, not counters: each run starts from nothing.
fn pool_gauges(r: &Registry, s: &State, j: &Judgement) {
    let (Some(run), Some(judged)) = (s.pool.last.as_ref(), j.pool.as_ref()) else {
        return;
    };
    let t = &run.totals;
    gauge(
        r,
        "connscope_pool_verdict",
        "The judge's verdict on the newest pool run: 0 pass, 1 warn, 2 fail.",
        f64::from(judged.verdict.exit_code().code()),
    );
    gauge(
        r,
        "connscope_pool_running",
        "1 while the pool probe's run goes on.",
        flag(run.running()),
    );
    for (name, help, v) in [
        (
            "connscope_pool_acquisitions",
            "Acquires that returned a connection in the newest pool run.",
            t.acquisitions,
        ),
        (
            "connscope_pool_acquire_timeouts",
            "Acquires that gave up after the acquire timeout in the newest pool run.",
            t.timeouts,
        ),
        (
            "connscope_pool_errors",
            "Other acquire or query failures in the newest pool run.",
            t.errors_total(),
        ),
    ] {
        gauge(r, name, help, v as f64);
    }
    if let Some(p95) = t.wait_p95_ms {
        gauge(
            r,
            "connscope_pool_acquire_wait_p95_seconds",
            "95th percentile of acquire waits in the newest pool run.",
            p95 / 1000.0,
        );
    }
}

fn db_gauges(r: &Registry, s: &State, j: &Judgement) {
    if j.db.status == DbStatus::Unknown {
        return;
    }
    gauge(
        r,
        "connscope_db_up",
        "1 while the database is up, 0 once alerts.down_after attempts in a row failed (until as many succeed).",
        flag(j.db.status == DbStatus::Up),
    );
    gauge(
        r,
        "connscope_db_failed_in_a_row",
        "Database attempts failed in a row now.",
        f64::from(j.db.failed_in_a_row),
    );
    let now = &j.db.now;
    if let Some(rate) = now.success_rate {
        gauge(
            r,
            "connscope_db_success_ratio",
            "Success ratio of the attempts the judge reads as now (the last alerts.window, ended outages left out).",
            rate,
        );
    }
    if let Some(avg) = now.avg_ms {
        gauge(
            r,
            "connscope_db_connect_average_seconds",
            "Average attempt time of the attempts judged as now.",
            avg / 1000.0,
        );
    }
    if let Some(rate) = now.timeout_violation_rate {
        gauge(
            r,
            "connscope_db_timeout_violation_ratio",
            "Ratio of the attempts judged as now that timed out or exceeded the timeout.",
            rate,
        );
    }
    gauge(
        r,
        "connscope_db_connection_timeout_seconds",
        "The connection timeout in force.",
        s.cfg.connection_timeout.as_secs_f64(),
    );
    init_gauges(r, s);
}

fn init_gauges(r: &Registry, s: &State) {
    let Some((_, init)) = &s.init else { return };
    gauge(
        r,
        "connscope_init_up",
        "1 when the newest initialization probe connected and warmed up.",
        flag(init.ok),
    );
    gauge(
        r,
        "connscope_init_duration_seconds",
        "Time the newest initialization probe took.",
        init.elapsed_ms / 1000.0,
    );
}

fn endpoint_gauges(r: &Registry, s: &State, j: &Judgement) {
    if !j.endpoints.is_empty() {
        let up = gauge_vec(
            r,
            "connscope_endpoint_up",
            "1 when the newest answer of the health path is healthy (ok), else 0.",
            &["endpoint", "path"],
        );
        let starting = gauge_vec(
            r,
            "connscope_endpoint_starting",
            "1 while the health path answers that the service is starting.",
            &["endpoint", "path"],
        );
        for p in j.endpoints.iter().filter(|p| p.health.is_some()) {
            let labels = [p.endpoint.as_str(), p.path.as_str()];
            up.with_label_values(&labels)
                .set(flag(p.health == Some(Health::Ok)));
            starting
                .with_label_values(&labels)
                .set(flag(p.health == Some(Health::Starting)));
        }
    }
    let ws: Vec<bool> = s
        .endpoints
        .websockets
        .iter()
        .filter_map(|w| w.last.as_ref().map(|(_, c)| c.ok))
        .collect();
    if !ws.is_empty() {
        gauge(
            r,
            "connscope_websocket_up",
            "1 when the newest check of every WebSocket got a reply.",
            flag(ws.iter().all(|ok| *ok)),
        );
    }
}

fn startup_gauges(r: &Registry, j: &Judgement) {
    let Some(v) = &j.startup else { return };
    let failed = gauge_vec(
        r,
        "connscope_startup_phase_failed",
        "1 when the phase failed or stalled in the newest startup run.",
        &["phase"],
    );
    let dur = gauge_vec(
        r,
        "connscope_startup_phase_duration_seconds",
        "How long the phase took (or has run so far) in the newest startup run.",
        &["phase"],
    );
    let budget = gauge_vec(
        r,
        "connscope_startup_phase_budget_seconds",
        "The phase's time budget.",
        &["phase"],
    );
    for p in &v.phases {
        let phase = format!("{}_{}", p.number, p.name);
        let bad = matches!(p.verdict, PhaseVerdict::Failed | PhaseVerdict::Stalled);
        failed.with_label_values(&[&phase]).set(flag(bad));
        budget.with_label_values(&[&phase]).set(p.budget_s);
        if let Some(d) = p.duration_s {
            dur.with_label_values(&[&phase]).set(d);
        }
    }
    let active = v.restart_loop.as_ref().is_some_and(|l| l.active);
    gauge(
        r,
        "connscope_startup_restart_loop",
        "1 while the service is in a restart loop (a failed run followed by a restart, no complete run since).",
        flag(active),
    );
    if let Some(code) = v.exit_code {
        gauge(
            r,
            "connscope_startup_exit_code",
            "The exit code of the newest startup run.",
            f64::from(code),
        );
    }
}

fn capacity_gauges(r: &Registry, s: &State) {
    let Some(run) = s.capacity.current().filter(|r| r.attempted > 0) else {
        return;
    };
    gauge(
        r,
        "connscope_capacity_error_ratio",
        "Share of the newest capacity test's connections refused for capacity.",
        f64::from(run.capacity_errors) / f64::from(run.attempted),
    );
}
