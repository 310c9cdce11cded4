//! Keys become `Action`s through a table, never through if/else chains: the help overlay is
//! generated from the same table, and a user keymap can later replace `Keymap::default_for`
//! without touching what the actions do.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::options::ViewMode;
use crate::ui::feed::ReplayCtl;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    Quit,
    Help,
    /// Freeze the drawn snapshot; events keep being applied behind it.
    TogglePause,
    CapacityTest,
    /// Start the pool probe, or stop the running one.
    PoolProbe,
    RunNow,
    FocusNext,
    FocusPrev,
    Zoom,
    Log,
    Mask,
    Theme,
    /// Latency chart: robust (p95-based) scale ⇄ full scale.
    Scale,
    /// Close the top overlay (or leave zoom).
    Close,
    Confirm,
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
    ScrollTop,
    ScrollBottom,
    /// Lab: switch to the n-th scenario (0-based).
    Scenario(u8),
    NextScenario,
    /// Vantage points: all side by side ⇄ one at a time, the next one.
    Vantage,
    Replay(ReplayCtl),
}

/// Where a binding applies. Overlay scopes are looked up first and shadow the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    /// Live and lab: there are probes to command.
    Probing,
    /// Live and lab: arrows that replay uses for seeking.
    Arrows,
    Lab,
    Replay,
    Log,
    Confirm,
}

impl Scope {
    pub fn title(self) -> &'static str {
        match self {
            Scope::Everywhere | Scope::Arrows => "Dashboard",
            Scope::Probing => "Probes",
            Scope::Lab => "Lab",
            Scope::Replay => "Replay",
            Scope::Log => "Event log (while open)",
            Scope::Confirm => "Confirmation",
        }
    }
}

/// What is on top of the dashboard, which decides the first scope to look in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Dashboard,
    Log,
    Confirm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub code: KeyCode,
    pub(crate) mods: KeyModifiers,
}

impl Key {
    pub(crate) const fn plain(code: KeyCode) -> Self {
        Self {
            code,
            mods: KeyModifiers::NONE,
        }
    }

    pub(crate) const fn ch(c: char) -> Self {
        Self::plain(KeyCode::Char(c))
    }

    pub(crate) const fn ctrl(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            mods: KeyModifiers::CONTROL,
        }
    }

    /// Shift is part of the character for printable keys (`?`, `+`, `Y`) and terminals
    /// disagree on whether they also report the modifier; drop it so both forms match.
    pub(crate) fn from_event(ev: &KeyEvent) -> Self {
        let mut mods = ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        if !matches!(ev.code, KeyCode::Char(_)) {
            mods |= ev.modifiers & KeyModifiers::SHIFT;
        }
        let code = match ev.code {
            // Some terminals send Shift+Tab as Tab with SHIFT.
            KeyCode::Tab if ev.modifiers.contains(KeyModifiers::SHIFT) => {
                mods -= KeyModifiers::SHIFT;
                KeyCode::BackTab
            }
            KeyCode::BackTab => {
                mods -= KeyModifiers::SHIFT;
                KeyCode::BackTab
            }
            c => c,
        };
        Self { code, mods }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) if self.mods.contains(KeyModifiers::CONTROL) => {
                write!(f, "{}", c.to_ascii_uppercase())
            }
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("S-Tab"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            other => write!(f, "{other:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Binding {
    pub key: Key,
    pub scope: Scope,
    pub(crate) action: Action,
    pub help: &'static str,
}

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

fn b(key: Key, scope: Scope, action: Action, help: &'static str) -> Binding {
    Binding {
        key,
        scope,
        action,
        help,
    }
}

/// Every default binding, for every mode; `Keymap::default_for` keeps those that apply.
fn defaults() -> Vec<Binding> {
    use Action as A;
    use KeyCode as K;
    use Scope as S;
    let mut v = vec![
        b(Key::ch('q'), S::Everywhere, A::Quit, "quit"),
        b(Key::ctrl('c'), S::Everywhere, A::Quit, "quit"),
        b(Key::ch('?'), S::Everywhere, A::Help, "this help"),
        b(
            Key::plain(K::Esc),
            S::Everywhere,
            A::Close,
            "close overlay / leave zoom",
        ),
        b(
            Key::ch('p'),
            S::Everywhere,
            A::TogglePause,
            "pause the view (probes go on)",
        ),
        b(
            Key::plain(K::Tab),
            S::Everywhere,
            A::FocusNext,
            "focus next panel",
        ),
        b(
            Key::plain(K::BackTab),
            S::Everywhere,
            A::FocusPrev,
            "focus previous panel",
        ),
        b(
            Key::plain(K::Down),
            S::Everywhere,
            A::FocusNext,
            "focus next panel",
        ),
        b(
            Key::plain(K::Up),
            S::Everywhere,
            A::FocusPrev,
            "focus previous panel",
        ),
        b(
            Key::plain(K::Right),
            S::Arrows,
            A::FocusNext,
            "focus next panel",
        ),
        b(
            Key::plain(K::Left),
            S::Arrows,
            A::FocusPrev,
            "focus previous panel",
        ),
        b(
            Key::plain(K::Enter),
            S::Everywhere,
            A::Zoom,
            "zoom the focused panel",
        ),
        b(Key::ch('l'), S::Everywhere, A::Log, "event log"),
        b(
            Key::ch('m'),
            S::Everywhere,
            A::Mask,
            "privacy mask (hosts, users, URLs)",
        ),
        b(
            Key::ch('t'),
            S::Everywhere,
            A::Theme,
            "theme: dark / light / high-contrast",
        ),
        b(
            Key::ch('z'),
            S::Everywhere,
            A::Scale,
            "latency scale: robust (p95) / full",
        ),
        b(
            Key::ch('v'),
            S::Everywhere,
            A::Vantage,
            "vantages: all side by side / one",
        ),
        b(
            Key::ch('c'),
            S::Probing,
            A::CapacityTest,
            "start a capacity test",
        ),
        b(
            Key::ch('o'),
            S::Probing,
            A::PoolProbe,
            "start / stop the pool probe",
        ),
        b(Key::ch('r'), S::Probing, A::RunNow, "run every probe now"),
        b(Key::ch('s'), S::Lab, A::NextScenario, "next lab scenario"),
        b(
            Key::ch(' '),
            S::Replay,
            A::Replay(ReplayCtl::TogglePause),
            "play / pause the replay",
        ),
        b(
            Key::ch('+'),
            S::Replay,
            A::Replay(ReplayCtl::Faster),
            "faster",
        ),
        b(
            Key::ch('='),
            S::Replay,
            A::Replay(ReplayCtl::Faster),
            "faster",
        ),
        b(
            Key::ch('-'),
            S::Replay,
            A::Replay(ReplayCtl::Slower),
            "slower",
        ),
        b(
            Key::ch('.'),
            S::Replay,
            A::Replay(ReplayCtl::Step),
            "one event forward",
        ),
        b(
            Key::plain(K::Left),
            S::Replay,
            A::Replay(ReplayCtl::Seek(-60)),
            "back 1 min",
        ),
        b(
            Key::plain(K::Right),
            S::Replay,
            A::Replay(ReplayCtl::Seek(60)),
            "forward 1 min",
        ),
        b(
            Key::plain(K::Home),
            S::Replay,
            A::Replay(ReplayCtl::ToStart),
            "to the start",
        ),
        b(
            Key::plain(K::End),
            S::Replay,
            A::Replay(ReplayCtl::ToEnd),
            "to the end",
        ),
        b(
            Key::ch('n'),
            S::Replay,
            A::Replay(ReplayCtl::NextAlert),
            "to the next alert",
        ),
        b(Key::plain(K::Up), S::Log, A::ScrollUp, "scroll up"),
        b(Key::ch('k'), S::Log, A::ScrollUp, "scroll up"),
        b(Key::plain(K::Down), S::Log, A::ScrollDown, "scroll down"),
        b(Key::ch('j'), S::Log, A::ScrollDown, "scroll down"),
        b(Key::plain(K::PageUp), S::Log, A::PageUp, "page up"),
        b(Key::plain(K::PageDown), S::Log, A::PageDown, "page down"),
        b(Key::plain(K::Home), S::Log, A::ScrollTop, "oldest"),
        b(Key::plain(K::End), S::Log, A::ScrollBottom, "newest"),
        b(Key::ch('y'), S::Confirm, A::Confirm, "confirm"),
        b(Key::ch('Y'), S::Confirm, A::Confirm, "confirm"),
        b(
            Key::ch('n'),
            S::Confirm,
            A::Close,
            "cancel (any other key too)",
        ),
        b(
            Key::plain(K::Esc),
            S::Confirm,
            A::Close,
            "cancel (any other key too)",
        ),
    ];
    for (i, c) in ('1'..='9').enumerate() {
        v.push(b(
            Key::ch(c),
            S::Lab,
            A::Scenario(i as u8),
            "switch to lab scenario",
        ));
    }
    v
}

impl Keymap {
    /// The default bindings that make sense in `mode` (no probe keys in a replay, no replay
    /// keys live), so the help overlay lists only keys that do something.
    pub fn default_for(mode: &ViewMode) -> Self {
        let keep = |s: Scope| match s {
            Scope::Everywhere | Scope::Log | Scope::Confirm => true,
            Scope::Probing | Scope::Arrows => !mode.is_replay(),
            Scope::Lab => matches!(mode, ViewMode::Lab { .. }),
            Scope::Replay => mode.is_replay(),
        };
        // A number key only for a scenario that exists: a lab with five lists `1–5`.
        let exists = |a: Action| match a {
            Action::Scenario(i) => usize::from(i) < mode.scenarios().len(),
            _ => true,
        };
        Self {
            bindings: defaults()
                .into_iter()
                .filter(|b| keep(b.scope) && exists(b.action))
                .collect(),
        }
    }

    fn find(&self, key: Key, scope: Scope) -> Option<Action> {
        self.bindings
            .iter()
            .find(|b| b.scope == scope && b.key == key)
            .map(|b| b.action)
    }

    /// The action for a key press; overlays shadow the dashboard, a confirmation shadows all.
    pub fn lookup(&self, ev: &KeyEvent, layer: Layer) -> Option<Action> {
        if !matches!(ev.kind, KeyEventKind::Press | KeyEventKind::Repeat) {
            return None;
        }
        let key = Key::from_event(ev);
        let order: &[Scope] = match layer {
            Layer::Confirm => &[Scope::Confirm],
            Layer::Log => &[
                Scope::Log,
                Scope::Replay,
                Scope::Lab,
                Scope::Probing,
                Scope::Arrows,
                Scope::Everywhere,
            ],
            Layer::Dashboard => &[
                Scope::Replay,
                Scope::Lab,
                Scope::Probing,
                Scope::Arrows,
                Scope::Everywhere,
            ],
        };
        order.iter().find_map(|s| self.find(key, *s))
    }

    /// `(keys, what they do)` grouped by scope for the help overlay; keys sharing a
    /// description are listed together (`q Ctrl-C`, runs of digits as `1–5`).
    pub fn help(&self) -> Vec<(Scope, String, &'static str)> {
        let mut out: Vec<(Scope, String, &'static str)> = Vec::new();
        for bnd in &self.bindings {
            let scope = match bnd.scope {
                Scope::Arrows => Scope::Everywhere,
                s => s,
            };
            match out
                .iter_mut()
                .find(|(s, _, h)| *s == scope && *h == bnd.help)
            {
                Some((_, keys, _)) => {
                    keys.push(' ');
                    keys.push_str(&bnd.key.to_string());
                }
                None => out.push((scope, bnd.key.to_string(), bnd.help)),
            }
        }
        let rank = |s: Scope| {
            [
                Scope::Everywhere,
                Scope::Probing,
                Scope::Lab,
                Scope::Replay,
                Scope::Log,
                Scope::Confirm,
            ]
            .iter()
            .position(|x| *x == s)
            .unwrap_or(usize::MAX)
        };
        out.sort_by_key(|(s, _, _)| rank(*s));
        for (_, keys, _) in &mut out {
            *keys = digit_runs(keys);
        }
        out
    }
}

/// `1 2 3 4 5` → `1–5`; anything else unchanged.
fn digit_runs(keys: &str) -> String {
    let digits: Vec<u32> = keys
        .split(' ')
        .filter_map(|k| (k.len() == 1).then(|| k.chars().next()?.to_digit(10))?)
        .collect();
    let n = keys.split(' ').count();
    let consecutive = digits.windows(2).all(|w| w[1] == w[0] + 1);
    match (digits.first(), digits.last()) {
        (Some(a), Some(b)) if n > 2 && digits.len() == n && consecutive => format!("{a}–{b}"),
        _ => keys.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn live() -> Keymap {
        Keymap::default_for(&ViewMode::Live)
    }

    fn lab_with(n: usize) -> ViewMode {
        ViewMode::Lab {
            scenarios: (0..n).map(|i| (format!("s{i}"), String::new())).collect(),
        }
    }

    #[test]
    fn dashboard_keys() {
        let k = live();
        let cases = [
            (KeyCode::Char('q'), Action::Quit),
            (KeyCode::Char('?'), Action::Help),
            (KeyCode::Char('p'), Action::TogglePause),
            (KeyCode::Char('c'), Action::CapacityTest),
            (KeyCode::Char('r'), Action::RunNow),
            (KeyCode::Tab, Action::FocusNext),
            (KeyCode::BackTab, Action::FocusPrev),
            (KeyCode::Right, Action::FocusNext),
            (KeyCode::Left, Action::FocusPrev),
            (KeyCode::Enter, Action::Zoom),
            (KeyCode::Char('l'), Action::Log),
            (KeyCode::Char('m'), Action::Mask),
            (KeyCode::Char('t'), Action::Theme),
            (KeyCode::Char('z'), Action::Scale),
            (KeyCode::Esc, Action::Close),
        ];
        for (code, want) in cases {
            assert_eq!(
                k.lookup(&press(code), Layer::Dashboard),
                Some(want),
                "{code:?}"
            );
        }
    }

    #[test]
    fn ctrl_c_quits_in_raw_mode() {
        let ev = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(live().lookup(&ev, Layer::Dashboard), Some(Action::Quit));
        assert_eq!(
            live().lookup(&press(KeyCode::Char('c')), Layer::Dashboard),
            Some(Action::CapacityTest)
        );
    }

    #[test]
    fn shifted_characters_match_with_or_without_the_modifier() {
        let k = live();
        let q = KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(k.lookup(&q, Layer::Dashboard), Some(Action::Help));
        let back = KeyEvent::new(KeyCode::Tab, KeyModifiers::SHIFT);
        assert_eq!(k.lookup(&back, Layer::Dashboard), Some(Action::FocusPrev));
    }

    #[test]
    fn releases_are_ignored() {
        let mut ev = press(KeyCode::Char('q'));
        ev.kind = KeyEventKind::Release;
        assert_eq!(live().lookup(&ev, Layer::Dashboard), None);
    }

    #[test]
    fn replay_keys_only_in_replay() {
        let r = Keymap::default_for(&ViewMode::Replay);
        let cases = [
            (KeyCode::Char(' '), ReplayCtl::TogglePause),
            (KeyCode::Char('+'), ReplayCtl::Faster),
            (KeyCode::Char('-'), ReplayCtl::Slower),
            (KeyCode::Char('.'), ReplayCtl::Step),
            (KeyCode::Left, ReplayCtl::Seek(-60)),
            (KeyCode::Right, ReplayCtl::Seek(60)),
            (KeyCode::Home, ReplayCtl::ToStart),
            (KeyCode::End, ReplayCtl::ToEnd),
            (KeyCode::Char('n'), ReplayCtl::NextAlert),
        ];
        for (code, want) in cases {
            assert_eq!(
                r.lookup(&press(code), Layer::Dashboard),
                Some(Action::Replay(want)),
                "{code:?}"
            );
            assert_ne!(
                live().lookup(&press(code), Layer::Dashboard),
                Some(Action::Replay(want))
            );
        }
        assert_eq!(
            r.lookup(&press(KeyCode::Char('c')), Layer::Dashboard),
            None,
            "no probes in a replay"
        );
        assert_eq!(
            r.lookup(&press(KeyCode::Up), Layer::Dashboard),
            Some(Action::FocusPrev)
        );
    }

    #[test]
    fn lab_number_keys_pick_scenarios() {
        let lab = Keymap::default_for(&lab_with(5));
        assert_eq!(
            lab.lookup(&press(KeyCode::Char('1')), Layer::Dashboard),
            Some(Action::Scenario(0))
        );
        assert_eq!(
            lab.lookup(&press(KeyCode::Char('5')), Layer::Dashboard),
            Some(Action::Scenario(4))
        );
        assert_eq!(
            lab.lookup(&press(KeyCode::Char('s')), Layer::Dashboard),
            Some(Action::NextScenario)
        );
        assert_eq!(
            lab.lookup(&press(KeyCode::Char('c')), Layer::Dashboard),
            Some(Action::CapacityTest)
        );
        assert_eq!(
            live().lookup(&press(KeyCode::Char('1')), Layer::Dashboard),
            None
        );
        assert_eq!(
            lab.lookup(&press(KeyCode::Char('6')), Layer::Dashboard),
            None,
            "no key for a sixth scenario in a lab with five"
        );
    }

    #[test]
    fn overlays_shadow_the_dashboard() {
        let k = live();
        assert_eq!(
            k.lookup(&press(KeyCode::Up), Layer::Log),
            Some(Action::ScrollUp)
        );
        assert_eq!(
            k.lookup(&press(KeyCode::Char('q')), Layer::Log),
            Some(Action::Quit)
        );
        assert_eq!(
            k.lookup(&press(KeyCode::Char('y')), Layer::Confirm),
            Some(Action::Confirm)
        );
        assert_eq!(
            k.lookup(&press(KeyCode::Char('q')), Layer::Confirm),
            None,
            "a confirmation swallows other keys"
        );
    }

    #[test]
    fn help_lists_every_binding_once_per_description() {
        let lab = Keymap::default_for(&lab_with(5));
        let help = lab.help();
        let scen = help
            .iter()
            .find(|(_, _, h)| *h == "switch to lab scenario")
            .map(|(_, k, _)| k.clone());
        assert_eq!(scen.as_deref(), Some("1–5"));
        let listed = |b: &Binding| {
            help.iter().any(|(_, keys, h)| {
                *h == b.help
                    && (keys.split(' ').any(|k| k == b.key.to_string())
                        || matches!(b.action, Action::Scenario(_)))
            })
        };
        for bnd in &lab.bindings {
            assert!(listed(bnd), "{bnd:?}");
        }
        let mut scopes: Vec<Scope> = help.iter().map(|(s, _, _)| *s).collect();
        scopes.dedup();
        for (i, s) in scopes.iter().enumerate() {
            assert!(!scopes[i + 1..].contains(s), "{s:?} listed in two places");
        }
    }
}
