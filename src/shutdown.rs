//! Stopping background tasks with a bounded wait: they are told to stop, then get `GRACE` to
//! finish by themselves (closing their connections), so one wedged task cannot hold the
//! process. Used by the probe supervisor and the lab's servers alike.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long tasks get to end by themselves once told to stop.
pub(crate) const GRACE: Duration = Duration::from_secs(5);

/// Waits up to `GRACE` for `done`. False, after a warning naming `what`, when it did not
/// finish in time: the caller decides whether to abort what is left.
pub(crate) async fn within_grace(what: &str, done: impl Future<Output = ()>) -> bool {
    if tokio::time::timeout(GRACE, done).await.is_ok() {
        return true;
    }
    tracing::warn!("{what} still running after {} s", GRACE.as_secs());
    false
}

/// Cancels `cancel`, lets no new task into `tasks` and waits for those running, within the
/// grace. Tasks still running after it are left to end with the runtime.
pub(crate) async fn stop_tracked(
    cancel: &CancellationToken,
    tasks: &TaskTracker,
    what: &str,
) -> bool {
    cancel.cancel();
    tasks.close();
    within_grace(what, tasks.wait()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tasks_that_end_in_time_are_awaited() {
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        let c = cancel.clone();
        tasks.spawn(async move {
            c.cancelled().await;
            tokio::time::sleep(GRACE / 2).await;
        });
        assert!(stop_tracked(&cancel, &tasks, "test tasks").await);
        assert!(tasks.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_ignores_cancellation_is_given_up_on_after_the_grace() {
        let cancel = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(tokio::time::sleep(GRACE * 10));
        let started = tokio::time::Instant::now();
        assert!(!stop_tracked(&cancel, &tasks, "test tasks").await);
        assert_eq!(started.elapsed(), GRACE, "gave up exactly at the grace");
        assert!(cancel.is_cancelled());
    }
}
