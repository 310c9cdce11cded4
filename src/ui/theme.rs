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
    pub muted: Style,
    pub title: Style,
    pub border: Style,
    pub border_focus: Style,
    pub ok: Style,
    pub warn: Style,
    pub fail: Style,
    pub accent: Style,
    pub badge_pass: Style,
    pub badge_warn: Style,
    pub badge_fail: Style,
    /// PAUSED / LAB / REPLAY markers.
    pub marker: Style,
    pub key: Style,
    pub bar: Style,
    pub bar_empty: Style,
}

fn fg(c: Color) -> Style {
    Style::new().fg(c)
}

fn badge(bg: Color, fgc: Color) -> Style {
    Style::new().bg(bg).fg(fgc).add_modifier(Modifier::BOLD)
}

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

    fn dark() -> Self {
        Self {
            base: Style::new(),
            text: Style::new(),
            muted: fg(Color::DarkGray),
            title: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            border: fg(Color::DarkGray),
            border_focus: fg(Color::Cyan),
            ok: fg(Color::Green),
            warn: fg(Color::Yellow),
            fail: fg(Color::LightRed).add_modifier(Modifier::BOLD),
            accent: fg(Color::Cyan),
            badge_pass: badge(Color::Green, Color::Black),
            badge_warn: badge(Color::Yellow, Color::Black),
            badge_fail: badge(Color::Red, Color::White),
            marker: badge(Color::Magenta, Color::Black),
            key: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            bar: fg(Color::Cyan),
            bar_empty: fg(Color::DarkGray),
        }
    }

    /// Dark text colours that stay readable on white; indexed colours so 256-colour
    /// terminals (the common screen-share case) render them the same everywhere.
    fn light() -> Self {
        let green = Color::Indexed(28);
        let amber = Color::Indexed(130);
        let red = Color::Indexed(160);
        let blue = Color::Indexed(25);
        let grey = Color::Indexed(244);
        Self {
            base: fg(Color::Black),
            text: fg(Color::Black),
            muted: fg(grey),
            title: fg(blue).add_modifier(Modifier::BOLD),
            border: fg(grey),
            border_focus: fg(blue),
            ok: fg(green),
            warn: fg(amber),
            fail: fg(red).add_modifier(Modifier::BOLD),
            accent: fg(blue),
            badge_pass: badge(green, Color::White),
            badge_warn: badge(amber, Color::White),
            badge_fail: badge(red, Color::White),
            marker: badge(Color::Indexed(90), Color::White),
            key: fg(blue).add_modifier(Modifier::BOLD),
            bar: fg(blue),
            bar_empty: fg(Color::Indexed(250)),
        }
    }

    /// Black background, pure colours, bold everywhere it matters: projectors and
    /// washed-out screen shares.
    fn high_contrast() -> Self {
        let b = Modifier::BOLD;
        Self {
            base: Style::new().bg(Color::Black).fg(Color::White),
            text: fg(Color::White),
            muted: fg(Color::Gray),
            title: fg(Color::White).add_modifier(b | Modifier::UNDERLINED),
            border: fg(Color::White),
            border_focus: fg(Color::LightYellow).add_modifier(b),
            ok: fg(Color::LightGreen).add_modifier(b),
            warn: fg(Color::LightYellow).add_modifier(b),
            fail: fg(Color::LightRed).add_modifier(b),
            accent: fg(Color::LightCyan).add_modifier(b),
            badge_pass: badge(Color::LightGreen, Color::Black),
            badge_warn: badge(Color::LightYellow, Color::Black),
            badge_fail: badge(Color::LightRed, Color::Black),
            marker: badge(Color::White, Color::Black),
            key: fg(Color::LightYellow).add_modifier(b),
            bar: fg(Color::White),
            bar_empty: fg(Color::Gray),
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
