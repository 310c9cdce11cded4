//! The one vocabulary every probe speaks. Probes send `Event`s over a channel; `State::apply`
//! consumes them; a recording is these events as JSON lines. Anything a panel, report or exit
//! code shows must be derivable from a sequence of these.
//!
//! Times inside events are milliseconds as `f64` (microsecond precision is kept); `at` is the
//! wall-clock moment the probe observed the result. Fields are only ever added, with defaults,
//! so older recordings keep replaying.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    /// The remote vantage point (`watch --agent NAME=URL`) that measured it; `None` for this
    /// host's own probes, and absent from their lines so older recordings replay unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vantage: Option<String>,
    #[serde(flatten)]
    pub body: EventBody,
}

impl Event {
    pub fn now(body: EventBody) -> Self {
        Self::at(Utc::now(), body)
    }

    pub fn at(at: DateTime<Utc>, body: EventBody) -> Self {
        Self {
            at,
            vantage: None,
            body,
        }
    }

    /// The same event, as measured from the vantage point `name`.
    pub(crate) fn with_vantage(mut self, name: &str) -> Self {
        self.vantage = Some(name.to_string());
        self
    }
}

/// The probes' events in the order the run takes them. A probe stamps an event when it
/// observes the result, but two probes' events can cross in the channel by microseconds; the
/// order taken is the order the state applies and the recording keeps, so this host's event is
/// never stamped earlier than one taken before it and a recording reads back in order. A remote
/// vantage's events keep their agent's clock.
pub(crate) struct Events {
    rx: mpsc::Receiver<Event>,
    newest: Option<DateTime<Utc>>,
}

impl Events {
    pub(crate) fn new(rx: mpsc::Receiver<Event>) -> Self {
        Self { rx, newest: None }
    }

    /// Cancel-safe, as `mpsc::Receiver::recv` is: nothing changes until an event is taken.
    pub(crate) async fn recv(&mut self) -> Option<Event> {
        let ev = self.rx.recv().await?;
        Some(self.in_order(ev))
    }

    /// An event already waiting, if any.
    pub(crate) fn try_recv(&mut self) -> Option<Event> {
        let ev = self.rx.try_recv().ok()?;
        Some(self.in_order(ev))
    }

    fn in_order(&mut self, mut ev: Event) -> Event {
        if ev.vantage.is_none() {
            let newest = self.newest.map_or(ev.at, |n| n.max(ev.at));
            ev.at = newest;
            self.newest = Some(newest);
        }
        ev
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// One step-timed database connection attempt.
    DbAttempt(DbAttempt),
    /// The initialization probe: one connect-and-warm-up within the initialization timeout.
    Init(InitResult),
    CapacityStarted(CapacityStarted),
    /// One connection of a capacity test, when it has succeeded or failed.
    CapacityConn(CapacityConn),
    CapacityFinished(CapacityFinished),
    /// The pool probe built its sqlx pool and starts borrowing (the application's-eye view).
    PoolStarted(PoolStarted),
    /// The pool probe's figures at an interval (bounded in count per run).
    PoolSample(PoolSample),
    PoolFinished(PoolFinished),
    HttpCheck(HttpCheck),
    WsCheck(WsCheck),
    /// A startup phase changed status, read from the service's log or timed by the rehearsal.
    StartupPhase(StartupPhase),
    /// The service process exited (read from its startup log).
    StartupExit(StartupExit),
    /// How much of the startup log was read and how much matched nothing.
    StartupLog(StartupLog),
    /// Something a probe wants the person to know that is not a measurement.
    Note(Note),
    /// The lab switched scenario.
    LabScenario(LabScenario),
    /// The probes a run selected, sent by the supervisor as it starts them: each must produce
    /// evidence before the verdict may pass.
    ProbesStarted(ProbesStarted),
    /// A probe task ended (sent by the supervisor, also when the probe panicked).
    ProbeEnded(ProbeEnded),
    /// The run as a whole ended (`check`), finished or interrupted by a signal.
    RunEnded(RunEnded),
    /// The link to a remote vantage point (an agent) changed: connecting, live (with the
    /// agent's judging configuration: what follows is its backfill, then live events), lost.
    Vantage(VantageLink),
}

/// Where a connection attempt failed, in the order a connection goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Dns,
    Tcp,
    Tls,
    Handshake,
    Query,
    /// HTTP / WebSocket: the TCP (and TLS) connection as one step.
    Connect,
    FirstByte,
    Body,
    Reply,
    /// Waiting for a connection from a pool (the pool probe's `acquire`).
    Acquire,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Dns => "dns",
            Step::Tcp => "tcp",
            Step::Tls => "tls",
            Step::Handshake => "handshake",
            Step::Query => "query",
            Step::Connect => "connect",
            Step::FirstByte => "first_byte",
            Step::Body => "body",
            Step::Reply => "reply",
            Step::Acquire => "acquire",
        }
    }
}

/// Why something failed, as a word a script can match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    Dns,
    Refused,
    Unreachable,
    Timeout,
    Tls,
    Auth,
    TooManyConnections,
    StartingUp,
    ShuttingDown,
    /// 57P03 "not accepting connections" — DETAIL "Hot standby mode is disabled": a standby
    /// that never takes connections (not a restart).
    NotAccepting,
    DatabaseMissing,
    Protocol,
    HttpStatus,
    Other,
}

impl ErrorClass {
    pub const ALL: [ErrorClass; 14] = [
        ErrorClass::Dns,
        ErrorClass::Refused,
        ErrorClass::Unreachable,
        ErrorClass::Timeout,
        ErrorClass::Tls,
        ErrorClass::Auth,
        ErrorClass::TooManyConnections,
        ErrorClass::StartingUp,
        ErrorClass::ShuttingDown,
        ErrorClass::NotAccepting,
        ErrorClass::DatabaseMissing,
        ErrorClass::Protocol,
        ErrorClass::HttpStatus,
        ErrorClass::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Dns => "dns",
            ErrorClass::Refused => "refused",
            ErrorClass::Unreachable => "unreachable",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Tls => "tls",
            ErrorClass::Auth => "auth",
            ErrorClass::TooManyConnections => "too_many_connections",
            ErrorClass::StartingUp => "starting_up",
            ErrorClass::ShuttingDown => "shutting_down",
            ErrorClass::NotAccepting => "not_accepting",
            ErrorClass::DatabaseMissing => "database_missing",
            ErrorClass::Protocol => "protocol",
            ErrorClass::HttpStatus => "http_status",
            ErrorClass::Other => "other",
        }
    }

    /// The server refused for lack of room (53300); a restarting server is `StartingUp` or
    /// `ShuttingDown`, not this.
    pub(crate) fn is_capacity(self) -> bool {
        matches!(self, ErrorClass::TooManyConnections)
    }

    pub(crate) fn wants_backoff(self) -> bool {
        matches!(
            self,
            ErrorClass::TooManyConnections
                | ErrorClass::StartingUp
                | ErrorClass::ShuttingDown
                | ErrorClass::NotAccepting
        )
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub class: ErrorClass,
    /// The step that failed (for a timeout: the step the deadline hit).
    pub step: Option<Step>,
    /// Postgres SQLSTATE when the server sent an error.
    pub sqlstate: Option<String>,
    /// The server's or the operating system's message, secrets removed.
    pub message: String,
}

impl Failure {
    /// The step, unless the class already says it (`dns at dns` says nothing twice).
    fn distinct_step(&self) -> Option<Step> {
        self.step.filter(|s| s.as_str() != self.class.as_str())
    }

    /// `timeout at tcp [57P03]`: the class, the step it hit, the server's code.
    pub(crate) fn headline(&self) -> String {
        let mut s = self.class.as_str().to_string();
        if let Some(step) = self.distinct_step() {
            s.push_str(" at ");
            s.push_str(step.as_str());
        }
        if let Some(code) = &self.sqlstate {
            s.push_str(&format!(" [{code}]"));
        }
        s
    }

    /// The same in a table column's few cells: `timeout@tcp 57P03`.
    pub(crate) fn compact(&self) -> String {
        let mut s = self.class.as_str().to_string();
        if let Some(step) = self.distinct_step() {
            s.push('@');
            s.push_str(step.as_str());
        }
        if let Some(code) = &self.sqlstate {
            s.push(' ');
            s.push_str(code);
        }
        s
    }
}

/// `timeout at tcp [57P03]: message`.
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.headline(), self.message)
    }
}

/// Step times of a database connection; `None` means the step did not run (e.g. no DNS for an
/// IP address, or the attempt failed before it), never "zero".
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DbSteps {
    pub dns: Option<f64>,
    pub tcp: Option<f64>,
    /// TLS negotiation alone (SSLRequest + handshake); already included in `handshake`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<f64>,
    /// TLS + startup + authentication, until the server is ready for queries.
    pub handshake: Option<f64>,
    pub query: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbAttempt {
    pub seq: u64,
    pub ok: bool,
    pub total_ms: f64,
    pub steps_ms: DbSteps,
    /// The connection timeout in force for this attempt.
    pub timeout_ms: f64,
    pub error: Option<Failure>,
    /// Every connection the attempt opened, when it opened more than one (libpq's host list,
    /// a name's addresses, sslmode's second try); `steps_ms` are the last one's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tries: Vec<ConnTry>,
}

/// One connection within an attempt, in the order libpq would open them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnTry {
    /// `host:port` (with the address when the name has several), or the socket directory.
    pub server: String,
    pub tls: bool,
    pub ok: bool,
    pub ms: f64,
    pub error: Option<Failure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitResult {
    pub ok: bool,
    pub elapsed_ms: f64,
    pub timeout_ms: f64,
    pub steps_ms: DbSteps,
    /// Warm-up queries after connecting (`SELECT 1`, server settings).
    pub warmup_ms: Option<f64>,
    pub server_version: Option<String>,
    pub server_max_connections: Option<u32>,
    pub error: Option<Failure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityStarted {
    pub run: u64,
    /// Connections asked for.
    pub requested: u32,
    /// Connections that will be opened (`min(requested, cap)` unless forced).
    pub planned: u32,
    /// limit × safety margin − reserved buffer.
    pub cap: u32,
    pub capped: bool,
    pub forced: bool,
    pub hold_ms: f64,
    /// Read before the test from a connection of its own; `None` when it could not be read.
    pub server_max_connections: Option<u32>,
    pub server_connections_in_use: Option<u32>,
    pub server_reserved_connections: Option<u32>,
    /// The server's headroom read before the test, and the cap it set (absent in recordings
    /// made before connscope read it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headroom: Option<Headroom>,
}

/// What a server has room for, read before opening many connections (capacity test, pool
/// probe), and the cap that follows: `min(profile cap, floor(free ordinary slots × safety
/// margin))`. Reserved slots (superuser_reserved_connections, reserved_connections) are never
/// counted as free. `None` numbers could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headroom {
    /// The most connections that may be opened without `--force`.
    pub cap: u32,
    /// Why that cap, in words.
    pub reason: String,
    pub profile_cap: u32,
    pub safety_margin: f64,
    pub max_connections: Option<u32>,
    /// superuser_reserved_connections + reserved_connections (PostgreSQL 16+).
    pub reserved_slots: Option<u32>,
    /// Client sessions open (other than the one that read these numbers), counted so that a
    /// role that cannot see other roles' rows in full still counts them.
    pub(crate) sessions_in_use: Option<u32>,
    /// Slots an ordinary login can still take: the smallest of the server's, the role's and
    /// the database's room.
    pub free_ordinary: Option<u32>,
    /// The role's CONNECTION LIMIT and its sessions (none: unlimited, or a superuser).
    pub role_limit: Option<u32>,
    pub role_sessions: Option<u32>,
    /// The database's CONNECTION LIMIT and its sessions.
    pub db_limit: Option<u32>,
    pub db_sessions: Option<u32>,
    /// Ordinary slots left for everyone else while the planned connections are held.
    pub left: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityConn {
    pub run: u64,
    pub index: u32,
    pub ok: bool,
    pub connect_ms: f64,
    pub error: Option<Failure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityFinished {
    pub run: u64,
    pub elapsed_ms: f64,
    /// Stopped early (quit, cancel, or too many refusals and the test backed off).
    pub aborted: bool,
    pub reason: Option<String>,
}

/// A pool probe run: a sqlx `PgPool` built like the service's pool (see `probe::pool`), and
/// the headroom that bounded its size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolStarted {
    pub run: u64,
    /// `pool.size + pool.max_overflow`: what the service's pool may open.
    pub requested: u32,
    /// sqlx `max_connections`: the request, within the headroom's cap unless forced.
    pub max_connections: u32,
    pub(crate) min_connections: u32,
    pub capped: bool,
    pub forced: bool,
    /// sqlx `acquire_timeout` (`timeouts.pool`).
    pub acquire_timeout_ms: f64,
    /// Concurrent borrowers, each acquire → `SELECT 1` (after `hold_ms`) → release.
    pub borrowers: u32,
    pub hold_ms: f64,
    /// How long borrowers start new acquisitions; those in flight then finish.
    pub(crate) duration_ms: f64,
    /// sqlx `max_lifetime` (SQLAlchemy's `pool_recycle`); none: kept for the run.
    pub(crate) max_lifetime_ms: Option<f64>,
    /// sqlx `test_before_acquire` (SQLAlchemy's `pool_pre_ping`).
    pub(crate) test_before_acquire: bool,
    pub headroom: Option<Headroom>,
}

/// The pool probe's figures since its start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PoolFigures {
    /// Acquires that returned a connection.
    pub acquisitions: u64,
    /// Acquires that gave up after the acquire timeout (sqlx `PoolTimedOut`).
    pub timeouts: u64,
    /// Other failures, of an acquire or of the `SELECT 1` on a borrowed connection, by class.
    pub errors: std::collections::BTreeMap<ErrorClass, u64>,
    /// The newest of those failures.
    pub(crate) last_error: Option<Failure>,
    /// From calling acquire until it returned a connection or gave up (timeouts count in full).
    pub wait_p50_ms: Option<f64>,
    pub wait_p95_ms: Option<f64>,
    pub wait_max_ms: Option<f64>,
    /// Connections the pool opened (it may open more than its size when it replaces some).
    pub opened: u32,
    /// Open connections and idle ones when counted.
    pub size: u32,
    pub idle: u32,
}

impl PoolFigures {
    pub(crate) fn errors_total(&self) -> u64 {
        self.errors.values().sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolSample {
    pub run: u64,
    /// Since the run started.
    pub elapsed_ms: f64,
    /// Acquires that finished within this interval (for the waits chart).
    pub acquired: u64,
    pub timeouts: u64,
    pub errors: u64,
    pub wait_p95_ms: Option<f64>,
    pub wait_max_ms: Option<f64>,
    /// Borrowers waiting in acquire at the sample, and the longest of their waits so far.
    pub waiting: u32,
    pub(crate) longest_wait_ms: f64,
    pub(crate) totals: PoolFigures,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolFinished {
    pub run: u64,
    pub elapsed_ms: f64,
    pub(crate) totals: PoolFigures,
    /// Stopped before its duration (cancelled, stopped from the dashboard, or it could not
    /// run: nothing opened, a connection string sqlx cannot take).
    pub aborted: bool,
    pub reason: Option<String>,
}

impl PoolFinished {
    /// The reason of a run ended by quitting or a signal.
    pub(crate) const CANCELLED: &'static str = "cancelled";
    /// The reason of a run stopped from the dashboard (`o`).
    pub(crate) const STOPPED: &'static str = "stopped from the dashboard";
}

/// HTTP step times, all measured on the request's own connection (see `probe::http`): `dns`,
/// `connect` (TCP) and `tls` are durations of those steps; `first_byte` (until the response
/// headers) and `total` (until the bounded body was read) are counted from the request's start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpSteps {
    pub dns: Option<f64>,
    pub connect: Option<f64>,
    pub tls: Option<f64>,
    pub first_byte: Option<f64>,
    pub total: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpCheck {
    pub endpoint: String,
    /// The base URL, credentials and query values removed.
    pub url: String,
    /// The path actually answered (after a fallback, `/health`).
    pub path: String,
    /// The path that was asked for first.
    pub requested_path: String,
    pub fell_back: bool,
    /// 1-based try number of `tries`.
    pub attempt: u32,
    pub tries: u32,
    pub status: Option<u16>,
    pub ok: bool,
    pub latency_ms: f64,
    pub steps_ms: HttpSteps,
    pub timeout_ms: f64,
    /// Written by connscope before 0.2; no longer written or read: the state judges a 503 from
    /// `status` and `body_excerpt` (see `state::endpoints::health`). Kept so old recordings parse.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub startup_failure: bool,
    pub body_excerpt: Option<String>,
    pub error: Option<Failure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WsCheck {
    pub url: String,
    pub ok: bool,
    pub connect_ms: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub reply_excerpt: Option<String>,
    pub error: Option<Failure>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartupSource {
    /// The service's own startup log.
    Log,
    /// connscope's own run of the same phases against the same dependencies.
    Rehearsal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseStatus {
    Started,
    Completed,
    Failed,
    /// Nothing to do for this phase (the rehearsal has no step for it, or nothing configured).
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartupPhase {
    pub source: StartupSource,
    /// 1-based phase number in the configured sequence.
    pub phase: u8,
    pub name: String,
    pub status: PhaseStatus,
    /// When it happened according to the log (or the rehearsal's clock).
    pub ts: DateTime<Utc>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartupExit {
    pub source: StartupSource,
    pub code: i32,
    pub ts: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartupLog {
    /// What is being read: a path, `stdin`, or the command (secrets removed).
    pub source: String,
    pub lines: u64,
    pub skipped: u64,
    /// The log ended (file fully read in `check`, command exited, stdin closed).
    pub ended: bool,
    /// The format the log turned out to be written in (`json`, `cloud-logging`, `logfmt`,
    /// `text`, `regex`), once a line of it gave an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteLevel {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub probe: String,
    pub level: NoteLevel,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabScenario {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbesStarted {
    /// Probe names as `--only` spells them (`db`, `init`, `capacity`, …).
    pub probes: Vec<String>,
}

/// How a probe task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeEnd {
    /// It returned by itself (`check`: its work is done).
    Finished,
    /// It was cancelled (quit, a signal, the end of the run).
    Cancelled,
    /// It panicked: a bug, never evidence about what it probes.
    Panicked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeEnded {
    pub probe: String,
    pub how: ProbeEnd,
    /// The panic message, secrets removed.
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEnded {
    /// A signal (SIGINT / SIGTERM) stopped the run before its probes finished.
    pub interrupted: bool,
}

/// How the attach client's link to an agent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    /// Not connected yet (the first try is under way).
    Connecting,
    /// Connected: the agent's events arrive as they happen.
    Live,
    /// The connection failed or ended; the client is reconnecting with back-off.
    Lost,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VantageLink {
    pub status: LinkStatus,
    /// The agent's URL, credentials removed.
    pub url: String,
    /// Why it was lost (or what it is waiting for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `live`: the agent's recording header's judging configuration. The vantage starts over
    /// from here: the agent's backfill (its last `history` window) follows, then live events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Box<crate::state::StateConfig>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note_at(at: &str) -> Event {
        Event::at(
            at.parse().expect("valid time"),
            EventBody::Note(Note {
                probe: "db".into(),
                level: NoteLevel::Info,
                message: "x".into(),
            }),
        )
    }

    /// Two probes' events crossed in the channel: the later-taken one is stamped no earlier
    /// than the one before it; a remote vantage's keeps its agent's clock.
    #[test]
    fn events_are_taken_in_order_of_their_stamps() {
        let (tx, rx) = mpsc::channel(4);
        let mut events = Events::new(rx);
        for ev in [
            note_at("2026-11-25T10:00:00.000002Z"),
            note_at("2026-11-25T10:00:00.000001Z"),
            note_at("2026-11-25T09:00:00Z").with_vantage("eu"),
            note_at("2026-11-25T10:00:01Z"),
        ] {
            tx.try_send(ev).expect("room");
        }
        let at: Vec<String> = std::iter::from_fn(|| events.try_recv())
            .map(|e| e.at.to_rfc3339())
            .collect();
        assert_eq!(
            at,
            [
                "2026-11-25T10:00:00.000002+00:00",
                "2026-11-25T10:00:00.000002+00:00",
                "2026-11-25T09:00:00+00:00",
                "2026-11-25T10:00:01+00:00",
            ]
        );
    }

    #[test]
    fn an_event_is_one_flat_json_object_tagged_by_kind() {
        let ev = Event::at(
            "2026-11-25T10:00:00Z".parse().expect("valid time"),
            EventBody::Note(Note {
                probe: "db".into(),
                level: NoteLevel::Warn,
                message: "x".into(),
            }),
        );
        let line = serde_json::to_string(&ev).expect("serialises");
        assert_eq!(
            line,
            r#"{"at":"2026-11-25T10:00:00Z","kind":"note","probe":"db","level":"warn","message":"x"}"#
        );
        let back: Event = serde_json::from_str(&line).expect("parses");
        assert_eq!(back, ev);
        let remote = ev.clone().with_vantage("vpc");
        let line = serde_json::to_string(&remote).expect("serialises");
        assert!(line.starts_with(r#"{"at":"2026-11-25T10:00:00Z","vantage":"vpc","kind":"note""#));
        assert_eq!(
            serde_json::from_str::<Event>(&line).expect("parses"),
            remote
        );
    }

    #[test]
    fn a_failure_says_its_step_only_when_the_class_does_not() {
        let f = |class, step| Failure {
            class,
            step: Some(step),
            sqlstate: None,
            message: String::new(),
        };
        assert_eq!(f(ErrorClass::Dns, Step::Dns).headline(), "dns");
        assert_eq!(
            f(ErrorClass::Timeout, Step::Tcp).headline(),
            "timeout at tcp"
        );
        assert_eq!(f(ErrorClass::Tls, Step::Tls).compact(), "tls");
        assert_eq!(f(ErrorClass::Timeout, Step::Dns).compact(), "timeout@dns");
    }
}
