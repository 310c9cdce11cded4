//! The one integration-test binary (as bottom does): every suite is a module, so the dependency
//! tree (axum, pgwire, reqwest, sqlx) is linked once, and shared helpers are plain modules.

mod common;

mod agent;
mod agent_ui;
mod agree;
mod bounds;
mod capacity;
mod check_progress;
mod cli;
mod config_corpus;
mod db_probe;
mod faults;
mod html;
mod lab;
mod lab_check;
mod lab_group_kill;
mod libpq;
mod outputs;
mod pool;
mod probe_http;
mod probe_startup;
mod probe_ws;
mod rehearsal;
mod replay_view;
mod review;
mod screens;
mod secrets;
mod terminal;
mod tls_pg;
mod tui;
mod url_fuzz;
mod verdicts;
mod watch_verdict;
