//! What the dashboard consumes. Live runs send only `Event`s; a replay also moves the clock
//! and, to seek backwards, starts the state over.

use chrono::{DateTime, Utc};

use crate::event::Event;
use crate::state::StateConfig;

// Nearly every item is an event; boxing them would cost an allocation each for a rare Reset.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Feed {
    Event(Event),
    /// Start from an empty state with this configuration (replay seeking backwards).
    Reset(Box<StateConfig>),
    /// Where a replay's cursor is in the recording.
    Clock(ReplayClock),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayClock {
    pub at: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub speed: f64,
    pub paused: bool,
}

/// Replay controls from the keyboard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReplayCtl {
    TogglePause,
    Faster,
    Slower,
    /// One event forward while paused.
    Step,
    /// Jump by this many seconds (negative: back).
    Seek(i64),
    ToStart,
    ToEnd,
    NextAlert,
}
