//! `connscope lab`: the outage on loopback. Headless, it only serves and prints its addresses;
//! otherwise it opens the dashboard on itself.

use crate::cli::{Global, LabArgs, LabDatabase};
use crate::error::{AppError, AppResult};
use crate::exit::ExitCode;
use crate::lab::{DatabaseKind, Lab, LabOptions};

pub(super) fn options(args: &LabArgs) -> AppResult<LabOptions> {
    let known: Vec<String> = Lab::scenarios().into_iter().map(|(n, _)| n).collect();
    if !known.contains(&args.scenario) {
        return Err(AppError::usage(format!(
            "unknown scenario `{}`; expected one of {}",
            args.scenario,
            known.join(", ")
        )));
    }
    Ok(LabOptions {
        scenario: args.scenario.clone(),
        database: match args.database {
            LabDatabase::Auto => DatabaseKind::Auto,
            LabDatabase::Postgres => DatabaseKind::Postgres,
            LabDatabase::Sim => DatabaseKind::Sim,
        },
        ..LabOptions::default()
    })
}

pub(super) async fn run(g: &Global, args: &LabArgs) -> AppResult<ExitCode> {
    let opts = options(args)?;
    if args.headless {
        crate::lab::run_headless(opts, crate::signal::shutdown()).await?;
        return Ok(ExitCode::Pass);
    }
    super::live::lab(g, opts).await
}
