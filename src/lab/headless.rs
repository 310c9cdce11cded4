//! `connscope lab` without the dashboard: start, announce the addresses as one JSON line,
//! serve until told to stop, clean up.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

use serde::Serialize;

use super::{Lab, LabOptions};
use crate::error::LabError;

/// The first (and only) line `run_headless` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Banner {
    pub database_url: String,
    pub direct_database_url: String,
    pub endpoints: BTreeMap<String, String>,
    pub websocket: String,
    pub startup_log: PathBuf,
    pub scenario: String,
    pub database: String,
}

impl Banner {
    pub fn of(lab: &Lab) -> Banner {
        let a = lab.addresses();
        Banner {
            database_url: a.database_url,
            direct_database_url: a.direct_database_url,
            endpoints: a.endpoints,
            websocket: a.websocket,
            startup_log: a.startup_log,
            scenario: lab.current().name,
            database: lab.database().as_str().to_string(),
        }
    }
}

/// Starts the lab, prints the banner as the first stdout line, serves until `shutdown`
/// resolves (the caller passes SIGINT / SIGTERM), then stops everything.
pub async fn run_headless(
    opts: LabOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LabError> {
    let lab = Lab::start(opts).await?;
    let line = serde_json::to_string(&Banner::of(&lab)).map_err(LabError::BannerEncode)?;
    // Whoever started the lab reads the banner; if it cannot be written the lab is no use.
    if let Err(e) = crate::output::stdout(&format!("{line}\n")) {
        lab.shutdown().await?;
        return Err(LabError::Banner(e));
    }
    shutdown.await;
    lab.shutdown().await
}
