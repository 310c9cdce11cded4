//! The part of the report model that the charts draw: what happened over time, read from the
//! state's bounded timeline and the judgement (never from the events again). Not in the JSON:
//! it would repeat the events.

use chrono::{DateTime, Utc};

use crate::state::State;
use crate::state::alerts::{AlertChange, AlertLevel};
use crate::state::judge::Judgement;
use crate::state::pool::PoolRun;
use crate::state::startup::{PhaseSpan, StartupView};
use crate::state::timeline::{Bucket, CapacityBar, OutageSpan, Segment};
use crate::state::verdict::Verdict;

/// Everything the charts draw, on one clock: the recording's span.
#[derive(Debug, Clone, Default)]
pub struct ChartData {
    /// First to last event (the judged moment when later): the time axis of every chart but
    /// the phase chart.
    pub span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub(crate) lanes: Vec<DbLane>,
    pub alerts: Vec<AlertSpan>,
    pub health: Vec<StatusStrip>,
    pub websockets: Vec<StatusStrip>,
    pub startup: Option<StartupRuns>,
    pub capacity: Vec<CapacityTest>,
    /// Every pool probe run the state kept, oldest first; the newest as judged.
    pub pool: Vec<PoolWaits>,
}

/// Database attempts seen from one vantage point (this host; remote agents get a lane each).
#[derive(Debug, Clone)]
pub(crate) struct DbLane {
    pub vantage: String,
    pub timeout_ms: f64,
    pub attempts: u64,
    /// Time slices of attempts, oldest first, of equal width.
    pub(crate) buckets: Vec<Bucket>,
    pub outages: Vec<OutageSpan>,
    /// The outage going on at the end of the recording.
    pub(crate) open_outage: Option<OutageSpan>,
}

/// An alert from raised to cleared (`None`: still active when judged).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSpan {
    pub level: AlertLevel,
    pub rule: String,
    pub message: String,
    pub raised: DateTime<Utc>,
    pub cleared: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct StatusStrip {
    /// `backend /health`, or the WebSocket's (redacted) URL.
    pub label: String,
    pub segments: Vec<Segment>,
}

/// Every startup run the judged track kept, oldest first, the newest as judged now.
#[derive(Debug, Clone)]
pub struct StartupRuns {
    pub source: crate::event::StartupSource,
    pub(crate) total_budget_s: f64,
    pub runs: Vec<RunBars>,
}

#[derive(Debug, Clone)]
pub struct RunBars {
    pub(crate) number: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub(crate) ended_at: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    pub failed: bool,
    /// The newest run (judged as of now; the others as they ended).
    pub current: bool,
    pub phases: Vec<PhaseSpan>,
}

#[derive(Debug, Clone)]
pub struct CapacityTest {
    pub bar: CapacityBar,
    pub running: bool,
    /// History: newer evidence contradicts it (the judge's word, for the newest test).
    pub past: bool,
}

/// One pool probe run as the waits chart draws it: the run as the state kept it (its interval
/// samples, figures and what lay beneath it) and the threshold its waits were judged by.
#[derive(Debug, Clone)]
pub struct PoolWaits {
    pub run: PoolRun,
    /// Acquire waits (p95) over this warn.
    pub(crate) warn_ms: f64,
    /// The newest run: the judge's verdict (older runs were replaced, not judged).
    pub verdict: Option<Verdict>,
    /// History: replaced by a newer run, or newer evidence contradicts it.
    pub past: bool,
}

pub(crate) fn build(s: &State, j: &Judgement) -> ChartData {
    let span = match (s.first_at, s.last_at) {
        (Some(a), Some(b)) => Some((a, j.at.map_or(b, |at| at.max(b)))),
        _ => None,
    };
    ChartData {
        span,
        lanes: lanes(s),
        alerts: alert_spans(s.alerts.timeline.iter()),
        health: s.timeline.health.iter().map(strip).collect(),
        websockets: s.timeline.websockets.iter().map(strip).collect(),
        startup: startup(s, j.startup.as_ref()),
        capacity: capacity(s, j),
        pool: pool(s, j),
    }
}

fn lanes(s: &State) -> Vec<DbLane> {
    let tl = &s.timeline;
    if tl.db.attempts() == 0 {
        return Vec::new();
    }
    vec![DbLane {
        vantage: "this host".into(),
        timeout_ms: s.cfg.connection_timeout.as_secs_f64() * 1000.0,
        attempts: tl.db.attempts(),
        buckets: tl.db.buckets().to_vec(),
        outages: tl.outages.clone(),
        open_outage: s.db.current_outage().map(|o| OutageSpan {
            outage: o.clone(),
            cut_at: None,
        }),
    }]
}

/// Pairs each raise with the next clear of the same rule.
pub(crate) fn alert_spans<'a>(changes: impl Iterator<Item = &'a AlertChange>) -> Vec<AlertSpan> {
    let mut out: Vec<AlertSpan> = Vec::new();
    for c in changes {
        if c.raised {
            out.push(AlertSpan {
                level: c.level,
                rule: c.rule.clone(),
                message: c.message.clone(),
                raised: c.at,
                cleared: None,
            });
        } else if let Some(open) = out
            .iter_mut()
            .rev()
            .find(|a| a.rule == c.rule && a.cleared.is_none())
        {
            open.cleared = Some(c.at);
        }
    }
    out
}

fn strip(st: &crate::state::timeline::Strip) -> StatusStrip {
    let label = match &st.path {
        Some(p) => format!("{} {p}", st.name),
        None => st.name.clone(),
    };
    StatusStrip {
        label,
        segments: st.segments.iter().cloned().collect(),
    }
}

fn startup(s: &State, view: Option<&StartupView>) -> Option<StartupRuns> {
    let view = view?;
    let track = s.startup.track(view.source);
    let mut runs: Vec<RunBars> = track
        .previous
        .iter()
        .map(|r| RunBars {
            number: r.number,
            started_at: r.started_at,
            ended_at: r.ended_at,
            exit_code: r.exit_code,
            failed: r.failed,
            current: false,
            phases: r.phases.clone(),
        })
        .collect();
    if let Some(run) = &track.current {
        let phases = run
            .phases
            .iter()
            .zip(&view.phases)
            .map(|(p, v)| p.span(v.verdict, v.duration_s))
            .collect();
        runs.push(RunBars {
            number: run.number,
            started_at: run.started_at(),
            ended_at: run.exit.map(|(_, t)| t),
            exit_code: view.exit_code,
            failed: view.failed,
            current: true,
            phases,
        });
    }
    Some(StartupRuns {
        source: view.source,
        total_budget_s: view.total_budget_s,
        runs,
    })
}

fn capacity(s: &State, j: &Judgement) -> Vec<CapacityTest> {
    let newest_past = j.capacity.as_ref().is_some_and(|c| c.past);
    let mut out: Vec<CapacityTest> = s
        .timeline
        .capacity
        .iter()
        .map(|bar| CapacityTest {
            bar: bar.clone(),
            running: false,
            // Older tests were replaced by a newer one: history.
            past: true,
        })
        .collect();
    if let Some(run) = s.capacity.last.as_ref().filter(|r| r.running()) {
        out.push(CapacityTest {
            bar: CapacityBar::of(run),
            running: true,
            past: false,
        });
    }
    if let Some(last) = out.last_mut() {
        last.past = newest_past;
    }
    out
}

fn pool(s: &State, j: &Judgement) -> Vec<PoolWaits> {
    use crate::state::pool::judge::wait_warn_ms;
    let older = s.timeline.pool.iter().map(|run| PoolWaits {
        run: run.clone(),
        warn_ms: wait_warn_ms(s, run),
        verdict: None,
        past: true,
    });
    let newest = s.pool.last.iter().map(|run| PoolWaits {
        run: run.clone(),
        warn_ms: wait_warn_ms(s, run),
        verdict: j.pool.as_ref().map(|p| p.verdict),
        past: j.pool.as_ref().is_some_and(|p| p.past),
    });
    older.chain(newest).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures::t;

    fn change(at: f64, raised: bool, rule: &str) -> AlertChange {
        AlertChange {
            at: t(at),
            raised,
            level: AlertLevel::Critical,
            rule: rule.into(),
            message: format!("{rule} message"),
        }
    }

    #[test]
    fn pool_runs_oldest_first_only_the_newest_judged() {
        use crate::state::fixtures::{
            build as state, pool_started, pool_timeouts_beneath_capacity, staging_config,
        };
        let none = state(staging_config(), &[]);
        assert!(
            build(&none, &none.judge(None)).pool.is_empty(),
            "no run, no chart"
        );
        let mut ev = pool_timeouts_beneath_capacity();
        ev.push((60.0, pool_started(2)));
        let s = state(staging_config(), &ev);
        let runs = pool(&s, &s.judge(None));
        let ids: Vec<u64> = runs.iter().map(|w| w.run.started.run).collect();
        assert_eq!(ids, vec![1, 2]);
        assert!(
            runs[0].past && runs[0].verdict.is_none(),
            "replaced, not judged"
        );
        assert!(runs[1].verdict.is_some());
        assert_eq!(runs[0].run.totals.timeouts, 7, "the first run as it ended");
        assert!(runs.iter().all(|w| w.warn_ms > 0.0));
    }

    #[test]
    fn alert_spans_pair_raises_with_their_clears() {
        let changes = [
            change(1.0, true, "a"),
            change(2.0, true, "b"),
            change(3.0, false, "a"),
            change(4.0, true, "a"),
        ];
        let spans = alert_spans(changes.iter());
        let rules: Vec<&str> = spans.iter().map(|s| s.rule.as_str()).collect();
        assert_eq!(rules, vec!["a", "b", "a"]);
        let raised: Vec<DateTime<Utc>> = spans.iter().map(|s| s.raised).collect();
        assert_eq!(raised, vec![t(1.0), t(2.0), t(4.0)]);
        let cleared: Vec<Option<DateTime<Utc>>> = spans.iter().map(|s| s.cleared).collect();
        assert_eq!(cleared, vec![Some(t(3.0)), None, None]);
    }
}
