//! The likely cause in plain words, with the evidence beside it. Rules read the state only;
//! each names what it saw so a person can check the reasoning rather than trust it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::State;
use super::endpoints::{Health, health};
use super::startup::{StartupRun, Track};
use crate::event::{DbAttempt, ErrorClass, Step};
use crate::units;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Confidence {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub cause: String,
    pub(crate) confidence: Confidence,
    pub evidence: Vec<String>,
    /// The oldest and newest evidence behind it.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Newer evidence contradicts it (the database answers again, the service started): it
    /// is told in the past tense and judges nothing.
    pub past: bool,
    /// The remote vantage point it was found at (`watch --agent`); absent for this host's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vantage: Option<String>,
}

impl Finding {
    pub(crate) fn present(rule: &'static str, cause: String, confidence: Confidence) -> Self {
        Self {
            rule,
            cause,
            confidence,
            evidence: Vec::new(),
            since: None,
            until: None,
            past: false,
            vantage: None,
        }
    }

    pub(crate) fn evidence(mut self, evidence: Vec<String>) -> Self {
        self.evidence = evidence;
        self
    }

    pub(crate) fn during(
        mut self,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Self {
        self.since = since;
        self.until = until;
        self
    }

    pub(crate) fn past(mut self) -> Self {
        self.past = true;
        self
    }
}

/// The attempts that judge "now", each with its time.
type Recent<'a> = [(DateTime<Utc>, &'a DbAttempt)];

/// Failures of one kind among the recent attempts.
struct Seen<'a> {
    count: usize,
    of: usize,
    example: Option<&'a DbAttempt>,
    /// TCP connect times of the matching attempts that got that far.
    tcp_times: Vec<f64>,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

impl Seen<'_> {
    fn confidence(&self) -> Confidence {
        if self.count >= 3 || (self.of > 0 && self.count * 2 >= self.of && self.count >= 2) {
            Confidence::High
        } else if self.count >= 2 {
            Confidence::Medium
        } else {
            Confidence::Low
        }
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{} of the last {}: {what}",
            self.count,
            units::count(self.of as u64, "attempt")
        )
    }
}

fn seen<'a>(attempts: &Recent<'a>, pred: impl Fn(&DbAttempt) -> bool) -> Seen<'a> {
    let hits: Vec<&(DateTime<Utc>, &DbAttempt)> =
        attempts.iter().filter(|(_, a)| pred(a)).collect();
    Seen {
        count: hits.len(),
        of: attempts.len(),
        example: hits.first().map(|(_, a)| *a),
        tcp_times: hits.iter().filter_map(|(_, a)| a.steps_ms.tcp).collect(),
        first: hits.first().map(|(t, _)| *t),
        last: hits.last().map(|(t, _)| *t),
    }
}

fn class_is(a: &DbAttempt, class: ErrorClass) -> bool {
    a.error.as_ref().is_some_and(|e| e.class == class)
}

fn timeout_at(a: &DbAttempt, steps: &[Step]) -> bool {
    a.error.as_ref().is_some_and(|e| {
        e.class == ErrorClass::Timeout && e.step.is_some_and(|s| steps.contains(&s))
    })
}

fn example_msg(s: &Seen<'_>) -> Option<String> {
    let e = s.example?.error.as_ref()?;
    let code = e
        .sqlstate
        .as_deref()
        .map(|c| format!("SQLSTATE {c}: "))
        .unwrap_or_default();
    // Only a server error is the server's word; timeouts and OS errors are ours.
    let who = if e.sqlstate.is_some() {
        "server said"
    } else {
        "error"
    };
    Some(format!("{who}: {code}{}", e.message))
}

fn mean(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = v.fold((0.0, 0u32), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / f64::from(n))
}

/// Every finding, present ones first (most confident first), then history.
pub(crate) fn diagnose(s: &State, now: Option<DateTime<Utc>>) -> Vec<Finding> {
    let attempts = s.db.now_attempts(s.cfg.alerts.window as usize);
    let mut out = Vec::new();
    network_path(s, &attempts, &mut out);
    server_side(&attempts, &mut out);
    capacity_test(s, &mut out);
    out.extend(super::pool::judge::finding(s));
    service_path(s, &attempts, &mut out);
    startup_signature(s, now, &mut out);
    init_timing(s, &mut out);
    past_outages(s, &mut out);
    out.sort_by_key(|f| (f.past, std::cmp::Reverse(f.confidence)));
    out
}

/// How many ended outages the diagnosis tells about (the log keeps every one).
const PAST_OUTAGES_TOLD: usize = 3;

/// Outages that have ended: what they were, in the past tense, with their times.
fn past_outages(s: &State, out: &mut Vec<Finding>) {
    for o in s.db.outages.iter().rev().take(PAST_OUTAGES_TOLD).rev() {
        let Some(back) = o.recovered_at else { continue };
        let cause = format!(
            "The database was down {}–{} UTC ({}): {} failed ({}); it has answered since {} UTC",
            units::clock(o.from),
            units::clock(o.to),
            units::span(units::secs_between(o.from, back)),
            units::count(o.failed, "attempt"),
            o.classes_text(),
            units::clock(back)
        );
        out.push(
            Finding::present("db_outage", cause, Confidence::High)
                .during(Some(o.from), Some(o.to))
                .past(),
        );
    }
}

fn push(
    out: &mut Vec<Finding>,
    rule: &'static str,
    cause: &str,
    seen: &Seen<'_>,
    mut evidence: Vec<String>,
) {
    if seen.count == 0 {
        return;
    }
    evidence.extend(example_msg(seen));
    out.push(
        Finding::present(rule, cause.into(), seen.confidence())
            .evidence(evidence)
            .during(seen.first, seen.last),
    );
}

/// A rule told by one kind of failure and one line of evidence: its name, the cause, what was
/// seen, and which attempts show it.
type OneLine = (
    &'static str,
    &'static str,
    &'static str,
    fn(&DbAttempt) -> bool,
);

fn one_line(a: &Recent<'_>, out: &mut Vec<Finding>, rules: &[OneLine]) {
    for &(rule, cause, what, matches) in rules {
        let hits = seen(a, matches);
        push(out, rule, cause, &hits, vec![hits.line(what)]);
    }
}

const NETWORK_FAILURES: [OneLine; 5] = [
    (
        "query_timeout",
        "Connections open but `SELECT 1` does not answer — the server is overloaded or blocked",
        "timed out running SELECT 1",
        |x| timeout_at(x, &[Step::Query]),
    ),
    (
        "dns",
        "The database host name does not resolve — DNS, or a wrong host name",
        "name resolution failed",
        |x| class_is(x, ErrorClass::Dns) || timeout_at(x, &[Step::Dns]),
    ),
    (
        "refused",
        "Nothing is listening at the database address — the server is down, or the host / port / socket is wrong",
        "connection refused",
        |x| class_is(x, ErrorClass::Refused),
    ),
    (
        "unreachable",
        "No route to the database host — network or firewall configuration",
        "host or network unreachable",
        |x| class_is(x, ErrorClass::Unreachable),
    ),
    (
        "reset",
        "Connections are cut during startup — a proxy or connector between here and the server is dropping them",
        "connection reset or closed mid-handshake",
        |x| class_is(x, ErrorClass::Protocol),
    ),
];

fn network_path(s: &State, a: &Recent<'_>, out: &mut Vec<Finding>) {
    let avg = s.db.step_averages();
    let dns_ok = a.iter().any(|(_, x)| x.steps_ms.dns.is_some()) || avg.dns.is_some();
    let tcp_to = seen(a, |x| timeout_at(x, &[Step::Tcp]));
    let dns_note = if dns_ok {
        "the name resolves (DNS fine)".to_string()
    } else {
        "the host is an address (no DNS step)".to_string()
    };
    push(
        out,
        "tcp_timeout",
        "Network path to the database: TCP connections time out — the VPC connector, a firewall or routing is \
         dropping them before they reach the server",
        &tcp_to,
        vec![dns_note, tcp_to.line("TCP connect timed out")],
    );
    let hs_to = seen(a, |x| timeout_at(x, &[Step::Tls, Step::Handshake]));
    push(
        out,
        "handshake_timeout",
        "The server accepts TCP but does not finish the handshake in time — the server is overloaded or the \
         connector is saturated",
        &hs_to,
        vec![
            format!(
                "TCP connects in {} (average of these attempts)",
                units::opt_ms(mean(hs_to.tcp_times.iter().copied()))
            ),
            hs_to.line("timed out after TCP connected (TLS / startup / auth)"),
        ],
    );
    one_line(a, out, &NETWORK_FAILURES);
}

const RESTART_OR_STANDBY: [OneLine; 2] = [
    (
        "restarting",
        "The database is starting up or shutting down (SQLSTATE 57P03) — a restart or failover",
        "server not accepting connections yet",
        |x| class_is(x, ErrorClass::StartingUp) || class_is(x, ErrorClass::ShuttingDown),
    ),
    (
        "standby",
        "The server is a standby with hot_standby = off (SQLSTATE 57P03, \"Hot standby mode is disabled\") — it \
         takes no connections until promoted; point at the primary",
        "server not accepting connections (standby)",
        |x| class_is(x, ErrorClass::NotAccepting),
    ),
];

const TLS_OR_MISSING: [OneLine; 2] = [
    (
        "tls",
        "TLS: the certificate is not trusted or sslmode does not match what the server offers",
        "TLS negotiation failed",
        |x| class_is(x, ErrorClass::Tls),
    ),
    (
        "database_missing",
        "The database named in the connection string does not exist (3D000)",
        "database does not exist",
        |x| class_is(x, ErrorClass::DatabaseMissing),
    ),
];

/// The order is the order findings of equal confidence are listed in.
fn server_side(a: &Recent<'_>, out: &mut Vec<Finding>) {
    capacity(a, out);
    one_line(a, out, &RESTART_OR_STANDBY);
    auth(a, out);
    one_line(a, out, &TLS_OR_MISSING);
}

fn capacity(a: &Recent<'_>, out: &mut Vec<Finding>) {
    let cap = seen(a, |x| class_is(x, ErrorClass::TooManyConnections));
    if cap.count == 0 {
        return;
    }
    let post_auth = cap
        .example
        .and_then(|x| x.error.as_ref())
        .is_some_and(super::pool::after_authentication);
    let when = if post_auth {
        "refused after authentication: the slots left are reserved (or the role's limit is reached)"
    } else {
        "refused before authentication: every connection slot is taken"
    };
    push(
        out,
        "capacity",
        "Database connection capacity is exhausted (SQLSTATE 53300)",
        &cap,
        vec![cap.line("too many connections"), when.to_string()],
    );
}

fn auth(a: &Recent<'_>, out: &mut Vec<Finding>) {
    let auth = seen(a, |x| class_is(x, ErrorClass::Auth));
    let error = auth.example.and_then(|x| x.error.as_ref());
    let code = error.and_then(|e| e.sqlstate.clone()).unwrap_or_default();
    let no_password = error.is_some_and(|e| e.message.contains("no password supplied"));
    let why = if code == "28P01" {
        "the password was rejected (28P01)"
    } else if no_password {
        "the server asks for a password and none was supplied (connection string, PGPASSWORD, a private ~/.pgpass)"
    } else {
        "no pg_hba.conf entry allows this user / host / database, or the auth method failed (28000)"
    };
    push(
        out,
        "auth",
        "Credentials or pg_hba.conf: the server refuses this login",
        &auth,
        vec![auth.line("authentication failed"), why.to_string()],
    );
}

fn capacity_test(s: &State, out: &mut Vec<Finding>) {
    let Some(run) = &s.capacity.last else { return };
    if run.capacity_errors == 0 {
        return;
    }
    let max = run
        .started
        .server_max_connections
        .map_or("unknown".into(), |m| m.to_string());
    let used = run
        .started
        .server_connections_in_use
        .map_or("unknown".into(), |m| m.to_string());
    let confidence = if run.capacity_errors * 10 > run.attempted * 3 {
        Confidence::High
    } else {
        Confidence::Medium
    };
    let evidence = vec![
        format!(
            "{} of {} concurrent connections refused for capacity",
            run.capacity_errors, run.attempted
        ),
        format!("server max_connections {max}, {used} in use before the test"),
    ];
    let until = run.finished.as_ref().map(|(t, _)| *t);
    let f = match &run.superseded {
        None => Finding::present(
            "capacity_test",
            "Database connection capacity is exhausted under concurrent load (SQLSTATE 53300)"
                .into(),
            confidence,
        ),
        Some((_, why)) => Finding::present(
            "capacity_test",
            format!(
                "A capacity test at {} UTC found connection capacity exhausted (SQLSTATE 53300) — before {why}",
                units::clock(run.started_at)
            ),
            confidence,
        )
        .past(),
    };
    out.push(
        f.evidence(evidence)
            .during(Some(run.started_at), until.or(Some(run.started_at))),
    );
}

/// The health checks whose newest answer is a startup failure, grouped by what they said:
/// the same 503 body from six paths is one piece of evidence, not six. With the time of the
/// oldest and newest of them.
fn startup_failures(s: &State) -> (Vec<String>, Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let (mut first, mut last) = (None, None);
    for e in &s.endpoints.endpoints {
        for p in &e.paths {
            let Some((at, c)) = &p.last else { continue };
            if health(c).health != Health::StartupFailure {
                continue;
            }
            first = Some(first.map_or(*at, |f: DateTime<Utc>| f.min(*at)));
            last = Some(last.map_or(*at, |l: DateTime<Utc>| l.max(*at)));
            let said = excerpt(c.body_excerpt.as_deref().unwrap_or(""), 100);
            let said = format!("{} {said}", c.status.unwrap_or(0));
            let who = format!("{} {}", e.name, c.path);
            match groups.iter_mut().find(|(b, _)| *b == said) {
                Some((_, names)) => names.push(who),
                None => groups.push((said, vec![who])),
            }
        }
    }
    let lines = groups
        .into_iter()
        .map(|(said, names)| format!("{} answered {said}", names.join(", ")))
        .collect();
    (lines, first, last)
}

/// The first `max` characters of a body on one line.
fn excerpt(body: &str, max: usize) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// Needs failure evidence: answers that name a failed startup, never a service that is
/// simply still starting.
fn service_path(s: &State, a: &Recent<'_>, out: &mut Vec<Finding>) {
    let (failing, first, last) = startup_failures(s);
    if failing.is_empty() {
        return;
    }
    let ok = a.iter().filter(|(_, x)| x.ok).count();
    let mut evidence = failing;
    evidence.push(if a.is_empty() {
        "no database attempts from this host to compare with".to_string()
    } else {
        format!(
            "from this host {ok} of the last {} succeeded",
            units::count(a.len() as u64, "database attempt")
        )
    });
    let (rule, cause, confidence) = if !a.is_empty() && ok * 10 >= a.len() * 9 {
        (
            "service_path",
            "The service cannot reach the database although this host can — the service's own path to it \
             (its VPC connector, credentials or configuration) is broken",
            Confidence::High,
        )
    } else if !a.is_empty() && ok == 0 {
        (
            "shared_path",
            "Neither the service nor this host can reach the database — the database, or the path both share \
             to it (connector, network), is down; the service's 503s are a consequence",
            Confidence::High,
        )
    } else {
        (
            "service_startup",
            "The service reports a database startup failure (503)",
            Confidence::Medium,
        )
    };
    out.push(
        Finding::present(rule, cause.into(), confidence)
            .evidence(evidence)
            .during(first, last),
    );
}

/// Is `elapsed` close to the configured timeout (≥ 0.9 × timeout, ≤ timeout + 20 s)?
pub(crate) fn near_timeout(elapsed_s: f64, timeout_s: f64) -> bool {
    elapsed_s >= 0.9 * timeout_s && elapsed_s <= timeout_s + 20.0
}

/// The newest database-phase failure of a track: the current run's, or — while a restart is
/// under way — the previous run's.
struct PhaseFailure {
    number: usize,
    name: String,
    after_s: f64,
    exit: Option<i32>,
    /// When it failed (the exit, or the phase's end).
    at: Option<DateTime<Utc>>,
    /// The failure was a timeout (by its message): only then is "far from the configured
    /// timeout" a finding — a refused connection fails fast for a different reason.
    timed_out: bool,
}

fn mentions_timeout(message: Option<&str>) -> bool {
    message.is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        m.contains("timeout") || m.contains("timed out") || m.contains("no answer")
    })
}

/// The newest database-phase failure, and whether a newer run has completed since (then it
/// is history).
fn latest_database_failure(
    track: &Track,
    now: Option<DateTime<Utc>>,
) -> Option<(PhaseFailure, bool)> {
    let current = track.current.as_ref()?;
    if let Some((idx, name, after_s)) = database_phase_failure(current, now) {
        let f = PhaseFailure {
            number: idx + 1,
            name,
            after_s,
            exit: current.exit.map(|(c, _)| c),
            at: current.exit.map(|(_, t)| t).or(current.phases[idx].ended),
            timed_out: mentions_timeout(current.phases[idx].message.as_deref()),
        };
        return Some((f, false));
    }
    let prev = track.previous.last()?;
    let number = prev.failed_phase_number?;
    let name = prev.failed_phase.clone()?;
    let is_db = name.eq_ignore_ascii_case("database") || number == 3;
    is_db.then(|| {
        let f = PhaseFailure {
            number,
            name,
            after_s: prev.failed_after_s.unwrap_or(0.0),
            exit: prev.exit_code,
            at: prev.ended_at,
            timed_out: mentions_timeout(prev.failed_message.as_deref()),
        };
        (f, current.complete())
    })
}

fn startup_signature(s: &State, now: Option<DateTime<Utc>>, out: &mut Vec<Finding>) {
    let init_s = s.cfg.initialization_timeout.as_secs_f64();
    for track in [&s.startup.log, &s.startup.rehearsal] {
        let Some((f, over)) = latest_database_failure(track, now) else {
            continue;
        };
        let restarts = track.runs.saturating_sub(1);
        let mut evidence = vec![format!(
            "phase {} ({}) failed after {:.1} s; initialization timeout {init_s:.1} s",
            f.number, f.name, f.after_s
        )];
        if let Some(c) = f.exit {
            evidence.push(format!("the service exited with code {c}"));
        }
        if restarts > 0 {
            evidence.push(format!(
                "{} seen in the log",
                units::count(restarts, "restart")
            ));
        }
        let finding = if near_timeout(f.after_s, init_s) && f.exit == Some(3) {
            signature(over)
        } else if f.timed_out && !near_timeout(f.after_s, init_s) {
            evidence.push("expected between 0.9 × timeout and timeout + 20 s".into());
            timeout_mismatch(f.after_s, init_s, over)
        } else {
            continue;
        };
        let finding = finding.evidence(evidence).during(f.at, f.at);
        out.push(if over { finding.past() } else { finding });
    }
}

fn signature(over: bool) -> Finding {
    let cause = if over {
        "The outage's signature was seen: the database phase ran out its initialization timeout and the \
         service exited with code 3 — a newer run has since completed every phase"
    } else {
        "The outage's signature: the database phase runs out its initialization timeout and the \
         service exits with code 3 (then restarts) — it cannot get a database connection at startup; \
         the other findings say why"
    };
    Finding::present("outage_signature", cause.into(), Confidence::High)
}

fn timeout_mismatch(after_s: f64, init_s: f64, over: bool) -> Finding {
    let tail = if over {
        " — a newer run has since completed every phase"
    } else {
        " — the service runs with a different timeout than configured, or something else cut it short"
    };
    Finding::present(
        "startup_timeout_mismatch",
        format!(
            "The database phase failed after {after_s:.1} s, far from the configured {init_s:.0} s \
             initialization timeout{tail}"
        ),
        Confidence::Medium,
    )
}

fn database_phase_failure(
    run: &StartupRun,
    now: Option<DateTime<Utc>>,
) -> Option<(usize, String, f64)> {
    let verdicts = run.verdicts(now);
    let clock = run.clock(now);
    run.phases.iter().enumerate().find_map(|(i, p)| {
        let is_db = p.name.eq_ignore_ascii_case("database") || i == 2;
        // A stalled phase never ended: not a timeout that fired early or late.
        (is_db && verdicts[i] == super::startup::PhaseVerdict::Failed)
            .then(|| (i, p.name.clone(), p.duration_s(clock).unwrap_or(0.0)))
    })
}

fn init_timing(s: &State, out: &mut Vec<Finding>) {
    let Some((at, r)) = &s.init else { return };
    let Some(e) = &r.error else { return };
    if e.class != ErrorClass::Timeout {
        return;
    }
    let (el, to) = (r.elapsed_ms / 1000.0, r.timeout_ms / 1000.0);
    if near_timeout(el, to) {
        return;
    }
    let cause = format!(
        "The initialization attempt timed out after {el:.1} s, far from its {to:.0} s limit — a timeout on the path \
         (connector, proxy or server) fired {}",
        if el < to { "first" } else { "late" }
    );
    out.push(
        Finding::present("init_timeout_mismatch", cause, Confidence::Medium)
            .evidence(vec![
                format!(
                    "timed out at step {}",
                    e.step.map_or("unknown", |s| s.as_str())
                ),
                format!(
                    "{} — expected between {:.1} s and {:.1} s",
                    e.message,
                    0.9 * to,
                    to + 20.0
                ),
            ])
            .during(Some(*at), Some(*at)),
    );
}

#[cfg(test)]
mod tests {
    use super::{diagnose, near_timeout};
    use crate::event::{DbSteps, ErrorClass, Step};
    use crate::state::fixtures::{build, failed_attempt, failure, staging_config};

    #[test]
    fn a_standby_without_hot_standby_is_not_called_a_restart() {
        let f = failure(
            ErrorClass::NotAccepting,
            Step::Handshake,
            Some("57P03"),
            "the database system is not accepting connections — DETAIL: Hot standby mode is disabled.",
        );
        let events: Vec<_> = (1u32..=3)
            .map(|i| {
                (
                    f64::from(i),
                    failed_attempt(u64::from(i), 2.0, DbSteps::default(), f.clone()),
                )
            })
            .collect();
        let rules: Vec<&str> = diagnose(&build(staging_config(), &events), None)
            .iter()
            .map(|x| x.rule)
            .collect();
        assert!(
            rules.contains(&"standby") && !rules.contains(&"restarting"),
            "{rules:?}"
        );
    }

    #[test]
    fn no_password_supplied_is_said_as_such() {
        let f = failure(
            ErrorClass::Auth,
            Step::Handshake,
            None,
            "fe_sendauth: no password supplied",
        );
        let events = [(1.0, failed_attempt(1, 2.0, DbSteps::default(), f))];
        let findings = diagnose(&build(staging_config(), &events), None);
        let auth = findings
            .iter()
            .find(|x| x.rule == "auth")
            .expect("an auth finding");
        assert!(
            auth.evidence
                .iter()
                .any(|e| e.contains("none was supplied")),
            "{auth:?}"
        );
    }

    #[test]
    fn near_timeout_window() {
        assert!(near_timeout(75.0, 75.0));
        assert!(near_timeout(67.5, 75.0));
        assert!(!near_timeout(67.4, 75.0));
        assert!(near_timeout(95.0, 75.0));
        assert!(!near_timeout(95.1, 75.0));
    }
}
