//! The replay cursor without any waiting: where playback is, what to send for each control,
//! and how fast recording time passes. The driver (`super::drive`) adds the sleeping, so all
//! of this is testable without a clock.

use std::time::Duration;

use chrono::{DateTime, Utc};

use std::io::{BufRead, Seek};

use crate::event::Event;
use crate::record::{EventReader, Header, Recording, Span};
use crate::state::{State, StateConfig};
use crate::ui::feed::{Feed, ReplayClock};
use crate::units::secs_between;

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

/// Events in file order, and from the first again after `rewind`: a recording streamed from
/// its file (replay never holds every event), or one already in memory.
pub trait EventSource: Send {
    fn next_event(&mut self) -> Option<Event>;
    /// Back to the first event; false when that failed (the source then counts as ended).
    fn rewind(&mut self) -> bool;
}

impl<R: BufRead + Seek + Send> EventSource for EventReader<R> {
    fn next_event(&mut self) -> Option<Event> {
        self.next()
    }

    fn rewind(&mut self) -> bool {
        EventReader::rewind(self).is_ok()
    }
}

/// A recording already in memory (tests, tools).
struct InMemory {
    all: Vec<Event>,
    pos: usize,
}

impl EventSource for InMemory {
    fn next_event(&mut self) -> Option<Event> {
        let ev = self.all.get(self.pos).cloned();
        self.pos += 1;
        ev
    }

    fn rewind(&mut self) -> bool {
        self.pos = 0;
        true
    }
}

fn ended() -> Box<dyn EventSource> {
    Box::new(InMemory {
        all: Vec::new(),
        pos: 0,
    })
}

/// Index and cursor time of each event whose application raised an alert.
type Raises = Vec<(usize, DateTime<Utc>)>;

/// What the player plays: the events, where they start and end, and where alerts are raised —
/// learnt in one pass over the events before playing.
pub struct Timeline {
    cfg: StateConfig,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    raises: Raises,
    source: Box<dyn EventSource>,
}

impl Timeline {
    /// A recording streamed from its file; also the notes of the pass over it (damage found).
    pub(crate) fn from_reader<R: BufRead + Seek + Send + 'static>(
        header: &Header,
        mut reader: EventReader<R>,
    ) -> (Timeline, Vec<String>) {
        let (start, end, raises) = survey(&header.state, header.started_at, &mut reader);
        let notes = reader.notes();
        let mut source: Box<dyn EventSource> = Box::new(reader);
        if !source.rewind() {
            source = ended();
        }
        let timeline = Timeline {
            cfg: header.state.clone(),
            start,
            end,
            raises,
            source,
        };
        (timeline, notes)
    }
}

impl From<Recording> for Timeline {
    fn from(rec: Recording) -> Self {
        let mut source = InMemory {
            all: rec.events,
            pos: 0,
        };
        let (start, end, raises) = survey(&rec.header.state, rec.header.started_at, &mut source);
        source.rewind();
        Timeline {
            cfg: rec.header.state,
            start,
            end,
            raises,
            source: Box::new(source),
        }
    }
}

/// One pass: the start and end, and the events that raised an alert when applied to a scratch
/// state, with their cursor time (the running maximum of event times, from the start).
fn survey(
    cfg: &StateConfig,
    started_at: DateTime<Utc>,
    source: &mut dyn EventSource,
) -> (DateTime<Utc>, DateTime<Utc>, Raises) {
    let mut span = Span::new(started_at);
    let mut newest: Option<DateTime<Utc>> = None;
    let mut state = State::new(cfg.clone());
    let mut raises = Vec::new();
    let mut i = 0usize;
    while let Some(ev) = source.next_event() {
        span.see(ev.at);
        newest = Some(newest.map_or(ev.at, |n| n.max(ev.at)));
        let before: Vec<String> = state.alerts.active.iter().map(|a| a.rule.clone()).collect();
        state.apply(&ev);
        if state
            .alerts
            .active
            .iter()
            .any(|a| !before.contains(&a.rule))
        {
            raises.push((i, newest.unwrap_or(ev.at)));
        }
        i += 1;
    }
    // The start is known only now; no cursor time is before it.
    let start = span.start();
    for (_, t) in &mut raises {
        *t = (*t).max(start);
    }
    (start, span.end(), raises)
}

pub struct Player {
    source: Box<dyn EventSource>,
    /// The next event to send and its time on the cursor's axis: the running maximum of event
    /// times. Events are sent in file order (as they were applied live); where the file's
    /// times go backwards the cursor simply does not.
    next: Option<(Event, DateTime<Utc>)>,
    /// The running maximum of event times read so far.
    newest: DateTime<Utc>,
    raises: Raises,
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
    pub fn new(timeline: impl Into<Timeline>, speed: f64) -> Self {
        let t = timeline.into();
        let mut p = Self {
            source: t.source,
            next: None,
            newest: t.start,
            raises: t.raises,
            cfg: t.cfg,
            start: t.start,
            end: t.end,
            pos: 0,
            at: t.start,
            speed: clamp_speed(speed),
            paused: false,
            rate: 1.0,
        };
        p.fill();
        p.begin_gap();
        p
    }

    /// Reads the next event into `next`.
    fn fill(&mut self) {
        let ev = self.source.next_event();
        self.next = ev.map(|e| {
            self.newest = self.newest.max(e.at);
            (e, self.newest)
        });
    }

    fn next_time(&self) -> Option<DateTime<Utc>> {
        self.next.as_ref().map(|(_, t)| *t)
    }

    /// Sends the next event (if any) and reads the one after it.
    fn send_next(&mut self, out: &mut Vec<Feed>) {
        if let Some((ev, t)) = self.next.take() {
            out.push(Feed::Event(ev));
            self.at = self.at.max(t);
            self.pos += 1;
            self.fill();
        }
    }

    /// Back to the beginning: the dashboard's state reset, the source read from its start.
    fn restart(&mut self, out: &mut Vec<Feed>) {
        out.push(Feed::Reset(Box::new(self.cfg.clone())));
        if !self.source.rewind() {
            self.source = ended();
        }
        self.pos = 0;
        self.at = self.start;
        self.newest = self.start;
        self.fill();
    }

    fn at_end(&self) -> bool {
        self.next.is_none() && self.at >= self.end
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
        let next = self.next_time()?;
        let s = (secs_between(self.at, next) / self.rate).max(0.0);
        Some(Duration::try_from_secs_f64(s).unwrap_or(MAX_GAP))
    }

    /// The first items: any events due right at the start, then the clock.
    pub fn begin(&mut self, out: &mut Vec<Feed>) {
        self.move_to(self.start, out);
        out.push(self.clock());
    }

    /// Real time `real` has passed while playing: move the cursor, send what came due.
    pub(crate) fn advance(&mut self, real: Duration, out: &mut Vec<Feed>) {
        if self.paused {
            return;
        }
        let mut to = add_secs(self.at, real.as_secs_f64() * self.rate);
        // Float rounding must not leave the cursor a hair before an event it slept until.
        if let Some(next) = self.next_time()
            && secs_between(to, next) < 0.001
        {
            to = to.max(next);
        }
        self.move_to(to.min(self.end), out);
    }

    /// Sends every event due by `to` (forward only) and settles the cursor there.
    fn move_to(&mut self, to: DateTime<Utc>, out: &mut Vec<Feed>) {
        self.at = self.at.max(to);
        let before = self.pos;
        while self.next_time().is_some_and(|t| t <= self.at) {
            self.send_next(out);
        }
        if self.at_end() {
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
            .next_time()
            .map_or(0.0, |next| secs_between(self.at, next).max(0.0));
        self.rate = self.speed.max(gap / MAX_GAP.as_secs_f64());
    }

    fn seek_to(&mut self, target: DateTime<Utc>, out: &mut Vec<Feed>) {
        let target = target.clamp(self.start, self.end);
        if target < self.at {
            // Backwards: the state cannot un-apply, so start over and replay up to there.
            self.restart(out);
        }
        self.move_to(target, out);
        self.begin_gap();
    }

    pub fn toggle_pause(&mut self) {
        // At the end there is nothing left to play: it stays paused (seek or go to start).
        self.paused = !self.paused || self.at_end();
        self.begin_gap();
    }

    pub(crate) fn set_speed(&mut self, speed: f64) {
        self.speed = clamp_speed(speed);
        self.begin_gap();
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// One event forward; pauses first if playing, so a step is a step.
    pub fn step(&mut self, out: &mut Vec<Feed>) {
        self.paused = true;
        self.send_next(out);
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
        self.restart(out);
        self.move_to(self.start, out);
        self.begin_gap();
    }

    pub fn to_end(&mut self, out: &mut Vec<Feed>) {
        self.seek_to(self.end, out);
    }

    /// To the next moment an alert is raised (the event that raised it included). Nothing
    /// happens when no alert is raised after the cursor.
    pub fn next_alert(&mut self, out: &mut Vec<Feed>) {
        if let Some(&(_, t)) = self.raises.iter().find(|(i, _)| *i >= self.pos) {
            self.seek_to(t, out);
        }
    }
}
