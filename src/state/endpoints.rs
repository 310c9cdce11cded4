//! HTTP health endpoints and WebSockets: the newest check of each, latency series, and whether
//! a failure is consistent across tries.

use chrono::{DateTime, Utc};

use super::StateConfig;
use super::log::{EventLog, Level};
use super::stats::{Ring, Sample, Series};
use crate::config::History;
use crate::event::{HttpCheck, WsCheck};

/// Words in a 503 body that mean the service failed to start (from the outage test plan).
pub const STARTUP_FAILURE_WORDS: [&str; 5] = [
    "database",
    "initialization",
    "timeout",
    "cloud sql",
    "startup failed",
];

/// A 503 whose body names the database, initialization, a timeout, Cloud SQL or a failed
/// startup: the service is up enough to answer but could not finish starting.
pub fn is_startup_failure(status: Option<u16>, body: &str) -> bool {
    let lower = body.to_lowercase();
    status == Some(503) && STARTUP_FAILURE_WORDS.iter().any(|w| lower.contains(w))
}

const CHECKS_KEPT: usize = 50;

#[derive(Debug, Clone)]
pub struct PathState {
    pub requested_path: String,
    pub last: Option<(DateTime<Utc>, HttpCheck)>,
    pub series: Series,
    pub checks: Ring<(DateTime<Utc>, HttpCheck)>,
}

/// How many of the last tries failed; consistent at 2 of 3 (two thirds, at least two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consistency {
    pub failed: u32,
    pub of: u32,
    pub consistent: bool,
}

impl PathState {
    pub fn consistency(&self, tries: u32) -> Option<Consistency> {
        let of = (tries.max(1) as usize).min(self.checks.len());
        if of == 0 {
            return None;
        }
        let failed = self
            .checks
            .iter()
            .rev()
            .take(of)
            .filter(|(_, c)| !c.ok)
            .count() as u32;
        let of = of as u32;
        Some(Consistency {
            failed,
            of,
            consistent: failed >= 2 && failed * 3 >= of * 2,
        })
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
        let changed = path
            .last
            .as_ref()
            .is_none_or(|(_, p)| p.ok != c.ok || p.status != c.status);
        if changed && (!c.ok || path.last.is_some()) {
            let level = if c.ok { Level::Info } else { Level::Error };
            let what = match (&c.status, &c.error) {
                (_, Some(e)) if e.class != crate::event::ErrorClass::HttpStatus => {
                    format!("{} — {}", e.class, e.message)
                }
                (Some(s), _) => format!(
                    "HTTP {s}{}",
                    if c.startup_failure {
                        " (startup failure)"
                    } else {
                        ""
                    }
                ),
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
            ok: c.ok,
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

    #[test]
    fn startup_failure_needs_503_and_a_startup_word() {
        assert!(is_startup_failure(
            Some(503),
            "startup failed: database initialization timeout"
        ));
        assert!(is_startup_failure(Some(503), "Cloud SQL unreachable"));
        assert!(!is_startup_failure(Some(503), "maintenance"));
        assert!(!is_startup_failure(Some(500), "database timeout"));
        assert!(!is_startup_failure(None, "database"));
    }
}
