//! Any byte stream as a source (standard input, a command's output, a reader), and standard
//! input read on a thread of its own.

use tokio::io::{AsyncRead, AsyncReadExt};

use super::{CHUNK, MAX_LINE, Next, Splitter};
use crate::event::NoteLevel;

/// Lines of a byte stream, until it closes.
pub(crate) struct StreamLines {
    name: String,
    reader: Box<dyn AsyncRead + Send + Unpin>,
    split: Splitter,
    end: Option<Next>,
    done: bool,
}

impl StreamLines {
    pub(crate) fn new(name: impl Into<String>, reader: Box<dyn AsyncRead + Send + Unpin>) -> Self {
        Self {
            name: name.into(),
            reader,
            split: Splitter::new(MAX_LINE),
            end: None,
            done: false,
        }
    }

    pub(super) async fn next(&mut self) -> Next {
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
    pub(super) fn drained(&self) -> bool {
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
