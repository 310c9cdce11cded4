//! psql as the oracle: the same connection string, environment and home directory (so
//! `~/.postgresql/` and `~/.pgpass` are the test's own) given to psql — libpq itself — and to
//! connscope, so a test can assert that connscope connects, or refuses for the same reason, as
//! the application's driver would.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use connscope::config::DbTarget;
use connscope::config::target::{EnvSnapshot, Resolve, resolve};
use connscope::event::{ConnTry, DbSteps, ErrorClass, Failure};
use connscope::probe::conn::connect::{self, Attempt, ConnectParams};

/// What psql did: connected and ran `select 1`, or not, and what it printed.
#[derive(Debug)]
pub struct Psql {
    pub ok: bool,
    pub stderr: String,
    pub took: Duration,
}

/// Runs `psql -X -w -qAt -d CONNINFO -c 'select 1'` with only `env` (plus HOME and PATH), no
/// password prompt, bounded by 60 s.
pub fn psql(conninfo: &str, home: &Path, env: &[(&str, &str)]) -> Psql {
    let mut c = Command::new("psql");
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LC_ALL", "C")
        .args(["-X", "-w", "-qAt", "-d", conninfo, "-c", "select 1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let start = Instant::now();
    let mut child = c.spawn().expect("run psql");
    loop {
        match child.try_wait().expect("wait for psql") {
            Some(_) => break,
            None if start.elapsed() > Duration::from_secs(60) => {
                let _ = child.kill();
                panic!("psql did not finish within 60 s: {conninfo}");
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let out = child.wait_with_output().expect("psql output");
    Psql {
        ok: out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "1",
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: start.elapsed(),
    }
}

/// The environment connscope resolves with: HOME and `env`, nothing from this process.
pub fn env_of(home: &Path, env: &[(&str, &str)]) -> EnvSnapshot {
    let mut e: EnvSnapshot = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    e.insert("HOME".into(), home.display().to_string());
    e
}

pub fn target_in(conninfo: &str, home: &Path, env: &[(&str, &str)]) -> DbTarget {
    let e = env_of(home, env);
    resolve(&Resolve {
        url: Some(conninfo),
        config_password: None,
        application_name: "connscope",
        env: &e,
    })
    .unwrap_or_else(|e| panic!("{conninfo}: {e}"))
    .expect("a target")
}

/// What connscope did with the same inputs.
#[derive(Debug)]
pub struct Outcome {
    pub ok: bool,
    pub error: Option<Failure>,
    pub steps: DbSteps,
    pub total_ms: f64,
    pub tries: Vec<ConnTry>,
}

impl Outcome {
    /// The failure's class and message (panics when it connected).
    pub fn failed(&self) -> (ErrorClass, &str) {
        let e = self.error.as_ref().expect("connscope should have failed");
        (e.class, e.message.as_str())
    }
}

/// One connscope attempt with the same inputs; the session, if any, is closed.
pub async fn connscope(
    conninfo: &str,
    home: &Path,
    env: &[(&str, &str)],
    timeout: Duration,
) -> Outcome {
    let a = attempt(conninfo, home, env, timeout).await;
    let (ok, error) = match a.result {
        Ok(s) => {
            s.close().await;
            (true, None)
        }
        Err(f) => (false, Some(f)),
    };
    Outcome {
        ok,
        error,
        steps: a.steps,
        total_ms: a.total_ms,
        tries: a.tries,
    }
}

/// A fresh, empty home directory (no `~/.postgresql/`, no `~/.pgpass`) for one case.
pub fn home() -> tempfile::TempDir {
    tempfile::tempdir().expect("home")
}

/// psql beside connscope on the same inputs, connscope's attempt bounded by `limit`.
#[derive(Debug, Clone, Copy)]
pub struct Parity {
    pub limit: Duration,
}

impl Parity {
    /// Both sides on one connection string, with `home` as HOME, one after the other (so
    /// neither takes a connection slot the other needs). psql runs on a blocking thread, so
    /// servers on this runtime keep answering meanwhile.
    pub async fn both(&self, conninfo: &str, home: &Path, env: &[(&str, &str)]) -> (Psql, Outcome) {
        let (c, h) = (conninfo.to_string(), home.to_path_buf());
        let owned: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let p = tokio::task::spawn_blocking(move || {
            let e: Vec<(&str, &str)> = owned
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            psql(&c, &h, &e)
        });
        let theirs = p.await.expect("psql thread");
        let ours = connscope(conninfo, home, env, self.limit).await;
        (theirs, ours)
    }

    /// Asserts both connected.
    pub async fn agree_ok(&self, conninfo: &str, home: &Path, env: &[(&str, &str)]) -> Outcome {
        let (p, c) = self.both(conninfo, home, env).await;
        assert!(p.ok, "psql should connect: {conninfo}\n{}", p.stderr);
        assert!(
            c.ok,
            "connscope should connect like psql: {conninfo}\n{:?}",
            c.error
        );
        c
    }

    /// Asserts both refused, psql saying `libpq` and connscope failing with `class` and a
    /// message containing `ours`.
    pub async fn agree_fail(
        &self,
        conninfo: &str,
        home: &Path,
        env: &[(&str, &str)],
        libpq: &str,
        class: ErrorClass,
        ours: &str,
    ) -> (Psql, Outcome) {
        let (p, c) = self.both(conninfo, home, env).await;
        assert!(!p.ok, "psql should fail: {conninfo}");
        assert!(p.stderr.contains(libpq), "psql: {conninfo}\n{}", p.stderr);
        assert!(!c.ok, "connscope should fail like psql: {conninfo}");
        let (got, message) = c.failed();
        assert_eq!(got, class, "{conninfo}: {message}");
        assert!(message.contains(ours), "{conninfo}: {message}");
        (p, c)
    }
}

/// The attempt itself, session open (close it).
pub async fn attempt(
    conninfo: &str,
    home: &Path,
    env: &[(&str, &str)],
    timeout: Duration,
) -> Attempt {
    let t = target_in(conninfo, home, env);
    let cp = ConnectParams::new(&t, timeout, Duration::from_secs(5)).expect("params");
    connect::attempt(&t, &cp).await
}
