//! A command's standard output as a source, and how the command's end is told.

use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::stream::StreamLines;
use super::{Next, Splitter};
use crate::event::NoteLevel;

/// How long reaping a killed command may take.
const REAP_GRACE: Duration = Duration::from_secs(2);
/// How long the error output may take to close once the command is gone.
const STDERR_GRACE: Duration = Duration::from_secs(1);
/// Error-output lines of a command kept to explain its exit.
const STDERR_TAIL: usize = 5;
const STDERR_LINE: usize = 512;

/// A command's standard output, line by line. The command runs as `sh -c` in a process group
/// of its own, so stopping it also stops what it started (a pipeline, `kubectl logs -f`).
pub(crate) struct CommandLines {
    desc: String,
    lines: StreamLines,
    child: Child,
    pid: Option<u32>,
    stderr: Option<JoinHandle<Vec<String>>>,
    exit_grace: Duration,
    /// Set when the output closes: the command must have exited by then.
    end_by: Option<tokio::time::Instant>,
    /// `Some` once waited for: `Some(None)` when it did not exit in time.
    status: Option<Option<ExitStatus>>,
    reaped: bool,
    ended: bool,
}

impl CommandLines {
    /// Starts `sh -c command`. `desc` names it in notes (already scrubbed); `exit_grace` is
    /// how long it gets to exit once it has closed its output, before it is killed.
    pub(crate) fn spawn(
        command: &str,
        desc: String,
        exit_grace: Duration,
    ) -> std::io::Result<Self> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("the command's output was not captured"))?;
        let stderr = child.stderr.take().map(|e| tokio::spawn(stderr_tail(e)));
        Ok(Self {
            lines: StreamLines::new(desc.clone(), Box::new(stdout)),
            desc,
            pid: child.id(),
            child,
            stderr,
            exit_grace,
            end_by: None,
            status: None,
            reaped: false,
            ended: false,
        })
    }

    pub(super) async fn next(&mut self) -> Next {
        if self.ended {
            return Next::End { complete: true };
        }
        if !self.lines.drained() {
            match self.lines.next().await {
                Next::End { .. } => {}
                other => return other,
            }
        }
        // Output closed: the command is ending. `next` can be cancelled at any await (the
        // probe selects on it against its timers), so the deadlines and what is known so far
        // live in `self`: a restarted call resumes instead of waiting afresh.
        let end_by = *self
            .end_by
            .get_or_insert_with(|| tokio::time::Instant::now() + self.exit_grace);
        if self.status.is_none() {
            let waited = tokio::time::timeout_at(end_by, self.child.wait()).await;
            self.status = Some(waited.ok().and_then(Result::ok));
        }
        // Whatever the command left behind in its group goes too; then the shell is reaped.
        self.kill_group();
        self.reap(end_by + REAP_GRACE).await;
        let tail = self.stderr_tail(end_by + REAP_GRACE + STDERR_GRACE).await;
        self.ended = true;
        let status = self.status.flatten();
        Next::Note(
            exit_level(status.as_ref()),
            exit_message(&self.desc, status, &tail),
        )
    }

    async fn reap(&mut self, by: tokio::time::Instant) {
        if !self.reaped {
            // `kill` sends SIGKILL (an error if it already exited) and waits for it.
            let _ = tokio::time::timeout_at(by, self.child.kill()).await;
            self.reaped = true;
        }
    }

    async fn stderr_tail(&mut self, by: tokio::time::Instant) -> Vec<String> {
        let Some(h) = self.stderr.as_mut() else {
            return Vec::new();
        };
        let got = tokio::time::timeout_at(by, h).await;
        if let Some(h) = self.stderr.take() {
            h.abort();
        }
        match got {
            Ok(Ok(tail)) => tail,
            _ => Vec::new(),
        }
    }

    /// Kills the command's process group, reaps the shell and stops reading its error output.
    /// Idempotent; bounded.
    pub(crate) async fn shutdown(&mut self) {
        self.kill_group();
        self.reap(tokio::time::Instant::now() + REAP_GRACE).await;
        if let Some(h) = self.stderr.take() {
            h.abort();
        }
    }

    fn kill_group(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self.pid.take().and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: kill(2) with a negative pid signals the process group the command was
            // started in (`process_group(0)` made its pid the group id); no memory is involved.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for CommandLines {
    /// The backstop for every exit path that did not call `shutdown` (a panic, a dropped
    /// task): the group is killed here and `kill_on_drop` has tokio kill and reap the shell.
    fn drop(&mut self) {
        self.kill_group();
        if let Some(h) = self.stderr.take() {
            h.abort();
        }
    }
}

/// The last few lines a command wrote to its error output, to explain how it ended.
async fn stderr_tail(mut err: tokio::process::ChildStderr) -> Vec<String> {
    let mut split = Splitter::new(STDERR_LINE);
    let mut tail = VecDeque::with_capacity(STDERR_TAIL + 1);
    let mut chunk = vec![0u8; 4096];
    loop {
        let n = match err.read(&mut chunk).await {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        if n == 0 {
            split.finish();
        } else {
            split.push(&chunk[..n]);
        }
        while let Some(l) = split.pop() {
            if !l.text.trim().is_empty() {
                tail.push_back(l.text);
                if tail.len() > STDERR_TAIL {
                    tail.pop_front();
                }
            }
        }
        if n == 0 {
            return tail.into();
        }
    }
}

fn exit_level(status: Option<&ExitStatus>) -> NoteLevel {
    match status {
        Some(s) if s.success() => NoteLevel::Info,
        _ => NoteLevel::Warn,
    }
}

fn exit_message(desc: &str, status: Option<ExitStatus>, stderr: &[String]) -> String {
    let how = match status {
        None => "did not exit after closing its output and was killed".to_string(),
        Some(s) => match (s.code(), signal_of(&s)) {
            (Some(c), _) => format!("exited with code {c}"),
            (None, Some(sig)) => format!("was ended by signal {sig}"),
            (None, None) => "ended".to_string(),
        },
    };
    let mut msg = format!("startup log command {desc} {how}");
    if !stderr.is_empty() && !status.is_some_and(|s| s.success()) {
        msg.push_str("; its last error output: ");
        msg.push_str(&stderr.join(" | "));
    }
    msg
}

#[cfg(unix)]
fn signal_of(s: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    s.signal()
}

#[cfg(not(unix))]
fn signal_of(_s: &ExitStatus) -> Option<i32> {
    None
}
