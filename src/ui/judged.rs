//! The judge's result for the drawn state, computed once when the drawn state changes or
//! the clock moves — not once per panel per frame. Panels read it and never judge.

use chrono::{DateTime, Utc};

use crate::state::{Judgement, State};

#[derive(Debug, Clone)]
pub struct Judged {
    /// Events in the state this was computed from; `draw` checks it in debug builds.
    pub events: u64,
    /// The clock it was judged at (`View::now`; `None`: the state's newest event).
    pub now: Option<DateTime<Utc>>,
    pub judgement: Judgement,
}

impl Judged {
    pub fn of(state: &State, now: Option<DateTime<Utc>>) -> Self {
        Self {
            events: state.events,
            now,
            judgement: state.judge(now),
        }
    }
}
