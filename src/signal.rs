//! The signals that end a run: SIGINT, SIGTERM and SIGHUP (the terminal went away). Every
//! command listens through here, so each ends on the same signals and reports them alike
//! (exit 130, `ExitCode::Interrupted`).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a signal from `shutdown` has arrived: the run was interrupted.
static RECEIVED: AtomicBool = AtomicBool::new(false);

/// Resolves on the first of SIGINT, SIGTERM or SIGHUP. The handlers are installed when this
/// is called, not when the future is first polled: a signal arriving in between would
/// otherwise end the process at once, with a dashboard's terminal still in raw mode. Where
/// they cannot be installed, Ctrl-C alone is listened for (said in the log).
pub(crate) fn shutdown() -> impl Future<Output = ()> + Send + 'static {
    let wait = listen();
    async move {
        wait.await;
        RECEIVED.store(true, Ordering::SeqCst);
    }
}

/// Whether a signal ended (or is ending) this run.
pub(crate) fn received() -> bool {
    RECEIVED.load(Ordering::SeqCst)
}

#[cfg(unix)]
fn listen() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    );
    async move {
        match handlers {
            (Ok(mut int), Ok(mut term), Ok(mut hup)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
            }
            (int, term, hup) => {
                let e = [int.err(), term.err(), hup.err()]
                    .into_iter()
                    .flatten()
                    .next();
                tracing::warn!(
                    "cannot listen for SIGTERM / SIGHUP ({e:?}); only Ctrl-C ends the run"
                );
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

#[cfg(not(unix))]
fn listen() -> impl Future<Output = ()> + Send + 'static {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
