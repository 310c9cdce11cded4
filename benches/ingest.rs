//! Event ingest: how many events a second `State::apply` takes, alerts and diagnosis included,
//! and whether the state stays the same size however long a run goes on.
//!
//! The mix is what a busy `watch` sends: database attempts (9 in 10 healthy, 1 in 10 a TCP
//! timeout or 53300 that fires and clears alerts), endpoint checks, WebSocket checks and a
//! capacity test per round (started, its per-connection events, finished). Every `apply` runs
//! the alert rules, so this is the real per-event cost, not a histogram insert.
//!
//! Honest input: time moves forward across rounds (20 ms an event, so each round is over an
//! hour of events and age-based eviction runs all the time), attempt numbers never repeat, and
//! every event is one the state uses — the bench checks after each round that each attempt and
//! capacity connection was counted, and stops with an error if not.
//!
//! Run: `cargo bench --bench ingest`. The figure quoted is the median of all rounds. Target:
//! far above the ~50–1 000 events/s a run produces, so ingest is never why a frame is late.

use std::hint::black_box;
use std::time::Instant;

use connscope::event::{
    CapacityConn, CapacityFinished, CapacityStarted, ErrorClass, Event, EventBody, Step,
};
use connscope::state::State;
use connscope::state::fixtures::{
    failed_attempt, failure, http, ok_attempt, staging_config, t, tcp_timeout, ws,
};

const BATCH: u64 = 200_000;
const ROUNDS: u64 = 7;
/// Seconds between events: a busy watch.
const STEP_S: f64 = 0.02;

/// What one round feeds, and what it must leave counted.
struct Round {
    events: Vec<Event>,
    attempts: u64,
    capacity_conns: u32,
}

/// Round `r`'s events: a capacity test (run `r + 1`) around the mix, times and attempt
/// numbers after the previous round's.
fn round(r: u64) -> Round {
    let first = r * BATCH;
    let at = |i: u64| t(i as f64 * STEP_S);
    let run = r + 1;
    let mut events = vec![Event::at(at(first), started(run))];
    let (mut attempts, mut capacity_conns) = (0, 0);
    for i in first + 1..first + BATCH - 1 {
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
            5..=7 => {
                capacity_conns += 1;
                EventBody::CapacityConn(CapacityConn {
                    run,
                    index: capacity_conns,
                    ok: true,
                    connect_ms: 12.0,
                    error: None,
                })
            }
            _ => ok_attempt(i, 0.1, 0.2 + (i % 7) as f64, 6.0 + (i % 13) as f64, 0.5),
        };
        attempts += u64::from(matches!(body, EventBody::DbAttempt(_)));
        events.push(Event::at(at(i), body));
    }
    events.push(Event::at(
        at(first + BATCH - 1),
        EventBody::CapacityFinished(CapacityFinished {
            run,
            elapsed_ms: 1000.0,
            aborted: false,
            reason: None,
        }),
    ));
    Round {
        events,
        attempts,
        capacity_conns,
    }
}

fn started(run: u64) -> EventBody {
    EventBody::CapacityStarted(CapacityStarted {
        run,
        requested: 35,
        planned: 35,
        cap: 35,
        capped: false,
        forced: true,
        hold_ms: 1000.0,
        server_max_connections: None,
        server_connections_in_use: None,
        server_reserved_connections: None,
        headroom: None,
    })
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

/// Every event of the round was applied: its attempts and capacity connections are counted,
/// the window kept only recent attempts. Otherwise the figure would measure dropped events.
fn check_applied(state: &State, r: &Round, attempts_before: u64) -> Result<(), String> {
    let counted = state.db.series.count() - attempts_before;
    if counted != r.attempts {
        return Err(format!("{counted} of {} attempts counted", r.attempts));
    }
    let conns = state.capacity.last.as_ref().map_or(0, |c| c.attempted);
    if conns != r.capacity_conns {
        return Err(format!(
            "{conns} of {} capacity connections counted",
            r.capacity_conns
        ));
    }
    let kept = &state.db.attempts;
    let (Some((oldest, _)), Some((newest, _))) = (kept.iter().next(), kept.iter().last()) else {
        return Err("no attempt kept".into());
    };
    let span = *newest - *oldest;
    if span > chrono::Duration::from_std(state.cfg.history.window).unwrap_or(chrono::TimeDelta::MAX)
    {
        return Err(format!("attempts kept over {span}: eviction did not run"));
    }
    Ok(())
}

fn main() {
    let mut state = State::new(staging_config());
    // Warm-up: fill the rings and histograms to their steady size.
    let warm = round(0);
    for e in &warm.events {
        state.apply(black_box(e));
    }
    let mut secs = Vec::new();
    let mut rss = Vec::new();
    for r in 1..=ROUNDS {
        let input = round(r);
        let before = state.db.series.count();
        let t0 = Instant::now();
        for e in &input.events {
            state.apply(black_box(e));
        }
        secs.push(t0.elapsed().as_secs_f64());
        if let Err(e) = check_applied(&state, &input, before) {
            eprintln!("round {r}: {e} — the figure would not be ingest");
            std::process::exit(1);
        }
        rss.push((r, state.events, rss_kib()));
    }
    let mut sorted = secs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let n = BATCH as f64;
    println!(
        "ingest: {:.0} events/s ({:.2} µs/event), median of {ROUNDS} rounds of {BATCH} (rounds {:.0}–{:.0} events/s)",
        n / median,
        median / n * 1e6,
        n / sorted[sorted.len() - 1],
        n / sorted[0],
    );
    for (round, n, kib) in &rss {
        println!("  after {n:>9} events (round {round}): RSS {kib} KiB");
    }
    let (first, last) = (rss[0].2, rss[rss.len() - 1].2);
    println!(
        "  memory growth over the last {} events: {} KiB",
        BATCH * (ROUNDS - 1),
        last.saturating_sub(first)
    );
    println!(
        "  kept: {} attempts, {} log lines, {} recent samples; counted: {} attempts, {} events; every event applied",
        state.db.attempts.len(),
        state.log.entries().len(),
        state.db.series.recent().len(),
        state.db.series.count(),
        state.events,
    );
}
