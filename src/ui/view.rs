//! How the state is looked at, as opposed to what is known: focus, zoom, overlays, mask,
//! theme, scale, replay cursor. Everything a panel needs besides the `State`.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::judged::Judged;
use super::mask::Masker;
use super::options::{UiOptions, ViewMode};
use super::theme::{Palette, ThemeName};
use crate::state::State;
use crate::ui::feed::ReplayClock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Db,
    Alerts,
    Startup,
    Endpoints,
    Capacity,
}

impl Panel {
    /// Tab order: the left column top to bottom, then the right column.
    pub(crate) const ORDER: [Panel; 5] = [
        Panel::Db,
        Panel::Alerts,
        Panel::Startup,
        Panel::Endpoints,
        Panel::Capacity,
    ];

    fn index(self) -> usize {
        Self::ORDER.iter().position(|p| *p == self).unwrap_or(0)
    }

    pub fn next(self) -> Self {
        Self::ORDER[(self.index() + 1) % Self::ORDER.len()]
    }

    pub fn prev(self) -> Self {
        Self::ORDER[(self.index() + Self::ORDER.len() - 1) % Self::ORDER.len()]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Log,
    /// Waiting for `y` before starting a capacity test.
    ConfirmCapacity,
    /// Waiting for `y` before starting the pool probe.
    ConfirmPool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Top of the chart near p95; slower attempts drawn as ▲ marks at the top.
    Robust,
    /// Top of the chart at the slowest successful attempt.
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Warn,
}

#[derive(Debug, Clone)]
pub struct View {
    pub mode: ViewMode,
    pub theme: ThemeName,
    pub no_color: bool,
    pub palette: Palette,
    pub mask: bool,
    pub(crate) masker: Masker,
    pub focus: Panel,
    pub zoom: bool,
    pub overlay: Overlay,
    /// The drawn snapshot is frozen; `pending` events have arrived since.
    pub paused: bool,
    pub pending: u64,
    pub scale: Scale,
    /// Log overlay: lines scrolled up from the newest.
    pub(crate) log_scroll: usize,
    pub clock: Option<ReplayClock>,
    /// All feed senders are gone: what is drawn is final.
    pub(crate) feed_closed: bool,
    /// Wall-clock now for "elapsed" in live mode; `None` (tests, replay) uses event time.
    pub now: Option<DateTime<Utc>>,
    /// A one-line answer to the last key (e.g. "capacity test requested").
    pub status: Option<(Tone, String)>,
    /// Lab: the scenario last asked for, until the lab confirms it with an event.
    pub(crate) requested_scenario: Option<String>,
    /// Help overlay lines, from the keymap in force.
    pub help: Vec<(String, String, String)>,
    /// Summary, verdict, targets and findings of the drawn state.
    pub judged: Judged,
    /// Connections the next capacity test opens, when known.
    pub capacity_connections: Option<u32>,
    /// With vantage points attached: the one shown alone (`v`), or all side by side.
    pub vantage: Option<usize>,
    /// Connections the pool probe's pool may open (size + overflow), when there is a database.
    pub(crate) pool_connections: Option<u32>,
}

impl View {
    pub fn new(opts: &UiOptions, state: &State) -> Self {
        Self {
            mode: opts.mode.clone(),
            theme: opts.theme,
            no_color: opts.no_color,
            palette: Palette::new(opts.theme, opts.no_color),
            mask: opts.mask,
            masker: Masker::new(&state.cfg),
            focus: Panel::Db,
            zoom: false,
            overlay: Overlay::None,
            paused: false,
            pending: 0,
            scale: Scale::Robust,
            log_scroll: 0,
            clock: None,
            feed_closed: false,
            now: None,
            status: None,
            requested_scenario: None,
            help: Vec::new(),
            judged: Judged::of(state, None),
            capacity_connections: opts.capacity_connections,
            vantage: None,
            pool_connections: opts.pool_connections,
        }
    }

    /// Every state-derived string goes through here before it is drawn.
    pub fn text<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if self.mask {
            self.masker.apply(s)
        } else {
            Cow::Borrowed(s)
        }
    }

    pub(crate) fn set_theme(&mut self, t: ThemeName) {
        self.theme = t;
        self.palette = Palette::new(t, self.no_color);
    }

    pub(crate) fn focused(&self, p: Panel) -> bool {
        self.focus == p
    }
}
