#![allow(dead_code)]

pub mod pg;

use std::time::Duration;

use connscope::config::DbTarget;
use connscope::config::target::{EnvSnapshot, Resolve, resolve};
use connscope::probe::connect::ConnectParams;
use connscope::probe::db::DbParams;

pub fn init() {
    connscope::probe::tls::install_provider();
}

/// A resolved target for `url`, ignoring this machine's PG* variables and ~/.pgpass.
pub fn target(url: &str) -> DbTarget {
    let env = EnvSnapshot::new();
    resolve(&Resolve {
        url: Some(url),
        config_password: None,
        application_name: "connscope",
        env: &env,
    })
    .expect("valid url")
    .expect("a target")
}

pub fn db_params(url: &str, timeout: Duration) -> DbParams {
    let t = target(url);
    DbParams {
        connect: ConnectParams::new(&t, timeout, Duration::from_secs(5)).expect("tls config"),
        target: t,
        attempts: 1,
        interval: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
    }
}

/// The connscope binary built for these tests.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_connscope"))
}
pub mod http_servers;
