//! Moving bytes both ways with latency, black hole and bandwidth applied per chunk.
//!
//! Each direction is a reader and a writer joined by a short queue: the reader stamps each chunk
//! with the moment it may be delivered (now + sampled latency, never earlier than the previous
//! chunk, so jitter does not reorder), the writer waits for that moment. Latency therefore
//! delays traffic like a long pipe would instead of throttling it, and a black hole that starts
//! mid-connection holds the queue until it lifts.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::Faults;
use super::conn::Outcome;

const READ_CHUNK: usize = 16 * 1024;
/// Chunks in flight per direction before the reader stops reading (back-pressure).
const QUEUE_CHUNKS: usize = 64;
/// Bandwidth is enforced in slices of this fraction of a second, so a big chunk is spread out.
const THROTTLE_SLICES_PER_SEC: u64 = 20;

struct Chunk {
    due: Instant,
    data: Vec<u8>,
}

pub(super) async fn bidirectional(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    faults: watch::Receiver<Faults>,
) -> Outcome {
    let (cr, cw) = client.split();
    let (ur, uw) = upstream.split();
    let both = async {
        tokio::try_join!(
            direction(cr, uw, faults.clone()),
            direction(ur, cw, faults.clone())
        )
    };
    let mut watch_reset = faults.clone();
    tokio::select! {
        r = both => {
            if let Err(e) = r {
                tracing::debug!("lab proxy: connection ended: {e}");
            }
            Outcome::Closed
        }
        () = until_reset(&mut watch_reset) => Outcome::Reset,
    }
}

async fn until_reset(faults: &mut watch::Receiver<Faults>) {
    if faults.wait_for(|f| f.reset).await.is_err() {
        // The proxy is gone; its cancellation ends the connection.
        std::future::pending::<()>().await;
    }
}

async fn direction<R, W>(mut r: R, mut w: W, faults: watch::Receiver<Faults>) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, mut rx) = mpsc::channel::<Chunk>(QUEUE_CHUNKS);
    let reader_faults = faults.clone();
    let reader = async move {
        let mut last_due = Instant::now();
        loop {
            let mut data = vec![0u8; READ_CHUNK];
            let n = r.read(&mut data).await?;
            if n == 0 {
                return Ok::<(), io::Error>(());
            }
            data.truncate(n);
            let latency = reader_faults.borrow().sample_latency();
            let due = (Instant::now() + latency).max(last_due);
            last_due = due;
            if tx.send(Chunk { due, data }).await.is_err() {
                return Ok(());
            }
        }
    };
    let writer = async move {
        let mut faults = faults;
        while let Some(chunk) = rx.recv().await {
            tokio::time::sleep_until(chunk.due).await;
            if faults.wait_for(|f| !f.black_hole).await.is_err() {
                return Err(io::Error::other("proxy stopped"));
            }
            let rate = faults.borrow().bandwidth_bytes_per_sec.filter(|r| *r > 0);
            write_throttled(&mut w, &chunk.data, rate).await?;
        }
        // The reader hit end of stream: pass the half-close on.
        w.shutdown().await
    };
    tokio::try_join!(reader, writer).map(|_| ())
}

async fn write_throttled<W: AsyncWrite + Unpin>(
    w: &mut W,
    data: &[u8],
    rate: Option<u64>,
) -> io::Result<()> {
    let Some(rate) = rate else {
        return w.write_all(data).await;
    };
    let slice = usize::try_from((rate / THROTTLE_SLICES_PER_SEC).max(1)).unwrap_or(usize::MAX);
    for part in data.chunks(slice) {
        let start = Instant::now();
        w.write_all(part).await?;
        let budget = Duration::from_secs_f64(part.len() as f64 / rate as f64);
        tokio::time::sleep_until(start + budget).await;
    }
    Ok(())
}
