//! HTTP health endpoints and WebSockets: the newest check of each, latency series, and whether
//! a failure is consistent across tries.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::StateConfig;
use super::event_log::{EventLog, Level};
use super::stats::{Ring, Sample, Series};
use crate::config::History;
use crate::event::{HttpCheck, WsCheck};

/// Words in a 503 body that mean the service failed to start (from the outage test plan).
pub(crate) const STARTUP_FAILURE_WORDS: [&str; 5] = [
    "database",
    "initialization",
    "timeout",
    "cloud sql",
    "startup failed",
];

/// What one health answer says, judged from its status and body (never decided by the probe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    /// A 503 whose body says the service is still starting (status/state `starting`, or a
    /// phase in progress): not a failure while it lasts no longer than a whole startup.
    Starting,
    /// A runtime answer that something it needs is missing (`degraded`, `unhealthy`).
    Unhealthy,
    /// A 503 naming the database, initialization, a timeout, Cloud SQL or a failed startup.
    StartupFailure,
    /// Any other non-2xx answer, or no answer.
    Failing,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Starting => "starting",
            Health::Unhealthy => "unhealthy",
            Health::StartupFailure => "startup failure",
            Health::Failing => "failing",
        }
    }

    /// Counts against the endpoint (a service that is starting is not failing).
    pub(crate) fn is_failure(self) -> bool {
        matches!(
            self,
            Health::Unhealthy | Health::StartupFailure | Health::Failing
        )
    }
}

/// The judged answer: its health, and the startup phase it names, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub health: Health,
    pub phase: Option<String>,
}

/// The answer was a healthy one: a 2xx whose body does not say the service is down. Every
/// output's ✓ / ✗ and "up" reads this, not the bare status code.
pub(crate) fn healthy(c: &HttpCheck) -> bool {
    health(c).health == Health::Ok
}

/// Judges one check from what the probe reported (status and a bounded body excerpt).
pub fn health(c: &HttpCheck) -> Answer {
    let body = c.body_excerpt.as_deref().unwrap_or("");
    let answer = |health| Answer {
        health,
        phase: None,
    };
    if c.ok {
        // A health check that tells its state in the body, not the status code (a 200 with
        // Spring's `"status":"DOWN"`, the IETF draft's `"fail"`), is believed.
        let down = body_says(body).state == Some(BodyState::Down);
        return answer(if down { Health::Unhealthy } else { Health::Ok });
    }
    let Some(status) = c.status else {
        return answer(Health::Failing);
    };
    let said = body_says(body);
    let lower = body.to_lowercase();
    // A failed startup said in so many words outranks a status word ("unhealthy").
    let failed_start = ["startup failed", "failed to start"]
        .iter()
        .any(|w| lower.contains(w));
    match (status, said.state) {
        (503, Some(BodyState::Starting)) if !failed_start => Answer {
            health: Health::Starting,
            phase: said.phase,
        },
        (503, _) if failed_start => answer(Health::StartupFailure),
        (_, Some(BodyState::Degraded | BodyState::Down)) => answer(Health::Unhealthy),
        (503, _) if STARTUP_FAILURE_WORDS.iter().any(|w| lower.contains(w)) => {
            answer(Health::StartupFailure)
        }
        _ => answer(Health::Failing),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    Starting,
    /// Working in part: unhealthy on a failing status, a deliberate partial on a 2xx.
    Degraded,
    /// Not working, whatever the status code says.
    Down,
}

struct Said {
    state: Option<BodyState>,
    phase: Option<String>,
}

/// What a health body says about the service's state: a JSON `status` / `state` word, else
/// the same words in text ("service starting: phase 3 (database) in progress").
fn body_says(body: &str) -> Said {
    if let Ok(serde_json::Value::Object(obj)) = serde_json::from_str(body.trim()) {
        let word = ["status", "state"]
            .iter()
            .find_map(|k| obj.get(*k)?.as_str())
            .map(str::to_ascii_lowercase);
        let state = word.as_deref().and_then(state_word);
        let phase = match (
            obj.get("phase"),
            obj.get("phase_name").and_then(|v| v.as_str()),
        ) {
            (Some(n), Some(name)) if n.is_number() => Some(format!("phase {n} {name}")),
            (Some(n), _) if n.is_number() => Some(format!("phase {n}")),
            (Some(serde_json::Value::String(p)), _) => Some(p.clone()),
            (_, Some(name)) => Some(name.to_string()),
            _ => None,
        };
        return Said { state, phase };
    }
    let lower = body.to_ascii_lowercase();
    let state = if lower.contains("failed") || lower.contains("error") {
        None
    } else if lower.contains("starting") || lower.contains("in progress") {
        Some(BodyState::Starting)
    } else if lower.contains("degraded") || lower.contains("unhealthy") {
        Some(BodyState::Degraded)
    } else {
        None
    };
    Said {
        state,
        phase: text_phase(&lower),
    }
}

fn state_word(w: &str) -> Option<BodyState> {
    match w.trim() {
        "starting" | "initializing" | "initialising" | "booting" | "warming_up" | "warming up"
        | "in_progress" => Some(BodyState::Starting),
        "degraded" | "warn" => Some(BodyState::Degraded),
        "unhealthy" | "down" | "fail" | "failed" | "failing" | "error" | "out_of_service" => {
            Some(BodyState::Down)
        }
        _ => None,
    }
}

/// `phase 3` in free text.
fn text_phase(lower: &str) -> Option<String> {
    let at = lower.find("phase ")?;
    let digits: String = lower[at + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then(|| format!("phase {digits}"))
}

const CHECKS_KEPT: usize = 50;

#[derive(Debug, Clone)]
pub struct PathState {
    pub requested_path: String,
    pub last: Option<(DateTime<Utc>, HttpCheck)>,
    pub series: Series,
    pub checks: Ring<(DateTime<Utc>, HttpCheck)>,
}

/// How many of the last tries failed (a service still starting is not failing): consistent at
/// 2 of 3 (two thirds, at least two); intermittent only with at least two tries, some failed
/// and some not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Consistency {
    pub failed: u32,
    pub of: u32,
    pub consistent: bool,
    pub intermittent: bool,
}

impl PathState {
    pub(crate) fn consistency(&self, tries: u32) -> Option<Consistency> {
        let of = (tries.max(1) as usize).min(self.checks.len());
        if of == 0 {
            return None;
        }
        let failed = self
            .checks
            .iter()
            .rev()
            .take(of)
            .filter(|(_, c)| health(c).health.is_failure())
            .count() as u32;
        let of = of as u32;
        let consistent = failed >= 2 && failed * 3 >= of * 2;
        Some(Consistency {
            failed,
            of,
            consistent,
            intermittent: of >= 2 && failed > 0 && failed < of && !consistent,
        })
    }

    /// Since when the newest answers have all said "starting" (`None` unless the newest does).
    pub(crate) fn starting_since(&self) -> Option<DateTime<Utc>> {
        let mut since = None;
        for (at, c) in self.checks.iter().rev() {
            if health(c).health != Health::Starting {
                break;
            }
            since = Some(*at);
        }
        since
    }
}

#[derive(Debug, Clone)]
pub struct EndpointState {
    pub name: String,
    pub url: String,
    pub paths: Vec<PathState>,
}

#[derive(Debug, Clone)]
pub struct WsState {
    pub url: String,
    pub last: Option<(DateTime<Utc>, WsCheck)>,
    pub series: Series,
    pub checks: Ring<(DateTime<Utc>, WsCheck)>,
}

#[derive(Debug, Clone)]
pub struct EndpointsState {
    pub endpoints: Vec<EndpointState>,
    pub websockets: Vec<WsState>,
    history: History,
}

impl EndpointsState {
    pub fn new(cfg: &StateConfig) -> Self {
        let mut s = Self {
            endpoints: Vec::new(),
            websockets: Vec::new(),
            history: cfg.history.clone(),
        };
        for (name, url) in &cfg.endpoints {
            s.endpoint_mut(name, url);
        }
        for url in &cfg.websockets {
            s.ws_mut(url);
        }
        s
    }

    fn endpoint_mut(&mut self, name: &str, url: &str) -> &mut EndpointState {
        let i = match self.endpoints.iter().position(|e| e.name == name) {
            Some(i) => i,
            None => {
                self.endpoints.push(EndpointState {
                    name: name.into(),
                    url: url.into(),
                    paths: Vec::new(),
                });
                self.endpoints.len() - 1
            }
        };
        &mut self.endpoints[i]
    }

    fn ws_mut(&mut self, url: &str) -> &mut WsState {
        let i = match self.websockets.iter().position(|w| w.url == url) {
            Some(i) => i,
            None => {
                let series = Series::new(self.history.samples, self.history.window);
                self.websockets.push(WsState {
                    url: url.into(),
                    last: None,
                    series,
                    checks: Ring::new(CHECKS_KEPT),
                });
                self.websockets.len() - 1
            }
        };
        &mut self.websockets[i]
    }

    pub fn http(&mut self, at: DateTime<Utc>, c: &HttpCheck, log: &mut EventLog) {
        let h = self.history.clone();
        let ep = self.endpoint_mut(&c.endpoint, &c.url);
        ep.url.clone_from(&c.url);
        let path = match ep
            .paths
            .iter()
            .position(|p| p.requested_path == c.requested_path)
        {
            Some(i) => &mut ep.paths[i],
            None => {
                ep.paths.push(PathState {
                    requested_path: c.requested_path.clone(),
                    last: None,
                    series: Series::new(h.samples, h.window),
                    checks: Ring::new(CHECKS_KEPT),
                });
                let n = ep.paths.len() - 1;
                &mut ep.paths[n]
            }
        };
        let ok = healthy(c);
        let changed = path
            .last
            .as_ref()
            .is_none_or(|(_, p)| healthy(p) != ok || p.status != c.status);
        if changed && (!ok || path.last.is_some()) {
            let level = if ok { Level::Info } else { Level::Error };
            let what = match (&c.status, &c.error) {
                (_, Some(e)) if e.class != crate::event::ErrorClass::HttpStatus => {
                    format!("{} — {}", e.class, e.message)
                }
                (Some(s), _) => match health(c).health {
                    Health::Ok | Health::Failing => format!("HTTP {s}"),
                    h => format!("HTTP {s} ({})", h.as_str()),
                },
                (None, _) => "no answer".into(),
            };
            log.push(
                at,
                level,
                "http",
                format!("{} {}: {what}", c.endpoint, c.path),
            );
        }
        path.series.record(Sample {
            at,
            ok,
            ms: c.latency_ms,
            violation: c.latency_ms > c.timeout_ms,
        });
        path.last = Some((at, c.clone()));
        path.checks.push((at, c.clone()));
    }

    pub fn ws(&mut self, at: DateTime<Utc>, c: &WsCheck, log: &mut EventLog) {
        let ws = self.ws_mut(&c.url);
        let changed = ws.last.as_ref().is_none_or(|(_, p)| p.ok != c.ok);
        if changed && (!c.ok || ws.last.is_some()) {
            let text = match &c.error {
                Some(e) => format!("{}: {} — {}", c.url, e.class, e.message),
                None => format!("{}: answering again", c.url),
            };
            log.push(
                at,
                if c.ok { Level::Info } else { Level::Error },
                "ws",
                text,
            );
        }
        let ms = c.rtt_ms.or(c.connect_ms).unwrap_or(0.0);
        ws.series.record(Sample {
            at,
            ok: c.ok,
            ms,
            violation: false,
        });
        ws.last = Some((at, c.clone()));
        ws.checks.push((at, c.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::fixtures;

    fn judged(status: u16, body: &str) -> Answer {
        match fixtures::http("api", "/health", status, 10.0, body) {
            crate::event::EventBody::HttpCheck(c) => health(&c),
            _ => unreachable!("fixtures::http builds a check"),
        }
    }

    #[test]
    fn a_503_is_judged_by_what_its_body_says() {
        let sf = judged(503, "startup failed: database initialization timeout");
        assert_eq!(sf.health, Health::StartupFailure);
        assert_eq!(
            judged(503, "Cloud SQL unreachable").health,
            Health::StartupFailure
        );
        assert_eq!(judged(503, "maintenance").health, Health::Failing);
        assert_eq!(judged(500, "database timeout").health, Health::Failing);
        let starting = judged(
            503,
            r#"{"status":"starting","phase":3,"phase_name":"database","detail":"database initialization"}"#,
        );
        assert_eq!(starting.health, Health::Starting);
        assert_eq!(starting.phase.as_deref(), Some("phase 3 database"));
        assert_eq!(
            judged(503, r#"{"status":"degraded","database":"unreachable"}"#).health,
            Health::Unhealthy
        );
        assert_eq!(
            judged(
                503,
                r#"{"status":"unhealthy","error":"startup failed: database initialization timeout"}"#
            )
            .health,
            Health::StartupFailure
        );
        let text = judged(503, "service starting: phase 3 (database) in progress");
        assert_eq!(
            (text.health, text.phase.as_deref()),
            (Health::Starting, Some("phase 3"))
        );
        assert_eq!(judged(200, "ok").health, Health::Ok);
    }

    /// A health check may tell its state in the body and answer 200 regardless: a body that
    /// says the service is down is believed; one that says it is working in part is not a
    /// failure on a 2xx; free text is not read for it.
    #[test]
    fn a_2xx_whose_body_says_down_is_unhealthy() {
        for body in [
            r#"{"status":"DOWN","components":{"db":{"status":"DOWN"}}}"#,
            r#"{"status":"fail","checks":{}}"#,
            r#"{"status":"unhealthy"}"#,
            r#"{"state":"OUT_OF_SERVICE"}"#,
        ] {
            assert_eq!(judged(200, body).health, Health::Unhealthy, "{body}");
        }
        for body in [
            r#"{"status":"UP"}"#,
            r#"{"status":"pass"}"#,
            r#"{"status":"degraded","cache":"slow"}"#,
            r#"{"status":"warn"}"#,
            "down for nobody: all good",
            "",
        ] {
            assert_eq!(judged(200, body).health, Health::Ok, "{body}");
        }
        assert_eq!(
            judged(503, r#"{"status":"DOWN"}"#).health,
            Health::Unhealthy
        );
    }
}
