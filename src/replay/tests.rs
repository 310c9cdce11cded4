//! The cursor on its own, no clock: what each control sends. The paced driver is tested in
//! tests/it/review.rs on tokio's paused clock.

use std::time::Duration;

use super::*;
use crate::event::{Event, EventBody};
use crate::feed::ReplayClock;
use crate::record::{FORMAT, Header, Recording, VERSION};
use crate::state::fixtures::{self, t};

fn recording() -> Recording {
    Recording {
        header: Header {
            format: FORMAT.into(),
            version: VERSION,
            connscope: "0.1.0".into(),
            command: "check".into(),
            started_at: t(0.0),
            environment: "staging".into(),
            config: serde_json::Value::Null,
            state: fixtures::staging_config(),
            backfill: None,
        },
        events: fixtures::outage()
            .into_iter()
            .map(|(at, b)| Event::at(t(at), b))
            .collect(),
        skipped: 0,
        notes: Vec::new(),
    }
}

fn events(out: &[Feed]) -> Vec<&Event> {
    out.iter()
        .filter_map(|f| match f {
            Feed::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn clock(p: &Player) -> ReplayClock {
    match p.clock() {
        Feed::Clock(c) => c,
        other => panic!("not a clock: {other:?}"),
    }
}

fn started() -> (Player, Vec<Feed>) {
    let mut p = Player::new(recording(), 1.0);
    let mut out = Vec::new();
    p.begin(&mut out);
    (p, out)
}

#[test]
fn it_begins_at_the_start_playing_with_the_events_due_there() {
    let (p, out) = started();
    assert_eq!(events(&out).len(), 1, "phase 1 started at +0");
    assert!(matches!(out.last(), Some(Feed::Clock(c)) if c.at == t(0.0) && !c.paused));
    let c = clock(&p);
    assert_eq!((c.start, c.end, c.speed), (t(0.0), t(185.0), 1.0));
}

#[test]
fn gaps_play_in_real_time_divided_by_speed_and_long_ones_are_capped() {
    let (mut p, mut out) = started();
    assert_eq!(p.until_next(), Some(Duration::from_millis(300)));
    p.set_speed(2.0);
    assert_eq!(p.until_next(), Some(Duration::from_millis(150)));
    p.advance(Duration::from_millis(150), &mut out);
    assert_eq!(clock(&p).at, t(0.3));
    out.clear();
    p.advance(Duration::from_millis(900), &mut out);
    assert_eq!(
        events(&out).len(),
        2,
        "phase 2 done and phase 3 started at +2.1 s"
    );
    // 2.1 → 37.0 is 34.9 s of recording: at 2× that is 17.45 s, capped to 5 s.
    assert_eq!(p.until_next(), Some(MAX_GAP));
}

#[test]
fn seeking_back_resets_then_replays_up_to_the_target() {
    let (mut p, _) = started();
    let mut out = Vec::new();
    p.to_end(&mut out);
    out.clear();
    p.seek(-100, &mut out);
    assert!(matches!(out.first(), Some(Feed::Reset(_))));
    let sent = events(&out);
    assert!(sent.iter().all(|e| e.at <= t(85.0)));
    assert_eq!(sent.len(), 13, "everything up to +85 s");
    assert_eq!(clock(&p).at, t(85.0));
    out.clear();
    p.seek(30, &mut out);
    assert!(
        !out.iter().any(|f| matches!(f, Feed::Reset(_))),
        "forward: no reset"
    );
    assert_eq!(events(&out).len(), 1, "the attempt at +111 s");
}

#[test]
fn next_alert_jumps_to_the_event_that_raised_it() {
    let (mut p, _) = started();
    let mut out = Vec::new();
    p.next_alert(&mut out);
    let sent = events(&out);
    let last = sent.last().expect("events sent");
    assert_eq!(last.at, t(37.0));
    assert!(matches!(last.body, EventBody::DbAttempt(_)));
    out.clear();
    p.next_alert(&mut out);
    assert!(
        out.is_empty(),
        "no alert is raised after the first: {out:?}"
    );
}

#[test]
fn step_pauses_and_sends_exactly_one_event() {
    let (mut p, _) = started();
    let mut out = Vec::new();
    p.step(&mut out);
    assert!(!p.playing());
    assert_eq!(out.len(), 1);
    assert_eq!(clock(&p).at, t(0.3));
    out.clear();
    p.advance(Duration::from_secs(60), &mut out);
    assert!(out.is_empty(), "paused: time does not move");
}

#[test]
fn the_end_pauses_and_stays_paused() {
    let (mut p, _) = started();
    let mut out = Vec::new();
    p.to_end(&mut out);
    assert_eq!(events(&out).len(), 15);
    let c = clock(&p);
    assert!(c.paused && c.at == c.end);
    p.toggle_pause();
    assert!(!p.playing(), "nothing left to play");
    out.clear();
    p.to_start(&mut out);
    assert!(matches!(out.first(), Some(Feed::Reset(_))));
    p.toggle_pause();
    assert!(p.playing());
}

#[test]
fn speed_stays_within_bounds() {
    let (mut p, _) = started();
    for _ in 0..20 {
        p.set_speed(p.speed() * 2.0);
    }
    assert_eq!(p.speed(), MAX_SPEED);
    for _ in 0..20 {
        p.set_speed(p.speed() / 2.0);
    }
    assert_eq!(p.speed(), MIN_SPEED);
    assert_eq!(clamp_speed(f64::NAN), 1.0);
}

#[test]
fn an_empty_recording_starts_paused_at_its_end() {
    let mut rec = recording();
    rec.events.clear();
    let mut p = Player::new(rec, 1.0);
    let mut out = Vec::new();
    p.begin(&mut out);
    let c = clock(&p);
    assert!(c.paused && c.at == c.start && c.start == c.end);
    assert_eq!(p.until_next(), None);
}

#[test]
fn extreme_seeks_go_to_the_edges_without_panicking() {
    let (mut p, _) = started();
    let mut out = Vec::new();
    p.seek(i64::MAX, &mut out);
    assert_eq!(clock(&p).at, t(185.0));
    p.seek(i64::MIN, &mut out);
    assert_eq!(clock(&p).at, t(0.0));
}
