//! Debug builds only: makes the dashboard panic on demand, so the terminal tests can prove —
//! in the real binary, in a real terminal — that a panic gives the terminal back. With
//! `CONNSCOPE_DEBUG_PANIC` set, SIGUSR1 panics:
//! - `dashboard`: the dashboard's own task, while the loop holds the terminal (the process
//!   ends with 101, raw mode off, the main screen back, the message on it);
//! - `task`: another task, as a probe could: the hook gives the terminal back at once and the
//!   dashboard takes it again on its next frame, then runs on.
//!
//! Release builds have none of it.

use std::future::Future;

#[cfg(all(debug_assertions, unix))]
pub(crate) async fn around<T>(dashboard: impl Future<Output = T>) -> T {
    use tokio::signal::unix::{SignalKind, signal};
    let drill = std::env::var("CONNSCOPE_DEBUG_PANIC").unwrap_or_default();
    // Installed before the dashboard starts, so the signal cannot come before it.
    let usr1 = match drill.as_str() {
        "dashboard" | "task" => signal(SignalKind::user_defined1()).ok(),
        _ => None,
    };
    let Some(mut usr1) = usr1 else {
        return dashboard.await;
    };
    if drill == "task" {
        tokio::spawn(async move {
            usr1.recv().await;
            panic!("panic drill: a task other than the dashboard panicked");
        });
        return dashboard.await;
    }
    tokio::pin!(dashboard);
    tokio::select! {
        r = &mut dashboard => r,
        _ = usr1.recv() => panic!("panic drill: the dashboard's task panicked"),
    }
}

#[cfg(not(all(debug_assertions, unix)))]
pub(crate) async fn around<T>(dashboard: impl Future<Output = T>) -> T {
    dashboard.await
}
