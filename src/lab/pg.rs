//! A real, temporary PostgreSQL cluster: initdb + pg_ctl on a free loopback port, socket
//! directory and data inside a temporary directory, fsync off, trust authentication (the lab
//! is loopback only). initdb and postgres refuse to run as root, so as root every server
//! command runs as the `postgres` user through `runuser`. Stopping (`pg_ctl stop -m fast`) and
//! removing the directory happen in `stop` and, if that was never reached, in `Drop` — also
//! when a test panics. If the process dies without either (SIGKILL), a watchdog child stops
//! the cluster and removes the directory (`guard.rs`).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::guard::ClusterStop;
use super::pgconn;
use super::tmp::TempDir;

const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Tries with a fresh port when another process took the one picked.
const START_TRIES: usize = 3;

/// The directory holding `initdb`, `pg_ctl` and `postgres`: the highest version under
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
    ["initdb", "pg_ctl", "postgres"]
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

pub struct PgCluster {
    bin: PathBuf,
    dir: TempDir,
    port: u16,
    as_postgres: bool,
    running: bool,
}

impl PgCluster {
    /// Creates, starts and prepares a cluster (roles `app` and `hog`, database `app`) with
    /// `max_connections` slots and none reserved for superusers, so the limit bites for all.
    pub async fn start(bin: &Path, max_connections: u32) -> Result<PgCluster> {
        let mut dir = TempDir::new("pg").context("creating the database directory")?;
        let as_postgres = running_as_root();
        // From here on a killed lab does not leave the cluster running (see `guard.rs`).
        dir.guard(Some(&ClusterStop {
            pg_ctl: bin.join("pg_ctl"),
            as_postgres,
        }));
        let mut cluster = PgCluster {
            bin: bin.to_path_buf(),
            dir,
            port: 0,
            as_postgres,
            running: false,
        };
        cluster.prepare_dir().await?;
        cluster.initdb().await?;
        cluster.start_server(max_connections).await?;
        cluster.create_roles().await?;
        Ok(cluster)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The temporary directory (data, socket, server log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> tokio::process::Command {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = tokio::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            tokio::process::Command::new(exe)
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, mut cmd: tokio::process::Command, what: &str) -> Result<()> {
        let out = tokio::time::timeout(COMMAND_TIMEOUT, cmd.output())
            .await
            .with_context(|| format!("{what}: no result after {COMMAND_TIMEOUT:?}"))?
            .with_context(|| format!("{what}: cannot run"))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            bail!(
                "{what} failed ({}): {}{}",
                out.status,
                stderr.trim(),
                stdout.trim()
            );
        }
        Ok(())
    }

    async fn prepare_dir(&self) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.dir.path(), std::fs::Permissions::from_mode(0o700))?;
        if self.as_postgres {
            let mut chown = tokio::process::Command::new("chown");
            chown
                .arg("postgres:postgres")
                .arg(self.dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            self.run(chown, "chown to the postgres user").await?;
        }
        Ok(())
    }

    async fn initdb(&self) -> Result<()> {
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(self.data()).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]);
        self.run(cmd, "initdb").await
    }

    async fn start_server(&mut self, max_connections: u32) -> Result<()> {
        let mut last = None;
        for _ in 0..START_TRIES {
            self.port = free_port()?;
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {} -c max_connections={max_connections} \
                 -c superuser_reserved_connections=0 -c unix_socket_directories={} \
                 -c fsync=off -c full_page_writes=off -c synchronous_commit=off",
                self.port,
                self.dir.path().display()
            );
            let mut cmd = self.command("pg_ctl");
            cmd.arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.path().join("server.log"))
                .args(["-w", "-t", "30", "-o", &options, "start"]);
            match self.run(cmd, "pg_ctl start").await {
                Ok(()) => {
                    self.running = true;
                    return Ok(());
                }
                Err(e) => {
                    // A start that timed out may have left a postmaster behind.
                    self.kill_postmaster();
                    last = Some(e);
                }
            }
        }
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        Err(last.unwrap_or_else(|| anyhow::anyhow!("pg_ctl start failed")))
            .with_context(|| format!("server log: {}", tail.join(" | ")))
    }

    async fn create_roles(&self) -> Result<()> {
        let setup = async {
            let config = pgconn::config("postgres", "postgres", "connscope-lab-setup");
            let (client, conn) = pgconn::connect(&config, self.addr()).await?;
            let conn = tokio::spawn(conn);
            client
                .batch_execute("CREATE ROLE app LOGIN; CREATE ROLE hog LOGIN")
                .await?;
            // CREATE DATABASE cannot run inside the implicit transaction of a multi-statement
            // query, so it goes alone.
            client
                .batch_execute("CREATE DATABASE app OWNER app")
                .await?;
            drop(client);
            let _ = conn.await;
            Ok::<(), anyhow::Error>(())
        };
        tokio::time::timeout(SETUP_TIMEOUT, setup)
            .await
            .context("creating roles: no answer")?
            .context("creating roles and database")
    }

    /// Stops the server (fast shutdown) and removes the directory.
    pub async fn stop(&mut self) -> Result<()> {
        if self.running {
            let mut cmd = self.command("pg_ctl");
            cmd.arg("-D")
                .arg(self.data())
                .args(["-m", "fast", "-w", "-t", "20", "stop"]);
            let stopped = self.run(cmd, "pg_ctl stop").await;
            if let Err(e) = &stopped {
                tracing::warn!("{e:#}; signalling the postmaster");
                self.kill_postmaster();
            }
            self.running = false;
        }
        self.dir.remove().context("removing the database directory")
    }

    /// Last resort: SIGQUIT to the postmaster (immediate shutdown; its children follow).
    fn kill_postmaster(&self) {
        let pid_file = self.data().join("postmaster.pid");
        let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
        else {
            return;
        };
        // Only if that pid is still our postmaster: a stale file must not hit another process.
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let data = self.data().display().to_string();
        if !String::from_utf8_lossy(&cmdline).contains(&data) {
            return;
        }
        let _ = std::process::Command::new("kill")
            .args(["-QUIT", &pid.to_string()])
            .status();
    }

    fn stop_blocking(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            std::process::Command::new(exe)
        };
        let ok = cmd
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "-t", "20", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            self.kill_postmaster();
        }
        self.running = false;
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            self.stop_blocking();
        }
        // The TempDir field removes the directory after this.
    }
}
