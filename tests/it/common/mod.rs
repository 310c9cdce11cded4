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
pub mod probe_task;
pub mod procfs;
pub mod pty;
pub mod recordings;

use std::time::Duration;

use connscope::config::DbTarget;
use connscope::config::target::{EnvSnapshot, Resolve, resolve};
use connscope::probe::conn::connect::ConnectParams;
use connscope::probe::db::DbParams;

/// The only crypto provider in the build; reqwest and rustls panic without it.
pub fn init() {
    connscope::probe::conn::tls::install_provider();
}

/// `url` resolved as connscope resolves it, ignoring this machine's PG* variables and
/// ~/.pgpass: the target, none for an empty URL, or the error's words.
pub fn resolve_url(url: &str) -> Result<Option<DbTarget>, String> {
    let env = EnvSnapshot::new();
    resolve(&Resolve {
        url: Some(url),
        config_password: None,
        application_name: "connscope",
        env: &env,
    })
    .map_err(|e| e.to_string())
}

/// A resolved target for `url`, ignoring this machine's PG* variables and ~/.pgpass.
pub fn target(url: &str) -> DbTarget {
    resolve_url(url).expect("valid url").expect("a target")
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

/// The binary under test: cargo's build of this package, or `CONNSCOPE_TEST_BIN` when set (to
/// pin one build while other checkouts share the target directory and relink the same path).
pub fn bin_path() -> std::path::PathBuf {
    std::env::var_os("CONNSCOPE_TEST_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_BIN_EXE_connscope")))
}

/// The connscope binary built for these tests.
pub fn bin() -> std::process::Command {
    std::process::Command::new(bin_path())
}

/// A benchmark's setting from the environment variable `name`, `default` when unset; a value
/// that does not parse stops the run (a figure for another setting than asked would mislead).
pub fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a valid value")),
        Err(_) => default,
    }
}

/// Polls `f` every 20 ms until it holds or `limit` passes; the last answer.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
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
