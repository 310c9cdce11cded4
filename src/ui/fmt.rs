//! Screen-only number shapes: unitless table cells and bars. Units and times in words are
//! `crate::units`, shared with every report.

use crate::units::NONE;

/// Milliseconds in a table column whose heading says `(ms)` once: `0.4`, `12`, `3500`,
/// `35000` — the number only, never a second unit in the same column.
pub(crate) fn ms_short(v: Option<f64>) -> String {
    match v {
        None => NONE.into(),
        Some(v) if !v.is_finite() => NONE.into(),
        Some(v) if v < 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.0}"),
    }
}

/// A bar of `width` cells filled to `fraction` (clamped), in eighths for a smooth edge.
pub(crate) fn bar(fraction: f64, width: usize) -> (String, String) {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let f = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let eighths = (f * (width * 8) as f64).round() as usize;
    let full = eighths / 8;
    let rest = eighths % 8;
    let mut filled: String = "█".repeat(full);
    let mut used = full;
    if rest > 0 && used < width {
        filled.push(PARTS[rest]);
        used += 1;
    }
    (filled, "░".repeat(width.saturating_sub(used)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_milliseconds_carry_no_unit() {
        assert_eq!(ms_short(Some(0.42)), "0.4");
        assert_eq!(ms_short(Some(350.2)), "350");
        assert_eq!(ms_short(Some(3500.4)), "3500");
        assert_eq!(ms_short(Some(35_000.4)), "35000");
        assert_eq!(ms_short(None), NONE);
    }

    #[test]
    fn bars_never_exceed_width() {
        for f in [-1.0, 0.0, 0.33, 0.999, 1.0, 7.0, f64::NAN] {
            let (a, b) = bar(f, 10);
            assert_eq!(a.chars().count() + b.chars().count(), 10, "{f}");
        }
        assert_eq!(bar(0.0, 0), (String::new(), String::new()));
    }
}
