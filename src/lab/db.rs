//! Which database the lab runs: a real temporary PostgreSQL or the simulated one.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::pg::{self, PgCluster};
use super::simdb::SimDb;
use crate::error::LabError;

/// `--database auto|postgres|sim`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseKind {
    /// Real PostgreSQL when its server binaries are found, else the simulation.
    #[default]
    Auto,
    Postgres,
    Sim,
}

impl DatabaseKind {
    pub(crate) const NAMES: [&'static str; 3] = ["auto", "postgres", "sim"];
}

impl FromStr for DatabaseKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(DatabaseKind::Auto),
            "postgres" => Ok(DatabaseKind::Postgres),
            "sim" => Ok(DatabaseKind::Sim),
            _ => Err(format!(
                "unknown database `{s}`; use one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// The database actually running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActualDatabase {
    Postgres,
    Sim,
}

impl ActualDatabase {
    pub fn as_str(self) -> &'static str {
        match self {
            ActualDatabase::Postgres => "postgres",
            ActualDatabase::Sim => "sim",
        }
    }
}

impl fmt::Display for ActualDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `kind` means on this machine: the server binaries' directory, or the simulation.
pub(super) fn pick(kind: DatabaseKind) -> Result<Option<PathBuf>, LabError> {
    match kind {
        DatabaseKind::Sim => Ok(None),
        DatabaseKind::Auto => Ok(pg::find_binaries()),
        DatabaseKind::Postgres => pg::find_binaries().map(Some).ok_or(LabError::NoPostgres),
    }
}

pub enum LabDatabase {
    Postgres(PgCluster),
    Sim(SimDb),
}

impl LabDatabase {
    /// Starts the database `kind` asks for. With `auto`, a real server that fails to start
    /// falls back to the simulation; the reason is returned as a note.
    pub async fn start(
        kind: DatabaseKind,
        max_connections: u32,
    ) -> Result<(LabDatabase, Option<String>), LabError> {
        let Some(bin) = pick(kind)? else {
            return Ok((start_sim(max_connections).await?, None));
        };
        match PgCluster::start(&bin, max_connections).await {
            Ok(db) => Ok((LabDatabase::Postgres(db), None)),
            Err(e) if kind == DatabaseKind::Auto => {
                let note = format!(
                    "real PostgreSQL from {} did not start ({}); using the simulated database",
                    bin.display(),
                    crate::error::line(&e)
                );
                tracing::warn!("{note}");
                Ok((start_sim(max_connections).await?, Some(note)))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            LabDatabase::Postgres(p) => p.addr(),
            LabDatabase::Sim(s) => s.addr(),
        }
    }

    pub fn kind(&self) -> ActualDatabase {
        match self {
            LabDatabase::Postgres(_) => ActualDatabase::Postgres,
            LabDatabase::Sim(_) => ActualDatabase::Sim,
        }
    }

    /// The real cluster's temporary directory.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            LabDatabase::Postgres(p) => Some(p.dir()),
            LabDatabase::Sim(_) => None,
        }
    }

    pub fn sim(&self) -> Option<&SimDb> {
        match self {
            LabDatabase::Sim(s) => Some(s),
            LabDatabase::Postgres(_) => None,
        }
    }

    pub async fn stop(&mut self) -> Result<(), LabError> {
        match self {
            LabDatabase::Postgres(p) => Ok(p.stop().await?),
            LabDatabase::Sim(s) => {
                s.shutdown().await;
                Ok(())
            }
        }
    }
}

async fn start_sim(max_connections: u32) -> Result<LabDatabase, LabError> {
    SimDb::start(max_connections)
        .await
        .map(LabDatabase::Sim)
        .map_err(LabError::SimDatabase)
}
