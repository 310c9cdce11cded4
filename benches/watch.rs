//! The real `watch` dashboard in a pseudo-terminal — every probe a user gets by default: the
//! database against a throwaway PostgreSQL, a health endpoint and a WebSocket on loopback
//! servers (checked every 10 s, the default), and the rehearsal at start:
//!
//! - start-up: process start to the first frame with the panels drawn (median of 7);
//! - CPU while idle (one attempt a minute; endpoint and WebSocket every 10 s; the dashboard
//!   ticking) and at ~50 attempts/s, from the process's own utime + stime in /proc over 10 s;
//! - resident memory every 30 s at ~50 attempts/s, to show it stays flat.
//!
//! Targets: first frame < 100 ms; idle < 1 % of a core; 50 attempts/s < 10 %; memory flat.
//! Run: `cargo bench --bench watch` (1 minute at 50/s);
//! the 10-minute soak: `CONNSCOPE_SOAK=600 cargo bench --bench watch`; another attempt rate:
//! `CONNSCOPE_BUSY_INTERVAL=20ms` (the pause after each attempt).

#[path = "../tests/it/common/mod.rs"]
mod common;
use common::pty;

use std::path::Path;
use std::time::{Duration, Instant};

use common::dashboard::{Services, spawn, watch_args};
use common::pg::{PgOptions, TempPg};
use common::procfs::{self, cpu_percent};
use pty::Pty;

fn watch(url: &str, svc: &Services, interval: &str, record: Option<&Path>) -> Pty {
    let mut args = watch_args(url, svc, interval);
    if let Some(p) = record {
        args.extend(["--record".to_string(), p.display().to_string()]);
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    spawn(&argv, &[])
}

fn quit(mut p: Pty) {
    p.key('q');
    if p.wait_exit(Duration::from_secs(10)).is_none() {
        eprintln!("watch did not quit within 10 s");
    }
}

/// Process start to the first frame with the panels drawn.
fn first_frame(url: &str, svc: &Services) -> Duration {
    let t0 = Instant::now();
    let p = watch(url, svc, "60s", None);
    let deadline = t0 + Duration::from_secs(20);
    let drawn = |s: &str| s.contains("connection attempts") && s.contains("Endpoints");
    while !drawn(&p.screen()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let took = t0.elapsed();
    quit(p);
    took
}

/// `m` toggles the privacy mask; the time from the key to the frame that shows it (or no
/// longer shows it), while results arrive. Median of 10.
fn key_to_frame(p: &mut Pty) {
    let mut took = Vec::new();
    for i in 0..10 {
        let want_mask = i % 2 == 0;
        let t0 = Instant::now();
        p.key('m');
        let deadline = t0 + Duration::from_secs(5);
        while p.screen().contains("‹host›") != want_mask && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(500));
        }
        took.push(t0.elapsed());
        std::thread::sleep(Duration::from_millis(150));
    }
    took.sort();
    println!(
        "key to frame while probing: median {:.1?}, max {:.1?} (10 presses of `m`)",
        took[5], took[9]
    );
}

fn attempts_in(record: &Path) -> usize {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"db_attempt\""))
        .count()
}

fn main() {
    common::init();
    let soak: u64 = common::setting("CONNSCOPE_SOAK", 60);
    let pg = TempPg::start_with(PgOptions {
        max_connections: 40,
        ..PgOptions::default()
    });
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );
    let svc = Services::start();

    let mut starts: Vec<Duration> = (0..7).map(|_| first_frame(&url, &svc)).collect();
    starts.sort();
    println!(
        "start to first frame: median {:.1?} (min {:.1?}, max {:.1?}, 7 runs)",
        starts[3], starts[0], starts[6]
    );

    let idle = watch(&url, &svc, "60s", None);
    std::thread::sleep(Duration::from_secs(3));
    println!(
        "CPU idle: {:.2} % of one core (10 s)",
        cpu_percent(idle.pid(), Duration::from_secs(10))
    );
    quit(idle);

    let dir = tempfile::tempdir().expect("temp dir");
    let rec = dir.path().join("soak.jsonl");
    // The probe waits `interval` after each attempt ends; an attempt takes ~5–8 ms here.
    let interval = std::env::var("CONNSCOPE_BUSY_INTERVAL").unwrap_or_else(|_| "13ms".into());
    let mut busy = watch(&url, &svc, &interval, Some(&rec));
    let t0 = Instant::now();
    // A figure for a dashboard whose probes fail would not be this one's: fail loudly.
    for up in ["✓ 200", "WebSocket ✓ up"] {
        if busy
            .wait_for(Duration::from_secs(20), |s| s.contains(up))
            .is_err()
        {
            eprintln!("`{up}` never on screen:\n{}", busy.screen());
            std::process::exit(1);
        }
    }
    std::thread::sleep(Duration::from_secs(5));
    let a0 = attempts_in(&rec);
    let w = Instant::now();
    let cpu = cpu_percent(busy.pid(), Duration::from_secs(10));
    let rate = (attempts_in(&rec) - a0) as f64 / w.elapsed().as_secs_f64();
    println!("CPU at {rate:.0} attempts/s: {cpu:.2} % of one core (10 s)");
    key_to_frame(&mut busy);
    let mut next = Duration::from_secs(30);
    while next <= Duration::from_secs(soak) {
        if let Some(wait) = next.checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
        println!(
            "  RSS after {:>4} s: {} kB ({} attempts so far)",
            next.as_secs(),
            procfs::status_kib(busy.pid(), "VmRSS").unwrap_or(0),
            attempts_in(&rec)
        );
        next += Duration::from_secs(30);
    }
    quit(busy);
    println!(
        "connscope sessions left: {}",
        pg.wait_sessions_gone("connscope")
    );
}
