//! Event ingest: how many events a second `State::apply` takes, alerts and diagnosis included,
//! and whether the state stays the same size however long a run goes on.
//!
//! The mix is what a busy `watch` sends: database attempts (9 in 10 healthy, 1 in 10 a TCP
//! timeout or 53300 that fires and clears alerts), endpoint checks, WebSocket checks and a
//! capacity test's per-connection events. Every `apply` runs the alert rules, so this is the
//! real per-event cost, not a histogram insert.
//!
//! Run: `cargo bench --bench ingest`. Target: far above the ~50–1 000 events/s a run produces,
//! so ingest is never why a frame is late.

use std::hint::black_box;
use std::time::Instant;

use connscope::event::{CapacityConn, ErrorClass, Event, EventBody, Step};
use connscope::state::State;
use connscope::state::fixtures::{
    failed_attempt, failure, http, ok_attempt, staging_config, t, tcp_timeout, ws,
};

fn mixed(n: u64) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let body = match i % 20 {
                0 => tcp_timeout(i),
                1 => failed_attempt(
                    i,
                    40.0,
                    Default::default(),
                    failure(
                        ErrorClass::TooManyConnections,
                        Step::Handshake,
                        Some("53300"),
                        "sorry, too many clients already",
                    ),
                ),
                2 => http("backend", "/health", 200, 45.0, "{\"status\":\"ok\"}"),
                3 => http("api", "/health/database", 503, 20.0, "database unavailable"),
                4 => ws(i % 40 == 4),
                5..=7 => EventBody::CapacityConn(CapacityConn {
                    run: 1,
                    index: (i % 35) as u32 + 1,
                    ok: true,
                    connect_ms: 12.0,
                    error: None,
                }),
                _ => ok_attempt(i, 0.1, 0.2 + (i % 7) as f64, 6.0 + (i % 13) as f64, 0.5),
            };
            Event::at(t(i as f64 * 0.02), body)
        })
        .collect()
}

/// Resident memory from /proc (Linux); 0 elsewhere.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    const BATCH: u64 = 200_000;
    let events = mixed(BATCH);
    let mut state = State::new(staging_config());
    // Warm-up: fill the rings and histograms to their steady size.
    for e in &events {
        state.apply(black_box(e));
    }
    let mut best = f64::MAX;
    let mut rss = Vec::new();
    for round in 0..5 {
        let t0 = Instant::now();
        for e in &events {
            state.apply(black_box(e));
        }
        best = best.min(t0.elapsed().as_secs_f64());
        rss.push((round, state.events, rss_kib()));
    }
    let per_s = BATCH as f64 / best;
    println!(
        "ingest: {:.0} events/s ({:.2} µs/event, best of 5 rounds of {BATCH})",
        per_s,
        best / BATCH as f64 * 1e6
    );
    for (round, n, kib) in &rss {
        println!("  after {n:>9} events (round {round}): RSS {kib} KiB");
    }
    let (first, last) = (rss[0].2, rss[rss.len() - 1].2);
    println!(
        "  memory growth over the last {} events: {} KiB",
        BATCH * 4,
        last.saturating_sub(first)
    );
    println!(
        "  kept: {} attempts, {} log lines, {} recent samples; counted: {} attempts, {} events",
        state.db.attempts.len(),
        state.log.entries().len(),
        state.db.series.recent().len(),
        state.db.series.count(),
        state.events,
    );
}
