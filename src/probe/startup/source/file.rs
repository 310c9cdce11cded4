//! A file as a source: read once, or followed like `tail -F` across rotation and truncation.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::{CHUNK, MAX_LINE, Next, Splitter};
use crate::event::NoteLevel;

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
pub(crate) struct FileTail {
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
    pub(crate) fn new(path: PathBuf, follow: bool, poll: Duration) -> Self {
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

    pub(super) async fn next(&mut self) -> Next {
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
