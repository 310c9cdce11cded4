//! Where startup-log lines come from: a file (read once, or followed like `tail -F`), standard
//! input or any byte stream, or a command's standard output. Every source turns bytes into
//! bounded, lossily decoded lines, so binary garbage or a line without end can neither crash
//! the probe nor grow its memory. `Source::next` is cancel-safe (all progress is kept in the
//! struct between awaits), so the probe can `select!` on it against its timers.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::event::NoteLevel;

/// Longest line kept; the rest of a longer line is read and dropped.
pub const MAX_LINE: usize = 64 * 1024;

const CHUNK: usize = 16 * 1024;
/// How long reaping a killed command may take.
const REAP_GRACE: Duration = Duration::from_secs(2);
/// How long the error output may take to close once the command is gone.
const STDERR_GRACE: Duration = Duration::from_secs(1);
/// Error-output lines of a command kept to explain its exit.
const STDERR_TAIL: usize = 5;
const STDERR_LINE: usize = 512;

/// One line, without its `\n` (and `\r`), invalid UTF-8 replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    /// Longer than `MAX_LINE`: only its beginning is in `text`.
    pub overlong: bool,
}

/// What a source has to say next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Line(Line),
    /// Something the person should know (file missing, rotated, command exited).
    Note(NoteLevel, String),
    /// No more lines will come. `complete`: the log really ended (file read to its end,
    /// stream closed, command exited), as opposed to "could not be read".
    End {
        complete: bool,
    },
}

/// Splits bytes into lines, capping each at `cap` bytes.
#[derive(Debug)]
pub(crate) struct Splitter {
    buf: Vec<u8>,
    overlong: bool,
    ready: VecDeque<Line>,
    cap: usize,
}

impl Splitter {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            buf: Vec::new(),
            overlong: false,
            ready: VecDeque::new(),
            cap,
        }
    }

    pub(crate) fn push(&mut self, mut data: &[u8]) {
        while let Some(i) = data.iter().position(|&b| b == b'\n') {
            self.append(&data[..i]);
            self.emit();
            data = &data[i + 1..];
        }
        self.append(data);
    }

    fn append(&mut self, part: &[u8]) {
        let room = self.cap.saturating_sub(self.buf.len());
        if part.len() > room {
            self.overlong = true;
        }
        self.buf.extend_from_slice(&part[..part.len().min(room)]);
    }

    fn emit(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let text = text.strip_suffix('\r').unwrap_or(&text).to_string();
        self.ready.push_back(Line {
            text,
            overlong: self.overlong,
        });
        self.buf.clear();
        self.overlong = false;
    }

    /// The log ended: a last line without `\n` still counts.
    pub(crate) fn finish(&mut self) {
        if !self.buf.is_empty() || self.overlong {
            self.emit();
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Line> {
        self.ready.pop_front()
    }
}

/// A source of lines; see the module comment.
pub enum Source {
    File(FileTail),
    Stream(StreamLines),
    Command(CommandLines),
}

impl Source {
    pub async fn next(&mut self) -> Next {
        match self {
            Source::File(f) => f.next().await,
            Source::Stream(s) => s.next().await,
            Source::Command(c) => c.next().await,
        }
    }

    /// Stops whatever runs behind the source (a command and its children) and reaps it.
    pub async fn shutdown(&mut self) {
        if let Source::Command(c) = self {
            c.shutdown().await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Files

/// Identity of a file, to notice that a path now names another file (rotation).
type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn file_id(_m: &std::fs::Metadata) -> FileId {
    (0, 0)
}

struct OpenFile {
    file: tokio::fs::File,
    id: FileId,
    pos: u64,
    /// Only regular files are followed; a FIFO or device ends at its end of file.
    regular: bool,
}

/// A file read to its end (`follow == false`) or followed like `tail -F`: polled at
/// `poll`, reopened when the path names a new file (rotation) or the file shrinks
/// (truncation), waited for while it does not exist. Reading starts at the beginning of the
/// file: the whole startup sequence is wanted, not just what is written from now on.
pub struct FileTail {
    path: PathBuf,
    follow: bool,
    poll: Duration,
    open: Option<OpenFile>,
    split: Splitter,
    pending: VecDeque<Next>,
    missing_noted: bool,
    done: bool,
}

impl FileTail {
    pub fn new(path: PathBuf, follow: bool, poll: Duration) -> Self {
        Self {
            path,
            follow,
            poll,
            open: None,
            split: Splitter::new(MAX_LINE),
            pending: VecDeque::new(),
            missing_noted: false,
            done: false,
        }
    }

    async fn next(&mut self) -> Next {
        loop {
            if let Some(line) = self.split.pop() {
                return Next::Line(line);
            }
            if let Some(n) = self.pending.pop_front() {
                return n;
            }
            if self.done {
                return Next::End { complete: true };
            }
            match self.open.as_ref().map(|f| f.regular) {
                None => self.open_file().await,
                Some(regular) => self.read_some_of(regular).await,
            }
        }
    }

    fn finish_with(&mut self, next: Next) {
        self.split.finish();
        self.pending.push_back(next);
        self.done = true;
    }

    async fn open_file(&mut self) {
        match open(&self.path).await {
            Ok(f) => {
                if self.missing_noted {
                    self.pending.push_back(Next::Note(
                        NoteLevel::Info,
                        format!("startup log {} appeared; reading it", self.path.display()),
                    ));
                    self.missing_noted = false;
                }
                self.open = Some(f);
            }
            Err(e) if self.follow => {
                if !self.missing_noted {
                    self.missing_noted = true;
                    self.pending.push_back(Next::Note(
                        NoteLevel::Warn,
                        format!(
                            "cannot open startup log {} ({e}); waiting for it",
                            self.path.display()
                        ),
                    ));
                    return;
                }
                tokio::time::sleep(self.poll).await;
            }
            Err(e) => {
                let msg = format!("cannot open startup log {}: {e}", self.path.display());
                self.pending.push_back(Next::Note(NoteLevel::Error, msg));
                self.pending.push_back(Next::End { complete: false });
                self.done = true;
            }
        }
    }

    async fn read_some_of(&mut self, regular: bool) {
        let mut chunk = vec![0u8; CHUNK];
        let Some(f) = self.open.as_mut() else {
            return;
        };
        match f.file.read(&mut chunk).await {
            Ok(0) if self.follow && regular => self.at_end_of_followed().await,
            Ok(0) => self.finish_with(Next::End { complete: true }),
            Ok(n) => {
                f.pos += n as u64;
                self.split.push(&chunk[..n]);
            }
            Err(e) => self.read_error(e).await,
        }
    }

    async fn read_error(&mut self, e: std::io::Error) {
        let msg = format!("reading startup log {}: {e}", self.path.display());
        if self.follow {
            // Reopen after a pause: a network file system may come back.
            self.pending.push_back(Next::Note(NoteLevel::Warn, msg));
            self.split.finish();
            self.open = None;
            tokio::time::sleep(self.poll).await;
        } else {
            self.pending.push_back(Next::Note(NoteLevel::Error, msg));
            self.split.finish();
            self.pending.push_back(Next::End { complete: false });
            self.done = true;
        }
    }

    /// At the end of a followed file: rotated, truncated, or just nothing new yet.
    async fn at_end_of_followed(&mut self) {
        let Some(f) = self.open.as_ref() else {
            return;
        };
        let (id, pos) = (f.id, f.pos);
        // A path that is gone (mid-rotation, or deleted) keeps the old file being read.
        let Ok(meta) = tokio::fs::metadata(&self.path).await else {
            tokio::time::sleep(self.poll).await;
            return;
        };
        let what = if file_id(&meta) != id {
            "was replaced (rotated)"
        } else if meta.len() < pos {
            "was truncated"
        } else {
            tokio::time::sleep(self.poll).await;
            return;
        };
        // Lines the old file got between our last read and the check are read first.
        if file_id(&meta) != id {
            self.drain_old().await;
        }
        // Dropping the handle and reopening (rather than seeking) keeps this step free of
        // awaits, so cancelling the probe mid-way cannot leave a half-moved position.
        self.split.finish();
        self.open = None;
        self.pending.push_back(Next::Note(
            NoteLevel::Info,
            format!(
                "startup log {} {what}; reading it from the start",
                self.path.display()
            ),
        ));
    }

    async fn drain_old(&mut self) {
        let Some(f) = self.open.as_mut() else {
            return;
        };
        let mut chunk = vec![0u8; CHUNK];
        // Bounded: a rotated file that is still being written to is not chased for ever.
        for _ in 0..64 {
            match f.file.read(&mut chunk).await {
                Ok(n) if n > 0 => {
                    f.pos += n as u64;
                    self.split.push(&chunk[..n]);
                }
                _ => break,
            }
        }
    }
}

async fn open(path: &std::path::Path) -> std::io::Result<OpenFile> {
    let file = tokio::fs::File::open(path).await?;
    let meta = file.metadata().await?;
    Ok(OpenFile {
        id: file_id(&meta),
        regular: meta.is_file(),
        file,
        pos: 0,
    })
}

// ---------------------------------------------------------------------------------------------
// Streams (standard input, a command's output, any reader)

/// Lines of a byte stream, until it closes.
pub struct StreamLines {
    name: String,
    reader: Box<dyn AsyncRead + Send + Unpin>,
    split: Splitter,
    end: Option<Next>,
    done: bool,
}

impl StreamLines {
    pub fn new(name: impl Into<String>, reader: Box<dyn AsyncRead + Send + Unpin>) -> Self {
        Self {
            name: name.into(),
            reader,
            split: Splitter::new(MAX_LINE),
            end: None,
            done: false,
        }
    }

    async fn next(&mut self) -> Next {
        let mut chunk = vec![0u8; CHUNK];
        loop {
            if let Some(line) = self.split.pop() {
                return Next::Line(line);
            }
            if self.done {
                return self.end.take().unwrap_or(Next::End { complete: true });
            }
            // `read` is cancel-safe: when cancelled nothing was read.
            match self.reader.read(&mut chunk).await {
                Ok(0) => {
                    self.split.finish();
                    self.done = true;
                }
                Ok(n) => self.split.push(&chunk[..n]),
                Err(e) => {
                    self.split.finish();
                    self.done = true;
                    let msg = format!("reading {}: {e}", self.name);
                    self.end = Some(Next::Note(NoteLevel::Error, msg));
                }
            }
        }
    }

    /// True once the stream has closed and every line has been handed out.
    fn drained(&self) -> bool {
        self.done && self.split.ready.is_empty()
    }
}

/// A blocking reader (standard input) read on a thread of its own, as an `AsyncRead`.
/// tokio's own stdin does a blocking read in the runtime's blocking pool that cannot be
/// cancelled: the runtime would then not shut down until another line arrived. A detached
/// thread blocked in `read` holds nothing up; it ends with the process, or when the reader
/// ends or the probe has gone.
pub fn blocking_reader<R>(name: &str, reader: R) -> Box<dyn AsyncRead + Send + Unpin>
where
    R: std::io::Read + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let spawned = std::thread::Builder::new()
        .name(format!("connscope-{name}"))
        .spawn(move || pump(reader, &tx));
    match spawned {
        Ok(_) => Box::new(ChannelReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
        }),
        Err(e) => Box::new(FailedReader(Some(e))),
    }
}

/// Reads until the end, an error, or until nobody receives any more.
fn pump<R: std::io::Read>(mut reader: R, tx: &tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let msg = match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => Ok(buf[..n].to_vec()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
        let last = msg.is_err();
        if tx.blocking_send(msg).is_err() || last {
            return;
        }
    }
}

/// The receiving end of `blocking_reader`: chunks from the channel, end of file when closed.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl AsyncRead for ChannelReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let this = &mut *self;
        if this.pos >= this.chunk.len() {
            match this.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                // The thread ended: end of file (an empty read).
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(Some(Ok(chunk))) => {
                    this.chunk = chunk;
                    this.pos = 0;
                }
            }
        }
        let n = buf.remaining().min(this.chunk.len() - this.pos);
        buf.put_slice(&this.chunk[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// A reader whose thread could not be started: its one read is that error.
struct FailedReader(Option<std::io::Error>);

impl AsyncRead for FailedReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        _buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let e = self
            .0
            .take()
            .unwrap_or_else(|| std::io::Error::other("reader thread could not be started"));
        std::task::Poll::Ready(Err(e))
    }
}

/// A command's standard output, line by line. The command runs as `sh -c` in a process group
/// of its own, so stopping it also stops what it started (a pipeline, `kubectl logs -f`).
pub struct CommandLines {
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
    pub fn spawn(command: &str, desc: String, exit_grace: Duration) -> std::io::Result<Self> {
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

    async fn next(&mut self) -> Next {
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
    pub async fn shutdown(&mut self) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(cap: usize, chunks: &[&[u8]]) -> Vec<Line> {
        let mut s = Splitter::new(cap);
        for c in chunks {
            s.push(c);
        }
        s.finish();
        std::iter::from_fn(|| s.pop()).collect()
    }

    #[test]
    fn splits_across_chunks_and_keeps_a_last_partial_line() {
        let got = lines(100, &[b"ab", b"c\r\nde", b"f\n\nxy"]);
        let texts: Vec<&str> = got.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["abc", "def", "", "xy"]);
        assert!(got.iter().all(|l| !l.overlong));
    }

    #[test]
    fn overlong_lines_are_capped_and_flagged() {
        let long = vec![b'x'; 25];
        let got = lines(10, &[&long, &long, b"\nok\n"]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].text, "x".repeat(10));
        assert!(got[0].overlong);
        assert_eq!(got[1].text, "ok");
        assert!(!got[1].overlong);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let got = lines(100, &[b"a\xff\xfeb\n"]);
        assert_eq!(got[0].text, "a\u{fffd}\u{fffd}b");
    }
}
