//! connscope: a terminal dashboard and headless checker for database-connectivity outages.
//!
//! One way through: config → probes → channel of `Event`s → `State::apply` → view or report.

pub mod config;
pub mod event;
pub mod feed;
pub mod probe;
pub mod secret;
pub mod state;
pub mod ui;
