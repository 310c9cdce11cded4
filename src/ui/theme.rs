//! Colours by meaning, never meaning by colour: every styled thing also carries a word or a
//! symbol, so `NO_COLOR`, a monochrome screen share or colour blindness lose nothing.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThemeName {
    #[default]
    Dark,
    /// For light-background terminals: no yellow or white text.
    Light,
    HighContrast,
}

impl ThemeName {
    pub const ALL: [ThemeName; 3] = [ThemeName::Dark, ThemeName::Light, ThemeName::HighContrast];

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dark" => Some(ThemeName::Dark),
            "light" => Some(ThemeName::Light),
            "high-contrast" | "high_contrast" | "highcontrast" => Some(ThemeName::HighContrast),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ThemeName::Dark => "dark",
            ThemeName::Light => "light",
            ThemeName::HighContrast => "high-contrast",
        }
    }

    pub fn next(self) -> Self {
        match self {
            ThemeName::Dark => ThemeName::Light,
            ThemeName::Light => ThemeName::HighContrast,
            ThemeName::HighContrast => ThemeName::Dark,
        }
    }
}

/// Styles by role. Panels ask for `ok` / `fail` / `muted`…, never for a colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Palette {
    /// Painted over the whole frame first.
    pub base: Style,
    pub text: Style,
    pub(crate) muted: Style,
    pub title: Style,
    pub(crate) border: Style,
    pub(crate) border_focus: Style,
    pub ok: Style,
    pub warn: Style,
    pub fail: Style,
    pub(crate) accent: Style,
    pub(crate) badge_pass: Style,
    pub(crate) badge_warn: Style,
    pub(crate) badge_fail: Style,
    /// PAUSED / LAB / REPLAY markers.
    pub(crate) marker: Style,
    pub key: Style,
    pub bar: Style,
    pub(crate) bar_empty: Style,
}

fn fg(c: u8) -> Style {
    Style::new().fg(Color::Indexed(c))
}

fn badge(bg: u8, fgc: u8) -> Style {
    Style::new()
        .bg(Color::Indexed(bg))
        .fg(Color::Indexed(fgc))
        .add_modifier(Modifier::BOLD)
}

/// Every colour is an xterm-256 index from 16 up: the colour cube and the grey ramp have the
/// same RGB in every terminal, unlike the 16 ANSI colours a terminal theme may redefine (or
/// colour 0, which is invisible on a dark terminal). Each theme paints its own background,
/// so every pair is known and tested for contrast (WCAG ≥ 4.5:1).
impl Palette {
    pub fn new(name: ThemeName, no_color: bool) -> Self {
        if no_color {
            return Self::plain();
        }
        match name {
            ThemeName::Dark => Self::dark(),
            ThemeName::Light => Self::light(),
            ThemeName::HighContrast => Self::high_contrast(),
        }
    }

    /// Near-black background (#1c1c1c), soft white text.
    fn dark() -> Self {
        let (bg, text, grey, cyan) = (234, 252, 245, 80);
        Self {
            base: Style::new().bg(Color::Indexed(bg)).fg(Color::Indexed(text)),
            text: fg(text),
            muted: fg(grey),
            title: fg(cyan).add_modifier(Modifier::BOLD),
            border: fg(grey),
            border_focus: fg(cyan),
            ok: fg(78),
            warn: fg(221),
            fail: fg(203).add_modifier(Modifier::BOLD),
            accent: fg(cyan),
            badge_pass: badge(71, 16),
            badge_warn: badge(221, 16),
            badge_fail: badge(160, 231),
            marker: badge(176, 16),
            key: fg(cyan).add_modifier(Modifier::BOLD),
            bar: fg(74),
            bar_empty: fg(grey),
        }
    }

    /// White background, black text (#000000 from the cube, not colour 0), dark colours.
    fn light() -> Self {
        let (bg, text, grey, blue) = (231, 16, 241, 25);
        let (green, amber, red) = (28, 130, 160);
        Self {
            base: Style::new().bg(Color::Indexed(bg)).fg(Color::Indexed(text)),
            text: fg(text),
            muted: fg(grey),
            title: fg(blue).add_modifier(Modifier::BOLD),
            border: fg(grey),
            border_focus: fg(blue),
            ok: fg(green),
            warn: fg(amber),
            fail: fg(red).add_modifier(Modifier::BOLD),
            accent: fg(blue),
            badge_pass: badge(green, bg),
            badge_warn: badge(amber, bg),
            badge_fail: badge(red, bg),
            marker: badge(90, bg),
            key: fg(blue).add_modifier(Modifier::BOLD),
            bar: fg(blue),
            bar_empty: fg(243),
        }
    }

    /// Black background, pure colours, bold everywhere it matters: projectors and
    /// washed-out screen shares.
    fn high_contrast() -> Self {
        let b = Modifier::BOLD;
        let (bg, white, yellow) = (16, 231, 226);
        Self {
            base: Style::new()
                .bg(Color::Indexed(bg))
                .fg(Color::Indexed(white)),
            text: fg(white),
            muted: fg(250),
            title: fg(white).add_modifier(b | Modifier::UNDERLINED),
            border: fg(white),
            border_focus: fg(yellow).add_modifier(b),
            ok: fg(46).add_modifier(b),
            warn: fg(yellow).add_modifier(b),
            fail: fg(196).add_modifier(b),
            accent: fg(51).add_modifier(b),
            badge_pass: badge(46, bg),
            badge_warn: badge(yellow, bg),
            badge_fail: badge(196, bg),
            marker: badge(white, bg),
            key: fg(yellow).add_modifier(b),
            bar: fg(white),
            bar_empty: fg(250),
        }
    }

    /// `NO_COLOR`: modifiers only (bold, reverse, dim are not colours).
    fn plain() -> Self {
        let s = Style::new();
        let bold = s.add_modifier(Modifier::BOLD);
        let rev = s.add_modifier(Modifier::REVERSED | Modifier::BOLD);
        Self {
            base: s,
            text: s,
            muted: s.add_modifier(Modifier::DIM),
            title: bold,
            border: s,
            border_focus: bold,
            ok: s,
            warn: bold,
            fail: bold,
            accent: s,
            badge_pass: rev,
            badge_warn: rev,
            badge_fail: rev,
            marker: rev,
            key: bold,
            bar: s,
            bar_empty: s.add_modifier(Modifier::DIM),
        }
    }
}

/// RGB of a colour whose value does not depend on the terminal: xterm-256 cube and grey
/// ramp entries, and true colour. `None` for the 16 ANSI colours and `Reset`. (Also how the
/// HTML report paints the same palettes.)
pub(crate) fn rgb(c: Color) -> Option<(u8, u8, u8)> {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    match c {
        Color::Rgb(r, g, b) => Some((r, g, b)),
        Color::Indexed(n @ 232..=255) => {
            let v = 8 + 10 * (n - 232);
            Some((v, v, v))
        }
        Color::Indexed(n @ 16..=231) => {
            let i = usize::from(n - 16);
            Some((LEVELS[i / 36], LEVELS[i / 6 % 6], LEVELS[i % 6]))
        }
        _ => None,
    }
}

/// WCAG 2 relative luminance.
#[cfg(test)]
fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
    let ch = |v: u8| {
        let v = f64::from(v) / 255.0;
        if v <= 0.039_28 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)
}

/// WCAG 2 contrast ratio (1 to 21) of two colours, when both are known.
#[cfg(test)]
pub(crate) fn contrast(a: Color, b: Color) -> Option<f64> {
    let (la, lb) = (luminance(rgb(a)?), luminance(rgb(b)?));
    Some((la.max(lb) + 0.05) / (la.min(lb) + 0.05))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimum contrast for text (WCAG 2 AA).
    const AA: f64 = 4.5;

    fn roles(p: &Palette) -> [(&'static str, Style); 16] {
        [
            ("text", p.text),
            ("muted", p.muted),
            ("title", p.title),
            ("border", p.border),
            ("border_focus", p.border_focus),
            ("ok", p.ok),
            ("warn", p.warn),
            ("fail", p.fail),
            ("accent", p.accent),
            ("badge_pass", p.badge_pass),
            ("badge_warn", p.badge_warn),
            ("badge_fail", p.badge_fail),
            ("marker", p.marker),
            ("key", p.key),
            ("bar", p.bar),
            ("bar_empty", p.bar_empty),
        ]
    }

    #[test]
    fn every_foreground_on_its_background_is_at_least_4_5_to_1() {
        for name in ThemeName::ALL {
            let p = Palette::new(name, false);
            let bg = p.base.bg.unwrap_or(Color::Reset);
            let base_fg = p.base.fg.unwrap_or(Color::Reset);
            assert!(rgb(bg).is_some(), "{name:?} paints its own background");
            let c = contrast(base_fg, bg);
            assert!(c.is_some_and(|c| c >= AA), "{name:?} base: {c:?}");
            for (role, st) in roles(&p) {
                let fgc = st.fg.unwrap_or(base_fg);
                let bgc = st.bg.unwrap_or(bg);
                let c = contrast(fgc, bgc);
                assert!(
                    c.is_some_and(|c| c >= AA),
                    "{name:?} {role}: {fgc:?} on {bgc:?} = {c:?}"
                );
            }
        }
    }

    #[test]
    fn contrast_matches_known_values() {
        let black = Color::Indexed(16);
        let white = Color::Indexed(231);
        assert_eq!(
            contrast(black, white).map(|c| (c * 10.0).round()),
            Some(210.0)
        );
        assert_eq!(contrast(white, white), Some(1.0));
        // #767676 on white is the classic 4.54:1.
        let c = contrast(Color::Rgb(0x76, 0x76, 0x76), white).unwrap_or_default();
        assert!((c - 4.54).abs() < 0.01, "{c}");
        assert_eq!(
            contrast(Color::Black, white),
            None,
            "ANSI colours are the terminal's"
        );
    }
}
