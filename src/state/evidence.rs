//! No evidence, no pass: which probes a run selected, how each task ended, and what each has
//! taught. A selected probe without evidence is a reason in the verdict, worded by why: it
//! crashed, its source could not be read, the run was interrupted, or it simply has not
//! answered yet.

use std::collections::BTreeMap;

use serde::Serialize;

use super::State;
use super::verdict::Verdict;
use crate::event::{Note, NoteLevel, ProbeEnd, ProbeEnded, RunEnded};

/// What the run told the state about its probes (from `ProbesStarted`, `ProbeEnded`,
/// `RunEnded` and the probes' warnings). Recordings without those events (older versions)
/// select nothing, and only "nothing measured at all" is judged.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub(crate) selected: Vec<String>,
    pub ended: BTreeMap<String, ProbeEnded>,
    /// The newest warning or error each probe noted (why a source taught nothing).
    pub notes: BTreeMap<String, String>,
    pub(crate) run_ended: Option<RunEnded>,
}

impl Evidence {
    pub fn started(&mut self, probes: &[String]) {
        for p in probes {
            if !self.selected.contains(p) {
                self.selected.push(p.clone());
            }
        }
    }

    pub fn ended(&mut self, e: &ProbeEnded) {
        self.ended.insert(e.probe.clone(), e.clone());
    }

    pub fn note(&mut self, n: &Note) {
        if n.level >= NoteLevel::Warn {
            self.notes.insert(n.probe.clone(), n.message.clone());
        }
    }

    pub fn interrupted(&self) -> bool {
        self.run_ended.as_ref().is_some_and(|r| r.interrupted)
    }
}

/// One selected probe, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeEvidence {
    pub probe: String,
    pub status: EvidenceStatus,
    /// Why there is none, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceStatus {
    /// It measured something.
    Seen,
    /// Still running, nothing yet.
    Waiting,
    /// It ended (or the run did) without measuring anything.
    Missing,
    /// It panicked.
    Crashed,
}

impl ProbeEvidence {
    /// How much a missing piece of evidence weighs: a crash fails the run, anything else
    /// keeps it from passing.
    pub fn weight(&self) -> Option<Verdict> {
        match self.status {
            EvidenceStatus::Seen => None,
            EvidenceStatus::Crashed => Some(Verdict::Fail),
            EvidenceStatus::Waiting | EvidenceStatus::Missing => Some(Verdict::Warn),
        }
    }

    /// The reason line, for a probe without evidence.
    pub fn reason(&self) -> Option<String> {
        let why = self.why.as_deref().unwrap_or("no result");
        match self.status {
            EvidenceStatus::Seen => None,
            EvidenceStatus::Crashed => Some(format!(
                "{} probe crashed ({why}): nothing it measures can be judged",
                self.probe
            )),
            EvidenceStatus::Waiting => Some(format!("{}: no result yet", self.probe)),
            EvidenceStatus::Missing => Some(format!("{}: no evidence — {why}", self.probe)),
        }
    }
}

/// Has `probe` measured anything?
fn seen(s: &State, probe: &str) -> bool {
    match probe {
        "db" => s.db.series.count() > 0,
        "init" => s.init.is_some(),
        "capacity" => s
            .capacity
            .last
            .as_ref()
            .is_some_and(|r| r.finished.is_some() && !r.cancelled()),
        "pool" => s
            .pool
            .last
            .as_ref()
            .is_some_and(|r| r.finished.is_some() && !r.cancelled()),
        "http" => all_checked(
            s.endpoints
                .endpoints
                .iter()
                .map(|e| e.paths.iter().any(|p| p.last.is_some())),
        ),
        "ws" => all_checked(s.endpoints.websockets.iter().map(|w| w.last.is_some())),
        "startup" => s.startup.log.runs > 0,
        "rehearsal" => s.startup.rehearsal.runs > 0,
        _ => true,
    }
}

/// Every configured target was checked at least once (and there was at least one).
fn all_checked(mut each: impl Iterator<Item = bool>) -> bool {
    let mut any = false;
    each.all(|c| {
        any = true;
        c
    }) && any
}

/// Each selected probe, in the order the run started them.
pub(crate) fn judge(s: &State) -> Vec<ProbeEvidence> {
    let ev = &s.evidence;
    ev.selected
        .iter()
        .map(|probe| {
            let (status, why) = if seen(s, probe) {
                (EvidenceStatus::Seen, None)
            } else {
                missing(s, probe)
            };
            ProbeEvidence {
                probe: probe.clone(),
                status,
                why,
            }
        })
        .collect()
}

fn missing(s: &State, probe: &str) -> (EvidenceStatus, Option<String>) {
    let ev = &s.evidence;
    let note = ev.notes.get(probe).cloned();
    let ended = ev.ended.get(probe);
    if let Some(e) = ended.filter(|e| e.how == ProbeEnd::Panicked) {
        let msg = e.message.clone().unwrap_or_else(|| "panic".into());
        return (EvidenceStatus::Crashed, Some(format!("panicked: {msg}")));
    }
    if ev.interrupted() {
        let why = "the run was interrupted before it produced a result".to_string();
        return (EvidenceStatus::Missing, Some(note.unwrap_or(why)));
    }
    // The log's own counts are newer than any note about it.
    if ended.is_some() || ev.run_ended.is_some() || startup_log_ended(s, probe) {
        let why = startup_log_why(s, probe)
            .or(note)
            .unwrap_or_else(|| "it ended without a result".into());
        return (EvidenceStatus::Missing, Some(why));
    }
    // Still going: a source that cannot be read yet (a log that does not exist) says why.
    match startup_log_why(s, probe).or(note) {
        Some(why) => (EvidenceStatus::Missing, Some(why)),
        None => (EvidenceStatus::Waiting, None),
    }
}

fn startup_log_ended(s: &State, probe: &str) -> bool {
    probe == "startup" && s.startup.log.ended
}

/// A startup log that was read without one phase or exit line in it.
fn startup_log_why(s: &State, probe: &str) -> Option<String> {
    let t = &s.startup.log;
    if probe != "startup" || t.runs > 0 {
        return None;
    }
    let desc = t.desc.as_deref()?;
    // Like the probe's own warning: at the end of the log, or once 200 lines matched nothing.
    if !(t.ended || t.lines >= super::startup::UNMATCHED_WARN_LINES) {
        return None;
    }
    Some(if t.lines == 0 {
        format!("startup log {desc}: nothing was read from it")
    } else {
        format!(
            "startup log {desc}: none of its {} is a startup phase or exit line",
            crate::units::count(t.lines, "line")
        )
    })
}
