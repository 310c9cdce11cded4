//! The service stand-in: an HTTP service with `/health`, `/health/database` and `/ws` (also
//! under `/api` and `/auth`, so the three endpoints of the outage — backend, api, auth — are
//! three paths of one process and fail together, as they did), and a startup sequence of the 7
//! phases written to a startup log. Phase 3 really connects to the database *through the
//! proxy*, within the initialization timeout; when it cannot, the service logs phase 3 failed,
//! exits with code 3, answers 503 "startup failed: database initialization timeout" and starts
//! again after a restart delay — the outage's restart loop.

mod http;
mod log;
mod startup;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::pgconn;
use super::scenario::ServiceBehaviour;
use crate::error::LabError;
pub(super) use log::{LineStatus, StartupLog};

/// What the service is doing, as its health endpoints report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Starting,
    Healthy,
    /// Exited after a failed startup; waiting for the platform to start it again.
    Restarting,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    pub state: ServiceState,
    /// The phase running now (while starting) or that failed last.
    pub phase: Option<u8>,
    /// Why the last startup failed; cleared when a startup succeeds.
    pub(crate) last_failure: Option<String>,
    /// Startup runs begun so far.
    pub runs: u32,
}

pub(super) struct Ctx {
    db_config: tokio_postgres::Config,
    db_addr: SocketAddr,
    log: StartupLog,
    behaviour: watch::Sender<ServiceBehaviour>,
    restart: watch::Sender<u64>,
    status: RwLock<ServiceStatus>,
    /// The service's own database connection (its "pool" of one), once phase 3 succeeded.
    db: Mutex<Option<tokio_postgres::Client>>,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl Ctx {
    fn behaviour(&self) -> ServiceBehaviour {
        *self.behaviour.borrow()
    }

    fn status(&self) -> ServiceStatus {
        self.status
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    fn update(&self, f: impl FnOnce(&mut ServiceStatus)) {
        match self.status.write() {
            Ok(mut s) => f(&mut s),
            Err(e) => f(&mut e.into_inner()),
        }
    }

    /// One connection through the proxy, proven with `SELECT 1`, within `limit`.
    async fn connect(&self, limit: Duration) -> Result<tokio_postgres::Client, String> {
        let attempt = async {
            let (client, conn) = pgconn::connect(&self.db_config, self.db_addr)
                .await
                .map_err(|e| e.to_string())?;
            let cancel = self.cancel.clone();
            self.tasks.spawn(async move {
                tokio::select! {
                    _ = conn => {}
                    () = cancel.cancelled() => {}
                }
            });
            client.simple_query("SELECT 1").await.map_err(describe)?;
            Ok(client)
        };
        tokio::time::timeout(limit, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no answer from the database within {:.1} s",
                    limit.as_secs_f64()
                ))
            })
    }
}

fn describe(e: tokio_postgres::Error) -> String {
    pgconn::ConnectError::Pg(e).to_string()
}

pub struct Service {
    addr: SocketAddr,
    ctx: Arc<Ctx>,
}

impl Service {
    /// Serves on a free loopback port and begins the first startup run.
    pub async fn start(
        db_config: tokio_postgres::Config,
        db_addr: SocketAddr,
        log_path: &Path,
        behaviour: ServiceBehaviour,
    ) -> Result<Service, LabError> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(LabError::ServiceBind)?;
        let addr = listener.local_addr().map_err(LabError::ServiceAddr)?;
        let log = StartupLog::create(log_path).map_err(|source| LabError::StartupLog {
            path: log_path.to_path_buf(),
            source,
        })?;
        let ctx = Arc::new(Ctx {
            db_config,
            db_addr,
            log,
            behaviour: watch::channel(behaviour).0,
            restart: watch::channel(0).0,
            status: RwLock::new(ServiceStatus {
                state: ServiceState::Starting,
                phase: None,
                last_failure: None,
                runs: 0,
            }),
            db: Mutex::new(None),
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
        });
        ctx.tasks.spawn(http::serve(listener, ctx.clone()));
        ctx.tasks.spawn(startup::run(ctx.clone()));
        Ok(Service { addr, ctx })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn websocket_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn startup_log(&self) -> PathBuf {
        self.ctx.log.path().to_path_buf()
    }

    pub fn status(&self) -> ServiceStatus {
        self.ctx.status()
    }

    /// Takes effect at the service's next step (the phase 3 deadline already running keeps
    /// the timeout it started with, as a real process would).
    pub(crate) fn set_behaviour(&self, behaviour: ServiceBehaviour) {
        self.ctx.behaviour.send_replace(behaviour);
    }

    /// Stops the current run (exit logged) and starts again at once, like a new revision.
    pub fn restart(&self) {
        self.ctx.restart.send_modify(|n| *n += 1);
    }

    pub async fn shutdown(&self) {
        self.ctx.cancel.cancel();
        self.ctx.db.lock().await.take();
        crate::shutdown::stop_tracked(&self.ctx.cancel, &self.ctx.tasks, "lab service: tasks")
            .await;
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.ctx.cancel.cancel();
    }
}
