//! Outputs rendered from `&State` — the same for `check`, `report` and the recording of a run.

pub mod context;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod text;

use crate::cli::Format;
use crate::state::State;

pub use context::Context;

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

/// The post-mortem report, pasteable as is.
pub fn to_markdown(s: &State, ctx: &Context) -> String {
    crate::secret::scrub(&markdown::render(s, &json::build(s), ctx)).into_owned()
}

/// JUnit XML with the outage plan's categories as suites.
pub fn to_junit(s: &State, ctx: &Context) -> String {
    crate::secret::scrub(&junit::render(s, &json::build(s), ctx)).into_owned()
}

/// Any format, for `check` and `report` alike.
pub fn render(format: Format, s: &State, ctx: &Context) -> String {
    match format {
        Format::Text => to_text(s),
        Format::Json => to_json(s),
        Format::Markdown => to_markdown(s, ctx),
        Format::Junit => to_junit(s, ctx),
    }
}
