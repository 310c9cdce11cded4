//! A throwaway PostgreSQL cluster for one test: initdb + pg_ctl on a free loopback port, socket
//! directory inside its temp dir, settings chosen per test. As root, the server runs as the
//! `postgres` user (initdb and postgres refuse root). Dropping the guard stops the server and
//! removes its directory, even when the test fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

pub struct PgOptions {
    pub max_connections: u32,
    pub superuser_reserved: u32,
    /// Host connections for role `app` require SCRAM with this password.
    pub app_password: Option<&'static str>,
    /// A self-signed certificate for localhost / 127.0.0.1.
    pub ssl: bool,
    /// The server's own certificate and key (and a CA for client certificates), instead.
    pub tls: Option<ServerTls>,
    /// pg_hba.conf as written (replaces the rules above).
    pub hba: Option<String>,
    /// More server settings, `name=value`.
    pub settings: Vec<String>,
}

/// PEM text of the server's certificate and key, and of the CA it accepts client
/// certificates from.
#[derive(Clone)]
pub struct ServerTls {
    pub cert: String,
    pub key: String,
    pub ca: Option<String>,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 20,
            superuser_reserved: 0,
            app_password: None,
            ssl: false,
            tls: None,
            hba: None,
            settings: Vec::new(),
        }
    }
}

pub struct TempPg {
    pub port: u16,
    pub dir: tempfile::TempDir,
    bin: PathBuf,
    /// The server options it was started with, to start it again the same way.
    opts: String,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub fn pg_bin() -> PathBuf {
    if let Ok(b) = std::env::var("PG_BIN") {
        return PathBuf::from(b);
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    dirs.pop().unwrap_or_else(|| PathBuf::from("/usr/bin"))
}

/// A PostgreSQL tool's command, run as `postgres` when we are root.
fn tool_command(bin: &Path, name: &str) -> Command {
    let exe = bin.join(name);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    }
}

/// Runs a PostgreSQL tool, as `postgres` when we are root.
fn tool(bin: &Path, name: &str, args: &[&str]) -> Output {
    tool_command(bin, name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"))
}

fn check(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

fn chown_postgres(path: &Path) {
    if is_root() {
        let st = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .expect("chown");
        assert!(st.success(), "chown {}", path.display());
    }
}

fn temp_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("connscope-pg-")
        .tempdir()
        .expect("temp dir");
    chown_postgres(dir.path());
    dir
}

/// Writes the server's certificate files into the data directory; the settings that use them.
fn server_tls(data: &Path, t: &ServerTls) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(data.join("server.crt"), &t.cert).expect("write cert");
    let key = data.join("server.key");
    std::fs::write(&key, &t.key).expect("write key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod key");
    let mut s = " -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key".to_string();
    if let Some(ca) = &t.ca {
        std::fs::write(data.join("ca.crt"), ca).expect("write CA");
        s.push_str(" -c ssl_ca_file=ca.crt");
    }
    chown_postgres(data);
    s
}

impl TempPg {
    pub fn start() -> Self {
        Self::start_with(PgOptions::default())
    }

    pub fn start_with(o: PgOptions) -> Self {
        let bin = pg_bin();
        let dir = temp_dir();
        let data = dir.path().join("data");
        let data_s = data.to_str().expect("utf-8 path");
        check(
            tool(
                &bin,
                "initdb",
                &[
                    "-D",
                    data_s,
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                ],
            ),
            "initdb",
        );
        let mut extra = String::new();
        if o.ssl {
            write_cert(&data);
            extra.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        if let Some(t) = &o.tls {
            extra.push_str(&server_tls(&data, t));
        }
        for setting in &o.settings {
            extra.push_str(&format!(" -c {setting}"));
        }
        let hba = match (&o.hba, o.app_password) {
            (Some(h), _) => Some(h.clone()),
            (None, Some(_)) => Some(
                "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
                    .to_string(),
            ),
            (None, None) => None,
        };
        if let Some(h) = hba {
            std::fs::write(data.join("pg_hba.conf"), h).expect("write pg_hba.conf");
            chown_postgres(&data);
        }
        let base = format!(
            "-c listen_addresses=127.0.0.1 -c max_connections={} -c superuser_reserved_connections={} \
             -c unix_socket_directories={} -c fsync=off -c full_page_writes=off{extra}",
            o.max_connections,
            o.superuser_reserved,
            dir.path().display()
        );
        let pg = Self::launch(bin, dir, &base);
        pg.setup(o.app_password);
        pg
    }

    /// Starts the cluster in `dir` on a free port (a few tries: a port can be taken between
    /// choosing and binding it).
    fn launch(bin: PathBuf, dir: tempfile::TempDir, base: &str) -> Self {
        let data = dir.path().join("data");
        let data_s = data.to_str().expect("utf-8 path");
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let opts = format!("-p {port} {base}");
            let log = dir.path().join("log");
            let out = tool(
                &bin,
                "pg_ctl",
                &[
                    "-D",
                    data_s,
                    "-l",
                    log.to_str().expect("utf-8"),
                    "-w",
                    "-t",
                    "30",
                    "-o",
                    &opts,
                    "start",
                ],
            );
            if out.status.success() {
                return TempPg {
                    port,
                    dir,
                    bin,
                    opts,
                };
            }
            last = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("postgres did not start: {last}");
    }

    /// A physical standby of this cluster (pg_basebackup -R), with the same settings plus
    /// `extra` (e.g. `-c hot_standby=off`), started on a port of its own.
    pub fn standby(&self, extra: &str) -> TempPg {
        let dir = temp_dir();
        let data = dir.path().join("data");
        let host = self.socket_dir().to_str().expect("utf-8").to_string();
        check(
            tool(
                &self.bin,
                "pg_basebackup",
                &[
                    "-D",
                    data.to_str().expect("utf-8"),
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                    "-h",
                    &host,
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                    "--no-sync",
                ],
            ),
            "pg_basebackup",
        );
        let primary_dir = self.dir.path().display().to_string();
        let base = self
            .opts
            .split_once(' ')
            .and_then(|(_, rest)| rest.split_once(' '))
            .map(|(_, rest)| rest.to_string())
            .unwrap_or_default()
            .replace(&primary_dir, &dir.path().display().to_string());
        Self::launch(self.bin.clone(), dir, &format!("{base} {extra}"))
    }

    /// Stops the cluster and starts it again with `extra` settings added.
    pub fn restart_with(&mut self, extra: &str) {
        let data = self.dir.path().join("data");
        check(
            tool(
                &self.bin,
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().expect("utf-8"),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ],
            ),
            "pg_ctl stop",
        );
        self.opts = format!("{} {extra}", self.opts);
        self.start_again();
    }

    fn setup(&self, password: Option<&str>) {
        let pw = password
            .map(|p| format!(" PASSWORD '{p}'"))
            .unwrap_or_default();
        self.psql(&format!("CREATE ROLE app LOGIN{pw}"));
        self.psql("CREATE DATABASE app OWNER app");
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs SQL as the superuser over the unix socket.
    pub fn psql(&self, sql: &str) -> String {
        let port = self.port.to_string();
        let host = self.socket_dir().to_str().expect("utf-8").to_string();
        let out = check(
            tool(
                &self.bin,
                "psql",
                &[
                    "-h", &host, "-p", &port, "-U", "postgres", "-d", "postgres", "-XAtq", "-c",
                    sql,
                ],
            ),
            sql,
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A TCP URL for `user` on database `db`.
    pub fn url(&self, user: &str, db: &str) -> String {
        format!(
            "postgres://{user}@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// Sessions in pg_stat_activity with this application_name.
    pub fn sessions(&self, app: &str) -> u32 {
        self.psql(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"
        ))
        .parse()
        .unwrap_or(u32::MAX)
    }

    /// Waits (bounded) until no session of `app` remains; returns the count left.
    pub fn wait_sessions_gone(&self, app: &str) -> u32 {
        for _ in 0..50 {
            let n = self.sessions(app);
            if n == 0 {
                return 0;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.sessions(app)
    }

    pub fn stop(&self) {
        let data = self.dir.path().join("data");
        let _ = tool(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    /// Starts the cluster again after `stop`, on the same port with the same settings (an
    /// outage that ends), waiting until it accepts connections.
    pub fn start_again(&self) {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("log");
        check(
            tool(
                &self.bin,
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().expect("utf-8"),
                    "-l",
                    log.to_str().expect("utf-8"),
                    "-w",
                    "-t",
                    "30",
                    "-o",
                    &self.opts,
                    "start",
                ],
            ),
            "pg_ctl start (again)",
        );
    }

    /// Starts a smart shutdown and returns at once: new connections are refused with 57P03
    /// ("the database system is shutting down") until every session has ended.
    pub fn begin_smart_shutdown(&self) {
        let data = self.dir.path().join("data");
        check(
            tool(
                &self.bin,
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().expect("utf-8"),
                    "-m",
                    "smart",
                    "-W",
                    "stop",
                ],
            ),
            "pg_ctl stop -m smart -W",
        );
    }

    /// A superuser session held open over the unix socket (psql sleeping `secs`), until the
    /// child is killed: it keeps a smart shutdown from completing.
    pub fn hold_session(&self, secs: u32) -> std::process::Child {
        let mut cmd = tool_command(&self.bin, "psql");
        let host = self.socket_dir().to_str().expect("utf-8").to_string();
        cmd.args(["-h", &host, "-p", &self.port.to_string(), "-U", "postgres"])
            .args(["-d", "postgres", "-XAtq", "-c"])
            .arg(format!("SELECT pg_sleep({secs})"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run psql: {e}"))
    }

    pub fn restart(&self) {
        let data = self.dir.path().join("data");
        let _ = tool(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "fast",
                "-w",
                "restart",
            ],
        );
    }
}

impl Drop for TempPg {
    fn drop(&mut self) {
        self.stop();
    }
}

fn write_cert(data: &Path) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("self-signed cert");
    std::fs::write(data.join("server.crt"), cert.cert.pem()).expect("write cert");
    let key = data.join("server.key");
    std::fs::write(&key, cert.signing_key.serialize_pem()).expect("write key");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod key");
    chown_postgres(data);
}
