//! The replay cursor without any waiting: where playback is, what to send for each control,
//! and how fast recording time passes. The driver (`super::drive`) adds the sleeping, so all
//! of this is testable without a clock.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::units::secs_between;

use crate::event::Event;
use crate::feed::{Feed, ReplayClock};
use crate::record::Recording;
use crate::state::{State, StateConfig};

pub const MIN_SPEED: f64 = 0.25;
pub const MAX_SPEED: f64 = 64.0;
/// The longest real time one quiet stretch between two events may take to play. A recording
/// of a long watch can have an hour between events; review should not sit through it.
pub const MAX_GAP: Duration = Duration::from_secs(5);

pub fn clamp_speed(speed: f64) -> f64 {
    if speed.is_finite() {
        speed.clamp(MIN_SPEED, MAX_SPEED)
    } else {
        1.0
    }
}

pub struct Player {
    events: Vec<Event>,
    /// The running maximum of event times. Events are sent in file order (as they were
    /// applied live); where the file's times go backwards the cursor simply does not.
    times: Vec<DateTime<Utc>>,
    /// Indices of the events whose application raised an alert.
    raises: Vec<usize>,
    cfg: StateConfig,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// Events already sent.
    pos: usize,
    at: DateTime<Utc>,
    speed: f64,
    paused: bool,
    /// Recording seconds per real second for the current quiet stretch: the speed, or more
    /// when the stretch would otherwise take longer than `MAX_GAP`.
    rate: f64,
}

fn add_secs(t: DateTime<Utc>, s: f64) -> DateTime<Utc> {
    let us = (s * 1e6).clamp(-9e15, 9e15) as i64;
    t.checked_add_signed(chrono::Duration::microseconds(us))
        .unwrap_or(t)
}

impl Player {
    pub fn new(rec: Recording, speed: f64) -> Self {
        let (start, end) = (rec.start(), rec.end());
        let mut newest = start;
        let times = rec
            .events
            .iter()
            .map(|e| {
                newest = newest.max(e.at);
                newest
            })
            .collect();
        let raises = alert_raises(&rec.header.state, &rec.events);
        let mut p = Self {
            events: rec.events,
            times,
            raises,
            cfg: rec.header.state,
            start,
            end,
            pos: 0,
            at: start,
            speed: clamp_speed(speed),
            paused: false,
            rate: 1.0,
        };
        p.begin_gap();
        p
    }

    pub fn clock(&self) -> Feed {
        Feed::Clock(ReplayClock {
            at: self.at,
            start: self.start,
            end: self.end,
            speed: self.speed,
            paused: self.paused,
        })
    }

    pub fn playing(&self) -> bool {
        !self.paused
    }

    /// Real time until the next event is due at the current rate (`None` when none is left).
    pub fn until_next(&self) -> Option<Duration> {
        let next = *self.times.get(self.pos)?;
        let s = (secs_between(self.at, next) / self.rate).max(0.0);
        Some(Duration::try_from_secs_f64(s).unwrap_or(MAX_GAP))
    }

    /// The first items: any events due right at the start, then the clock.
    pub fn begin(&mut self, out: &mut Vec<Feed>) {
        self.move_to(self.start, out);
        out.push(self.clock());
    }

    /// Real time `real` has passed while playing: move the cursor, send what came due.
    pub fn advance(&mut self, real: Duration, out: &mut Vec<Feed>) {
        if self.paused {
            return;
        }
        let mut to = add_secs(self.at, real.as_secs_f64() * self.rate);
        // Float rounding must not leave the cursor a hair before an event it slept until.
        if let Some(next) = self.times.get(self.pos)
            && secs_between(to, *next) < 0.001
        {
            to = to.max(*next);
        }
        self.move_to(to.min(self.end), out);
    }

    /// Sends every event due by `to` (forward only) and settles the cursor there.
    fn move_to(&mut self, to: DateTime<Utc>, out: &mut Vec<Feed>) {
        self.at = self.at.max(to);
        let before = self.pos;
        while self.times.get(self.pos).is_some_and(|t| *t <= self.at) {
            out.push(Feed::Event(self.events[self.pos].clone()));
            self.pos += 1;
        }
        if self.pos == self.events.len() && self.at >= self.end {
            // The end: stay there, paused, showing the final state.
            self.paused = true;
        }
        if self.pos != before {
            self.begin_gap();
        }
    }

    /// The rate for the stretch from here to the next event (see `MAX_GAP`).
    fn begin_gap(&mut self) {
        let gap = self
            .times
            .get(self.pos)
            .map_or(0.0, |next| secs_between(self.at, *next).max(0.0));
        self.rate = self.speed.max(gap / MAX_GAP.as_secs_f64());
    }

    fn seek_to(&mut self, target: DateTime<Utc>, out: &mut Vec<Feed>) {
        let target = target.clamp(self.start, self.end);
        if target < self.at {
            // Backwards: the state cannot un-apply, so start over and replay up to there.
            out.push(Feed::Reset(Box::new(self.cfg.clone())));
            self.pos = 0;
            self.at = self.start;
        }
        self.move_to(target, out);
        self.begin_gap();
    }

    pub fn toggle_pause(&mut self) {
        // At the end there is nothing left to play: it stays paused (seek or go to start).
        let at_end = self.pos == self.events.len() && self.at >= self.end;
        self.paused = !self.paused || at_end;
        self.begin_gap();
    }

    pub fn set_speed(&mut self, speed: f64) {
        self.speed = clamp_speed(speed);
        self.begin_gap();
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// One event forward; pauses first if playing, so a step is a step.
    pub fn step(&mut self, out: &mut Vec<Feed>) {
        self.paused = true;
        let Some(ev) = self.events.get(self.pos) else {
            return;
        };
        out.push(Feed::Event(ev.clone()));
        self.at = self.at.max(self.times[self.pos]);
        self.pos += 1;
        self.begin_gap();
    }

    pub fn seek(&mut self, by_secs: i64, out: &mut Vec<Feed>) {
        // Any i64 may arrive; one too large for a time span is "all the way".
        let target = chrono::Duration::try_seconds(by_secs)
            .and_then(|d| self.at.checked_add_signed(d))
            .unwrap_or(if by_secs < 0 { self.start } else { self.end });
        self.seek_to(target, out);
    }

    pub fn to_start(&mut self, out: &mut Vec<Feed>) {
        out.push(Feed::Reset(Box::new(self.cfg.clone())));
        self.pos = 0;
        self.at = self.start;
        self.move_to(self.start, out);
        self.begin_gap();
    }

    pub fn to_end(&mut self, out: &mut Vec<Feed>) {
        self.seek_to(self.end, out);
    }

    /// To the next moment an alert is raised (the event that raised it included). Nothing
    /// happens when no alert is raised after the cursor.
    pub fn next_alert(&mut self, out: &mut Vec<Feed>) {
        if let Some(&i) = self.raises.iter().find(|i| **i >= self.pos) {
            self.seek_to(self.times[i], out);
        }
    }
}

/// Applies the events to a scratch state once, noting which ones raised an alert.
fn alert_raises(cfg: &StateConfig, events: &[Event]) -> Vec<usize> {
    let mut state = State::new(cfg.clone());
    let mut out = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let before: Vec<String> = state.alerts.active.iter().map(|a| a.rule.clone()).collect();
        state.apply(ev);
        if state
            .alerts
            .active
            .iter()
            .any(|a| !before.contains(&a.rule))
        {
            out.push(i);
        }
    }
    out
}
