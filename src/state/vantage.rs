//! Remote vantage points: the probes of `connscope agent` running elsewhere (beside the
//! service on the same connector, a VM in the VPC, a bastion), their events tagged with the
//! vantage's name by the attach client. Each vantage has a `State` of its own, built by the
//! same `apply` and judged by the same judge with the agent's own configuration (from its
//! recording header); every other field of the root `State` stays this host's ("local").
//!
//! A vantage starts over whenever its link goes live: the agent sends its last `history`
//! window again after a reconnect, so rebuilding from it judges exactly the agent's window
//! and never counts an event twice. While the link is lost, what the vantage measured is
//! judged as of the moment it was lost and marked stale — never shown as now.

pub(crate) mod cross;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::State;
use super::event_log::{EventLog, Level};
use super::judge::Judgement;
use crate::event::{EventBody, LinkStatus, VantageLink};
use crate::units;

/// The vantages in the order they were first heard of.
#[derive(Debug, Clone, Default)]
pub struct Vantages {
    pub list: Vec<Vantage>,
}

#[derive(Debug, Clone)]
pub struct Vantage {
    pub name: String,
    /// The agent's URL, credentials removed.
    pub url: String,
    pub status: LinkStatus,
    /// When the status last changed: for `lost`, since when it has been lost.
    pub since: DateTime<Utc>,
    /// Why it was lost, or what it waits for.
    pub message: Option<String>,
    /// `None` until the agent's header (its judging configuration) has arrived.
    pub state: Option<State>,
    /// Events that came before any header (a damaged recording): not judged, counted.
    pub dropped: u64,
    /// The newest log entry told in the combined log, so a backfill sent again after a
    /// reconnect does not tell its changes twice.
    logged_until: Option<DateTime<Utc>>,
}

impl Vantages {
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&Vantage> {
        self.list.iter().find(|v| v.name == name)
    }

    pub(super) fn apply(
        &mut self,
        name: &str,
        at: DateTime<Utc>,
        body: &EventBody,
        log: &mut EventLog,
    ) {
        let i = match self.list.iter().position(|v| v.name == name) {
            Some(i) => i,
            None => {
                self.list.push(Vantage::new(name, at));
                self.list.len() - 1
            }
        };
        let v = &mut self.list[i];
        match body {
            EventBody::Vantage(link) => v.link(at, link, log),
            other => v.measured(at, other, log),
        }
    }
}

impl Vantage {
    fn new(name: &str, at: DateTime<Utc>) -> Self {
        Self {
            name: name.to_string(),
            url: String::new(),
            status: LinkStatus::Connecting,
            since: at,
            message: None,
            state: None,
            dropped: 0,
            logged_until: None,
        }
    }

    fn link(&mut self, at: DateTime<Utc>, l: &VantageLink, log: &mut EventLog) {
        self.url.clone_from(&l.url);
        self.message.clone_from(&l.message);
        if let Some(cfg) = &l.config {
            self.state = Some(State::new((**cfg).clone()));
        }
        if self.status == l.status {
            return;
        }
        self.status = l.status;
        self.since = at;
        let why = l.message.as_deref().unwrap_or("no reason given");
        let (level, text) = match l.status {
            LinkStatus::Connecting => {
                (Level::Info, format!("connecting to the agent at {}", l.url))
            }
            LinkStatus::Live => (
                Level::Info,
                format!(
                    "agent at {} live: its window, then its events as they happen",
                    l.url
                ),
            ),
            LinkStatus::Lost => (
                Level::Warn,
                format!(
                    "agent lost ({why}); reconnecting — its numbers are stale until it is back"
                ),
            ),
        };
        log.push(at, level, &self.name, text);
    }

    fn measured(&mut self, at: DateTime<Utc>, body: &EventBody, log: &mut EventLog) {
        let Some(s) = self.state.as_mut() else {
            self.dropped += 1;
            return;
        };
        let before = s.log.total();
        s.apply_at(at, body);
        let new = usize::try_from(s.log.total() - before).unwrap_or(usize::MAX);
        let mut fresh: Vec<_> = s
            .log
            .entries()
            .rev()
            .take(new)
            .filter(|e| self.logged_until.is_none_or(|u| e.at > u))
            .cloned()
            .collect();
        fresh.reverse();
        for e in fresh {
            self.logged_until = Some(self.logged_until.map_or(e.at, |u| u.max(e.at)));
            log.push(
                e.at,
                e.level,
                &format!("{}/{}", self.name, e.source),
                e.text,
            );
        }
    }

    /// Live: its events arrive as they happen, so its numbers speak for now.
    pub fn live(&self) -> bool {
        self.status == LinkStatus::Live
    }
}

/// One vantage, judged: as of now while live, as of the moment it was lost otherwise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VantageJudgement {
    pub name: String,
    pub url: String,
    pub link: LinkStatus,
    /// When the link took its status (lost: since when).
    pub since: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Not live: what it measured is as of `since`, not now.
    pub stale: bool,
    /// Its own judgement (`None` before its agent's header arrived).
    #[serde(skip)]
    pub judgement: Option<Judgement>,
}

impl VantageJudgement {
    /// The reason line for a link that is not live (its numbers are not judged as now).
    fn link_reason(&self) -> Option<String> {
        let why = self
            .message
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        match self.link {
            LinkStatus::Live => None,
            LinkStatus::Connecting => Some(format!("{}: agent not reached yet{why}", self.name)),
            LinkStatus::Lost => Some(format!(
                "{}: agent lost since {} UTC{why}: what it measured is stale, not judged as now",
                self.name,
                units::clock(self.since)
            )),
        }
    }
}

fn judge_one(v: &Vantage, now: Option<DateTime<Utc>>) -> VantageJudgement {
    // Lost: judged where its evidence ends, so nothing it measured ages into "now".
    let at = if v.live() {
        now
    } else {
        Some(now.map_or(v.since, |n| n.min(v.since)))
    };
    VantageJudgement {
        name: v.name.clone(),
        url: v.url.clone(),
        link: v.status,
        since: v.since,
        message: v.message.clone(),
        stale: !v.live(),
        judgement: v.state.as_ref().map(|s| s.judge(at)),
    }
}

/// Does this host measure anything itself? With only agents attached it does not, and its
/// empty state is no vantage (nor a "nothing measured" reason).
pub(crate) fn has_local(s: &State) -> bool {
    !s.evidence.selected.is_empty() || super::verdict::measured(s)
}

/// Folds the vantages into the root judgement `j` (this host's, with `local_failing` of its
/// reasons failures): each vantage judged, its reasons, alerts and findings labelled with its
/// name, the cross-vantage findings first, and the verdict the worst of them.
pub(super) fn combine(s: &State, j: &mut Judgement, local_failing: usize) {
    let vantages: Vec<VantageJudgement> =
        s.vantages.list.iter().map(|v| judge_one(v, j.at)).collect();
    let local = has_local(s);
    let (mut fail, mut warn) = if local {
        let mut all = std::mem::take(&mut j.reasons);
        let warn = all.split_off(local_failing.min(all.len()));
        (all, warn)
    } else {
        j.reasons.clear();
        j.findings.clear();
        (Vec::new(), Vec::new())
    };
    let mut findings = cross::findings(s, local.then_some(&*j), &vantages);
    findings.append(&mut j.findings);
    for v in &vantages {
        if let Some(text) = v.link_reason() {
            warn.push(text);
        }
        let Some(vj) = v.judgement.as_ref().filter(|_| !v.stale) else {
            continue;
        };
        let failing = vj.failing.min(vj.reasons.len());
        for (i, r) in vj.reasons.iter().enumerate() {
            let line = format!("{}: {r}", v.name);
            if i < failing {
                fail.push(line);
            } else {
                warn.push(line);
            }
        }
        j.alerts.extend(vj.alerts.iter().cloned().map(|mut a| {
            a.vantage = Some(v.name.clone());
            a
        }));
        findings.extend(vj.findings.iter().cloned().map(|mut f| {
            f.vantage = Some(v.name.clone());
            f
        }));
    }
    findings.sort_by_key(|f| (f.past, std::cmp::Reverse(f.confidence)));
    j.findings = findings;
    j.alerts.sort_by_key(|a| a.level);
    j.verdict = if !fail.is_empty() {
        super::verdict::Verdict::Fail
    } else if !warn.is_empty() {
        super::verdict::Verdict::Warn
    } else {
        super::verdict::Verdict::Pass
    };
    j.failing = fail.len();
    fail.extend(warn);
    j.reasons = fail;
    j.exit_code = if j.interrupted {
        crate::exit::ExitCode::Interrupted
    } else {
        j.verdict.exit_code()
    };
    j.vantages = vantages;
}

#[cfg(test)]
mod tests;
