//! The startup sequence and the restart loop around it.

use std::sync::Arc;

use tokio::time::Instant;

use super::{Ctx, LineStatus, ServiceState};
use crate::config::Phase;

const DATABASE_PHASE: u8 = 3;
/// The outage's exit code for a failed database phase.
const EXIT_DATABASE: i32 = 3;
/// Stopped by the platform (SIGTERM) in the middle of starting.
const EXIT_TERMINATED: i32 = 143;
/// What the health endpoints say after phase 3 failed (the outage's wording).
pub(super) const STARTUP_FAILED: &str = "startup failed: database initialization timeout";

enum Outcome {
    Healthy,
    Failed,
    Interrupted,
}

pub(super) async fn run(ctx: Arc<Ctx>) {
    let mut restart = ctx.restart.subscribe();
    loop {
        restart.mark_unchanged();
        let outcome = tokio::select! {
            o = one_run(&ctx) => o,
            r = restart.changed() => {
                if r.is_err() {
                    return;
                }
                Outcome::Interrupted
            }
            () = ctx.cancel.cancelled() => return,
        };
        let wait = match outcome {
            Outcome::Healthy => None,
            Outcome::Failed => Some(ctx.behaviour().restart_delay),
            Outcome::Interrupted => {
                ctx.db.lock().await.take();
                ctx.log.exit(EXIT_TERMINATED);
                continue;
            }
        };
        // Healthy: serve until a restart is asked for. Failed: the platform's back-off, cut
        // short by a restart request.
        let sleep = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => {}
            r = restart.changed() => {
                if r.is_err() {
                    return;
                }
                if wait.is_none() {
                    ctx.db.lock().await.take();
                    ctx.log.exit(0);
                }
            }
            () = ctx.cancel.cancelled() => return,
        }
    }
}

async fn one_run(ctx: &Ctx) -> Outcome {
    ctx.update(|s| {
        s.state = ServiceState::Starting;
        s.phase = Some(1);
        s.runs += 1;
    });
    for (i, phase) in Phase::outage_defaults().iter().enumerate() {
        let n = u8::try_from(i + 1).unwrap_or(u8::MAX);
        ctx.update(|s| s.phase = Some(n));
        ctx.log.phase(
            n,
            LineStatus::Started,
            &format!("phase {n} ({}) started", phase.name),
        );
        let started = Instant::now();
        if n == DATABASE_PHASE {
            match database_phase(ctx).await {
                Ok(client) => *ctx.db.lock().await = Some(client),
                Err(detail) => {
                    ctx.log.phase(n, LineStatus::Failed, &detail);
                    ctx.log.exit(EXIT_DATABASE);
                    ctx.update(|s| {
                        s.state = ServiceState::Restarting;
                        s.last_failure = Some(format!("{STARTUP_FAILED}: {detail}"));
                    });
                    return Outcome::Failed;
                }
            }
        } else {
            let b = ctx.behaviour();
            tokio::time::sleep(phase.budget.mul_f64(b.phase_pace * b.time_scale)).await;
        }
        ctx.log.phase(
            n,
            LineStatus::Completed,
            &format!(
                "phase {n} ({}) completed in {:.3} s",
                phase.name,
                started.elapsed().as_secs_f64()
            ),
        );
    }
    ctx.update(|s| {
        s.state = ServiceState::Healthy;
        s.phase = None;
        s.last_failure = None;
    });
    Outcome::Healthy
}

/// Tries to connect until the initialization timeout runs out, like a service whose pool
/// retries during startup. The message names the timeout and the last error seen.
async fn database_phase(ctx: &Ctx) -> Result<tokio_postgres::Client, String> {
    let b = ctx.behaviour();
    let deadline = Instant::now() + b.init_timeout;
    let mut tries = 0u32;
    let mut last = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        tries += 1;
        match ctx.connect(left).await {
            Ok(client) => return Ok(client),
            Err(e) => last = Some(e),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(b.retry_interval.min(left)).await;
    }
    let tries = if tries == 1 {
        "1 try".to_string()
    } else {
        format!("{tries} tries")
    };
    Err(format!(
        "database initialization timeout after {:.1} s ({tries}; last error: {})",
        b.init_timeout.as_secs_f64(),
        last.as_deref().unwrap_or("none")
    ))
}
