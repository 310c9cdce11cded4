//! The lab: the outage reproduced on loopback (127.0.0.1) only, with no cloud — a database
//! (real temporary PostgreSQL or a simulated one), a fault-injecting proxy in front of it
//! standing in for the VPC connector, and a stand-in service with health endpoints, a
//! WebSocket and a startup log. Scenarios (data files, embedded) set the faults and can be
//! switched while everything runs.
//!
//! ```text
//! probes ──► proxy (faults) ──► database ◄── hog (db-capacity)
//!              ▲
//! service ─────┘ phase 3 connects through the proxy too
//! ```
//!
//! The library API is what the CLI wires up: `Lab::start`, `addresses`, `switch`,
//! `suggested_settings`, `shutdown`, and `run_headless` for `connscope lab --headless`.

mod db;
mod headless;
pub mod pg;
pub mod pgconn;
pub mod proxy;
pub mod scenario;
mod service;
mod settings;
pub(crate) mod simdb;
mod slot_hog;
mod tempdir;
mod watchdog;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Mutex, watch};
use tokio_util::sync::CancellationToken;

use crate::error::LabError;

pub use db::{ActualDatabase, DatabaseKind, LabDatabase};
pub use headless::{Banner, run_headless};
pub use proxy::{Faults, OverCap, Proxy, ProxyStats};
pub use scenario::{DEFAULT_SCENARIO, Scenario, ScenarioError, ServiceBehaviour};
pub use service::{Service, ServiceState, ServiceStatus};
pub use simdb::SimDb;
pub use slot_hog::HogReport;

use proxy::Faults as ProxyFaults;
use slot_hog::Hog;
use tempdir::TempDir;

/// The lab's database user and database (trust authentication, no password).
pub(crate) const DB_USER: &str = "app";
pub const DB_NAME: &str = "app";

#[derive(Debug, Clone, PartialEq)]
pub struct LabOptions {
    pub scenario: String,
    pub database: DatabaseKind,
    /// The database's connection limit (real: `max_connections`, with no superuser reserve).
    pub max_connections: u32,
    /// Overrides every scenario's own time scale.
    pub time_scale: Option<f64>,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            scenario: DEFAULT_SCENARIO.into(),
            database: DatabaseKind::Auto,
            max_connections: 20,
            time_scale: None,
        }
    }
}

/// Where everything listens. URLs carry no password (the lab uses trust authentication).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabAddresses {
    /// Through the proxy: what probes should use to see the connector's faults.
    pub database_url: String,
    /// Straight to the database, bypassing the proxy.
    pub direct_database_url: String,
    /// `backend`, `api`, `auth`: one service, three path prefixes (`/health`,
    /// `/api/health`, `/auth/health`), so they fail together as in the outage.
    pub endpoints: BTreeMap<String, String>,
    pub websocket: String,
    pub startup_log: PathBuf,
}

/// The scenario in force, for the dashboard's title and the `lab_scenario` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    pub time_scale: f64,
}

pub struct Lab {
    opts: LabOptions,
    current: watch::Sender<Scenario>,
    db: Mutex<LabDatabase>,
    db_addr: std::net::SocketAddr,
    db_kind: ActualDatabase,
    db_dir: Option<PathBuf>,
    proxy: std::sync::Arc<Proxy>,
    service: Service,
    hog: Arc<Mutex<Hog>>,
    flapper: Background,
    keeper: Background,
    dir: std::sync::Mutex<TempDir>,
    notes: Vec<String>,
}

impl Lab {
    /// Starts database, proxy and service on loopback, with `opts.scenario` applied.
    pub async fn start(opts: LabOptions) -> Result<Lab, LabError> {
        let scenario = Scenario::builtin(&opts.scenario, opts.time_scale)?;
        let mut dir = TempDir::new("run").map_err(LabError::Directory)?;
        dir.guard(None);
        let (db, note) = LabDatabase::start(opts.database, opts.max_connections).await?;
        let db_addr = db.addr();
        let proxy = Proxy::start(db_addr, scenario.faults())
            .await
            .map_err(LabError::Proxy)?;
        let proxy = std::sync::Arc::new(proxy);
        let mut hog = Hog::new(db_addr);
        let db_kind = db.kind();
        let db_dir = db.dir().map(PathBuf::from);
        let mut notes: Vec<String> = note.into_iter().collect();
        // Database conditions come first so a service starting into them meets them.
        notes.extend(apply_database(&db, &mut hog, &scenario).await?);
        let service = Service::start(
            pgconn::config(DB_USER, DB_NAME, "connscope-lab-service"),
            proxy.addr(),
            &dir.path().join("startup.log"),
            scenario.service(),
        )
        .await?;
        let lab = Lab {
            opts,
            current: watch::channel(scenario.clone()).0,
            db: Mutex::new(db),
            db_addr,
            db_kind,
            db_dir,
            proxy,
            service,
            hog: Arc::new(Mutex::new(hog)),
            flapper: Background::default(),
            keeper: Background::default(),
            dir: std::sync::Mutex::new(dir),
            notes,
        };
        lab.start_flapping(&scenario);
        lab.keep_full(&scenario);
        Ok(lab)
    }

    pub fn addresses(&self) -> LabAddresses {
        let base = self.service.base_url();
        let endpoints = [("backend", ""), ("api", "/api"), ("auth", "/auth")]
            .into_iter()
            .map(|(name, prefix)| (name.to_string(), format!("{base}{prefix}")))
            .collect();
        LabAddresses {
            database_url: db_url(self.proxy.addr()),
            direct_database_url: db_url(self.db_addr),
            endpoints,
            websocket: self.service.websocket_url(),
            startup_log: self.service.startup_log(),
        }
    }

    pub fn database(&self) -> ActualDatabase {
        self.db_kind
    }

    /// Things worth telling the person (e.g. the real database fell back to the simulation).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Built-in scenarios with their descriptions, in listing order.
    pub fn scenarios() -> Vec<(String, String)> {
        scenario::list()
    }

    pub fn current(&self) -> ScenarioInfo {
        let s = self.current.borrow();
        ScenarioInfo {
            name: s.name.clone(),
            description: s.description(),
            time_scale: s.time_scale,
        }
    }

    /// Applies a scenario now: proxy faults (open connections included), flapping, the
    /// database's free slots, the service's behaviour (and a restart when the scenario asks).
    pub async fn switch(&self, name: &str) -> Result<(), LabError> {
        let scenario = Scenario::builtin(name, self.opts.time_scale)?;
        self.flapper.stop();
        self.proxy.set_faults(scenario.faults());
        self.start_flapping(&scenario);
        self.keeper.stop();
        {
            let db = self.db.lock().await;
            let mut hog = self.hog.lock().await;
            for note in apply_database(&db, &mut hog, &scenario).await? {
                tracing::info!("{note}");
            }
        }
        self.keep_full(&scenario);
        self.service.set_behaviour(scenario.service());
        if scenario.file.service.restart_on_enter {
            self.service.restart();
        }
        self.current.send_replace(scenario);
        Ok(())
    }

    /// connscope settings for this lab (see `settings.rs`): scaled staging timings and the
    /// lab's addresses, as dotted keys.
    pub fn suggested_settings(&self) -> Result<Vec<(String, toml::Value)>, LabError> {
        settings::suggested(&self.current.borrow(), &self.addresses())
    }

    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// Connections the hog holds open.
    pub async fn hog_held(&self) -> usize {
        self.hog.lock().await.held()
    }

    /// Directories the lab created (removed by `shutdown`, or by drop as a last resort).
    pub fn temp_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.db_dir.iter().cloned().collect();
        if let Ok(d) = self.dir.lock() {
            dirs.push(d.path().to_path_buf());
        }
        dirs
    }

    /// Stops everything and removes the temporary directories.
    pub async fn shutdown(self) -> Result<(), LabError> {
        self.flapper.stop();
        self.keeper.stop();
        self.service.shutdown().await;
        self.hog.lock().await.release(usize::MAX).await;
        self.proxy.shutdown().await;
        let stopped = self.db.lock().await.stop().await;
        let removed = match self.dir.lock() {
            Ok(mut d) => d.remove().map_err(LabError::Cleanup),
            Err(_) => Ok(()),
        };
        stopped.and(removed)
    }

    fn start_flapping(&self, scenario: &Scenario) {
        let Some((every, flap_faults)) = scenario.flap() else {
            return;
        };
        let token = self.flapper.start();
        tokio::spawn(flap(
            self.proxy.clone(),
            scenario.faults(),
            flap_faults,
            every,
            token,
        ));
    }

    /// A scenario whose database has no free slot keeps it so: a slot someone gives up (a
    /// probe's connection closing, the service restarting, a pool closing) is taken back, as
    /// other clients would take it in the outage — not left for the next attempt to find.
    fn keep_full(&self, scenario: &Scenario) {
        if scenario.file.database.free_slots == Some(0) {
            let token = self.keeper.start();
            tokio::spawn(slot_hog::keep_full(self.hog.clone(), token));
        }
    }
}

/// A background task of the lab's current scenario, stopped through its token.
#[derive(Default)]
struct Background(std::sync::Mutex<Option<CancellationToken>>);

impl Background {
    /// A token for a new task; the one before it is stopped.
    fn start(&self) -> CancellationToken {
        let token = CancellationToken::new();
        if let Ok(mut slot) = self.0.lock()
            && let Some(old) = slot.replace(token.clone())
        {
            old.cancel();
        }
        token
    }

    fn stop(&self) {
        if let Ok(mut slot) = self.0.lock()
            && let Some(token) = slot.take()
        {
            token.cancel();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Best effort when `shutdown` was not awaited: tasks stop through their tokens, the
        // real database is stopped and directories removed by their own drops.
        self.flapper.stop();
        self.keeper.stop();
    }
}

async fn flap(
    proxy: std::sync::Arc<Proxy>,
    base: ProxyFaults,
    bad: ProxyFaults,
    every: Duration,
    cancel: CancellationToken,
) {
    let mut bad_now = false;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        bad_now = !bad_now;
        proxy.set_faults(if bad_now { bad.clone() } else { base.clone() });
    }
}

async fn apply_database(
    db: &LabDatabase,
    hog: &mut Hog,
    scenario: &Scenario,
) -> Result<Vec<String>, LabError> {
    let spec = &scenario.file.database;
    let mut notes = Vec::new();
    match db.sim() {
        Some(sim) => sim.set_starting_up(spec.starting_up),
        None if spec.starting_up => notes.push(format!(
            "scenario {}: `starting_up` needs the simulated database; the real one ignores it",
            scenario.name
        )),
        None => {}
    }
    let report = hog.set(spec.free_slots).await?;
    if spec.free_slots.is_some() && !report.saw_refusal {
        notes.push(format!(
            "scenario {}: the database never refused a connection while the hog filled it ({} held)",
            scenario.name, report.held
        ));
    }
    Ok(notes)
}

fn db_url(addr: std::net::SocketAddr) -> String {
    format!(
        "postgres://{DB_USER}@{}:{}/{DB_NAME}",
        addr.ip(),
        addr.port()
    )
}
