//! The real binary in a pseudo-terminal, with a vt100 parser reading what it draws. Every
//! wait is bounded; dropping the guard kills the child (SIGKILL) if it is still running, so a
//! failing test never leaves a dashboard behind.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{Read, Write};
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

/// Leaving the alternate screen: what a restored terminal's output ends with.
pub const LEAVE_ALT: &[u8] = b"\x1b[?1049l";
pub const ENTER_ALT: &[u8] = b"\x1b[?1049h";

/// What the reader thread has seen so far.
struct Seen {
    parser: vt100::Parser,
    raw: Vec<u8>,
    /// The reader hit end of file: every holder of the terminal's other end is gone.
    eof: bool,
}

pub struct Pty {
    child: Box<dyn Child + Send + Sync>,
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    seen: Arc<Mutex<Seen>>,
    pub cols: u16,
    pub rows: u16,
}

/// Variables that would point the binary at this machine's databases, or change its look.
pub const SCRUBBED: [&str; 13] = [
    "DATABASE_URL",
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGSSLMODE",
    "PGPASSFILE",
    "CONNSCOPE_ENV",
    "CONNSCOPE_CONFIG",
    "NO_COLOR",
    "CONNSCOPE_LOG",
    "CONNSCOPE_AGENT_TOKEN",
];

/// HOME for the binary: a directory that does not exist, so no ~/.pgpass or ~/.postgresql of
/// this machine's user is read.
pub const NO_HOME: &str = "/nonexistent-connscope-test-home";

/// The connscope binary at `bin` with `args`, a clean environment plus `env`, in a
/// `cols`×`rows` terminal. (The path is a parameter: only tests have `CARGO_BIN_EXE_*`, and
/// the screenshot example shares this file.)
pub fn spawn(
    bin: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    cols: u16,
    rows: u16,
) -> Pty {
    let mut cmd = CommandBuilder::new(bin);
    cmd.args(args);
    for k in SCRUBBED {
        cmd.env_remove(k);
    }
    cmd.env("TERM", "xterm-256color");
    // portable-pty starts in $HOME unless told otherwise; ours does not exist.
    cmd.cwd(std::env::temp_dir());
    // No ~/.pgpass of this machine's user: HOME is an empty directory of the system's.
    cmd.env("HOME", NO_HOME);
    for (k, v) in env {
        cmd.env(k, v);
    }
    spawn_command(cmd, cols, rows)
}

pub fn spawn_command(cmd: CommandBuilder, cols: u16, rows: u16) -> Pty {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("open a pseudo-terminal");
    let child = pair.slave.spawn_command(cmd).expect("spawn connscope");
    // Only the child holds the terminal's other end: the reader sees EOF when it exits.
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("pty reader");
    let writer = pair.master.take_writer().expect("pty writer");
    let seen = Arc::new(Mutex::new(Seen {
        parser: vt100::Parser::new(nonzero(rows), nonzero(cols), 0),
        raw: Vec::new(),
        eof: false,
    }));
    let sink = seen.clone();
    // Reads until EOF (or EIO, Linux's word for it on a pty); the child would block on a full
    // terminal otherwise. Detached: it ends with the child, at the latest with the test.
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut s = lock(&sink);
            s.parser.process(&buf[..n]);
            s.raw.extend_from_slice(&buf[..n]);
        }
        lock(&sink).eof = true;
    });
    Pty {
        child,
        master: pair.master,
        writer,
        seen,
        cols,
        rows,
    }
}

fn nonzero(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).expect("a terminal has at least one row and column")
}

fn lock(m: &Mutex<Seen>) -> MutexGuard<'_, Seen> {
    // A panicking test thread may poison it; the data is still what was read.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pty {
    pub fn pid(&self) -> i32 {
        self.child
            .process_id()
            .and_then(|p| i32::try_from(p).ok())
            .expect("the child has a pid")
    }

    /// The screen as text, one line per row, trailing blanks trimmed.
    pub fn screen(&self) -> String {
        lock(&self.seen).parser.screen().contents()
    }

    /// Runs `f` on the parsed screen (for colours and attributes).
    pub fn with_screen<T>(&self, f: impl FnOnce(&vt100::Screen) -> T) -> T {
        f(lock(&self.seen).parser.screen())
    }

    /// Everything the child wrote so far.
    pub fn raw(&self) -> Vec<u8> {
        lock(&self.seen).raw.clone()
    }

    pub fn raw_len(&self) -> usize {
        lock(&self.seen).raw.len()
    }

    /// Polls the screen until `ok` holds; the last screen either way.
    pub fn wait_for(
        &self,
        limit: Duration,
        mut ok: impl FnMut(&str) -> bool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.screen();
            if ok(&s) {
                return Ok(s);
            }
            if Instant::now() >= deadline {
                return Err(s);
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// Waits for `needle` on screen; panics with the screen when it does not come.
    pub fn expect_text(&self, needle: &str, limit: Duration) -> String {
        self.wait_for(limit, |s| s.contains(needle))
            .unwrap_or_else(|s| panic!("`{needle}` not on screen within {limit:?}:\n{s}"))
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the pty");
        self.writer.flush().expect("flush the pty");
    }

    pub fn key(&mut self, c: char) {
        let mut b = [0u8; 4];
        self.send(c.encode_utf8(&mut b).as_bytes());
    }

    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill has no memory preconditions; the pid is our own child's, still unreaped
        // (we only reap in `wait_exit` / Drop), so it cannot name another process.
        let r = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(r, 0, "kill({}, {sig})", self.pid());
    }

    /// Waits (bounded) for the child to exit; `None` if it is still running at the limit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<portable_pty::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// After exit: waits (bounded) until the reader has drained everything the child wrote.
    pub fn wait_eof(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if lock(&self.seen).eof {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn master_fd(&self) -> RawFd {
        self.master.as_raw_fd().expect("a unix pty has a master fd")
    }

    /// The terminal's line discipline is back in cooked mode: canonical input and echo on,
    /// as it was before the dashboard switched it to raw.
    pub fn is_cooked(&self) -> bool {
        // SAFETY: tcgetattr writes a termios struct we own; the fd is the open master.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::tcgetattr(self.master_fd(), &mut t) };
        assert_eq!(r, 0, "tcgetattr on the pty master");
        t.c_lflag & libc::ICANON != 0 && t.c_lflag & libc::ECHO != 0
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGKILL, not portable-pty's `kill` (a SIGHUP the child may handle slowly): a
            // failed test must not leave anything running. Still unreaped, so still ours.
            // SAFETY: kill has no memory preconditions.
            unsafe { libc::kill(self.pid(), libc::SIGKILL) };
            let _ = self.wait_exit(Duration::from_secs(5));
        }
    }
}

/// Whether `hay` contains `needle` as a byte string.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The byte offset of the last occurrence of `needle` in `hay`.
pub fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}
