//! A real, temporary PostgreSQL cluster — the one type the lab and the tests both use:
//! initdb + pg_ctl on a free loopback port, socket directory and data inside a temporary
//! directory, fsync off, trust authentication unless told otherwise, settings, TLS files,
//! pg_hba.conf and standbys (pg_basebackup) on request. initdb and postgres refuse to run as
//! root, so as root every server command runs as the `postgres` user through `runuser`.
//!
//! Every command is bounded in time. Stopping and removing the directory happen in `stop`
//! and, if that was never reached, in `Drop` — also when a test panics. If the process dies
//! without either (SIGKILL), a watchdog child stops the cluster and removes the directory
//! (`watchdog.rs`).

use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use super::tempdir::TempDir;
use super::watchdog::ClusterStop;

type Result<T, E = PgError> = std::result::Result<T, E>;

/// A cluster that could not be made, started, driven or stopped. Each variant keeps its
/// source; the texts are those the person (and a failing test) has always read.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// A file or directory of the cluster (`writing pg_hba.conf`, `creating the database
    /// directory`).
    #[error("{what}")]
    Io {
        what: &'static str,
        source: io::Error,
    },
    #[error("{command}: cannot run")]
    Spawn { command: String, source: io::Error },
    #[error("{command}: wait")]
    Wait { command: String, source: io::Error },
    #[error("{command}: no result after {after:?}")]
    Timeout { command: String, after: Duration },
    /// A server command that ended in failure, with what it said.
    #[error("{command} failed ({status}): {stderr}{stdout}")]
    Failed {
        command: String,
        status: ExitStatus,
        stderr: String,
        stdout: String,
    },
    /// Every try to start the server failed: the last try's error, and the end of the
    /// server's log, which says why.
    #[error("server log: {log_tail}")]
    Start {
        log_tail: String,
        source: Box<PgError>,
    },
    /// A step made of several commands (`creating roles and database`).
    #[error("{what}")]
    Step {
        what: &'static str,
        source: Box<PgError>,
    },
    /// The blocking thread running `what` panicked or was cancelled.
    #[error("{what}")]
    Task {
        what: &'static str,
        source: tokio::task::JoinError,
    },
}

impl PgError {
    fn io(what: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Io { what, source }
    }
}

/// Any one server command (initdb, pg_ctl, psql, pg_basebackup) on a loaded machine.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// What pg_ctl itself waits for a start or a stop, in whole seconds (`-t`).
const PG_CTL_WAIT: &str = "30";
/// Tries with a fresh port when another process took the one picked.
const START_TRIES: usize = 3;
/// Settings every cluster runs with: loopback only, and durability traded for speed (the
/// data is thrown away).
const BASE_SETTINGS: &str = "-c listen_addresses=127.0.0.1 -c fsync=off \
                             -c full_page_writes=off -c synchronous_commit=off";

/// The directory holding `initdb`, `pg_ctl`, `postgres` and `psql`: the highest version under
/// `/usr/lib/postgresql/*/bin` (Debian / Ubuntu layout), else the first on `PATH`.
pub fn find_binaries() -> Option<PathBuf> {
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
            Some((version?, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_server_binaries(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|dir| has_server_binaries(dir))
}

fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres", "psql"]
        .iter()
        .all(|b| dir.join(b).is_file())
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user: no unsafe FFI needed.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

/// How a cluster is made. `Default` is what most tests want: 20 connections, none reserved
/// for superusers (so the limit bites for everyone), role and database `app`, trust.
#[derive(Debug, Clone)]
pub struct PgOptions<'a> {
    pub max_connections: u32,
    pub superuser_reserved: u32,
    /// Host connections for role `app` require SCRAM with this password.
    pub app_password: Option<&'a str>,
    /// The server's certificate and key (and a CA for client certificates): `ssl=on`.
    pub tls: Option<ServerTls>,
    /// pg_hba.conf as written (replaces the rules above).
    pub hba: Option<String>,
    /// More server settings, `name=value`.
    pub settings: Vec<String>,
    /// More login roles, without a password.
    pub roles: Vec<String>,
}

impl Default for PgOptions<'_> {
    fn default() -> Self {
        Self {
            max_connections: 20,
            superuser_reserved: 0,
            app_password: None,
            tls: None,
            hba: None,
            settings: Vec::new(),
            roles: Vec::new(),
        }
    }
}

impl PgOptions<'static> {
    /// The lab's database: `max_connections` slots, none reserved, and the role `hog` that
    /// takes every slot in the db-capacity scenario.
    pub fn lab(max_connections: u32) -> Self {
        Self {
            max_connections,
            roles: vec!["hog".into()],
            ..Self::default()
        }
    }
}

/// PEM text of the server's certificate and key, and of the CA it accepts client
/// certificates from.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub cert: String,
    pub key: String,
    pub ca: Option<String>,
}

pub struct PgCluster {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    as_postgres: bool,
    /// The server options after the port, to start it (or a standby of it) the same way.
    options: String,
}

impl PgCluster {
    /// The lab's cluster (`PgOptions::lab`), made on a blocking thread.
    pub async fn start(bin: &Path, max_connections: u32) -> Result<PgCluster> {
        let bin = bin.to_path_buf();
        tokio::task::spawn_blocking(move || {
            PgCluster::create(&bin, &PgOptions::lab(max_connections))
        })
        .await
        .map_err(|source| PgError::Task {
            what: "starting the database",
            source,
        })?
    }

    /// Creates, starts and prepares a cluster (roles `app` and `o.roles`, database `app`).
    /// Blocks for about a second.
    pub fn create(bin: &Path, o: &PgOptions) -> Result<PgCluster> {
        let as_postgres = running_as_root();
        let mut dir = TempDir::new("pg").map_err(PgError::io("creating the database directory"))?;
        // From here on a killed process does not leave the cluster running (see `watchdog.rs`).
        dir.guard(Some(&ClusterStop {
            pg_ctl: bin.join("pg_ctl"),
            as_postgres,
        }));
        let mut cluster = PgCluster {
            bin: bin.to_path_buf(),
            options: String::new(),
            dir,
            port: 0,
            as_postgres,
        };
        cluster.prepare_dir()?;
        cluster.initdb()?;
        let extra = cluster.write_config(o)?;
        cluster.options = format!(
            "{BASE_SETTINGS} -c max_connections={} -c superuser_reserved_connections={} \
             -c unix_socket_directories={}{extra}",
            o.max_connections,
            o.superuser_reserved,
            cluster.dir().display()
        );
        cluster.launch()?;
        cluster.create_roles(o)?;
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The temporary directory: data in `data/`, the unix socket, the server log `server.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where the socket is: a `host` for libpq-style URLs.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs each statement of `sql` on its own (`-c` each) as the superuser over the unix
    /// socket; what the last one printed, unaligned and trimmed.
    pub fn psql(&self, sql: &[&str]) -> Result<String> {
        let port = self.port.to_string();
        let mut cmd = self.command("psql");
        cmd.arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &port, "-U", "postgres", "-d", "postgres", "-XAtq"])
            .env("PGCONNECT_TIMEOUT", "10");
        for s in sql {
            cmd.args(["-c", s]);
        }
        let out = run(cmd, "psql")?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// A physical standby of this cluster (pg_basebackup -R) with the same settings plus
    /// `extra` (e.g. `-c hot_standby=off`), started on a port of its own.
    pub fn standby(&self, extra: &str) -> Result<PgCluster> {
        let mut dir =
            TempDir::new("pg").map_err(PgError::io("creating the standby's directory"))?;
        dir.guard(Some(&ClusterStop {
            pg_ctl: self.bin.join("pg_ctl"),
            as_postgres: self.as_postgres,
        }));
        let mut standby = PgCluster {
            bin: self.bin.clone(),
            options: String::new(),
            dir,
            port: 0,
            as_postgres: self.as_postgres,
        };
        standby.prepare_dir()?;
        let port = self.port.to_string();
        let mut cmd = self.command("pg_basebackup");
        cmd.arg("-D")
            .arg(standby.data_dir())
            .args(["-R", "-X", "stream", "-c", "fast", "-h"])
            .arg(self.socket_dir())
            .args(["-p", &port, "-U", "postgres", "--no-sync"]);
        run(cmd, "pg_basebackup")?;
        let own = standby.dir().display().to_string();
        standby.options = format!(
            "{} {extra}",
            self.options
                .replace(&self.dir().display().to_string(), &own)
        );
        standby.launch()?;
        Ok(standby)
    }

    /// Stops the server at once, as a crash would (`-m immediate`), keeping its data: an
    /// outage that `start_again` ends.
    pub fn stop_immediately(&self) -> Result<()> {
        run(self.pg_ctl_stop("immediate"), "pg_ctl stop").map(drop)
    }

    /// Starts the server again after `stop_immediately`, on the same port with the same
    /// settings, and waits until it accepts connections.
    pub fn start_again(&self) -> Result<()> {
        run(self.pg_ctl_start(), "pg_ctl start (again)").map(drop)
    }

    /// Starts a smart shutdown and returns at once: new connections are refused with 57P03
    /// ("the database system is shutting down") until every session has ended.
    pub fn begin_smart_shutdown(&self) -> Result<()> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data_dir())
            .args(["-m", "smart", "-W", "stop"]);
        run(cmd, "pg_ctl stop -m smart -W").map(drop)
    }

    /// A superuser session held open over the unix socket (psql sleeping `secs`) until the
    /// child is killed: it keeps a smart shutdown from completing.
    pub fn hold_session(&self, secs: u32) -> Result<std::process::Child> {
        let mut cmd = self.command("psql");
        cmd.arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &self.port.to_string(), "-U", "postgres"])
            .args(["-d", "postgres", "-XAtq", "-c"])
            .arg(format!("SELECT pg_sleep({secs})"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd.spawn().map_err(PgError::io("starting psql"))
    }

    /// pg_ctl restart: a fast shutdown and a start with the same settings.
    pub fn restart(&self) -> Result<()> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "-t", PG_CTL_WAIT, "restart"]);
        run(cmd, "pg_ctl restart").map(drop)
    }

    /// Stops the server and starts it again with `extra` settings added for good.
    pub fn restart_with(&mut self, extra: &str) -> Result<()> {
        run(self.pg_ctl_stop("fast"), "pg_ctl stop")?;
        self.options = format!("{} {extra}", self.options);
        self.start_again()
    }

    /// Stops the server (fast shutdown, on a blocking thread) and removes the directory.
    pub async fn stop(&mut self) -> Result<()> {
        if self.is_running() {
            let cmd = self.pg_ctl_stop("fast");
            let stopped = tokio::task::spawn_blocking(move || run(cmd, "pg_ctl stop"))
                .await
                .map_err(|source| PgError::Task {
                    what: "pg_ctl stop",
                    source,
                })
                .and_then(|r| r);
            if let Err(e) = &stopped {
                tracing::warn!("{}; signalling the postmaster", crate::error::line(e));
                self.kill_postmaster();
            }
        }
        self.dir
            .remove()
            .map_err(PgError::io("removing the database directory"))
    }

    // ---- making it ----------------------------------------------------------------------

    /// A PostgreSQL program, as the `postgres` user when we are root.
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn prepare_dir(&self) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.dir(), std::fs::Permissions::from_mode(0o700))
            .map_err(PgError::io("making the database directory private"))?;
        self.chown()
    }

    /// Hands the whole directory to the `postgres` user (when we are root), after every file
    /// written for the server.
    fn chown(&self) -> Result<()> {
        if !self.as_postgres {
            return Ok(());
        }
        let mut cmd = Command::new("chown");
        cmd.args(["-R", "postgres:postgres"]).arg(self.dir());
        run(cmd, "chown to the postgres user").map(drop)
    }

    fn initdb(&self) -> Result<()> {
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(self.data_dir()).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]);
        run(cmd, "initdb").map(drop)
    }

    /// Writes TLS files and pg_hba.conf into the data directory; the settings they need.
    fn write_config(&self, o: &PgOptions) -> Result<String> {
        let data = self.data_dir();
        let mut extra = String::new();
        if let Some(t) = &o.tls {
            extra.push_str(&write_tls(&data, t)?);
        }
        for setting in &o.settings {
            extra.push_str(&format!(" -c {setting}"));
        }
        let hba = match (&o.hba, o.app_password) {
            (Some(h), _) => Some(h.clone()),
            (None, Some(_)) => Some(
                "local all all trust\nhost all postgres 127.0.0.1/32 trust\n\
                 host all all 127.0.0.1/32 scram-sha-256\n"
                    .to_string(),
            ),
            (None, None) => None,
        };
        if let Some(h) = hba {
            std::fs::write(data.join("pg_hba.conf"), h)
                .map_err(PgError::io("writing pg_hba.conf"))?;
        }
        self.chown()?;
        Ok(extra)
    }

    fn pg_ctl_start(&self) -> Command {
        let options = format!("-p {} {}", self.port, self.options);
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.dir().join("server.log"))
            .args(["-w", "-t", PG_CTL_WAIT, "-o", &options, "start"]);
        cmd
    }

    fn pg_ctl_stop(&self, mode: &str) -> Command {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data_dir())
            .args(["-m", mode, "-w", "-t", PG_CTL_WAIT, "stop"]);
        cmd
    }

    /// Starts the server on a free port (a few tries: a port can be taken between choosing
    /// and binding it).
    fn launch(&mut self) -> Result<()> {
        let mut tries = 0;
        let last = loop {
            tries += 1;
            self.port = free_port().map_err(PgError::io("choosing a free port"))?;
            match run(self.pg_ctl_start(), "pg_ctl start") {
                Ok(_) => return Ok(()),
                Err(e) => {
                    // A start that timed out may have left a postmaster behind.
                    self.kill_postmaster();
                    if tries >= START_TRIES {
                        break e;
                    }
                }
            }
        };
        let log = std::fs::read_to_string(self.dir().join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        Err(PgError::Start {
            log_tail: tail.join(" | "),
            source: Box::new(last),
        })
    }

    fn create_roles(&self, o: &PgOptions) -> Result<()> {
        let password = o
            .app_password
            .map(|p| format!(" PASSWORD '{}'", p.replace('\'', "''")))
            .unwrap_or_default();
        let mut sql = vec![format!("CREATE ROLE app LOGIN{password}")];
        sql.extend(o.roles.iter().map(|r| format!("CREATE ROLE \"{r}\" LOGIN")));
        // CREATE DATABASE cannot run inside a transaction: each statement goes on its own.
        sql.push("CREATE DATABASE app OWNER app".into());
        let sql: Vec<&str> = sql.iter().map(String::as_str).collect();
        self.psql(&sql).map(drop).map_err(|e| PgError::Step {
            what: "creating roles and database",
            source: Box::new(e),
        })
    }

    // ---- ending it ----------------------------------------------------------------------

    fn is_running(&self) -> bool {
        self.data_dir().join("postmaster.pid").exists()
    }

    /// Last resort: SIGQUIT to the postmaster (immediate shutdown; its children follow).
    fn kill_postmaster(&self) {
        let pid_file = self.data_dir().join("postmaster.pid");
        let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
        else {
            return;
        };
        // Only if that pid is still our postmaster: a stale file must not hit another process.
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let data = self.data_dir().display().to_string();
        if !String::from_utf8_lossy(&cmdline).contains(&data) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-QUIT", &pid.to_string()])
            .status();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Not stopped by `stop` (an error path, a failed test): the data is thrown away, so
        // the fastest shutdown will do.
        if self.is_running() && run(self.pg_ctl_stop("immediate"), "pg_ctl stop").is_err() {
            self.kill_postmaster();
        }
        // The TempDir field removes the directory after this.
    }
}

/// Writes the server's certificate files into the data directory; the settings that use them.
fn write_tls(data: &Path, t: &ServerTls) -> Result<String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(data.join("server.crt"), &t.cert).map_err(PgError::io("writing server.crt"))?;
    let key = data.join("server.key");
    std::fs::write(&key, &t.key).map_err(PgError::io("writing server.key"))?;
    // PostgreSQL refuses a key that others can read.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
        .map_err(PgError::io("making server.key private"))?;
    let mut s = " -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key".to_string();
    if let Some(ca) = &t.ca {
        std::fs::write(data.join("ca.crt"), ca).map_err(PgError::io("writing ca.crt"))?;
        s.push_str(" -c ssl_ca_file=ca.crt");
    }
    Ok(s)
}

/// Runs `cmd` to its end, at most `COMMAND_TIMEOUT` (then it is killed); its output, or an
/// error with what it said when it failed.
fn run(mut cmd: Command, what: &str) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| PgError::Spawn {
        command: what.into(),
        source,
    })?;
    // Read both pipes while waiting: a child blocked on a full pipe would never exit.
    let drain = |p: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = p {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        let exited = child.try_wait().map_err(|source| PgError::Wait {
            command: what.into(),
            source,
        })?;
        if let Some(status) = exited {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(PgError::Timeout {
                command: what.into(),
                after: COMMAND_TIMEOUT,
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if !out.status.success() {
        return Err(PgError::Failed {
            command: what.into(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn a_failed_command_says_its_name_status_and_words() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'no such role' >&2; exit 3"]);
        let e = run(cmd, "psql").expect_err("exit 3 is a failure");
        assert!(
            matches!(&e, PgError::Failed { command, status, .. }
                if command == "psql" && status.code() == Some(3)),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "psql failed (exit status: 3): no such role");
    }

    #[test]
    fn a_command_that_cannot_run_keeps_the_io_error() {
        let cmd = Command::new("/nonexistent/connscope-no-such-program");
        let e = run(cmd, "initdb").expect_err("no such program");
        let source = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            source.map(io::Error::kind),
            Some(io::ErrorKind::NotFound),
            "{e:?}"
        );
        assert!(crate::error::line(&e).starts_with("initdb: cannot run: "));
    }

    #[test]
    fn a_start_that_failed_reads_log_tail_then_cause() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'is another postmaster running?' >&2; exit 1"]);
        let e = PgError::Start {
            log_tail: "FATAL: could not bind".into(),
            source: Box::new(run(cmd, "pg_ctl start").expect_err("exit 1")),
        };
        assert_eq!(
            crate::error::line(&e),
            "server log: FATAL: could not bind: pg_ctl start failed (exit status: 1): is another postmaster running?"
        );
    }
}
