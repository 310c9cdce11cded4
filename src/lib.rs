//! connscope: a terminal dashboard and headless checker for database-connectivity outages.
//!
//! One way through: config → probes → channel of `Event`s → `State::apply` → view or report.

pub(crate) mod agent;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod error;
pub mod event;
pub mod exit;
pub mod lab;
pub mod logging;
pub mod output;
pub mod probe;
pub mod record;
pub mod replay;
pub mod report;
pub mod secret;
pub(crate) mod shutdown;
pub mod signal;
pub mod state;
pub mod supervisor;
pub(crate) mod tty;
pub mod ui;
pub mod units;
