//! A probe task run in this process, read through its channel: once to its end, or live
//! until it has said enough.

use std::future::Future;
use std::time::{Duration, Instant};

use connscope::event::EventBody;
use connscope::probe::Ctx;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Runs `probe` (`Mode::Once`) to its end within `limit`, then takes every event it sent
/// through `pick`, which hands back any event the test does not expect (a failure); and how
/// long the run took.
pub async fn once<T, F>(
    probe: impl FnOnce(Ctx) -> F,
    limit: Duration,
    mut pick: impl FnMut(EventBody) -> Result<T, Box<EventBody>>,
) -> (Vec<T>, Duration)
where
    F: Future<Output = ()>,
{
    let (tx, mut rx) = mpsc::channel(64);
    let start = Instant::now();
    let finished = tokio::time::timeout(limit, probe(Ctx::new(tx, CancellationToken::new()))).await;
    let took = start.elapsed();
    assert!(
        finished.is_ok(),
        "the probe did not finish within {limit:?}"
    );
    let mut got = Vec::new();
    while let Some(ev) = rx.recv().await {
        match pick(ev.body) {
            Ok(t) => got.push(t),
            Err(other) => panic!("unexpected event {other:?}"),
        }
    }
    (got, took)
}

/// Starts `probe` with a channel and a cancellation token of its own, takes what `pick` finds
/// in its events until there are `n` (each event within 5 s), then cancels it and asserts that
/// it stops within 2 s.
pub async fn live<T, F>(
    probe: impl FnOnce(Ctx) -> F,
    n: usize,
    mut pick: impl FnMut(EventBody) -> Option<T>,
) -> Vec<T>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(probe(Ctx::new(tx, cancel.clone())));
    let mut got = Vec::new();
    while got.len() < n {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some(ev)) => got.extend(pick(ev.body)),
            other => panic!("no event: {other:?}"),
        }
    }
    cancel.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(2), task).await;
    assert!(
        matches!(ended, Ok(Ok(()))),
        "the probe did not stop when cancelled"
    );
    got
}
