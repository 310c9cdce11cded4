//! The checks behind each JUnit suite. Each reads the same report model as the other
//! outputs — the judge's alerts, targets and verdicts, never a rule of its own — so a check
//! here can never disagree with the markdown or the JSON.

use super::{Case, Outcome};
use crate::report::context::Context;
use crate::report::model::{Endpoint, PathSummary, Report, Startup, WebSocket};
use crate::state::startup::{PhaseVerdict, PhaseView};
use crate::state::targets::TargetCheck;
use crate::units::duration as fmt_d;
use crate::units::ms as human_ms;

fn failed(message: impl Into<String>, details: impl Into<String>) -> Outcome {
    Outcome::Failed {
        message: message.into(),
        details: details.into(),
    }
}

fn skipped(why: impl Into<String>) -> Outcome {
    Outcome::Skipped(why.into())
}

/// A SPEC target as a test case: met passes, missed fails, not judged is skipped.
fn target_case(name: &str, t: Option<&TargetCheck>, no_data: &str) -> Case {
    let Some(t) = t else {
        return Case::new(name, skipped(no_data));
    };
    let actual = t.actual.clone();
    let outcome = match t.met {
        Some(true) => Outcome::Passed,
        Some(false) => failed(
            format!(
                "missed: {} — actual {}",
                t.target,
                actual.as_deref().unwrap_or("—")
            ),
            format!("target {}", t.target),
        ),
        None => skipped(no_data),
    };
    Case::new(name, outcome).actual(actual)
}

fn find<'a>(ts: &'a [TargetCheck], name: &str) -> Option<&'a TargetCheck> {
    ts.iter().find(|t| t.name == name)
}

// ---- configuration -------------------------------------------------------------------------

pub(super) fn configuration(r: &Report, ctx: &Context) -> Vec<Case> {
    let c = &r.review.cfg;
    vec![
        minimum(
            r,
            ctx,
            "initialization timeout meets the Cloud SQL regression minimum",
            c.initialization_timeout,
            "minimums.initialization",
        ),
        minimum(
            r,
            ctx,
            "connection timeout meets the Cloud SQL regression minimum",
            c.connection_timeout,
            "minimums.connection",
        ),
        capacity_cap(r, ctx),
    ]
}

fn minimum(r: &Report, ctx: &Context, name: &str, value: std::time::Duration, key: &str) -> Case {
    if !r.cloud_sql {
        return Case::new(
            name,
            skipped(format!(
                "{} is not a Cloud SQL environment: no regression minimum applies",
                r.environment
            )),
        );
    }
    let Some(min) = ctx.setting_duration(key) else {
        return Case::new(name, skipped(format!("no {key} in the configuration")));
    };
    let actual = Some(format!("{} (minimum {})", fmt_d(value), fmt_d(min)));
    let outcome = if value >= min {
        Outcome::Passed
    } else {
        failed(
            format!(
                "{} is below the {} minimum for Cloud SQL environments",
                fmt_d(value),
                fmt_d(min)
            ),
            "timeouts this short fired before the VPC connector could establish (the earlier regression)",
        )
    };
    Case::new(name, outcome).actual(actual)
}

fn capacity_cap(r: &Report, ctx: &Context) -> Case {
    let name = "capacity test stays within the safety cap";
    let cap = r.review.cfg.capacity_cap;
    if let Some(c) = &r.capacity {
        let st = &c.started;
        let actual = Some(format!("{} connections, cap {}", st.planned, st.cap));
        let outcome = if st.planned <= st.cap {
            Outcome::Passed
        } else {
            failed(
                format!(
                    "{} connections were forced past the safety cap of {}",
                    st.planned, st.cap
                ),
                "limit × safety margin − reserved buffer; opened anyway with --force",
            )
        };
        return Case::new(name, outcome).actual(actual);
    }
    let Some(n) = ctx.setting_u64("capacity.connections") else {
        return Case::new(
            name,
            skipped("no capacity test and no capacity configuration"),
        );
    };
    let actual = Some(format!("{n} connections configured, cap {cap}"));
    let outcome = if n <= u64::from(cap) {
        Outcome::Passed
    } else {
        failed(
            format!("{n} configured connections exceed the safety cap of {cap}"),
            "the test is capped unless --force",
        )
    };
    Case::new(name, outcome).actual(actual)
}

// ---- integration ---------------------------------------------------------------------------

pub(super) fn integration(r: &Report) -> Vec<Case> {
    let ts = &r.targets;
    let no_db = "no database connection attempts";
    let ok_avg = r.database.as_ref().and_then(|d| d.judged.total.ok_avg_ms);
    vec![
        target_case(
            "database connection success rate",
            find(ts, "db_success_rate"),
            no_db,
        ),
        target_case(
            "average database connection time",
            find(ts, "db_avg_connect"),
            no_db,
        )
        .time(ok_avg.map(|v| v / 1000.0)),
        timeout_violations(r),
        init(r),
        capacity(r),
        pool(r),
    ]
}

/// The pool probe as the judge weighed it: its line is the message, what lay beneath the
/// details.
fn pool(r: &Report) -> Case {
    let name = "application pool (sqlx) acquires";
    let Some(p) = &r.pool else {
        return Case::new(name, skipped("no pool probe was run"));
    };
    let j = &p.judged;
    let outcome = if let Some(why) = &j.past_because {
        skipped(format!("history: {why}"))
    } else if p.running {
        skipped("the pool probe had not finished when the data ends")
    } else if p.abort_reason.as_deref() == Some(crate::event::PoolFinished::CANCELLED) {
        skipped("the pool probe was cancelled before it finished")
    } else if j.verdict != crate::state::verdict::Verdict::Pass {
        failed(j.line.clone(), format!("beneath: {}", p.beneath.text))
    } else {
        Outcome::Passed
    };
    Case::new(name, outcome)
        .time(p.elapsed_ms.map(|v| v / 1000.0))
        .actual(Some(j.line.clone()))
}

/// The infrastructure alert as the judge raised it (the same attempts it judges), not a
/// rule of its own over another window.
fn timeout_violations(r: &Report) -> Case {
    let name = "database timeout-violation rate";
    let Some(d) = r.database.as_ref().filter(|d| d.judged.total.attempts > 0) else {
        return Case::new(name, skipped("no database connection attempts"));
    };
    let limit = r.review.cfg.alerts.infrastructure_timeout_rate_above;
    let now = &d.judged.now;
    let actual = Some(format!(
        "{} of the last {} (limit {:.0} %)",
        crate::units::opt_pct(now.timeout_violation_rate),
        crate::units::count(now.attempts, "attempt"),
        limit * 100.0
    ));
    let alert = r.alerts.iter().find(|a| a.rule == "db_timeout_violations");
    let outcome = match alert {
        Some(a) => failed(a.message.clone(), "the infrastructure alert rule"),
        None => Outcome::Passed,
    };
    Case::new(name, outcome).actual(actual)
}

fn init(r: &Report) -> Case {
    let name = "database initialization within its timeout";
    let Some(judged) = &r.init else {
        return Case::new(name, skipped("the initialization probe did not run"));
    };
    let i = &judged.result;
    let limit = human_ms(i.timeout_ms);
    let actual = Some(format!("{} (limit {limit})", human_ms(i.elapsed_ms)));
    let outcome = match &i.error {
        None => Outcome::Passed,
        Some(e) => {
            let near = match judged.near_configured_timeout {
                Some(true) => "; the timeout fired at the configured value",
                Some(false) => "; the timeout fired far from the configured value",
                None => "",
            };
            failed(
                format!(
                    "initialization failed after {}: {}",
                    human_ms(i.elapsed_ms),
                    e.class
                ),
                format!("{}{near}", e.message),
            )
        }
    };
    Case::new(name, outcome)
        .time(Some(i.elapsed_ms / 1000.0))
        .actual(actual)
}

fn capacity(r: &Report) -> Case {
    let name = "concurrent capacity test";
    let Some(c) = &r.capacity else {
        return Case::new(name, skipped("no capacity test was run"));
    };
    let actual = Some(format!(
        "{} of {} connected, {} capacity errors",
        c.succeeded, c.attempted, c.capacity_errors
    ));
    let classes: Vec<String> = c
        .errors_by_class
        .iter()
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect();
    let outcome = if c.running {
        skipped("the capacity test had not finished when the data ends")
    } else if c.abort_reason.as_deref() == Some("cancelled") {
        skipped("the capacity test was cancelled before it finished")
    } else if c.failed > 0 || c.aborted {
        failed(
            format!(
                "{} of {} connections failed ({} capacity errors)",
                c.failed, c.attempted, c.capacity_errors
            ),
            format!(
                "errors: {}{}",
                classes.join(", "),
                c.abort_reason
                    .as_deref()
                    .map(|r| format!("; stopped early: {r}"))
                    .unwrap_or_default()
            ),
        )
    } else {
        Outcome::Passed
    };
    Case::new(name, outcome)
        .time(c.elapsed_ms.map(|v| v / 1000.0))
        .actual(actual)
}

// ---- e2e -----------------------------------------------------------------------------------

pub(super) fn e2e(r: &Report) -> Vec<Case> {
    let mut out = Vec::new();
    for e in &r.endpoints {
        endpoint(&mut out, e);
    }
    out.push(target_case(
        "health endpoints answer in time",
        find(&r.targets, "health_latency"),
        "no health endpoint was checked",
    ));
    out.extend(r.websockets.iter().map(websocket));
    startup(&mut out, r);
    out
}

fn endpoint(out: &mut Vec<Case>, e: &Endpoint) {
    if e.paths.is_empty() {
        out.push(Case::new(
            format!("{} health", e.name),
            skipped("not checked"),
        ));
    }
    for p in &e.paths {
        out.push(endpoint_path(e, p));
    }
}

fn endpoint_path(e: &Endpoint, p: &PathSummary) -> Case {
    let name = format!("{} GET {} healthy", e.name, p.path);
    let Some(judged) = e.newest_check(&p.path) else {
        return Case::new(name, skipped("not checked"));
    };
    let last = &judged.check;
    let status = last
        .status
        .map_or_else(|| "no answer".to_string(), |s| format!("HTTP {s}"));
    let actual = Some(format!("{status} in {}", human_ms(last.latency_ms)));
    let c = &p.consistency;
    let outcome = if c.failed == 0 && judged.health == crate::state::endpoints::Health::Starting {
        skipped(format!(
            "the service is still starting{}",
            judged
                .phase
                .as_deref()
                .map(|ph| format!(" ({ph})"))
                .unwrap_or_default()
        ))
    } else if c.failed == 0 {
        Outcome::Passed
    } else {
        let how = if c.consistent {
            "consistent"
        } else if c.intermittent {
            "intermittent"
        } else {
            "failing"
        };
        let sf = match judged.health {
            h @ (crate::state::endpoints::Health::StartupFailure
            | crate::state::endpoints::Health::Unhealthy) => format!(" ({})", h.as_str()),
            _ => String::new(),
        };
        let mut details = last.body_excerpt.clone().unwrap_or_default();
        if let (None, Some(f)) = (last.status, &last.error) {
            details = format!("{}: {}", f.class, f.message);
        }
        failed(
            format!(
                "{status}{sf}: {} of {} failed ({how})",
                c.failed,
                crate::units::count(c.of, "try")
            ),
            details,
        )
    };
    Case::new(name, outcome)
        .time(Some(last.latency_ms / 1000.0))
        .actual(actual)
}

fn websocket(w: &WebSocket) -> Case {
    let name = format!("websocket {} answers a ping", w.url);
    let actual = w.rtt_ms.map(|v| format!("round trip {}", human_ms(v)));
    let outcome = match (w.ok, &w.error) {
        (None, _) => skipped("not checked"),
        (Some(true), _) => Outcome::Passed,
        (Some(false), Some(f)) => failed(
            format!("{} at {}", f.class, f.step.map_or("—", |s| s.as_str())),
            f.message.clone(),
        ),
        (Some(false), None) => failed("failed", ""),
    };
    Case::new(name, outcome)
        .time(w.connect_ms.map(|v| v / 1000.0))
        .actual(actual)
}

fn startup(out: &mut Vec<Case>, r: &Report) {
    let Some(st) = &r.startup else {
        out.push(target_case(
            "whole startup sequence within budget",
            None,
            "no startup phases were seen",
        ));
        return;
    };
    for p in &st.phases {
        out.push(phase(p));
    }
    out.push(startup_total(st, r));
    if let Some(l) = &st.restart_loop {
        out.push(restart_loop(st, l));
    }
}

/// A restart loop fails while the newest run has not completed every phase; once one has,
/// the loop is history and the case passes with what it was.
fn restart_loop(st: &Startup, l: &crate::state::startup::RestartLoop) -> Case {
    let name = "the service starts without a restart loop";
    let failed_runs = crate::units::count(l.failed_runs.len() as u64, "failed run");
    let codes: Vec<String> = l.exit_codes.iter().map(|c| c.to_string()).collect();
    let actual = Some(format!("{failed_runs} (exit codes {})", codes.join(", ")));
    let outcome = if l.active {
        failed(
            format!(
                "restart loop: {failed_runs}; run #{} has not completed every phase",
                st.run
            ),
            "each failed run was followed by a restart",
        )
    } else {
        Outcome::Passed
    };
    Case::new(name, outcome).actual(actual)
}

fn phase(p: &PhaseView) -> Case {
    let name = format!(
        "startup phase {} {} within {:.0} s",
        p.number, p.name, p.budget_s
    );
    let d = p.duration_s.map(|d| format!("{d:.1} s"));
    let after = d
        .as_deref()
        .map(|d| format!(" after {d}"))
        .unwrap_or_default();
    let outcome = match p.verdict {
        PhaseVerdict::Pass => Outcome::Passed,
        PhaseVerdict::OverBudget => failed(
            format!("over budget{after} (budget {:.0} s)", p.budget_s),
            p.message.clone().unwrap_or_default(),
        ),
        PhaseVerdict::Failed => failed(
            format!("failed{after} (budget {:.0} s)", p.budget_s),
            p.message.clone().unwrap_or_default(),
        ),
        PhaseVerdict::Stalled => failed(
            format!(
                "stalled: still running{after}, far past its budget ({:.0} s)",
                p.budget_s
            ),
            p.message.clone().unwrap_or_default(),
        ),
        PhaseVerdict::Running => skipped(format!("still running{after} when the data ends")),
        PhaseVerdict::Skipped => skipped("nothing to do for this phase"),
        PhaseVerdict::NotReached => skipped("not reached"),
    };
    Case::new(name, outcome).time(p.duration_s).actual(d)
}

fn startup_total(st: &Startup, r: &Report) -> Case {
    let mut c = target_case(
        "whole startup sequence within budget",
        find(&r.targets, "startup_total"),
        "the startup sequence had not finished when the data ends",
    )
    .time(st.total_s);
    if let (Outcome::Failed { message, .. }, Some(code)) = (&mut c.outcome, st.exit_code) {
        message.push_str(&format!("; the service exited with code {code}"));
    }
    if let (Outcome::Failed { message, .. }, Some(l)) = (&mut c.outcome, &st.restart_loop)
        && l.active
    {
        message.push_str(&format!(
            " (restart loop: {} before run #{})",
            crate::units::count(l.failed_runs.len() as u64, "failed run"),
            st.run
        ));
    }
    c
}
