//! connscope: a terminal dashboard and headless checker for database-connectivity outages.
//!
//! One way through: config → probes → channel of `Event`s → `State::apply` → view or report.

#![warn(unreachable_pub)]

pub(crate) mod agent;
pub mod cli;
pub mod cmd;
pub mod config;
pub(crate) mod error;
pub mod event;
pub(crate) mod exit;
pub mod lab;
pub(crate) mod logging;
pub(crate) mod output;
pub mod probe;
pub mod record;
pub mod replay;
pub mod report;
pub mod secret;
pub(crate) mod shutdown;
pub(crate) mod signal;
pub mod state;
pub(crate) mod supervisor;
pub(crate) mod tty;
pub mod ui;
pub(crate) mod units;
