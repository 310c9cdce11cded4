//! The real binary's dashboard in a pseudo-terminal, for the terminal suites (`tui`,
//! `dashboard_exits`): loopback services for it to probe, `watch` started on them, the
//! numbers read back from the screen, and how a run must end (exit code, terminal restored).

#![allow(dead_code)]

use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::routing::get;

use super::http_servers::{self, Server};
use super::pg::TempPg;
use super::pty::{self, Pty};

pub const COLS: u16 = 160;
pub const ROWS: u16 = 50;
/// How long the first frame with probe results may take on a loaded 2-core machine.
pub const FIRST: Duration = Duration::from_secs(20);

/// The loopback health endpoint and WebSocket the dashboard probes; dropped with the test.
pub struct Services {
    pub http: Server,
    // Declared last: dropped after the server, whose task it runs.
    pub rt: tokio::runtime::Runtime,
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(m)) = socket.recv().await {
        if let Message::Text(_) = m
            && socket
                .send(Message::text(r#"{"type":"pong"}"#))
                .await
                .is_err()
        {
            break;
        }
    }
}

impl Services {
    pub fn start() -> Self {
        super::init();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let router = Router::new()
            .route("/health", get(|| async { r#"{"status":"ok"}"# }))
            .route("/health/database", get(|| async { r#"{"database":"ok"}"# }))
            .route(
                "/ws",
                get(|up: WebSocketUpgrade| async move { up.on_upgrade(echo) }),
            );
        let http = rt.block_on(http_servers::serve(router));
        Services { http, rt }
    }

    pub fn endpoint(&self) -> String {
        format!("api={}", self.http.url())
    }

    pub fn ws(&self) -> String {
        format!("ws://{}/ws", self.http.addr)
    }
}

/// The arguments of `watch` on `url` with the loopback services, the database probed every
/// `interval`.
pub fn watch_args(url: &str, svc: &Services, interval: &str) -> Vec<String> {
    let (endpoint, ws) = (svc.endpoint(), svc.ws());
    let args = [
        "watch",
        "--db-url",
        url,
        "--endpoint",
        &endpoint,
        "--ws",
        &ws,
        "--interval",
        interval,
    ];
    args.iter().map(ToString::to_string).collect()
}

/// `watch` on `url` with the loopback services, probing every 200 ms.
pub fn watch(url: &str, svc: &Services, extra: &[&str], env: &[(&str, &str)]) -> Pty {
    let base = watch_args(url, svc, "200ms");
    let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
    args.extend(["--tries", "1"]);
    args.extend_from_slice(extra);
    let mut all_env = vec![("CONNSCOPE_HEALTH__INTERVAL", "500ms")];
    all_env.extend_from_slice(env);
    spawn(&args, &all_env)
}

/// The connscope binary in a `COLS`×`ROWS` pseudo-terminal.
pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Pty {
    spawn_at(args, env, COLS, ROWS)
}

/// The connscope binary in a `cols`×`rows` pseudo-terminal.
pub fn spawn_at(args: &[&str], env: &[(&str, &str)], cols: u16, rows: u16) -> Pty {
    pty::spawn(&super::bin_path(), args, env, cols, rows)
}

// ---- reading the screen -----------------------------------------------------------------

/// `(successes, attempts)` from the attempts panel's "success … 100 % (19/19)" line.
pub fn attempts(screen: &str) -> Option<(u64, u64)> {
    let re = regex::Regex::new(r"success\b.*\((\d+)/(\d+)\)").expect("valid regex");
    let c = screen.lines().find_map(|l| re.captures(l))?;
    Some((c[1].parse().ok()?, c[2].parse().ok()?))
}

/// Waits until at least `n` attempts are on screen, all of them successful.
pub fn wait_attempts(p: &Pty, n: u64, limit: Duration) -> (u64, u64) {
    let s = p
        .wait_for(limit, |s| {
            attempts(s).is_some_and(|(ok, all)| all >= n && ok == all)
        })
        .unwrap_or_else(|s| panic!("no {n} successful attempts on screen:\n{s}"));
    attempts(&s).unwrap_or_default()
}

/// The process ended by itself with `code`, the main screen is back, the line discipline is
/// cooked again, and the last thing written left the alternate screen.
pub fn assert_exited_and_restored(p: &mut Pty, code: u32, what: &str) {
    wait_exit_code(p, code, what);
    // After leaving: at most the cursor being shown again, nothing drawn on the main screen.
    let tail = restored_tail(p, what);
    assert!(
        tail.is_empty() || tail == b"\x1b[?25h",
        "{what}: output after leaving the alternate screen: {:?}",
        String::from_utf8_lossy(&tail)
    );
}

/// The process panicked (exit 101) with the terminal given back first: raw mode off, the main
/// screen back, and the panic's `message` written there, where the user can read it.
pub fn assert_panicked_and_restored(p: &mut Pty, message: &str, what: &str) {
    wait_exit_code(p, 101, what);
    let tail = restored_tail(p, what);
    assert!(
        pty::contains(&tail, message.as_bytes()),
        "{what}: the panic message is not after leaving the alternate screen: {:?}",
        String::from_utf8_lossy(&tail)
    );
    assert!(p.screen().contains(message), "{what}: {}", p.screen());
}

/// Waits (bounded) for the process to end by itself with `code`, its terminal closed.
pub fn wait_exit_code(p: &mut Pty, code: u32, what: &str) {
    let status = p
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("{what}: still running 20 s later:\n{}", p.screen()));
    assert_eq!(
        status.signal(),
        None,
        "{what}: killed by a signal: {status:?}"
    );
    assert_eq!(
        status.exit_code(),
        code,
        "{what}: {status:?}\n{}",
        p.screen()
    );
    assert!(
        p.wait_eof(Duration::from_secs(5)),
        "{what}: terminal still held open"
    );
}

/// The terminal is back to what it was — main screen, cooked line discipline — and the
/// alternate screen was left after it was last entered; what was written after leaving it.
fn restored_tail(p: &Pty, what: &str) -> Vec<u8> {
    let raw = p.raw();
    let entered =
        pty::rfind(&raw, pty::ENTER_ALT).expect("the dashboard used the alternate screen");
    let left = pty::rfind(&raw, pty::LEAVE_ALT)
        .unwrap_or_else(|| panic!("{what}: never left the alternate screen"));
    assert!(
        left > entered,
        "{what}: entered the alternate screen again after leaving it"
    );
    assert!(
        !p.with_screen(vt100::Screen::alternate_screen),
        "{what}: still on the alternate screen"
    );
    assert!(p.is_cooked(), "{what}: the terminal was left in raw mode");
    raw[left + pty::LEAVE_ALT.len()..].to_vec()
}

pub fn assert_no_session(pg: &TempPg, what: &str) {
    assert_eq!(
        pg.wait_sessions_gone("connscope"),
        0,
        "{what}: connections left behind"
    );
}
