#![allow(dead_code)]

pub mod agent;
pub mod certs;
pub mod dashboard;
pub mod dns;
pub mod fault_bin;
pub mod fault_net;
pub mod frames;
pub mod http_servers;
pub mod http_tls;
pub mod lab_headless;
pub mod lab_support;
pub mod oracle;
pub mod pg;
pub mod pty;
pub mod recordings;

use std::time::Duration;

use connscope::config::DbTarget;
use connscope::config::target::{EnvSnapshot, Resolve, resolve};
use connscope::probe::conn::connect::ConnectParams;
use connscope::probe::db::DbParams;

pub fn init() {
    connscope::probe::conn::tls::install_provider();
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
        until: None,
    }
}

/// How late a deadline may fire on this shared, loaded 2-core machine and still be taken as
/// firing on time: generous for scheduling, yet well under what a wrong deadline (doubled,
/// one per step instead of one in all, never set) adds. How precisely connscope times things
/// is measured in `benches/fidelity.rs`, not asserted here.
pub const DEADLINE_SLACK: Duration = Duration::from_millis(500);

/// `took` is a deadline of `limit` firing: not before it, nor later than limit + 5 % + slack.
pub fn fired_at(took: Duration, limit: Duration) -> bool {
    took >= limit && took <= limit.mul_f64(1.05) + DEADLINE_SLACK
}

/// The connscope binary built for these tests.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_connscope"))
}
/// A loopback port that refuses every connection for as long as this lives: bound, so neither
/// another test's server nor an outgoing connection's source port can take it meanwhile (a
/// released port can be reused, even by the connect itself), but never listening.
pub struct ClosedPort(tokio::net::TcpSocket);

impl ClosedPort {
    pub fn new() -> Self {
        let s = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        s.bind(([127, 0, 0, 1], 0).into())
            .expect("bind a loopback port");
        Self(s)
    }

    pub fn port(&self) -> u16 {
        self.0.local_addr().expect("bound address").port()
    }
}
