//! Running the real binary for the fault suite: a clean environment (no PG*, DATABASE_URL,
//! CONNSCOPE_* or HOME from this machine leaks in), a hard time limit, the wall time, and the
//! binary's own peak memory. A child still running when the guard drops — a failed assertion,
//! a panic — is killed and reaped.
//!
//! Peak memory is the high-water mark of the connscope process's own address space (`VmHWM`,
//! read from /proc while it runs), not `wait4`'s `ru_maxrss`: Linux carries the spawning
//! process's resident set into the child's `ru_maxrss` at exec, so a test binary holding
//! 300 MB would make every child look that big.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

pub struct Run {
    /// `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
    /// When the child was started (to compare with the `at` of its events).
    pub started_at: SystemTime,
    /// Peak resident set size of the connscope process, in KiB: its `VmHWM`, sampled every
    /// 2 ms while it runs (growth in its last 2 ms is missed). When it ended before a sample
    /// could be taken, `wait4`'s `ru_maxrss` — which counts this test process's memory too,
    /// so it can only overstate.
    pub max_rss_kib: i64,
}

impl Run {
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The `--progress json` events on stderr, in order (other lines ignored).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stderr
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("kind").is_some())
            .collect()
    }
}

/// Kills and reaps a child that was not reaped by the time the guard drops.
struct Reaper {
    pid: libc::pid_t,
    reaped: bool,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: plain syscalls on our own child's pid; no memory is shared.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                let mut status = 0;
                libc::waitpid(self.pid, &mut status, 0);
            }
        }
    }
}

/// A started child, killed and reaped if the test ends before it does.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (at most `limit`) for the child to end; its exit code, stdout and stderr.
pub fn wait_output(mut g: Guard, limit: Duration) -> (Option<i32>, String, String) {
    let start = Instant::now();
    while g.0.try_wait().ok().flatten().is_none() {
        assert!(start.elapsed() < limit, "still running after {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = g.0.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = g.0.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let code = g.0.try_wait().ok().flatten().and_then(|s| s.code());
    (code, out, err)
}

pub fn command() -> Command {
    let mut c = super::bin();
    clean_env(&mut c);
    c
}

/// Nothing of this machine's environment but what a process needs to run.
pub fn clean_env(c: &mut Command) {
    c.env_clear();
    for keep in ["PATH", "LANG", "TMPDIR", "LLVM_PROFILE_FILE"] {
        if let Ok(v) = std::env::var(keep) {
            c.env(keep, v);
        }
    }
}

/// Runs `connscope ARGS` with only `env` (and PATH) in its environment; panics when it runs
/// longer than `limit`.
// The child is reaped by `wait4` (for its rusage) or, on any early exit, by the `Reaper`.
#[allow(clippy::zombie_processes)]
pub fn run(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let mut c = command();
    c.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    run_prepared(c, limit)
}

/// `connscope check --only db --attempts 1 --format json --db-url URL`, as `run` runs it.
pub fn check_db(url: &str, env: &[(&str, &str)]) -> Run {
    let args = [
        "check",
        "--only",
        "db",
        "--attempts",
        "1",
        "--format",
        "json",
        "--db-url",
        url,
    ];
    run(&args, env, Duration::from_secs(60))
}

/// Runs a command made with `command()` whose arguments and standard streams the caller has
/// set (a stream that is not piped reads as empty); panics when it runs longer than `limit`.
#[allow(clippy::zombie_processes)]
pub fn run_prepared(mut c: Command, limit: Duration) -> Run {
    let args: Vec<String> = c
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let started_at = SystemTime::now();
    let start = Instant::now();
    let mut child = c.spawn().expect("start connscope");
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let mut reaper = Reaper { pid, reaped: false };
    let pipe = |p: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = p {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = pipe(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = pipe(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut hwm: Option<i64> = None;
    let ours = std::fs::canonicalize(super::bin_path()).ok();
    loop {
        if let Some(k) = ours.as_deref().and_then(|exe| hwm_kib(pid, exe)) {
            hwm = Some(hwm.map_or(k, |h| h.max(k)));
        }
        // SAFETY: waits for our own child without blocking; status and usage are ours.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            reaper.reaped = true;
            break;
        }
        assert!(r == 0, "wait4 failed: {}", std::io::Error::last_os_error());
        assert!(
            start.elapsed() < limit,
            "connscope {args:?} still running after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = start.elapsed();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Run {
        code,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        took,
        started_at,
        max_rss_kib: hwm.unwrap_or(usage.ru_maxrss),
    }
}

/// `VmHWM` of `pid` once it runs `exe` (before its exec, or while a wrapper such as
/// `unshare` runs, the address space is someone else's).
fn hwm_kib(pid: libc::pid_t, exe: &std::path::Path) -> Option<i64> {
    if std::fs::read_link(format!("/proc/{pid}/exe")).ok()? != exe {
        return None;
    }
    super::procfs::status_kib(pid, "VmHWM").and_then(|k| i64::try_from(k).ok())
}
