//! "Database at capacity", for real: the hog opens direct connections (as role `hog`) until the
//! server itself refuses one with 53300, then gives back as many as should stay free. The same
//! code works on the real and the simulated server, so both answer probes with a genuine
//! 53300 from their own limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_util::sync::CancellationToken;

use super::pgconn;
use crate::error::LabError;

/// Far above any lab `max_connections`: a server that never refuses does not make the hog
/// open connections forever.
const MAX_HELD: usize = 500;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const FILL_BUDGET: Duration = Duration::from_secs(20);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a full server is looked at for a slot given up: well inside the lab's 1 s
/// attempt interval, so the slot is the hog's again before a probe finds it.
const KEEP_EVERY: Duration = Duration::from_millis(100);
/// A take-back that is not answered by then is given up until the next look.
const TAKE_BACK_TIMEOUT: Duration = Duration::from_secs(1);

struct Held {
    client: tokio_postgres::Client,
    task: JoinHandle<()>,
}

impl Held {
    async fn close(self) {
        let Held { client, mut task } = self;
        // Dropping the client makes the connection send Terminate and finish on its own.
        drop(client);
        if tokio::time::timeout(CLOSE_TIMEOUT, &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

pub(super) struct Hog {
    addr: SocketAddr,
    held: Vec<Held>,
}

/// What the hog did, for notes and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HogReport {
    pub held: usize,
    /// The server refused a connection with 53300 while filling (it really is full).
    pub(crate) saw_refusal: bool,
}

impl Hog {
    pub(super) fn new(addr: SocketAddr) -> Hog {
        Hog {
            addr,
            held: Vec::new(),
        }
    }

    pub(super) fn held(&self) -> usize {
        self.held.len()
    }

    /// `None`: hold nothing. `Some(n)`: fill the server up, then leave `n` slots free.
    pub(super) async fn set(&mut self, free_slots: Option<u32>) -> Result<HogReport, LabError> {
        let Some(free) = free_slots else {
            self.release(self.held.len()).await;
            return Ok(HogReport {
                held: 0,
                saw_refusal: false,
            });
        };
        let saw_refusal = self.fill().await?;
        self.release(free as usize).await;
        Ok(HogReport {
            held: self.held.len(),
            saw_refusal,
        })
    }

    async fn fill(&mut self) -> Result<bool, LabError> {
        let deadline = tokio::time::Instant::now() + FILL_BUDGET;
        while self.held.len() < MAX_HELD && tokio::time::Instant::now() < deadline {
            match self.open().await {
                Ok(held) => self.held.push(held),
                Err(Some(code)) if code == SqlState::TOO_MANY_CONNECTIONS => return Ok(true),
                Err(code) => {
                    return Err(LabError::Hog {
                        connection: self.held.len() + 1,
                        answer: code.map_or("no answer".to_string(), |c| c.code().to_string()),
                    });
                }
            }
        }
        Ok(false)
    }

    /// `Err(Some(sqlstate))` for a server refusal, `Err(None)` for anything else.
    async fn open(&self) -> Result<Held, Option<SqlState>> {
        let config = pgconn::config("hog", "postgres", "connscope-lab-hog");
        match tokio::time::timeout(CONNECT_TIMEOUT, pgconn::connect(&config, self.addr)).await {
            Ok(Ok((client, conn))) => {
                let task = tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(Held { client, task })
            }
            Ok(Err(e)) => Err(e.code().cloned()),
            Err(_) => Err(None),
        }
    }

    /// Takes every slot given up since the last look; a refusal (the server full) ends it.
    async fn take_back(&mut self) {
        while self.held.len() < MAX_HELD {
            match tokio::time::timeout(TAKE_BACK_TIMEOUT, self.open()).await {
                Ok(Ok(held)) => self.held.push(held),
                _ => return,
            }
        }
    }

    pub(super) async fn release(&mut self, n: usize) {
        let keep = self.held.len().saturating_sub(n);
        for held in self.held.split_off(keep) {
            held.close().await;
        }
    }
}

/// Keeps a full server full until `cancel` (see `Lab::keep_full`).
pub(super) async fn keep_full(hog: Arc<Mutex<Hog>>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(KEEP_EVERY) => {}
        }
        // A connect cut off by the cancel is dropped, and with it its socket.
        tokio::select! {
            () = cancel.cancelled() => return,
            () = async { hog.lock().await.take_back().await } => {}
        }
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        for held in &self.held {
            held.task.abort();
        }
    }
}
