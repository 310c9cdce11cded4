//! Numbers derived from the state that several panels show: computed once when the drawn
//! state changes, not once per panel per frame. Percentiles walk the HdrHistogram's buckets
//! and the verdict formats every reason, which together cost more than drawing the frame.

use crate::state::State;
use crate::state::diagnosis::{Finding, diagnose};
use crate::state::stats::Summary;
use crate::state::verdict::{Judgement, TargetCheck, judge, targets};

#[derive(Debug, Clone)]
pub struct Derived {
    /// Events in the state this was computed from; `draw` checks it in debug builds.
    pub events: u64,
    pub summary: Summary,
    pub judgement: Judgement,
    pub targets: Vec<TargetCheck>,
    pub findings: Vec<Finding>,
}

impl Derived {
    pub fn of(state: &State) -> Self {
        Self {
            events: state.events,
            summary: state.db.summary(),
            judgement: judge(state),
            targets: targets(state),
            findings: diagnose(state),
        }
    }
}
