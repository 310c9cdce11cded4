//! The errors that cross module boundaries, each keeping its source, and the one place each
//! is given its exit code (`exit_code` below). Whatever the error, the person sees one line:
//! the error and its sources joined by `: ` (`line`), through the secret scrubber.
//!
//! Display texts follow the convention that a source is not repeated in its error's text; the
//! one that quotes its source mid-sentence (`AgentError::Listen`) is not repeated by `line`.

use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::agent::auth::TOKEN_ENV;
use crate::config::ConfigError;
use crate::exit::ExitCode;
use crate::lab::ScenarioError;
use crate::lab::pg::PgError;
use crate::probe::startup::MatcherError;

/// What a command returns when it cannot go on.
pub(crate) type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    /// A bad command line, said in one sentence.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Recording(#[from] RecordError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error("lab")]
    Lab(#[from] LabError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("{}: cannot open the log file", .path.display())]
    LogFile { path: PathBuf, source: io::Error },
    /// `--assets DIR` (markdown's chart files).
    #[error("--assets {}: cannot create the directory", .path.display())]
    AssetsDir { path: PathBuf, source: io::Error },
    #[error("{}: cannot create", .path.display())]
    AssetCreate { path: PathBuf, source: io::Error },
    #[error("{}: cannot write", .path.display())]
    AssetWrite { path: PathBuf, source: io::Error },
    #[error("cannot start the async runtime")]
    Runtime(#[source] io::Error),
    #[error("dashboard")]
    Dashboard(#[from] DashboardError),
    /// A task of the session that panicked or was cancelled (`probe shutdown`, `recording`).
    #[error("{what}")]
    Task {
        what: &'static str,
        source: tokio::task::JoinError,
    },
}

/// Standard output failing: closed by its reader, or otherwise.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("standard output is closed")]
    Closed,
    #[error("cannot write to standard output")]
    Failed(#[source] io::Error),
}

/// A recording that cannot be read or created.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{name}: cannot read recording")]
    Read { name: String, source: io::Error },
    #[error("{name}: cannot read recording: {kind} is not a regular file")]
    NotAFile { name: String, kind: &'static str },
    #[error("-: cannot read standard input")]
    Stdin(#[source] io::Error),
    #[error("-: standard input is longer than {mib} MiB; save it to a file and give its path")]
    StdinTooLong { mib: u64 },
    #[error("{name}: not a connscope recording ({why})")]
    NotARecording { name: String, why: String },
    #[error("{name}: recording header has no valid format version")]
    NoVersion { name: String },
    #[error(
        "{name}: recording format version {version} is newer than this connscope understands ({supported}); upgrade connscope"
    )]
    TooNew {
        name: String,
        version: u64,
        supported: u32,
    },
    #[error("{name}: recording header is damaged")]
    Damaged {
        name: String,
        source: serde_json::Error,
    },
    #[error("{}: cannot create the recording", .path.display())]
    Create { path: PathBuf, source: io::Error },
}

/// The probes a run asked for cannot be set up from its configuration.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetupError {
    /// `--only NAME` for a probe the configuration gives nothing to probe.
    #[error("--only {probe}: needs {need}")]
    Missing {
        probe: &'static str,
        need: &'static str,
    },
    #[error(
        "nothing to check: give a database (--db-url, DATABASE_URL or PGHOST), --endpoint NAME=URL, --ws URL or --startup-log FILE"
    )]
    NothingToCheck,
    #[error(
        "the pool probe would open up to {connections} connections to {environment}: add --force to run it there"
    )]
    PoolNeedsForce {
        connections: u32,
        environment: String,
    },
    /// A database target the database probes cannot use.
    #[error("{0}")]
    Target(String),
    #[error(transparent)]
    StartupPattern(#[from] MatcherError),
}

/// The agent's flags (token, exposure, TLS files) or its listener.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AgentError {
    #[error("{}: cannot read the agent token file", .path.display())]
    TokenFile { path: PathBuf, source: io::Error },
    #[error("{}: the agent token file is empty", .0.display())]
    EmptyTokenFile(PathBuf),
    #[error("{TOKEN_ENV} is set but empty")]
    EmptyTokenEnv,
    #[error(
        "refusing to listen on {0} (beyond loopback) without a token: give --token-file FILE or set {TOKEN_ENV}, or listen on 127.0.0.1 and reach the agent through an SSH tunnel"
    )]
    Exposed(SocketAddr),
    #[error("cannot listen on {addr}: {source} (choose another address or port with --listen)")]
    Listen { addr: SocketAddr, source: io::Error },
    #[error("{}: cannot read the agent's {what}", .path.display())]
    TlsFile {
        path: PathBuf,
        what: &'static str,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{}: cannot read the agent's TLS certificate: no certificate in the file", .0.display())]
    NoCertificate(PathBuf),
    #[error("{} / {}: the TLS key does not fit the certificate", .cert.display(), .key.display())]
    KeyMismatch {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("TLS")]
    TlsProvider(#[source] rustls::Error),
    #[error("agent TLS listener")]
    TlsListener(#[source] io::Error),
    /// The bound socket's own address could not be read.
    #[error(transparent)]
    Socket(io::Error),
}

/// The dashboard's own failure: no terminal, or the terminal failing under it.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("the dashboard needs a terminal; use `connscope check` for headless runs")]
    NoTerminal,
    /// A step of driving the terminal (`cannot switch the terminal to raw mode`, `drawing`).
    #[error("{step}")]
    Terminal {
        step: &'static str,
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl DashboardError {
    /// The error of `step`, for `map_err`.
    pub(crate) fn at<E: StdError + Send + Sync + 'static>(
        step: &'static str,
    ) -> impl FnOnce(E) -> Self {
        move |e| Self::Terminal {
            step,
            source: Box::new(e),
        }
    }
}

/// The lab could not start, switch or stop.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("creating the lab directory")]
    Directory(#[source] io::Error),
    #[error("removing the lab directory")]
    Cleanup(#[source] io::Error),
    #[error("starting the proxy")]
    Proxy(#[source] io::Error),
    #[error("writing the lab banner")]
    Banner(#[source] OutputError),
    /// The real database: its own messages say which step failed.
    #[error(transparent)]
    Database(#[from] PgError),
    #[error(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) in \
         /usr/lib/postgresql/*/bin or on PATH; use --database sim"
    )]
    NoPostgres,
    #[error("starting the simulated database")]
    SimDatabase(#[source] io::Error),
    /// The connection hog met something other than the server's "too many connections".
    #[error("the hog could not open connection {connection} ({answer})")]
    Hog { connection: usize, answer: String },
    #[error("binding the lab service")]
    ServiceBind(#[source] io::Error),
    /// The bound socket's own address could not be read.
    #[error(transparent)]
    ServiceAddr(io::Error),
    #[error("creating {}", .path.display())]
    StartupLog { path: PathBuf, source: io::Error },
    /// The staging profile the lab's suggested settings scale.
    #[error(transparent)]
    Settings(ConfigError),
    #[error("encoding the lab banner")]
    BannerEncode(#[source] serde_json::Error),
}

impl AppError {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    /// The exit code of each error: README's "Exit codes" table, in one place.
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            Self::Usage(_) => ExitCode::Usage,
            // A value given as a flag is a usage error; anything else is the configuration.
            Self::Config(e) if e.from_flag => ExitCode::Usage,
            Self::Config(_) => ExitCode::Config,
            Self::Recording(e) => e.exit_code(),
            Self::Setup(e) => e.exit_code(),
            Self::Agent(e) => e.exit_code(),
            Self::Output(OutputError::Closed) => ExitCode::Pass,
            Self::Output(OutputError::Failed(_)) | Self::AssetWrite { .. } => ExitCode::IoError,
            Self::LogFile { .. } | Self::AssetsDir { .. } | Self::AssetCreate { .. } => {
                ExitCode::CantCreate
            }
            Self::Lab(_) | Self::Runtime(_) | Self::Dashboard(_) | Self::Task { .. } => {
                ExitCode::Software
            }
        }
    }

    /// Nothing to say: the reader of standard output went away (`| head`), so, like other
    /// Unix tools, connscope stops quietly with exit 0 — there is nobody to print to.
    pub(crate) fn is_quiet(&self) -> bool {
        matches!(self, Self::Output(OutputError::Closed))
    }
}

impl RecordError {
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            Self::Read { .. }
            | Self::NotAFile { .. }
            | Self::Stdin(_)
            | Self::StdinTooLong { .. } => ExitCode::NoInput,
            Self::NotARecording { .. }
            | Self::NoVersion { .. }
            | Self::TooNew { .. }
            | Self::Damaged { .. } => ExitCode::Config,
            Self::Create { .. } => ExitCode::CantCreate,
        }
    }
}

impl SetupError {
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            Self::PoolNeedsForce { .. } => ExitCode::Usage,
            Self::Missing { .. }
            | Self::NothingToCheck
            | Self::Target(_)
            | Self::StartupPattern(_) => ExitCode::Config,
        }
    }
}

impl AgentError {
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            Self::TlsProvider(_) | Self::TlsListener(_) | Self::Socket(_) => ExitCode::Software,
            _ => ExitCode::Config,
        }
    }
}

/// The error and its sources as one line (`what: why: cause`), scrubbed of secrets. A source
/// whose text the line already holds is not said twice.
pub(crate) fn line(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !text.is_empty() && !out.contains(&format!(": {text}")) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = s.source();
    }
    crate::secret::scrub(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_carries_every_source_once() {
        let e = AppError::from(RecordError::Read {
            name: "x.jsonl".into(),
            source: io::Error::new(io::ErrorKind::NotFound, "No such file"),
        });
        assert_eq!(line(&e), "x.jsonl: cannot read recording: No such file");
        assert!(e.source().is_some(), "the io error is kept as the source");
        let addr: SocketAddr = "127.0.0.1:1".parse().expect("address");
        let e = AgentError::Listen {
            addr,
            source: io::Error::new(io::ErrorKind::AddrInUse, "Address in use"),
        };
        assert_eq!(
            line(&e),
            "cannot listen on 127.0.0.1:1: Address in use (choose another address or port with --listen)"
        );
    }

    #[test]
    fn a_database_error_reads_as_its_steps_and_cause() {
        let inner = PgError::Io {
            what: "writing pg_hba.conf",
            source: io::Error::new(io::ErrorKind::PermissionDenied, "Permission denied"),
        };
        let e = AppError::from(LabError::from(inner));
        assert_eq!(line(&e), "lab: writing pg_hba.conf: Permission denied");
        assert_eq!(e.exit_code(), ExitCode::Software);
    }

    #[test]
    fn a_flag_is_a_usage_error_and_a_file_the_configuration() {
        let at = |from_flag| ConfigError {
            location: "x".into(),
            message: "y".into(),
            from_flag,
            cause: None,
        };
        assert_eq!(AppError::from(at(true)).exit_code(), ExitCode::Usage);
        assert_eq!(AppError::from(at(false)).exit_code(), ExitCode::Config);
    }

    #[test]
    fn a_closed_stdout_is_quiet_and_ends_with_zero() {
        let e = AppError::from(OutputError::Closed);
        assert!(e.is_quiet());
        assert_eq!(e.exit_code(), ExitCode::Pass);
        let e = AppError::from(OutputError::Failed(io::Error::other("EIO")));
        assert!(!e.is_quiet());
        assert_eq!(e.exit_code(), ExitCode::IoError);
    }
}
