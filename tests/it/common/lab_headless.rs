//! Driving the real binary: `connscope lab --headless` as a child process (its first stdout line
//! is the banner with every address), and `connscope check` runs against it with bounded waits.
//! Everything started here is stopped on drop: the lab gets SIGTERM (then SIGKILL), a check that
//! overstays its limit is killed.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use super::wait_until;

/// Time for the lab to start (initdb + pg_ctl on a busy 2-core machine) and print its banner.
pub const LAB_START: Duration = Duration::from_secs(90);
/// Time for the lab to stop after a signal.
pub const LAB_STOP: Duration = Duration::from_secs(30);

/// The staging profile scaled by the scenarios' time scale (0.1): connection 35 s → 3.5 s,
/// initialization 75 s → 7.5 s, health check 20 s → 2 s.
pub const CONNECT_TIMEOUT: &str = "3.5s";
pub const INIT_TIMEOUT: &str = "7.5s";
pub const HEALTH_TIMEOUT: &str = "2s";

/// The first stdout line of `lab --headless`.
#[derive(Debug, Clone, Deserialize)]
pub struct Banner {
    pub database_url: String,
    pub direct_database_url: String,
    pub endpoints: BTreeMap<String, String>,
    pub websocket: String,
    pub startup_log: PathBuf,
    pub scenario: String,
    pub database: String,
}

pub fn connscope() -> Command {
    let mut c = super::bin();
    // Nothing from this machine's environment may steer the runs (PG*, DATABASE_URL,
    // CONNSCOPE_*).
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("PG") || k.starts_with("CONNSCOPE_") || k == "DATABASE_URL" {
            c.env_remove(k.as_ref());
        }
    }
    c.stdin(Stdio::null());
    c
}

pub fn signal(pid: u32, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits");
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own child.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Waits for `child` to exit, for at most `limit`; `None` if it is still running.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => return None,
            Err(e) => panic!("cannot wait for a child: {e}"),
        }
    }
}

pub struct HeadlessLab {
    child: Option<Child>,
    pub pid: u32,
    pub banner: Banner,
    stderr: PathBuf,
    _tmp: tempfile::TempDir,
}

impl HeadlessLab {
    /// `connscope lab --headless --scenario S --database D`, once its banner is out.
    pub fn start(scenario: &str, database: &str) -> HeadlessLab {
        Self::start_with(scenario, database, false)
    }

    /// Like `start`, the lab leading a process group of its own (its pid is the group's id),
    /// as a shell job or a CI step would run it — so the whole group can be signalled.
    pub fn start_in_own_group(scenario: &str, database: &str) -> HeadlessLab {
        Self::start_with(scenario, database, true)
    }

    fn start_with(scenario: &str, database: &str, own_group: bool) -> HeadlessLab {
        use std::os::unix::process::CommandExt as _;
        let tmp = tempfile::tempdir().expect("temp dir");
        let stderr = tmp.path().join("lab.stderr");
        let mut cmd = connscope();
        if own_group {
            cmd.process_group(0);
        }
        let mut child = cmd
            .args([
                "lab",
                "--headless",
                "--scenario",
                scenario,
                "--database",
                database,
            ])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("start connscope lab --headless");
        let pid = child.id();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let first = reader.read_line(&mut line).map(|_| line.clone());
            let _ = tx.send(first);
            // Keep draining so the lab never blocks on a full pipe; ends at the lab's exit.
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
        });
        let first = rx.recv_timeout(LAB_START);
        let mut lab = HeadlessLab {
            child: Some(child),
            pid,
            banner: Banner {
                database_url: String::new(),
                direct_database_url: String::new(),
                endpoints: BTreeMap::new(),
                websocket: String::new(),
                startup_log: PathBuf::new(),
                scenario: String::new(),
                database: String::new(),
            },
            stderr,
            _tmp: tmp,
        };
        let line = match first {
            Ok(Ok(line)) if !line.trim().is_empty() => line,
            other => panic!(
                "no banner from lab --headless ({other:?}); stderr:\n{}",
                lab.stderr_text()
            ),
        };
        lab.banner = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the banner is not the documented JSON ({e}): {line}"));
        assert_eq!(lab.banner.scenario, scenario);
        lab
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends `sig` and waits (bounded) for the exit: the status and how long it took.
    pub fn stop(&mut self, sig: libc::c_int) -> (ExitStatus, Duration) {
        let pid = self.pid;
        self.stop_by(sig, || signal(pid, sig))
    }

    /// `kill -SIG -- -PGID`: `sig` to the lab's whole process group (see `start_in_own_group`).
    pub fn stop_group(&mut self, sig: libc::c_int) -> (ExitStatus, Duration) {
        let pgid = libc::pid_t::try_from(self.pid).expect("pid fits");
        // SAFETY: kill(2) has no memory-safety preconditions; the group is our child's own.
        self.stop_by(sig, || unsafe {
            libc::kill(-pgid, sig);
        })
    }

    fn stop_by(&mut self, sig: libc::c_int, send: impl FnOnce()) -> (ExitStatus, Duration) {
        let mut child = self.child.take().expect("the lab is running");
        let started = Instant::now();
        send();
        match wait_bounded(&mut child, LAB_STOP) {
            Some(status) => (status, started.elapsed()),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("lab did not exit within {LAB_STOP:?} of signal {sig}");
            }
        }
    }

    /// SIGKILL — to the lab alone, or with `group` to its whole process group (started with
    /// `start_in_own_group`) — then nothing may be left: no handler and no `Drop` run, so
    /// this is the watchdog's work.
    pub fn kill_and_assert_nothing_left(mut self, database: &str, group: bool) {
        let before = self.before_kill(database);
        let (status, _) = if group {
            self.stop_group(libc::SIGKILL)
        } else {
            self.stop(libc::SIGKILL)
        };
        assert_eq!(status.code(), None, "killed by a signal: {status}");
        let how = if group { "kill -9 -- -PGID" } else { "SIGKILL" };
        self.assert_cleaned_up(&before, how);
    }

    /// The flags pointing `check` at every part of the lab, with the scaled staging timeouts.
    pub fn check_flags(&self) -> Vec<String> {
        let mut f = db_flags(&self.banner.database_url);
        f.extend(["--health-timeout".into(), HEALTH_TIMEOUT.into()]);
        for (name, url) in &self.banner.endpoints {
            f.extend(["--endpoint".into(), format!("{name}={url}")]);
        }
        f.extend(["--ws".into(), self.banner.websocket.clone()]);
        f.extend([
            "--startup-log".into(),
            self.banner.startup_log.display().to_string(),
        ]);
        f
    }

    /// Every directory the lab process made under the temporary directory.
    pub fn dirs(&self) -> Vec<PathBuf> {
        lab_dirs(self.pid)
    }

    /// `host:port` of everything the lab listens on.
    pub fn listening(&self) -> Vec<String> {
        let b = &self.banner;
        let mut urls: Vec<&String> = vec![&b.database_url, &b.direct_database_url, &b.websocket];
        urls.extend(b.endpoints.values());
        let mut out: Vec<String> = urls
            .into_iter()
            .map(|u| {
                let u = url::Url::parse(u).expect("lab URLs parse");
                format!(
                    "{}:{}",
                    u.host_str().expect("a host"),
                    u.port().expect("a port")
                )
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

impl Drop for HeadlessLab {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(self.pid, libc::SIGTERM);
            if wait_bounded(&mut child, LAB_STOP).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

pub fn db_flags(url: &str) -> Vec<String> {
    [
        "--env",
        "staging",
        "--db-url",
        url,
        "--connect-timeout",
        CONNECT_TIMEOUT,
        "--init-timeout",
        INIT_TIMEOUT,
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// What a killed lab must not leave behind: its directories and its database port.
pub struct LabLeftovers {
    dirs: Vec<PathBuf>,
    direct: String,
    database: String,
}

impl HeadlessLab {
    /// Notes what the lab has made before it is killed (and that a real cluster runs).
    pub fn before_kill(&self, database: &str) -> LabLeftovers {
        let dirs = self.dirs();
        assert!(!dirs.is_empty());
        if database == "postgres" {
            assert_eq!(
                postmasters_of(self.pid).len(),
                1,
                "the lab's postmaster runs"
            );
        }
        LabLeftovers {
            dirs,
            direct: self.banner.direct_database_url.clone(),
            database: database.to_string(),
        }
    }

    /// A killed lab cannot clean up itself: its watchdog (`src/lab/watchdog.rs`) must have
    /// stopped the cluster and removed the directories within 30 s, and the database port must
    /// be closed. On failure, says what is left (and removes it).
    pub fn assert_cleaned_up(&self, before: &LabLeftovers, how: &str) {
        let started = Instant::now();
        let cleaned = wait_until(Duration::from_secs(30), || {
            postmasters_of(self.pid).is_empty() && before.dirs.iter().all(|d| !d.exists())
        });
        eprintln!(
            "after {how} ({}): the watchdog cleaned up in {:?}",
            before.database,
            started.elapsed()
        );
        if !cleaned {
            let report = format!(
                "after {how}: postmasters {:?}, dirs left {:?}, watchdogs {:?}, lab stderr:\n{}",
                postmasters_of(self.pid),
                before
                    .dirs
                    .iter()
                    .filter(|d| d.exists())
                    .collect::<Vec<_>>(),
                watchdogs_of(self.pid),
                self.stderr_text()
            );
            force_cleanup(&before.dirs);
            panic!("{report}");
        }
        let u = url::Url::parse(&before.direct).expect("url");
        let addr = format!("{}:{}", u.host_str().unwrap_or("?"), u.port().unwrap_or(0));
        assert!(
            std::net::TcpStream::connect_timeout(
                &addr.parse().expect("addr"),
                Duration::from_secs(1)
            )
            .is_err(),
            "the database port {addr} is closed"
        );
    }
}

/// Directories named `connscope-lab-<what>-<pid>-…` in the temporary directory.
pub fn lab_dirs(pid: u32) -> Vec<PathBuf> {
    let infix = format!("-{pid}-");
    let mut out: Vec<PathBuf> = std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("connscope-lab-") && n.contains(&infix)
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Processes (pid, command line) whose command line mentions `needle`, this process excluded.
pub fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) {
            found.push((pid, text));
        }
    }
    found
}

/// PostgreSQL servers whose data directory belongs to the lab process `pid`.
pub fn postmasters_of(pid: u32) -> Vec<(u32, String)> {
    processes_mentioning(&format!("connscope-lab-pg-{pid}-"))
        .into_iter()
        .filter(|(_, cmd)| cmd.contains("postgres"))
        .collect()
}

/// The lab's watchdog processes (`src/lab/watchdog.rs`): they carry the lab's directories in their
/// environment, not their command line. (pid, state line of /proc/PID/status, stdin link).
pub fn watchdogs_of(pid: u32) -> Vec<(u32, String, String)> {
    let needle = format!("-{pid}-");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let env = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let env = String::from_utf8_lossy(&env);
        if env
            .split('\0')
            .any(|kv| kv.starts_with("CONNSCOPE_GUARD_DIR=") && kv.contains(&needle))
        {
            let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            let state = status
                .lines()
                .filter(|l| l.starts_with("State") || l.starts_with("PPid"))
                .collect::<Vec<_>>()
                .join(" ");
            let stdin = std::fs::read_link(entry.path().join("fd/0"))
                .map(|l| l.display().to_string())
                .unwrap_or_default();
            found.push((p, state, stdin));
        }
    }
    found
}

/// What a test does when the lab's own cleanup failed: stops any cluster left in `dirs`
/// (`pg_ctl stop -m immediate`, as `postgres` when root) and removes them, so a failing test
/// leaves nothing behind either.
pub fn force_cleanup(dirs: &[PathBuf]) {
    let pg_ctl = connscope::lab::pg::find_binaries().map(|b| b.join("pg_ctl"));
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    for d in dirs.iter().filter(|d| d.exists()) {
        let data = d.join("data");
        if let Some(pg_ctl) = &pg_ctl
            && data.join("postmaster.pid").exists()
        {
            let mut cmd = if root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(pg_ctl);
                c
            } else {
                Command::new(pg_ctl)
            };
            let _ = cmd
                .arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "-t", "20", "stop"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Waits until the startup log holds a line satisfying `pred`; the whole log as JSON values.
pub fn wait_log(path: &Path, limit: Duration, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut lines = Vec::new();
    let found = wait_until(limit, || {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        lines = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        lines.iter().any(&pred)
    });
    assert!(
        found,
        "no matching line in {} after {limit:?}: {lines:#?}",
        path.display()
    );
    lines
}

/// One finished `connscope check` (or `report`) run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }
}

/// Runs the binary with `args`, killing it if it is still running after `limit`.
pub fn run_bounded(args: &[String], limit: Duration) -> Run {
    let child = connscope()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run connscope");
    let started = Instant::now();
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(limit) {
        Ok(out) => out.expect("connscope ran"),
        Err(_) => {
            signal(pid, libc::SIGKILL);
            let _ = rx.recv_timeout(Duration::from_secs(10));
            panic!("connscope {args:?} still running after {limit:?}");
        }
    };
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// `connscope check --format json` with `flags`; bounded by `limit`.
pub fn check(flags: &[String], limit: Duration) -> (Run, Value) {
    let mut args: Vec<String> = vec!["check".into(), "--format".into(), "json".into()];
    args.extend(flags.iter().cloned());
    let run = run_bounded(&args, limit);
    let json = run.json();
    (run, json)
}

pub fn strs(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The `findings[].rule` names of a report.
pub fn rules(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|f| f["rule"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `database.attempts` of a report.
pub fn attempts(v: &Value) -> Vec<Value> {
    v["database"]["attempts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn step(a: &Value, name: &str) -> Option<f64> {
    a["steps_ms"][name].as_f64()
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    assert!(!xs.is_empty(), "no values");
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}
