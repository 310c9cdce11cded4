//! The command line. Flags become `FlagOverride`s on the configuration (highest precedence);
//! malformed flags are usage errors (exit 64) caught here, before anything runs.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use toml::Value;

use crate::config::{FlagOverride, duration};
use crate::probe::Kind;

#[derive(Debug, Parser)]
#[command(
    name = "connscope",
    version,
    about = "See, live, why the database is unreachable: step-timed connection attempts, capacity, health endpoints, startup phases, alerts and a diagnosis.",
    after_help = "Exit codes: 0 healthy (also: stdout's reader went away), 1 warning, 2 critical/failing, 64 usage error, 66 input not readable, 73 output file not creatable, 74 recording incomplete or output failed, 78 configuration error, 130 interrupted."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The dashboard runs in this terminal: nothing else may write to it meanwhile.
    pub(crate) fn owns_terminal(&self) -> bool {
        match &self.command {
            None | Some(Command::Watch) | Some(Command::Replay(_)) => true,
            Some(Command::Agent(_)) => false,
            Some(Command::Lab(l)) => !l.headless,
            _ => false,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The live dashboard (the default).
    Watch,
    /// Run every configured probe once and print the result; the exit code tells the verdict.
    Check(CheckArgs),
    /// Reproduce the outage on loopback: a database, a faulty connector, a failing service.
    Lab(LabArgs),
    /// Play a recording in the dashboard.
    Replay(ReplayArgs),
    /// Turn a recording into the incident-review report.
    Report(ReportArgs),
    /// Show or check the effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The probes of `watch` with no terminal, where the service runs: serves /metrics
    /// (Prometheus), /events (attach with `watch --agent`), /state and /healthz until SIGTERM.
    Agent(AgentArgs),
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Address and port to serve on; beyond loopback a token is required.
    #[arg(long, default_value = crate::agent::DEFAULT_LISTEN, value_parser = crate::agent::parse_listen, value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// Require this bearer token (the file's first line) on every path but /healthz. Also
    /// CONNSCOPE_AGENT_TOKEN.
    #[arg(long = "token-file", value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long = "tls-cert", requires = "tls_key", value_name = "FILE")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long = "tls-key", requires = "tls_cert", value_name = "FILE")]
    pub(crate) tls_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
    Junit,
    /// One self-contained HTML file with charts (`check` and `report` only).
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Output format: text for people, json for scripts, markdown for a ticket, junit for CI,
    /// html for a self-contained page with charts.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print one JSON line per completed probe step to stderr while running.
    #[arg(long, value_enum)]
    pub progress: Option<Progress>,
    /// With --format markdown: write the charts as SVG files into DIR and link them.
    #[arg(long, value_name = "DIR")]
    pub assets: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LabDatabase {
    Auto,
    Postgres,
    Sim,
}

#[derive(Debug, Args)]
pub struct LabArgs {
    /// Run only the lab (no dashboard); print its addresses as one JSON line, serve until SIGINT/SIGTERM.
    #[arg(long)]
    pub headless: bool,
    /// The situation to start in (switch live with 1–5 or s).
    #[arg(long, default_value = "startup-timeout", value_parser = scenario_values())]
    pub scenario: String,
    /// postgres: a real temporary PostgreSQL cluster; sim: the built-in simulated server;
    /// auto: PostgreSQL when its server binaries are installed, else the simulation.
    #[arg(long, value_enum, default_value_t = LabDatabase::Auto)]
    pub database: LabDatabase,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A recording written by --record (JSON lines).
    pub file: PathBuf,
    /// Playback speed (1 = real time).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A recording written by --record (JSON lines).
    pub file: PathBuf,
    /// Output format: markdown for the post-mortem, html (one self-contained page with
    /// charts), json, junit or text.
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
    /// With --format markdown: write the charts as SVG files into DIR and link them.
    #[arg(long, value_name = "DIR")]
    pub assets: Option<PathBuf>,
    /// Only events at or after this time (RFC 3339, or an offset from the start like 5m).
    #[arg(long)]
    pub from: Option<String>,
    /// Only events before this time (RFC 3339, or an offset from the start like 10m).
    #[arg(long)]
    pub to: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration with the source of every value.
    Show {
        /// text for people, json for machines.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Validate the configuration and list findings (exit 0 none, 1 warnings, 2 failures, 78 invalid).
    Check {
        /// text for people, json for machines.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// The lab's scenarios, listed with their descriptions in `lab --help`.
fn scenario_values() -> clap::builder::PossibleValuesParser {
    use crate::lab::scenario;
    // Names are `'static` (clap keeps them); descriptions come in the same order.
    let values: Vec<clap::builder::PossibleValue> = scenario::names()
        .zip(scenario::list())
        .map(|(name, (_, desc))| clap::builder::PossibleValue::new(name).help(desc))
        .collect();
    clap::builder::PossibleValuesParser::new(values)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    duration::parse(s)
}

fn parse_endpoint(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, u)) if !n.trim().is_empty() && !u.trim().is_empty() => {
            Ok((n.trim().into(), u.trim().into()))
        }
        _ => Err(format!(
            "expected NAME=BASE_URL, got `{}`",
            crate::secret::redact_urls_in(s)
        )),
    }
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s.trim()).ok_or_else(|| {
        let names: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown probe `{s}`; expected {}", names.join(", "))
    })
}

#[derive(Debug, Args, Default)]
pub struct Global {
    /// Configuration file (TOML). Also CONNSCOPE_CONFIG.
    #[arg(long, global = true, env = "CONNSCOPE_CONFIG", value_name = "FILE")]
    pub config: Option<String>,
    /// Environment profile: development, test, staging, production. Also CONNSCOPE_ENV.
    #[arg(long, global = true, value_name = "ENV")]
    pub env: Option<String>,
    /// Database URL (also DATABASE_URL, and libpq's PG* variables and ~/.pgpass).
    #[arg(long = "db-url", global = true, value_name = "URL")]
    pub db_url: Option<String>,
    /// Write every event to FILE as JSON lines (for replay and report).
    #[arg(long, global = true, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Database connection attempts (`check`); `watch` keeps going.
    #[arg(long, global = true, value_name = "N")]
    pub attempts: Option<u32>,
    /// Time between attempts, e.g. 500ms, 2s, 1m.
    #[arg(long, global = true, value_parser = parse_duration, value_name = "D")]
    pub interval: Option<Duration>,
    /// Give up on one database connection attempt after D (the profile's timeouts.connection;
    /// staging 35s).
    #[arg(long = "connect-timeout", global = true, value_parser = parse_duration, value_name = "D")]
    pub connect_timeout: Option<Duration>,
    /// The initialization probe's connect-and-warm-up must finish within D
    /// (timeouts.initialization; staging 75s).
    #[arg(long = "init-timeout", global = true, value_parser = parse_duration, value_name = "D")]
    pub init_timeout: Option<Duration>,
    /// Give up on one health-endpoint request or WebSocket check after D
    /// (timeouts.health_check; staging 20s).
    #[arg(long = "health-timeout", global = true, value_parser = parse_duration, value_name = "D")]
    pub health_timeout: Option<Duration>,
    /// Run only these probes: db, init, capacity, http, ws, startup, rehearsal, pool
    /// (comma-separated). `pool` brings the raw database attempts beside it.
    #[arg(long, global = true, value_delimiter = ',', value_parser = parse_kind, value_name = "LIST")]
    pub only: Option<Vec<Kind>>,
    /// Capacity test: this many connections at once.
    #[arg(long, global = true, value_name = "N")]
    pub capacity: Option<u32>,
    /// Capacity test: how long each connection is held.
    #[arg(long, global = true, value_parser = parse_duration, value_name = "D")]
    pub hold: Option<Duration>,
    /// Capacity test and pool probe: allow more connections than the safety cap (and run the
    /// pool probe in production from `check`).
    #[arg(long, global = true)]
    pub force: bool,
    /// Pool probe: concurrent borrowers (default: the pool's size + overflow, plus 20 %).
    #[arg(long = "pool-borrowers", global = true, value_name = "N")]
    pub pool_borrowers: Option<u32>,
    /// Pool probe: how long each borrower holds its connection before SELECT 1.
    #[arg(long = "pool-hold", global = true, value_parser = parse_duration, value_name = "D")]
    pub pool_hold: Option<Duration>,
    /// Pool probe: how long borrowers keep acquiring (default 10s).
    #[arg(long = "pool-duration", global = true, value_parser = parse_duration, value_name = "D")]
    pub pool_duration: Option<Duration>,
    /// A health endpoint as NAME=BASE_URL (repeatable).
    #[arg(long, global = true, value_parser = parse_endpoint, value_name = "NAME=URL")]
    pub endpoint: Vec<(String, String)>,
    /// A WebSocket URL to check (repeatable).
    #[arg(long, global = true, value_name = "URL")]
    pub ws: Vec<String>,
    /// The service's startup log (`-` for standard input).
    #[arg(long = "startup-log", global = true, value_name = "FILE")]
    pub startup_log: Option<String>,
    /// The zone of startup-log timestamps written without one: UTC (default, a container's),
    /// local (this machine's), or an offset such as +05:30.
    #[arg(
        long = "log-timezone",
        global = true,
        value_name = "ZONE",
        allow_hyphen_values = true
    )]
    pub log_timezone: Option<String>,
    /// Health checks per endpoint (consistent failure: 2 of 3).
    #[arg(long, global = true, value_name = "N")]
    pub tries: Option<u32>,
    /// Time between health-check tries (the outage plan: 10s).
    #[arg(long = "tries-interval", global = true, value_parser = parse_duration, value_name = "D")]
    pub tries_interval: Option<Duration>,
    /// Dashboard colours: dark, light or high-contrast (cycle live with t).
    #[arg(long, global = true, value_name = "THEME")]
    pub theme: Option<String>,
    /// Start with the privacy mask on (screen sharing).
    #[arg(long, global = true)]
    pub mask: bool,
    /// Attach a remote vantage point: a `connscope agent` as NAME=URL (repeatable; watch, check).
    #[arg(long = "agent", global = true, value_parser = parse_endpoint, value_name = "NAME=URL")]
    pub agent: Vec<(String, String)>,
    /// The attached agents' bearer token, from FILE's first line (also CONNSCOPE_AGENT_TOKEN).
    #[arg(long = "agent-token-file", global = true, value_name = "FILE")]
    pub agent_token_file: Option<PathBuf>,
    /// Trust this CA certificate (PEM) for https agents, beside the built-in web roots.
    #[arg(long = "agent-ca", global = true, value_name = "FILE")]
    pub agent_ca: Option<PathBuf>,
    /// Write logs to FILE (the dashboard owns the terminal, so logs never go to it).
    #[arg(long = "log-file", global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

fn dur(d: Duration) -> Value {
    Value::String(duration::format(d))
}

fn int(n: u32) -> Value {
    Value::Integer(i64::from(n))
}

/// The override of a flag, if it was given.
fn given(key: &'static str, flag: &'static str, value: Option<Value>) -> Option<FlagOverride> {
    value.map(|value| FlagOverride { key, value, flag })
}

impl Global {
    /// The flags as configuration overrides.
    pub fn overrides(&self) -> Vec<FlagOverride> {
        let mut out = self.value_overrides();
        out.extend(self.list_overrides());
        out
    }

    /// The flags that set one value: which key each one sets.
    fn value_overrides(&self) -> Vec<FlagOverride> {
        let mut out = Vec::new();
        let mut add = |key, flag, value| out.extend(given(key, flag, value));
        add("environment", "--env", self.env.clone().map(Value::String));
        add(
            "database.url",
            "--db-url",
            self.db_url.clone().map(Value::String),
        );
        add("database.attempts", "--attempts", self.attempts.map(int));
        add("database.interval", "--interval", self.interval.map(dur));
        add(
            "timeouts.connection",
            "--connect-timeout",
            self.connect_timeout.map(dur),
        );
        add(
            "timeouts.initialization",
            "--init-timeout",
            self.init_timeout.map(dur),
        );
        add(
            "timeouts.health_check",
            "--health-timeout",
            self.health_timeout.map(dur),
        );
        add("capacity.connections", "--capacity", self.capacity.map(int));
        add("capacity.hold", "--hold", self.hold.map(dur));
        add(
            "pool_probe.borrowers",
            "--pool-borrowers",
            self.pool_borrowers.map(int),
        );
        add("pool_probe.hold", "--pool-hold", self.pool_hold.map(dur));
        add(
            "pool_probe.duration",
            "--pool-duration",
            self.pool_duration.map(dur),
        );
        add(
            "startup.log",
            "--startup-log",
            self.startup_log.clone().map(Value::String),
        );
        add(
            "startup.timezone",
            "--log-timezone",
            self.log_timezone.clone().map(Value::String),
        );
        add("health.tries", "--tries", self.tries.map(int));
        add(
            "health.tries_interval",
            "--tries-interval",
            self.tries_interval.map(dur),
        );
        add("ui.theme", "--theme", self.theme.clone().map(Value::String));
        add(
            "ui.mask",
            "--mask",
            self.mask.then_some(Value::Boolean(true)),
        );
        out
    }

    /// The repeatable flags, each a list that replaces the configured one.
    fn list_overrides(&self) -> Vec<FlagOverride> {
        let mut out = Vec::new();
        let mut add = |key, flag, value| out.extend(given(key, flag, value));
        let endpoints = self.endpoint.iter().map(|(name, url)| {
            let mut t = toml::Table::new();
            t.insert("name".into(), Value::String(name.clone()));
            t.insert("url".into(), Value::String(url.clone()));
            Value::Table(t)
        });
        add(
            "endpoints",
            "--endpoint",
            (!self.endpoint.is_empty()).then(|| Value::Array(endpoints.collect())),
        );
        let ws = self.ws.iter().cloned().map(Value::String).collect();
        add(
            "websockets",
            "--ws",
            (!self.ws.is_empty()).then_some(Value::Array(ws)),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("connscope").chain(args.iter().copied()))
    }

    #[test]
    fn flags_work_before_and_after_the_subcommand() {
        let c = parse(&[
            "--env",
            "staging",
            "check",
            "--attempts",
            "3",
            "--format",
            "json",
        ])
        .expect("parses");
        assert_eq!(c.global.env.as_deref(), Some("staging"));
        assert_eq!(c.global.attempts, Some(3));
        assert!(matches!(
            c.command,
            Some(Command::Check(CheckArgs {
                format: Format::Json,
                ..
            }))
        ));
    }

    #[test]
    fn durations_lists_and_endpoints_parse() {
        let c = parse(&[
            "check",
            "--interval",
            "500ms",
            "--only",
            "db,init",
            "--endpoint",
            "api=http://127.0.0.1:1",
        ])
        .expect("parses");
        assert_eq!(c.global.interval, Some(Duration::from_millis(500)));
        assert_eq!(c.global.only, Some(vec![Kind::Db, Kind::Init]));
        assert_eq!(
            c.global.endpoint,
            vec![("api".to_string(), "http://127.0.0.1:1".to_string())]
        );
        let o = c.global.overrides();
        assert!(
            o.iter()
                .any(|f| f.key == "database.interval" && f.value.as_str() == Some("500ms"))
        );
        assert!(o.iter().any(|f| f.key == "endpoints"));
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        assert!(parse(&["check", "--interval", "soon"]).is_err());
        assert!(parse(&["check", "--only", "db,nope"]).is_err());
        assert!(parse(&["check", "--endpoint", "no-equals"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
    }

    #[test]
    fn every_flag_has_help_and_lab_lists_its_scenarios() {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        cmd.build();
        let mut missing = Vec::new();
        let mut check = |c: &clap::Command| {
            for a in c.get_arguments() {
                let id = a.get_id().as_str();
                if a.get_help().is_none() && !["help", "version"].contains(&id) {
                    missing.push(format!("{} --{id}", c.get_name()));
                }
            }
        };
        check(&cmd);
        for sub in cmd.get_subcommands() {
            check(sub);
            sub.get_subcommands().for_each(&mut check);
        }
        assert!(missing.is_empty(), "no help text: {missing:?}");
        let lab = cmd.find_subcommand_mut("lab").expect("lab");
        let help = lab.render_long_help().to_string();
        for name in crate::lab::scenario::names() {
            assert!(help.contains(name), "{name} not in lab --help:\n{help}");
        }
        assert!(parse(&["lab", "--scenario", "nope"]).is_err());
    }

    #[test]
    fn no_subcommand_means_watch() {
        let c = parse(&["--db-url", "postgres://a@h/d"]).expect("parses");
        assert!(c.command.is_none());
    }
}
