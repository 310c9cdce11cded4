//! Outputs rendered from the report model (`model::Report`), built once from the state and
//! its judgement — the same for `check`, `report` and the recording of a run.

pub mod charts;
pub(crate) mod context;
pub(crate) mod html;
pub(crate) mod junit;
pub(crate) mod markdown;
pub(crate) mod model;
pub(crate) mod series;
pub(crate) mod svg;
pub(crate) mod text;

use crate::cli::Format;
use crate::state::State;

pub use context::Context;
pub use model::Report;

impl Report {
    /// The model of `s` judged by its own clock (the newest event): what `report` of a
    /// recording says, and what tests compare against.
    pub fn of(s: &State) -> Report {
        Report::build(s, s.judge(None))
    }
}

/// Pretty JSON of the result, secrets scrubbed.
pub(crate) fn to_json(r: &Report) -> String {
    let text = serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    crate::secret::scrub(&text).into_owned()
}

pub(crate) fn to_text(r: &Report) -> String {
    crate::secret::scrub(&text::render(r)).into_owned()
}

/// The post-mortem report, pasteable as is.
pub(crate) fn to_markdown(r: &Report, ctx: &Context) -> String {
    crate::secret::scrub(&markdown::render(r, ctx)).into_owned()
}

/// JUnit XML with the outage plan's categories as suites.
pub(crate) fn to_junit(r: &Report, ctx: &Context) -> String {
    crate::secret::scrub(&junit::render(r, ctx)).into_owned()
}

/// One self-contained HTML file with the charts; every string masked and escaped, the whole
/// scrubbed once more.
pub fn to_html(r: &Report, ctx: &Context) -> String {
    crate::secret::scrub(&html::render(r, ctx)).into_owned()
}

/// Any format, for `check` and `report` alike.
pub fn render(format: Format, r: &Report, ctx: &Context) -> String {
    match format {
        Format::Text => to_text(r),
        Format::Json => to_json(r),
        Format::Markdown => to_markdown(r, ctx),
        Format::Junit => to_junit(r, ctx),
        Format::Html => to_html(r, ctx),
    }
}
