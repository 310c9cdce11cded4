//! Outputs rendered from `&State` — the same for `check`, `report` and the recording of a run.

pub mod json;
pub mod text;

use crate::state::State;

/// Pretty JSON of the check result, secrets scrubbed.
pub fn to_json(s: &State) -> String {
    let r = json::build(s);
    let text =
        serde_json::to_string_pretty(&r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    crate::secret::scrub(&text).into_owned()
}

pub fn to_text(s: &State) -> String {
    crate::secret::scrub(&text::render(&json::build(s))).into_owned()
}
