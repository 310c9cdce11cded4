//! A throwaway PostgreSQL cluster for one test: the lab's own `PgCluster` (one type for the
//! product and the tests), with test conveniences on top — a failure to start panics with the
//! server's words, URLs for a role, and session counts. Dropping it stops the server and
//! removes its directory, even when the test fails.

#![allow(dead_code)]

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use connscope::lab::pg::{PgCluster, PgError, PgOptions, ServerTls};

pub struct TempPg {
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    /// The temporary directory: `dir.path()` holds `data/`, the socket and the server log.
    pub dir: ClusterDir,
    cluster: PgCluster,
}

/// The cluster's directory, as tests name it (`pg.dir.path()`).
pub struct ClusterDir(PathBuf);

impl ClusterDir {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

/// The server binaries: `PG_BIN` when set (the benches' scripts honour it too), else the
/// lab's choice.
pub fn pg_bin() -> PathBuf {
    std::env::var_os("PG_BIN")
        .map(PathBuf::from)
        .or_else(connscope::lab::pg::find_binaries)
        .expect("PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) are installed")
}

/// A self-signed certificate for `localhost` and 127.0.0.1 (CA:TRUE, as `openssl req -x509`
/// makes it), for `PgOptions::tls`.
pub fn self_signed_tls() -> ServerTls {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("self-signed cert");
    ServerTls {
        cert: cert.cert.pem(),
        key: cert.signing_key.serialize_pem(),
        ca: None,
    }
}

/// The value, or a panic with `what`, the error and each of its sources (`a: b: c`).
fn ok<T>(r: Result<T, PgError>, what: &str) -> T {
    r.unwrap_or_else(|e| {
        let mut text = format!("{what}: {e}");
        let mut next = std::error::Error::source(&e);
        while let Some(s) = next {
            text.push_str(&format!(": {s}"));
            next = s.source();
        }
        panic!("{text}")
    })
}

impl Deref for TempPg {
    type Target = PgCluster;

    fn deref(&self) -> &PgCluster {
        &self.cluster
    }
}

impl TempPg {
    pub fn start() -> Self {
        Self::start_with(PgOptions::default())
    }

    /// Returns once the set-up's own psql sessions have left too: a backend that lingers
    /// would take a slot from what a test with few slots measures.
    pub fn start_with(o: PgOptions) -> Self {
        let pg = Self::wrap(ok(
            PgCluster::create(&pg_bin(), &o),
            "postgres did not start",
        ));
        pg.wait_no_clients();
        pg
    }

    fn wrap(cluster: PgCluster) -> Self {
        TempPg {
            port: cluster.port(),
            dir: ClusterDir(cluster.dir().to_path_buf()),
            cluster,
        }
    }

    /// A physical standby of this cluster with the same settings plus `extra`.
    pub fn standby(&self, extra: &str) -> TempPg {
        Self::wrap(ok(self.cluster.standby(extra), "standby"))
    }

    /// Stops the cluster and starts it again with `extra` settings added.
    pub fn restart_with(&mut self, extra: &str) {
        ok(
            self.cluster.restart_with(extra),
            "restart with new settings",
        );
    }

    /// Runs SQL as the superuser over the unix socket; its output, trimmed.
    pub fn psql(&self, sql: &str) -> String {
        ok(self.cluster.psql(&[sql]), sql)
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

    /// Reloads the configuration (pg_hba.conf, settings) and waits (bounded) until new
    /// sessions run with it: their `pg_conf_load_time()` is the postmaster's reload time.
    pub fn reload(&self) {
        let before = self.psql("SELECT pg_conf_load_time()");
        self.psql("SELECT pg_reload_conf()");
        let reloaded = (0..250).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            self.psql("SELECT pg_conf_load_time()") != before
        });
        assert!(reloaded, "the server did not reload its configuration");
    }

    /// Waits (at most `limit`) until `app` has at least `n` sessions open; the count seen last.
    pub fn wait_sessions_at_least(&self, app: &str, n: u32, limit: Duration) -> u32 {
        let mut seen = 0;
        super::wait_until(limit, || {
            seen = self.sessions(app);
            seen >= n
        });
        seen
    }

    /// Waits (bounded, 10 s) until the server has no client backend at all; the count left.
    pub fn wait_no_clients(&self) -> usize {
        self.wait_clients(Duration::from_secs(10), |n| n == 0)
    }

    /// Waits (bounded by `limit`) until the number of client backends is one `want`s; the
    /// count last seen. Counted without a session of its own: a polling psql would take a
    /// slot, and change what a tool that reads the slots in use then sees. And a backend
    /// outlives its client for a moment (one that was refused or closed too): on a server with
    /// few slots, that moment can refuse the next connection.
    pub fn wait_clients(&self, limit: Duration, want: impl Fn(usize) -> bool) -> usize {
        let mut seen = self.client_backends();
        super::wait_until(limit, || {
            seen = self.client_backends();
            want(seen)
        });
        seen
    }

    /// The client backends running now, read from /proc (the postmaster's children by their
    /// process titles), not by querying: a query is a session of its own, and the backend of
    /// a psql that has just exited lingers for a moment — long enough, on a loaded machine,
    /// to take a slot from the next thing the test measures.
    fn client_backends(&self) -> usize {
        let pid_file = self.dir.path().join("data").join("postmaster.pid");
        let postmaster: u32 = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse().ok()))
            .expect("postmaster.pid names the server");
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return usize::MAX;
        };
        procs
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let ppid = stat.rsplit_once(')').and_then(|(_, rest)| {
                    rest.split_whitespace()
                        .nth(1)
                        .and_then(|p| p.parse::<u32>().ok())
                });
                ppid == Some(postmaster)
            })
            .filter(|pid| {
                let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let title = String::from_utf8_lossy(&title);
                title.contains('(') || title.contains("[local]")
            })
            .count()
    }

    /// Waits (bounded, 10 s) until exactly `n` sessions of `app` are open; the count seen.
    pub fn wait_sessions(&self, app: &str, n: u32) -> u32 {
        let mut seen = self.sessions(app);
        for _ in 0..100 {
            if seen == n {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            seen = self.sessions(app);
        }
        seen
    }

    /// Stops the server at once (a crash), keeping its data for `start_again`.
    pub fn stop(&self) {
        ok(self.cluster.stop_immediately(), "pg_ctl stop");
    }

    /// Starts the cluster again after `stop`, on the same port with the same settings (an
    /// outage that ends), waiting until it accepts connections.
    pub fn start_again(&self) {
        ok(self.cluster.start_again(), "pg_ctl start (again)");
    }

    pub fn restart(&self) {
        ok(self.cluster.restart(), "pg_ctl restart");
    }

    /// See `PgCluster::begin_smart_shutdown`.
    pub fn begin_smart_shutdown(&self) {
        ok(
            self.cluster.begin_smart_shutdown(),
            "pg_ctl stop -m smart -W",
        );
    }

    /// See `PgCluster::hold_session`; returns once the session is open, so a test that goes on
    /// to shut the server down never races a psql still connecting (then refused, it would
    /// hold nothing, and a smart shutdown would complete at once).
    pub fn hold_session(&self, secs: u32) -> std::process::Child {
        let mut child = ok(self.cluster.hold_session(secs), "psql holding a session");
        let open = super::wait_until(Duration::from_secs(20), || {
            self.psql(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE query LIKE 'SELECT pg_sleep(%' AND pid <> pg_backend_pid()",
            ) == "1"
        });
        if !open {
            let _ = child.kill();
            let _ = child.wait();
            panic!("psql never opened the session it should hold");
        }
        child
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    connscope::lab::pg::free_port().expect("a free loopback port")
}
