//! The effective configuration: one typed tree that profiles, the config file, environment
//! variables and flags are all merged into (see `layers.rs`). Every field here can be set in
//! TOML; `deny_unknown_fields` turns typos into located errors instead of silent defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration as dur;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Which built-in profile the values below started from.
    pub environment: String,
    /// Cloud SQL behind a VPC connector: turns on capacity-aware timeouts and minimums.
    #[serde(default)]
    pub cloud_sql: bool,
    pub timeouts: Timeouts,
    #[serde(default)]
    pub minimums: Option<Minimums>,
    #[serde(default)]
    pub capacity_aware: Option<CapacityAware>,
    #[serde(default)]
    pub vpc_connector: Option<VpcConnector>,
    pub pool: Pool,
    #[serde(default)]
    pub database: Database,
    #[serde(default)]
    pub capacity: Capacity,
    /// The application's-eye view: a sqlx pool sized like the service's, under a light load.
    #[serde(default)]
    pub pool_probe: PoolProbe,
    #[serde(default)]
    pub health: Health,
    #[serde(default)]
    pub websocket: WebSocket,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// Extra WebSocket URLs not tied to an endpoint.
    #[serde(default)]
    pub websockets: Vec<String>,
    #[serde(default)]
    pub startup: Startup,
    #[serde(default)]
    pub alerts: AlertRules,
    #[serde(default)]
    pub targets: Targets,
    #[serde(default)]
    pub history: History,
    #[serde(default)]
    pub ui: Ui,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(with = "dur")]
    pub initialization: Duration,
    #[serde(with = "dur")]
    pub connection: Duration,
    #[serde(with = "dur")]
    pub pool: Duration,
    #[serde(with = "dur")]
    pub health_check: Duration,
}

/// Floors that guard against the earlier regression (timeouts too short for the connector).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Minimums {
    #[serde(with = "dur")]
    pub initialization: Duration,
    #[serde(with = "dur")]
    pub connection: Duration,
}

/// `base + vpc_scaling_buffer + capacity_buffer × base` in Cloud SQL environments.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CapacityAware {
    #[serde(with = "dur")]
    pub(crate) vpc_scaling_buffer: Duration,
    pub(crate) capacity_buffer: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VpcConnector {
    pub(crate) throughput_baseline_gbps: f64,
    pub(crate) throughput_max_gbps: f64,
    #[serde(with = "dur")]
    pub(crate) scaling_delay: Duration,
    pub concurrent_connection_limit: u32,
    pub(crate) capacity_pressure_threshold: f64,
    pub(crate) monitoring: bool,
}

/// The service's connection-pool profile; its margin and reserve bound the capacity test.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    pub size: u32,
    pub max_overflow: u32,
    #[serde(with = "dur")]
    pub timeout: Duration,
    /// Connections kept free as the VPC connector's scaling buffer.
    pub(crate) reserved_for_scaling: u32,
    /// Use at most this fraction of the concurrent-connection limit.
    pub safety_margin: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `postgres://user@host:port/db`, `postgres://user@/db?host=/cloudsql/P:R:I`, or libpq
    /// `key=value` form. A password here is accepted but never printed.
    pub url: Option<String>,
    /// Kept separate from the URL so the file can be shared; prefer PGPASSWORD or ~/.pgpass.
    pub password: Option<String>,
    pub attempts: u32,
    #[serde(with = "dur")]
    pub interval: Duration,
    /// Wait at most this long after a run of harmful failures (53300, 57P03, timeouts after
    /// TCP) before the next attempt; short, so `watch` sees recovery quickly.
    #[serde(with = "dur")]
    pub max_backoff: Duration,
    pub application_name: String,
    #[serde(with = "dur")]
    pub statement_timeout: Duration,
}

impl Default for Database {
    fn default() -> Self {
        Self {
            url: None,
            password: None,
            attempts: 5,
            interval: Duration::from_secs(2),
            max_backoff: Duration::from_secs(10),
            application_name: "connscope".into(),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Capacity {
    /// Connections to open at once.
    pub connections: u32,
    #[serde(with = "dur")]
    pub hold: Duration,
    /// Concurrent-connection limit when there is no VPC connector profile to take it from.
    pub(crate) concurrent_limit: Option<u32>,
}

impl Default for Capacity {
    fn default() -> Self {
        Self {
            connections: 10,
            hold: Duration::from_secs(1),
            concurrent_limit: None,
        }
    }
}

/// The pool probe (`--only pool`, `o` in the dashboard): a sqlx pool of `pool.size +
/// pool.max_overflow` connections with `timeouts.pool` as its acquire timeout, borrowed from by
/// `borrowers` tasks for `duration`. Never part of "every probe": it opens many connections.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PoolProbe {
    /// Run it in `check` and at the dashboard's start without `--only pool`.
    pub(crate) enabled: bool,
    /// Concurrent borrowers; none: the pool's size + overflow, plus 20 % (rounded up).
    pub borrowers: Option<u32>,
    /// How long each borrower holds its connection before `SELECT 1`.
    #[serde(with = "dur")]
    pub hold: Duration,
    /// How long borrowers start new acquisitions (those in flight then finish).
    #[serde(with = "dur")]
    pub duration: Duration,
    /// Each borrower's pause between a release and its next acquire (±50 % jitter), so the
    /// load stays light: 30 borrowers make at most ~600 acquisitions a second.
    #[serde(with = "dur")]
    pub pause: Duration,
    /// SQLAlchemy's `pool_recycle` (sqlx `max_lifetime`); none: connections are kept.
    #[serde(default, with = "dur::option")]
    pub recycle: Option<Duration>,
    /// SQLAlchemy's `pool_pre_ping` (sqlx `test_before_acquire`).
    pub pre_ping: bool,
    /// An acquire wait (p95) above this warns; none: a tenth of the acquire timeout.
    #[serde(default, with = "dur::option")]
    pub(crate) warn_wait: Option<Duration>,
}

impl Default for PoolProbe {
    fn default() -> Self {
        Self {
            enabled: false,
            borrowers: None,
            hold: Duration::ZERO,
            duration: Duration::from_secs(10),
            pause: Duration::from_millis(50),
            recycle: None,
            pre_ping: false,
            warn_wait: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    pub tries: u32,
    #[serde(with = "dur")]
    pub tries_interval: Duration,
    /// Paths checked on every endpoint, in order; the second falls back to the first when 404.
    pub paths: Vec<String>,
    /// Bytes of body read at most, whatever the server sends.
    pub body_limit: usize,
    /// Time between rounds of endpoint and WebSocket checks in `watch`.
    #[serde(with = "dur")]
    pub interval: Duration,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            tries: 1,
            tries_interval: Duration::from_secs(10),
            paths: vec!["/health".into(), "/health/database".into()],
            body_limit: 4096,
            interval: Duration::from_secs(10),
        }
    }
}

/// The WebSocket check (the outage plan: 10 s to connect, 5 s for a reply to the ping).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebSocket {
    /// What the check sends and takes the first message back as the reply to: the outage
    /// service answers `{"type":"ping"}`. Empty: a WebSocket protocol ping, whose pong any
    /// server's WebSocket library sends by itself — for a service that answers no message.
    pub message: String,
    /// DNS, TCP, TLS and the HTTP upgrade together.
    #[serde(with = "dur")]
    pub connect_timeout: Duration,
    /// From the ping to the first message back.
    #[serde(with = "dur")]
    pub reply_timeout: Duration,
}

impl Default for WebSocket {
    fn default() -> Self {
        Self {
            message: r#"{"type":"ping"}"#.into(),
            connect_timeout: Duration::from_secs(10),
            reply_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub name: String,
    pub url: String,
    /// The endpoint's WebSocket, e.g. `wss://host/ws`.
    #[serde(default)]
    pub websocket: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Startup {
    /// A log file to read (and follow in watch mode); `-` is standard input.
    pub log: Option<String>,
    /// A command whose standard output is the startup log (e.g. a log-tailing CLI).
    pub command: Option<String>,
    /// `json` (one object per line) or `regex` (the patterns below).
    pub format: LogFormat,
    /// The zone of timestamps written without one: `UTC` (a container's), `local`, `+05:30`.
    pub timezone: super::LogZone,
    pub patterns: Patterns,
    pub phases: Vec<Phase>,
    #[serde(with = "dur")]
    pub total_budget: Duration,
    /// `host:port` of the cache the rehearsal's phase 4 reaches.
    pub cache: Option<String>,
}

impl Default for Startup {
    fn default() -> Self {
        Self {
            log: None,
            command: None,
            format: LogFormat::Json,
            timezone: super::LogZone::default(),
            patterns: Patterns::default(),
            phases: Phase::outage_defaults(),
            total_budget: Duration::from_secs(120),
            cache: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Json,
    Regex,
}

/// Regular expressions for text logs. Named groups: `phase` (number or name), `ts` (RFC 3339,
/// optional: the time the line was read is used without it), `code` (exit), `message`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Patterns {
    pub started: String,
    pub completed: String,
    pub failed: String,
    pub exit: String,
}

impl Default for Patterns {
    fn default() -> Self {
        Self {
            started: r"(?i)phase\s+(?P<phase>\w+)\s+start".into(),
            completed: r"(?i)phase\s+(?P<phase>\w+)\s+(complete|done|ok)".into(),
            failed: r"(?i)phase\s+(?P<phase>\w+)\s+fail(ed)?:?\s*(?P<message>.*)".into(),
            exit: r"(?i)exit(ed)?\s+(with\s+)?(code\s+)?(?P<code>-?\d+)".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub name: String,
    #[serde(with = "dur")]
    pub budget: Duration,
}

impl Phase {
    /// The service's 7 startup phases and their budgets from the outage (SMD phases).
    pub fn outage_defaults() -> Vec<Phase> {
        [
            ("init", 1.0),
            ("dependencies", 40.0),
            ("database", 90.0),
            ("cache", 20.0),
            ("services", 30.0),
            ("websocket", 15.0),
            ("finalize", 10.0),
        ]
        .into_iter()
        .map(|(name, secs)| Phase {
            name: name.into(),
            budget: Duration::from_secs_f64(secs),
        })
        .collect()
    }
}

/// Alert thresholds (SPEC defaults). Rates are fractions 0..1.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertRules {
    /// Critical when the database connection success rate falls below this.
    pub(crate) critical_success_rate_below: f64,
    /// Warning when the average connection time exceeds this.
    #[serde(with = "dur")]
    pub(crate) warning_avg_connect_above: Duration,
    /// Infrastructure when the timeout-violation rate exceeds this.
    pub(crate) infrastructure_timeout_rate_above: f64,
    /// Capacity when more than this fraction of a capacity test hit capacity errors.
    pub(crate) capacity_error_rate_above: f64,
    /// Rules look at the last this-many attempts, so a long watch recovers when the database does.
    pub window: u32,
    /// This many failed attempts in a row mean "down" (a critical alert at once, whatever the
    /// rates); as many successes in a row mean up again.
    pub(crate) down_after: u32,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self {
            critical_success_rate_below: 0.5,
            warning_avg_connect_above: Duration::from_secs(20),
            infrastructure_timeout_rate_above: 0.3,
            capacity_error_rate_above: 0.3,
            window: 20,
            down_after: 3,
        }
    }
}

/// Targets to judge against, shown as met / missed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Targets {
    #[serde(with = "dur")]
    pub(crate) db_avg_connect_below: Duration,
    pub(crate) db_success_rate_above: f64,
    #[serde(with = "dur")]
    pub(crate) startup_total_below: Duration,
    #[serde(with = "dur")]
    pub(crate) health_latency_below: Duration,
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            db_avg_connect_below: Duration::from_secs(10),
            db_success_rate_above: 0.9,
            startup_total_below: Duration::from_secs(120),
            health_latency_below: Duration::from_secs(5),
        }
    }
}

/// Bounds on what the live view keeps, by count and by age; totals are kept regardless.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct History {
    pub samples: usize,
    #[serde(with = "dur")]
    pub window: Duration,
    pub(crate) log_lines: usize,
}

impl Default for History {
    fn default() -> Self {
        Self {
            samples: 600,
            window: Duration::from_secs(3600),
            log_lines: 500,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Ui {
    pub theme: String,
    #[serde(with = "dur")]
    pub tick: Duration,
    /// Start with the privacy mask on (hosts, users, databases, URLs hidden on screen).
    pub mask: bool,
}

impl Default for Ui {
    fn default() -> Self {
        Self {
            theme: "dark".into(),
            tick: Duration::from_millis(250),
            mask: false,
        }
    }
}
