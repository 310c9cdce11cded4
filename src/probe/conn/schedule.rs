//! Pacing for periodic probes: the interval, "run now" from the keyboard, pause, and backoff
//! with jitter after failures so a probe never adds load to a struggling server.

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::event::{ErrorClass, Failure, Step};

/// The sending side, held by whoever turns keys into commands.
#[derive(Debug)]
pub struct ControlHandle {
    pub(crate) rerun: watch::Sender<u64>,
    pub paused: watch::Sender<bool>,
}

impl ControlHandle {
    pub(crate) fn run_now(&self) {
        self.rerun.send_modify(|g| *g += 1);
    }

    pub(crate) fn set_paused(&self, paused: bool) {
        let _ = self.paused.send(paused);
    }
}

/// The receiving side, cloned into every periodic probe.
#[derive(Debug, Clone)]
pub struct Control {
    pub(crate) rerun: watch::Receiver<u64>,
    pub paused: watch::Receiver<bool>,
}

impl Control {
    /// A control that never fires (for `check`).
    pub fn inert() -> Self {
        crate::probe::control().1
    }

    /// Waits `delay`, or less if "run now" is pressed; while paused, waits for resume.
    /// Returns false when cancelled.
    pub async fn wait(&mut self, delay: Duration, cancel: &CancellationToken) -> bool {
        self.rerun.mark_unchanged();
        let rerun = &mut self.rerun;
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            r = rerun.changed() => if r.is_err() { tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancel.cancelled() => return false,
            } },
            () = cancel.cancelled() => return false,
        }
        while *self.paused.borrow_and_update() {
            tokio::select! {
                r = self.paused.changed() => if r.is_err() { break },
                () = cancel.cancelled() => return false,
            }
        }
        !cancel.is_cancelled()
    }
}

/// A failure where probing again soon could add to the harm: the server is full (53300) or
/// restarting (57P03), or it — or the connector — is too slow to finish connections it
/// accepted (a timeout after TCP). A refused or unreachable address, a DNS failure or a TCP
/// timeout costs the server nothing: those keep the normal pace, so recovery shows at once.
pub(crate) fn harmful(f: &Failure) -> bool {
    f.class.wants_backoff()
        || (f.class == ErrorClass::Timeout
            && matches!(f.step, Some(Step::Tls | Step::Handshake | Step::Query)))
}

/// Exponential backoff with full jitter, reset on success.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max: max.max(base),
            failures: 0,
        }
    }

    pub fn success(&mut self) {
        self.failures = 0;
    }

    pub fn failure(&mut self) {
        self.failures = self.failures.saturating_add(1);
    }

    /// The next delay: the base interval while healthy; after failures, a random delay between
    /// the base and `base × 2^failures` (capped), so many probes never retry in lockstep.
    pub(crate) fn next_delay(&self) -> Duration {
        if self.failures == 0 {
            return self.base;
        }
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.failures.min(16))
            .min(self.max);
        let span = ceiling.saturating_sub(self.base);
        self.base + span.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(class: ErrorClass, step: Option<Step>) -> Failure {
        Failure {
            class,
            step,
            sqlstate: None,
            message: String::new(),
        }
    }

    #[test]
    fn only_failures_that_probing_could_worsen_back_off() {
        for (class, step, want) in [
            (ErrorClass::TooManyConnections, None, true),
            (ErrorClass::StartingUp, None, true),
            (ErrorClass::ShuttingDown, None, true),
            (ErrorClass::Timeout, Some(Step::Tls), true),
            (ErrorClass::Timeout, Some(Step::Handshake), true),
            (ErrorClass::Timeout, Some(Step::Query), true),
            (ErrorClass::Timeout, Some(Step::Tcp), false),
            (ErrorClass::Refused, Some(Step::Tcp), false),
            (ErrorClass::Unreachable, Some(Step::Tcp), false),
            (ErrorClass::Dns, Some(Step::Dns), false),
            (ErrorClass::Auth, Some(Step::Handshake), false),
        ] {
            assert_eq!(harmful(&failure(class, step)), want, "{class} {step:?}");
        }
    }

    #[test]
    fn backoff_grows_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(b.next_delay(), Duration::from_secs(2));
        for _ in 0..10 {
            b.failure();
        }
        for _ in 0..100 {
            let d = b.next_delay();
            assert!(
                d >= Duration::from_secs(2) && d <= Duration::from_secs(60),
                "{d:?}"
            );
        }
        b.success();
        assert_eq!(b.next_delay(), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn run_now_cuts_the_wait_short_and_cancel_ends_it() {
        let (handle, mut ctl) = crate::probe::control();
        let cancel = CancellationToken::new();
        let waiter = tokio::spawn({
            let cancel = cancel.clone();
            async move { ctl.wait(Duration::from_secs(3600), &cancel).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        handle.run_now();
        let r = tokio::time::timeout(Duration::from_secs(5), waiter).await;
        assert!(matches!(r, Ok(Ok(true))));

        let (_h, mut ctl) = crate::probe::control();
        cancel.cancel();
        assert!(!ctl.wait(Duration::from_secs(3600), &cancel).await);
    }
}
