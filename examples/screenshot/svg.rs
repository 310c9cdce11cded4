//! A vt100 screen as an SVG: one rectangle per run of background colour, one `<text>` per run
//! of the same style, every run pinned to its cell grid (`textLength`) so a viewer's font
//! cannot make columns drift.

use std::fmt::Write;

/// Colours of the terminal the picture pretends to be.
pub struct Profile {
    pub fg: (u8, u8, u8),
    pub bg: (u8, u8, u8),
    /// ANSI colours 0–15.
    pub ansi: [(u8, u8, u8); 16],
}

/// A dark terminal (VS Code's dark palette: readable, familiar to most readers).
pub const DARK: Profile = Profile {
    fg: (0xcc, 0xcc, 0xcc),
    bg: (0x1e, 0x1e, 0x1e),
    ansi: [
        (0x00, 0x00, 0x00),
        (0xcd, 0x31, 0x31),
        (0x0d, 0xbc, 0x79),
        (0xe5, 0xe5, 0x10),
        (0x24, 0x72, 0xc8),
        (0xbc, 0x3f, 0xbc),
        (0x11, 0xa8, 0xcd),
        (0xe5, 0xe5, 0xe5),
        (0x76, 0x76, 0x76),
        (0xf1, 0x4c, 0x4c),
        (0x23, 0xd1, 0x8b),
        (0xf5, 0xf5, 0x43),
        (0x3b, 0x8e, 0xea),
        (0xd6, 0x70, 0xd6),
        (0x29, 0xb8, 0xdb),
        (0xe5, 0xe5, 0xe5),
    ],
};

/// A light terminal: white background, the same ANSI colours a light theme gets.
pub const LIGHT: Profile = Profile {
    fg: (0x1f, 0x1f, 0x1f),
    bg: (0xff, 0xff, 0xff),
    ..DARK
};

const FONT_PX: f64 = 15.0;
const CELL_W: f64 = 9.0;
const CELL_H: f64 = 18.0;
const PAD: f64 = 12.0;

type Rgb = (u8, u8, u8);

fn indexed(p: &Profile, i: u8) -> Rgb {
    match i {
        0..=15 => p.ansi[usize::from(i)],
        16..=231 => {
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            (level(i / 36), level((i / 6) % 6), level(i % 6))
        }
        _ => {
            let g = 8 + (i - 232) * 10;
            (g, g, g)
        }
    }
}

fn color(p: &Profile, c: vt100::Color, default: Rgb) -> Rgb {
    match c {
        vt100::Color::Default => default,
        vt100::Color::Idx(i) => indexed(p, i),
        vt100::Color::Rgb(r, g, b) => (r, g, b),
    }
}

fn hex((r, g, b): Rgb) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// What a run of cells shares.
#[derive(Clone, PartialEq)]
struct Style {
    fg: Rgb,
    bg: Rgb,
    bold: bool,
    underline: bool,
}

fn style(p: &Profile, c: &vt100::Cell) -> Style {
    let mut fg = color(p, c.fgcolor(), p.fg);
    let mut bg = color(p, c.bgcolor(), p.bg);
    if c.inverse() {
        std::mem::swap(&mut fg, &mut bg);
    }
    Style {
        fg,
        bg,
        bold: c.bold(),
        underline: c.underline(),
    }
}

/// Runs of `(first column, style, text)` in one row.
fn runs(p: &Profile, screen: &vt100::Screen, row: u16, cols: u16) -> Vec<(u16, Style, String)> {
    let mut out: Vec<(u16, Style, String)> = Vec::new();
    for col in 0..cols {
        let Some(cell) = screen.cell(row, col) else {
            continue;
        };
        if cell.is_wide_continuation() {
            continue;
        }
        let st = style(p, cell);
        let text = if cell.has_contents() {
            cell.contents()
        } else {
            " "
        };
        match out.last_mut() {
            Some((_, s, t)) if *s == st => t.push_str(text),
            _ => out.push((col, st, text.to_string())),
        }
    }
    out
}

pub fn render(p: &Profile, screen: &vt100::Screen, title: &str) -> String {
    let (rows, cols) = screen.size();
    let (rows, cols) = (rows.get(), cols.get());
    let w = f64::from(cols) * CELL_W + 2.0 * PAD;
    let h = f64::from(rows) * CELL_H + 2.0 * PAD;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.1} {h:.1}" role="img" aria-label="{}">"#,
        escape(title)
    );
    let _ = writeln!(svg, "<title>{}</title>", escape(title));
    let _ = writeln!(
        svg,
        r#"<rect width="100%" height="100%" rx="8" fill="{}"/>"#,
        hex(p.bg)
    );
    let _ = writeln!(
        svg,
        r#"<g font-family="'DejaVu Sans Mono','Menlo','Consolas','Liberation Mono',monospace" font-size="{FONT_PX}" xml:space="preserve">"#
    );
    for row in 0..rows {
        let y = PAD + f64::from(row) * CELL_H;
        let row_runs = runs(p, screen, row, cols);
        for (col, st, text) in &row_runs {
            if st.bg != p.bg {
                let n = text.chars().count();
                let _ = writeln!(
                    svg,
                    r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{CELL_H}" fill="{}"/>"#,
                    PAD + f64::from(*col) * CELL_W,
                    n as f64 * CELL_W,
                    hex(st.bg)
                );
            }
        }
        for (col, st, text) in row_runs {
            let trimmed = text.trim_end();
            if trimmed.trim_start().is_empty() {
                continue;
            }
            let n = trimmed.chars().count();
            let mut attrs = String::new();
            if st.bold {
                attrs.push_str(r#" font-weight="bold""#);
            }
            if st.underline {
                attrs.push_str(r#" text-decoration="underline""#);
            }
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" fill="{}" textLength="{:.1}" lengthAdjust="spacingAndGlyphs"{attrs}>{}</text>"#,
                PAD + f64::from(col) * CELL_W,
                y + CELL_H * 0.78,
                hex(st.fg),
                n as f64 * CELL_W,
                escape(trimmed)
            );
        }
    }
    svg.push_str("</g>\n</svg>\n");
    svg
}
