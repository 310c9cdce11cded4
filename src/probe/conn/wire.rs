//! The bytes of a PostgreSQL connection before tokio-postgres takes over: the stream type every
//! transport is boxed into, the SSLRequest exchange, and a watcher over the server's startup
//! messages that
//! - tells at the first byte when the peer is not a PostgreSQL server (an HTTP server answering
//!   our startup packet with `HTTP/1.1 400`), instead of waiting out the timeout, and
//! - notes when authentication succeeded, because libpq's sslmode fallbacks (prefer → without
//!   TLS, allow → with TLS) apply only to errors the server sends before that.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// An open stream of any of the kinds a connection can take.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A boxed stream; `connect_raw` needs one concrete type whatever the transport.
pub(crate) struct Stream(pub(crate) Box<dyn Io>);

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

/// The peer answered something no PostgreSQL server sends.
#[derive(Debug)]
pub(crate) struct NotPostgres(pub String);

impl std::fmt::Display for NotPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotPostgres {}

/// Up to 60 characters of what the peer sent, printable, for "it answered …".
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = text.chars().take(60).collect();
    crate::secret::scrub(&cut).into_owned()
}

pub(crate) fn not_postgres(answer: &[u8], libpq: String) -> NotPostgres {
    NotPostgres(format!(
        "not a PostgreSQL server: it answered \"{}\" ({libpq})",
        excerpt(answer)
    ))
}

/// What the server's reply to SSLRequest was.
pub(crate) enum SslAnswer {
    Yes,
    No,
    /// An ErrorResponse instead (a server that could not start a backend): its fields.
    Error(ServerError),
}

/// The fields of an ErrorResponse read off the wire by hand (before tokio-postgres runs).
#[derive(Debug, Default, Clone)]
pub(crate) struct ServerError {
    pub code: Option<String>,
    pub message: String,
    pub(crate) detail: Option<String>,
}

/// The 8-byte SSLRequest: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Sends SSLRequest and reads the server's one-byte answer (or its error, or proof that it is
/// not PostgreSQL at all).
pub(crate) async fn ssl_request(s: &mut Stream) -> io::Result<SslAnswer> {
    s.write_all(&SSL_REQUEST).await?;
    let mut b = [0u8; 1];
    s.read_exact(&mut b).await?;
    match b[0] {
        b'S' => Ok(SslAnswer::Yes),
        b'N' => Ok(SslAnswer::No),
        b'E' => read_error(s).await.map(SslAnswer::Error),
        other => {
            // Whatever else it sent at once, to show what it is.
            let mut more = vec![other; 1];
            let mut buf = [0u8; 64];
            if let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await
            {
                more.extend_from_slice(buf.get(..n).unwrap_or_default());
            }
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                not_postgres(
                    &more,
                    format!(
                        "received invalid response to SSL negotiation: {}",
                        other as char
                    ),
                ),
            ))
        }
    }
}

async fn read_error(s: &mut Stream) -> io::Result<ServerError> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if !(4..=30_000).contains(&len) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            not_postgres(b"E", "expected an error message, got a bad length".into()),
        ));
    }
    let mut body = vec![0u8; len - 4];
    s.read_exact(&mut body).await?;
    let mut e = ServerError::default();
    for field in body.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let value = String::from_utf8_lossy(field.get(1..).unwrap_or_default()).into_owned();
        match field.first() {
            Some(b'C') => e.code = Some(value),
            Some(b'M') => e.message = value,
            Some(b'D') => e.detail = Some(value),
            _ => {}
        }
    }
    Ok(e)
}

/// What the watcher learnt about the startup.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    auth_ok: AtomicBool,
}

impl Seen {
    pub(crate) fn auth_ok(&self) -> bool {
        self.auth_ok.load(Ordering::Relaxed)
    }
}

/// Where the watcher is in the server's message stream.
enum Parse {
    /// Collecting a 5-byte header (type + length).
    Header {
        buf: [u8; 5],
        have: usize,
        first: bool,
    },
    /// Inside a message body: bytes left, and for an Authentication message its code so far.
    Body {
        left: usize,
        auth: Option<([u8; 4], usize)>,
    },
    /// ReadyForQuery seen: the startup is over, nothing more to watch.
    Done,
}

/// A stream whose inbound startup messages are watched (see the module comment).
pub(crate) struct Watched<S> {
    inner: S,
    parse: Parse,
    seen: Arc<Seen>,
}

impl<S> Watched<S> {
    pub(crate) fn new(inner: S) -> (Self, Arc<Seen>) {
        let seen = Arc::new(Seen::default());
        let w = Self {
            inner,
            parse: Parse::Header {
                buf: [0; 5],
                have: 0,
                first: true,
            },
            seen: seen.clone(),
        };
        (w, seen)
    }

    /// Feeds newly read bytes through the parser; an error means "not PostgreSQL".
    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), NotPostgres> {
        let all = bytes;
        while !bytes.is_empty() {
            match &mut self.parse {
                Parse::Done => return Ok(()),
                Parse::Header { buf, have, first } => {
                    let take = (5 - *have).min(bytes.len());
                    buf[*have..*have + take].copy_from_slice(&bytes[..take]);
                    *have += take;
                    bytes = &bytes[take..];
                    if *have < 5 {
                        // A lone first byte is enough to know a stranger.
                        if *first && !matches!(buf[0], b'R' | b'E' | b'v' | b'N') {
                            return Err(bad_first(all));
                        }
                        continue;
                    }
                    let kind = buf[0];
                    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
                    if *first && !plausible_first(kind, len) {
                        return Err(bad_first(all));
                    }
                    let left = len.saturating_sub(4);
                    self.parse = match kind {
                        b'Z' => Parse::Done,
                        b'R' => Parse::Body {
                            left,
                            auth: Some(([0; 4], 0)),
                        },
                        _ => Parse::Body { left, auth: None },
                    };
                    if left == 0 && kind != b'Z' {
                        self.parse = next_header();
                    }
                }
                Parse::Body { left, auth } => {
                    let take = (*left).min(bytes.len());
                    if let Some((code, got)) = auth {
                        let n = (4 - *got).min(take);
                        code[*got..*got + n].copy_from_slice(&bytes[..n]);
                        *got += n;
                        if *got == 4 && *code == [0, 0, 0, 0] {
                            self.seen.auth_ok.store(true, Ordering::Relaxed);
                        }
                    }
                    *left -= take;
                    bytes = &bytes[take..];
                    if *left == 0 {
                        self.parse = next_header();
                    }
                }
            }
        }
        Ok(())
    }
}

fn next_header() -> Parse {
    Parse::Header {
        buf: [0; 5],
        have: 0,
        first: false,
    }
}

/// libpq: the first message must be an authentication request, an error, or a protocol
/// version negotiation, with a sane length (a notice is tolerated too).
fn plausible_first(kind: u8, len: usize) -> bool {
    match kind {
        b'R' => (8..=2000).contains(&len),
        b'E' | b'N' => (4..=30_000).contains(&len),
        b'v' => (8..=30_000).contains(&len),
        _ => false,
    }
}

fn bad_first(bytes: &[u8]) -> NotPostgres {
    let c = bytes.first().map_or('?', |b| *b as char);
    not_postgres(
        bytes,
        format!("expected authentication request from server, but received {c}"),
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r
            && !matches!(self.parse, Parse::Done)
        {
            let new = buf.filled().get(before..).unwrap_or_default().to_vec();
            if let Err(e) = self.feed(&new) {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(chunks: &[&[u8]]) -> (Result<(), NotPostgres>, bool) {
        let (mut w, seen) = Watched::new(());
        for c in chunks {
            if let Err(e) = w.feed(c) {
                return (Err(e), seen.auth_ok());
            }
        }
        (Ok(()), seen.auth_ok())
    }

    #[test]
    fn authentication_ok_is_noticed_across_chunk_boundaries() {
        // AuthenticationSASL (R, code 10) then AuthenticationOk split over reads.
        let sasl = [
            b'R', 0, 0, 0, 23, 0, 0, 0, 10, b'S', b'C', b'R', b'A', b'M', b'-', b'S', b'H', b'A',
            b'-', b'2', b'5', b'6', 0, 0,
        ];
        let (r, ok) = watch(&[
            &sasl[..7],
            &sasl[7..],
            &[b'R', 0, 0],
            &[0, 8, 0, 0, 0],
            &[0],
        ]);
        assert!(r.is_ok() && ok);
        let (r, ok) = watch(&[&sasl]);
        assert!(r.is_ok() && !ok);
    }

    #[test]
    fn an_http_answer_is_not_postgres_at_once() {
        let (r, _) = watch(&[b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"]);
        let e = r.expect_err("not postgres").0;
        assert!(
            e.contains("\"HTTP/1.1 400 Bad Request content-length: 0\""),
            "{e}"
        );
        assert!(e.contains("but received H"), "{e}");
        let (r, _) = watch(&[b"H"]);
        assert!(r.is_err(), "one byte is enough");
        let (r, _) = watch(&[b"E\0\0\0\x10SFATAL\0"]);
        assert!(r.is_ok(), "an error response is PostgreSQL");
    }
}
