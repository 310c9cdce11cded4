//! What the caller decides before the dashboard starts, and what the dashboard sends back.

use std::time::Duration;

use crate::config::Ui;
use crate::probe::Command;
use crate::ui::feed::ReplayCtl;

use super::theme::ThemeName;

/// Where the events come from; decides the markers in the header and which keys exist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ViewMode {
    /// Probes running now against real targets.
    #[default]
    Live,
    /// `connscope lab`: scenarios as `(name, description)`, switched with `1`–`N` / `s`.
    Lab { scenarios: Vec<(String, String)> },
    /// A recording played back; the caller owns the replay clock and answers `Outbound::Replay`.
    Replay,
}

impl ViewMode {
    pub(crate) fn is_replay(&self) -> bool {
        matches!(self, ViewMode::Replay)
    }

    pub fn scenarios(&self) -> &[(String, String)] {
        match self {
            ViewMode::Lab { scenarios } => scenarios,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UiOptions {
    pub theme: ThemeName,
    /// Start with the privacy mask on (hosts, users, database names and URLs hidden).
    pub mask: bool,
    /// Redraw period; also how often the elapsed clock moves in live mode.
    pub tick: Duration,
    /// No colours at all (the `NO_COLOR` convention); meaning stays in words and symbols.
    pub no_color: bool,
    pub mode: ViewMode,
    /// Connections a capacity test started from the keyboard opens (the request, within the
    /// safety cap unless forced); `None` when there is no database to test.
    pub capacity_connections: Option<u32>,
    /// The most the pool probe's pool opens (the headroom read when it starts may lower it);
    /// `None` when there is no database.
    pub pool_connections: Option<u32>,
}

impl Default for UiOptions {
    fn default() -> Self {
        Self {
            theme: ThemeName::Dark,
            mask: false,
            tick: Duration::from_millis(250),
            no_color: false,
            mode: ViewMode::Live,
            capacity_connections: None,
            pool_connections: None,
        }
    }
}

impl UiOptions {
    /// From the `[ui]` config table, honouring `NO_COLOR` from the process environment.
    /// An unknown theme name falls back to dark (config validation reports it separately).
    pub fn from_config(ui: &Ui, mode: ViewMode) -> Self {
        Self {
            theme: ThemeName::parse(&ui.theme).unwrap_or(ThemeName::Dark),
            mask: ui.mask,
            // A zero tick would spin the loop; 20 ms is faster than anyone reads.
            tick: ui.tick.max(Duration::from_millis(20)),
            no_color: no_color_env(std::env::var_os("NO_COLOR").as_deref()),
            mode,
            capacity_connections: None,
            pool_connections: None,
        }
    }
}

/// no-color.org: set and non-empty means no colour.
pub fn no_color_env(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

/// What the dashboard asks of the rest of the program. Sent with `try_send`: the UI never
/// waits on a full channel (it says so on screen instead).
#[derive(Debug, Clone, PartialEq)]
pub enum Outbound {
    Probe(Command),
    /// Lab: switch to this scenario by name.
    Scenario(String),
    Replay(ReplayCtl),
}
