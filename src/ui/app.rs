//! The dashboard's model: the live state, the frozen snapshot while paused, and the view.
//! No terminal and no clock here, so every key and every feed item can be tested directly.

use std::time::{Duration, Instant};

use crossterm::event::KeyEvent;

use chrono::SubsecRound;

use super::judged::Judged;
use super::keys::{Action, Keymap, Layer};
use super::mask::Masker;
use super::options::{Outbound, UiOptions, ViewMode};
use super::view::{Overlay, Scale, Tone, View};
use crate::probe::Command;
use crate::state::State;
use crate::ui::feed::{Feed, ReplayCtl};

/// What a key press asks of the loop.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Reaction {
    pub quit: bool,
    pub out: Vec<Outbound>,
    /// Something visible changed.
    pub redraw: bool,
}

impl Reaction {
    fn redraw() -> Self {
        Self {
            redraw: true,
            ..Self::default()
        }
    }

    fn send(o: Outbound) -> Self {
        Self {
            out: vec![o],
            redraw: true,
            quit: false,
        }
    }
}

/// How long the answer to a key stays in the footer: long enough to read, short enough that
/// "switching to scenario healthy" is not still there when the next thing happens.
pub(crate) const STATUS_TTL: Duration = Duration::from_secs(4);

/// Environments where a capacity test or a pool probe needs a `y` first: anything the header shows as
/// production (`production`, `prod`, `prod-eu`, …).
pub(crate) fn needs_confirmation(environment: &str) -> bool {
    environment.to_ascii_lowercase().contains("prod")
}

pub struct App {
    live: State,
    frozen: Option<State>,
    pub view: View,
    keymap: Keymap,
    /// The drawn state changed since `view.judged` was computed.
    stale: bool,
    /// When the status line's current text was first seen by `expire_status`.
    status_since: Option<Instant>,
}

impl App {
    pub fn new(opts: &UiOptions, state: State) -> Self {
        let keymap = Keymap::default_for(&opts.mode);
        let mut view = View::new(opts, &state);
        view.help = keymap
            .help()
            .into_iter()
            .map(|(s, k, h)| (s.title().to_string(), k, h.to_string()))
            .collect();
        // The lab's scenarios by number, so nobody has to guess what `3` does.
        for (i, (name, desc)) in opts.mode.scenarios().iter().enumerate().take(9) {
            view.help.push((
                "Lab scenarios".into(),
                (i + 1).to_string(),
                format!("{name} — {desc}"),
            ));
        }
        Self {
            live: state,
            frozen: None,
            view,
            keymap,
            stale: false,
            status_since: None,
        }
    }

    /// Clears the status line once it has been shown for `STATUS_TTL`; true when it did.
    /// Called on every tick (which redraws anyway): a status is timed from the first tick
    /// that sees it, so it may stay up to one tick longer.
    pub(crate) fn expire_status(&mut self, now: Instant) -> bool {
        if self.view.status.is_none() {
            self.status_since = None;
            return false;
        }
        match self.status_since {
            None => {
                self.status_since = Some(now);
                false
            }
            Some(since) if now.saturating_duration_since(since) >= STATUS_TTL => {
                self.view.status = None;
                self.status_since = None;
                true
            }
            Some(_) => false,
        }
    }

    /// Sets the status line (for answers the loop gives itself, e.g. a full command channel).
    pub fn say(&mut self, tone: Tone, text: impl Into<String>) {
        self.view.status = Some((tone, text.into()));
        self.status_since = None;
    }

    /// The state to draw: the frozen snapshot while paused, else the live one.
    pub fn state(&self) -> &State {
        self.frozen.as_ref().unwrap_or(&self.live)
    }

    pub fn live(&self) -> &State {
        &self.live
    }

    /// What to draw: the state and a view whose judgement describes it. Recomputed at
    /// most once per frame, however many events arrived since the last one.
    pub fn frame_parts(&mut self) -> (&State, &View) {
        // The judge ages running phases and "starting" answers with the clock: a new
        // second is a new judgement even without events.
        let now = self.view.now.map(|t| t.trunc_subsecs(0));
        if self.stale || self.view.judged.now != now {
            self.view.judged = Judged::of(self.frozen.as_ref().unwrap_or(&self.live), now);
            self.stale = false;
        }
        (self.frozen.as_ref().unwrap_or(&self.live), &self.view)
    }

    pub fn apply_feed(&mut self, item: Feed) {
        match item {
            Feed::Event(ev) => {
                self.live.apply(&ev);
                self.stale |= !self.view.paused;
                if self.view.paused {
                    self.view.pending += 1;
                }
                if let Some(lab) = &self.live.lab
                    && self.view.requested_scenario.as_deref() == Some(lab.name.as_str())
                {
                    self.view.requested_scenario = None;
                }
            }
            Feed::Reset(cfg) => {
                self.view.masker = Masker::new(&cfg);
                self.live = State::new(*cfg);
                self.stale |= !self.view.paused;
            }
            Feed::Clock(c) => self.view.clock = Some(c),
        }
    }

    fn layer(&self) -> Layer {
        match self.view.overlay {
            Overlay::ConfirmCapacity | Overlay::ConfirmPool => Layer::Confirm,
            Overlay::Log => Layer::Log,
            Overlay::None | Overlay::Help => Layer::Dashboard,
        }
    }

    pub(crate) fn on_key(&mut self, key: &KeyEvent) -> Reaction {
        match self.keymap.lookup(key, self.layer()) {
            Some(a) => self.act(a),
            // Any key that is not `y` cancels a pending confirmation.
            None if self.layer() == Layer::Confirm => self.act(Action::Close),
            None => Reaction::default(),
        }
    }

    pub(crate) fn act(&mut self, a: Action) -> Reaction {
        // Every key answers afresh: the old status goes, a new one is timed from now.
        self.view.status = None;
        self.status_since = None;
        match a {
            Action::Quit => Reaction {
                quit: true,
                ..Reaction::default()
            },
            Action::Help
            | Action::Log
            | Action::Close
            | Action::FocusNext
            | Action::FocusPrev
            | Action::Zoom
            | Action::Mask
            | Action::Theme
            | Action::Scale
            | Action::ScrollBottom => {
                look(&mut self.view, a);
                Reaction::redraw()
            }
            Action::TogglePause => {
                self.toggle_pause();
                Reaction::redraw()
            }
            Action::ScrollUp => self.scroll(1, true),
            Action::ScrollDown => self.scroll(1, false),
            Action::PageUp => self.scroll(10, true),
            Action::PageDown => self.scroll(10, false),
            Action::ScrollTop => self.scroll(usize::MAX / 2, true),
            Action::RunNow => self.probe(Command::RunNow, "running every probe now"),
            Action::CapacityTest => self.capacity(),
            Action::PoolProbe => self.pool(),
            Action::Confirm => self.confirm(),
            Action::Scenario(i) => self.scenario(usize::from(i)),
            Action::NextScenario => self.next_scenario(),
            Action::Replay(ctl) => self.replay(ctl),
            Action::Vantage => self.next_vantage(),
        }
    }

    /// `y` on a confirmation: start what it asked about.
    fn confirm(&mut self) -> Reaction {
        let was = std::mem::replace(&mut self.view.overlay, Overlay::None);
        if was == Overlay::ConfirmPool {
            self.probe(
                Command::StartPool { force: false },
                "pool probe requested (confirmed)",
            )
        } else {
            self.probe(
                Command::StartCapacity { force: false },
                "capacity test requested (confirmed)",
            )
        }
    }

    /// The scenario after the running one (or the one already asked for), wrapping round.
    fn next_scenario(&mut self) -> Reaction {
        let scenarios = self.view.mode.scenarios();
        let n = scenarios.len().max(1);
        let current = self
            .live
            .lab
            .as_ref()
            .map(|l| l.name.as_str())
            .or(self.view.requested_scenario.as_deref())
            .and_then(|name| scenarios.iter().position(|(s, _)| s == name));
        self.scenario(current.map_or(0, |c| (c + 1) % n))
    }

    /// All side by side → the first alone → … → the last alone → all again.
    fn next_vantage(&mut self) -> Reaction {
        let n = super::vantages::count(self.state());
        let v = &mut self.view;
        if self.live.vantages.is_empty() {
            v.status = Some((
                Tone::Info,
                "no remote vantage point: attach agents with --agent NAME=URL".into(),
            ));
            return Reaction::redraw();
        }
        v.vantage = match v.vantage {
            None => Some(0),
            Some(i) if i + 1 < n => Some(i + 1),
            Some(_) => None,
        };
        Reaction::redraw()
    }

    fn toggle_pause(&mut self) {
        self.stale = true;
        if self.frozen.take().is_some() {
            self.view.paused = false;
            self.view.pending = 0;
        } else {
            // One clone per pause: the snapshot holds what was on screen.
            self.frozen = Some(self.live.clone());
            self.view.paused = true;
            self.view.pending = 0;
        }
    }

    fn scroll(&mut self, by: usize, up: bool) -> Reaction {
        let max = self.state().log.entries().len().saturating_sub(1);
        let s = &mut self.view.log_scroll;
        *s = if up {
            s.saturating_add(by).min(max)
        } else {
            s.saturating_sub(by)
        };
        Reaction::redraw()
    }

    fn probe(&mut self, c: Command, said: &str) -> Reaction {
        self.view.status = Some((Tone::Info, said.into()));
        Reaction::send(Outbound::Probe(c))
    }

    fn capacity(&mut self) -> Reaction {
        if self.live.capacity.running() {
            self.view.status = Some((Tone::Warn, "a capacity test is already running".into()));
            return Reaction::redraw();
        }
        if needs_confirmation(&self.live.cfg.environment) {
            self.view.overlay = Overlay::ConfirmCapacity;
            return Reaction::redraw();
        }
        self.probe(
            Command::StartCapacity { force: false },
            "capacity test requested",
        )
    }

    /// `o`: stops the running pool probe, or starts one (asking first in production).
    fn pool(&mut self) -> Reaction {
        if self.live.pool.running() {
            return self.probe(Command::StopPool, "stopping the pool probe");
        }
        if needs_confirmation(&self.live.cfg.environment) {
            self.view.overlay = Overlay::ConfirmPool;
            return Reaction::redraw();
        }
        self.probe(Command::StartPool { force: false }, "pool probe requested")
    }

    fn scenario(&mut self, i: usize) -> Reaction {
        let ViewMode::Lab { scenarios } = &self.view.mode else {
            return Reaction::default();
        };
        match scenarios.get(i) {
            Some((name, _)) => {
                let name = name.clone();
                self.view.status = Some((Tone::Info, format!("switching to scenario {name}")));
                self.view.requested_scenario = Some(name.clone());
                Reaction::send(Outbound::Scenario(name))
            }
            None => {
                self.view.status = Some((
                    Tone::Warn,
                    format!("no scenario {} ({} available)", i + 1, scenarios.len()),
                ));
                Reaction::redraw()
            }
        }
    }

    fn replay(&mut self, ctl: ReplayCtl) -> Reaction {
        if !self.view.mode.is_replay() {
            return Reaction::default();
        }
        Reaction::send(Outbound::Replay(ctl))
    }
}

fn toggle(current: Overlay, want: Overlay) -> Overlay {
    if current == want { Overlay::None } else { want }
}

/// The actions that only change how the dashboard looks.
fn look(v: &mut View, a: Action) {
    match a {
        Action::Help => v.overlay = toggle(v.overlay, Overlay::Help),
        Action::Log => {
            v.overlay = toggle(v.overlay, Overlay::Log);
            v.log_scroll = 0;
        }
        Action::Close if v.overlay != Overlay::None => v.overlay = Overlay::None,
        Action::Close => v.zoom = false,
        Action::FocusNext => v.focus = v.focus.next(),
        Action::FocusPrev => v.focus = v.focus.prev(),
        Action::Zoom => v.zoom = !v.zoom,
        Action::Mask => v.mask = !v.mask,
        Action::Theme => v.set_theme(v.theme.next()),
        Action::Scale => {
            v.scale = match v.scale {
                Scale::Robust => Scale::Full,
                Scale::Full => Scale::Robust,
            }
        }
        Action::ScrollBottom => v.log_scroll = 0,
        // `App::act` routes only the actions above here.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, EventBody, LabScenario};
    use crate::state::fixtures::{self, build, healthy, outage, staging_config, t};
    use crossterm::event::{KeyCode, KeyModifiers};

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn app(mode: ViewMode) -> App {
        let opts = UiOptions {
            mode,
            ..UiOptions::default()
        };
        App::new(&opts, build(staging_config(), &healthy()))
    }

    #[test]
    fn pause_freezes_the_drawn_state_while_events_still_apply() {
        let mut a = app(ViewMode::Live);
        let before = a.state().events;
        a.on_key(&key('p'));
        for (at, body) in outage() {
            a.apply_feed(Feed::Event(Event::at(t(100.0 + at), body)));
        }
        assert_eq!(a.state().events, before, "view frozen");
        assert!(a.live().events > before, "state kept up to date");
        assert!(a.view.pending > 0);
        a.on_key(&key('p'));
        assert_eq!(a.state().events, a.live().events);
        assert!(!a.view.paused);
    }

    #[test]
    fn pause_sends_nothing_to_the_probes() {
        let mut a = app(ViewMode::Live);
        assert!(a.on_key(&key('p')).out.is_empty());
    }

    #[test]
    fn capacity_goes_straight_out_in_staging() {
        let mut a = app(ViewMode::Live);
        let r = a.on_key(&key('c'));
        assert_eq!(
            r.out,
            vec![Outbound::Probe(Command::StartCapacity { force: false })]
        );
    }

    #[test]
    fn capacity_in_production_waits_for_y() {
        let mut cfg = staging_config();
        cfg.environment = "production".into();
        let mut a = App::new(&UiOptions::default(), build(cfg, &healthy()));
        assert!(a.on_key(&key('c')).out.is_empty());
        assert_eq!(a.view.overlay, Overlay::ConfirmCapacity);
        assert!(a.on_key(&key('x')).out.is_empty(), "any other key cancels");
        assert_eq!(a.view.overlay, Overlay::None);
        a.on_key(&key('c'));
        let r = a.on_key(&key('y'));
        assert_eq!(
            r.out,
            vec![Outbound::Probe(Command::StartCapacity { force: false })]
        );
        assert_eq!(a.view.overlay, Overlay::None);
        assert!(!a.on_key(&key('q')).quit || a.view.overlay == Overlay::None);
    }

    #[test]
    fn o_starts_the_pool_probe_asks_in_production_and_stops_a_running_one() {
        let mut a = app(ViewMode::Live);
        let r = a.on_key(&key('o'));
        assert_eq!(
            r.out,
            vec![Outbound::Probe(Command::StartPool { force: false })]
        );
        let mut cfg = staging_config();
        cfg.environment = "production".into();
        let mut a = App::new(&UiOptions::default(), build(cfg, &healthy()));
        assert!(a.on_key(&key('o')).out.is_empty());
        assert_eq!(a.view.overlay, Overlay::ConfirmPool);
        assert!(a.on_key(&key('x')).out.is_empty(), "any other key cancels");
        assert_eq!(a.view.overlay, Overlay::None);
        a.on_key(&key('o'));
        assert_eq!(
            a.on_key(&key('y')).out,
            vec![Outbound::Probe(Command::StartPool { force: false })]
        );
        let mut ev = fixtures::pool_timeouts_beneath_capacity();
        ev.pop(); // drop PoolFinished: still running
        let mut a = App::new(&UiOptions::default(), build(staging_config(), &ev));
        assert_eq!(
            a.on_key(&key('o')).out,
            vec![Outbound::Probe(Command::StopPool)]
        );
    }

    #[test]
    fn no_second_capacity_test_while_one_runs() {
        let mut ev = fixtures::capacity_exhausted();
        ev.pop(); // drop CapacityFinished: still running
        let mut a = App::new(&UiOptions::default(), build(staging_config(), &ev));
        assert!(a.on_key(&key('c')).out.is_empty());
        assert!(a.view.status.is_some());
    }

    #[test]
    fn a_status_clears_after_a_few_seconds_and_a_new_one_is_timed_afresh() {
        let mut a = app(ViewMode::Live);
        a.on_key(&key('r'));
        let t0 = Instant::now();
        assert!(!a.expire_status(t0), "first seen: timed from here");
        assert!(!a.expire_status(t0 + STATUS_TTL - Duration::from_millis(1)));
        assert!(a.view.status.is_some());
        a.on_key(&key('r'));
        assert!(
            !a.expire_status(t0 + STATUS_TTL),
            "a new answer starts over"
        );
        assert!(a.view.status.is_some());
        assert!(
            a.expire_status(t0 + STATUS_TTL * 2),
            "gone, and a redraw is due"
        );
        assert_eq!(a.view.status, None);
        assert!(
            !a.expire_status(t0 + STATUS_TTL * 3),
            "nothing left to clear"
        );
    }

    #[test]
    fn run_now_and_quit() {
        let mut a = app(ViewMode::Live);
        assert_eq!(
            a.on_key(&key('r')).out,
            vec![Outbound::Probe(Command::RunNow)]
        );
        assert!(a.on_key(&key('q')).quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert!(a.on_key(&ctrl_c).quit);
    }

    #[test]
    fn lab_scenarios_by_number_and_cycle() {
        let scenarios = vec![
            ("healthy".to_string(), "all fine".to_string()),
            ("saturation".to_string(), "connector saturated".to_string()),
        ];
        let mut a = app(ViewMode::Lab { scenarios });
        assert_eq!(
            a.on_key(&key('2')).out,
            vec![Outbound::Scenario("saturation".into())]
        );
        assert!(a.on_key(&key('5')).out.is_empty(), "only two scenarios");
        a.apply_feed(Feed::Event(Event::at(
            t(20.0),
            EventBody::LabScenario(LabScenario {
                name: "saturation".into(),
                description: "connector saturated".into(),
            }),
        )));
        assert_eq!(a.view.requested_scenario, None, "the lab confirmed it");
        assert_eq!(
            a.on_key(&key('s')).out,
            vec![Outbound::Scenario("healthy".into())]
        );
    }

    #[test]
    fn replay_keys_go_to_the_replay_and_reset_starts_over() {
        let mut a = app(ViewMode::Replay);
        assert_eq!(
            a.on_key(&key(' ')).out,
            vec![Outbound::Replay(ReplayCtl::TogglePause)]
        );
        let left = KeyEvent::new(KeyCode::Left, KeyModifiers::NONE);
        assert_eq!(
            a.on_key(&left).out,
            vec![Outbound::Replay(ReplayCtl::Seek(-60))]
        );
        assert!(a.on_key(&key('c')).out.is_empty(), "no probes in a replay");
        a.apply_feed(Feed::Reset(Box::new(staging_config())));
        assert_eq!(a.state().events, 0);
    }

    #[test]
    fn overlays_and_zoom_close_with_esc() {
        let mut a = app(ViewMode::Live);
        let esc = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
        let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
        a.on_key(&enter);
        a.on_key(&key('l'));
        assert_eq!(a.view.overlay, Overlay::Log);
        a.on_key(&esc);
        assert_eq!(a.view.overlay, Overlay::None);
        assert!(a.view.zoom);
        a.on_key(&esc);
        assert!(!a.view.zoom);
    }
}
