//! Targets met or missed, and the overall verdict a script acts on (exit 0 / 1 / 2).

use serde::Serialize;

use super::State;
use super::alerts::AlertLevel;
use super::startup::PhaseVerdict;
use crate::units::{self, duration as fmt_d};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::Warn => 1,
            Verdict::Fail => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetCheck {
    pub name: &'static str,
    pub target: String,
    pub actual: Option<String>,
    /// `None` when there is nothing to judge yet.
    pub met: Option<bool>,
}

pub fn targets(s: &State) -> Vec<TargetCheck> {
    let t = &s.cfg.targets;
    let sum = s.db.summary();
    let mut out = Vec::new();
    let has_db = sum.attempts > 0;
    let limit = t.db_avg_connect_below.as_secs_f64() * 1000.0;
    // Every attempt counts in full (a 35 s timeout is 35 s of connecting); with no success at
    // all the target is missed however fast the refusals came back.
    out.push(TargetCheck {
        name: "db_avg_connect",
        target: format!(
            "< {} average connection time",
            fmt_d(t.db_avg_connect_below)
        ),
        actual: has_db.then(|| match (sum.avg_ms, sum.successes) {
            (Some(ms), 0) => format!("{} (no successful connection)", units::ms(ms)),
            (Some(ms), _) => units::ms(ms),
            (None, _) => "no attempts".into(),
        }),
        met: has_db.then(|| sum.successes > 0 && sum.avg_ms.is_some_and(|ms| ms < limit)),
    });
    out.push(TargetCheck {
        name: "db_success_rate",
        target: format!(
            "> {:.0} % connection success rate",
            t.db_success_rate_above * 100.0
        ),
        actual: sum.success_rate.map(|r| format!("{:.0} %", r * 100.0)),
        met: sum.success_rate.map(|r| r > t.db_success_rate_above),
    });
    let startup = s.startup.primary().and_then(|tr| tr.current.as_ref());
    let total = startup.and_then(|r| r.total_s());
    let finished = startup.is_some_and(|r| r.complete() || r.exit.is_some());
    out.push(TargetCheck {
        name: "startup_total",
        target: format!("< {} whole startup", fmt_d(t.startup_total_below)),
        actual: total.map(|v| format!("{v:.1} s{}", if finished { "" } else { " so far" })),
        met: match (total, startup) {
            (Some(v), Some(_)) if v >= t.startup_total_below.as_secs_f64() => Some(false),
            (Some(_), Some(r)) if r.complete() => Some(true),
            (_, Some(r)) if r.exit.is_some() => Some(false),
            _ => None,
        },
    });
    let latencies: Vec<(bool, f64)> = s
        .endpoints
        .endpoints
        .iter()
        .flat_map(|e| e.paths.iter())
        .filter_map(|p| {
            p.last
                .as_ref()
                .map(|(_, c)| (c.status.is_some(), c.latency_ms))
        })
        .collect();
    let worst = latencies
        .iter()
        .map(|(_, ms)| *ms)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let all_answered = latencies.iter().all(|(answered, _)| *answered);
    out.push(TargetCheck {
        name: "health_latency",
        target: format!(
            "< {} health endpoint response",
            fmt_d(t.health_latency_below)
        ),
        actual: worst.map(|ms| {
            format!(
                "{:.0} ms slowest{}",
                ms,
                if all_answered {
                    ""
                } else {
                    " (some did not answer)"
                }
            )
        }),
        met: worst.map(|ms| all_answered && ms < t.health_latency_below.as_secs_f64() * 1000.0),
    });
    out
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub verdict: Verdict,
    /// Why it is not a pass, most severe first.
    pub reasons: Vec<String>,
}

pub fn judge(s: &State) -> Judgement {
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    for a in &s.alerts.active {
        let line = format!("{} alert: {}", a.level.as_str(), a.message);
        if a.level == AlertLevel::Critical {
            fails.push(line)
        } else {
            warns.push(line)
        }
    }
    if let Some((_, r)) = &s.init
        && let Some(e) = &r.error
    {
        fails.push(format!(
            "initialization failed: {} — {}",
            e.class, e.message
        ));
    }
    capacity(s, &mut fails);
    endpoints(s, &mut fails, &mut warns);
    startup(s, &mut fails, &mut warns);
    startup_log(s, &mut warns);
    for t in targets(s) {
        if t.met == Some(false) {
            warns.push(format!(
                "target missed: {} (actual {})",
                t.target,
                t.actual.unwrap_or_default()
            ));
        }
    }
    let verdict = if !fails.is_empty() {
        Verdict::Fail
    } else if !warns.is_empty() {
        Verdict::Warn
    } else {
        Verdict::Pass
    };
    fails.extend(warns);
    Judgement {
        verdict,
        reasons: fails,
    }
}

/// A finished capacity test in which not one connection got through measured no capacity at
/// all: the database was unreachable (or full) for every one of them. Cancelled tests are not
/// judged.
fn capacity(s: &State, fails: &mut Vec<String>) {
    let Some(run) = &s.capacity.last else { return };
    let Some((_, f)) = &run.finished else { return };
    let cancelled = f.aborted && f.reason.as_deref() == Some("cancelled");
    if run.attempted == 0 || run.succeeded > 0 || cancelled {
        return;
    }
    let classes: Vec<String> = run
        .errors_by_class
        .iter()
        .map(|(class, n)| format!("{n} {class}"))
        .collect();
    fails.push(format!(
        "capacity test: none of {} connections succeeded ({})",
        run.attempted,
        classes.join(", ")
    ));
}

/// A startup log was read but not one line of it was a phase or an exit: the format or the
/// patterns do not fit, or it is not the service's log at all. Nothing was learned about the
/// startup, which is not a pass.
fn startup_log(s: &State, warns: &mut Vec<String>) {
    let t = &s.startup.log;
    let Some(desc) = &t.desc else { return };
    // Like the probe's own warning: at the end of the log, or once 200 lines matched nothing.
    if t.current.is_some() || t.runs > 0 || !(t.ended || t.lines >= 200) {
        return;
    }
    warns.push(if t.lines == 0 {
        format!("startup log {desc}: nothing was read from it")
    } else {
        format!(
            "startup log {desc}: none of its {} lines is a startup phase or exit line ({} skipped)",
            t.lines, t.skipped
        )
    });
}

fn endpoints(s: &State, fails: &mut Vec<String>, warns: &mut Vec<String>) {
    let tries = s.cfg.tries.max(1);
    for e in &s.endpoints.endpoints {
        for p in &e.paths {
            let Some((_, last)) = &p.last else { continue };
            let c = p.consistency(tries);
            let failing = match c {
                Some(c) if tries >= 2 => c.failed > 0,
                _ => !last.ok,
            };
            if !failing {
                continue;
            }
            let what = match (last.status, &last.error) {
                (Some(st), _) => format!(
                    "HTTP {st}{}",
                    if last.startup_failure {
                        " (startup failure)"
                    } else {
                        ""
                    }
                ),
                (None, Some(err)) => format!("{}", err.class),
                (None, None) => "failed".into(),
            };
            let line = format!("{} {}: {what}", e.name, last.path);
            match c {
                Some(c) if tries >= 2 && !c.consistent => warns.push(format!(
                    "{line} ({} of {} tries failed, intermittent)",
                    c.failed, c.of
                )),
                Some(c) if tries >= 2 => fails.push(format!(
                    "{line} ({} of {} tries failed, consistent)",
                    c.failed, c.of
                )),
                _ => fails.push(line),
            }
        }
    }
    for w in &s.endpoints.websockets {
        if let Some((_, c)) = &w.last
            && !c.ok
        {
            let why = c
                .error
                .as_ref()
                .map(|e| e.class.to_string())
                .unwrap_or_else(|| "failed".into());
            fails.push(format!("websocket {}: {why}", w.url));
        }
    }
}

fn startup(s: &State, fails: &mut Vec<String>, warns: &mut Vec<String>) {
    for track in [&s.startup.log, &s.startup.rehearsal] {
        let Some(run) = &track.current else { continue };
        let src = match track.source {
            crate::event::StartupSource::Log => "startup",
            crate::event::StartupSource::Rehearsal => "rehearsal",
        };
        for (i, (p, v)) in run.phases.iter().zip(run.verdicts()).enumerate() {
            let d = p
                .duration_s(run.last_ts)
                .map(|d| format!(" after {d:.1} s"))
                .unwrap_or_default();
            match v {
                PhaseVerdict::Failed => fails.push(format!(
                    "{src} phase {} {} failed{d} (budget {})",
                    i + 1,
                    p.name,
                    fmt_d(p.budget)
                )),
                PhaseVerdict::OverBudget => warns.push(format!(
                    "{src} phase {} {} over budget{d} (budget {})",
                    i + 1,
                    p.name,
                    fmt_d(p.budget)
                )),
                _ => {}
            }
        }
        if let Some((code, _)) = run.exit
            && code != 0
        {
            fails.push(format!("{src}: service exited with code {code}"));
        }
    }
}
