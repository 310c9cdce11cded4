//! A watchdog for what the lab leaves on disk and in the process table when it cannot clean up
//! itself: killed with SIGKILL, by the OOM killer, or aborted, no `Drop` runs, and a real
//! cluster started by `pg_ctl` (a daemon, not our child) would keep running with its data
//! directory in the temporary directory.
//!
//! The watchdog is a tiny `sh` child whose standard input is a pipe only the lab holds. The lab
//! never writes to it; when the lab exits — however it exits — the kernel closes its end, the
//! watchdog reads end-of-file and, if the directory is still there, stops the cluster in it
//! (`pg_ctl stop -m immediate`) and removes the directory. After a clean shutdown the directory
//! is already gone and the watchdog just exits. The watchdog ignores SIGINT, SIGTERM and
//! SIGHUP, and it runs in a session (and process group) of its own (`setsid` before `exec`): a
//! signal to the lab's whole process group — Ctrl-C, a closing terminal's SIGHUP, a CI
//! runner's `kill -9 -- -PGID` at its timeout — does not reach it, so it is still there to
//! clean up after the lab that the group kill took down.
//!
//! Paths go through the environment, not the command line, so the watchdog's command line
//! never mentions the directory (process scans for a data directory find only the server).

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = r#"trap '' INT TERM HUP
while read -r _; do :; done
[ -d "$CONNSCOPE_GUARD_DIR" ] || exit 0
if [ -n "$CONNSCOPE_GUARD_PG_CTL" ] && [ -f "$CONNSCOPE_GUARD_DIR/data/postmaster.pid" ]; then
  if [ -n "$CONNSCOPE_GUARD_RUNUSER" ]; then
    runuser -u postgres -- "$CONNSCOPE_GUARD_PG_CTL" -D "$CONNSCOPE_GUARD_DIR/data" -m immediate -w -t 20 stop
  else
    "$CONNSCOPE_GUARD_PG_CTL" -D "$CONNSCOPE_GUARD_DIR/data" -m immediate -w -t 20 stop
  fi
fi
rm -rf "$CONNSCOPE_GUARD_DIR"
"#;

/// How long a disarmed watchdog gets to notice and exit before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// A cluster the watchdog must stop before removing the directory (its data is `<dir>/data`).
#[derive(Debug, Clone)]
pub(super) struct ClusterStop {
    pub pg_ctl: PathBuf,
    /// Run `pg_ctl` as the `postgres` user (the lab runs as root).
    pub(crate) as_postgres: bool,
}

pub(super) struct Watchdog {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Watchdog {
    /// Starts watching `dir` (and the cluster in it, when given).
    pub(super) fn spawn(dir: &Path, cluster: Option<&ClusterStop>) -> io::Result<Watchdog> {
        use std::os::unix::process::CommandExt as _;
        let mut cmd = Command::new("sh");
        // SAFETY: between fork and exec only setsid(2) runs, which is async-signal-safe and
        // touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.arg("-c")
            .arg(SCRIPT)
            .env("CONNSCOPE_GUARD_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(c) = cluster {
            cmd.env("CONNSCOPE_GUARD_PG_CTL", &c.pg_ctl);
            if c.as_postgres {
                cmd.env("CONNSCOPE_GUARD_RUNUSER", "1");
            }
        }
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        Ok(Watchdog { child, stdin })
    }

    /// The lab cleaned up itself: let the watchdog go (it finds nothing to do) and reap it.
    pub(super) fn disarm(&mut self) {
        self.stdin.take();
        let deadline = Instant::now() + EXIT_WAIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
            }
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.disarm();
    }
}
